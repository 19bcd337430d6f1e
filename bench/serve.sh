#!/usr/bin/env bash
# uptime_serve under load (issue 11): requests/s and p50/p99 latency of GET /get_report for
# a status answer and for the CSV of a STORES-store report, at 1 and 64 connections, with
# wrk (Debian's wrk 4.1) on the same machine. The server runs as shipped (access log on,
# written to a file). Usage: [BENCH_OLD=<older build>] [BENCH_ROUNDS=N] bench/serve.sh
# [STORES=165000] [DAYS=2] [SECONDS=5]
# (uptime_gen's 165 000 stores give ~160 000 with a poll in the window: the report's rows.)
set -euo pipefail
HOME_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${UP_BUILD:-$HOME_DIR/build}
STORES=${1:-165000}
DAYS=${2:-2}
DUR=${3:-5}
W=${BENCH_DIR:-/tmp/up_bench_serve}
. "$HOME_DIR/scripts/mpi-env.sh"
command -v wrk >/dev/null || { echo "bench/serve.sh: wrk is not installed (scripts/install-deps.sh)" >&2; exit 2; }
mkdir -p "$W"
cd "$W"

# The report: generated, loaded and computed once per STORES/DAYS (kept for later runs).
if [ ! -s "rep/big.csv" ] || [ "$(cat params 2>/dev/null)" != "$STORES $DAYS" ]; then
  rm -rf in u.db rep
  "$BUILD/uptime_gen" --out in --stores "$STORES" --days "$DAYS" --seed 1 >/dev/null 2>&1
  "$BUILD/uptime_load" --db u.db --dir in --no-rejects -q
  mpirun -n 2 "$BUILD/uptime_report" --quiet --db u.db --reports-dir rep --report-id big
  echo "$STORES $DAYS" >params
fi
rows=$(($(wc -l <rep/big.csv) - 1))
bytes=$(stat -c %s rep/big.csv)

SPID=""
trap '[ -z "$SPID" ] || kill "$SPID" 2>/dev/null || true' EXIT

# start_server BUILD: uptime_serve of BUILD as shipped, on an ephemeral port ($B).
start_server() {
  rm -f serve.err # the port is read from it: never the previous server's
  UPTIME_REPORT=$1/uptime_report UPTIME_CTL=$1/uptime_ctl \
    "$1/uptime_serve" --listen 127.0.0.1:0 -n 1 --db "$W/missing.db" -r rep \
    --max-connections 256 --max-per-client 256 >access.log 2>serve.err &
  SPID=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' serve.err 2>/dev/null || true)
    [ -z "$port" ] || break
    sleep 0.05
  done
  [ -n "$port" ] || { cat serve.err >&2; exit 1; }
  B=http://127.0.0.1:$port
}
stop_server() {
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}

start_server "$BUILD"
# A failed report for the status answer (the status file read and answered as JSON).
if [ ! -s rep/failed.status.json ]; then
  fid=$(curl -s -X POST "$B/trigger_report" | jq -r .report_id)
  for _ in $(seq 100); do
    [ "$(curl -s "$B/get_report/$fid" | jq -r .status)" = Failed ] && break
    sleep 0.1
  done
  mv "rep/$fid.status.json" rep/failed.status.json
fi
echo "status answer: $(curl -s "$B/get_report/failed" | cut -c1-100)..."
echo "CSV: $rows stores, $bytes bytes; curl check: $(curl -s "$B/get_report/big" | cmp - rep/big.csv && echo identical)"
echo "machine: $(nproc) cores, $(uname -r); wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_server

# BENCH_OLD=<an older build>: its server measured beside this one, alternating, in the
# same run (BENCH_ROUNDS rounds, default 1).
builds=("new=$BUILD")
[ -z "${BENCH_OLD:-}" ] || builds=("old=$BENCH_OLD" "new=$BUILD")
echo
echo "| build | answer | connections | requests/s | p50 | p99 | transfer/s |"
echo "|---|---|---|---|---|---|---|"
for _ in $(seq "${BENCH_ROUNDS:-1}"); do
  for what in status csv; do
    for c in 1 64; do
      for nb in "${builds[@]}"; do
        start_server "${nb#*=}"
        url=$B/get_report/failed
        [ "$what" = status ] || url=$B/get_report/big
        t=2
        [ "$c" -gt 1 ] || t=1
        out=$(wrk -t"$t" -c"$c" -d"${DUR}s" --latency "$url")
        stop_server
        rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
        p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
        p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
        tr=$(awk '/^Transfer\/sec/ { print $2 }' <<<"$out")
        errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
        echo "| ${nb%%=*} | $what | $c | $rps | $p50 | $p99 | $tr |${errs:+ $errs}"
      done
    done
  done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
