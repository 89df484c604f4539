#!/usr/bin/env bash
# check_rules.sh [SOURCE_DIR]: the shipped Prometheus alert rules are valid and do what their
# unit tests say, and their runbook_url agrees with the shipped config's runbook `doc` links.
#
#  1. `promtool check rules prometheus/acis-healthd.rules.yml` (syntax, templates, duplicates).
#  2. `promtool test rules` on prometheus/*.test.yml (each alert fires when it should, with its
#     labels and annotations, and stays quiet on healthy series).
#  3. Every rule's runbook_url is one template "PREFIX{{ $labels.runbook }}SUFFIX", and every
#     runbook in config/acis-healthd.json that has a `doc` has exactly PREFIX + name + SUFFIX
#     there (a runbook without `doc` is not checked: its alert links where the doc would be).
#
# Needs promtool (Debian: prometheus; PROMTOOL overrides the path) and jq. Exit 0 or 1.
set -euo pipefail

src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
promtool=${PROMTOOL:-promtool}
rules="$src/prometheus/acis-healthd.rules.yml"
shipped="$src/config/acis-healthd.json"

fail() { echo "FAIL: $*" >&2; exit 1; }

command -v "$promtool" >/dev/null || fail "promtool not found (Debian package prometheus; scripts/install-deps.sh)"
command -v jq >/dev/null || fail "jq not found"

echo "== promtool check rules"
timeout 60 "$promtool" check rules "$rules" || fail "promtool check rules"

echo "== promtool test rules"
shopt -s nullglob
tests=("$src"/prometheus/*.test.yml)
[ "${#tests[@]}" -gt 0 ] || fail "no prometheus/*.test.yml"
timeout 120 "$promtool" test rules "${tests[@]}" || fail "promtool test rules"

echo "== runbook_url against the shipped config's doc links"
mapfile -t urls < <(grep -o 'runbook_url: *"[^"]*"' "$rules" | sed -E 's/^runbook_url: *"(.*)"$/\1/' | sort -u)
[ "${#urls[@]}" -eq 1 ] || fail "expected one runbook_url template, found ${#urls[@]}: ${urls[*]:-none}"
template=${urls[0]}
# shellcheck disable=SC2016  # literal template text, not a shell expansion
marker='{{ $labels.runbook }}'
case "$template" in
  *"$marker"*) ;;
  *) fail "runbook_url \"$template\" does not use $marker" ;;
esac
prefix=${template%%"$marker"*}
suffix=${template#*"$marker"}

# The config is JSON with // and /* */ comments (outside strings); strip them for jq.
strip_comments() {
  awk '
    BEGIN { in_str = 0; in_block = 0 }
    {
      line = $0; out = ""; n = length(line); i = 1
      while (i <= n) {
        c = substr(line, i, 1); two = substr(line, i, 2)
        if (in_block) { if (two == "*/") { in_block = 0; i += 2 } else i++; continue }
        if (in_str) {
          out = out c
          if (c == "\\") { out = out substr(line, i + 1, 1); i += 2; continue }
          if (c == "\"") in_str = 0
          i++; continue
        }
        if (two == "//") break
        if (two == "/*") { in_block = 1; i += 2; continue }
        if (c == "\"") in_str = 1
        out = out c; i++
      }
      print out
    }' "$1"
}

json=$(strip_comments "$shipped" | jq -c '.runbooks // {}') || fail "cannot read $shipped as JSON after removing comments"
runbooks=$(jq -r 'keys[]' <<<"$json")
[ -n "$runbooks" ] || fail "no runbooks in $shipped"
bad=0
while IFS= read -r name; do
  doc=$(jq -r --arg n "$name" '.[$n].doc // empty' <<<"$json")
  want="$prefix$name$suffix"
  if [ -z "$doc" ]; then
    echo "  $name: no doc in the config; alerts link $want"
  elif [ "$doc" = "$want" ]; then
    echo "  $name: doc $doc matches"
  else
    echo "  $name: doc $doc, but the alert rules link $want" >&2
    bad=1
  fi
done <<<"$runbooks"
[ "$bad" = 0 ] || fail "runbook_url template $template disagrees with the config's doc links"

echo "prometheus rules: all checks passed"
