#!/usr/bin/env bash
# PostgreSQL failures, on a second private server of this test's own (its own folder and
# port, so stopping it cannot disturb other tests): a load cut off by a stopped server
# leaves the earlier data intact; a report against an unreachable server, or a server
# that goes away while the ranks wait on it, fails within a bounded time with status
# Failed, exit 3, no CSV and no hung rank; bad credentials give a clear message and never
# show the password.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"
pg_need # the shared server must exist too: this test's server is made the same way
PGS=$UP_SRC/scripts/pg-server.sh

# A free port for the second server.
port=$(free_port $((23000 + $$ % 1000)))
export UPTIME_PG_DIR=/tmp/uptime-pg-fail.$$ UPTIME_PG_PORT=$port
trap 'UPTIME_PG_DIR=$UPTIME_PG_DIR UPTIME_PG_PORT=$port "$PGS" stop >/dev/null 2>&1 || true; rm -rf "$UPTIME_PG_DIR"; pg_cleanup; rm -rf "$T"' EXIT
"$PGS" start >/dev/null
pg=postgresql://postgres@127.0.0.1:$port/uptime_test
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
stop_now() { # pg_ctl stop -m immediate: like a crash, no clean shutdown of sessions
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/pg_ctl" stop -D "$UPTIME_PG_DIR/data" -m immediate -w >/dev/null
  else "$bin/pg_ctl" stop -D "$UPTIME_PG_DIR/data" -m immediate -w >/dev/null; fi
}

# ---- a load interrupted by a stopped server ----
"$GEN" --out small --stores 120 --days 9 --seed 4 --ids mixed 2>/dev/null
"$LOAD" --db "$pg" --dir small --no-rejects -q
run_report 2 --db "$pg" --reports-dir rep --report-id before
counts() { pg_q "$pg" "SELECT (SELECT count(*) FROM store_status) || ' ' || (SELECT count(*) FROM business_hours)
  || ' ' || (SELECT count(*) FROM store_timezone) || ' ' || (SELECT count(*) FROM store_summary)"; }
before=$(counts)
# A big load with new stores and newer polls (it would move now and add stores).
"$GEN" --out big --stores 6000 --days 7 --seed 2 --end "2023-02-20 00:00:00 UTC" 2>/dev/null
"$LOAD" --db "$pg" --dir big --no-rejects -q >load.out 2>load.err &
loadpid=$!
for _ in $(seq 600); do
  [ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY up_status_stage%'" 2>/dev/null)" = 1 ] && break
  sleep 0.02
done
[ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY up_status_stage%'")" = 1 ] ||
  fail "the load never reached its COPY of polls"
stop_now
got=0
wait "$loadpid" || got=$?
[ "$got" -eq 3 ] || { cat load.err; fail "interrupted load: exit $got, expected 3"; }
grep -q "postgresql postgresql://postgres@127.0.0.1:$port/uptime_test" load.err || { cat load.err; fail "no clear message"; }
pass "a load cut off by a stopped server exits 3: $(head -c 200 load.err)"
"$PGS" start >/dev/null
[ "$(counts)" = "$before" ] || fail "tables changed by the interrupted load: $before -> $(counts)"
pass "after restart every table is as before the interrupted load ($before)"
run_report 2 --db "$pg" --reports-dir rep --report-id after
same_files rep/before.csv rep/after.csv "the next report equals the one before the interrupted load"

# ---- an unreachable server ----
closed=$((port + 1))
while (exec 3<>"/dev/tcp/127.0.0.1/$closed") 2>/dev/null; do closed=$((closed + 1)); done
start=$(date +%s)
got=0
timeout 60 "$MPIEXEC" -n 4 "$REPORT" --quiet --db "postgresql://app:Sekr1t-pw@127.0.0.1:$closed/uptime" \
  --reports-dir rep --report-id unreach >out.txt 2>err.txt || got=$?
took=$(($(date +%s) - start))
[ "$got" -eq 3 ] || { cat err.txt; fail "unreachable server: exit $got, expected 3 (124 = hung)"; }
[ "$took" -le 30 ] || fail "unreachable server took $took s"
[ ! -e rep/unreach.csv ] && [ -z "$(ls rep | grep -v status.json | grep unreach || true)" ] || fail "a CSV appeared"
jq -e '.status == "Failed" and (.error | test("cannot connect"))' rep/unreach.status.json >/dev/null ||
  { cat rep/unreach.status.json; fail "status is not Failed with the connection error"; }
! grep -q Sekr1t-pw err.txt rep/unreach.status.json || fail "the password was printed"
pass "unreachable server: exit 3 in $took s on 4 ranks, status Failed, no CSV, password hidden"

# ---- the server goes away while the ranks wait on it ----
# An exclusive lock holds every rank at its first read; then the server stops.
psql -X -q "$pg" -c "BEGIN; LOCK TABLE store_status, status_pack IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" >/dev/null 2>&1 &
lockpid=$!
sleep 0.5
got=0
timeout 60 "$MPIEXEC" -n 3 "$REPORT" --quiet --db "$pg" --reports-dir rep --report-id gone >out.txt 2>err.txt &
reppid=$!
for _ in $(seq 500); do
  [ "$(pg_q "$pg" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'uptime' AND wait_event_type = 'Lock'")" -ge 1 ] && break
  sleep 0.02
done
stop_now
wait "$reppid" || got=$?
wait "$lockpid" 2>/dev/null || true
[ "$got" -eq 3 ] || { cat err.txt; fail "server gone mid-run: exit $got, expected 3 (124 = hung)"; }
[ ! -e rep/gone.csv ] || fail "a CSV appeared"
jq -e '.status == "Failed" and (.error | test("postgresql"))' rep/gone.status.json >/dev/null ||
  { cat rep/gone.status.json; fail "status is not Failed with the server's reason"; }
pass "server stopped mid-run: exit 3, status Failed ($(jq -r .error rep/gone.status.json | head -c 160))"
"$PGS" start >/dev/null

# ---- credentials ----
expect_exit 3 "wrong password" -- "$LOAD" --db "postgresql://uptime_pw:Sekr1t-pw@127.0.0.1:$port/uptime_test" --dir small --no-rejects
grep -q 'password authentication failed for user "uptime_pw"' "$T/err.txt" || { cat "$T/err.txt"; fail "no clear message"; }
! grep -q Sekr1t-pw "$T/err.txt" "$T/out.txt" || fail "the password was printed"
pass "wrong password: the server's reason, the password hidden"
expect_exit 3 "unknown role" -- "$LOAD" --db "postgresql://nobody_uptime@127.0.0.1:$port/uptime_test" --dir small --no-rejects
grep -q 'role "nobody_uptime" does not exist' "$T/err.txt" || { cat "$T/err.txt"; fail "no clear message"; }
pass "unknown role: the server's reason"
got=0
timeout 60 "$MPIEXEC" -n 2 "$REPORT" --quiet --db "postgresql://uptime_pw:Sekr1t-pw@127.0.0.1:$port/uptime_test" \
  --reports-dir rep --report-id pw >out.txt 2>err.txt || got=$?
[ "$got" -eq 3 ] || fail "report with a wrong password: exit $got"
jq -e '.status == "Failed" and (.error | test("password authentication failed"))' rep/pw.status.json >/dev/null ||
  fail "status is not Failed with the authentication error"
! grep -q Sekr1t-pw rep/pw.status.json err.txt || fail "the password was printed"
pass "report with a wrong password: Failed, exit 3, password hidden"
echo "$checks passed, 0 failed"
