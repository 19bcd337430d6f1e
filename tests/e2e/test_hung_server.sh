#!/usr/bin/env bash
# A PostgreSQL server that stops answering (issue 13, defect 4), on a private server of
# this test's own (its own folder and port: the shared one is never stopped). Its
# processes are stopped with SIGSTOP, so its kernel still acknowledges every packet and
# neither TCP keepalives nor tcp_user_timeout ever fire: only --timeout ends the waits.
# Checked for a report stopped while its ranks read their polls, a report and a load that
# start against the stopped server, a load stopped in its COPY, a live server that keeps
# a rank waiting on a lock (its own statement_timeout, set for the deadline), a run
# started by trigger_report --timeout, a snapshot, and the watchdog that ends a job whose
# rank is stuck where no deadline reaches (a FIFO opened as a SQLite file): each ends
# within a bound with exit 8, status Failed naming the timeout and the step, no CSV, no
# temporary file and no process left. Every wait of the test is bounded too.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"
pg_need # the shared server must exist too: this test's server is made the same way
PGS=$UP_SRC/scripts/pg-server.sh
SNAPSHOT=$UP_BUILD/uptime_snapshot
R=$$ # in every report id: other tests' runs may share an id, and no_leftovers looks system-wide

port=$(free_port $((21000 + $$ % 1000)))
export UPTIME_PG_DIR=/tmp/uptime-pg-hung.$$ UPTIME_PG_PORT=$port
pg=postgresql://postgres@127.0.0.1:$port/uptime_test

# The server's processes: the postmaster (first line of postmaster.pid) and its children.
server_pids() {
  local pm
  pm=$(head -n 1 "$UPTIME_PG_DIR/data/postmaster.pid" 2>/dev/null) || return 0
  [ -n "$pm" ] || return 0
  echo "$pm"
  ps -o pid= --ppid "$pm" || true
}
freeze() { # the postmaster first, so that it forks no new backend
  local p
  for p in $(server_pids); do kill -STOP "$p" 2>/dev/null || true; done
}
thaw() {
  local p
  for p in $(server_pids | tac); do kill -CONT "$p" 2>/dev/null || true; done
}
bgpids=()
cleanup() {
  local p
  thaw
  for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null || true; done
  timeout 60 env UPTIME_PG_DIR="$UPTIME_PG_DIR" UPTIME_PG_PORT="$port" "$PGS" stop >/dev/null 2>&1 || true
  rm -rf "$UPTIME_PG_DIR"
  pg_cleanup
  rm -rf "$T"
}
trap cleanup EXIT
timeout 120 "$PGS" start >/dev/null

# no_leftovers DIR ID: no CSV, no temporary report, no process of the run.
no_leftovers() {
  [ ! -e "$1/$2.csv" ] || fail "$2: a CSV appeared"
  [ -z "$(ls -A "$1" | grep -F ".$2.csv.tmp" || true)" ] || fail "$2: a temporary report was left: $(ls -A "$1")"
  ! pgrep -f -- "--report-id $2( |\$)" >/dev/null || fail "$2: a process of the run is still there: $(pgrep -fa -- "--report-id $2")"
}
# failed_with DIR ID REGEX: status Failed, its error matching REGEX.
failed_with() {
  jq -e --arg re "$3" '.status == "Failed" and (.error | test($re))' "$1/$2.status.json" >/dev/null ||
    { cat "$1/$2.status.json" >&2; fail "$2: status is not Failed with /$3/"; }
}
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }
under() { awk -v t="$1" -v m="$2" 'BEGIN { exit !(t < m) }'; }

"$GEN" --out small --stores 200 --days 9 --seed 5 --ids mixed 2>/dev/null
timeout 120 "$LOAD" --db "$pg" --dir small --no-rejects -q
run_report 2 --db "$pg" --reports-dir rep --report-id ref --timeout 60
[ -s rep/ref.csv ] || fail "the reference report is missing"
pass "a report with --timeout 60 completes on a server that answers"

# waiting_on_lock N: N sessions of uptime wait on a lock (the ranks' poll reads).
waiting_on_lock() {
  local i
  for i in $(seq 500); do
    [ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'uptime' AND wait_event_type = 'Lock'")" -ge "$1" ] && return 0
    sleep 0.02
  done
  return 1
}
# hold_lock SECONDS: another session keeps the polls (store_status, status_pack) locked (as a long DDL would);
# release_lock ends it (its server session too: pg_sleep does not notice a client gone).
hold_lock() {
  PGAPPNAME=uptime_test_lock psql -X -q "$pg" -c "BEGIN; LOCK TABLE store_status, status_pack IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($1)" >/dev/null 2>&1 &
  lockpid=$!
  bgpids+=("$lockpid")
  for _ in $(seq 250); do
    [ "$(pg_q "$pg" "SELECT count(*) FROM pg_locks WHERE relation = 'status_pack'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && return 0
    sleep 0.02
  done
  fail "the lock was never taken"
}
release_lock() {
  pg_q "$pg" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'uptime_test_lock'" >/dev/null
  wait "$lockpid" 2>/dev/null || true
}

# ---- the server stops while every rank reads its polls ----
hold_lock 120
start=$(now_s)
got=0
timeout 60 "$MPIEXEC" -n 2 "$REPORT" --quiet --timeout 5 --db "$pg" --reports-dir rep --report-id "hung$R" >out.txt 2>err.txt &
reppid=$!
waiting_on_lock 2 || { cat err.txt; fail "the ranks never reached their poll reads"; }
freeze
pass "server stopped (SIGSTOP) with both ranks waiting in their reads, $(since "$start") s after the start"
wait "$reppid" || got=$?
took=$(since "$start")
[ "$got" -eq 8 ] || { cat err.txt; fail "server stopped mid-report: exit $got, expected 8 (124 = hung)"; }
under "$took" 20 || fail "the report took $took s to fail, --timeout 5"
failed_with rep "hung$R" 'read polls: timed out after 5 s \(--timeout\)'
no_leftovers rep "hung$R"
pass "stopped mid-report: exit 8 after $took s on 2 ranks, no CSV, no temporary file, no rank left: $(jq -r .error rep/hung$R.status.json)"
thaw
release_lock

# ---- a live server that keeps the ranks waiting: its own timeout, set for the deadline ----
hold_lock 120
start=$(now_s)
got=0
timeout 60 "$MPIEXEC" -n 2 "$REPORT" --quiet --timeout 4 --db "$pg" --reports-dir rep --report-id "slow$R" >out.txt 2>err.txt || got=$?
took=$(since "$start")
release_lock
[ "$got" -eq 8 ] || { cat err.txt; fail "a rank kept waiting on a lock: exit $got, expected 8"; }
under "$took" 15 || fail "the report took $took s to fail, --timeout 4"
failed_with rep "slow$R" 'timed out after 4 s \(--timeout\) \(the server cancelled it'
no_leftovers rep "slow$R"
[ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'uptime'")" = 0 ] ||
  fail "sessions of the run are left on the server"
pass "a lock that outlasts --timeout 4: the server cancels the read, exit 8 after $took s, no session left"

# ---- a report and a load that start against the stopped server ----
freeze
start=$(now_s)
got=0
timeout 60 "$MPIEXEC" -n 2 "$REPORT" --quiet --timeout 5 --db "$pg" --reports-dir rep --report-id "early$R" >out.txt 2>err.txt || got=$?
took=$(since "$start")
[ "$got" -eq 8 ] || { cat err.txt; fail "report on a stopped server: exit $got, expected 8"; }
under "$took" 20 || fail "the report took $took s to fail, --timeout 5"
failed_with rep "early$R" 'connect: timed out after 5 s'
no_leftovers rep "early$R"
pass "report started on the stopped server: exit 8 after $took s ($(jq -r .error rep/early$R.status.json))"

mkdir -p rej
echo "file,line,reason,detail,value" >rej/rejects.csv
start=$(now_s)
got=0
timeout 60 "$LOAD" --db "$pg" --dir small --rejects rej/rejects.csv --timeout 5 >out.txt 2>err.txt || got=$?
took=$(since "$start")
[ "$got" -eq 8 ] || { cat err.txt; fail "load into a stopped server: exit $got, expected 8"; }
under "$took" 20 || fail "the load took $took s to fail, --timeout 5"
grep -q "connect: timed out after 5 s (--timeout)" err.txt || { cat err.txt; fail "no clear message"; }
grep -q "nothing loaded (exit 8" err.txt || { cat err.txt; fail "no 'nothing loaded'"; }
[ "$(ls -A rej)" = rejects.csv ] && [ "$(cat rej/rejects.csv)" = "file,line,reason,detail,value" ] ||
  fail "the rejects file was touched or a temporary left: $(ls -A rej)"
pass "load into the stopped server: exit 8 after $took s, rejects file untouched"

# ---- a run started by trigger_report --timeout ----
export UPTIME_REPORT=$REPORT UPTIME_CTL=$UP_BUILD/uptime_ctl
timeout 60 "$UP_SRC/jobs/trigger_report" -n 2 --db "$pg" -r trig --report-id "trig$R" --timeout 5 >out.txt 2>err.txt ||
  { cat err.txt; fail "trigger_report --timeout 5 did not start"; }
got=10
for _ in $(seq 300); do
  got=0
  timeout 30 "$UP_SRC/jobs/get_report" "trig$R" -r trig >answer.txt 2>/dev/null || got=$?
  [ "$got" -eq 10 ] || break
  sleep 0.1
done
[ "$got" -eq 11 ] || { cat answer.txt "trig/trig$R.log"; fail "triggered report: get_report exit $got, expected 11 (failed)"; }
grep -q 'timed out after 5 s' answer.txt || { cat answer.txt; fail "get_report does not say it timed out"; }
for _ in $(seq 300); do # the wrapper records mpirun's exit code once mpirun has ended
  [ "$(jq -r '.exit_code // empty' "trig/trig$R.status.json")" = "" ] || break
  sleep 0.1
done
jq -e '.exit_code == 8' "trig/trig$R.status.json" >/dev/null || { cat "trig/trig$R.status.json"; fail "mpirun's exit code is not 8"; }
no_leftovers trig "trig$R"
pass "trigger_report --timeout 5 reaches the job: $(cat answer.txt)"

# ---- a snapshot ----
if [ -x "$SNAPSHOT" ]; then
  start=$(now_s)
  got=0
  timeout 60 "$MPIEXEC" -n 2 "$SNAPSHOT" --quiet --timeout 5 --db "$pg" --output snap.h5 >out.txt 2>err.txt || got=$?
  took=$(since "$start")
  [ "$got" -eq 8 ] || { cat err.txt; fail "snapshot of a stopped server: exit $got, expected 8"; }
  under "$took" 20 || fail "the snapshot took $took s to fail, --timeout 5"
  grep -q "timed out after 5 s" err.txt || { cat err.txt; fail "no clear message"; }
  [ -z "$(ls -A . | grep '^snap\.h5' || true)" ] || fail "a snapshot file was left: $(ls -A)"
  pass "snapshot of the stopped server: exit 8 after $took s, no file"
fi
thaw

# ---- a load stopped in its COPY ----
counts() { pg_q "$pg" "SELECT (SELECT count(*) FROM store_status) || ' ' || (SELECT count(*) FROM business_hours)
  || ' ' || (SELECT count(*) FROM store_timezone) || ' ' || (SELECT count(*) FROM store_summary)"; }
before=$(counts)
"$GEN" --out big --stores 6000 --days 7 --seed 2 --end "2023-02-20 00:00:00 UTC" 2>/dev/null
start=$(now_s)
timeout 60 "$LOAD" --db "$pg" --dir big --no-rejects -q --timeout 8 >load.out 2>load.err &
loadpid=$!
bgpids+=("$loadpid")
for _ in $(seq 400); do
  [ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%COPY up_status_stage%' AND pid <> pg_backend_pid()" 2>/dev/null)" = 1 ] && break
  sleep 0.02
done
freeze
got=0
wait "$loadpid" || got=$?
took=$(since "$start")
[ "$got" -eq 8 ] || { cat load.err; fail "load stopped in its COPY: exit $got, expected 8"; }
under "$took" 25 || fail "the load took $took s to fail, --timeout 8"
grep -q "timed out after 8 s (--timeout)" load.err || { cat load.err; fail "no clear message"; }
thaw
for _ in $(seq 250); do # the server ends the dead session's transaction once it runs again
  [ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'uptime'")" = 0 ] && break
  sleep 0.02
done
[ "$(counts)" = "$before" ] || fail "tables changed by the load that timed out: $before -> $(counts)"
pass "load stopped in its COPY: exit 8 after $took s ($(grep -o 'postgresql [^ ]*: [^:]*: timed out' load.err | head -n 1)), nothing stored"

# ---- the watchdog: a rank stuck where no deadline reaches ----
mkfifo fifo.db # opening it blocks until a writer comes: never
start=$(now_s)
got=0
timeout 60 "$MPIEXEC" -n 2 "$REPORT" --quiet --timeout 2 --db fifo.db --reports-dir rep --report-id "stuck$R" >out.txt 2>err.txt || got=$?
took=$(since "$start")
[ "$got" -eq 8 ] || { cat err.txt; fail "a stuck rank: exit $got, expected 8"; }
under "$took" 25 || fail "the watchdog took $took s, --timeout 2 + 10 s of grace"
failed_with rep "stuck$R" 'timed out after 2 s \(--timeout\); a rank was still busy 10 s later'
no_leftovers rep "stuck$R"
pass "a rank stuck opening a FIFO: the watchdog ends the job after $took s, exit 8, status Failed"
echo "$checks passed, 0 failed"
