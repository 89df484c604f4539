#!/usr/bin/env bash
# platform.sh: start, stop and break a throwaway toy ACIS platform for the demo and e2e tests.
#
#   platform.sh start DIR       PostgreSQL 15 + toy API + toy frontend + models folder; waits
#                               until all answer (bounded by ACIS_PLATFORM_TIMEOUT, default 20 s)
#   platform.sh stop DIR        stop everything started for DIR; idempotent, never fails
#   platform.sh status DIR      one line per service
#   platform.sh kill-api DIR    SIGKILL the API (a crash)      platform.sh start-api DIR
#   platform.sh restart-api DIR kill-api + start-api
#   platform.sh stop-db DIR     crash PostgreSQL (-m immediate) platform.sh start-db DIR
#
# DIR is a state folder owned by the caller (created if missing). `start` writes there:
#   platform.env   KEY=VALUE lines (shell-quoted) to source: PGHOST, PGPORT, PG_CONNINFO, PG_DATA,
#                  PG_BIN, API_PORT, API_URL, API_PID, FRONTEND_PORT, FRONTEND_URL, MODELS_DIR, ...;
#                  PLATFORM_READY=1 is its last line once everything answered
#   pgpassword     the postgres role's password (mode 0600); never in platform.env
#   api.pid, frontend.pid, api.log, frontend.log, models/, pg/ (the cluster and its log,
#   PG_LOG; under a private /tmp/acis-pg.* folder instead when postgres cannot reach DIR)
#
# Env: ACIS_TOY_SERVICE (toy binary; default build/tests/toy/acis-toy-service under the repo),
#      PG_BIN (default /usr/lib/postgresql/15/bin), ACIS_PLATFORM_TIMEOUT (seconds, default 20).
#
# Services are started in their own session with stdin/stdout/stderr redirected to files, so
# they neither die with the caller's process group nor hold the caller's pipes open (a runbook
# step that runs `start-api` and captures its output still sees EOF).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)
timeout_s=${ACIS_PLATFORM_TIMEOUT:-20}

die() {
  echo "platform.sh: error: $*" >&2
  exit 1
}
say() { echo "platform.sh: $*"; }

usage() {
  echo "usage: $0 start|stop|status|kill-api|start-api|restart-api|stop-db|start-db DIR" >&2
  exit 2
}

# --- state file --------------------------------------------------------------------------------

# set_env KEY VALUE: replace or add one line of DIR/platform.env (rewritten atomically).
set_env() {
  local key=$1 value=$2 file=$dir/platform.env tmp
  tmp=$(mktemp "$dir/.platform.env.XXXXXX")
  if [[ -f $file ]]; then grep -v -e "^$key=" -e '^PLATFORM_READY=' "$file" >"$tmp" || true; fi
  printf '%s=%q\n' "$key" "$value" >>"$tmp"
  chmod 644 "$tmp"
  if [[ -f $file ]] && grep -q '^PLATFORM_READY=1' "$file" && [[ $key != PLATFORM_READY ]]; then
    echo 'PLATFORM_READY=1' >>"$tmp"
  fi
  mv -f "$tmp" "$file"
}

load_env() {
  [[ -f $dir/platform.env ]] || return 1
  # shellcheck disable=SC1091
  source "$dir/platform.env"
}

# --- processes ---------------------------------------------------------------------------------

# alive PID: running and not a zombie (PID 1 here reaps orphans slowly; a zombie is gone).
alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# is_toy PID: the pid is (still) one of our toy services, not a recycled pid.
is_toy() {
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'acis-toy-service'
}

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL and wait up to 2 s more.
stop_pid() {
  local pid=$1 i
  is_toy "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do alive "$pid" || return 0; sleep 0.1; done
  echo "platform.sh: warning: pid $pid did not exit" >&2
}

# pid_of NAME: the pid from DIR/NAME.pid if it is a live toy service.
pid_of() {
  local f=$dir/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(head -n1 "$f" 2>/dev/null) || return 1
  is_toy "$pid" || return 1
  echo "$pid"
}

# --- network -----------------------------------------------------------------------------------

# port_in_use PORT: something listens on 127.0.0.1:PORT (or any address).
port_in_use() {
  local p=$1
  if command -v ss >/dev/null 2>&1 && [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then return 0; fi
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# free_port: a port nobody listens on now (the caller still handles losing a race for it).
free_port() {
  local i p
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  return 1
}

# http_status PORT PATH: the HTTP status code of GET PATH, or 000 (no curl needed).
http_status() {
  local port=$1 path=$2
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
    IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
    echo "$code"
  ) 2>/dev/null || echo 000
}

# --- PostgreSQL --------------------------------------------------------------------------------

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

# as_pg CMD...: initdb refuses root, so as root run PostgreSQL's tools as `postgres`.
as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() {
  [[ -n ${PG_DATA:-} && -f $PG_DATA/postmaster.pid ]] || return 1
  alive "$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)"
}

# pg_start PORT: start the cluster in PG_DATA on PORT; fails (without dying) if it cannot.
pg_start() {
  local port=$1
  as_pg "$pg_bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$timeout_s" -o \
    "-p $port -k $PG_SOCKET_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
}

pg_stop() {
  pg_running || return 0
  as_pg "$pg_bin/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  if pg_running; then kill -KILL "$(head -n1 "$PG_DATA/postmaster.pid")" 2>/dev/null || true; fi
}

# --- toy services ------------------------------------------------------------------------------

toy_binary() {
  local b=${ACIS_TOY_SERVICE:-${TOY_SERVICE:-$repo_dir/build/tests/toy/acis-toy-service}}
  [[ -x $b ]] || die "toy service binary not found or not executable: $b (build target acis-toy-service, or set ACIS_TOY_SERVICE)"
  echo "$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"
}

# start_toy NAME PORT ARGS...: start a toy service, wait for its `listening` line, print its port.
start_toy() {
  local name=$1 port=$2 bin pid i line
  shift 2
  bin=$(toy_binary) || return 1
  rm -f "$dir/$name.pid" "$dir/$name.stdout"
  setsid "$bin" --listen "127.0.0.1:$port" --pidfile "$dir/$name.pid" "$@" \
    </dev/null >"$dir/$name.stdout" 2>>"$dir/$name.log" &
  pid=$!
  for ((i = 0; i < timeout_s * 10; i++)); do
    line=$(grep -m1 '^listening ' "$dir/$name.stdout" 2>/dev/null || true)
    if [[ -n $line ]]; then
      echo "${line##*:}"
      return 0
    fi
    alive "$pid" || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "platform.sh: error: $name did not start listening; last lines of $dir/$name.log:" >&2
  tail -n 5 "$dir/$name.log" >&2 || true
  return 1
}

start_api() {
  local port
  port=$(PGPASSWORD=$(cat "$dir/pgpassword") start_toy api "${API_PORT:-0}" --mode api --fail-file "$dir/api.fail" \
    --pg-conninfo "host=127.0.0.1 port=$PGPORT dbname=acis-ai user=postgres") || return 1
  set_env API_PORT "$port"
  set_env API_URL "http://127.0.0.1:$port"
  set_env API_PID "$(cat "$dir/api.pid")"
  API_PORT=$port
}

start_frontend() {
  local port
  port=$(start_toy frontend "${FRONTEND_PORT:-0}" --mode frontend) || return 1
  set_env FRONTEND_PORT "$port"
  set_env FRONTEND_URL "http://127.0.0.1:$port"
  set_env FRONTEND_PID "$(cat "$dir/frontend.pid")"
  FRONTEND_PORT=$port
}

# wait_http NAME PORT PATH: until GET answers 200, bounded.
wait_http() {
  local name=$1 port=$2 path=$3 i code=000
  for ((i = 0; i < timeout_s * 10; i++)); do
    code=$(http_status "$port" "$path")
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  die "$name on 127.0.0.1:$port$path did not answer 200 within ${timeout_s}s (last: $code); see $dir/$name.log"
}

# --- subcommands -------------------------------------------------------------------------------

start_failed() {
  local rc=$?
  ((rc == 0)) && return 0
  echo "platform.sh: start failed; stopping what was started" >&2
  cmd_stop >/dev/null 2>&1 || true
  exit "$rc"
}

cmd_start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if load_env && { pg_running || pid_of api >/dev/null || pid_of frontend >/dev/null; }; then
    die "a platform is already running in $dir; run: $0 stop $dir"
  fi
  rm -f "$dir/platform.env"
  local toy
  toy=$(toy_binary) || exit 1
  [[ -x $pg_bin/initdb ]] || die "PostgreSQL 15 not found in $pg_bin (apt-get install postgresql-15, or set PG_BIN)"
  # Any failure below (die, or set -e) leaves nothing running behind.
  trap start_failed EXIT

  # The cluster must be owned by postgres and reachable through every parent folder; the unix
  # socket path must fit in sun_path (107 bytes). Otherwise use a private folder under /tmp.
  local pg_root pg_temp=0
  pg_root=$dir/pg
  if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then pg_temp=1; fi
  if ((${#pg_root} > 80)); then pg_temp=1; fi
  if ((pg_temp)); then pg_root=$(mktemp -d /tmp/acis-pg.XXXXXX); else rm -rf -- "$pg_root"; fi
  mkdir -p "$pg_root"
  if [[ $EUID -eq 0 ]]; then chown postgres: "$pg_root"; fi
  chmod 700 "$pg_root"
  set_env PG_BIN "$pg_bin"
  set_env PG_ROOT "$pg_root"
  set_env PG_ROOT_IS_TEMP "$pg_temp"
  set_env PG_DATA "$pg_root/data"
  set_env PG_SOCKET_DIR "$pg_root"
  set_env PG_LOG "$pg_root/postgres.log"
  PG_DATA=$pg_root/data PG_SOCKET_DIR=$pg_root PG_LOG=$pg_root/postgres.log
  touch "$PG_LOG"
  if [[ $EUID -eq 0 ]]; then chown postgres: "$PG_LOG"; fi

  local password
  password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
  (umask 077 && printf '%s\n' "$password" >"$dir/pgpassword")
  chmod 600 "$dir/pgpassword"

  as_pg "$pg_bin/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { tail -n 5 "$dir/initdb.log" >&2; die "initdb failed (full log: $dir/initdb.log)"; }

  # A free port may be taken between the check and the bind: try a few.
  local port="" _try
  for _try in 1 2 3 4 5; do
    port=$(free_port) || die "no free TCP port found"
    if pg_start "$port"; then break; fi
    port=""
    grep -q -i 'could not bind\|address already in use' "$PG_LOG" || break
  done
  [[ -n $port ]] || { tail -n 5 "$PG_LOG" >&2; die "PostgreSQL did not start (log: $PG_LOG)"; }
  PGPORT=$port
  set_env PGHOST 127.0.0.1
  set_env PGPORT "$port"
  set_env PGDATABASE acis-ai
  set_env PGUSER postgres
  set_env PGPASSWORD_FILE "$dir/pgpassword"
  set_env PG_CONNINFO "host=127.0.0.1 port=$port dbname=acis-ai user=postgres"
  set_env PG_PID "$(head -n1 "$PG_DATA/postmaster.pid")"

  local psql=("$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$port" -U postgres)
  "${psql[@]}" -d postgres -c "ALTER ROLE postgres PASSWORD '$password'" -c 'CREATE DATABASE "acis-ai"' >/dev/null
  "${psql[@]}" -d acis-ai -c 'CREATE TABLE eod_prices(date date)' \
    -c 'INSERT INTO eod_prices VALUES (current_date)' >/dev/null

  set_env TOY_SERVICE "$toy"
  API_PORT=0 FRONTEND_PORT=0
  start_api
  start_frontend
  set_env API_PIDFILE "$dir/api.pid"
  set_env API_FAIL_FILE "$dir/api.fail"
  set_env FRONTEND_PIDFILE "$dir/frontend.pid"

  "$script_dir/make-models.sh" "$dir/models" >/dev/null
  set_env MODELS_DIR "$dir/models"
  set_env ACIS_PLATFORM_DIR "$dir"

  wait_http api "$API_PORT" /health
  wait_http api "$API_PORT" /api/clients/
  wait_http frontend "$FRONTEND_PORT" /
  set_env PLATFORM_READY 1
  trap - EXIT
  say "started in $dir: postgres 127.0.0.1:$PGPORT, api 127.0.0.1:$API_PORT, frontend 127.0.0.1:$FRONTEND_PORT, models $dir/models"
}

cmd_stop() {
  [[ -d $dir ]] || { say "nothing to stop in $dir"; return 0; }
  load_env || true
  local name pid
  for name in api frontend; do
    if pid=$(pid_of "$name"); then stop_pid "$pid"; fi
  done
  # Also the recorded pids, in case a pidfile was removed while its process lived on.
  for pid in "${API_PID:-}" "${FRONTEND_PID:-}"; do
    [[ -n $pid ]] && stop_pid "$pid"
  done
  rm -f "$dir/api.pid" "$dir/frontend.pid"
  pg_stop
  if [[ ${PG_ROOT_IS_TEMP:-0} == 1 && -n ${PG_ROOT:-} && $PG_ROOT == /tmp/acis-pg.* ]]; then
    rm -rf -- "$PG_ROOT"
  fi
  if [[ -f $dir/platform.env ]]; then sed -i '/^PLATFORM_READY=/d' "$dir/platform.env"; fi
  say "stopped platform in $dir"
}

cmd_status() {
  load_env || die "no platform.env in $dir"
  local pid
  if pg_running; then say "postgres running on 127.0.0.1:$PGPORT"; else say "postgres stopped"; fi
  if pid=$(pid_of api); then
    say "api running (pid $pid) on 127.0.0.1:$API_PORT, /health -> $(http_status "$API_PORT" /health)"
  else say "api stopped"; fi
  if pid=$(pid_of frontend); then
    say "frontend running (pid $pid) on 127.0.0.1:$FRONTEND_PORT, / -> $(http_status "$FRONTEND_PORT" /)"
  else say "frontend stopped"; fi
}

cmd_kill_api() {
  load_env || die "no platform.env in $dir"
  local pid
  if pid=$(pid_of api); then
    kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    say "api killed (pid $pid)"
  else
    say "api was not running"
  fi
  rm -f "$dir/api.pid"
}

cmd_start_api() {
  load_env || die "no platform.env in $dir"
  local pid
  if pid=$(pid_of api); then
    say "api already running (pid $pid) on 127.0.0.1:$API_PORT"
    return 0
  fi
  start_api || die "api did not start on 127.0.0.1:${API_PORT:-?}"
  say "api started (pid $(cat "$dir/api.pid")) on 127.0.0.1:$API_PORT, /health -> $(http_status "$API_PORT" /health)"
}

cmd_stop_db() {
  load_env || die "no platform.env in $dir"
  if pg_running; then
    pg_stop
    say "postgres stopped (immediate)"
  else
    say "postgres was not running"
  fi
}

cmd_start_db() {
  load_env || die "no platform.env in $dir"
  if pg_running; then
    say "postgres already running on 127.0.0.1:$PGPORT"
    return 0
  fi
  pg_start "$PGPORT" || { tail -n 5 "$PG_LOG" >&2; die "PostgreSQL did not start on port $PGPORT (log: $PG_LOG)"; }
  set_env PG_PID "$(head -n1 "$PG_DATA/postmaster.pid")"
  say "postgres started on 127.0.0.1:$PGPORT"
}

[[ $# -eq 2 ]] || usage
sub=$1
dir=$2
[[ -n $dir ]] || usage
if [[ $sub != start ]]; then
  [[ -d $dir ]] || { [[ $sub == stop ]] && { say "nothing to stop in $dir"; exit 0; }; die "no such folder: $dir"; }
  dir=$(cd "$dir" && pwd)
fi

case $sub in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill-api) cmd_kill_api ;;
  start-api) cmd_start_api ;;
  restart-api) cmd_kill_api && cmd_start_api ;;
  stop-db) cmd_stop_db ;;
  start-db) cmd_start_db ;;
  *) usage ;;
esac
