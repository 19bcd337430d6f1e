#!/usr/bin/env bash
# Failure agreement across ranks: the first failing rank's code and message are the job's,
# on every rank, whatever the other ranks' reasons (MPMD: each rank its own arguments).
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden
"$LOAD" --db g.db --dir "$G" --no-rejects -q

# Rank 1 cannot open its database (exit 3); rank 2 has no tz database (exit 7); ranks 0
# and 3 are fine. The job must end with rank 1's code and reason, not the larger code.
got=0
timeout 120 "$MPIEXEC" -n 1 "$REPORT" --quiet --db g.db --reports-dir rep --report-id two \
  : -n 1 "$REPORT" --quiet --db missing-on-rank-1.db --reports-dir rep --report-id two \
  : -n 1 -x TZDIR=/nonexistent "$REPORT" --quiet --db g.db --reports-dir rep --report-id two \
  : -n 1 "$REPORT" --quiet --db g.db --reports-dir rep --report-id two \
  >out.txt 2>err.txt || got=$?
[ "$got" -eq 3 ] || { cat err.txt; fail "two failing ranks: exit $got, expected rank 1's 3"; }
pass "two failing ranks: the job exits with the first failing rank's code (3)"
jq -e '.status == "Failed" and (.error | startswith("rank 1: ")) and (.error | test("missing-on-rank-1.db"))' \
  rep/two.status.json >/dev/null || { cat rep/two.status.json; fail "status does not carry rank 1's reason"; }
pass "the status names rank 1 and its reason"
[ ! -e rep/two.csv ] || fail "a failed job left a CSV"

# The reverse: rank 1 without a tz database (7), rank 2 on a missing database (3) -> 7.
got=0
timeout 120 "$MPIEXEC" -n 1 "$REPORT" --quiet --db g.db --reports-dir rep --report-id rev \
  : -n 1 -x TZDIR=/nonexistent "$REPORT" --quiet --db g.db --reports-dir rep --report-id rev \
  : -n 1 "$REPORT" --quiet --db missing-on-rank-2.db --reports-dir rep --report-id rev \
  >out.txt 2>err.txt || got=$?
[ "$got" -eq 7 ] || { cat err.txt; fail "reversed: exit $got, expected rank 1's 7"; }
jq -e '.status == "Failed" and (.error | startswith("rank 1: ")) and (.error | test("nonexistent"))' \
  rep/rev.status.json >/dev/null || { cat rep/rev.status.json; fail "reversed: status"; }
pass "reversed: rank 1's code (7) and reason"

# Rank 0 failing beside another rank: rank 0's own message, without a prefix.
got=0
timeout 120 "$MPIEXEC" -n 1 "$REPORT" --quiet --db missing-on-rank-0.db --reports-dir rep --report-id zero \
  : -n 1 -x TZDIR=/nonexistent "$REPORT" --quiet --db g.db --reports-dir rep --report-id zero \
  >out.txt 2>err.txt || got=$?
[ "$got" -eq 3 ] || { cat err.txt; fail "rank 0 failing: exit $got, expected 3"; }
jq -e '.status == "Failed" and (.error | test("missing-on-rank-0.db")) and (.error | startswith("rank") | not)' \
  rep/zero.status.json >/dev/null || { cat rep/zero.status.json; fail "rank 0 failing: status"; }
pass "rank 0 failing: its own code and reason"
echo "$checks passed, 0 failed"
