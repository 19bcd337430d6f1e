#!/usr/bin/env bash
# Report lifecycle through a real Slurm cluster (the private one of
# scripts/slurm-cluster.sh, started here if SLURM_CONF is unset): trigger_report --slurm
# -> Pending/Running -> Complete with 2 and 4 tasks, the CSV equal to a direct mpirun run's;
# a failing job; scancel of a running job; two jobs at once; the batch script by hand.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
need_slurm
G=$UP_SRC/tests/data/golden

"$LOAD" --db g.db --dir "$G" --no-rejects >/dev/null
"$GEN" --out in --stores 400 --days 9 --seed 4 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects >/dev/null
run_report 2 --db u.db --reports-dir direct --report-id u2

# Golden and generated data, 2 and 4 tasks.
for n in 2 4; do
  start=$(date +%s%N)
  id=$(trigger --slurm -n "$n" --time 5 --db g.db --reports-dir rep)
  echo "# trigger_report --slurm returned in $((($(date +%s%N) - start) / 1000000)) ms"
  jq -e --argjson n "$n" '.status == "Pending" and .launcher == "slurm" and .ranks == $n
    and (.slurm_job_id | type) == "number"' "rep/$id.status.json" >/dev/null ||
    fail "status file after trigger: $(cat "rep/$id.status.json")"
  pass "$n tasks: trigger_report records Pending with the Slurm job id"
  seen=$(wait_done rep "$id" | paste -sd' ')
  echo "# $n tasks: submit to Complete in $((($(date +%s%N) - start) / 1000000)) ms"
  case $seen in
    "Pending Running Complete" | "Pending Complete" | "Running Complete" | "Complete") ;;
    *) fail "statuses seen: $seen" ;;
  esac
  pass "$n tasks: get_report goes $seen"
  "$GET" "$id" --reports-dir rep >got.csv
  same_files "$G/expected.csv" got.csv "$n tasks: the Slurm job's CSV is the hand-computed one"
  wait_field rep "$id" exit_code # the batch script's last word, after the job's Complete
  jq -e --argjson n "$n" '.status == "Complete" and .ranks == $n and .exit_code == 0
    and .slurm_nodes == "localhost"' "rep/$id.status.json" >/dev/null ||
    fail "final status: $(cat "rep/$id.status.json")"
  pass "$n tasks: the status file says Complete on $n ranks"
  grep -q "Slurm job" "rep/$id.log" || fail "no job log rep/$id.log"

  id=$(trigger --slurm -n "$n" --db u.db --reports-dir rep)
  [ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "generated data on $n tasks"
  "$GET" "$id" --reports-dir rep -o gen.csv
  same_files direct/u2.csv gen.csv "$n tasks: generated data equals the direct mpirun run"
done

# --parallel-write reaches every rank of the batch job (the program's arguments, recorded
# by a wrapper given as UPTIME_REPORT).
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/report-args"\nexec "%s" "$@"\n' "$T" "$REPORT" >report-rec
chmod +x report-rec
id=$(UPTIME_REPORT=$T/report-rec UPTIME_CTL=$UP_BUILD/uptime_ctl trigger --slurm -n 3 --db u.db --reports-dir rep --parallel-write)
[ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "--parallel-write on 3 tasks"
"$GET" "$id" --reports-dir rep -o pw.csv
same_files direct/u2.csv pw.csv "--parallel-write, 3 Slurm tasks: the direct mpirun run's report"
[ "$(grep -c -- "--parallel-write" report-args)" = 3 ] || fail "ranks ran with: $(cat report-args)"
pass "--parallel-write reaches all 3 ranks of the batch job"

# Pending is seen while the job waits in the queue (a hold keeps it there).
id=$(trigger --slurm -n 2 --db g.db --reports-dir rep --sbatch-arg=--hold)
jid=$(jq -r .slurm_job_id "rep/$id.status.json")
rc=$(get_rc "$id" --reports-dir rep)
[ "$rc:$(cat "$T/get.out")" = '10:{"status": "Pending"}' ] || fail "held job: $rc $(cat "$T/get.out")"
pass "a queued job is Pending (exit 10)"
scontrol release "$jid"
[ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "released job did not complete"
pass "released, it completes"

# Two reports at the same time.
a=$(trigger --slurm -n 2 --db u.db --reports-dir both)
b=$(trigger --slurm -n 4 --db g.db --reports-dir both)
[ "$a" != "$b" ] || fail "same id twice"
wait_done both "$a" >/dev/null
wait_done both "$b" >/dev/null
"$GET" "$a" --reports-dir both >a.csv
"$GET" "$b" --reports-dir both >b.csv
same_files direct/u2.csv a.csv "first of two simultaneous Slurm reports"
same_files "$G/expected.csv" b.csv "second of two simultaneous Slurm reports"

# A failing job: the database does not exist.
id=$(trigger --slurm -n 2 --db "$T/missing.db" --reports-dir rep)
[ "$(wait_done rep "$id" | tail -1)" = Failed ] || fail "job on a missing database did not fail"
jq -e '.status == "Failed" and (.error | test("missing.db"))' "$T/get.out" >/dev/null ||
  fail "answer: $(cat "$T/get.out")"
[ ! -e "rep/$id.csv" ] || fail "a failed job left a CSV"
wait_field rep "$id" exit_code
jq -e '.exit_code == 3' "rep/$id.status.json" >/dev/null || fail "exit code: $(cat "rep/$id.status.json")"
pass "Slurm job on a missing database: Failed, $(jq -r .error "$T/get.out"), exit code 3"

# scancel of a running job (it waits for a locked database).
hold_db g.db
id=$(trigger --slurm -n 2 --db g.db --reports-dir rep)
wait_field rep "$id" rank0_pid
rc=$(get_rc "$id" --reports-dir rep)
[ "$rc:$(cat "$T/get.out")" = '10:{"status": "Running"}' ] || fail "job on a locked database: $rc $(cat "$T/get.out")"
jid=$(jq -r .slurm_job_id "rep/$id.status.json")
scancel "$jid"
[ "$(wait_done rep "$id" 60 | tail -1)" = Failed ] || fail "cancelled job did not end Failed"
release_db
jq -e --arg j "$jid" '.error == "cancelled (Slurm job \($j) CANCELLED)"' "$T/get.out" >/dev/null ||
  fail "cancelled job: $(cat "$T/get.out")"
jq -e '.status == "Failed" and (.error | test("cancelled"))' "rep/$id.status.json" >/dev/null ||
  fail "verdict not recorded: $(cat "rep/$id.status.json")"
[ -z "$(find rep -name "*$id.csv*")" ] || fail "a cancelled job left a CSV"
pass "scancel: Failed, $(jq -r .error "$T/get.out"), no CSV"

# The batch script submitted by hand (its own report id, #SBATCH defaults overridden).
mkdir -p hand
jid=$(cd hand && UPTIME_HOME=$UP_SRC sbatch --parsable -n 3 --output=job.log \
  "$UP_SRC/slurm/uptime_report.sbatch" --db "$T/g.db" --report-id by-hand --quiet)
jid=${jid%%;*}
wait_field hand/reports by-hand status # no status file until the job starts
[ "$(wait_done hand/reports by-hand | tail -1)" = Complete ] || fail "by-hand job: $(cat hand/job.log)"
same_files "$G/expected.csv" hand/reports/by-hand.csv "sbatch slurm/uptime_report.sbatch by hand"
jq -e --argjson j "$jid" '.slurm_job_id == $j and .ranks == 3' hand/reports/by-hand.status.json >/dev/null ||
  fail "by-hand status: $(cat hand/reports/by-hand.status.json)"
pass "by hand: the batch script keeps the status file"

# The same id submitted again after it ended does not run: exit 2, files untouched.
wait_field hand/reports by-hand exit_code
before=$(md5sum hand/reports/by-hand.csv hand/reports/by-hand.status.json)
jid=$(cd hand && UPTIME_HOME=$UP_SRC sbatch --parsable -n 2 --output=again.log \
  "$UP_SRC/slurm/uptime_report.sbatch" --db "$T/g.db" --report-id by-hand --quiet)
jid=${jid%%;*}
start=$SECONDS
while squeue -h -j "$jid" 2>/dev/null | grep -q .; do
  [ $((SECONDS - start)) -lt 60 ] || fail "the second by-hand job never ended"
  sleep 0.2
done
grep -q "already ended (Complete): a report id runs once" "hand/uptime-report-$jid.log" ||
  fail "second submission: $(cat "hand/uptime-report-$jid.log" hand/again.log)"
[ "$(md5sum hand/reports/by-hand.csv hand/reports/by-hand.status.json)" = "$before" ] ||
  fail "the second submission changed the report's files"
pass "an ended id submitted again: refused, its CSV and status untouched"
echo "$checks passed, 0 failed"
