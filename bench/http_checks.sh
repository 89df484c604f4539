#!/usr/bin/env bash
# Benchmark of the scheduler and the `http` check kind: the real acis-healthd against a loopback
# nginx, at several rates of checks per second. Prints markdown tables (every run, then the
# median of the runs of each case). Loopback only; everything it starts is stopped on exit.
#
# Usage: bench/http_checks.sh            (from anywhere; builds build-bench if needed)
# Knobs (environment):
#   CASES="100:1000 1000:1000 10000:1000 1000:100 5000:1000 10000:1000:iso 1000:100:iso"
#                       K:I[:iso] — K checks every I milliseconds. With ":iso" the checks get
#                       fall=1000 and pending_interval=interval, which cuts the daemon's two
#                       feedback loops (failures -> 4x faster re-checks; incidents -> journal
#                       fdatasync on the event loop) so that raw capacity is measured.
#   RUNS=3 WARMUP=5 WINDOW=30          runs per case; seconds
#   NGINX_WORKERS=1                    nginx worker_processes
#   JITTER_PCT=50 TIMEOUT_PCT=50       per-check jitter and timeout, % of the interval
#   SCRAPE_TIMEOUT=60                  seconds to wait for one /metrics answer
#   FLOOR=1 FLOOR_SECONDS=10           also time bench/check_cost (the layers below the daemon)
#   BUILD_DIR=.../build-bench BUILD_TYPE=RelWithDebInfo REBUILD=0
#   MAX_SECONDS=3600                   hard bound on the whole script
#   KEEP_TMP=1                         keep the temp dir (configs, logs, scrapes)
#   PERF=1 PERF_FREQ=499               also `perf record -g` the daemon over each window
#   WRAP="valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p"
#                                      a command prefix for the daemon (profiling)
#
# Method (also in BENCHMARKS.md): after WARMUP seconds, /metrics is scraped at the start and
# the end of a WINDOW-second window and deltas are taken. Completed checks are the sum of
# acis_check_runs_total; started attempts the count of acis_check_schedule_lag_seconds, whose
# buckets give the period error (how late each attempt started against its due time, jitter
# included in the due time), p50/p99 interpolated inside the bucket as Prometheus's
# histogram_quantile does. CPU is utime+stime of the daemon from /proc/PID/stat, read after the
# first scrape and before the last one, so the scrapes are not charged to the checks. Peak RSS
# is VmHWM at the end (it includes the two scrapes); RSS is also read before the first scrape.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
CASES=${CASES:-"100:1000 1000:1000 10000:1000 1000:100 5000:1000 10000:1000:iso 1000:100:iso"}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-5}
WINDOW=${WINDOW:-30}
NGINX_WORKERS=${NGINX_WORKERS:-1}
JITTER_PCT=${JITTER_PCT:-50}    # the scheduler caps jitter at half the period anyway
TIMEOUT_PCT=${TIMEOUT_PCT:-50}  # config validation wants timeout < interval
SCRAPE_TIMEOUT=${SCRAPE_TIMEOUT:-60}
FLOOR=${FLOOR:-1}
FLOOR_SECONDS=${FLOOR_SECONDS:-10}
MAX_SECONDS=${MAX_SECONDS:-3600}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
BIN=$BUILD_DIR/daemon/acis-healthd
COST=$BUILD_DIR/bench/check_cost
TICK=$(getconf CLK_TCK)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x $NGINX ]] || die "nginx not found (apt-get install -y nginx-light)"

# ---- build ------------------------------------------------------------------------------------
targets=()
[[ -x $BIN && ${REBUILD:-0} != 1 ]] || targets+=(acis-healthd)
[[ $FLOOR != 1 || (-x $COST && ${REBUILD:-0} != 1) ]] || targets+=(check_cost)
if ((${#targets[@]})); then
  log "building ${targets[*]} in $BUILD_DIR ($BUILD_TYPE)"
  timeout 1800 cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DACIS_BUILD_BENCH=ON >/dev/null
  timeout 1800 cmake --build "$BUILD_DIR" --target "${targets[@]}" -j2 >/dev/null
fi

# ---- process bookkeeping: everything we start is stopped on any exit ---------------------------
TMP=$(mktemp -d /tmp/acis-bench.XXXXXX)
NGINX_PID=""
DAEMON_PID=""
PERF_PID=""
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
  [[ -n $NAP_PID ]] && kill "$NAP_PID" 2>/dev/null
  stop_pid "$PERF_PID" INT 10
  stop_pid "$DAEMON_PID" TERM 10
  stop_pid "$NGINX_PID" TERM 10
  [[ -n $WATCHDOG_PID ]] && kill "$WATCHDOG_PID" 2>/dev/null
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'log "terminated (MAX_SECONDS=$MAX_SECONDS?)"; exit 143' TERM

# The whole script is bounded: the watchdog TERMs us (and so runs cleanup) after MAX_SECONDS.
# Its own sleep dies with it, and it holds none of our output pipes open.
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
port_in_use() {  # port: listening on any local address (IPv4 or IPv6)?
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'FNR > 1 { split($2, a, ":"); if (a[2] == h && $4 == "0A") f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-60999 here)
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# GET http://127.0.0.1:PORT/PATH, body to FILE, bounded by SECONDS; bash's /dev/tcp, no curl.
# Fails unless the status is 200 and the body is complete (Content-Length, when sent): the
# daemon's server gives up on a response that it cannot finish writing within its own deadline.
http_get() {  # port path file seconds
  # shellcheck disable=SC2016  # $1 and $2 expand in the inner bash, on purpose
  timeout "$4" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
    cat <&3' _ "$1" "$2" >"$3.raw" 2>/dev/null || return 1
  head -n1 "$3.raw" | grep -q ' 200 ' || return 1
  local head_bytes length size
  read -r head_bytes length < <(LC_ALL=C awk '
    { n += length($0) + 1 }
    tolower($1) == "content-length:" { len = $2 + 0 }
    /^\r?$/ { print n, (len == "" ? -1 : len); exit }' "$3.raw") || true
  [[ -n ${head_bytes:-} ]] || return 1
  size=$(($(wc -c <"$3.raw") - head_bytes))
  if ((length >= 0 && size != length)); then
    log "$2: body of $size bytes, Content-Length $length (cut off)"
    return 1
  fi
  tail -c +"$((head_bytes + 1))" "$3.raw" >"$3"
  rm -f "$3.raw"
}

wait_http() {  # port path seconds pid: until 200, bounded; fails early if pid died
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    kill -0 "$4" 2>/dev/null || return 1
    http_get "$1" "$2" "$TMP/probe" 5 && return 0
    sleep 0.1
  done
  return 1
}

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }  # utime+stime
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }        # VmHWM, VmRSS
ctx_switches() { awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s }' "/proc/$1/status"; }
now_s() { date +%s.%N; }
fmt_ms() { if (($1 % 1000 == 0)); then echo "$(($1 / 1000))s"; else echo "$1ms"; fi; }

# A scrape -> "ok degraded failing lag_count le=cum ..." (lag buckets cumulative, in order);
# "NA" when there is no scrape.
summarize_metrics() {
  [[ -s $1 ]] || { echo NA; return 0; }
  awk '
    /^acis_check_runs_total\{/ {
      r = $0; sub(/.*result="/, "", r); sub(/".*/, "", r); runs[r] += $NF }
    /^acis_check_schedule_lag_seconds_bucket\{/ {
      le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le); n++; les[n] = le; cnt[n] = $NF }
    /^acis_check_schedule_lag_seconds_count/ { lc = $NF }
    END {
      printf "%d %d %d %d", runs["ok"], runs["degraded"], runs["failing"], lc
      for (i = 1; i <= n; i++) printf " %s=%d", les[i], cnt[i]
      printf "\n"
    }' "$1"
}

# ---- nginx ------------------------------------------------------------------------------------
start_nginx() {
  local dir=$TMP/nginx
  mkdir -p "$dir/logs" "$dir/tmp"
  NGINX_PORT=$(free_port)
  cat >"$dir/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
master_process on;
user root;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp;
  scgi_temp_path $dir/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location = /health { return 200 "ok"; }
  }
}
EOF
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  wait_http "$NGINX_PORT" /health 10 "$NGINX_PID" || die "nginx did not answer (see $dir/logs)"
  log "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') pid $NGINX_PID on 127.0.0.1:$NGINX_PORT," \
    "$NGINX_WORKERS worker(s)"
}

nginx_cpu_ticks() {  # master + workers
  local t=0 p
  for p in $NGINX_PID $(cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null); do
    [[ -r /proc/$p/stat ]] && t=$((t + $(cpu_ticks "$p")))
  done
  echo "$t"
}

# ---- one run ----------------------------------------------------------------------------------
# Appends one line to $TMP/results, columns:
#  1 K  2 I(ms)  3 mode  4 run  5 load(1-min, start/end)  6 completed/s  7 started/s
#  8 lag p50 ms  9 lag p99 ms  10 CPU s/1000  11 RSS MB before scrapes  12 VmHWM MB
#  13 failing  14 degraded  15 incidents opened  16 nginx CPU s/1000  17 daemon CPU %
#  18 scrape ms  19 scrape MB  20 context switches per check (voluntary + involuntary)
run_case() {
  local k=$1 iv=$2 mode=$3 run=$4
  local dir=$TMP/run-$k-$iv-$mode-$run
  mkdir -p "$dir/state"
  local port extra=""
  port=$(free_port)
  [[ $mode == iso ]] && extra=", \"fall\": 1000, \"pending_interval\": \"$(fmt_ms "$iv")\""
  {
    printf '{"daemon": {"listen": "127.0.0.1:%s", "state_dir": "%s", "log_level": "warn"},\n' \
      "$port" "$dir/state"
    printf ' "checks": [\n'
    awk -v k="$k" -v url="http://127.0.0.1:$NGINX_PORT/health" -v iv="$(fmt_ms "$iv")" \
      -v j="$(fmt_ms $((iv * JITTER_PCT / 100)))" -v t="$(fmt_ms $((iv * TIMEOUT_PCT / 100)))" \
      -v extra="$extra" 'BEGIN {
        for (i = 0; i < k; i++)
          printf "  {\"name\": \"c%d\", \"type\": \"http\", \"url\": \"%s\", \"interval\": \"%s\", \"timeout\": \"%s\", \"jitter\": \"%s\"%s}%s\n",
                 i, url, iv, t, j, extra, (i + 1 < k ? "," : "")
      }'
    printf ' ]}\n'
  } >"$dir/config.json"

  local load0 load1
  load0=$(cut -d' ' -f1 /proc/loadavg)
  log "K=$k I=$(fmt_ms "$iv") $mode run $run: load $(cut -d' ' -f1-3 /proc/loadavg)"
  # shellcheck disable=SC2086  # WRAP is a command prefix, split into words on purpose
  ${WRAP:-} "$BIN" run --config "$dir/config.json" >"$dir/daemon.log" 2>&1 &
  DAEMON_PID=$!
  wait_http "$port" /healthz 60 "$DAEMON_PID" || die "daemon did not answer (see $dir/daemon.log)"
  nap "$WARMUP"

  # Counters are snapshotted somewhere inside each scrape: the run window goes from the middle
  # of the first scrape to the middle of the last. CPU is read between the scrapes (so neither
  # serialization is charged) and turned into a rate over its own interval.
  local c0 c1 n0 n1 ta0 ta1 tc0 tc1 tb0 tb1 rss hwm s0 s1
  ta0=$(now_s)
  http_get "$port" /metrics "$dir/m0.txt" "$SCRAPE_TIMEOUT" || log "first scrape failed"
  ta1=$(now_s)
  c0=$(cpu_ticks "$DAEMON_PID"); n0=$(nginx_cpu_ticks); s0=$(ctx_switches "$DAEMON_PID"); tc0=$(now_s)
  rss=$(status_kb "$DAEMON_PID" VmRSS)
  if [[ ${PERF:-0} == 1 ]] && command -v perf >/dev/null; then
    perf record -F "${PERF_FREQ:-499}" -g -p "$DAEMON_PID" -o "$dir/perf.data" >/dev/null 2>&1 &
    PERF_PID=$!
  fi
  nap "$WINDOW"
  c1=$(cpu_ticks "$DAEMON_PID"); n1=$(nginx_cpu_ticks); s1=$(ctx_switches "$DAEMON_PID"); tc1=$(now_s)
  load1=$(cut -d' ' -f1 /proc/loadavg)
  if [[ -n $PERF_PID ]]; then stop_pid "$PERF_PID" INT 30; PERF_PID=""; fi
  tb0=$(now_s)
  http_get "$port" /metrics "$dir/m1.txt" "$SCRAPE_TIMEOUT" || log "last scrape failed"
  tb1=$(now_s)
  hwm=$(status_kb "$DAEMON_PID" VmHWM)
  stop_pid "$DAEMON_PID" TERM 10
  DAEMON_PID=""

  local incidents bytes=0
  incidents=$(grep -c '"incident_opened"' "$dir/state/incidents.jsonl" 2>/dev/null || true)
  [[ -s $dir/m1.txt ]] && bytes=$(wc -c <"$dir/m1.txt")
  awk -v k="$k" -v iv="$iv" -v mode="$mode" -v run="$run" -v load="$load0/$load1" \
    -v a="$(summarize_metrics "$dir/m0.txt")" -v b="$(summarize_metrics "$dir/m1.txt")" \
    -v c0="$c0" -v c1="$c1" -v n0="$n0" -v n1="$n1" -v ta0="$ta0" -v ta1="$ta1" \
    -v tc0="$tc0" -v tc1="$tc1" -v tb0="$tb0" -v tb1="$tb1" -v tick="$TICK" -v rss="$rss" \
    -v hwm="$hwm" -v incidents="${incidents:-0}" -v bytes="$bytes" -v s0="$s0" -v s1="$s1" '
    # histogram_quantile: linear inside the bucket; in +Inf, ">" the highest finite bound.
    function q(p,   rank, i, lo, clo) {
      rank = p * total; lo = 0; clo = 0
      for (i = 1; i <= n; i++) {
        if (d[i] >= rank) {
          if (le[i] == "+Inf") return ">" lo * 1000
          if (d[i] == clo) return sprintf("%.2f", le[i] * 1000)
          return sprintf("%.2f", (lo + (le[i] - lo) * (rank - clo) / (d[i] - clo)) * 1000)
        }
        lo = le[i]; clo = d[i]
      }
      return "n/a"
    }
    BEGIN {
      cpu_rate = (c1 - c0) / tick / (tc1 - tc0); ncpu_rate = (n1 - n0) / tick / (tc1 - tc0)
      sw_rate = (s1 - s0) / (tc1 - tc0)
      if (a == "NA" || b == "NA") {
        done = rate = "n/a"; started = p50 = p99 = cpu = fail = deg = ncpu = ctx = "n/a"
      } else {
        na = split(a, A, " "); split(b, B, " ")
        n = 0
        for (i = 5; i <= na; i++) {
          split(A[i], x, "="); split(B[i], y, "="); n++; le[n] = x[1]; d[n] = y[2] - x[2]
        }
        total = d[n]
        secs = (tb0 + tb1) / 2 - (ta0 + ta1) / 2
        fail = B[3] - A[3]; deg = B[2] - A[2]
        done = B[1] - A[1] + deg + fail
        rate = sprintf("%.0f", done / secs); started = sprintf("%.0f", (B[4] - A[4]) / secs)
        p50 = total > 0 ? q(0.5) : "n/a"; p99 = total > 0 ? q(0.99) : "n/a"
        cpu = done > 0 ? sprintf("%.4f", cpu_rate / (done / secs) * 1000) : "n/a"
        ncpu = done > 0 ? sprintf("%.4f", ncpu_rate / (done / secs) * 1000) : "n/a"
        ctx = done > 0 ? sprintf("%.2f", sw_rate / (done / secs)) : "n/a"
      }
      printf "%d %d %s %d %s %s %s %s %s %s %.1f %.1f %s %s %d %s %.1f %.0f %.1f %s\n",
        k, iv, mode, run, load, rate, started, p50, p99, cpu, rss / 1024, hwm / 1024, fail, deg,
        incidents, ncpu, cpu_rate * 100, (tb1 - tb0) * 1000, bytes / 1048576, ctx
    }' | tee -a "$TMP/results" >&2
  if grep -q '"check_failed"' "$dir/daemon.log"; then
    log "some checks failed; most frequent reasons:"
    { grep -o '"reason":"[^"]*"' "$dir/daemon.log" | sed 's/[0-9.]*m\{0,1\}s while/N while/' |
        sort | uniq -c | sort -rn | head -5 >&2; } || true
  fi
}

# ---- main -------------------------------------------------------------------------------------
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
log "machine: $MACHINE; $(date -u +%Y-%m-%dT%H:%MZ)"
log "daemon: $BIN ($(grep -m1 '^CMAKE_BUILD_TYPE' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null | cut -d= -f2))"
start_nginx
: >"$TMP/results"
: >"$TMP/floor"
for r in $(seq 1 "$RUNS"); do
  if [[ $FLOOR == 1 ]]; then
    for args in "--mode raw" "--mode raw --linger0" "--mode check --concurrency 16"; do
      # shellcheck disable=SC2086  # $args is several words on purpose
      timeout $((FLOOR_SECONDS + 30)) "$COST" --port "$NGINX_PORT" --seconds "$FLOOR_SECONDS" \
        $args | sed "s/^/| $r | $(cut -d' ' -f1 /proc/loadavg) /" | tee -a "$TMP/floor" >&2 ||
        log "check_cost $args failed"
    done
  fi
  for c in $CASES; do
    IFS=: read -r k iv mode <<<"$c"
    run_case "$k" "$iv" "${mode:-default}" "$r"
  done
done

# ---- report -----------------------------------------------------------------------------------
header='| checks K | interval | thresholds | scheduled/s | completed/s | started/s | lag p50 ms | lag p99 ms | CPU s / 1000 checks | RSS MB before scrapes | peak RSS MB (VmHWM) | failing | degraded | incidents opened | nginx CPU s / 1000 | daemon CPU % | /metrics scrape ms | /metrics MB | context switches per check |'
sep='|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
common='function iv_text(iv) { return (iv % 1000 == 0) ? (iv / 1000) "s" : iv "ms" }
  function cells(   i, s) { s = ""; for (i = 6; i <= 20; i++) s = s " | " C[i]; return s }'
echo
echo "Machine: $MACHINE; $(date -u +%Y-%m-%d); nginx $NGINX_WORKERS worker(s); warm-up" \
  "${WARMUP}s, window ${WINDOW}s; jitter ${JITTER_PCT}% and timeout ${TIMEOUT_PCT}% of the interval."
echo "Lag histogram buckets (ms): 0.1 0.25 0.5 1 2 5 10 20 50 100 200 500 1000 5000 +Inf."
echo
echo "Every run (load: 1-minute load average at the start / end of the window):"
echo
echo "| run | load ${header}"
echo "|---:|---${sep}"
awk "$common"'
  { for (i = 1; i <= NF; i++) C[i] = $i
    printf "| %d | %s | %d | %s | %s | %.0f%s |\n", $4, $5, $1, iv_text($2), $3, $1 * 1000 / $2, cells() }' \
  "$TMP/results"
echo
echo "Median of the runs of each case (each column separately):"
echo
echo "$header"
echo "$sep"
for c in $CASES; do
  IFS=: read -r k iv mode <<<"$c"
  awk -v k="$k" -v iv="$iv" -v mode="${mode:-default}" "$common"'
    function num(s) { sub(/^>/, "", s); return s == "n/a" ? 1e99 : s + 0 }
    function med(col,   i, j, t, v) {
      for (i = 1; i <= rows; i++) v[i] = R[i, col]
      for (i = 2; i <= rows; i++)
        for (j = i; j > 1 && num(v[j - 1]) > num(v[j]); j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return v[int((rows + 1) / 2)]
    }
    $1 == k && $2 == iv && $3 == mode { rows++; for (i = 1; i <= NF; i++) R[rows, i] = $i }
    END {
      if (!rows) exit
      for (i = 6; i <= 20; i++) C[i] = med(i)
      printf "| %d | %s | %s | %.0f%s |\n", k, iv_text(iv), mode, k * 1000 / iv, cells()
    }' "$TMP/results"
done
if [[ -s $TMP/floor ]]; then
  echo
  echo "Below the daemon (bench/check_cost, ${FLOOR_SECONDS}s each against the same nginx; CPU of" \
    "the client process only; load: 1-minute load average at the start):"
  echo
  echo "| run | load | client | requests | seconds | requests/s | user CPU s / 1000 | system CPU s / 1000 | CPU s / 1000 | failed |"
  echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  cat "$TMP/floor"
fi
