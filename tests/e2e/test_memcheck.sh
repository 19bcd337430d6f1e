#!/usr/bin/env bash
# Memory check (valgrind memcheck): the loader, the unit suites, and the MPI job on
# 2 ranks, on a small run with malformed rows; also the job's failure path. Any invalid
# access, use of uninitialised memory or definite leak in the project's code fails.
. "$(dirname "$0")/lib.sh"
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --suppressions="$UP_SRC/tests/valgrind-mpi.supp")

"$GEN" --out in --stores 25 --days 8 --seed 9 --ids mixed --bad 0.02 2>/dev/null
"${VG[@]}" "$LOAD" --db m.db --dir in --rejects rej.csv >/dev/null || fail "uptime_load under valgrind"
pass "uptime_load is clean under valgrind"
"${VG[@]}" "$UP_BUILD/tests/up_unit" >unit.txt 2>&1 || { tail -40 unit.txt; fail "unit suites under valgrind"; }
pass "unit suites are clean under valgrind"
"${VG[@]}" "$UP_BUILD/tests/up_unit_job" >job.txt 2>&1 || { tail -40 job.txt; fail "job suite under valgrind"; }
pass "the job suite (MPI_COMM_SELF, in-memory store) is clean under valgrind"
timeout 600 "$MPIEXEC" -n 2 "${VG[@]}" "$REPORT" --quiet --db m.db --reports-dir rep --report-id vg \
  >vg.txt 2>&1 || { tail -40 vg.txt; fail "uptime_report -n 2 under valgrind"; }
run_report 1 --db m.db --reports-dir rep --report-id plain
same_files rep/plain.csv rep/vg.csv "the report under valgrind is the same report"
pass "uptime_report on 2 ranks is clean under valgrind"
got=0
timeout 600 "$MPIEXEC" -n 2 "${VG[@]}" "$REPORT" --quiet --db missing.db --reports-dir rep \
  --report-id vgfail >vgfail.txt 2>&1 || got=$?
[ "$got" -ne 99 ] && [ "$got" -ne 0 ] || { tail -40 vgfail.txt; fail "failure path under valgrind: exit $got"; }
pass "the failure path is clean under valgrind (exit $got)"
echo "$checks passed, 0 failed"
