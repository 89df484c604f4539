#!/usr/bin/env bash
# Benchmark of the incident journal under a burst: N model folders whose metadata all become
# stale at the same instant, so that one attempt of one model_metadata check opens N incidents
# (N journal records) at once. Measures how fast the burst becomes durable, how many fdatasyncs
# it costs, and how /healthz answers meanwhile. Runs one or more daemon binaries, interleaved,
# RUNS times each, and prints markdown tables (every run, then the median per binary).
# Loopback only; everything it starts is stopped on exit.
#
# Usage: bench/journal_burst.sh LABEL=BINARY [LABEL=BINARY ...]
#   e.g. bench/journal_burst.sh before=/work/wt-before/build/daemon/acis-healthd \
#                               after=build/daemon/acis-healthd
# Knobs (environment):
#   N=10000              model folders (= incidents = journal records of the burst)
#   RUNS=3               timed runs per binary (interleaved: a b a b ...)
#   PERF=1               count the fdatasync/fsync syscalls of every timed run with
#                        `perf stat -e syscalls:sys_enter_fdatasync,... -p PID` (kernel
#                        tracepoint counters, attached over the burst only; cheap)
#   STRACE=1             also one untimed run per binary with `strace -c -e
#                        trace=fdatasync,fsync -p PID` attached over the burst to the main
#                        thread (the event loop) only: `-f` would also trace the scan's pool
#                        thread, and the scan then overruns its 900 ms timeout here
#   MAX_AGE=30           seconds: the check's max_age
#   LEAD=3               seconds from setting the mtimes to the instant all become stale
#   POLL_MS=10           pause between two /healthz probes
#   HEALTHZ_TIMEOUT=1    seconds: a probe not answered by then counts as a timeout
#   BURST_TIMEOUT=180    seconds to wait for the N incident_opened lines
#   TMPBASE=/var/tmp     where the temp dir (models, state_dir) goes; must not be tmpfs
#   MAX_SECONDS=1800     hard bound on the whole script
#   KEEP_TMP=1           keep the temp dir (configs, logs, probes, journals)
#
# Method (also in BENCHMARKS.md). Daemon config: one check {"type": "model_metadata",
# "interval": "1s", "timeout": "900ms", "fall": 1, "rise": 1, "max_age": MAX_AGE}, no runbook,
# no remediation section (the old binaries refuse it), log_level info, a fresh state_dir per
# run. The folders are written once (metadata.json with fresh mtime); per run the daemon is
# started, and once /metrics shows all N targets up, every mtime is set to
# now + LEAD - MAX_AGE (one `touch`), so the first scan after that instant finds all N stale.
# A python poller (one connection per probe, GET /healthz, Content-Length read) probes every
# POLL_MS from before the mtimes are set until the end; a thread of it samples the journal's
# size every 2 ms. From the daemon's JSON log (ts in ms):
#   scan start     = the check's slot: with interval 1 s and no jitter the check starts at whole
#                    seconds after its first run (config_loaded); the last such slot before
#                    (first check_failed - its duration_ms)
#   scan           = that check_failed's duration_ms (the scan on the blocking pool)
#   loop before 1st log = first check_failed - scan end: what the loop did with the N results
#                    before it logged the first of them (metrics, policy, tracker)
#   durable        = scan end -> the last incident_opened (both daemons log it only after the
#                    change is journaled and fdatasync'ed); records/s and commits/s use it
#   opened span    = first -> last incident_opened
#   journal span   = first -> last growth of the journal file after the mtimes were set;
#                    writer records/s = records / journal span
# The burst window for /healthz is [scan end, last incident_opened] (the N changes exist from
# the scan's end; during the scan the loop is free, both daemons scan on a pool thread): every
# probe whose [sent, answered-or-timed-out] overlaps it. Timeouts count at HEALTHZ_TIMEOUT in
# the percentiles (so p99/max are then lower bounds, and a stalled loop gets one probe per
# HEALTHZ_TIMEOUT: "stall" says more); "stall" is the longest time without a 200 from the
# window's start to the first answer after its end.
# A run in which an incident opens for the check as a whole (target "", a scan timeout) stops
# the script: it would not be the burst measured.
# fdatasyncs: from /metrics (acis_journal_commits_total, acis_journal_records_total, deltas
# over the burst) when the binary exports them; otherwise the records (journal lines added),
# since the old journal fdatasyncs once per append; perf (every run) and the STRACE run check
# both against the kernel.
set -euo pipefail

N=${N:-10000}
RUNS=${RUNS:-3}
STRACE=${STRACE:-1}
PERF=${PERF:-1}
MAX_AGE=${MAX_AGE:-30}
LEAD=${LEAD:-3}
POLL_MS=${POLL_MS:-10}
HEALTHZ_TIMEOUT=${HEALTHZ_TIMEOUT:-1}
BURST_TIMEOUT=${BURST_TIMEOUT:-180}
TMPBASE=${TMPBASE:-/var/tmp}
MAX_SECONDS=${MAX_SECONDS:-1800}

log() { printf '[journal_burst %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

(($# >= 1)) || die "usage: $0 LABEL=BINARY [LABEL=BINARY ...]"
LABELS=()
BINS=()
for a in "$@"; do
  [[ $a == *=* ]] || die "expected LABEL=BINARY, got '$a'"
  LABELS+=("${a%%=*}")
  b=${a#*=}
  [[ $b == /* ]] || b=$PWD/$b
  [[ -x $b ]] || die "not an executable: $b"
  BINS+=("$b")
done
command -v python3 >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"
[[ $STRACE != 1 ]] || command -v strace >/dev/null || die "strace not found (or STRACE=0)"
if [[ $PERF == 1 ]] && ! perf stat -e syscalls:sys_enter_fdatasync -o /dev/null -- true 2>/dev/null; then
  die "perf cannot count syscalls:sys_enter_fdatasync here (apt-get install linux-perf, or PERF=0)"
fi
((N >= 1 && RUNS >= 1)) || die "N and RUNS must be at least 1"
((LEAD >= 2 && MAX_AGE > LEAD + 5)) || die "need LEAD >= 2 and MAX_AGE > LEAD + 5"
fstype=$(stat -f -c %T "$TMPBASE")
[[ $fstype != tmpfs && $fstype != ramfs ]] || die "$TMPBASE is $fstype: fdatasync would cost nothing"

# ---- process bookkeeping: everything we start is stopped on any exit ---------------------------
TMP=$(mktemp -d "$TMPBASE/acis-journal-burst.XXXXXX")
DAEMON_PID=""
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

COUNTER_PID=""

stop_daemon() {
  [[ -n $DAEMON_PID ]] || return 0
  stop_pid "$DAEMON_PID" TERM 20
  DAEMON_PID=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $NAP_PID ]] && kill "$NAP_PID" 2>/dev/null
  stop_pid "$POLLER_PID" TERM 5
  stop_pid "$COUNTER_PID" INT 10
  stop_daemon
  [[ -n $WATCHDOG_PID ]] && kill "$WATCHDOG_PID" 2>/dev/null
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'log "terminated (MAX_SECONDS=$MAX_SECONDS?)"; exit 143' TERM

(
  sleep "$MAX_SECONDS" &
  s=$!
  trap 'kill $s 2>/dev/null; exit 0' TERM
  wait $s && kill -TERM $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG_PID=$!

nap() {
  sleep "$1" &
  NAP_PID=$!
  wait "$NAP_PID"
  NAP_PID=""
}

port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'FNR > 1 { split($2, a, ":"); if (a[2] == h && $4 == "0A") f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# ---- the models folder: written once, its mtimes reset per run ---------------------------------
MODELS=$TMP/models
log "writing $N model folders under $MODELS"
python3 - "$MODELS" "$N" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(root)
w = len(str(n - 1))
for i in range(n):
    d = os.path.join(root, "m%0*d_small" % (w, i))
    os.mkdir(d)
    with open(os.path.join(d, "metadata.json"), "w") as f:
        f.write('{"model": "m%d", "metrics": {"sharpe_ratio": 1.2, "max_drawdown": 0.1}}\n' % i)
EOF
sync

# ---- the poller: /healthz every POLL_MS, journal size every 2 ms -------------------------------
cat >"$TMP/poller.py" <<'EOF'
import os, socket, sys, threading, time, signal
port, out, stop, journal = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
pause, tmo, maxdur = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
sizes = []
def sample():
    last = None
    while not done.is_set():
        try: sz = os.stat(journal).st_size
        except OSError: sz = -1
        if sz != last:
            sizes.append((time.time(), sz)); last = sz
        time.sleep(0.002)
th = threading.Thread(target=sample, daemon=True); th.start()
req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
def probe():
    m0 = time.monotonic()
    s = None
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=tmo)
        s.sendall(req)
        buf = b""
        need = None
        while True:
            left = tmo - (time.monotonic() - m0)
            if left <= 0: return "timeout"
            s.settimeout(left)
            d = s.recv(65536)
            if not d: break
            buf += d
            if need is None and b"\r\n\r\n" in buf:
                head, _, body = buf.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length": need = len(head) + 4 + int(v)
            if need is not None and len(buf) >= need: break
        parts = buf.split(b" ", 2)
        return parts[1].decode() if len(parts) > 1 else "short"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "error:" + type(e).__name__
    finally:
        if s is not None: s.close()
probes = []
end = time.monotonic() + maxdur
while not done.is_set() and time.monotonic() < end and not os.path.exists(stop):
    t0 = time.time(); m0 = time.monotonic()
    st = probe()
    probes.append((t0, time.monotonic() - m0, st))
    time.sleep(pause)
done.set(); th.join(1)
with open(out, "w") as f:
    for t0, lat, st in probes: f.write("P %.6f %.6f %s\n" % (t0, lat, st))
    for t, sz in sizes: f.write("S %.6f %d\n" % (t, sz))
EOF

# ---- one run ------------------------------------------------------------------------------------
scrape() {  # port file: /metrics to file, bounded
  curl -sf --max-time 60 "http://127.0.0.1:$1/metrics" -o "$2"
}

metric() {  # file name: the value of an unlabelled sample, or empty
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 { print $2 }' "$2" 2>/dev/null | head -n1
}

run_one() {  # label bin run_no strace(0/1) -> appends a result line to $TMP/results
  local label=$1 bin=$2 run=$3 use_strace=$4
  local dir=$TMP/run-$label-$run
  [[ $use_strace == 1 ]] && dir=$TMP/strace-$label
  mkdir -p "$dir/state"
  local port
  port=$(free_port)
  cat >"$dir/config.json" <<EOF
{
  "daemon": {"listen": "127.0.0.1:$port", "state_dir": "$dir/state", "log_level": "info"},
  "checks": [
    {"name": "models", "type": "model_metadata", "models_dir": "$MODELS", "max_age": "${MAX_AGE}s",
     "interval": "1s", "timeout": "900ms", "fall": 1, "rise": 1, "severity": "low"}
  ]
}
EOF
  "$bin" check-config --config "$dir/config.json" >"$dir/check-config.out" 2>&1 ||
    die "$label: check-config refused $dir/config.json: $(cat "$dir/check-config.out")"
  # Fresh mtimes: every model passes until the burst.
  find "$MODELS" -name metadata.json -print0 | xargs -0 touch -m
  local load_start
  load_start=$(load1)
  "$bin" run --config "$dir/config.json" >"$dir/daemon.log" 2>"$dir/daemon.err" &
  DAEMON_PID=$!
  # Up, and a first complete scan with every target up.
  local i ups=0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$DAEMON_PID" 2>/dev/null || die "$label: daemon exited: $(tail -n5 "$dir/daemon.err")"
    if scrape "$port" "$dir/metrics.0" 2>/dev/null; then
      ups=$(grep -c -E '^acis_check_up\{.*check="models".*\} 1(\.0+)?$' "$dir/metrics.0" || true)
      ((ups >= N)) && break
    fi
    nap 0.1
  done
  ((ups >= N)) || die "$label: never saw $N targets up (saw $ups)"
  local lines0
  lines0=$(wc -l <"$dir/state/incidents.jsonl" 2>/dev/null || echo 0)
  rm -f "$dir/stop"
  python3 "$TMP/poller.py" "$port" "$dir/probes.txt" "$dir/stop" "$dir/state/incidents.jsonl" \
    "$(awk -v m="$POLL_MS" 'BEGIN { printf "%.3f", m / 1000 }')" "$HEALTHZ_TIMEOUT" \
    "$((BURST_TIMEOUT + 60))" &
  POLLER_PID=$!
  # The syscall counter, attached for the burst only (start-up and shutdown are not counted).
  if [[ $use_strace == 1 ]]; then
    strace -c -e trace=fdatasync,fsync -o "$dir/counts.txt" -p "$DAEMON_PID" 2>"$dir/counter.err" &
    COUNTER_PID=$!
  elif [[ $PERF == 1 ]]; then
    perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -o "$dir/counts.txt" \
      -p "$DAEMON_PID" 2>"$dir/counter.err" &
    COUNTER_PID=$!
  fi
  nap 0.3
  # Every folder becomes stale at T_STALE (whole seconds: touch -d @S).
  local now t_stale
  now=$(date +%s)
  t_stale=$((now + LEAD))
  local t_set
  t_set=$(date +%s.%N)
  find "$MODELS" -name metadata.json -print0 | xargs -0 touch -m -d "@$((t_stale - MAX_AGE))"
  log "$label run $run: port $port, all stale at $(date -u -d "@$t_stale" +%T) (load $load_start)"
  # Wait for the N incidents, then for the journal to stop growing (2 s unchanged).
  local opened=0
  for ((i = 0; i < BURST_TIMEOUT * 10; i++)); do
    opened=$(grep -c '"event":"incident_opened"' "$dir/daemon.log" || true)
    ((opened >= N)) && break
    kill -0 "$DAEMON_PID" 2>/dev/null || die "$label: daemon exited during the burst"
    nap 0.1
  done
  ((opened >= N)) || die "$label: only $opened of $N incident_opened within ${BURST_TIMEOUT}s"
  local size prev=-1 same=0
  for ((i = 0; i < 600 && same < 20; i++)); do
    size=$(stat -c %s "$dir/state/incidents.jsonl")
    if [[ $size == "$prev" ]]; then same=$((same + 1)); else same=0; prev=$size; fi
    nap 0.1
  done
  scrape "$port" "$dir/metrics.1" || log "$label: the last /metrics scrape failed"
  stop_pid "$COUNTER_PID" INT 10
  COUNTER_PID=""
  touch "$dir/stop"
  local j
  for ((j = 0; j < 100; j++)); do kill -0 "$POLLER_PID" 2>/dev/null || break; nap 0.1; done
  stop_pid "$POLLER_PID" TERM 5
  POLLER_PID=""
  local lines1 load_end
  lines1=$(wc -l <"$dir/state/incidents.jsonl")
  load_end=$(load1)
  stop_daemon
  local c0 c1 r0 r1 commits records
  c0=$(metric acis_journal_commits_total "$dir/metrics.0")
  c1=$(metric acis_journal_commits_total "$dir/metrics.1")
  r0=$(metric acis_journal_records_total "$dir/metrics.0")
  r1=$(metric acis_journal_records_total "$dir/metrics.1")
  records=$((lines1 - lines0))
  local source=lines
  if [[ -n $c0 && -n $c1 && -n $r0 && -n $r1 ]]; then
    commits=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%d", b - a }')
    records=$(awk -v a="$r0" -v b="$r1" 'BEGIN { printf "%d", b - a }')
    source=metrics
  else
    commits=$records  # the old journal: one fdatasync per appended line
  fi
  local sys_fdatasync=- sys_fsync=-
  if [[ $use_strace == 1 && -e $dir/counts.txt ]]; then
    # strace -c lists only the syscalls made: none listed is 0
    sys_fdatasync=$(awk '$NF == "fdatasync" { print $4 }' "$dir/counts.txt")
    sys_fsync=$(awk '$NF == "fsync" { print $4 }' "$dir/counts.txt")
    sys_fdatasync=${sys_fdatasync:-0} sys_fsync=${sys_fsync:-0}
  elif [[ $use_strace == 0 && $PERF == 1 && -s $dir/counts.txt ]]; then
    sys_fdatasync=$(awk -F, '$3 ~ /sys_enter_fdatasync/ { print $1 }' "$dir/counts.txt")
    sys_fsync=$(awk -F, '$3 ~ /sys_enter_fsync$/ { print $1 }' "$dir/counts.txt")
  fi
  python3 - "$dir" "$label" "$run" "$t_set" "$HEALTHZ_TIMEOUT" "$records" "$commits" "$source" \
    "$((lines1 - lines0))" "$load_start" "$load_end" "${sys_fdatasync:--}" "${sys_fsync:--}" \
    "$use_strace" >>"$TMP/results" <<'EOF'
import json, sys, datetime
(d, label, run, t_set, tmo, records, commits, source, lines, l0, l1, sfd, sfs,
 use_strace) = sys.argv[1:]
t_set, tmo = float(t_set), float(tmo)
def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
failed, opened, folder_level, loaded = [], [], 0, None
for line in open(d + "/daemon.log", errors="replace"):
    try: e = json.loads(line)
    except ValueError: continue
    ev = e.get("event")
    if ev == "config_loaded" and loaded is None:
        loaded = ts(e["ts"])
    elif ev == "check_failed" and e.get("target"):
        failed.append((ts(e["ts"]), e.get("duration_ms", 0)))
    elif ev == "incident_opened":
        if e.get("target"): opened.append(ts(e["ts"]))
        else: folder_level += 1
if folder_level:
    sys.exit("%s: %d incident(s) for the check as a whole (a scan timed out?): run not valid"
             % (d, folder_level))
first_failed, scan_ms = min(failed)
# The check's slots are whole intervals (1 s) after its first run, which starts with
# config_loaded: the burst's scan started at the last slot before first_failed - scan.
# first_failed - scan - slot is what the loop did with the results before it logged the first
# check_failed (metrics, policy, tracker); it is the gap the log cannot show.
import math
est = first_failed - scan_ms / 1000.0
start = loaded + math.floor(est - loaded + 0.02) if loaded is not None else est
pre = est - start
if not (-0.05 <= pre <= 0.95):
    start, pre = est, 0.0
scan_end = start + scan_ms / 1000.0
o0, o1 = min(opened), max(opened)
durable = o1 - scan_end
probes, sizes = [], []
for line in open(d + "/probes.txt"):
    p = line.split()
    if p[0] == "P": probes.append((float(p[1]), float(p[2]), p[3]))
    else: sizes.append((float(p[1]), int(p[2])))
grow = [t for (t, sz), (_, psz) in zip(sizes[1:], sizes[:-1]) if sz != psz and t >= t_set]
jspan = (max(grow) - min(grow)) if grow else 0.0
# The window: from the scan's end to the last incident_opened.
win = [(t, lat, st) for t, lat, st in probes if t + lat >= scan_end and t <= o1]
lats = sorted(min(lat, tmo) if st == "200" else tmo for t, lat, st in win)
touts = sum(1 for _, _, st in win if st != "200")
slow = sum(1 for _, lat, st in win if st != "200" or lat > 0.1)
def pct(q):
    if not lats: return float("nan")
    k = max(0, min(len(lats) - 1, int(round(q * (len(lats) - 1)))))
    return lats[k] * 1000
# Stall: the longest time without a 200, from the window's start to the first answer after it.
answers = sorted(t + lat for t, lat, st in probes if st == "200")
edges = [scan_end] + [a for a in answers if scan_end < a < o1]
nxt = [a for a in answers if a >= o1]
edges.append(nxt[0] if nxt else o1)
stall = max(b - a for a, b in zip(edges[:-1], edges[1:]))
records, commits = int(records), int(commits)
rate = lambda n, t: "%.0f" % (n / t) if t > 0 else "-"
print("\t".join(str(x) for x in [
    label, run if use_strace == "0" else "strace", records, commits, source, lines, len(opened),
    "%.0f" % scan_ms, int(round(pre * 1000)), "%.0f" % (durable * 1000),
    "%.0f" % ((o1 - o0) * 1000), "%.0f" % (jspan * 1000),
    rate(records, durable), "%.1f" % (commits / durable if durable > 0 else 0),
    rate(records, jspan), len(win), "%.1f" % pct(0.5), "%.1f" % pct(0.99),
    "%.1f" % (lats[-1] * 1000 if lats else 0), touts, slow, "%.0f" % (stall * 1000), l0, l1,
    sfd, sfs]))
EOF
  log "$label run $run: $(tail -n1 "$TMP/results" | cut -f3-)"
}

# ---- the runs -----------------------------------------------------------------------------------
log "binaries: $(for i in "${!LABELS[@]}"; do printf '%s=%s ' "${LABELS[$i]}" "${BINS[$i]}"; done)"
: >"$TMP/results"
for ((r = 1; r <= RUNS; r++)); do
  for i in "${!LABELS[@]}"; do run_one "${LABELS[$i]}" "${BINS[$i]}" "$r" 0; done
done
if [[ $STRACE == 1 ]]; then
  for i in "${!LABELS[@]}"; do run_one "${LABELS[$i]}" "${BINS[$i]}" 0 1; done
fi

# ---- report -------------------------------------------------------------------------------------
echo
echo "N=$N RUNS=$RUNS MAX_AGE=${MAX_AGE}s POLL_MS=$POLL_MS HEALTHZ_TIMEOUT=${HEALTHZ_TIMEOUT}s TMPBASE=$TMPBASE ($fstype)"
echo "date $(date -u +%FT%TZ); $(nproc) CPUs; $(lscpu | sed -n 's/^Model name: *//p'); load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!LABELS[@]}"; do echo "${LABELS[$i]}: ${BINS[$i]} ($("${BINS[$i]}" --version 2>&1 | head -n1))"; done
echo
echo "Every run (times in ms; records/fdatasyncs from the 'source' column; syscalls counted over the burst by perf stat (all threads) or, in strace rows (untimed), by strace on the main thread):"
echo
echo "| binary | run | records | fdatasyncs | source | journal lines | incident_opened | scan | loop before 1st log | durable | opened span | journal span | records/s | commits/s | writer records/s | probes | /healthz p50 | p99 | max | timeouts | >100 ms | stall | load start | load end | syscall fdatasync | syscall fsync |"
echo "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$TMP/results"
echo
echo "Medians of the timed runs [min-max]:"
echo
echo "| binary | runs | records | fdatasyncs | fdatasync syscalls | records/s | commits/s | durable (ms) | writer records/s | /healthz p50 (ms) | p99 | max | timeouts | >100 ms | stall (ms) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
python3 - "$TMP/results" "${LABELS[@]}" <<'EOF'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
def f(x):
    try: return float(x)
    except ValueError: return float("nan")
for label in sys.argv[2:]:
    rs = [r for r in rows if r[0] == label and r[1] != "strace"]
    if not rs: continue
    def cell(k, fmt="%.0f"):
        v = [f(r[k]) for r in rs]
        m = fmt % statistics.median(v)
        return m if len(v) == 1 or min(v) == max(v) else "%s [%s-%s]" % (m, fmt % min(v), fmt % max(v))
    print("| %s | %d | %s |" % (label, len(rs), " | ".join([
        cell(2), cell(3), cell(24), cell(12), cell(13, "%.1f"), cell(9), cell(14), cell(16, "%.1f"),
        cell(17, "%.1f"), cell(18, "%.1f"), cell(19), cell(20), cell(21)])))
EOF
