#!/usr/bin/env bash
# PostgreSQL beside SQLite (issue 14): the same data in both, reports on 1 and 2 ranks
# alternating between the backends, best of N (default 3: the machine is shared), with
# rank 0's phases; mpirun start-up measured on its own; the server's share measured
# alone (each report query's server execution, EXPLAIN ANALYZE with TIMING OFF); the
# reports compared byte for byte.
#
#   BENCH_PG=private bench/postgres.sh           scripts/pg-server.sh's server, restarted
#       with shared_buffers = RAM/4 and reached over its socket (see below)
#   BENCH_PG=postgresql://user@host/db bench/postgres.sh
#   BENCH_SIZES="r11 g160 g1m" ...               sizes: r11 = 11 k stores, 1.77 M polls
#       (real hours and zones of ../shared/data/loop-2023 when present), g160 = 160 k
#       stores x 6 days (19.1 M polls), g1m = 1 M stores x 6 days (~120 M polls, ~7 GB of
#       CSV and long loads: never in CI), g1m1 = 1 M stores x 1 day (~20 M polls: the
#       metadata of 1 M stores at the size of g160's polls). Default "r11 g160".
#   BENCH_IN_<size>=DIR, BENCH_DB_<size>=FILE: inputs already generated elsewhere (e.g.
#       BENCH_IN_g1m=/tmp/up_bench_1m/in) and the SQLite database already loaded from them.
#   BENCH_RANKS="1 2", BENCH_REPS=3, BENCH_BUILD (default build/), BENCH_DIR (default
#   /tmp/up_bench_pg; inputs and databases are kept between runs, BENCH_RELOAD=1 redoes
#   the loads). PostgreSQL tables go to the schema up_bench_<size> (replaced on load).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=${BENCH_BUILD:-$root/build}
dir=${BENCH_DIR:-/tmp/up_bench_pg}
reps=${BENCH_REPS:-3}
sizes=${BENCH_SIZES:-r11 g160}
ranks=${BENCH_RANKS:-1 2}
reload=${BENCH_RELOAD:-0}
real=${BENCH_REAL:-$root/../shared/data/loop-2023}
pg=${BENCH_PG:-}
if [ "$pg" = private ]; then
  # Set up as the PostgreSQL documentation suggests for a server of its own
  # (shared_buffers a quarter of the memory; initdb's 128 MB default holds none of the
  # 160 k-store index, so every page is copied in from the OS cache on every report),
  # and reached over its Unix socket, as a client on the server's host is.
  # BENCH_PG_SETTINGS adds settings; BENCH_PG_TCP=1 connects over 127.0.0.1 instead.
  sb=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 4 / 1024))MB
  UPTIME_PG_SETTINGS="shared_buffers=$sb ${BENCH_PG_SETTINGS:-}" "$root/scripts/pg-server.sh" restart >&2
  if [ "${BENCH_PG_TCP:-0}" = 1 ]; then
    eval "$("$root/scripts/pg-server.sh" env)"
    pg=$UPTIME_TEST_PG
  else
    pg=$("$root/scripts/pg-server.sh" socket-url)
  fi
  echo "private server: shared_buffers=$sb ${BENCH_PG_SETTINGS:-}, $pg" >&2
fi
[ -n "$pg" ] || { echo "set BENCH_PG (private or a URL)" >&2; exit 2; }
mkdir -p "$dir" && cd "$dir"
# A report id is claimed once per reports folder: a fresh folder for each run.
rm -rf rep

now_s() { date +%s.%N; }
elapsed() { awk -v a="$(now_s)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
pg_url() {
  case "$1" in
  *://*\?*) echo "$1&options=-csearch_path%3D$2" ;;
  *://*) echo "$1?options=-csearch_path%3D$2" ;;
  *) echo "$1 options='-csearch_path=$2'" ;;
  esac
}

gen() { # gen SIZE: the input folder SIZE/
  [ -s "$1/store_status.csv" ] && return
  case $1 in
  r11)
    "$B/uptime_gen" --out r11 --stores 11116 --seed 1 -q
    if [ -d "$real" ]; then
      rm r11/menu_hours.csv r11/timezones.csv
      cp "$real/menu_hours.csv" "$real/bq-results-timezones.csv" r11/
    fi
    ;;
  g160) "$B/uptime_gen" --out g160 --stores 160000 --days 6 --seed 1 -q ;;
  g1m) "$B/uptime_gen" --out g1m --stores 1000000 --days 6 --seed 1 -q ;;
  g1m1) "$B/uptime_gen" --out g1m1 --stores 1000000 --days 1 --seed 1 -q ;;
  *) echo "unknown size $1" >&2; exit 2 ;;
  esac
}

echo "| step | size | backend | ranks | wall s | detail |"
echo "|---|---|---|---|---|---|"
for n in $ranks; do
  best=999
  for i in $(seq "$reps"); do
    t=$(now_s)
    mpirun -n "$n" "$B/uptime_report" --help >/dev/null
    best=$(min "$(elapsed "$t")" "$best")
  done
  printf '| mpirun start-up | - | - | %d | %.2f | MPI_Init + MPI_Finalize only, best of %d |\n' \
    "$n" "$best" "$reps"
done

for size in $sizes; do
  v=BENCH_IN_$size
  in=${!v:-$size}
  v=BENCH_DB_$size
  sq=${!v:-$size.db}
  [ "$in" = "$size" ] && gen "$size"
  polls=$(($(wc -l <"$in/store_status.csv") - 1))
  pgs=$(pg_url "$pg" "up_bench_$size")
  if [ "$reload" = 1 ] || [ ! -s "$sq" ]; then
    rm -f "$sq"
    t=$(now_s)
    "$B/uptime_load" --db "$sq" --dir "$in" --no-rejects -q
    printf '| load | %s | SQLite | - | %.2f | %d polls |\n' "$size" "$(elapsed "$t")" "$polls"
  fi
  if [ "$reload" = 1 ] ||
    [ "$(psql -X -qtA "$pg" -c "SELECT to_regclass('up_bench_$size.store_summary') IS NULL")" = t ]; then
    psql -X -q -v ON_ERROR_STOP=1 "$pg" -c "SET client_min_messages = warning;
      DROP SCHEMA IF EXISTS up_bench_$size CASCADE; CREATE SCHEMA up_bench_$size"
    t=$(now_s)
    "$B/uptime_load" --db "$pgs" --dir "$in" --no-rejects -q
    printf '| load | %s | PostgreSQL | - | %.2f | %d polls |\n' "$size" "$(elapsed "$t")" "$polls"
  fi

  # One untimed report from each, so that both start warm (the OS cache for SQLite, the
  # server's shared buffers, just restarted, for PostgreSQL).
  for db in "$sq" "$pgs"; do
    mpirun -n 1 "$B/uptime_report" --db "$db" --reports-dir rep --report-id "$size-warm-$RANDOM$RANDOM" >/dev/null
  done
  # Reports: SQLite and PostgreSQL alternate, so both see the same machine load.
  for n in $ranks; do
    declare -A bw=() bd=()
    for i in $(seq "$reps"); do
      for be in sqlite postgresql; do
        db=$sq
        [ $be = postgresql ] && db=$pgs
        t=$(now_s)
        mpirun -n "$n" "$B/uptime_report" --db "$db" --reports-dir rep \
          --report-id "$size-$be-$n-$i" >sum.txt
        w=$(elapsed "$t")
        if awk -v a="$w" -v b="${bw[$be]:-999}" 'BEGIN { exit !(a < b) }'; then
          bw[$be]=$w
          bd[$be]=$(sed -n 's/^  time: //p' sum.txt)
        fi
      done
    done
    for be in sqlite postgresql; do
      printf '| report | %s | %s | %d | %.2f | %s |\n' "$size" "$be" "$n" "${bw[$be]}" "${bd[$be]}"
    done
    printf '| ratio | %s | PostgreSQL / SQLite | %d | %.2f | wall over wall |\n' "$size" "$n" \
      "$(awk -v a="${bw[postgresql]}" -v b="${bw[sqlite]}" 'BEGIN { print a / b }')"
    cmp "rep/$size-sqlite-$n-1.csv" "rep/$size-postgresql-$n-1.csv"
  done
  n1=${ranks%% *}
  for n in $ranks; do cmp "rep/$size-postgresql-$n1-1.csv" "rep/$size-postgresql-$n-1.csv"; done

  # The server alone: each query of a report, executed without sending its rows (no
  # transfer, no rank work). The polls query is the one-rank one (every store).
  now=$(psql -X -qtA "$pgs" -c "SELECT max(last_ts) FROM store_summary")
  lo=$((now - 604800000000))
  lob=$((lo >> 36)) nowb=$((now >> 36))
  start=$((lob << 36))
  range=$(psql -X -qtA "$pgs" -c "SELECT quote_literal(min(store_id COLLATE \"C\")) || ' AND s.store_id <= '
    || quote_literal(max(store_id COLLATE \"C\")) FROM store_summary")
  # polls: the query of a database with status_pack (every one this loader made);
  # polls_status: the one without it, from store_status.
  declare -A q=(
    [stores]="SELECT npolls, store_id FROM store_summary WHERE first_ts <= $now ORDER BY store_id COLLATE \"C\""
    [hours]="SELECT hours, store_id FROM store_meta WHERE hours IS NOT NULL ORDER BY store_id COLLATE \"C\""
    [zones]="SELECT timezone_str, store_id FROM store_meta WHERE timezone_str IS NOT NULL ORDER BY store_id COLLATE \"C\""
    [polls]="SELECT NULL::bytea, NULL::bytea[], NULL::text FROM status_pack_state WHERE NOT current UNION ALL (SELECT CASE WHEN s.first_ts < $start THEN (SELECT c.polls FROM status_pack c WHERE c.store_id = s.store_id AND c.bucket < $lob ORDER BY c.bucket DESC LIMIT 1) END, CASE WHEN s.last_ts >= $start THEN ARRAY(SELECT w.polls FROM status_pack w WHERE w.store_id = s.store_id AND w.bucket >= $lob AND w.bucket <= $nowb ORDER BY w.bucket) END, s.store_id FROM store_summary s WHERE (SELECT bool_and(current) FROM status_pack_state) AND s.store_id >= $range AND s.first_ts <= $now ORDER BY s.store_id COLLATE \"C\")"
    [polls_status]="SELECT CASE WHEN s.first_ts < $lo THEN (SELECT c.ts_utc * 2 + c.active::int FROM store_status c WHERE c.store_id = s.store_id AND c.ts_utc < $lo ORDER BY c.ts_utc DESC LIMIT 1) END, CASE WHEN s.last_ts < $lo THEN NULL WHEN s.first_ts >= $lo AND s.last_ts <= $now THEN ARRAY(SELECT w.ts_utc * 2 + w.active::int FROM store_status w WHERE w.store_id = s.store_id ORDER BY w.ts_utc) WHEN s.last_ts <= $now THEN ARRAY(SELECT w.ts_utc * 2 + w.active::int FROM store_status w WHERE w.store_id = s.store_id AND w.ts_utc >= $lo ORDER BY w.ts_utc) ELSE ARRAY(SELECT w.ts_utc * 2 + w.active::int FROM store_status w WHERE w.store_id = s.store_id AND w.ts_utc >= $lo AND w.ts_utc <= $now ORDER BY w.ts_utc) END, s.store_id FROM store_summary s WHERE s.store_id >= $range AND s.first_ts <= $now ORDER BY s.store_id COLLATE \"C\""
  )
  for k in stores hours zones polls polls_status; do
    best=999999
    for i in $(seq "$reps"); do
      ms=$(psql -X -qtA "$pgs" -c "SET jit = off" -c "EXPLAIN (ANALYZE, TIMING OFF) ${q[$k]}" |
        sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p')
      best=$(min "$ms" "$best")
    done
    printf '| server alone | %s | PostgreSQL | - | %.2f | %s query: server execution only (EXPLAIN ANALYZE, TIMING OFF), best of %d |\n' \
      "$size" "$(awk -v m="$best" 'BEGIN { print m / 1000 }')" "$k" "$reps"
  done
done
echo "(SQLite and PostgreSQL reports identical at every rank count)"
