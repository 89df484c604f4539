#!/usr/bin/env bash
# The demo: acis-healthd against a local demo of the ACIS platform that this script starts
# itself (throwaway PostgreSQL 15, toy API and frontend, a models folder with one good model
# and one whose metrics fail a rule). The daemon runs in the foreground with its JSON log on
# the terminal while a scenario breaks things; the daemon's runbooks repair them:
#   0. the bad model                     -> incident `models/value_small` (critical); the
#                                           emergency-model-rollback runbook swaps in the newest
#                                           healthy backup and verifies it: resolved
#   1. the toy API is killed             -> incident `api` (high); the api-down runbook restarts
#                                           it and verifies /health: resolved
#   2. PostgreSQL is stopped             -> incident `database` (critical) with the API's
#                                           incident suppressed under it (root cause named); the
#                                           database runbook starts PostgreSQL: both resolve
# then prints /status, /incidents?state=all and some /metrics, and stops everything.
#
#   scripts/demo.sh               (SKIP_DEPS=1 skips apt; KEEP=1 keeps the temp folder)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  scripts/install-deps.sh
fi
export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target acis-healthd acis-toy-service

bin=$repo/build/daemon/acis-healthd
export ACIS_TOY_SERVICE=$repo/build/tests/toy/acis-toy-service

dir=$(mktemp -d /tmp/acis-demo.XXXXXX)
chmod 755 "$dir"
daemon_pid=""
scenario_pid=""
cleanup() {
  set +e
  [ -n "$scenario_pid" ] && kill "$scenario_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
  scripts/platform.sh stop "$dir" >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "demo folder kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

banner() { printf '\n\033[1;36m=== %s\033[0m\n' "$*" >&2; }

banner "starting the demo platform in $dir"
scripts/platform.sh start "$dir"
# shellcheck disable=SC1091
source "$dir/platform.env"

port=19187
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=$((20000 + RANDOM % 30000)); fi
sed -e "s|@LISTEN_PORT@|$port|" -e "s|@STATE_DIR@|$dir/state|" \
    -e "s|@PG_CONNINFO@|$PG_CONNINFO|" -e "s|@PGPASSWORD_FILE@|$dir/pgpassword|" \
    -e "s|@API_URL@|$API_URL|" -e "s|@FRONTEND_URL@|$FRONTEND_URL|" \
    -e "s|@MODELS_DIR@|$MODELS_DIR|" -e "s|@REPO@|$repo|" -e "s|@PLATFORM_DIR@|$dir|" \
    -e "s|@TOY@|$ACIS_TOY_SERVICE|" \
    config/demo.json >"$dir/acis-healthd.json"
"$bin" check-config --config "$dir/acis-healthd.json"
log=$dir/daemon.log
url=http://127.0.0.1:$port

# wait_event EVENT CHECK [SECONDS]: until the daemon's log has that event for that check.
wait_event() {
  local event=$1 check=$2 limit=${3:-30} i
  for ((i = 0; i < limit * 10; i++)); do
    # (not jq -e: jq 1.6 exits 4 when the last line of the file did not match)
    if jq -c --arg e "$event" --arg c "$check" 'select(.event == $e and .check == $c)' \
         "$log" 2>/dev/null | grep -q .; then
      return 0
    fi
    sleep 0.1
  done
  echo "demo: no $event for $check within ${limit}s" >&2
  return 1
}

scenario() {
  set -e
  local i
  for ((i = 0; i < 100; i++)); do curl -fs "$url/healthz" >/dev/null && break; sleep 0.1; done
  banner "0. the model value_small fails its sharpe_ratio rule: the daemon rolls it back"
  wait_event incident_resolved models 40
  sleep 1
  banner "1. killing the toy API (as if it crashed): the daemon's api-down runbook restarts it"
  scripts/platform.sh kill-api "$dir" >&2
  wait_event incident_opened api
  wait_event incident_resolved api 40
  sleep 2
  banner "2. stopping PostgreSQL: critical, the API suppressed under it; the runbook starts it"
  scripts/platform.sh stop-db "$dir" >&2
  wait_event incident_opened database
  wait_event incident_suppressed api 15 || true
  curl -fs "$url/status" >"$dir/status-during.json" || true
  wait_event incident_resolved database 40
  wait_event incident_resolved api 20 || true
  # The dependents (clients endpoint, data freshness) are judged on their own again and
  # resolve at their next passes.
  for ((i = 0; i < 200; i++)); do
    [ "$(curl -fs "$url/status" | jq '.incidents | length')" = 0 ] && break
    sleep 0.1
  done
  curl -fs "$url/status" >"$dir/status.json"
  curl -fs "$url/incidents?state=all" >"$dir/incidents.json"
  curl -fs "$url/metrics" >"$dir/metrics.txt"
  "$bin" status --url "$url" >"$dir/status-cli.txt" 2>&1 || true
  banner "scenario done: stopping the daemon (SIGTERM)"
  kill -TERM "$(cat "$dir/daemon.pid")"
}

banner "running acis-healthd in the foreground (JSON log below; Ctrl-C stops it)"
scenario &
scenario_pid=$!
# The daemon in the foreground; its log goes to the terminal and to $log for the scenario.
( echo $BASHPID >"$dir/daemon.pid"; exec "$bin" run --config "$dir/acis-healthd.json" ) | tee "$log" &
daemon_pid=$(sleep 0.2; cat "$dir/daemon.pid")
wait "$daemon_pid" 2>/dev/null || true
wait "$scenario_pid" || { echo "demo: scenario failed" >&2; exit 1; }
scenario_pid=""
daemon_pid=""
sleep 0.2

banner "what happened (from the log)"
jq -r 'select(.event | test("^incident_|^sla_|^remediation_|^step_finished|^manual_action")) |
       "\(.ts)  \(.event | . + " " * (26 - length))  \(.incident // "")  \(.check // .runbook)\(if (.target // "") != "" then "/" + .target else "" end)  \(.severity // .step // "")  \(.state // .outcome // "")\(if .suppressed_by then "  root cause: " + .suppressed_by else "" end)  \(.reason // .instruction // "")"' "$log"

banner "open incidents at the end (/status)"
jq -r '.incidents[] | "\(.id)  \(.check)/\(.target)  \(.severity)  \(.state)  \(.reason)"' "$dir/status.json"

banner "all incidents (/incidents?state=all)"
jq -r '.[] | "\(.id)  \(.check)\(if .target != "" then "/" + .target else "" end)  \(.severity)  \(.state)"' "$dir/incidents.json"

banner "acis-healthd status (the same from the command line; the status page is GET / )"
cat "$dir/status-cli.txt"

banner "a drill of the api-down runbook (dry run: each step resolved, nothing executed)"
"$bin" drill api-down --config "$dir/acis-healthd.json" || true

banner "some of /metrics"
grep -E '^acis_(check_up|incidents_open|incidents_total|healthd_build_info)' "$dir/metrics.txt" | head -20

banner "the demo showed: failures detected (API high, database critical with the API suppressed under it, a failing model critical) and repaired by their runbooks"
