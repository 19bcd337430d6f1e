#!/usr/bin/env bash
# A password never leaves the source string: with a password-protected role (on a private
# server of this test's own, whose role uptime_pw needs its password over TCP), a load and
# triggered reports -- key=value and URI forms, locally and through Slurm when a cluster
# is configured -- succeed (so the password did reach libpq), while `ps -eo args`, sampled
# all along, and every file the runs wrote (reports folder with its status, log and CSV
# files, the rejects file, new files under /tmp) never show it.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
pg_need # the shared server must exist too: this test's server is made the same way
PGS=$UP_SRC/scripts/pg-server.sh
G=$UP_SRC/tests/data/golden

port=$(free_port $((25000 + $$ % 1000)))
export UPTIME_PG_DIR=/tmp/uptime-pg-secrets.$$ UPTIME_PG_PORT=$port
SAMPLER=""
stop_sampler() {
  [ -n "$SAMPLER" ] || return 0
  touch "$T/stop"
  wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=""
}
trap 'stop_sampler; "$PGS" stop >/dev/null 2>&1 || true; rm -rf "$UPTIME_PG_DIR"; cleanup' EXIT
"$PGS" start >/dev/null
su="postgresql://postgres@127.0.0.1:$port/uptime_test"

# The secret: both ends are tokens a partial leak would still show; in between every
# character that libpq's two grammars treat specially.
head=Tok9ZqX tail=Qy7Wv
secret="$head se cr'et\\@:/?=&#%41 $tail"
sql_secret=${secret//\'/\'\'}
# The password goes to the server on stdin, never on a command line.
psql -X -q -v ON_ERROR_STOP=1 "$su" >/dev/null <<SQL
ALTER ROLE uptime_pw PASSWORD '$sql_secret';
ALTER DATABASE uptime_test OWNER TO uptime_pw;
SQL
kv_secret=${secret//\\/\\\\}
kv_secret=${kv_secret//\'/\\\'}
kv="host=127.0.0.1 port=$port dbname=uptime_test user=uptime_pw password='$kv_secret' connect_timeout=10"
uri="postgresql://uptime_pw:$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$secret")@127.0.0.1:$port/uptime_test"
export UPTIME_DB

# Without the password the role is refused: the runs below prove the password reached libpq.
expect_exit 3 "the role needs its password" -- env UPTIME_DB="postgresql://uptime_pw@127.0.0.1:$port/uptime_test" "$LOAD" --dir "$G" --no-rejects -q

marker=$T/marker
touch "$marker"
sleep 0.01
# ps sampled every 20 ms until told to stop.
(
  while [ ! -e "$T/stop" ]; do
    ps -ww -eo args >>"$T/ps.txt"
    sleep 0.02
  done
) &
SAMPLER=$!

# A load (with malformed rows, so that the rejects file has rows) through the URI.
"$GEN" --out in --stores 60 --days 9 --seed 5 --bad 0.02 2>/dev/null
UPTIME_DB=$uri "$LOAD" --dir in --rejects "$T/rejects.csv" >load.out 2>load.err ||
  fail "load with the password: $(cat load.err)"
grep -q "loaded into postgresql://uptime_pw:\*\*\*@127.0.0.1:$port/uptime_test" load.out ||
  fail "load summary: $(head -3 load.out)"
[ "$(wc -l <rejects.csv)" -gt 1 ] || fail "no rejects"
pass "uptime_load with a password: loaded, the summary names the source with the password hidden"
UPTIME_DB=$kv run_report 2 --reports-dir direct --report-id d

# Local runs, held at their first read a moment so that ps sees every process of them.
psql -X -q "$su" -c "BEGIN; LOCK TABLE store_status, status_pack IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2)" >/dev/null 2>&1 &
locker=$!
sleep 0.3
id=$(UPTIME_DB=$kv trigger -n 2 --reports-dir rep)
wait_field rep "$id" rank0_pid
ids=("$id")
[ "$(wait_done rep "$id" 60 | tail -1)" = Complete ] || fail "key=value run: $(cat "$T/get.out")"
wait "$locker" || true
"$GET" "$id" --reports-dir rep >kv.csv
same_files direct/d.csv kv.csv "key=value source with a quoted, escaped password: the report equals the direct run"
jq -e '.source | test("password=\\*\\*\\* connect_timeout=10$")' "rep/$id.status.json" >/dev/null ||
  fail "status source: $(jq .source "rep/$id.status.json")"
pass "the status file names the key=value source with its password hidden"

id=$(UPTIME_DB=$uri trigger -n 3 --reports-dir rep)
ids+=("$id")
[ "$(wait_done rep "$id" 60 | tail -1)" = Complete ] || fail "URI run: $(cat "$T/get.out")"
"$GET" "$id" --reports-dir rep >uri.csv
same_files direct/d.csv uri.csv "URI source with a %-encoded password: the report equals the direct run"
jq -e --arg p "$port" '.source == "postgresql://uptime_pw:***@127.0.0.1:\($p)/uptime_test"' \
  "rep/$id.status.json" >/dev/null || fail "status source: $(jq .source "rep/$id.status.json")"

if [ -n "${SLURM_CONF:-}" ] && sinfo -h >/dev/null 2>&1; then
  psql -X -q "$su" -c "BEGIN; LOCK TABLE store_status, status_pack IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2)" >/dev/null 2>&1 &
  locker=$!
  sleep 0.3
  id=$(UPTIME_DB=$kv trigger --slurm -n 2 --time 5 --reports-dir rep)
  ids+=("$id")
  jid=$(jq -r .slurm_job_id "rep/$id.status.json")
  wait_field rep "$id" rank0_pid
  scontrol show job "$jid" >scontrol.txt 2>&1 || true
  [ "$(wait_done rep "$id" 60 | tail -1)" = Complete ] || fail "Slurm run: $(cat "$T/get.out")"
  wait "$locker" || true
  "$GET" "$id" --reports-dir rep >slurm.csv
  same_files direct/d.csv slurm.csv "Slurm, key=value source with a password: the report equals the direct run"
  wait_field rep "$id" exit_code
  ! grep -q -e "$head" -e "$tail" scontrol.txt || fail "scontrol show job shows the password"
  pass "scontrol show job does not show the password"
else
  echo "# no Slurm cluster configured (SLURM_CONF): the Slurm case is skipped"
fi
stop_sampler

# ps saw the runs (mpirun, the ranks, the wrapper) and never the password.
grep -q "uptime_report" ps.txt || fail "ps never saw uptime_report: the sampling missed the runs"
grep -q -e "run_local" -e "--run-local" ps.txt || fail "ps never saw the local wrapper"
echo "# $(grep -c '' ps.txt) process lines sampled"
if grep -q -e "$head" -e "$tail" ps.txt; then
  grep -m 3 -e "$head" -e "$tail" ps.txt | cut -c1-300 >&2
  fail "a command line shows the password"
fi
pass "ps -eo args, sampled all along: no command line holds the password"

# Every file the runs wrote. Under /tmp: files new since the runs began, except this test's
# private server and slurmctld's saved job state (it keeps a batch job's environment, as for
# PGPASSWORD; docs/postgres.md).
for id in "${ids[@]}"; do
  for f in "rep/$id.status.json" "rep/$id.log" "rep/$id.csv"; do
    [ -e "$f" ] || fail "$f is missing"
  done
done
found=$(grep -rlF -e "$head" -e "$tail" rep direct rejects.csv load.out load.err || true)
[ -z "$found" ] || fail "the password is in: $found"
pass "reports folder (status, log, CSV and any other files), rejects file and load output: no password"
found=$(find /tmp -xdev -type f -newer "$marker" -size -64M ! -path "$UPTIME_PG_DIR/*" \
  ! -path "/tmp/uptime-slurm/state/*" ! -path "$T/ps.txt" -print0 2>/dev/null |
  xargs -0 -r grep -lF -e "$head" -e "$tail" 2>/dev/null || true)
[ -z "$found" ] || fail "the password is in: $found"
pass "no file written under /tmp since the runs began holds the password"
echo "$checks passed, 0 failed"
