#!/usr/bin/env bash
# Benchmark of remediation: how long from a crash of the toy API (SIGKILL) until its /health
# answers 200 again, with the real acis-healthd restarting it through the api-down runbook, and
# how long from the incident opening to the runbook's first step. Prints markdown tables (every
# run, then median/min/p90/max per case, then a summary). Loopback only; everything it starts
# (platform, daemon, monit, pollers) is stopped on exit.
#
# Usage: bench/recover.sh               (from anywhere; builds BUILD_DIR if needed)
# Knobs (environment):
#   CASES="default p100 floor monit"  which cases, in this order:
#       default   http check on /health: interval 1s, fall 2, rise 1, timeout 500ms, the daemon's
#                 default pending_interval (interval/4 = 250ms)
#       p100      the same with "pending_interval": "100ms" (any pNNN: pending_interval NNNms)
#       floor     no monitor: kill-api, then `platform.sh start-api` alone, timed by us
#       monit     Monit (if installed): `set daemon 1`, `if failed port ... then restart` with
#                 the same start-api script; the same kill and poll. MONIT_CHECK=host (default:
#                 `check host`, acts on the port test) or process (`check process` + pidfile)
#   RUNS=15                   runs per case (at least 10 for a spread worth quoting)
#   SETTLE=2                  seconds after a run has fully ended (incident resolved, runbook
#                             finished) at least before the next kill
#   PHASES=stratified         where in the check's 1 s interval the kill falls. A crash comes at a
#                             uniformly random phase, and that phase is the largest part of the
#                             time to recover; with 15 random draws the median moves by ±130 ms
#                             from one set of runs to the next. "stratified" kills run j (in a
#                             shuffled order) at phase (j + 0.5) / RUNS of the interval, measured
#                             from the check's schedule (the daemon's config_loaded, then each
#                             incident_opened: the check's slots are whole seconds after it), so
#                             each set of runs covers the interval evenly. "random": 1-2 s after
#                             SETTLE, uniformly. Monit's cycle cannot be seen from outside: its
#                             kills are always random.
#   COOLDOWN=1s               the bench runbook's cooldown (shorter than SETTLE, so no run waits
#                             for it)
#   RUNS_PER_DAEMON=5         the daemon is restarted with a fresh state_dir after this many
#                             runs: its remediation policy allows 6 runs of one runbook per
#                             rolling hour (policy_limits, not configurable), so a 7th kill
#                             within the hour would wait for the rate limit
#   POLL_MS=10                the /health poller's pause between probes
#   BUILD_DIR=.../build-bench BUILD_TYPE=RelWithDebInfo
#   MAX_SECONDS=1800          hard bound on the whole script
#   COMMIT=abc1234            what to print as the commit (default: git rev-parse of this checkout)
#   KEEP_TMP=1                keep the temp dir (configs, daemon logs, monit log, raw results)
#
# Method. The platform (PostgreSQL, toy API, toy frontend) is started once with
# scripts/platform.sh. Each run SIGKILLs the API (from this script, at a recorded time, then
# `platform.sh kill-api` for its bookkeeping: see kill_api_timed). A poller
# (bash, /dev/tcp, no fork per probe) sends GET /health every POLL_MS; the API is back when a
# probe reads "200" after the kill. The daemon's JSON log gives check_failed (the first failing
# result), incident_opened, remediation_started, the first step_started, step_finished of
# "restart API" (its duration_ms) and incident_resolved; `ts` has millisecond resolution
# (floored) on the same wall clock as our EPOCHREALTIME.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
CASES=${CASES:-"default p100 floor monit"}
RUNS=${RUNS:-15}
SETTLE=${SETTLE:-2}
PHASES=${PHASES:-stratified}
COOLDOWN=${COOLDOWN:-1s}
RUNS_PER_DAEMON=${RUNS_PER_DAEMON:-5}
POLL_MS=${POLL_MS:-10}
MAX_SECONDS=${MAX_SECONDS:-1800}
BIN=$BUILD_DIR/daemon/acis-healthd
TOY=$BUILD_DIR/tests/toy/acis-toy-service
PLATFORM=$REPO/scripts/platform.sh
POLL_S=$(printf '0.%03d' "$POLL_MS")

log() { printf '[recover %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

((RUNS >= 1)) || die "RUNS must be at least 1"
[[ $PHASES == stratified || $PHASES == random ]] || die "PHASES must be stratified or random"
((POLL_MS >= 1 && POLL_MS <= 999)) || die "POLL_MS must be 1..999"
((RUNS_PER_DAEMON >= 1 && RUNS_PER_DAEMON <= 6)) || die "RUNS_PER_DAEMON must be 1..6 (rate limit)"
command -v jq >/dev/null || die "jq not found (apt-get install -y jq)"
command -v curl >/dev/null || die "curl not found (apt-get install -y curl)"

# ---- build ------------------------------------------------------------------------------------
if [[ ! -x $BIN || ! -x $TOY || ${REBUILD:-0} == 1 ]]; then
  log "building acis-healthd acis-toy-service in $BUILD_DIR ($BUILD_TYPE)"
  [[ -f $BUILD_DIR/CMakeCache.txt ]] ||
    timeout 1800 cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
  timeout 1800 cmake --build "$BUILD_DIR" --target acis-healthd acis-toy-service -j2 >/dev/null
fi
export ACIS_TOY_SERVICE=$TOY

# ---- process bookkeeping: everything we start is stopped on any exit ---------------------------
TMP=$(mktemp -d /tmp/acis-recover.XXXXXX)
chmod 755 "$TMP"  # PostgreSQL (run as postgres) must reach the platform folder
PDIR=$TMP/platform
PLATFORM_STARTED=0
DAEMON_PID=""
MONIT_PID=""
MONIT_WHAT=""
ANCHOR_MS=""
PHASE_PLAN=()
POLLER_PID=""
NAP_PID=""
WATCHDOG_PID=""

stop_pid() {  # pid signal seconds: signal, wait up to `seconds`, then SIGKILL
  local pid=$1 sig=$2 secs=$3 i
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e  # best effort: a step that fails (a pid already gone) must not skip the rest
  [[ -n $NAP_PID ]] && kill "$NAP_PID" 2>/dev/null
  stop_pid "$POLLER_PID" TERM 2
  stop_pid "$DAEMON_PID" TERM 10
  stop_pid "$MONIT_PID" TERM 10
  ((PLATFORM_STARTED)) && "$PLATFORM" stop "$PDIR" >/dev/null 2>&1
  [[ -n $WATCHDOG_PID ]] && kill "$WATCHDOG_PID" 2>/dev/null
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'log "terminated (MAX_SECONDS=$MAX_SECONDS?)"; exit 143' TERM

# The whole script is bounded: the watchdog TERMs us (and so runs cleanup) after MAX_SECONDS.
(
  sleep "$MAX_SECONDS" &
  s=$!
  trap 'kill $s 2>/dev/null; exit 0' TERM
  wait $s && kill -TERM $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG_PID=$!

# An interruptible sleep: the TERM/INT traps run at once instead of after the sleep.
nap() {
  sleep "$1" &
  NAP_PID=$!
  wait "$NAP_PID"
  NAP_PID=""
}

# ---- helpers ----------------------------------------------------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
rand_ms() { echo $((RANDOM % 1000)); }  # 0..999
ms_text() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }  # ms -> seconds text for sleep

free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# A pause without a fork: read with a timeout on a FIFO that never gets data.
mkfifo "$TMP/never"
exec {SLEEP_FD}<>"$TMP/never"
pause() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

# probe: GET /health on the API answers 200 (bash's /dev/tcp: no process per probe).
probe() {
  local fd code=000
  { exec {fd}<>"/dev/tcp/127.0.0.1/$API_PORT"; } 2>/dev/null || return 1
  printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' 1>&"$fd" 2>/dev/null || true
  IFS=' ' read -r -t 2 -u "$fd" _ code _ 2>/dev/null || code=000
  exec {fd}>&-
  [[ $code == 200 ]]
}

# poll_health OUT SECONDS: probe every POLL_MS until the API was seen down and then up again;
# writes "last_ok_us down_us back_us" (0 = not seen): the start of the last good probe, the end
# of the first failed one (a probe in flight at the kill fails too), and the moment the 200
# status line was read again. (EPOCHREALTIME inline: no forks.)
poll_health() {
  local out=$1 t last_ok=0 down=0 back=0 end
  # Run in the background: a probe that writes while the API is killed must fail, not end the
  # poller with SIGPIPE (that lost a run's figures once).
  trap '' PIPE
  end=$((${EPOCHREALTIME/./} + $2 * 1000000))
  while :; do
    t=${EPOCHREALTIME/./}
    ((t < end)) || break
    if probe; then
      if ((down)); then back=${EPOCHREALTIME/./}; break; fi
      last_ok=$t
    else
      ((down)) || down=${EPOCHREALTIME/./}
    fi
    pause "$POLL_S"
  done
  echo "$last_ok $down $back" >"$out"
}

# kill_api_timed: crash the API and time it. The SIGKILL is sent from here (the `kill` builtin,
# right after reading the clock), so that the kill time is exact; `platform.sh kill-api` then does
# its bookkeeping (waits until the pid is gone, removes api.pid) exactly as after its own kill.
# (Timing `platform.sh kill-api` from outside would put its bash start-up, 30-80 ms here, into
# the kill time; watching /proc for the zombie lagged the poller by up to 20 ms under load.)
# Sets KILL_US, DOWN_US (end of the poller's first failed probe), BACK_US (200 read again),
# LAST_OK_US (start of the last good probe before the kill).
kill_api_timed() {
  local pid
  pid=$(head -n1 "$PDIR/api.pid") || die "no $PDIR/api.pid"
  rm -f "$TMP/poll"
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *acis-toy-service* ]] ||
    die "pid $pid in $PDIR/api.pid is not the toy API"
  poll_health "$TMP/poll" 60 &
  POLLER_PID=$!
  pause 0.05  # at least one successful probe before the kill
  KILL_US=${EPOCHREALTIME/./}
  kill -KILL "$pid"
  "$PLATFORM" kill-api "$PDIR" >/dev/null
  wait "$POLLER_PID" || true
  POLLER_PID=""
  [[ -s $TMP/poll ]] || die "the poller ended without a result"
  read -r LAST_OK_US DOWN_US BACK_US <"$TMP/poll"
  ((DOWN_US && BACK_US)) ||
    die "the API was not seen down and back (poll $LAST_OK_US $DOWN_US $BACK_US)"
}

# ---- kill phases ------------------------------------------------------------------------------
# PHASE_PLAN: RUNS phases in ms, (j + 0.5) * 1000 / RUNS for j = 0..RUNS-1, shuffled (Fisher-Yates)
# so that the phase is not confounded with the load drifting during a case.
make_phase_plan() {
  local j k t
  PHASE_PLAN=()
  for ((j = 0; j < RUNS; j++)); do PHASE_PLAN+=($(((2 * j + 1) * 1000 / (2 * RUNS)))); done
  for ((j = RUNS - 1; j > 0; j--)); do
    k=$((RANDOM % (j + 1)))
    t=${PHASE_PLAN[j]}; PHASE_PLAN[j]=${PHASE_PLAN[k]}; PHASE_PLAN[k]=$t
  done
}

# ts_ms LOG EVENT: the ms timestamp of the last EVENT in the daemon's log ("" if none).
ts_ms() {
  jq -R 'fromjson? // empty' "$1" | jq -rs --arg e "$2" '
    (map(select(.event == $e)) | last | .ts // empty)
    | capture("^(?<s>[^.]+)\\.(?<f>[0-9]{3})Z$") as $c
    | (($c.s + "Z") | fromdateiso8601) * 1000 + ($c.f | tonumber)'
}

# wait_for_phase ANCHOR_MS PHASE_MS MIN_WAIT_MS: sleep until the first moment at least
# MIN_WAIT_MS from now whose distance from ANCHOR_MS is PHASE_MS modulo 1 s, less the 50 ms that
# kill_api_timed lets the poller run before the kill.
wait_for_phase() {
  local anchor=$1 phase=$2 now t
  now=$((${EPOCHREALTIME/./} / 1000))
  t=$((now + $3))
  t=$((t + ((anchor + phase - t) % 1000 + 1000) % 1000 - 50))
  ((t > now)) && nap "$(ms_text $((t - now)))"
  return 0
}

# ---- the daemon -------------------------------------------------------------------------------
write_config() {  # dir pending_interval|""
  local dir=$1 pending=$2 extra=""
  [[ -n $pending ]] && extra=", \"pending_interval\": \"$pending\""
  DAEMON_PORT=$(free_port)
  cat >"$dir/config.json" <<EOF
{
  "daemon": { "listen": "127.0.0.1:$DAEMON_PORT", "state_dir": "$dir/state", "log_level": "info" },
  "checks": [
    { "name": "api", "type": "http", "url": "http://127.0.0.1:$API_PORT/health",
      "interval": "1s", "timeout": "500ms", "fall": 2, "rise": 1$extra,
      "severity": "high", "runbook": "api-down" }
  ],
  "runbooks": {
    "api-down": {
      "max_attempts": 3, "backoff": "1s", "cooldown": "$COOLDOWN",
      "steps": [
        { "name": "restart API", "run": ["/bin/bash", "$PLATFORM", "start-api", "$PDIR"],
          "env": { "ACIS_TOY_SERVICE": "$TOY" }, "timeout": "30s" },
        { "name": "verify health", "verify": "api", "within": "20s" }
      ] }
  }
}
EOF
  "$BIN" check-config --config "$dir/config.json" >/dev/null || die "bad bench config $dir/config.json"
}

start_daemon() {  # dir
  local dir=$1 i
  mkdir -p "$dir/state"
  "$BIN" run --config "$dir/config.json" >"$dir/daemon.log" 2>"$dir/daemon.stderr" &
  DAEMON_PID=$!
  # Ready when the daemon serves and the api check has passed (acis_check_up 1).
  for ((i = 0; i < 300; i++)); do
    kill -0 "$DAEMON_PID" 2>/dev/null || die "daemon exited (see $dir/daemon.stderr)"
    if curl -fs --max-time 2 "http://127.0.0.1:$DAEMON_PORT/metrics" 2>/dev/null |
      grep -q '^acis_check_up{check="api",target=""} 1'; then
      return 0
    fi
    nap 0.1
  done
  die "the daemon's api check did not pass within 30 s (see $dir/daemon.log)"
}

stop_daemon() {
  stop_pid "$DAEMON_PID" TERM 10
  DAEMON_PID=""
}

# From the daemon log's lines after FROM: "fail open rem step rs_end rs_ms rs_ok res fin" in ms
# since the epoch ("null" when not there yet); rs_* is the "restart API" step.
events_since() {  # log from
  tail -n +"$(($2 + 1))" "$1" | jq -R 'fromjson? // empty' | jq -rs '
    def ms: capture("^(?<s>[^.]+)\\.(?<f>[0-9]{3})Z$") as $c
            | (($c.s + "Z") | fromdateiso8601) * 1000 + ($c.f | tonumber);
    def first_of(f): (map(select(f)) | first) // null;
    . as $all
    | first_of(.event == "check_failed" and .check == "api") as $fail
    | first_of(.event == "incident_opened" and .check == "api") as $open
    | ($open.incident // "-") as $id
    | first_of(.event == "remediation_started" and .incident == $id) as $rem
    | first_of(.event == "step_started" and .incident == $id) as $step
    | first_of(.event == "step_finished" and .incident == $id and .step == "restart API") as $rs
    | first_of(.event == "incident_resolved" and .incident == $id) as $res
    | first_of(.event == "remediation_finished" and .incident == $id) as $fin
    | [($fail.ts // null | if . then ms else null end),
       ($open.ts // null | if . then ms else null end),
       ($rem.ts // null | if . then ms else null end),
       ($step.ts // null | if . then ms else null end),
       ($rs.ts // null | if . then ms else null end),
       ($rs.duration_ms // null | if . then (. + 0.5 | floor) else null end), (if $rs then ($rs.ok | tostring) else null end),
       ($res.ts // null | if . then ms else null end),
       ($fin.ts // null | if . then ms else null end)]
    | map(if . == null then "null" else tostring end) | join(" ")'
}

# One daemon run: kill, poll, read the log. Appends a row to $TMP/results-$case (all ms):
#  1 run  2 load  3 kill phase (ms after the check's last slot; "-" without an anchor)
#  4 kill->first failure  5 first failure->opened  6 kill->opened  7 opened->remediation_started
#  8 opened->first step  9 restart step  10 first step->/health 200  11 kill->/health 200
#  12 kill->resolved  13 kill->poller saw it down (the poller's lag)
#  14 first failure->/health 200 (kill->/health 200 without the phase of the kill)
# Moves ANCHOR_MS to this incident's opening: the check's next slots are whole seconds after it.
daemon_run() {  # case run dir
  local case=$1 run=$2 dir=$3 from load i ev=""
  local fail open rem step rs_ms rs_ok res fin
  from=$(wc -l <"$dir/daemon.log")
  load=$(load1)
  kill_api_timed
  # Wait (bounded) until the incident resolved and the runbook finished.
  for ((i = 0; i < 300; i++)); do
    ev=$(events_since "$dir/daemon.log" "$from")
    read -r _ _ _ _ _ _ _ res fin <<<"$ev"
    [[ $res != null && $fin != null ]] && break
    nap 0.1
  done
  read -r fail open rem step _ rs_ms rs_ok res fin <<<"$ev"
  [[ $fail != null && $open != null && $rem != null && $step != null && $res != null ]] ||
    die "$case run $run: incomplete events in $dir/daemon.log: $ev"
  [[ $rs_ok == true ]] || log "$case run $run: the restart step failed ($ev)"
  local k=$((KILL_US / 1000)) back=$((BACK_US / 1000)) phase=-
  [[ -n $ANCHOR_MS ]] && phase=$((((k - ANCHOR_MS) % 1000 + 1000) % 1000))
  ANCHOR_MS=$open
  echo "$run $load $phase $((fail - k)) $((open - fail)) $((open - k)) $((rem - open)) $((step - open))" \
    "$rs_ms $((back - step)) $((back - k)) $((res - k)) $(((DOWN_US - KILL_US) / 1000))" \
    "$((back - fail))" |
    tee -a "$TMP/results-$case" >&2
}

daemon_case() {  # case pending_interval|""
  local case=$1 pending=$2 run=1 batch=0 dir
  : >"$TMP/results-$case"
  make_phase_plan
  while ((run <= RUNS)); do
    batch=$((batch + 1))
    dir=$TMP/$case-$batch
    mkdir -p "$dir"
    write_config "$dir" "$pending"
    start_daemon "$dir"
    log "$case: daemon pid $DAEMON_PID (batch $batch), load $(cut -d' ' -f1-3 /proc/loadavg)"
    # The check's slots are whole seconds after its first run, which starts with the daemon.
    ANCHOR_MS=$(ts_ms "$dir/daemon.log" config_loaded)
    local n
    for ((n = 0; n < RUNS_PER_DAEMON && run <= RUNS; n++, run++)); do
      if [[ $PHASES == stratified && -n $ANCHOR_MS ]]; then
        wait_for_phase "$ANCHOR_MS" "${PHASE_PLAN[run - 1]}" $((n == 0 ? 1000 : SETTLE * 1000))
      else
        ((n == 0)) || nap "$SETTLE"
        nap "$(ms_text $((1000 + $(rand_ms))))"
      fi
      daemon_run "$case" "$run" "$dir"
    done
    stop_daemon
  done
}

# ---- the floor: the start-api script alone ----------------------------------------------------
# Appends (ms): 1 run 2 load 3 start-api wall 4 start-api invoked -> /health 200
#               5 `platform.sh start-api` when the API already runs (bash + load_env only)
floor_case() {
  : >"$TMP/results-floor"
  local run t0 t1 t2 t3 last_ok down back load
  for ((run = 1; run <= RUNS; run++)); do
    "$PLATFORM" kill-api "$PDIR" >/dev/null
    nap 0.3
    load=$(load1)
    rm -f "$TMP/poll"
    poll_health "$TMP/poll" 60 &
    POLLER_PID=$!
    t0=${EPOCHREALTIME/./}
    "$PLATFORM" start-api "$PDIR" >/dev/null
    t1=${EPOCHREALTIME/./}
    wait "$POLLER_PID" || true
    POLLER_PID=""
    [[ -s $TMP/poll ]] || die "floor run $run: the poller ended without a result"
    read -r last_ok down back <"$TMP/poll"
    ((back)) || die "floor run $run: the API did not answer again"
    t2=${EPOCHREALTIME/./}
    "$PLATFORM" start-api "$PDIR" >/dev/null
    t3=${EPOCHREALTIME/./}
    echo "$run $load $(((t1 - t0) / 1000)) $(((back - t0) / 1000)) $(((t3 - t2) / 1000))" |
      tee -a "$TMP/results-floor" >&2
    nap 0.5
  done
}

# ---- Monit ------------------------------------------------------------------------------------
# MONIT_CHECK=host (default): `check host` with the port test only, so Monit acts on the first
# failed connection. MONIT_CHECK=process: `check process ... with pidfile` plus the same port
# test; here PID 1 reaps the killed API slowly, and Monit then reports "is a zombie" for a
# cycle or two before it restarts, which is this container's artefact, not Monit's speed.
# Appends (ms): 1 run 2 load 3 kill->/health 200 4 kill->poller saw it down
monit_case() {
  local dir=$TMP/monit run load i what
  mkdir -p "$dir"
  local start="/usr/bin/env ACIS_TOY_SERVICE=$TOY /bin/bash $PLATFORM start-api $PDIR"
  {
    printf 'set daemon 1\nset logfile %s\nset pidfile %s\nset idfile %s\nset statefile %s\n' \
      "$dir/monit.log" "$dir/monit.pid" "$dir/monit.id" "$dir/monit.state"
    if [[ ${MONIT_CHECK:-host} == process ]]; then
      printf 'check process api with pidfile %s\n' "$PDIR/api.pid"
      printf '  start program = "%s" with timeout 30 seconds\n' "$start"
      printf '  stop program = "/bin/bash %s kill-api %s"\n' "$PLATFORM" "$PDIR"
      printf '  if failed host 127.0.0.1 port %s protocol http request "/health" with timeout 1 seconds then restart\n' "$API_PORT"
    else
      printf 'check host api with address 127.0.0.1\n'
      printf '  start program = "%s" with timeout 30 seconds\n' "$start"
      printf '  restart program = "%s" with timeout 30 seconds\n' "$start"
      printf '  if failed port %s protocol http request "/health" with timeout 1 seconds then restart\n' "$API_PORT"
    fi
  } >"$dir/monitrc"
  chmod 600 "$dir/monitrc"
  monit -t -c "$dir/monitrc" >/dev/null 2>&1 || die "monit rejects $dir/monitrc"
  monit -I -c "$dir/monitrc" >"$dir/monit.stdout" 2>&1 &
  MONIT_PID=$!
  what="$(monit -V | head -n1 | sed 's/^This is //'), check ${MONIT_CHECK:-host}"
  log "monit: $what, pid $MONIT_PID, load $(cut -d' ' -f1-3 /proc/loadavg)"
  nap 3
  kill -0 "$MONIT_PID" 2>/dev/null || die "monit exited (see $dir/monit.log)"
  : >"$TMP/results-monit"
  for ((run = 1; run <= RUNS; run++)); do
    nap "$(ms_text $((1000 + $(rand_ms))))"
    load=$(load1)
    kill_api_timed
    echo "$run $load $(((BACK_US - KILL_US) / 1000)) $(((DOWN_US - KILL_US) / 1000))" |
      tee -a "$TMP/results-monit" >&2
    # Monit's start program must have returned (pidfile back) before the next kill.
    for ((i = 0; i < 100; i++)); do [[ -s $PDIR/api.pid ]] && break; nap 0.1; done
    nap "$SETTLE"
  done
  stop_pid "$MONIT_PID" TERM 10
  MONIT_PID=""
  MONIT_WHAT=$what
}

# ---- report helpers ---------------------------------------------------------------------------
# stats FILE COL: "median min p90 max" (p90: nearest rank; median: mean of the middle two)
stats() {
  awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (!NR) { print "n/a n/a n/a n/a"; exit }
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      r = int(0.9 * NR); if (r < 0.9 * NR) r++
      printf "%g %g %g %g\n", med, v[1], v[r], v[NR]
    }'
}

stat_rows() {  # file first_col last_col
  local label i f=$1 s
  for label in median min p90 max; do
    printf '| **%s** | |' "$label"
    for ((i = $2; i <= $3; i++)); do
      s=$(stats "$f" "$i")
      case $label in
        median) s=$(cut -d' ' -f1 <<<"$s") ;;
        min) s=$(cut -d' ' -f2 <<<"$s") ;;
        p90) s=$(cut -d' ' -f3 <<<"$s") ;;
        max) s=$(cut -d' ' -f4 <<<"$s") ;;
      esac
      printf ' %s |' "$s"
    done
    echo
  done
}

# ---- main -------------------------------------------------------------------------------------
MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
# COMMIT: say what the binaries were built from when that is not this checkout's HEAD (for
# example a `git archive` export, or a working tree with uncommitted changes).
COMMIT=${COMMIT:-$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $MACHINE; $(date -u +%Y-%m-%dT%H:%MZ); commit $COMMIT; load $LOAD_START"
log "starting the platform in $PDIR"
PLATFORM_STARTED=1
"$PLATFORM" start "$PDIR" >/dev/null
# shellcheck disable=SC1091
source "$PDIR/platform.env"
log "api on 127.0.0.1:$API_PORT"

for c in $CASES; do
  case $c in
    default) daemon_case default "" ;;
    p[0-9]*) [[ ${c#p} =~ ^[0-9]+$ ]] || die "unknown case $c"; daemon_case "$c" "${c#p}ms" ;;
    floor) floor_case ;;
    monit)
      if command -v monit >/dev/null; then monit_case; else log "monit not installed: not measured"; fi ;;
    *) die "unknown case $c" ;;
  esac
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Machine: $MACHINE; $(date -u +%Y-%m-%d); commit $COMMIT; load (1/5/15 min) at start" \
  "$LOAD_START, at end $LOAD_END. RUNS=$RUNS SETTLE=${SETTLE}s PHASES=$PHASES COOLDOWN=$COOLDOWN" \
  "POLL_MS=$POLL_MS RUNS_PER_DAEMON=$RUNS_PER_DAEMON. All times in ms; \"kill\" is the" \
  "moment of the SIGKILL; \"kill phase\" is where it fell in the check's 1 s interval (ms after" \
  "the check's last slot)."
dhead='| run | load | kill phase | kill→first failure | first failure→opened | kill→opened | opened→remediation_started | opened→first step | restart step | first step→/health 200 | kill→/health 200 | kill→resolved | kill→poller saw it down | first failure→/health 200 |'
dsep='|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
DAEMON_CASES=$(tr ' ' '\n' <<<"$CASES" | grep -E '^(default|p[0-9]+)$' || true)
for c in $DAEMON_CASES; do
  [[ -s $TMP/results-$c ]] || continue
  echo
  if [[ $c == default ]]; then echo "Case default (pending_interval unset: 250ms):"; else echo "Case $c (pending_interval ${c#p}ms):"; fi
  echo
  echo "$dhead"
  echo "$dsep"
  awk '{ printf "| %s |", $1; for (i = 2; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$TMP/results-$c"
  stat_rows "$TMP/results-$c" 3 14
done
if [[ -s $TMP/results-floor ]]; then
  echo
  echo "Case floor (\`platform.sh start-api\` alone, API killed 0.3 s before):"
  echo
  echo '| run | load | start-api wall | start-api→/health 200 | start-api when already running |'
  echo '|---:|---:|---:|---:|---:|'
  awk '{ printf "| %s |", $1; for (i = 2; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$TMP/results-floor"
  stat_rows "$TMP/results-floor" 3 5
fi
if [[ -s $TMP/results-monit ]]; then
  echo
  echo "Case monit ($MONIT_WHAT; set daemon 1; if failed port ... then restart):"
  echo
  echo '| run | load | kill→/health 200 | kill→poller saw it down |'
  echo '|---:|---:|---:|---:|'
  awk '{ printf "| %s |", $1; for (i = 2; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$TMP/results-monit"
  stat_rows "$TMP/results-monit" 3 4
fi
echo
echo "Summary (median [min–max], p90; the mean too for kill→/health 200). The kill's phase in the"
echo "1 s interval is the largest part of kill→/health 200; with random phases the median of $RUNS"
echo "runs has a standard error of about $(awk -v n="$RUNS" 'BEGIN { printf "%.0f", 1000 / (2 * sqrt(n)) }') ms from the phases alone (PHASES=$PHASES; Monit's are always random):"
echo
echo '| case | runs | kill→/health 200 | mean | kill→opened | first failure→opened | opened→first step | first failure→/health 200 | restart step |'
echo '|---|---:|---|---:|---|---|---|---|---|'
summ() {  # file col
  local s
  read -r -a s <<<"$(stats "$1" "$2")"
  printf '%s [%s–%s], p90 %s' "${s[0]}" "${s[1]}" "${s[3]}" "${s[2]}"
}
mean() { awk -v c="$2" '{ t += $c } END { if (NR) printf "%.0f", t / NR; else print "n/a" }' "$1"; }
for c in $DAEMON_CASES; do
  f=$TMP/results-$c
  [[ -s $f ]] || continue
  echo "| acis-healthd $c | $(wc -l <"$f") | $(summ "$f" 11) | $(mean "$f" 11) | $(summ "$f" 6) |" \
    "$(summ "$f" 5) | $(summ "$f" 8) | $(summ "$f" 14) | $(summ "$f" 9) |"
done
f=$TMP/results-monit
[[ -s $f ]] && echo "| monit | $(wc -l <"$f") | $(summ "$f" 3) | $(mean "$f" 3) | | | | | |"
f=$TMP/results-floor
[[ -s $f ]] &&
  echo "| start-api alone (floor) | $(wc -l <"$f") | $(summ "$f" 4) (from invoking it) | $(mean "$f" 4) | | | | | $(summ "$f" 3) |"
true
