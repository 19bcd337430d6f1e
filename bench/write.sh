#!/usr/bin/env bash
# The report's two ways of writing its CSV, side by side: the default gather (every rank
# streams its formatted rows to rank 0, which writes them) and --parallel-write (every
# rank writes its own rows at offsets from an exclusive scan of the byte counts). Same
# inputs as bench/scale.sh (its snapshots, made there first), alternating run for run,
# best of BENCH_REPS by job time; prints the job's time and its "gather and write" and
# "sync" phases, and checks that both CSVs are the same bytes.
#
#   bench/write.sh [SIZES]     default "160000 1000000" stores (bench/scale.sh's inputs)
#
# BENCH_RANKS (default "1 2"), BENCH_REPS (default 3), BENCH_BUILD (default build/),
# BENCH_DIR (default /tmp/up_bench_scale).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=${BENCH_BUILD:-$root/build}
sizes=${1:-160000 1000000}
dir=${BENCH_DIR:-/tmp/up_bench_scale}
reps=${BENCH_REPS:-3}
ranks=${BENCH_RANKS:-1 2}

for s in $sizes; do
  [ -e "$dir/s$s/u.h5" ] || { echo "no $dir/s$s/u.h5: run bench/scale.sh $s first" >&2; exit 2; }
done
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| stores | ranks | write | job s (best of $reps) | gather and write s | sync s | CSV bytes |"
echo "|---|---|---|---|---|---|---|"
for s in $sizes; do
  cd "$dir/s$s"
  rm -rf wrep && mkdir wrep
  for n in $ranks; do
    declare -A best=() phase=()
    for i in $(seq "$reps"); do
      for mode in gather parallel; do
        extra=()
        [ "$mode" = parallel ] && extra=(--parallel-write)
        mpirun -n "$n" "$B/uptime_report" --db u.h5 --reports-dir wrep --report-id "$mode-$n-$i" \
          "${extra[@]}" >sum.txt
        job=$(sed -n 's/.*total \([0-9.]*\) s.*/\1/p' sum.txt)
        if [ -z "${best[$mode]:-}" ] || awk -v a="$job" -v b="${best[$mode]}" 'BEGIN { exit !(a < b) }'; then
          best[$mode]=$job
          phase[$mode]=$(sed -n 's/.*gather and write \([0-9.]*\) s, sync \([0-9.]*\) s.*/\1 | \2/p' sum.txt)
        fi
      done
      cmp -s "wrep/gather-$n-$i.csv" "wrep/parallel-$n-$i.csv" ||
        { echo "the two CSVs differ at $s stores, $n ranks" >&2; exit 1; }
    done
    bytes=$(stat -c %s "wrep/gather-$n-1.csv")
    for mode in gather parallel; do
      echo "| $s | $n | $mode | ${best[$mode]} | ${phase[$mode]} | $bytes |"
    done
    unset best phase
  done
  rm -rf wrep sum.txt
done
echo
echo "(every pair of CSVs identical)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
