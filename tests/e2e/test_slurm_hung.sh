#!/usr/bin/env bash
# Every wait on Slurm is bounded: an sbatch or scontrol that never answers (a hung
# slurmctld) is killed after $UPTIME_SLURM_TIMEOUT seconds, with its children. trigger_report
# then fails clearly (exit 1, status Failed naming the command and the limit); get_report
# of a queued report answers from the status file with a warning instead of hanging. The
# commands are stand-ins on PATH that sleep (and leave a child that would sleep longer), so
# no Slurm cluster is needed.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"

mkdir -p fake
for cmd in sbatch scontrol; do
  cat >"fake/$cmd" <<EOF
#!/bin/sh
# A command that never answers, with a child of its own that would outlive it.
echo \$\$ >>"$T/$cmd.pids"
sleep 300 &
echo \$! >>"$T/$cmd.pids"
wait
EOF
  chmod +x "fake/$cmd"
done
: >slurm.conf
export PATH=$T/fake:$PATH SLURM_CONF=$T/slurm.conf UPTIME_SLURM_TIMEOUT=2

"$LOAD" --db g.db --dir "$UP_SRC/tests/data/golden" --no-rejects >/dev/null

# all_gone FILE: no process of the pids listed in FILE is left (within 5 s).
all_gone() {
  local start=$SECONDS pid
  while :; do
    local alive=""
    for pid in $(cat "$1"); do
      kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
    done
    [ -z "$alive" ] && return 0
    [ $((SECONDS - start)) -lt 5 ] || fail "still running after the timeout:$alive"
    sleep 0.1
  done
}

# 1. sbatch hangs: trigger_report gives up after the limit, the report is Failed.
start=$SECONDS
rc=0
timeout 60 "$TRIGGER" --slurm -n 2 --db g.db --reports-dir rep --report-id hung >out 2>err || rc=$?
took=$((SECONDS - start))
[ "$rc" -eq 1 ] || fail "trigger_report with a hung sbatch: exit $rc, want 1 ($(cat err))"
[ "$took" -le 10 ] || fail "trigger_report took $took s with a 2 s limit"
grep -q "sbatch did not answer within 2 s" err || fail "no reason on stderr: $(cat err)"
jq -e '.status == "Failed" and (.error | test("sbatch did not answer within 2 s"))' \
  rep/hung.status.json >/dev/null || fail "status: $(cat rep/hung.status.json)"
all_gone "$T/sbatch.pids"
pass "a hung sbatch: killed with its child after 2 s, trigger_report exits 1 in $took s, status Failed with the reason"

# 2. scontrol hangs: get_report of a queued Slurm report answers from the status file.
python3 - "$T/rep/queued.status.json" <<'EOF'
import json, sys
json.dump({"version": 1, "report_id": "queued", "status": "Pending", "launcher": "slurm",
           "slurm_job_id": 4242, "ranks": 2}, open(sys.argv[1], "w"))
EOF
start=$SECONDS
rc=$(get_rc queued --reports-dir rep)
took=$((SECONDS - start))
[ "$rc:$(cat "$T/get.out")" = '10:{"status": "Pending"}' ] ||
  fail "get_report with a hung scontrol: exit $rc, $(cat "$T/get.out") $(cat "$T/get.err")"
[ "$took" -le 10 ] || fail "get_report took $took s with a 2 s limit"
grep -q "Slurm does not know job 4242 (or cannot be reached)" "$T/get.err" ||
  fail "no warning: $(cat "$T/get.err")"
all_gone "$T/scontrol.pids"
pass "a hung scontrol: get_report answers Pending from the status file in $took s, with a warning"

# 3. The HTTP server: a get_report that waits on the hung scontrol holds only its own
# connection (answered on a thread of its own); every other request is answered at once,
# and SIGTERM still stops the server once that answer is out.
python3 - "$T/rep/done.status.json" <<'PY'
import json, sys
json.dump({"report_id": "done", "status": "Failed", "error": "an earlier failure"}, open(sys.argv[1], "w"))
PY
: >serve.err
UPTIME_REPORT=$REPORT UPTIME_CTL=$UP_BUILD/uptime_ctl "$UP_BUILD/uptime_serve" --listen 127.0.0.1:0 \
  --threads 1 -n 1 --db g.db -r rep >serve.out 2>serve.err &
spid=$!
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' serve.err)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { kill "$spid"; fail "uptime_serve did not start: $(cat serve.err)"; }
: >"$T/scontrol.pids"
timeout 30 curl -s "http://127.0.0.1:$port/get_report/queued" >slow.json &
cpid=$!
sleep 0.5 # the slow request is in scontrol now
fast_start=$(date +%s%N)
for _ in $(seq 20); do
  [ "$(timeout 5 curl -s "http://127.0.0.1:$port/get_report/done")" = '{"status": "Failed", "error": "an earlier failure"}' ] ||
    { kill "$spid"; fail "a status answer while scontrol hangs"; }
  [ "$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] ||
    { kill "$spid"; fail "/health while scontrol hangs"; }
done
fast_ms=$((($(date +%s%N) - fast_start) / 1000000))
kill -0 "$cpid" 2>/dev/null || { kill "$spid"; fail "the slow request ended before the others ($fast_ms ms)"; }
wait "$cpid" || fail "curl of the slow request failed"
[ "$(cat slow.json)" = '{"status": "Pending"}' ] || fail "slow answer: $(cat slow.json)"
kill -TERM "$spid"
rc=0
timeout 20 tail --pid="$spid" -f /dev/null || fail "uptime_serve still runs after SIGTERM"
wait "$spid" || rc=$?
[ "$rc" -eq 0 ] || fail "uptime_serve exited $rc"
all_gone "$T/scontrol.pids"
pass "uptime_serve (1 thread): 40 requests answered in $fast_ms ms while a get_report waited on a hung scontrol, which then answered Pending"
