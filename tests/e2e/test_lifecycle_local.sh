#!/usr/bin/env bash
# Report lifecycle with the local launcher: trigger_report -> get_report Running ->
# Complete, the CSV equal to a direct mpirun run's; a failing job, a killed job (mpirun
# killed, and the whole run killed without a word), two reports at once, and get_report's
# errors and exit codes.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
G=$UP_SRC/tests/data/golden

"$LOAD" --db g.db --dir "$G" --no-rejects >/dev/null
"$GEN" --out in --stores 400 --days 9 --seed 3 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects >/dev/null
run_report 3 --db u.db --reports-dir direct --report-id u3

# Usage.
expect_exit 0 "trigger_report --help" -- "$TRIGGER" --help
expect_exit 0 "get_report --help" -- "$GET" --help
expect_exit 2 "trigger_report with an unknown option" -- "$TRIGGER" --bogus
expect_exit 2 "trigger_report -n 0" -- "$TRIGGER" -n 0 --db g.db
expect_exit 2 "trigger_report --time without --slurm" -- "$TRIGGER" --time 5 --db g.db
expect_exit 2 "trigger_report with a malformed --report-id" -- "$TRIGGER" --report-id 'a/b' --db g.db

# Golden data: Running at once, then Complete; the CSV is the hand-computed one. The
# database is held locked for a moment so that Running is seen for sure.
hold_db g.db
start=$(date +%s%N)
id=$(trigger -n 2 --db g.db --reports-dir rep)
ms=$((($(date +%s%N) - start) / 1000000))
echo "# trigger_report returned in $ms ms"
[ "$ms" -lt 3000 ] || fail "trigger_report took $ms ms: it must return at once"
pass "trigger_report returns at once with {\"report_id\": \"$id\"}"
[[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "id '$id' is not a UUID"
jq -e --arg id "$id" '.report_id == $id and .launcher == "local" and .ranks == 2
  and (.pid | type) == "number" and (.submitted | type) == "string"
  and (.source | endswith("/g.db"))' "rep/$id.status.json" >/dev/null ||
  fail "status file lacks the trigger's fields: $(cat "rep/$id.status.json")"
pass "status file names launcher, pid, ranks, submitted time and source"
wait_field rep "$id" rank0_pid
rc=$(get_rc "$id" --reports-dir rep)
[ "$rc:$(cat "$T/get.out")" = '10:{"status": "Running"}' ] || fail "get_report of a running job: $rc $(cat "$T/get.out")"
release_db
seen=$(wait_done rep "$id" | paste -sd' ')
[ "$seen" = "Running Complete" ] || [ "$seen" = "Complete" ] || fail "statuses seen: $seen"
pass "get_report says Running, then Complete"
"$GET" "$id" --reports-dir rep >got.csv
same_files "$G/expected.csv" got.csv "get_report prints the hand-computed CSV"
expect_exit 0 "get_report -o FILE" -- "$GET" "$id" --reports-dir rep -o file.csv
same_files "$G/expected.csv" file.csv "get_report -o writes the CSV to FILE"
[ ! -s "$T/out.txt" ] || fail "get_report -o also printed to stdout"
wait_field rep "$id" exit_code # the wrapper's last word, after the job's Complete
jq -e '.status == "Complete" and .exit_code == 0 and .stores == 4' "rep/$id.status.json" >/dev/null ||
  fail "final status file: $(cat "rep/$id.status.json")"
pass "status file ends Complete with exit code and counts"

# Generated data, --now, the default reports folder (UPTIME_REPORTS_DIR) and a given id.
UPTIME_REPORTS_DIR=$T/envrep trigger -n 3 --db u.db --report-id gen-3 >/dev/null
[ "$(wait_done envrep gen-3 | tail -1)" = Complete ] || fail "gen-3 did not complete"
UPTIME_REPORTS_DIR=$T/envrep "$GET" gen-3 >gen3.csv
same_files direct/u3.csv gen3.csv "generated data: triggered report equals the direct mpirun run"
expect_exit 2 "trigger_report refuses a report id already used" -- \
  env UPTIME_REPORTS_DIR="$T/envrep" "$TRIGGER" --db u.db --report-id gen-3
id=$(trigger -n 2 --db g.db --reports-dir rep --now "2023-01-25 18:13:22 UTC")
wait_done rep "$id" >/dev/null
"$GET" "$id" --reports-dir rep >asof.csv
same_files "$G/expected.csv" asof.csv "--now reaches the job"

# --parallel-write reaches the job (mpirun's command line, recorded on the way).
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/mpirun-args"\nexec "%s" "$@"\n' "$T" "$(command -v "$MPIEXEC")" >mpirun-rec
chmod +x mpirun-rec
id=$(MPIEXEC=$T/mpirun-rec trigger -n 3 --db u.db --reports-dir pw --parallel-write)
[ "$(wait_done pw "$id" | tail -1)" = Complete ] || fail "--parallel-write run did not complete"
"$GET" "$id" --reports-dir pw >pw.csv
same_files direct/u3.csv pw.csv "trigger_report --parallel-write: the direct run's report"
grep -q -- "-n 3 .*uptime_report .*--parallel-write" mpirun-args || fail "mpirun ran: $(cat mpirun-args)"
pass "--parallel-write reaches the job's command line"

# Two reports at the same time: independent ids, each its own complete CSV.
a=$(trigger -n 2 --db u.db --reports-dir both) &
b=$(trigger -n 2 --db g.db --reports-dir both)
wait
a=$(jq -r 'select(.source | endswith("/u.db")) | .report_id' both/*.status.json)
if [ -z "$a" ] || [ "$a" = "$b" ]; then fail "two triggers, ids '$a' and '$b'"; fi
wait_done both "$a" >/dev/null
wait_done both "$b" >/dev/null
"$GET" "$a" --reports-dir both >a.csv
"$GET" "$b" --reports-dir both >b.csv
same_files direct/u3.csv a.csv "first of two simultaneous reports is complete and right"
same_files "$G/expected.csv" b.csv "second of two simultaneous reports is complete and right"

# A failing job: the database does not exist.
id=$(trigger -n 2 --db "$T/missing.db" --reports-dir rep)
[ "$(wait_done rep "$id" | tail -1)" = Failed ] || fail "job on a missing database did not fail"
rc=$(get_rc "$id" --reports-dir rep)
[ "$rc" -eq 11 ] || fail "get_report of a failed job: exit $rc"
jq -e '.status == "Failed" and (.error | test("missing.db"))' "$T/get.out" >/dev/null ||
  fail "failed job's answer: $(cat "$T/get.out")"
[ ! -e "rep/$id.csv" ] || fail "a failed job left a CSV"
pass "a job on a missing database ends Failed with the job's reason: $(jq -r .error "$T/get.out")"

# kill of mpirun (its pid in the status file) while the job waits for a locked database.
hold_db g.db
id=$(trigger -n 2 --db g.db --reports-dir rep)
wait_field rep "$id" rank0_pid
[ "$(get_rc "$id" --reports-dir rep)" -eq 10 ] || fail "job on a locked database is not running"
kill "$(jq -r .pid "rep/$id.status.json")"
[ "$(wait_done rep "$id" 30 | tail -1)" = Failed ] || fail "killed job did not end Failed"
jq -e '.error | test("killed")' "$T/get.out" >/dev/null || fail "killed job: $(cat "$T/get.out")"
[ -z "$(find rep -name "*$id.csv*")" ] || fail "a killed job left a CSV: $(ls -a rep)"
pass "kill of mpirun: Failed, $(jq -r .error "$T/get.out"), no CSV"

# The whole run killed at once (wrapper, mpirun and ranks: no one left to say so).
id=$(trigger -n 2 --db g.db --reports-dir rep)
wait_field rep "$id" rank0_pid
pkill -KILL -s "$(jq -r .wrapper_pid "rep/$id.status.json")" # the run's own session
release_db
rc=$(get_rc "$id" --reports-dir rep)
[ "$rc" -eq 11 ] || fail "get_report of a run killed without a word: exit $rc, $(cat "$T/get.out")"
jq -e --arg p "$(jq -r .pid "rep/$id.status.json")" '.error == "killed (pid \($p) no longer running)"' \
  "$T/get.out" >/dev/null || fail "answer: $(cat "$T/get.out")"
jq -e '.status == "Failed" and (.error | test("killed"))' "rep/$id.status.json" >/dev/null ||
  fail "get_report did not record its verdict"
[ -z "$(find rep -name "*$id.csv*")" ] || fail "a killed run left a CSV"
pass "run killed without a word: get_report finds the pid gone, records Failed, no CSV"

# get_report's errors: unknown, malformed, a path out of the reports folder.
expect_exit 12 "get_report of an unknown id" -- "$GET" no-such-report --reports-dir rep
grep -q "unknown report id" "$T/err.txt" || fail "unknown id message: $(cat "$T/err.txt")"
expect_exit 2 "get_report of a malformed id" -- "$GET" 'bad id!' --reports-dir rep
grep -q "malformed report id" "$T/err.txt" || fail "malformed id message: $(cat "$T/err.txt")"
expect_exit 2 "get_report of ../etc/passwd" -- "$GET" ../etc/passwd --reports-dir rep
grep -q "malformed report id '../etc/passwd'" "$T/err.txt" || fail "../etc/passwd: $(cat "$T/err.txt")"
[ ! -s "$T/out.txt" ] || fail "get_report printed something for ../etc/passwd"
expect_exit 2 "get_report of a 65-character id" -- "$GET" "$(printf 'a%.0s' {1..65})" --reports-dir rep
expect_exit 2 "get_report without an id" -- "$GET" --reports-dir rep
echo "$checks passed, 0 failed"
