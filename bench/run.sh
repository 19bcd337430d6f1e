#!/usr/bin/env bash
# Benchmark: generate ~2 million polls, load them into SQLite, and run the report on
# 1, 2 and 4 ranks. Prints one table row per measurement, with mpirun start-up measured
# on its own (mpirun -n N uptime_report --help: MPI_Init and MPI_Finalize, no work) so it is not mistaken for work.
#
#   bench/run.sh [STORES] [DAYS]      (default 14000 stores x 6 days ~ 2.0M polls)
#
# Needs a build in build/ (scripts/build.sh). Writes into $BENCH_DIR (default /tmp/up_bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=$root/build
stores=${1:-14000}
days=${2:-6}
dir=${BENCH_DIR:-/tmp/up_bench}
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"

now_s() { date +%s.%N; }
elapsed() { awk -v a="$(now_s)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

t=$(now_s)
"$B/uptime_gen" --out in --stores "$stores" --days "$days" --seed 1 --ids mixed 2>/dev/null
gen_s=$(elapsed "$t")
polls=$(($(wc -l <in/store_status.csv) - 1))
hours=$(($(wc -l <in/menu_hours.csv) - 1))
echo "| step | ranks | wall s | detail |"
echo "|---|---|---|---|"
printf '| generate | - | %.2f | %d polls, %d hours rows, %d stores |\n' "$gen_s" "$polls" "$hours" "$stores"

t=$(now_s)
"$B/uptime_load" --db u.db --dir in --no-rejects -q
load_s=$(elapsed "$t")
printf '| load (SQLite) | - | %.2f | %s rows/s (all three files) |\n' "$load_s" \
  "$(awk -v r=$((polls + hours + stores)) -v s="$load_s" 'BEGIN { printf "%.0f", r / s }')"

for n in 1 2 4; do
  best_start=999
  for i in 1 2 3; do
    t=$(now_s)
    mpirun -n "$n" "$B/uptime_report" --help >/dev/null
    s=$(elapsed "$t")
    best_start=$(awk -v a="$s" -v b="$best_start" 'BEGIN { print (a < b ? a : b) }')
  done
  printf '| mpirun start-up (MPI_Init+Finalize) | %d | %.2f | best of 3 |\n' "$n" "$best_start"
  for i in 1 2 3; do
    t=$(now_s)
    mpirun -n "$n" "$B/uptime_report" --db u.db --reports-dir rep --report-id "b$n-$i" >sum.txt
    s=$(elapsed "$t")
    phases=$(sed -n 's/^  time: //p' sum.txt)
    printf '| report run %d | %d | %.2f | %s |\n' "$i" "$n" "$s" "$phases"
  done
done
cmp rep/b1-1.csv rep/b4-1.csv && echo "(reports on 1 and 4 ranks are identical)"
