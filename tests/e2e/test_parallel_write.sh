#!/usr/bin/env bash
# --parallel-write: every rank writes its own rows into rank 0's temporary CSV at offsets
# from an exclusive scan of the ranks' byte counts. The bytes equal the gathered report's
# (and the hand-computed golden one) at every rank count, from SQLite and the snapshot;
# ranks without stores, a header-only report and rows larger than one chunk included;
# nothing is left but the report and its status; a rank that cannot open rank 0's file
# fails the run. (A full file system: test_faults.sh; a
# file put in place of the temporary one: unit.report; ranks on two nodes:
# test_cluster.sh.)
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden

# only_report DIR ID: DIR holds ID.csv and ID.status.json and nothing else of ID.
only_report() {
  local left
  left=$(cd "$1" && ls -A | grep -F "$2" | grep -vx "$2.csv" | grep -vx "$2.status.json" || true)
  [ -z "$left" ] || fail "left beside $2's report: $left"
  jq -e '.status == "Complete" and .progress == 100' "$1/$2.status.json" >/dev/null ||
    fail "status of $2: $(cat "$1/$2.status.json")"
}

# The golden 4 stores, on 1 to 4 ranks and on 6 (two ranks without a store).
"$LOAD" --db g.db --dir "$G" --no-rejects -q
for n in 1 2 3 4 6; do
  run_report "$n" --db g.db --reports-dir rep --report-id "g$n" --parallel-write
  same_files "$G/expected.csv" "rep/g$n.csv" "golden, $n ranks, --parallel-write: the hand-computed report"
  only_report rep "g$n"
done

# Generated stores with ids that need quoting, and malformed rows; SQLite and the snapshot.
"$GEN" --out in --stores 300 --days 9 --seed 12 --ids mixed --bad 0.01 2>/dev/null
# The first stores renamed, in all three files, to ids a CSV must quote (or nearly).
python3 - in <<'PY'
import csv, os, sys
names = ['"q"', "a,b", 'C,1', "x y", "日本", "'", "\\"]
d = sys.argv[1]
ids = []
for row in csv.reader(open(os.path.join(d, "store_status.csv"), newline="", encoding="utf-8", errors="surrogateescape")):
    if row and row[0] != "store_id" and row[0] not in ids and len(ids) < len(names):
        ids.append(row[0])
new = dict(zip(ids, names))
for f in ("store_status.csv", "menu_hours.csv", "timezones.csv"):
    rows = list(csv.reader(open(os.path.join(d, f), newline="", encoding="utf-8", errors="surrogateescape")))
    with open(os.path.join(d, f), "w", newline="", encoding="utf-8", errors="surrogateescape") as out:
        w = csv.writer(out, lineterminator="\n")
        for r in rows:
            w.writerow([new.get(r[0], r[0])] + r[1:] if r else r)
PY
"$LOAD" --db u.db --dir in --rejects rejects.csv >/dev/null
grep -q '^"' <(run_report 1 --db u.db --reports-dir ref --report-id ref && cat ref/ref.csv) ||
  fail "no quoted id in the generated report"
$ORACLE --dir in >oracle.csv 2>oracle.err
same_files oracle.csv ref/ref.csv "mixed ids, gathered on 1 rank: the independent oracle's report"
"$MPIEXEC" -n 2 "$UP_BUILD/uptime_snapshot" --db u.db --output u.h5 --days 7 --quiet ||
  fail "snapshot"
for n in 1 2 3 4; do
  for src in u.db u.h5; do
    id="m$n-${src#u.}"
    run_report "$n" --db "$src" --reports-dir rep --report-id "$id" --parallel-write
    same_files ref/ref.csv "rep/$id.csv" "mixed ids from $src, $n ranks, --parallel-write: the gathered report"
    only_report rep "$id"
  done
done

# No poll at all: the header alone, on 3 ranks.
mkdir empty
cp "$G/menu_hours.csv" "$G/timezones.csv" empty/
echo "store_id,status,timestamp_utc" >empty/store_status.csv
"$LOAD" --db e.db --dir empty --no-rejects -q
run_report 3 --db e.db --reports-dir rep --report-id e3 --parallel-write 2>/dev/null
[ "$(cat rep/e3.csv)" = "$(head -1 "$G/expected.csv")" ] || fail "header-only report: $(cat rep/e3.csv)"
pass "no poll, 3 ranks, --parallel-write: the header alone"

# Each rank's rows larger than one 1 MiB chunk (3 ranks, ~1.4 MB of rows).
"$GEN" --out big --stores 20000 --days 8 --polls-per-store-day 2 --seed 4 --ids uuid 2>/dev/null
"$LOAD" --db big.db --dir big --no-rejects -q
run_report 1 --db big.db --reports-dir rep --report-id big1
run_report 3 --db big.db --reports-dir rep --report-id big3 --parallel-write
[ "$(stat -c %s rep/big1.csv)" -gt 1048576 ] || fail "the report is not larger than one chunk"
same_files rep/big1.csv rep/big3.csv "$(stat -c %s rep/big1.csv) bytes written by 3 ranks: the gathered report"
only_report rep big3
# A rank that cannot reach rank 0's file (its reports folder is another one: a file system
# not shared): the run fails, saying which rank and why; no CSV, no temporary file.
mkdir -p A/rep B/rep
rc=0
timeout 120 "$MPIEXEC" -n 1 -wdir "$T/A" "$REPORT" --quiet --db "$T/g.db" --reports-dir rep \
  --report-id split --parallel-write : -n 1 -wdir "$T/B" "$REPORT" --quiet --db "$T/g.db" \
  --reports-dir rep --report-id split --parallel-write >split.out 2>&1 || rc=$?
[ "$rc" -eq 4 ] || fail "a rank without rank 0's file: exit $rc, expected 4 ($(cat split.out))"
jq -e '.status == "Failed" and (.error | test("^rank 1: cannot open report rep/\\.split\\.csv\\.tmp\\.[A-Za-z0-9]{6} for its rows: No such file"))' \
  A/rep/split.status.json >/dev/null || fail "status: $(cat A/rep/split.status.json)"
[ "$(ls -A A/rep | paste -sd' ')" = split.status.json ] && [ -z "$(ls -A B/rep)" ] ||
  fail "left: $(ls -A A/rep B/rep)"
pass "a rank that cannot open rank 0's file: exit 4, Failed naming rank 1 and the file, nothing left"
echo "$checks passed, 0 failed"
