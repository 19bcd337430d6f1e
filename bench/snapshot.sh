#!/usr/bin/env bash
# Benchmark of the HDF5 snapshot beside SQLite, in one run: generate, load into SQLite,
# write the snapshot on 1 and 2 ranks, then the report from SQLite and from the snapshot
# on 1 and 2 ranks (3 runs each). Prints the job's own time (rank 0's summary, without
# mpirun start-up, which is measured apart), every rank's peak RSS (GNU time around each
# rank), and the disk use of each stage. Reports of every source and rank count are
# compared byte for byte at the end.
#
#   bench/snapshot.sh [STORES] [DAYS]   (default 160000 stores x 6 days ~ 19 M polls)
#
# Needs a build in build/ (scripts/build.sh; or BENCH_BUILD) with HDF5. Writes into
# $BENCH_DIR (default /tmp/up_bench_snapshot); keep it out of CI (minutes, GBs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=${BENCH_BUILD:-$root/build}
stores=${1:-160000}
days=${2:-6}
dir=${BENCH_DIR:-/tmp/up_bench_snapshot}
# BENCH_REUSE=1 keeps $dir's generated data and database from an earlier run (the
# snapshot is written again); BENCH_OLD=<build> puts an older build's report from the
# same snapshot beside, run for run.
reuse=${BENCH_REUSE:-0}
old=${BENCH_OLD:-}
if [ "$reuse" = 1 ] && [ -f "$dir/u.db" ]; then
  cd "$dir" && rm -rf rep u.h5 rss.*
else
  reuse=0
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
fi

now_s() { date +%s.%N; }
elapsed() { awk -v a="$(now_s)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
# Each rank under GNU time, its peak RSS into rss.<rank>.
timed='exec /usr/bin/time -f "RSS %M" -o "rss.$OMPI_COMM_WORLD_RANK" "$@"'
# rss FILE...: the peak RSS of each rank, in MB, from GNU time's %M (KB) lines.
rss() { awk '/^RSS / { printf "%s%.0f", sep, $2 / 1024; sep = " / " }' "$@"; }

echo "| step | ranks | wall s | detail |"
echo "|---|---|---|---|"
if [ "$reuse" = 0 ]; then
  t=$(now_s)
  "$B/uptime_gen" --out in --stores "$stores" --days "$days" --seed 1 --ids mixed 2>/dev/null
  gen_s=$(elapsed "$t")
  polls=$(($(wc -l <in/store_status.csv) - 1))
  printf '| generate | - | %.2f | %s stores x %s days, %d polls; CSVs %s |\n' "$gen_s" "$stores" "$days" "$polls" "$(du -sh in | cut -f1)"
fi
for n in 1 2; do
  t=$(now_s)
  mpirun -n "$n" "$B/uptime_report" --help >/dev/null
  printf '| mpirun start-up | %d | %.2f | MPI_Init + MPI_Finalize, no work |\n' "$n" "$(elapsed "$t")"
done
if [ "$reuse" = 0 ]; then
  t=$(now_s)
  "$B/uptime_load" --db u.db --dir in --no-rejects -q
  printf '| load SQLite | - | %.2f | %d polls; database %s |\n' "$(elapsed "$t")" "$polls" "$(du -sh u.db | cut -f1)"
fi
# The machine's yardstick: one core scanning every poll out of SQLite (the sqlite3
# shell, no uptime code), best of 3. Figures from machines (or hours) where this differs
# compare by it.
if command -v sqlite3 >/dev/null; then
  best=
  for i in 1 2 3; do
    t=$(now_s)
    sqlite3 u.db "SELECT count(*), sum(ts_utc % 1000), sum(active) FROM store_status" >/dev/null
    s=$(elapsed "$t")
    best=$(awk -v a="$s" -v b="${best:-$s}" 'BEGIN { print (a < b ? a : b) }')
  done
  printf '| bare SQLite scan of every poll | 1 (sqlite3 shell) | %.2f | best of 3: the machine yardstick |\n' "$best"
fi

for n in 1 2; do
  for i in 1 2 3; do
    rm -f u.h5
    t=$(now_s)
    mpirun -n "$n" sh -c "$timed" sh \
      "$B/uptime_snapshot" --db u.db --output u.h5 --days 7 >sum.txt
    s=$(elapsed "$t")
    printf '| snapshot run %d | %d | %.2f | %s; peak RSS per rank %s MB; file %s |\n' "$i" "$n" "$s" \
      "$(sed -n 's/^  time: //p' sum.txt)" "$(rss rss.*)" "$(du -sh u.h5 | cut -f1)"
    rm -f rss.*
  done
done

# report NAME DB N I: one report run, its job time, phases and each rank's peak RSS.
report() {
  local name=$1 db=$2 n=$3 i=$4 t s
  t=$(now_s)
  mpirun -n "$n" sh -c "$timed" sh \
    "$B/uptime_report" --db "$db" --reports-dir rep --report-id "$name-$n-$i" >sum.txt
  s=$(elapsed "$t")
  printf '| report %s run %d | %d | %.2f | %s; peak RSS per rank %s MB |\n' "$name" "$i" "$n" "$s" \
    "$(sed -n 's/^  time: //p' sum.txt)" "$(rss rss.*)"
  rm -f rss.*
}
for n in 1 2; do
  for i in 1 2 3; do report sqlite u.db "$n" "$i"; done
  for i in 1 2 3; do
    report hdf5 u.h5 "$n" "$i"
    if [ -n "$old" ]; then B=$old report hdf5-old u.h5 "$n" "$i"; fi
  done
done
cmp rep/sqlite-1-1.csv rep/hdf5-1-1.csv
cmp rep/sqlite-1-1.csv rep/hdf5-2-1.csv
cmp rep/sqlite-1-1.csv rep/sqlite-2-1.csv
echo "(reports from SQLite and the snapshot, on 1 and 2 ranks, are identical)"
