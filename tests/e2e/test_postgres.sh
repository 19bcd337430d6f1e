#!/usr/bin/env bash
# PostgreSQL and SQLite give the same bytes: the same rejects and load summary, and the
# same report on 1 to 4 ranks (the hand-computed golden one, and generated data with
# mixed ids and malformed rows); loading twice changes nothing.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"
pg_need
G=$UP_SRC/tests/data/golden
B=$UP_SRC/tests/data/bad
tag=up_e2e_$$

# ---- golden ----
pg=$(pg_schema "${tag}_g")
"$LOAD" --db "$pg" --dir "$G" --rejects pg-rejects.csv >pg-load.txt
"$LOAD" --db g.db --dir "$G" --rejects sq-rejects.csv >sq-load.txt
same_files sq-rejects.csv pg-rejects.csv "golden: rejects file identical to SQLite's"
same_files <(tail -n +2 sq-load.txt | grep -v '^rejects:') <(tail -n +2 pg-load.txt | grep -v '^rejects:') \
  "golden: load summary identical to SQLite's"
for n in 1 2 3 4; do
  run_report "$n" --db "$pg" --reports-dir rep --report-id "g$n"
  same_files "$G/expected.csv" "rep/g$n.csv" "golden: PostgreSQL report on $n ranks equals the hand computation"
done
jq -e '.status == "Complete" and (.source | startswith("postgresql://"))' rep/g2.status.json >/dev/null ||
  fail "status file is not Complete with a postgresql source"
pass "status file names the PostgreSQL source"
run_report 2 --db "$pg" --reports-dir rep --report-id asof --now "2023-01-25 18:13:22 UTC"
same_files "$G/expected.csv" rep/asof.csv "golden: --now through PostgreSQL"

# ---- generated data with mixed ids and malformed rows ----
"$GEN" --out in --stores 150 --days 9 --seed 11 --ids mixed --bad 0.01 2>/dev/null
pg=$(pg_schema "${tag}_gen")
"$LOAD" --db "$pg" --dir in --rejects pg-rejects.csv >pg-load.txt
"$LOAD" --db u.db --dir in --rejects sq-rejects.csv >sq-load.txt
[ "$(wc -l <pg-rejects.csv)" -gt 10 ] || fail "generated input has too few malformed rows"
same_files sq-rejects.csv pg-rejects.csv "generated: rejects file identical to SQLite's"
same_files <(tail -n +2 sq-load.txt) <(tail -n +2 pg-load.txt | sed 's/pg-rejects/sq-rejects/') \
  "generated: load summary identical to SQLite's"
run_report 1 --db u.db --reports-dir rep --report-id sq
[ "$(wc -l <rep/sq.csv)" -gt 100 ] || fail "report has too few rows"
for n in 1 2 3 4; do
  run_report "$n" --db "$pg" --reports-dir rep --report-id "pg$n"
  same_files rep/sq.csv "rep/pg$n.csv" "generated: PostgreSQL report on $n ranks equals SQLite's"
done
# As of a moment two days before the last poll: every store has polls after now, so the
# window's scan keeps its upper bound (the golden data, all inside the week, has neither
# bound; the 9 days above only the lower one).
run_report 1 --db u.db --reports-dir rep --report-id sq-asof --now "2023-01-23 06:30:00 UTC"
for n in 2 3; do
  run_report "$n" --db "$pg" --reports-dir rep --report-id "pg-asof$n" --now "2023-01-23 06:30:00 UTC"
  same_files rep/sq-asof.csv "rep/pg-asof$n.csv" \
    "generated, --now two days back: PostgreSQL report on $n ranks equals SQLite's"
done
cmp -s rep/sq.csv rep/sq-asof.csv && fail "the report as of two days back equals today's"
pass "the report as of two days back differs from today's"

# Loading the same files again changes nothing, table by table.
counts() { pg_q "$pg" "SELECT (SELECT count(*) FROM store_status) || ' ' || (SELECT count(*) FROM business_hours)
  || ' ' || (SELECT count(*) FROM store_timezone) || ' ' || (SELECT sum(npolls) FROM store_summary)
  || ' ' || (SELECT count(*) FILTER (WHERE NOT active) FROM store_status)"; }
before=$(counts)
"$LOAD" --db "$pg" --dir in --rejects pg-rejects2.csv >/dev/null
[ "$before" = "$(counts)" ] || fail "second load changed the tables: $before -> $(counts)"
pass "loading twice leaves every table as it was ($before)"
same_files pg-rejects.csv pg-rejects2.csv "second load rejects the same rows"
run_report 3 --db "$pg" --reports-dir rep --report-id again
same_files rep/sq.csv rep/again.csv "report after a second load unchanged"

# store_meta (each store's zone and packed hours, what the reports read): kept by a
# load that changes one store's hours and another's zone, as SQLite reads the same load.
mkdir -p up
head -1 in/store_status.csv >up/store_status.csv
head -2 in/menu_hours.csv >up/menu_hours.csv
{ head -1 in/timezones.csv; sed -n 3p in/timezones.csv | sed 's|,[^,]*$|,Pacific/Honolulu|'; } >up/timezones.csv
"$LOAD" --db "$pg" --dir up -q
"$LOAD" --db u.db --dir up -q
[ "$(pg_q "$pg" "SELECT count(*) FROM store_meta WHERE timezone_str = 'Pacific/Honolulu'")" -ge 1 ] ||
  fail "store_meta does not have the zone the load changed"
pass "store_meta follows a load that changes a zone"
run_report 1 --db u.db --reports-dir rep --report-id sq-up
cmp -s rep/sq.csv rep/sq-up.csv && fail "the changed hours and zone do not change the report"
for n in 1 3; do
  run_report "$n" --db "$pg" --reports-dir rep --report-id "pg-up$n"
  same_files rep/sq-up.csv "rep/pg-up$n.csv" "after a load of changed hours and zone: PostgreSQL on $n ranks equals SQLite"
done
# A database from before store_meta reads its hours and zones from their tables, and its
# next load adds store_meta, filled from them.
pg_q "$pg" "DROP TABLE store_meta" >/dev/null
run_report 2 --db "$pg" --reports-dir rep --report-id pg-old
same_files rep/sq-up.csv rep/pg-old.csv "a database without store_meta: same report"
"$LOAD" --db "$pg" --dir up -q
[ "$(pg_q "$pg" "SELECT (SELECT count(*) FROM store_meta WHERE hours IS NOT NULL) = (SELECT count(DISTINCT store_id) FROM business_hours)
  AND (SELECT count(*) FROM store_meta WHERE timezone_str IS NOT NULL) = (SELECT count(*) FROM store_timezone)
  AND (SELECT sum(length(hours)) FROM store_meta) = 18 * (SELECT count(*) FROM business_hours)")" = t ] ||
  fail "the next load did not fill store_meta from business_hours and store_timezone"
pass "the next load adds store_meta, filled from the tables of record"
run_report 2 --db "$pg" --reports-dir rep --report-id pg-new
same_files rep/sq-up.csv rep/pg-new.csv "after the upgrade: same report"
# status_pack (each store's polls packed per bucket of 2^36 us, what reports read the
# polls from) equals store_status packed afresh after the loads above, and a report read
# from store_status alone (UPTIME_PG_NO_PACK=1) is the same. A database from before it
# reads store_status; its next load of polls (here both loads again, in order: no poll
# changes, the same hours and zones in the end) adds it, filled from store_status.
fresh="SELECT store_id, ts_utc >> 36, string_agg(int8send(ts_utc * 2 + active::int), ''::bytea ORDER BY ts_utc) FROM store_status GROUP BY 1, 2"
pack_diff() {
  pg_q "$1" "SELECT (SELECT count(*) FROM status_pack) > 0 AND (SELECT count(*) FROM ((SELECT * FROM status_pack EXCEPT ALL $fresh) UNION ALL ($fresh EXCEPT ALL SELECT * FROM status_pack)) d) = 0"
}
[ "$(pack_diff "$pg")" = t ] || fail "status_pack differs from store_status after two loads"
pass "status_pack equals store_status packed afresh after a first load and an update"
UPTIME_PG_NO_PACK=1 run_report 2 --db "$pg" --reports-dir rep --report-id pg-nopack
same_files rep/sq-up.csv rep/pg-nopack.csv "the polls read from store_status alone: same report"
pg_q "$pg" "DROP TABLE status_pack" >/dev/null
run_report 3 --db "$pg" --reports-dir rep --report-id pg-oldpack
same_files rep/sq-up.csv rep/pg-oldpack.csv "a database without status_pack: same report"
"$LOAD" --db "$pg" --dir in -q
"$LOAD" --db "$pg" --dir up -q
[ "$(pack_diff "$pg")" = t ] || fail "the next load did not fill status_pack from store_status"
pass "the next load adds status_pack, filled from store_status"
run_report 2 --db "$pg" --reports-dir rep --report-id pg-newpack
same_files rep/sq-up.csv rep/pg-newpack.csv "after status_pack's upgrade: same report"
# A role that may write the four tables but not create one: its load into a database
# without store_meta goes on without it, and the reports read the two tables.
case "$PG_BASE" in
postgresql://*@*)
  role=up_e2e_w_$$
  sw=${tag}_w
  pgo=$(pg_schema "$sw")
  "$LOAD" --db "$pgo" --dir in -q
  pg_q "$pgo" "DROP TABLE store_meta" >/dev/null
  trap 'psql -X -q "$PG_BASE" -c "DROP OWNED BY $role; DROP ROLE IF EXISTS $role" >/dev/null 2>&1; pg_cleanup; rm -rf "$T"' EXIT
  psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE" -c "CREATE ROLE $role LOGIN; GRANT USAGE ON SCHEMA $sw TO $role;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA $sw TO $role" >/dev/null
  pgw=$(pg_url "postgresql://$role@${PG_BASE#postgresql://*@}" "$sw")
  "$LOAD" --db "$pgw" --dir up -q 2>writer.err || { cat writer.err; fail "a load by a role that may not create tables"; }
  [ "$(pg_q "$pgo" "SELECT to_regclass('store_meta') IS NULL")" = t ] || fail "store_meta made without CREATE"
  run_report 2 --db "$pgw" --reports-dir rep --report-id pg-writer
  same_files rep/sq-up.csv rep/pg-writer.csv "a load without the right to add store_meta: loaded, same report"
  ;;
esac
cp rep/sq-up.csv rep/sq.csv

# The database from the environment, and in key=value form.
UPTIME_DB=$pg timeout 300 "$MPIEXEC" -n 2 "$REPORT" --quiet --reports-dir rep --report-id env
same_files rep/sq.csv rep/env.csv "UPTIME_DB=postgresql://... picks PostgreSQL"
kv=$(python3 - "$PG_BASE" "${tag}_gen" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
parts = [f"host={p.hostname or 'localhost'}", f"port={p.port or 5432}", f"dbname={p.path.lstrip('/')}"]
if p.username: parts.append(f"user={p.username}")
if p.password: parts.append(f"password={p.password}")
print(" ".join(parts) + f" options='-csearch_path={sys.argv[2]}'")
PY
)
run_report 2 --db "$kv" --reports-dir rep --report-id kv
same_files rep/sq.csv rep/kv.csv "a key=value conninfo string picks PostgreSQL"

# ---- DST weeks, ids with special characters, ranks with nothing to read ----
# Generated weeks around the DST changes of the generator's zones (America/Chicago's spring
# forward and fall back, Australia/Lord_Howe's 30-minute spring shift; every week has
# Asia/Kolkata and Pacific/Chatham stores too), the first 13 stores of each renamed to ids
# with the characters that CSV, COPY, arrays and SQL literals treat specially: PostgreSQL
# at -n 1..4 equals SQLite. Then 2 stores on 4 ranks: two ranks have an empty range.
rename_ids() { # DIR: its first 13 stores renamed in all three files
  python3 - "$1" <<'PY'
import csv, sys
d = sys.argv[1]
names = ['"q"', "'", ',', 'C,1', 'NULL', '\\', '\\.', '\\N', 'a b', '{x}', '\u65e5\u672c', '0123', '123']
def rows(f):
    with open(f"{d}/{f}", newline="", encoding="utf-8") as h:
        return list(csv.reader(h))
status = rows("store_status.csv")
order = []
for r in status[1:]:
    if r[0] not in order:
        order.append(r[0])
    if len(order) == len(names):
        break
new = dict(zip(order, names))
for f in ("store_status.csv", "menu_hours.csv", "timezones.csv"):
    rs = rows(f)
    with open(f"{d}/{f}", "w", newline="", encoding="utf-8") as h:
        w = csv.writer(h, lineterminator="\n")
        w.writerow(rs[0])
        for r in rs[1:]:
            w.writerow([new.get(r[0], r[0])] + r[1:])
PY
}
for week in "spring 2023-03-14" "fall 2022-11-08" "howe 2022-10-04"; do
  set -- $week
  "$GEN" --out "$1" --stores 120 --days 9 --seed 21 --end "$2 03:07:00 UTC" 2>/dev/null
  rename_ids "$1"
  pgw=$(pg_schema "${tag}_$1")
  "$LOAD" --db "$pgw" --dir "$1" --no-rejects -q
  "$LOAD" --db "$1.db" --dir "$1" --no-rejects -q
  run_report 1 --db "$1.db" --reports-dir rep --report-id "$1-sq"
  grep -q '^"""q""",' "rep/$1-sq.csv" && grep -q '^"C,1",' "rep/$1-sq.csv" ||
    fail "$1: the renamed stores are not in the report"
  for n in 1 2 3 4; do
    run_report "$n" --db "$pgw" --reports-dir rep --report-id "$1-pg$n"
    same_files "rep/$1-sq.csv" "rep/$1-pg$n.csv" \
      "$1 week to $2, special ids: PostgreSQL on $n ranks equals SQLite"
  done
done
"$GEN" --out two --stores 2 --days 9 --seed 22 2>/dev/null
pgw=$(pg_schema "${tag}_two")
"$LOAD" --db "$pgw" --dir two --no-rejects -q
"$LOAD" --db two.db --dir two --no-rejects -q
run_report 1 --db two.db --reports-dir rep --report-id two-sq
[ "$(wc -l <rep/two-sq.csv)" -eq 3 ] || fail "two stores: $(wc -l <rep/two-sq.csv) lines"
run_report 4 --db "$pgw" --reports-dir rep --report-id two-pg4
same_files rep/two-sq.csv rep/two-pg4.csv "2 stores on 4 ranks (two with an empty range): PostgreSQL equals SQLite"

# ---- the malformed-row set with exact lines ----
pg=$(pg_schema "${tag}_bad")
"$LOAD" --db "$pg" --dir "$B" --rejects pg-bad.csv >/dev/null
"$LOAD" --db b.db --dir "$B" --rejects sq-bad.csv >/dev/null
same_files sq-bad.csv pg-bad.csv "bad input: same rejected rows, lines and reasons as SQLite"
[ "$(pg_q "$pg" "SELECT string_agg(DISTINCT store_id, '|' ORDER BY store_id) FROM store_status")" = "ok,5|ok1|ok2|ok3|ok4" ] ||
  fail "loaded status rows are not exactly the valid ones"
pass "bad input: exactly the valid status rows are in PostgreSQL"
echo "$checks passed, 0 failed"
