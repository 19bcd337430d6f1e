#!/usr/bin/env bash
# uptime_serve against a real server on 127.0.0.1 (ephemeral ports), with curl: the
# original's two README commands give the direct mpirun run's CSV byte for byte; Running,
# Pending (a held Slurm job), Failed, unknown, malformed and hostile ids, 404, 405 with
# Allow, the body cap, the token on and off, a silent client dropped after the timeout,
# 200 concurrent requests, 429 beyond --max-running, SIGTERM with a download in flight,
# a restart on the same port while a report runs, no password anywhere, and a trigger
# through Slurm when SLURM_CONF is set.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
G=$UP_SRC/tests/data/golden
SERVE=$UP_BUILD/uptime_serve
export UPTIME_CTL=$UP_BUILD/uptime_ctl
SERVERS=()

stop_all() {
  local p
  for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done
  cleanup
}
trap stop_all EXIT

# start_server NAME ARGS...: uptime_serve on 127.0.0.1:0 (a later --listen in ARGS wins),
# stdout (the access log) in $T/NAME.out, stderr in $T/NAME.err; sets SPID, PORT and B.
start_server() {
  local name=$1 start=$SECONDS
  shift
  "$SERVE" --listen 127.0.0.1:0 "$@" >"$T/$name.out" 2>"$T/$name.err" &
  SPID=$!
  SERVERS+=("$SPID")
  PORT=""
  while [ -z "$PORT" ]; do
    kill -0 "$SPID" 2>/dev/null || { cat "$T/$name.err" >&2; fail "uptime_serve $name exited"; }
    [ $((SECONDS - start)) -lt 10 ] || fail "uptime_serve $name did not start in 10 s"
    sleep 0.02
    PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/$name.err")
  done
  B=http://127.0.0.1:$PORT
}

# stop_server PID: SIGTERM; it must end within 15 s and exit 0.
stop_server() {
  local pid=$1 i rc=0
  kill -TERM "$pid"
  for i in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "uptime_serve $pid still runs 15 s after SIGTERM"
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "uptime_serve $pid exited with $rc after SIGTERM"
}

# http ARGS...: curl's status code; the body in $T/body, the headers in $T/headers.
http() {
  curl -s --max-time 30 -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"
}

# expect_http CODE BODY WHAT -- CURL ARGS...: the status code and the exact body.
expect_http() {
  local want=$1 body=$2 what=$3 got
  shift 4
  got=$(http "$@")
  [ "$got" = "$want" ] || { cat "$T/headers" "$T/body" >&2; fail "$what: HTTP $got, expected $want"; }
  [ -z "$body" ] || [ "$(cat "$T/body")" = "$body" ] || fail "$what: body '$(cat "$T/body")', expected '$body'"
  pass "$what (HTTP $want)"
}

# wait_http ID [SECONDS]: polls GET /get_report/ID until it is no longer Pending or Running;
# prints the states seen, one per change; the last answer is in $T/body.
wait_http() {
  local id=$1 limit=${2:-120} start=$SECONDS last="" st code
  while :; do
    code=$(http "$B/get_report/$id")
    if grep -qi '^content-type: text/csv' "$T/headers"; then
      st=Complete
    else
      st=$(jq -r .status "$T/body" 2>/dev/null || echo "HTTP $code")
    fi
    [ "$st" = "$last" ] || printf '%s\n' "$st"
    last=$st
    case $st in Pending | Running) ;; *) return 0 ;; esac
    [ $((SECONDS - start)) -lt "$limit" ] || fail "report $id still $st after $limit s"
    sleep 0.1
  done
}

"$LOAD" --db g.db --dir "$G" --no-rejects -q
"$GEN" --out in --stores 400 --days 9 --seed 3 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects -q
run_report 2 --db u.db --reports-dir direct --report-id u2

# ---- Usage ----
expect_exit 0 "uptime_serve --help" -- "$SERVE" --help
expect_exit 2 "an unknown option" -- "$SERVE" --bogus
expect_exit 2 "--listen without a port" -- "$SERVE" --listen 127.0.0.1 --db g.db
expect_exit 2 "--ranks 0" -- "$SERVE" -n 0
expect_exit 2 "--time without --slurm" -- "$SERVE" --time 5
expect_exit 2 "a non-loopback address without a token is refused at start-up" -- \
  "$SERVE" --listen 0.0.0.0:0 --db g.db -r r0
grep -q 'token-file' "$T/err.txt" || fail "the refusal does not name --token-file: $(cat "$T/err.txt")"
printf '\n' >empty.tok
expect_exit 2 "an empty token file" -- "$SERVE" --token-file empty.tok

# ---- The original's two commands, verbatim but for the port ----
start_server main -n 2 --db u.db -r rep
curl -X POST http://127.0.0.1:$PORT/trigger_report >trig.json 2>/dev/null
id=$(jq -r .report_id trig.json)
[ "$(cat trig.json)" = "{\"report_id\": \"$id\"}" ] || fail "POST /trigger_report answered '$(cat trig.json)'"
[[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "id '$id' is not a UUID"
pass "curl -X POST .../trigger_report -> {\"report_id\": \"<uuid>\"}"
wait_http "$id" >/dev/null
curl http://127.0.0.1:$PORT/get_report/$id >got.csv 2>/dev/null
same_files direct/u2.csv got.csv "curl .../get_report/<id> gives the direct mpirun run's CSV byte for byte"
http "$B/get_report/$id" >/dev/null
grep -qi '^content-type: text/csv' "$T/headers" &&
  grep -qi "^content-disposition: attachment; filename=\"$id.csv\"" "$T/headers" &&
  grep -qi "^content-length: $(stat -c %s got.csv)" "$T/headers" ||
  { cat "$T/headers"; fail "CSV headers"; }
pass "the CSV is text/csv, an attachment named <id>.csv, with its length"
expect_http 200 "" "HEAD of a complete report" -- -I "$B/get_report/$id"
grep -qi "^content-length: $(stat -c %s got.csv)" "$T/headers" || fail "HEAD: no length"
same_files direct/u2.csv "rep/$id.csv" "the CSV is also kept in the reports folder"

# Running while the database is held, then Complete: the golden report; "now" in the body.
hold_db g.db
start_server golden -n 2 --db g.db -r rep2
expect_http 200 "" "POST with {\"now\": ...}" -- -X POST -d '{"now": "2023-01-25 18:13:22 UTC"}' "$B/trigger_report"
gid=$(jq -r .report_id "$T/body")
wait_field rep2 "$gid" rank0_pid
expect_http 200 '{"status": "Running"}' "a running report" -- "$B/get_report/$gid"
jq -e '.now == "2023-01-25 18:13:22 UTC"' "rep2/$gid.status.json" >/dev/null || fail "now did not reach the run"
pass "the body's now reaches the run"
release_db
[ "$(wait_http "$gid" | tail -1)" = Complete ] || fail "golden report did not complete: $(cat "$T/body")"
same_files "$G/expected.csv" "$T/body" "the golden report through HTTP is the hand-computed CSV"

# ---- Errors ----
expect_http 404 "{\"detail\": \"unknown report id 'no-such-report'\"}" "an unknown id" -- "$B/get_report/no-such-report"
long=$(printf 'a%.0s' $(seq 65))
for bad in '..%2F..%2Fetc%2Fpasswd' '..%2f..%2fetc%2fpasswd' '%2e%2e%2f%2e%2e%2fetc%2fpasswd' \
  'a%00b' '%2E%2E' '..' 'a.b' 'a%2Fb' '%' '%4' '%zz' '%252e%252e' "$long" '' 'a%20b' 'a;b' \
  '%C3%A9t%C3%A9' 'a%2B'; do
  expect_http 400 '{"detail": "malformed report id: expected 1-64 of [A-Za-z0-9_-]"}' \
    "hostile id '$bad'" -- --path-as-is "$B/get_report/$bad"
done
expect_http 400 "" "unencoded traversal /get_report/../../etc/passwd" -- --path-as-is "$B/get_report/../../etc/passwd"
expect_http 400 "" "/get_report/a/b" -- "$B/get_report/a/b"
expect_http 404 "" "an escaped letter is decoded: %41 is A (unknown, not malformed)" -- "$B/get_report/%41bc"
expect_http 404 '{"detail": "Not Found"}' "another path" -- "$B/etc/passwd"
expect_http 404 "" "/get_report without an id" -- "$B/get_report"
expect_http 405 '{"detail": "Method Not Allowed"}' "GET /trigger_report" -- "$B/trigger_report"
grep -qi '^allow: POST' "$T/headers" || fail "405 without Allow: POST"
expect_http 405 "" "POST /get_report/x" -- -X POST "$B/get_report/$id"
grep -qi '^allow: GET, HEAD' "$T/headers" || fail "405 without Allow: GET, HEAD"
expect_http 405 "" "DELETE /health" -- -X DELETE "$B/health"
expect_http 200 '{"ok": true}' "GET /health" -- "$B/health"
expect_http 400 "" "a body that is not JSON" -- -X POST -d 'now=yesterday' "$B/trigger_report"
expect_http 400 "" "a body with another field" -- -X POST -d '{"now": null, "db": "x.db"}' "$B/trigger_report"
expect_http 400 "" "an invalid now" -- -X POST -d '{"now": "yesterday"}' "$B/trigger_report"
head -c 10000 /dev/zero | tr '\0' ' ' >big.json
expect_http 413 "" "a body over --max-body (Content-Length)" -- -X POST --data-binary @big.json "$B/trigger_report"
expect_http 413 "" "a chunked body over --max-body" -- -X POST -H 'Transfer-Encoding: chunked' --data-binary @big.json "$B/trigger_report"
n=$(ls rep | grep -c 'status.json$')
[ "$n" -eq 1 ] || fail "refused requests started reports: $(ls rep)"
pass "no refused request started a report"

# A failing run: Failed with the job's reason; the source's password is never shown.
secret='S3cr3t-pw_never-shown'
export UPTIME_DB="postgresql://uptime:$secret@127.0.0.1:1/none?connect_timeout=2"
start_server failing -n 1 -r rep3
unset UPTIME_DB
expect_http 200 "" "trigger on an unreachable database" -- -X POST "$B/trigger_report"
fid=$(jq -r .report_id "$T/body")
[ "$(wait_http "$fid" | tail -1)" = Failed ] || fail "the failing report: $(cat "$T/body")"
jq -e '(keys == ["error", "status"]) and .status == "Failed" and (.error | length > 0)' "$T/body" >/dev/null ||
  fail "Failed answer: $(cat "$T/body")"
pass "a failed run: {\"status\": \"Failed\", \"error\": \"...\"} ($(jq -r .error "$T/body" | cut -c1-60)...)"
kill -0 "$SPID"
FAILING=$SPID

# ---- Token ----
head -c 24 /dev/urandom | base64 | tr -d '/+=' >tok
chmod 600 tok
start_server token -n 2 --db g.db -r rep --token-file tok
expect_http 401 '{"detail": "Not authenticated"}' "no token" -- "$B/get_report/$id"
grep -qi '^www-authenticate: Bearer' "$T/headers" || fail "401 without WWW-Authenticate"
expect_http 401 "" "a wrong token" -- -H "Authorization: Bearer x$(cat tok)" "$B/get_report/$id"
expect_http 401 "" "a token that is a prefix" -- -H "Authorization: Bearer $(head -c 5 tok)" "$B/get_report/$id"
expect_http 401 "" "no token on POST" -- -X POST "$B/trigger_report"
expect_http 200 "" "the right token" -- -H "Authorization: Bearer $(cat tok)" "$B/get_report/$id"
cmp -s "$T/body" direct/u2.csv || fail "with the token, the CSV differs"
stop_server "$SPID"
! grep -qF -- "$(cat tok)" "$T/token.out" "$T/token.err" || fail "the token appears in the server's logs"
pass "the token is in neither the access log nor the messages"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  start_server tokenv6 --db g.db -r rep --token-file tok --listen '[::1]:0'
  B="http://[::1]:$PORT"
  expect_http 200 "" "IPv6 loopback with the token" -- -H "Authorization: Bearer $(cat tok)" "$B/health"
  stop_server "$SPID"
fi

# ---- Bounded waits ----
start_server idle -n 2 --db g.db -r rep --timeout 1
read -r secs got < <(python3 - "$PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t = time.time()
s.settimeout(15)
try:
    d = s.recv(1)
except (socket.timeout, ConnectionResetError):
    d = b"?"
print("%.1f" % (time.time() - t), len(d))
EOF
)
[ "$got" = 0 ] && awk -v s="$secs" 'BEGIN { exit !(s >= 0.5 && s <= 4) }' ||
  fail "a silent client: closed after $secs s with $got bytes (expected EOF after ~1 s)"
pass "a client that sends nothing is dropped after the timeout ($secs s)"
stop_server "$SPID"

# ---- 200 concurrent requests ----
start_server many -n 2 --db u.db -r rep --max-connections 512 --max-per-client 256
mkdir c
pids=()
for i in $(seq 200); do
  case $((i % 4)) in
    0) url=$B/get_report/$id ;;
    1) url=$B/get_report/no-such-report ;;
    2) url=$B/health ;;
    3) url=$B/get_report/..%2Fetc ;;
  esac
  curl -s --max-time 60 -o "c/$i.body" -w '%{http_code}' "$url" >"c/$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
bad=0
for i in $(seq 200); do
  case $((i % 4)) in
    0) [ "$(cat "c/$i.code")" = 200 ] && cmp -s "c/$i.body" direct/u2.csv || bad=$((bad + 1)) ;;
    1) [ "$(cat "c/$i.code")" = 404 ] || bad=$((bad + 1)) ;;
    2) [ "$(cat "c/$i.code")" = 200 ] && [ "$(cat "c/$i.body")" = '{"ok": true}' ] || bad=$((bad + 1)) ;;
    3) [ "$(cat "c/$i.code")" = 400 ] || bad=$((bad + 1)) ;;
  esac
done
[ "$bad" -eq 0 ] || fail "$bad of 200 concurrent requests were answered wrongly"
pass "200 concurrent requests (CSV, 404, health, 400) all answered correctly"

# ---- SIGTERM with a download in flight ----
curl -s --limit-rate 8k --max-time 60 -o slow.csv "$B/get_report/$id" &
CURL=$!
sleep 0.5
stop_server "$SPID"
wait "$CURL" || fail "the download in flight was cut (curl $?)"
same_files direct/u2.csv slow.csv "SIGTERM: the in-flight download finishes, the server exits 0"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$B/health" || true)
[ "$code" = 000 ] || fail "the stopped server still answers ($code)"
pass "the stopped server accepts nothing more"
[ "$(wc -l <"$T/many.out")" -eq 201 ] || fail "access log: $(wc -l <"$T/many.out") lines for 201 requests"
pass "one access-log line per request"

# ---- --max-running: 429 with Retry-After ----
hold_db g.db
start_server busy -n 1 --db g.db -r rep4 --max-running 1
expect_http 200 "" "the first report within --max-running 1" -- -X POST "$B/trigger_report"
bid=$(jq -r .report_id "$T/body")
expect_http 429 "" "a second report beyond --max-running" -- -X POST "$B/trigger_report"
grep -qi '^retry-after: [0-9]' "$T/headers" || fail "429 without Retry-After"

# ---- Restart while a report runs: found again, completes; the port is free ----
BUSY_PORT=$PORT
stop_server "$SPID"
start_server busy2 -n 1 --db g.db -r rep4 --max-running 1 --listen "127.0.0.1:$BUSY_PORT"
[ "$PORT" = "$BUSY_PORT" ] || fail "restart on port $BUSY_PORT got $PORT"
pass "restart on the same port while the run goes on (no child holds the socket)"
expect_http 200 '{"status": "Running"}' "after a restart the running report is found" -- "$B/get_report/$bid"
expect_http 429 "" "after a restart the running report still counts towards --max-running" -- -X POST "$B/trigger_report"
release_db
[ "$(wait_http "$bid" | tail -1)" = Complete ] || fail "report $bid after the restart: $(cat "$T/body")"
same_files "$G/expected.csv" "$T/body" "the report started before the restart completes"
expect_http 200 "" "a slot is free again once it completed" -- -X POST "$B/trigger_report"
wait_http "$(jq -r .report_id "$T/body")" >/dev/null
stop_server "$SPID"

# ---- No password anywhere ----
stop_server "$FAILING"
if grep -rl -- "$secret" "$T"/*.out "$T"/*.err "$T/body" rep3 2>/dev/null; then
  fail "the password appears in the files above"
fi
grep -q 'uptime:\*\*\*@' "$T/failing.err" || fail "the start-up line does not show the source redacted"
pass "the password is in no access log, message, answer or report file"

# ---- Through Slurm ----
if [ -n "${SLURM_CONF:-}" ]; then
  need_slurm
  start_server slurm --slurm -n 2 --db u.db -r srep
  expect_http 200 "" "POST /trigger_report through Slurm" -- -X POST "$B/trigger_report"
  sid=$(jq -r .report_id "$T/body")
  jq -e '.launcher == "slurm" and (.slurm_job_id | type) == "number"' "srep/$sid.status.json" >/dev/null ||
    fail "Slurm status file: $(cat "srep/$sid.status.json")"
  seen=$(wait_http "$sid" 180 | paste -sd' ')
  [ "${seen##* }" = Complete ] || fail "Slurm report: $seen $(cat "$T/body")"
  same_files direct/u2.csv "$T/body" "through Slurm: the CSV equals the direct run's ($seen)"
  stop_server "$SPID"
  start_server held --slurm -n 2 --db u.db -r srep --sbatch-arg=--hold
  expect_http 200 "" "POST /trigger_report of a held Slurm job" -- -X POST "$B/trigger_report"
  hid=$(jq -r .report_id "$T/body")
  expect_http 200 '{"status": "Pending"}' "a queued Slurm job is Pending" -- "$B/get_report/$hid"
  scancel "$(jq -r .slurm_job_id "srep/$hid.status.json")"
  [ "$(wait_http "$hid" 60 | tail -1)" = Failed ] || fail "cancelled job: $(cat "$T/body")"
  jq -e '.error | test("cancelled")' "$T/body" >/dev/null || fail "cancelled job: $(cat "$T/body")"
  pass "a cancelled Slurm job is Failed with Slurm's reason"
  stop_server "$SPID"
else
  echo "# SLURM_CONF not set: the Slurm part is skipped"
fi
echo "$checks passed, 0 failed"
