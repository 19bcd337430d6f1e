#!/usr/bin/env bash
# A private PostgreSQL server for the tests and for trying the PostgreSQL backend:
# its own data folder, socket folder and port, so it never meets a system server.
#
#   scripts/pg-server.sh start     initdb on first use, start (idempotent), create uptime_test
#   scripts/pg-server.sh stop      pg_ctl stop -m fast (by the pid in postmaster.pid)
#   scripts/pg-server.sh status    running or not, exit 0 / 3
#   scripts/pg-server.sh restart   stop, then start (to take new UPTIME_PG_SETTINGS)
#   scripts/pg-server.sh env       prints: export UPTIME_TEST_PG='postgresql://...'
#   scripts/pg-server.sh socket-url prints the same database's URL over the Unix socket
#   scripts/pg-server.sh psql ARGS psql as the superuser over the private socket
#
# Settings: UPTIME_PG_DIR (default /tmp/uptime-pg: data/, sock/, server.log),
# UPTIME_PG_PORT (default 55432), UPTIME_PG_BIN (default the newest
# /usr/lib/postgresql/*/bin), UPTIME_PG_SETTINGS (server settings for a start, e.g.
# "shared_buffers=6GB work_mem=64MB": each becomes a -c option; default none, the
# initdb defaults). As root the server runs as the `postgres` user (initdb
# refuses root); as any other user it runs as that user.
#
# Authentication: trust on the socket and on 127.0.0.1, except the role `uptime_pw`,
# which needs a password over TCP (the tests use it to check authentication errors).
set -euo pipefail

dir=$(realpath -m "${UPTIME_PG_DIR:-/tmp/uptime-pg}")
cd / # the server's user may not be allowed into the caller's folder
port=${UPTIME_PG_PORT:-55432}
db=uptime_test
bin=${UPTIME_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -n "$bin" ] && [ -x "$bin/pg_ctl" ] || {
  echo "pg-server: no PostgreSQL server binaries (install postgresql; or set UPTIME_PG_BIN)" >&2
  exit 2
}
data=$dir/data
sock=$dir/sock
log=$dir/server.log

# Runs a server command as the user that owns the cluster.
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || { echo "pg-server: no 'postgres' user to run the server as" >&2; exit 2; }
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

su_psql() { "$bin/psql" -X -q -h "$sock" -p "$port" -U postgres "$@"; }

running() { [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; }

do_init() {
  mkdir -p "$dir"
  install -d -m 0700 -o "$owner" "$data"
  install -d -m 0755 -o "$owner" "$sock"
  [ -f "$data/PG_VERSION" ] && return 0
  # C locale: byte-wise text order by default (the schema also says COLLATE "C").
  as_owner "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C --auth=trust >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; echo "pg-server: initdb failed" >&2; exit 1; }
  as_owner tee "$data/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/pg-server.sh: a private test server.
local all all                      trust
host  all uptime_pw 127.0.0.1/32   scram-sha-256
host  all all       127.0.0.1/32   trust
host  all all       ::1/128        trust
EOF
}

do_start() {
  do_init
  if ! running; then
    touch "$log" && chown "$owner" "$log"
    local extra="" kv
    for kv in ${UPTIME_PG_SETTINGS:-}; do
      case $kv in
      *=*) extra="$extra -c $kv" ;;
      *) echo "pg-server: UPTIME_PG_SETTINGS: '$kv' is not name=value" >&2; exit 2 ;;
      esac
    done
    as_owner "$bin/pg_ctl" start -D "$data" -l "$log" -w -t 60 \
      -o "-k $sock -c listen_addresses=127.0.0.1 -p $port$extra" >/dev/null ||
      { tail -n 20 "$log" >&2; echo "pg-server: start failed (port $port in use?)" >&2; exit 1; }
  fi
  if [ "$(su_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    su_psql -d postgres -c "CREATE DATABASE $db" ||
      su_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1
  fi
  su_psql -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'uptime_pw')
    THEN CREATE ROLE uptime_pw LOGIN PASSWORD 'uptime_pw_secret'; END IF; END \$\$" >/dev/null
  echo "pg-server: running on 127.0.0.1:$port (socket $sock, data $data)"
}

do_stop() {
  if running; then
    as_owner "$bin/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
    echo "pg-server: stopped"
  else
    echo "pg-server: not running"
  fi
}

case "${1:-}" in
start) do_start ;;
stop) do_stop ;;
restart)
  do_stop >/dev/null
  do_start
  ;;
status)
  if running; then echo "pg-server: running on 127.0.0.1:$port"; else echo "pg-server: not running"; exit 3; fi
  ;;
env)
  echo "export UPTIME_TEST_PG='postgresql://postgres@127.0.0.1:$port/$db'"
  ;;
socket-url)
  echo "postgresql://postgres@/$db?host=$sock&port=$port"
  ;;
psql)
  shift
  su_psql "$@"
  ;;
*)
  echo "usage: $0 {start|stop|restart|status|env|socket-url|psql ARGS...}" >&2
  exit 2
  ;;
esac
