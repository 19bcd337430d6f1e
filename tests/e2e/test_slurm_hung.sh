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
