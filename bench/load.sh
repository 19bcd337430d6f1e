#!/usr/bin/env bash
# Load benchmark (issue 10): the rows of bench/README.md's "Loading" table, each best of
# N runs (default 3; the machine is shared), with user+sys CPU seconds beside the wall.
#
#   bench/load.sh                 SQLite rows; PostgreSQL too when BENCH_PG is set
#   BENCH_PG=private bench/load.sh    ... on scripts/pg-server.sh's server
#   BENCH_OLD=/path/to/old/build bench/load.sh    the same rows with an older uptime_load
#                                     beside (before/after in one run)
#   BENCH_BIG=0 bench/load.sh     skip the 160 k-store rows (19 M polls, ~1 GB of CSV)
#   BENCH_SQLITE=0 bench/load.sh  PostgreSQL rows only (with BENCH_PG)
#
# The incremental rows copy a 19 M-poll database (830 MB) before each run and `sync` it:
# otherwise the copy's writeback lands in the load's commit (its fsync of the file), 0.1 s
# and more that no hourly load in operation pays.
#
# Needs a build in build/ (or BENCH_BUILD) and writes into $BENCH_DIR (default
# /tmp/up_bench_load). The 11 k-store rows use the real hours and zones of
# ../shared/data/loop-2023 when present (else generated ones).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${BENCH_BUILD:-$root/build}
OLD=${BENCH_OLD:-}
dir=${BENCH_DIR:-/tmp/up_bench_load}
reps=${BENCH_REPS:-3}
big=${BENCH_BIG:-1}
sq=${BENCH_SQLITE:-1}
pg=${BENCH_PG:-}
real=${BENCH_REAL:-$root/../shared/data/loop-2023}
if [ "$pg" = private ]; then
  "$root/scripts/pg-server.sh" start >&2
  eval "$("$root/scripts/pg-server.sh" env)"
  pg=$UPTIME_TEST_PG
fi
mkdir -p "$dir" && cd "$dir"

# Inputs (kept between runs: generating 19 M polls takes a while).
if [ ! -s r11/store_status.csv ]; then
  "$B/uptime_gen" --out r11 --stores 11116 --seed 1 -q
  if [ -d "$real" ]; then
    rm r11/menu_hours.csv r11/timezones.csv
    cp "$real/menu_hours.csv" "$real/bq-results-timezones.csv" r11/
  fi
fi
if [ "$big" = 1 ] && [ ! -s g160/store_status.csv ]; then
  "$B/uptime_gen" --out g160 --stores 160000 --days 6 --seed 1 -q
fi
if [ "$big" = 1 ] && [ ! -s hour/store_status.csv ]; then
  # One more hour of polls for the same stores: generated up to an hour past the end and
  # cut at the old end.
  "$B/uptime_gen" --out hour-all --stores 160000 --days 1 --seed 9 -q \
    --end '2023-01-25 19:13:22.479220 UTC'
  mkdir -p hour
  awk -F, 'NR == 1 || $3 > "2023-01-25 18:13:22.479220 UTC"' hour-all/store_status.csv \
    >hour/store_status.csv
  rm -rf hour-all
fi
if [ "$big" = 1 ] && [ ! -s hour2/store_status.csv ]; then
  # The hour after that one.
  "$B/uptime_gen" --out hour-all --stores 160000 --days 1 --seed 10 -q \
    --end '2023-01-25 20:13:22.479220 UTC'
  mkdir -p hour2
  awk -F, 'NR == 1 || $3 > "2023-01-25 19:13:22.479220 UTC"' hour-all/store_status.csv \
    >hour2/store_status.csv
  rm -rf hour-all
fi
if [ "$big" = 1 ] && [ ! -s hour-same/store_status.csv ]; then
  # An hour of the same stores (uptime_gen's other seeds draw other ids): one poll per
  # g160 store in the hour after its end, in time order (ids unquoted: some are quoted).
  mkdir -p hour-same
  awk -F, 'NR > 1 { id = $1; gsub(/^[ \t"]+|[ \t"\r]+$/, "", id); if (!seen[id]++) print id }' \
    g160/store_status.csv | LC_ALL=C sort |
    awk 'BEGIN { srand(11); print "store_id,status,timestamp_utc" } { s = int(rand() * 3600);
      us = int(rand() * 1000000); t = 1674670402 + 1 + s; st = rand() < 0.9 ? "active" : "inactive";
      printf "%s,%s,%s.%06d UTC\n", $1, st, strftime("%Y-%m-%d %H:%M:%S", t, 1), us }' |
    (read -r h; echo "$h"; LC_ALL=C sort -t, -k3,3) >hour-same/store_status.csv
fi
rows() { # data rows of the files of a folder (headers excluded)
  local n=0 f
  for f in "$@"; do n=$((n + $(wc -l <"$f") - 1)); done
  echo "$n"
}

# best LABEL ROWS PREPARE -- COMMAND...: runs PREPARE then COMMAND reps times; prints the
# best wall, its CPU time and rows/s.
best() {
  local label=$1 nrows=$2 prep=$3 b=999999 cpu=0 i w u s
  shift 4
  for i in $(seq "$reps"); do
    eval "$prep"
    /usr/bin/time -f '%e %U %S' -o t.txt "$@" >/dev/null
    read -r w u s <t.txt
    if awk -v a="$w" -v b="$b" 'BEGIN { exit !(a < b) }'; then
      b=$w
      cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    fi
  done
  printf '| %s | %s | %.2f | %s | %s |\n' "$label" "$nrows" "$b" "$cpu" \
    "$(awk -v r="$nrows" -v s="$b" 'BEGIN { printf "%.0f", r / s }')"
}

echo "| case | rows | wall s (best of $reps) | CPU s | rows/s |"
echo "|---|---|---|---|---|"
r11=$(rows r11/*.csv)
for v in new ${OLD:+old}; do
  L=$B/uptime_load
  [ "$v" = old ] && L=$OLD/uptime_load
  if [ "$sq" = 1 ]; then
    best "first load, 11 k stores, real hours and zones, SQLite ($v)" "$r11" "rm -f r11.db r11.db-wal r11.db-shm" -- \
      "$L" --db r11.db --dir r11 --no-rejects -q
  fi
  if [ "$sq" = 1 ] && [ "$big" = 1 ]; then
    g160=$(rows g160/*.csv)
    best "first load, 160 k stores, 19 M polls, SQLite ($v)" "$g160" "rm -f g160.db g160.db-wal g160.db-shm" -- \
      "$L" --db g160.db --dir g160 --no-rejects -q
    # The loader leaves an empty -wal and -shm beside a WAL database: the main file alone
    # is the whole database (docs/schema.md), and a copy gets no stale side files.
    rm -f g160-base.db-wal g160-base.db-shm
    cp g160.db g160-base.db
    nh=$(rows hour/store_status.csv)
    if [ "$v" = old ]; then
      # The old loader needs all three files: the hour's polls beside header-only hours
      # and zones files (no rows: the same load of polls alone).
      mkdir -p hour-old
      cp hour/store_status.csv hour-old/
      head -1 g160/menu_hours.csv >hour-old/menu_hours.csv
      head -1 g160/timezones.csv >hour-old/timezones.csv
      best "one more hour into 19 M polls, SQLite ($v: empty hours and zones files)" "$nh" \
        "rm -f inc.db-wal inc.db-shm; cp g160-base.db inc.db; sync" -- "$L" --db inc.db --dir hour-old --no-rejects -q
      mkdir -p hour-same-old
      cp hour-same/store_status.csv hour-old/menu_hours.csv hour-old/timezones.csv hour-same-old/
      best "an hour of the same stores into 19 M polls, SQLite ($v: empty hours and zones files)" \
        "$(rows hour-same/store_status.csv)" "rm -f inc.db-wal inc.db-shm; cp g160-base.db inc.db; sync" -- \
        "$L" --db inc.db --dir hour-same-old --no-rejects -q
    else
      best "one more hour into 19 M polls, SQLite ($v: polls alone)" "$nh" \
        "rm -f inc.db-wal inc.db-shm; cp g160-base.db inc.db; sync" -- "$L" --db inc.db --status hour/store_status.csv --no-rejects -q
      best "an hour of the same stores into 19 M polls, SQLite ($v: polls alone)" \
        "$(rows hour-same/store_status.csv)" "rm -f inc.db-wal inc.db-shm; cp g160-base.db inc.db; sync" -- \
        "$L" --db inc.db --status hour-same/store_status.csv --no-rejects -q
      # The hours after it: the recent table holds the earlier ones (hour 2 of a day).
      cp inc.db inc1.db
      best "a second hour into 19 M polls + 1 recent hour, SQLite ($v: polls alone)" "$(rows hour2/store_status.csv)" \
        "rm -f inc.db-wal inc.db-shm; cp inc1.db inc.db; sync" -- "$L" --db inc.db --status hour2/store_status.csv --no-rejects -q
    fi
  fi
  if [ -n "$pg" ]; then
    case "$pg" in
    *://*\?*) pgs="$pg&options=-csearch_path%3Dup_bench_load" ;;
    *://*) pgs="$pg?options=-csearch_path%3Dup_bench_load" ;;
    *) pgs="$pg options='-csearch_path=up_bench_load'" ;;
    esac
    reset="psql -X -q \"$pg\" -c 'SET client_min_messages = warning; DROP SCHEMA IF EXISTS up_bench_load CASCADE; CREATE SCHEMA up_bench_load'"
    best "first load, 11 k stores, PostgreSQL ($v)" "$r11" "$reset" -- \
      "$L" --db "$pgs" --dir r11 --no-rejects -q
    if [ "$big" = 1 ]; then
      best "first load, 160 k stores, 19 M polls, PostgreSQL ($v)" "$(rows g160/*.csv)" "$reset" -- \
        "$L" --db "$pgs" --dir g160 --no-rejects -q
    fi
  fi
done
