#!/usr/bin/env bash
# Cost as work grows (issue 9): the same report at several platform sizes, from SQLite and
# from the HDF5 snapshot, on 1 and 2 ranks, side by side in one run. Prints per run the
# job's own time (rank 0's summary, mpirun start-up apart), the time per poll read, and
# every rank's peak RSS (GNU time around each rank); per size the disk use of each stage
# (CSV input, SQLite database, snapshot). Reports of both sources and rank counts are
# compared byte for byte.
#
#   bench/scale.sh [SIZES]        default "16000 160000 1000000" stores, 7 days each
#
# Beside them, in the same reps, a report of BENCH_FIXED stores (default 100; 0: none):
# what any report pays whatever its size (opening the source, the status file's updates,
# the CSV's fsync and rename, the collectives), shown apart as mpirun start-up is, and the
# time per poll beyond it ((job - job of the small report) / (polls - its polls)).
#
# Inputs are made once per size in $BENCH_DIR/s<stores>/ (default /tmp/up_bench_scale):
# in/ (uptime_gen --stores N --days 7 --seed 1), u.db (uptime_load), u.h5
# (uptime_snapshot -n 2 --days 7); an existing in/, u.db or u.h5 there (or a symlink to
# one) is reused. 1 M stores is ~8 GB of CSV, a ~6 GB database and a ~1.4 GB snapshot, and
# its load takes minutes: never in CI. BENCH_REPS runs per case (default 3, best by job
# time); BENCH_BUILD (default build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=${BENCH_BUILD:-$root/build}
sizes=${1:-16000 160000 1000000}
fixed=${BENCH_FIXED:-100}
all="$sizes"
[ "$fixed" = 0 ] || all="$fixed $sizes"
dir=${BENCH_DIR:-/tmp/up_bench_scale}
reps=${BENCH_REPS:-3}
days=7
mkdir -p "$dir"

now_s() { date +%s.%N; }
elapsed() { awk -v a="$(now_s)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
timed='exec /usr/bin/time -f "RSS %M" -o "rss.$OMPI_COMM_WORLD_RANK" "$@"'
rss() { awk '/^RSS / { printf "%s%.0f", sep, $2 / 1024; sep = " / " }' "$@"; }
size_of() { du -shL "$1" | cut -f1; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1 2; do
  t=$(now_s)
  mpirun -n "$n" "$B/uptime_report" --help >/dev/null
  echo "mpirun start-up, $n rank(s): $(elapsed "$t") s (MPI_Init + MPI_Finalize, no work)"
done
echo
echo "| stores | stage | wall s | disk |"
echo "|---|---|---|---|"
for s in $all; do
  d=$dir/s$s
  mkdir -p "$d"
  if [ ! -e "$d/in/store_status.csv" ]; then
    t=$(now_s)
    "$B/uptime_gen" --out "$d/in" --stores "$s" --days "$days" --seed 1 -q
    echo "| $s | generate | $(elapsed "$t") | $(size_of "$d/in") CSV |"
  else
    echo "| $s | generate (kept) | - | $(size_of "$d/in") CSV |"
  fi
  if [ ! -e "$d/u.db" ]; then
    t=$(now_s)
    "$B/uptime_load" --db "$d/u.db" --dir "$d/in" --no-rejects -q
    echo "| $s | load SQLite | $(elapsed "$t") | $(size_of "$d/u.db") database |"
  else
    echo "| $s | load SQLite (kept) | - | $(size_of "$d/u.db") database |"
  fi
  if [ ! -e "$d/u.h5" ]; then
    t=$(now_s)
    mpirun -n 2 "$B/uptime_snapshot" --db "$d/u.db" --output "$d/u.h5" --days "$days" --quiet
    echo "| $s | snapshot, 2 ranks | $(elapsed "$t") | $(size_of "$d/u.h5") HDF5 |"
  else
    echo "| $s | snapshot (kept) | - | $(size_of "$d/u.h5") HDF5 |"
  fi
done

echo
echo "| stores | polls read | source | ranks | job s (best of $reps) | ns per poll | ns per poll beyond the $fixed-store report | phases of the best run | peak RSS per rank, MB |"
echo "|---|---|---|---|---|---|---|---|---|"
# Rep by rep, every size, rank count and source once in turn: the machine's speed drifts
# by tens of percent over minutes, and the time per poll compares sizes, so every size
# sees the same stretch of it (size by size, the largest ran minutes after the smallest).
declare -A best=() npolls=() phases=() rsss=()
for s in $all; do rm -rf "$dir/s$s/rep" && mkdir "$dir/s$s/rep"; done
for i in $(seq "$reps"); do
  for s in $all; do
    cd "$dir/s$s"
    for n in 1 2; do
      for src in sqlite hdf5; do
        db=u.db
        [ "$src" = hdf5 ] && db=u.h5
        rm -f rss.*
        mpirun -n "$n" sh -c "$timed" sh "$B/uptime_report" --db "$db" --reports-dir rep \
          --report-id "$src-$n-$i" >sum.txt
        job=$(sed -n 's/.*total \([0-9.]*\) s.*/\1/p' sum.txt)
        polls=$(sed -n 's/.* \([0-9]*\) polls read.*/\1/p' sum.txt)
        k="$s $n $src"
        if [ -z "${best[$k]:-}" ] || awk -v a="$job" -v b="${best[$k]}" 'BEGIN { exit !(a < b) }'; then
          best[$k]=$job
          npolls[$k]=$polls
          phases[$k]=$(sed -n 's/^  time: //p' sum.txt)
          rsss[$k]=$(rss rss.*)
        fi
      done
    done
  done
done
for s in $all; do
  for n in 1 2; do
    for src in sqlite hdf5; do
      k="$s $n $src" f="$fixed $n $src"
      per=$(awk -v j="${best[$k]}" -v p="${npolls[$k]}" 'BEGIN { printf "%.1f", p ? j * 1e9 / p : 0 }')
      beyond=-
      if [ "$fixed" != 0 ] && [ "$s" != "$fixed" ]; then
        beyond=$(awk -v j="${best[$k]}" -v p="${npolls[$k]}" -v j0="${best[$f]}" -v p0="${npolls[$f]}" \
          'BEGIN { printf "%.1f", (p > p0 ? (j - j0) * 1e9 / (p - p0) : 0) }')
      fi
      echo "| $s | ${npolls[$k]} | $src | $n | ${best[$k]} | $per | $beyond | ${phases[$k]} | ${rsss[$k]} |"
    done
  done
  cd "$dir/s$s"
  cmp -s rep/sqlite-1-1.csv rep/hdf5-1-1.csv && cmp -s rep/sqlite-1-1.csv rep/sqlite-2-1.csv &&
    cmp -s rep/sqlite-1-1.csv rep/hdf5-2-1.csv ||
    { echo "reports differ at $s stores" >&2; exit 1; }
  rm -f rss.* sum.txt
done
echo
echo "(at every size the reports from SQLite and the snapshot, on 1 and 2 ranks, are identical)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
