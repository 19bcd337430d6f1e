#!/usr/bin/env bash
# A report id is claimed once: two runs started together with one id give one report
# (the other exits 2 and touches nothing), and a finished id run again is refused with
# its CSV and status left exactly as they were.
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden
"$GEN" --out in --stores 3000 --days 8 --seed 12 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects -q
run_report 1 --db u.db --reports-dir ref --report-id ref

for round in 1 2 3; do
  rc1=0 rc2=0
  run_report 2 --db u.db --reports-dir rep --report-id "dup$round" >out1.txt 2>err1.txt &
  p1=$!
  run_report 2 --db u.db --reports-dir rep --report-id "dup$round" >out2.txt 2>err2.txt &
  p2=$!
  wait "$p1" || rc1=$?
  wait "$p2" || rc2=$?
  case "$rc1,$rc2" in
  0,2) loser=err2.txt ;;
  2,0) loser=err1.txt ;;
  *) cat err1.txt err2.txt >&2; fail "round $round: exits $rc1 and $rc2, expected one 0 and one 2" ;;
  esac
  grep -q "already used" "$loser" || { cat "$loser" >&2; fail "round $round: the refused run does not say the id is in use"; }
  same_files ref/ref.csv "rep/dup$round.csv" "round $round: two runs of one id give one whole report"
  jq -e '.status == "Complete"' "rep/dup$round.status.json" >/dev/null || fail "round $round: status not Complete"
done

# A finished id, run again: refused, nothing touched.
before=$(sha256sum rep/dup1.csv rep/dup1.status.json)
expect_exit 2 "a finished report id run again" -- run_report 1 --db u.db --reports-dir rep --report-id dup1
grep -q "already used" err.txt || fail "no reason for the refused id"
[ "$(sha256sum rep/dup1.csv rep/dup1.status.json)" = "$before" ] || fail "the refused run touched the report or its status"
pass "a finished id is refused and its files are left exactly as they were"
echo "$checks passed, 0 failed"
