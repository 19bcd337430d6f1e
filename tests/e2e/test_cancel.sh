#!/usr/bin/env bash
# Cancelling a report (issue 13, defect 5): SIGTERM to a detached mpirun at several moments
# leaves a status and an exit code that agree -- Complete with exit code 0 and the whole
# CSV, or Failed with a non-zero exit code and no CSV -- never a CSV beside Failed nor
# Complete without one, and no temporary or lock left. A rank killed by a signal is named
# in the Failed reason (rank, pid, host, signal). A run killed between the CSV's rename and
# its Complete is complete: get_report and the batch script's end record it so.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
CTL=$UP_BUILD/uptime_ctl
G=$UP_SRC/tests/data/golden

"$LOAD" --db g.db --dir "$G" --no-rejects >/dev/null
# Big enough that a report takes most of a second on two ranks, so that signals land in
# every phase.
"$GEN" --out in --stores 3000 --days 8 --seed 5 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects >/dev/null
run_report 2 --db u.db --reports-dir direct --report-id whole

# ended ID: waits (bounded) for the wrapper's exit_code, its last word.
ended() {
  local f="rep/$1.status.json" start=$SECONDS
  until jq -e '.exit_code != null' "$f" >/dev/null 2>&1; do
    [ $((SECONDS - start)) -lt 60 ] || fail "$1: no exit code after 60 s: $(cat "$f")"
    sleep 0.05
  done
}

# agree ID WHAT: the run's status, exit code, CSV and leftovers agree. Prints the status.
agree() {
  local id=$1 what=$2 st code
  st=$(jq -r .status "rep/$id.status.json")
  code=$(jq -r .exit_code "rep/$id.status.json")
  case $st in
    Complete)
      [ "$code" -eq 0 ] || fail "$what: Complete with exit code $code"
      [ -f "rep/$id.csv" ] || fail "$what: Complete without a CSV"
      cmp -s "rep/$id.csv" direct/whole.csv || fail "$what: the CSV is not the whole report"
      [ "$(get_rc "$id" --reports-dir rep)" -eq 0 ] || fail "$what: get_report does not say complete"
      ;;
    Failed)
      [ "$code" -ne 0 ] || fail "$what: Failed with exit code 0"
      [ ! -e "rep/$id.csv" ] || fail "$what: a CSV beside Failed"
      [ -n "$(jq -r '.error // ""' "rep/$id.status.json")" ] || fail "$what: Failed without a reason"
      [ "$(get_rc "$id" --reports-dir rep)" -eq 11 ] || fail "$what: get_report does not say failed"
      ;;
    *) fail "$what: the run ended '$st'" ;;
  esac
  [ -z "$(find rep -name ".$id.*")" ] || fail "$what: left behind: $(find rep -name ".$id.*")"
  printf '%s\n' "$st"
}

# ---- SIGTERM to mpirun (the pid in the status file) at several moments ----

# While the job waits for a database another process holds: it cannot have published.
hold_db u.db
id=$(trigger -n 2 --db u.db --reports-dir rep)
wait_field rep "$id" rank0_pid
kill -TERM "$(jq -r .pid "rep/$id.status.json")"
ended "$id"
release_db
[ "$(agree "$id" "SIGTERM while the job waits")" = Failed ] || fail "a job cancelled before it computed anything is not Failed"
jq -e '.error | test("killed")' "rep/$id.status.json" >/dev/null || fail "reason: $(jq -r .error "rep/$id.status.json")"
pass "SIGTERM while the job waits for the database: Failed ($(jq -r .error "rep/$id.status.json")), exit code $(jq -r .exit_code "rep/$id.status.json"), no CSV"

# At fixed delays into the run, and as soon as the status says writing: whichever side of
# the rename the signal falls, status, exit code and CSV agree.
for moment in 0.05 0.3 0.6 writing; do
  id=$(trigger -n 2 --db u.db --reports-dir rep)
  mp=$(jq -r .pid "rep/$id.status.json")
  if [ "$moment" = writing ]; then
    start=$SECONDS
    until jq -e '.phase == "writing" or .phase == "done" or .exit_code != null' "rep/$id.status.json" >/dev/null 2>&1; do
      [ $((SECONDS - start)) -lt 60 ] || fail "$id never reached writing"
      sleep 0.01
    done
  else
    sleep "$moment"
  fi
  kill -TERM "$mp" 2>/dev/null && sent=delivered || sent="too late, mpirun had ended"
  ended "$id"
  st=$(agree "$id" "SIGTERM at $moment")
  pass "SIGTERM at $moment ($sent): $st, exit code $(jq -r .exit_code "rep/$id.status.json"), CSV and status agree"
done

# Once the status says Complete mpirun is often still finalizing: its SIGTERM then makes it
# exit 1, and the run is still complete (exit code 0), as its CSV is.
delivered=0
for try in 1 2 3 4 5; do
  id=$(trigger -n 2 --db u.db --reports-dir rep)
  mp=$(jq -r .pid "rep/$id.status.json")
  start=$SECONDS
  until jq -e '.status == "Complete" or .exit_code != null' "rep/$id.status.json" >/dev/null 2>&1; do
    [ $((SECONDS - start)) -lt 60 ] || fail "$id never completed"
    sleep 0.005
  done
  kill -TERM "$mp" 2>/dev/null && delivered=$((delivered + 1))
  ended "$id"
  [ "$(agree "$id" "SIGTERM after Complete (try $try)")" = Complete ] || fail "a report already Complete turned $(jq -r .status "rep/$id.status.json")"
  [ "$delivered" -eq 0 ] || break
done
[ "$delivered" -gt 0 ] || fail "mpirun had always ended before the SIGTERM: the case was not exercised"
pass "SIGTERM after Complete (mpirun finalizing): Complete, exit code 0, the whole CSV"

# ---- a rank killed: the reason names it ----
for victim in 1 0; do
  hold_db g.db
  id=$(trigger -n 2 --db g.db --reports-dir rep)
  wait_field rep "$id" rank_pids
  pid=$(jq -r ".rank_pids[$victim]" "rep/$id.status.json")
  host=$(jq -r ".rank_hosts[$victim]" "rep/$id.status.json")
  [ "$pid" -gt 0 ] || fail "no pid recorded for rank $victim: $(cat "rep/$id.status.json")"
  kill -KILL "$pid"
  ended "$id"
  release_db
  [ "$(agree "$id" "rank $victim killed")" = Failed ] || fail "rank $victim killed: not Failed"
  why=$(jq -r .error "rep/$id.status.json")
  [[ $why == *"rank $victim (pid $pid on $host) was killed by signal KILL"* ]] || fail "reason does not name rank $victim: $why"
  pass "kill -9 of rank $victim: Failed, '$why'"
done

# Through Slurm (when a cluster is configured): srun names the task and its node, the job's
# record gives the pid.
if [ -n "${SLURM_CONF:-}" ]; then
  need_slurm
  hold_db g.db
  id=$(trigger --slurm -n 2 --time 5 --db "$T/g.db" --reports-dir rep)
  wait_field rep "$id" rank_pids 60
  pid=$(jq -r '.rank_pids[1]' "rep/$id.status.json")
  host=$(jq -r '.rank_hosts[1]' "rep/$id.status.json")
  kill -KILL "$pid"
  ended "$id"
  release_db
  [ "$(agree "$id" "Slurm task 1 killed")" = Failed ] || fail "Slurm task 1 killed: not Failed"
  why=$(jq -r .error "rep/$id.status.json")
  [[ $why == *"rank 1 (pid $pid on $host) was killed by signal KILL"* ]] || fail "reason does not name rank 1: $why"
  pass "kill -9 of a Slurm task: Failed, '$why'"
else
  echo "# SKIP: no SLURM_CONF: the Slurm case"
fi

# ---- published, then killed before Complete: the report is complete ----
# A run whose every process is gone (pids that do not exist), its CSV in place, the status
# still Running: get_report's verdict is Complete, exit 0, the CSV.
dead=$(sh -c 'echo $$')
cp direct/whole.csv rep/pub.csv
jq -n --arg h "$(hostname)" --argjson p "$dead" '{report_id: "pub", status: "Running", launcher: "local",
  host: $h, pid: $p, wrapper_pid: $p, rank0_pid: $p, rank0_host: $h, error: null}' >rep/pub.status.json
rc=$(get_rc pub --reports-dir rep)
[ "$rc" -eq 0 ] || fail "get_report of a published run that died before Complete: exit $rc, $(cat "$T/get.out" "$T/get.err")"
cmp -s "$T/get.out" direct/whole.csv || fail "get_report did not print the published CSV"
jq -e '.status == "Complete" and .error == null and .progress == 100' rep/pub.status.json >/dev/null ||
  fail "verdict not recorded as Complete: $(cat rep/pub.status.json)"
pass "a run killed after its rename, before its Complete: get_report records Complete and prints the CSV"

# The batch script's end after srun was killed past the rename: Complete, exit code 0; and
# before it (no CSV): Failed, the exit code kept.
mkdir -p batch
cp direct/whole.csv batch/b1.csv
printf '{"report_id": "b1", "status": "Running", "launcher": "slurm"}\n' >batch/b1.status.json
printf '{"report_id": "b2", "status": "Running", "launcher": "slurm"}\n' >batch/b2.status.json
: >batch/.b2.csv.tmp.AbC123
expect_exit 0 "batch_end after srun ended 143 past the rename" -- "$CTL" batch_end -r batch -i b1 --exit-code 143
jq -e '.status == "Complete" and .exit_code == 0' batch/b1.status.json >/dev/null || fail "b1: $(cat batch/b1.status.json)"
expect_exit 137 "batch_end after srun ended 137 before the rename" -- "$CTL" batch_end -r batch -i b2 --exit-code 137
jq -e '.status == "Failed" and .exit_code == 137' batch/b2.status.json >/dev/null || fail "b2: $(cat batch/b2.status.json)"
[ ! -e batch/.b2.csv.tmp.AbC123 ] || fail "b2: the partial CSV was left"
pass "batch_end: a published CSV is Complete (exit code 0); none is Failed with srun's code"
echo "$checks passed, 0 failed"
