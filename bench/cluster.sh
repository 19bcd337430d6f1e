#!/usr/bin/env bash
# Benchmark: the same report on 1 node x 2 ranks (shared memory between the ranks) and on
# 2 nodes x 1 rank (TCP between them, over the bridge of scripts/cluster.sh), side by side,
# with rank 0's time for each phase. Input: uptime_gen --stores 160000 --days 6 --seed 1
# (19.1 M polls, bench/load.sh's g160), read from a SQLite file and from an HDF5 snapshot,
# both on storage both nodes see; with BENCH_PG=1 also from the cluster's PostgreSQL server
# (every rank then reads over TCP in both shapes).
#
#   scripts/cluster.sh start && bench/cluster.sh [STORES] [DAYS]     (default 160000 6)
#
# Best of 3 by wall time per row; wall = the whole srun (step launch and MPI_Init
# included); "srun start-up" rows are srun ... uptime_report --help (MPI_Init + Finalize).
# Needs a build (BENCH_BUILD, default build/). Works in $BENCH_DIR (default
# /tmp/up_bench_cluster; the generated input and databases are kept between runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/mpi-env.sh"
B=${BENCH_BUILD:-$root/build}
stores=${1:-160000}
days=${2:-6}
dir=${BENCH_DIR:-/tmp/up_bench_cluster}
"$root/scripts/cluster.sh" status >/dev/null 2>&1 ||
  { echo "bench/cluster.sh: the cluster is not running (scripts/cluster.sh start)" >&2; exit 1; }
eval "$("$root/scripts/cluster.sh" env)"
export SLURM_CONF OMPI_MCA_btl_tcp_if_include
mkdir -p "$dir" && cd "$dir"

now_s() { date +%s.%N; }
elapsed() { awk -v a="$(now_s)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

tag=s${stores}d${days}
if [ ! -s "$tag.db" ]; then
  rm -rf "in-$tag"
  "$B/uptime_gen" --out "in-$tag" --stores "$stores" --days "$days" --seed 1 -q
  "$B/uptime_load" --db "$tag.db.tmp" --dir "in-$tag" --no-rejects -q
  mv "$tag.db.tmp" "$tag.db"
fi
polls=$(sqlite3 "$tag.db" 'SELECT COUNT(*) FROM store_status')
if [ ! -s "$tag.h5" ]; then
  OMPI_MCA_btl=tcp,self,vader srun --mpi=pmix -N 2 -n 2 "$B/uptime_snapshot" --db "$tag.db" \
    --output "$tag.h5" --quiet
fi
sources=("sqlite:$dir/$tag.db" "hdf5:$dir/$tag.h5")
if [ "${BENCH_PG:-0}" = 1 ]; then
  pgu="$UPTIME_CLUSTER_PG?options=-csearch_path%3Dup_bench_cluster"
  psql -X -q "$UPTIME_CLUSTER_PG" -c "DROP SCHEMA IF EXISTS up_bench_cluster CASCADE; CREATE SCHEMA up_bench_cluster" >/dev/null
  "$B/uptime_load" --db "$pgu" --dir "in-$tag" --no-rejects -q
  sources+=("$pgu")
fi

# shape NAME: srun's placement options and the btl for it.
shape_args() {
  case $1 in
    1x2) echo "-N 1 -n 2 -w node1" ;;
    2x1) echo "-N 2 -n 2 --ntasks-per-node=1" ;;
  esac
}
shape_btl() { [ "$1" = 1x2 ] && echo self,vader || echo tcp,self,vader; }

echo "input: $stores stores x $days days, $polls polls ($dir/$tag.db, $dir/$tag.h5)"
echo
echo "| shape | source | wall s | metadata | scatter | reads | compute | gather | write | job |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for shape in 1x2 2x1; do
  best=999
  for _ in 1 2 3; do
    t=$(now_s)
    # shellcheck disable=SC2046 # srun's options, one per word
    OMPI_MCA_btl=$(shape_btl $shape) srun --mpi=pmix $(shape_args $shape) "$B/uptime_report" --help >/dev/null
    s=$(elapsed "$t")
    best=$(awk -v a="$s" -v b="$best" 'BEGIN { print (a < b ? a : b) }')
  done
  printf '| %s | srun start-up (MPI_Init+Finalize) | %.2f | | | | | | | |\n' "$shape" "$best"
done
for src in "${sources[@]}"; do
  name=${src%%:*}
  [ "$name" = postgresql ] && name="postgresql (TCP)"
  for shape in 1x2 2x1; do
    bestw=999 bestline=""
    for i in 1 2 3; do
      t=$(now_s)
      # shellcheck disable=SC2046
      rc=0
      out=$(UPTIME_DB=$src OMPI_MCA_btl=$(shape_btl $shape) srun --mpi=pmix $(shape_args $shape) \
        --kill-on-bad-exit=1 "$B/uptime_report" --reports-dir rep --report-id "b-${src%%:*}-$shape-$i" 2>&1) || rc=$?
      if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" >&2
        echo "bench/cluster.sh: $shape $name run $i failed with exit $rc" >&2
        exit 1
      fi
      w=$(elapsed "$t")
      line=$(grep 'time:' <<<"$out")
      if awk -v a="$w" -v b="$bestw" 'BEGIN { exit !(a < b) }'; then
        bestw=$w bestline=$line
      fi
    done
    cmp -s "rep/b-${src%%:*}-$shape-1.csv" "rep/b-${src%%:*}-1x2-1.csv" || { echo "reports differ: $shape $name" >&2; exit 1; }
    cp "rep/b-${src%%:*}-$shape-1.csv" "rep/$shape-${name%% *}.csv"
    # "time: metadata 0.6 s, scatter 0.2 s, ... total 8.2 s" -> the numbers
    nums=$(sed 's/.*time: //; s/[a-z]* \([0-9.]*\) s,\{0,1\}/\1 |/g' <<<"$bestline")
    printf '| %s | %s | %.2f | %s\n' "$shape" "$name" "$bestw" "$nums"
  done
done
ref=$(ls rep/1x2-*.csv | head -1)
for f in rep/[12]x*.csv; do
  cmp -s "$ref" "$f" || { echo "reports differ: $ref $f" >&2; exit 1; }
done
echo
echo "every report identical ($(ls rep/[12]x*.csv | wc -l) files)"
