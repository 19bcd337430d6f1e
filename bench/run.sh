#!/usr/bin/env bash
# Benchmark: generate ~2 million polls, load them into SQLite (and PostgreSQL when a URL
# is given), and run the report on 1, 2 and 4 ranks against each. Prints one table row
# per measurement, with mpirun start-up measured on its own (mpirun -n N uptime_report
# --help: MPI_Init and MPI_Finalize, no work) so it is not mistaken for work.
#
#   bench/run.sh [STORES] [DAYS]      (default 14000 stores x 6 days ~ 2.0M polls)
#   BENCH_PG=postgresql://... bench/run.sh      also PostgreSQL (its tables are replaced)
#   BENCH_PG=private bench/run.sh               ... on scripts/pg-server.sh's server
#
# Needs a build in build/ (scripts/build.sh; or BENCH_BUILD). Writes into $BENCH_DIR
# (default /tmp/up_bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=${BENCH_BUILD:-$root/build}
stores=${1:-14000}
days=${2:-6}
dir=${BENCH_DIR:-/tmp/up_bench}
pg=${BENCH_PG:-}
if [ "$pg" = private ]; then
  "$root/scripts/pg-server.sh" start >&2
  eval "$("$root/scripts/pg-server.sh" env)"
  pg=$UPTIME_TEST_PG
fi
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"

now_s() { date +%s.%N; }
elapsed() { awk -v a="$(now_s)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

t=$(now_s)
"$B/uptime_gen" --out in --stores "$stores" --days "$days" --seed 1 --ids mixed 2>/dev/null
gen_s=$(elapsed "$t")
polls=$(($(wc -l <in/store_status.csv) - 1))
hours=$(($(wc -l <in/menu_hours.csv) - 1))
echo "| step | backend | ranks | wall s | detail |"
echo "|---|---|---|---|---|"
printf '| generate | - | - | %.2f | %d polls, %d hours rows, %d stores |\n' "$gen_s" "$polls" "$hours" "$stores"

for n in 1 2 4; do
  best_start=999
  for i in 1 2 3; do
    t=$(now_s)
    mpirun -n "$n" "$B/uptime_report" --help >/dev/null
    s=$(elapsed "$t")
    best_start=$(awk -v a="$s" -v b="$best_start" 'BEGIN { print (a < b ? a : b) }')
  done
  printf '| mpirun start-up (MPI_Init+Finalize) | - | %d | %.2f | best of 3 |\n' "$n" "$best_start"
done

# bench_backend NAME DB: a load into an empty database, then 3 reports per rank count.
bench_backend() {
  local name=$1 db=$2 t s n i phases
  t=$(now_s)
  "$B/uptime_load" --db "$db" --dir in --no-rejects -q
  s=$(elapsed "$t")
  printf '| load | %s | - | %.2f | %s rows/s (all three files, one transaction) |\n' "$name" "$s" \
    "$(awk -v r=$((polls + hours + stores)) -v s="$s" 'BEGIN { printf "%.0f", r / s }')"
  for n in 1 2 4; do
    for i in 1 2 3; do
      t=$(now_s)
      mpirun -n "$n" "$B/uptime_report" --db "$db" --reports-dir rep --report-id "$name-$n-$i" >sum.txt
      s=$(elapsed "$t")
      phases=$(sed -n 's/^  time: //p' sum.txt)
      printf '| report run %d | %s | %d | %.2f | %s |\n' "$i" "$name" "$n" "$s" "$phases"
    done
  done
  cmp "rep/$name-1-1.csv" "rep/$name-4-1.csv"
}

bench_backend sqlite u.db
if [ -n "$pg" ]; then
  # An empty schema of our own, so the load is a first load like SQLite's.
  psql -X -q -v ON_ERROR_STOP=1 "$pg" -c "SET client_min_messages = warning;
    DROP SCHEMA IF EXISTS up_bench CASCADE; CREATE SCHEMA up_bench"
  case "$pg" in
  *://*\?*) pgs="$pg&options=-csearch_path%3Dup_bench" ;;
  *://*) pgs="$pg?options=-csearch_path%3Dup_bench" ;;
  *) pgs="$pg options='-csearch_path=up_bench'" ;;
  esac
  bench_backend postgresql "$pgs"
  cmp rep/sqlite-1-1.csv rep/postgresql-1-1.csv && echo "(SQLite and PostgreSQL reports are identical)"
fi
echo "(reports on 1 and 4 ranks are identical)"
