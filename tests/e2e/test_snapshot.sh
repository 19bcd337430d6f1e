#!/usr/bin/env bash
# The HDF5 snapshot: written with parallel HDF5 at 1-3 ranks, read back by the read-only
# backend at 1-4 ranks, the report byte-identical to the SQLite (and PostgreSQL) report of
# the same data and now; a now outside what it holds, a read-only target, a missing or
# foreign file, and a failed or killed snapshot all end clearly.
. "$(dirname "$0")/lib.sh"
SNAP=$UP_BUILD/uptime_snapshot
[ -x "$SNAP" ] || { echo "SKIP: built without HDF5 (UPTIME_WITH_HDF5=OFF)"; exit 0; }
G=$UP_SRC/tests/data/golden

# run_snap N ARGS...: the writer on N ranks, bounded in time.
run_snap() {
  local n=$1
  shift
  timeout 300 "$MPIEXEC" -n "$n" "$SNAP" --quiet "$@"
}

# ---- the golden data: the hand-computed report, from snapshots written at 1-3 ranks ----
"$LOAD" --db g.db --dir "$G" --no-rejects -q
for w in 1 2 3; do
  run_snap "$w" --db g.db --output "g$w.h5"
  for n in 1 2 3 4; do
    run_report "$n" --db "g$w.h5" --reports-dir rep --report-id "g$w-$n"
    same_files "$G/expected.csv" "rep/g$w-$n.csv" "golden report from a snapshot written on $w ranks, read on $n"
  done
done
run_report 2 --db "hdf5:$T/g2.h5" --reports-dir rep --report-id prefixed
same_files "$G/expected.csv" rep/prefixed.csv "the hdf5: prefix names the same snapshot"
[ "$(stat -c %a g1.h5)" = "$(printf '%o' $((0644 & ~$(umask))))" ] ||
  fail "snapshot mode $(stat -c %a g1.h5) is not 0644 less the umask"
pass "the snapshot's mode follows the umask"
! ls .g1.h5* g1.h5.tmp.* >/dev/null 2>&1 || fail "a temporary file was left beside the snapshot"

# ---- generated data with DST weeks and mixed ids: SQLite and HDF5 agree byte for byte ----
"$GEN" --out in --stores 300 --days 10 --seed 21 --ids mixed --bad 0.01 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects -q
run_report 1 --db u.db --reports-dir rep --report-id sqlite
run_snap 2 --db u.db --output u.h5 --days 9
for n in 1 2 3 4; do
  run_report "$n" --db u.h5 --reports-dir rep --report-id "h$n"
  same_files rep/sqlite.csv "rep/h$n.csv" "generated data: HDF5 report on $n ranks equals SQLite's"
done
# The same datasets whatever the number of writing ranks (root attributes name the source
# and the time of writing, so the groups are compared).
same_h5() {
  local g
  for g in /stores /polls /hours /zones; do
    h5diff -q "$1" "$2" "$g" "$g" || { h5diff -r "$1" "$2" "$g" "$g" | head -20 >&2; fail "$3 ($g differs)"; }
  done
  pass "$3"
}
run_snap 1 --db u.db --output u1.h5 --days 9
run_snap 3 --db u.db --output u3.h5 --days 9
same_h5 u1.h5 u.h5 "snapshots written on 1 and 2 ranks hold the same datasets (h5diff)"
same_h5 u3.h5 u.h5 "snapshots written on 3 and 2 ranks hold the same datasets (h5diff)"
# A report as of a day before the snapshot's now is inside what a 9-day snapshot holds.
now=$(h5dump -a /max_ts_us u.h5 | awk '/\(0\)/ { print $2 }')
earlier=$(python3 -c "import datetime,sys; t=datetime.datetime.fromtimestamp(($now - 86400*10**6 - 1234567)/1e6, datetime.timezone.utc); print(t.strftime('%Y-%m-%d %H:%M:%S.%f UTC'))")
run_report 2 --db u.db --reports-dir rep --report-id sqlite-earlier --now "$earlier"
run_report 3 --db u.h5 --reports-dir rep --report-id h-earlier --now "$earlier"
same_files rep/sqlite-earlier.csv rep/h-earlier.csv "--now a day earlier: HDF5 equals SQLite"
# Chunked and compressed polls read back the same.
run_snap 2 --db u.db --output uz.h5 --chunk 4096 --deflate 4
run_report 2 --db uz.h5 --reports-dir rep --report-id hz
same_files rep/sqlite.csv rep/hz.csv "chunked, deflated snapshot: same report"
# DST weeks (Chicago spring forward, fall back) through the snapshot.
"$GEN" --out dst --stores 120 --days 9 --seed 5 --end "2023-03-14 03:07:00 UTC" 2>/dev/null
"$LOAD" --db dst.db --dir dst --no-rejects -q
run_snap 3 --db dst.db --output dst.h5
run_report 1 --db dst.db --reports-dir rep --report-id dst-sqlite
run_report 4 --db dst.h5 --reports-dir rep --report-id dst-h5
same_files rep/dst-sqlite.csv rep/dst-h5.csv "spring-forward week: HDF5 equals SQLite"
# Stores with more hours rows than one record of the scatter carries (4096): their rows
# reach their rank in several records (one store on rank 0, one on the last rank).
cp -r in many
python3 - many <<'PY'
import csv, sys
d = sys.argv[1]
ids = sorted({r[0] for r in csv.reader(open(d + "/timezones.csv", encoding="utf-8-sig"))} - {"store_id"})
with open(d + "/menu_hours.csv", "a", newline="") as f:
    w = csv.writer(f)
    for sid in (ids[1], ids[-2]):
        for k in range(9000):
            s = (k // 7) * 61
            e = (s + 3 * 3600) % 86400
            w.writerow([sid, k % 7, "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60),
                        "%02d:%02d:%02d" % (e // 3600, e // 60 % 60, e % 60)])
PY
"$LOAD" --db many.db --dir many --no-rejects -q
run_report 1 --db many.db --reports-dir rep --report-id many-sqlite
run_snap 2 --db many.db --output many.h5 --days 9
for n in 1 2 3; do
  run_report "$n" --db many.h5 --reports-dir rep --report-id "many-h$n"
  same_files rep/many-sqlite.csv "rep/many-h$n.csv" "9000 hours rows a store: HDF5 on $n ranks equals SQLite"
done

# ---- the zone table and the hours rows, merged from each rank's own stores ----
# Six stores of two polls each: 3 ranks hold {a1,a2} {a3,a4} {a5,a6}, 2 ranks {a1..a3}
# {a4..a6}. Each rank knows only its own stores' zones; the file's table lists them in the
# order the stores first use them (a store without a zone row: -1), the zone of a store
# without polls left out. a1 and a4 have the same hours (a rank keeps such rows once);
# the file holds every store's own rows.
mkdir -p zin
{
  echo "store_id,status,timestamp_utc"
  for s in a1 a2 a3 a4 a5 a6; do
    echo "$s,active,2023-01-25 10:00:00 UTC"
    echo "$s,inactive,2023-01-25 11:00:00 UTC"
  done
} >zin/store_status.csv
printf '%s\n' store_id,timezone_str a1,Asia/Kolkata a3,Pacific/Chatham a4,Asia/Kolkata \
  a5,Australia/Lord_Howe a6,Pacific/Chatham zz,Europe/London >zin/timezones.csv
printf '%s\n' store_id,dayOfWeek,start_time_local,end_time_local a1,0,09:00:00,17:00:00 \
  a1,1,09:00:00,17:00:00 a3,2,10:00:00,11:00:00 a4,0,09:00:00,17:00:00 \
  a4,1,09:00:00,17:00:00 >zin/menu_hours.csv
"$LOAD" --db z.db --dir zin --no-rejects -q
# h5vals FILE DATASET: the dataset's values, comma-separated.
h5vals() {
  h5dump -y -w 0 -d "$2" "$1" | awk '/DATA \{/ { on = 1; next } on && /\}/ { exit } on' |
    tr -d ' \n'
}
for w in 1 2 3; do
  run_snap "$w" --db z.db --output "z$w.h5"
  names=$(h5vals "z$w.h5" /zones/name_bytes | python3 -c 'import sys; print("".join(chr(int(c)) for c in sys.stdin.read().split(",")))')
  [ "$names" = "Asia/KolkataPacific/ChathamAustralia/Lord_Howe" ] || fail "zone names written on $w ranks: $names"
  [ "$(h5vals "z$w.h5" /zones/name_offset)" = "0,12,27,46" ] || fail "zone offsets written on $w ranks"
  [ "$(h5vals "z$w.h5" /stores/zone)" = "0,-1,1,0,2,1" ] || fail "store zones written on $w ranks: $(h5vals "z$w.h5" /stores/zone)"
  [ "$(h5vals "z$w.h5" /stores/hours_offset)" = "0,2,2,3,5,5,5" ] || fail "hours offsets written on $w ranks: $(h5vals "z$w.h5" /stores/hours_offset)"
  [ "$(h5vals "z$w.h5" /hours/day)" = "0,1,2,0,1" ] || fail "hours days written on $w ranks: $(h5vals "z$w.h5" /hours/day)"
  [ "$(h5vals "z$w.h5" /hours/start_us)" = "32400000000,32400000000,36000000000,32400000000,32400000000" ] ||
    fail "hours starts written on $w ranks: $(h5vals "z$w.h5" /hours/start_us)"
done
pass "the zone table merged across 1-3 writing ranks is in first-use order; every store's own hours rows"
run_report 1 --db z.db --reports-dir rep --report-id z-sqlite
for n in 1 3; do
  run_report "$n" --db z3.h5 --reports-dir rep --report-id "z-h$n"
  same_files rep/z-sqlite.csv "rep/z-h$n.csv" "zones and shared hours: HDF5 report on $n ranks equals SQLite's"
done

# ---- PostgreSQL as the source ----
if [ -n "${UPTIME_TEST_PG:-}" ]; then
  . "$UP_SRC/tests/e2e/pg.sh"
  pg_need
  PG=$(pg_schema snap_e2e)
  "$LOAD" --db "$PG" --dir in --no-rejects -q
  run_snap 2 --db "$PG" --output pg.h5 --days 9
  same_h5 pg.h5 u.h5 "snapshots of PostgreSQL and of SQLite hold the same datasets (h5diff)"
  run_snap 3 --db "$PG" --output pg3.h5 --days 9
  same_h5 pg3.h5 u.h5 "a snapshot of PostgreSQL written on 3 ranks: the same datasets"
  run_report 3 --db pg.h5 --reports-dir rep --report-id pg-h5
  same_files rep/sqlite.csv rep/pg-h5.csv "snapshot of PostgreSQL: report equals SQLite's"
  h5dump -a /source pg.h5 | grep -q 'postgres' || fail "the source attribute is missing"
  pass "the snapshot names its source"
else
  echo "skip: PostgreSQL source (UPTIME_TEST_PG unset)"
fi

# ---- what it cannot do, said clearly ----
expect_exit 2 "a --now past the snapshot" -- run_report 2 --db u.h5 --reports-dir rep --report-id late --now "2099-01-01 00:00:00 UTC"
jq -e '.status == "Failed" and (.error | test("snapshot holds"))' rep/late.status.json >/dev/null ||
  { cat rep/late.status.json; fail "a --now outside the snapshot is not Failed with the reason"; }
[ ! -e rep/late.csv ] || fail "a refused report left a CSV"
expect_exit 2 "a --now before the snapshot's week" -- run_report 1 --db u.h5 --reports-dir rep --report-id early --now "2000-01-01 00:00:00 UTC"
expect_exit 2 "uptime_load into a snapshot" -- "$LOAD" --db u.h5 --dir "$G" --no-rejects
grep -qi 'read-only' err.txt || { cat err.txt; fail "uptime_load does not say the snapshot is read-only"; }
pass "uptime_load says the snapshot is read-only"
expect_exit 3 "a report on a missing snapshot" -- run_report 2 --db missing.h5 --reports-dir rep --report-id missing
echo "not an HDF5 file at all" >junk.h5
expect_exit 3 "a report on a file that is not a snapshot" -- run_report 2 --db junk.h5 --reports-dir rep --report-id junk
jq -e '.status == "Failed" and (.error | test("junk.h5"))' rep/junk.status.json >/dev/null ||
  fail "a foreign file is not Failed with its name"
expect_exit 3 "a snapshot of a missing database" -- run_snap 2 --db nothere.db --output nothere.h5
[ ! -e nothere.h5 ] && ! ls nothere.h5.tmp.* >/dev/null 2>&1 || fail "a failed snapshot left a file"
pass "a failed snapshot leaves no file"
expect_exit 2 "--days under a week" -- run_snap 1 --db u.db --output short.h5 --days 6

# An empty source: a valid snapshot whose report is the header alone.
mkdir -p nopolls && cp "$G/menu_hours.csv" "$G/timezones.csv" nopolls/
printf 'store_id,status,timestamp_utc\nS,up,2023-01-25 10:00:00 UTC\n' >nopolls/store_status.csv
"$LOAD" --db empty.db --dir nopolls --no-rejects >/dev/null
run_snap 2 --db empty.db --output empty.h5
run_report 2 --db empty.h5 --reports-dir rep --report-id empty
[ "$(cat rep/empty.csv)" = "$(head -1 "$G/expected.csv")" ] || fail "empty snapshot: not the header alone"
pass "a snapshot without polls gives the header-only report"

# A killed writer leaves no file under the final name.
"$GEN" --out big --stores 4000 --days 8 --seed 2 2>/dev/null
"$LOAD" --db big.db --dir big --no-rejects -q
( "$MPIEXEC" -n 2 "$SNAP" --quiet --db big.db --output big.h5 >/dev/null 2>&1 & echo $! >pid; wait ) &
sleep 0.3
kill -9 "$(cat pid)" 2>/dev/null || true
wait || true
sleep 0.5
[ ! -e big.h5 ] || [ "$(h5dump -a /stores big.h5 >/dev/null 2>&1; echo $?)" = 0 ] ||
  fail "a killed snapshot left an incomplete file under the final name"
pass "a killed snapshot leaves nothing that looks complete"
echo "$checks passed, 0 failed"
