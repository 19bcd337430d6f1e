#!/usr/bin/env bash
# A hand-computed report (tests/data/golden/README.md): exact output, exact rejects, and a
# report "as of" --now that ignores polls received later.
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden

"$LOAD" --db g.db --dir "$G" --rejects rejects.csv >load.txt
grep -q "store_status .*: 10 rows, 8 loaded, 2 rejected" load.txt || { cat load.txt; fail "status counts"; }
grep -q "menu_hours .*: 12 rows, 11 loaded, 1 rejected" load.txt || { cat load.txt; fail "hours counts"; }
grep -q "timezones .*: 5 rows, 3 loaded, 2 rejected" load.txt || { cat load.txt; fail "timezone counts"; }
pass "load summary counts rows, loaded and rejected per file"
cut -d, -f1,2 rejects.csv | sed "s|$G/||" | sort >rejected-lines.txt
printf '%s\n' file,line menu_hours.csv,13 store_status.csv,10 store_status.csv,11 \
  timezones.csv,5 timezones.csv,6 | sort >want-lines.txt
same_files want-lines.txt rejected-lines.txt "rejects file names file and line of each rejected row"
grep -q "conflicting" rejects.csv || fail "conflicting timezone reason missing"
pass "rejects file gives reasons"

for n in 1 2 3 4; do
  run_report "$n" --db g.db --reports-dir rep --report-id "g$n"
  same_files "$G/expected.csv" "rep/g$n.csv" "hand-computed report on $n ranks"
done
jq -e '.status == "Complete" and .stores == 4 and .error == null and .progress == 100 and .phase == "done"' rep/g2.status.json >/dev/null ||
  fail "status file is not Complete"
pass "status file says Complete with the store count"

# Later polls arrive (and a store seen only after now); --now at the old instant ignores them.
cp "$G"/menu_hours.csv "$G"/timezones.csv .
{ cat "$G/store_status.csv"; printf 'S,inactive,2023-01-25 19:00:00 UTC\r\nT,inactive,2023-01-25 19:30:00 UTC\r\nN,active,2023-01-26 00:00:00 UTC\r\n'; } >store_status.csv
"$LOAD" --db g.db --dir . --no-rejects >/dev/null
run_report 2 --db g.db --reports-dir rep --report-id asof --now "2023-01-25 18:13:22 UTC"
same_files "$G/expected.csv" rep/asof.csv "--now ignores polls after it"
run_report 2 --db g.db --reports-dir rep --report-id latest
grep -q '^N,' rep/latest.csv || fail "without --now the newest store is reported"
[ "$(sed -n 's/^T,//p' rep/latest.csv)" != "60.00,24.00,168.00,0.00,0.00,0.00" ] || fail "now did not move"
pass "without --now, now is the latest poll"
$ORACLE --dir . --now "2023-01-25 18:13:22 UTC" >oracle-asof.csv
same_files "$G/expected.csv" oracle-asof.csv "the oracle agrees with the hand computation"
echo "$checks passed, 0 failed"
