# PostgreSQL helpers of the end-to-end tests (sourced after lib.sh; not a test itself).
# Finds the test server (UPTIME_TEST_PG, else starts scripts/pg-server.sh), and gives each
# test a schema of its own, dropped at exit.

# pg_need: sets PG_BASE, or skips the test (exit 0) -- fails instead when CI is set.
pg_need() {
  if [ -z "${UPTIME_TEST_PG:-}" ]; then
    if "$UP_SRC/scripts/pg-server.sh" start >&2; then
      eval "$("$UP_SRC/scripts/pg-server.sh" env)"
    elif [ -n "${CI:-}" ]; then
      fail "no PostgreSQL: UPTIME_TEST_PG unset and scripts/pg-server.sh start failed"
    else
      echo "SKIP: no PostgreSQL server (set UPTIME_TEST_PG)"
      exit 0
    fi
  fi
  PG_BASE=$UPTIME_TEST_PG
}

# pg_url BASE SCHEMA: BASE with search_path set to SCHEMA (URI or key=value form).
pg_url() {
  case "$1" in
  *://*\?*) echo "$1&options=-csearch_path%3D$2" ;;
  *://*) echo "$1?options=-csearch_path%3D$2" ;;
  *) echo "$1 options='-csearch_path=$2'" ;;
  esac
}

# pg_schema NAME: a fresh schema NAME (dropped at exit) in PG_BASE; prints its URL.
PG_SCHEMAS=()
pg_schema() {
  psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1" >/dev/null
  PG_SCHEMAS+=("$1")
  pg_url "$PG_BASE" "$1"
}

# pg_q URL SQL: one query's rows, unaligned.
pg_q() { psql -X -q -tA -v ON_ERROR_STOP=1 "$1" -c "$2"; }

pg_cleanup() {
  local s
  for s in "${PG_SCHEMAS[@]}"; do
    psql -X -q "$PG_BASE" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true
  done
}
trap 'pg_cleanup; rm -rf "$T"' EXIT

# free_port BASE: the first TCP port from BASE up that no socket on this machine uses, in
# any state. Give a BASE below the kernel's ephemeral range (32768-60999 by default): a
# port in it can be taken as the local end of some outgoing connection between this check
# and the server's bind, which then fails ("Address already in use").
free_port() {
  local p=$1
  while awk -v p="$(printf '%04X' "$p")" 'FNR > 1 { split($2, a, ":"); if (a[2] == p) f = 1 }
    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
    p=$((p + 1))
  done
  echo "$p"
}
