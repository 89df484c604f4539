#!/usr/bin/env bash
# make-models.sh DIR: create a toy ACIS models folder for the demo and the end-to-end tests.
#
#   DIR/momentum_large/   healthy: fresh metadata, rules pass; backup_20261101T000000Z/ = older good copy
#   DIR/value_small/      failing: sharpe_ratio 0.31 breaks a "min 0.5" rule;
#                         backup_20261101T000000Z/ = older good copy (the rollback target)
#
# Backups are "older" than the live version (trained 12 h earlier) but still fresh under the
# spec's example max_age of 36 h, so a rollback to them makes the models check pass again.
# Only these two model folders are (re)created; anything else in DIR is left alone.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
earlier=$(date -u -d '-12 hours' +%Y-%m-%dT%H:%M:%SZ)
backup=backup_20261101T000000Z

# write_model FOLDER NAME TRAINED_AT SHARPE DRAWDOWN VERSION
write_model() {
  local folder=$1 name=$2 trained_at=$3 sharpe=$4 drawdown=$5 version=$6
  mkdir -p "$folder"
  cat >"$folder/metadata.json" <<EOF
{"model":"$name","version":"$version","trained_at":"$trained_at","metrics":{"sharpe_ratio":$sharpe,"max_drawdown":$drawdown}}
EOF
  # Recognisable bytes, so a test can tell which version is live after a rollback.
  printf 'ACIS-TOY-MODEL %s %s\n' "$name" "$version" >"$folder/model.bin"
  head -c 256 /dev/zero >>"$folder/model.bin"
}

mkdir -p "$dir"
rm -rf -- "$dir/momentum_large" "$dir/value_small"

write_model "$dir/momentum_large" momentum_large "$now" 1.2 0.12 v2
write_model "$dir/momentum_large/$backup" momentum_large "$earlier" 1.1 0.14 v1

write_model "$dir/value_small" value_small "$now" 0.31 0.18 v2
write_model "$dir/value_small/$backup" value_small "$earlier" 0.9 0.15 v1

echo "models created in $dir (momentum_large healthy, value_small failing sharpe_ratio 0.31)"
