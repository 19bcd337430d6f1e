#!/usr/bin/env bash
# Bad input end to end: every malformed row rejected with its line and reason while the
# valid rows load; fatal problems give a clear message, a documented exit code, and write
# nothing; a job that fails on any rank ends Failed everywhere with no partial report.
. "$(dirname "$0")/lib.sh"
B=$UP_SRC/tests/data/bad
G=$UP_SRC/tests/data/golden

# ---- rejected rows (tests/data/bad/README.md) ----
"$LOAD" --db b.db --dir "$B" --rejects rejects.csv >load.txt
tail -n +2 rejects.csv | cut -d, -f1-3 | sed "s|$B/||" | sort -t, -k1,1 -k2,2n >got.txt
same_files "$B/expected-rejects.txt" got.txt "each malformed row rejected with its line and reason"
grep -q "store_status .*: 20 rows, 5 loaded, 15 rejected" load.txt || fail "status counts"
grep -q "menu_hours .*: 9 rows, 2 loaded, 7 rejected" load.txt || fail "hours counts"
pass "valid rows between malformed ones all load"
[ "$(sqlite3 b.db "SELECT group_concat(store_id, '|') FROM (SELECT DISTINCT store_id FROM store_status ORDER BY 1)")" = "ok,5|ok1|ok2|ok3|ok4" ] ||
  fail "loaded status rows are not exactly the valid ones"
pass "exactly the valid status rows are in the database"

# ---- generated malformed rows: nothing lost, everything accounted for ----
"$GEN" --out gen --stores 80 --seed 3 --bad 0.03 2>/dev/null
"$LOAD" --db gen.db --dir gen --rejects gen-rejects.csv >gen-load.txt
python3 - gen-load.txt gen-rejects.csv <<'PY' || fail "rows read != loaded + rejected"
import re, sys
total_rej = 0
for line in open(sys.argv[1]):
    m = re.search(r": (\d+) rows, (\d+) loaded, (\d+) rejected", line)
    if m:
        rows, loaded, rej = map(int, m.groups())
        assert rows == loaded + rej, line
        total_rej += rej
assert total_rej > 0, "the generator made no bad rows"
n = sum(1 for _ in open(sys.argv[2], newline="")) - 1
assert n >= total_rej, (n, total_rej)  # a rejected value may hold a line break: >=
PY
pass "every generated row is loaded or listed as rejected"

# ---- no valid poll at all: a header-only report and a warning, not a failure ----
mkdir -p nopolls && cp "$G/menu_hours.csv" "$G/timezones.csv" nopolls/
printf 'store_id,status,timestamp_utc\nS,up,2023-01-25 10:00:00 UTC\n' >nopolls/store_status.csv
"$LOAD" --db nopolls.db --dir nopolls --no-rejects >/dev/null
expect_exit 0 "report with no valid poll" -- run_report 2 --db nopolls.db --reports-dir rep --report-id nopolls
grep -q "header only" err.txt || fail "no warning about the header-only report"
printf '%s\n' "store_id,uptime_last_hour,uptime_last_day,uptime_last_week,downtime_last_hour,downtime_last_day,downtime_last_week" >header.csv
same_files header.csv rep/nopolls.csv "no valid poll: the report is the header only"
"$LOAD" --db early.db --dir "$G" --no-rejects >/dev/null
run_report 2 --db early.db --reports-dir rep --report-id early --now "2023-01-01 00:00:00 UTC"
same_files header.csv rep/early.csv "--now before every poll: the report is the header only"

# ---- fatal input: exit 2, clear message, nothing written ----
mkdir -p nostatus && cp "$G/menu_hours.csv" "$G/timezones.csv" nostatus/
expect_exit 2 "missing file" -- "$LOAD" --db fatal.db --dir nostatus
grep -q "store_status.csv" err.txt || fail "message does not name the missing file"
[ ! -e fatal.db ] || fail "a database was created for a failed load"
pass "missing file: message names it, no database written"
mkdir -p nocol && cp "$G/menu_hours.csv" "$G/timezones.csv" nocol/
printf 'store_id,state,timestamp_utc\nS,active,2023-01-25 10:00:00 UTC\n' >nocol/store_status.csv
expect_exit 2 "missing column" -- "$LOAD" --db fatal.db --dir nocol
grep -q "status" err.txt || fail "message does not name the missing column"
printf 'store_id,status,status,timestamp_utc\n' >nocol/store_status.csv
expect_exit 2 "column named twice" -- "$LOAD" --db fatal.db --dir nocol
: >nocol/store_status.csv
expect_exit 2 "empty file" -- "$LOAD" --db fatal.db --dir nocol
[ ! -e fatal.db ] || fail "a database was created for a failed load"
pass "no database written by any fatal load"
"$LOAD" --db keep.db --dir "$G" --no-rejects >/dev/null
before=$(sqlite3 keep.db "SELECT count(*) FROM store_status")
expect_exit 2 "fatal load over an existing database" -- "$LOAD" --db keep.db --dir nocol
[ "$(sqlite3 keep.db "SELECT count(*) FROM store_status")" = "$before" ] || fail "data changed"
pass "a failed load leaves the earlier data intact"
mkdir -p ro && chmod 500 ro
if [ "$(id -u)" -ne 0 ]; then
  expect_exit 3 "unwritable database" -- "$LOAD" --db ro/x.db --dir "$G"
fi
expect_exit 3 "database path is a folder" -- "$LOAD" --db ro --dir "$G"

# ---- command lines ----
expect_exit 0 "uptime_load --help" -- "$LOAD" --help
grep -q "usage: uptime_load" out.txt || fail "help not on stdout"
expect_exit 2 "uptime_load unknown option" -- "$LOAD" --bogus
expect_exit 0 "uptime_report --help" -- "$MPIEXEC" -n 1 "$REPORT" --help
expect_exit 2 "uptime_report unknown option" -- "$MPIEXEC" -n 2 "$REPORT" --bogus
expect_exit 2 "uptime_report bad --now" -- "$MPIEXEC" -n 2 "$REPORT" --now "2023-02-30 00:00:00 UTC"
expect_exit 2 "uptime_report report id with a path" -- "$MPIEXEC" -n 1 "$REPORT" --report-id ../etc/passwd
[ ! -d reports ] || fail "a usage error created a reports folder"

# ---- failing jobs: Failed with the reason, no CSV, same exit on every rank ----
expect_exit 3 "report on a missing database" -- run_report 3 --db nothere.db --reports-dir rep --report-id missing
jq -e '.status == "Failed" and (.error | test("nothere.db"))' rep/missing.status.json >/dev/null ||
  fail "status of a missing database is not Failed with the reason"
[ ! -e rep/missing.csv ] || fail "a failed job left a CSV"
pass "missing database: Failed with the reason, no CSV"
echo "not a database, only text that is long enough for a header page of sqlite........" >junk.db
expect_exit 3 "report on a file that is not a database" -- run_report 2 --db junk.db --reports-dir rep --report-id junk
jq -e '.status == "Failed"' rep/junk.status.json >/dev/null || fail "junk database not Failed"
touch notadir
expect_exit 4 "reports folder is a file" -- run_report 2 --db keep.db --reports-dir notadir --report-id x

# Rank 1 alone cannot read the time zone database (MPMD: its own environment).
start=$(date +%s)
got=0
timeout 120 "$MPIEXEC" -n 1 "$REPORT" --quiet --db keep.db --reports-dir rep --report-id rankfail : \
  -n 1 -x TZDIR=/nonexistent "$REPORT" --quiet --db keep.db --reports-dir rep --report-id rankfail \
  >out.txt 2>err.txt || got=$?
[ "$got" -ne 0 ] && [ "$got" -ne 124 ] || { cat err.txt; fail "a failing rank: exit $got"; }
[ $(($(date +%s) - start)) -lt 60 ] || fail "a failing rank took too long"
jq -e '.status == "Failed" and (.error | test("rank 1"))' rep/rankfail.status.json >/dev/null ||
  { cat rep/rankfail.status.json; fail "status does not carry rank 1's reason"; }
[ ! -e rep/rankfail.csv ] && ! ls rep/.rankfail* >/dev/null 2>&1 || fail "partial report left"
pass "a failure on rank 1 ends the job Failed with rank 1's reason and no CSV (exit $got)"
echo "$checks passed, 0 failed"
