#!/usr/bin/env bash
# check_metrics.sh DAEMON_BIN [RULES_FILE]: the real daemon's /metrics passes
# `promtool check metrics` with no complaint, and exports every acis_* metric the alert rules use.
#
# In a temp dir: a config with an http check against 127.0.0.1:1 (nothing listens: failing,
# opens an incident), a process check and a file_age check (both ok), runbook "rb" whose step
# fails (max_attempts 1: a failure, then gave_up) and runbook "never" (never drilled); `rb` is
# drilled once with `acis-healthd drill rb --execute` first. The daemon listens on 127.0.0.1:0;
# the port comes from its config_loaded log event. /metrics is polled until every family of
# interest has its series, then that scrape is linted. The daemon is always stopped (trap),
# and everything is bounded: 60 s for the daemon to get there, `timeout` on every command.
#
# Needs promtool (Debian: prometheus; PROMTOOL overrides the path), curl and jq. Exit 0 or 1;
# on failure the temp dir (config, log, scrape) is kept and its path printed.
set -euo pipefail

bin=${1:?usage: check_metrics.sh DAEMON_BIN [RULES_FILE]}
rules=${2:-}
promtool=${PROMTOOL:-promtool}
deadline_s=60

fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in "$promtool" curl jq timeout; do
  command -v "$tool" >/dev/null || fail "$tool not found (promtool: Debian package prometheus; scripts/install-deps.sh)"
done
[ -x "$bin" ] || fail "daemon binary $bin is not executable (build target acis-healthd)"

dir=$(mktemp -d /tmp/acis-prom-metrics-XXXXXX)
pid=""
cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  if [ "$rc" = 0 ]; then
    rm -rf "$dir"
  else
    echo "--- daemon log (tail)" >&2; tail -n 20 "$dir/daemon.log" >&2 2>/dev/null || true
    echo "--- daemon stderr (tail)" >&2; tail -n 20 "$dir/daemon.stderr" >&2 2>/dev/null || true
    echo "kept $dir" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

touch "$dir/fresh-file"
cat >"$dir/healthd.json" <<EOF
{
  "daemon": {"listen": "127.0.0.1:0", "state_dir": "$dir/state", "log_level": "info"},
  "checks": [
    {"name": "api", "type": "http", "url": "http://127.0.0.1:1/health",
     "interval": "200ms", "timeout": "150ms", "fall": 1, "rise": 1,
     "severity": "high", "runbook": "rb"},
    {"name": "no-stray-job", "type": "process",
     "cmdline_contains": "acis-prom-metrics-no-such-process", "running": false,
     "interval": "200ms", "timeout": "150ms"},
    {"name": "fresh-file", "type": "file_age", "path": "$dir/fresh-file", "max_age": "1h",
     "interval": "200ms", "timeout": "150ms"}
  ],
  "runbooks": {
    "rb": {"max_attempts": 1, "cooldown": "1h",
           "steps": [{"name": "fail", "run": ["/bin/false"], "timeout": "5s"}]},
    "never": {"steps": [{"name": "pause", "wait": "1ms"}]}
  }
}
EOF

# A drill of rb, so its drill gauges carry a real time and duration. Its step fails (exit 1
# from the drill is expected); the report is saved either way.
timeout 30 "$bin" drill rb --config "$dir/healthd.json" --execute >"$dir/drill.out" 2>&1 || true
ls "$dir"/state/drills/rb-*.json >/dev/null 2>&1 || { cat "$dir/drill.out" >&2; fail "the drill of rb saved no report"; }

"$bin" run --config "$dir/healthd.json" >"$dir/daemon.log" 2>"$dir/daemon.stderr" &
pid=$!
end=$((SECONDS + deadline_s))

port=""
while [ -z "$port" ]; do
  kill -0 "$pid" 2>/dev/null || fail "the daemon exited before config_loaded"
  [ "$SECONDS" -lt "$end" ] || fail "no config_loaded event within ${deadline_s}s"
  # Lines the daemon has not finished writing do not parse: skipped, not an error.
  port=$(jq -rR 'fromjson? | select(.event == "config_loaded") | .port' "$dir/daemon.log" | head -n 1)
  [ -n "$port" ] || sleep 0.2
done
echo "daemon pid $pid listening on 127.0.0.1:$port"

# Every family the rules use has its series, and the runbook outcomes and drill gauges have
# the values this config makes. Fixed-string patterns, one per line.
want=(
  'acis_check_up{check="api",target=""} 0'
  'acis_check_up{check="no-stray-job",target=""} 1'
  'acis_check_up{check="fresh-file",target=""} 1'
  'acis_check_runs_total{check="api",result="failing"}'
  'acis_incidents_total{check="api",severity="high"} 1'
  'acis_incidents_open{severity="high"} 1'
  'acis_incident_sla_breaches_total{severity="critical"} 0'
  'acis_remediation_runs_total{outcome="failure",runbook="rb"} 1'
  'acis_remediation_runs_total{outcome="gave_up",runbook="rb"} 1'
  'acis_remediation_step_duration_seconds_count{runbook="rb",step="fail"} 1'
  'acis_runbook_last_drill_timestamp_seconds{runbook="never"} 0'
  'acis_runbook_drill_duration_seconds{runbook="rb"}'
  'acis_healthd_config_reloads_total{result="failure"} 0'
  'acis_healthd_build_info{version='
  'process_start_time_seconds '
)
while :; do
  kill -0 "$pid" 2>/dev/null || fail "the daemon exited"
  if timeout 10 curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" -o "$dir/metrics.txt" 2>"$dir/curl.err"; then
    missing=""
    for w in "${want[@]}"; do grep -qF -- "$w" "$dir/metrics.txt" || missing+="$w"$'\n'; done
    [ -z "$missing" ] && break
  fi
  if [ "$SECONDS" -ge "$end" ]; then
    cat "$dir/curl.err" >&2 || true
    fail "within ${deadline_s}s /metrics never had all of:"$'\n'"${missing:-(no scrape)}"
  fi
  sleep 0.3
done

# The drill of rb is a real time (after 2020) and the daemon's clock, not 0.
drill_ts=$(awk '$1 == "acis_runbook_last_drill_timestamp_seconds{runbook=\"rb\"}" { print $2 }' "$dir/metrics.txt")
awk -v t="$drill_ts" 'BEGIN { exit !(t > 1577836800) }' || fail "drill time of rb is \"$drill_ts\""

echo "== promtool check metrics ($(wc -l <"$dir/metrics.txt") lines)"
# The lint is live in this promtool: a counter without _total is a complaint.
if printf '# HELP acis_bad A counter.\n# TYPE acis_bad counter\nacis_bad 1\n' |
   timeout 30 "$promtool" check metrics >/dev/null 2>&1; then
  fail "promtool check metrics accepted a counter without _total: the lint is not working"
fi
set +e
lint=$(timeout 30 "$promtool" check metrics <"$dir/metrics.txt" 2>&1)
lint_rc=$?
set -e
if [ "$lint_rc" != 0 ] || [ -n "$lint" ]; then
  fail "promtool check metrics (exit $lint_rc):"$'\n'"$lint"
fi

if [ -n "$rules" ]; then
  echo "== metrics the alert rules use"
  mapfile -t used < <(grep -v '^ *#' "$rules" | grep -oE '\bacis_[a-z_]+' | sort -u)
  [ "${#used[@]}" -gt 0 ] || fail "no acis_* metric in $rules"
  for m in "${used[@]}"; do
    grep -q "^# TYPE $m " "$dir/metrics.txt" || fail "$rules uses $m, which /metrics does not export"
    echo "  $m"
  done
fi

echo "metrics: promtool check metrics clean, all expected series present"
