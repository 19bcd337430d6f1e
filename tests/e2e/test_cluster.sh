#!/usr/bin/env bash
# Two nodes for real: the private cluster of scripts/cluster.sh (network-namespaced nodes
# node1 and node2 on a bridge, each with its own hostname and a node-local folder; started
# here if it is not running, stopped at exit if this test started it). Reports with ranks on
# both nodes over TCP from PostgreSQL and from an HDF5 snapshot equal the single-node
# report; trigger_report --slurm -N 2 -n 4 goes Pending -> Running -> Complete; the ranks of
# node2 killed mid-run and scancel of a 2-node job end Failed, with no CSV and no rank left;
# a SQLite file that is not the same on every node is refused, a shared one is read; the tz
# database is read on each node. Skipped only where namespaces cannot be created.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
. "$UP_SRC/tests/e2e/pg.sh"
CL=$UP_SRC/scripts/cluster.sh
CLDIR=${UPTIME_CLUSTER_DIR:-/tmp/uptime-cluster}

if ! why=$("$CL" can 2>&1); then
  echo "SKIP: no multi-node cluster on this machine: $why"
  exit 0
fi

STARTED_CLUSTER=0 LOCK_PID="" LOCAL_FILES=()
cluster_cleanup() {
  local rc=$? f
  unlock_pg
  for f in "${LOCAL_FILES[@]}"; do rm -rf "$f"; done
  pg_cleanup
  [ "$STARTED_CLUSTER" -eq 0 ] || "$CL" stop >&2 || true
  cleanup
  return "$rc"
}
trap cluster_cleanup EXIT

if ! "$CL" status >/dev/null 2>&1; then
  STARTED_CLUSTER=1
  timeout 120 "$CL" start >&2 || fail "could not start the cluster (scripts/cluster.sh start)"
fi
# This cluster, not the single-node one that scripts/test.sh may have set.
eval "$("$CL" env)"
export SLURM_CONF OMPI_MCA_btl_tcp_if_include
PG_BASE=$UPTIME_CLUSTER_PG
TCP=tcp,self,vader

# node_procs K NAME: pids of the processes called NAME inside node K.
node_procs() {
  local p
  for p in $(ip netns pids "uptime-node$1" 2>/dev/null); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && echo "$p"
  done
  return 0
}

# no_ranks_left WHAT: no uptime_report on any node within 30 s.
no_ranks_left() {
  local start=$SECONDS
  while [ -n "$(node_procs 1 uptime_report)$(node_procs 2 uptime_report)" ]; do
    [ $((SECONDS - start)) -lt 30 ] || fail "$1: ranks still running: $(node_procs 1 uptime_report) $(node_procs 2 uptime_report)"
    sleep 0.2
  done
  pass "$1: no rank left on either node"
}

# lock_pg URL: another session holds every table of the schema (a long write would), so a
# report's reads wait for it; LOCK_PID is that session.
lock_pg() {
  rm -f "$T/locked"
  (
    printf 'BEGIN;\nLOCK TABLE store_status, store_summary, business_hours, store_timezone, store_meta, status_pack IN ACCESS EXCLUSIVE MODE;\n\\! touch %s\nSELECT pg_sleep(120);\n' "$T/locked"
  ) | PGAPPNAME=up_cluster_lock_$$ psql -X -q -v ON_ERROR_STOP=1 "$1" >/dev/null 2>"$T/lock.err" &
  LOCK_PID=$!
  local start=$SECONDS
  until [ -e "$T/locked" ]; do
    [ $((SECONDS - start)) -lt 20 ] || fail "could not lock the tables: $(cat "$T/lock.err")"
    sleep 0.05
  done
}
unlock_pg() {
  [ -n "$LOCK_PID" ] || return 0
  # The server side sleeps on after its client is gone: end it there.
  psql -X -q -tA "$PG_BASE" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'up_cluster_lock_$$'" >/dev/null 2>&1 || true
  kill "$LOCK_PID" 2>/dev/null || true
  wait "$LOCK_PID" 2>/dev/null || true
  LOCK_PID=""
}

# srun_report N ARGS...: the report with ranks on both nodes over TCP, bounded.
srun_report() {
  local n=$1
  shift
  OMPI_MCA_btl=$TCP timeout 180 srun --mpi=pmix -N 2 -n "$n" --kill-on-bad-exit=1 "$REPORT" --quiet "$@"
}

# The single-node report is the reference.
"$GEN" --out in --stores 400 --days 9 --seed 4 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects >/dev/null
run_report 2 --db u.db --reports-dir direct --report-id ref
PGU=$(pg_schema "up_cluster_$$")
"$LOAD" --db "$PGU" --dir in --no-rejects >/dev/null
pass "data loaded into SQLite and into the cluster's PostgreSQL ($PG_BASE)"

# The nodes are what they say: own hostnames, addresses on the bridge, a node-local folder.
[ "$("$CL" exec node1 hostname)/$("$CL" exec node2 hostname)" = node1/node2 ] || fail "node hostnames"
[ "$(srun -N 2 -n 2 --mpi=none hostname | sort | paste -sd' ')" = "node1 node2" ] || fail "srun -N 2 hostname"
pass "srun -N 2 runs on node1 and node2"

# 1. PostgreSQL over TCP, 4 ranks on 2 nodes.
UPTIME_DB=$PGU srun_report 4 --reports-dir rep --report-id pg4
same_files direct/ref.csv rep/pg4.csv "PostgreSQL, srun -N 2 -n 4 over TCP: the single-node report"
jq -e '.status == "Complete" and .ranks == 4 and .rank0_host == "node1"' rep/pg4.status.json >/dev/null ||
  fail "status: $(cat rep/pg4.status.json)"
# Without TCP the nodes cannot reach each other: the run above did use it.
rc=0
UPTIME_DB=$PGU OMPI_MCA_btl=self,vader timeout 120 srun --mpi=pmix -N 2 -n 2 --kill-on-bad-exit=1 \
  "$REPORT" --quiet --reports-dir rep --report-id notcp >notcp.out 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ ! -e rep/notcp.csv ] || fail "a 2-node run without the tcp btl succeeded"
pass "shared memory alone does not reach the other node (exit $rc): the ranks talk over TCP"

# 2. The HDF5 snapshot, written by ranks on both nodes, read by ranks on both nodes.
UPTIME_DB=$PGU OMPI_MCA_btl=$TCP timeout 180 srun --mpi=pmix -N 2 -n 2 --kill-on-bad-exit=1 \
  "$UP_BUILD/uptime_snapshot" --quiet --output "$T/snap.h5" || fail "snapshot on 2 nodes"
srun_report 4 --db "$T/snap.h5" --reports-dir rep --report-id h5
same_files direct/ref.csv rep/h5.csv "HDF5 snapshot written and read on 2 nodes: the single-node report"
# --parallel-write: node2's ranks write their rows into the file rank 0 made on node1.
srun_report 4 --db "$T/snap.h5" --reports-dir rep --report-id pw --parallel-write
same_files direct/ref.csv rep/pw.csv "--parallel-write, ranks on 2 nodes: the single-node report"

# 3. The lifecycle through Slurm, -N 2 -n 4, from PostgreSQL.
export OMPI_MCA_btl=self,vader # as scripts/mpi-env.sh: the batch script adds tcp itself
id=$(UPTIME_DB=$PGU trigger --slurm -N 2 -n 4 --time 5 --reports-dir lc)
seen=$(wait_done lc "$id" 120 | paste -sd' ')
case $seen in
  "Pending Running Complete" | "Pending Complete" | "Running Complete" | Complete) ;;
  *) fail "statuses seen: $seen ($(cat "$T/get.out"))" ;;
esac
"$GET" "$id" --reports-dir lc >lc.csv
same_files direct/ref.csv lc.csv "trigger_report --slurm -N 2 -n 4 ($seen): the single-node report"
wait_field lc "$id" exit_code
jq -e '.status == "Complete" and .slurm_nodes == "node[1-2]" and .ranks == 4 and .exit_code == 0
  and .rank0_host == "node1" and .batch_host == "node1"' "lc/$id.status.json" >/dev/null ||
  fail "status: $(cat "lc/$id.status.json")"
grep -q "btl tcp,self,vader" "lc/$id.log" || fail "the batch script did not add tcp: $(cat "lc/$id.log")"
pass "status file: Complete on node[1-2], rank 0 on node1; the batch script chose tcp"

# 4. SQLite: the same file on every node is read; a node-local file is refused.
id=$(trigger --slurm -N 2 -n 4 --db "$T/u.db" --reports-dir sq)
[ "$(wait_done sq "$id" 120 | tail -1)" = Complete ] || fail "shared SQLite: $(cat "$T/get.out")"
"$GET" "$id" --reports-dir sq >sq.csv
same_files direct/ref.csv sq.csv "a SQLite file on shared storage, 2 nodes: the single-node report"
grep -q "same file on all 2 nodes" "sq/$id.log" || fail "no note on the shared SQLite file"
local_db=$CLDIR/nodes/node1/up_cluster_$$.db
LOCAL_FILES+=("$local_db")
cp u.db "$local_db"
id=$(trigger --slurm -N 2 -n 4 --db "$CLDIR/local/up_cluster_$$.db" --reports-dir sq)
[ "$(wait_done sq "$id" 120 | tail -1)" = Failed ] || fail "node-local SQLite was not refused"
grep -q "refused: the SQLite file .* is not the same file on every node (node1=.* node2=missing" "sq/$id.log" ||
  fail "no refusal naming node2: $(cat "sq/$id.log")"
wait_field sq "$id" exit_code
jq -e '.status == "Failed" and .exit_code == 2 and (.error | test("not the same file on every node .*node2="))' \
  "sq/$id.status.json" >/dev/null || fail "$(cat "sq/$id.status.json")"
[ ! -e "sq/$id.csv" ] || fail "a refused job left a CSV"
pass "a SQLite file on node1's own disk: refused (exit 2), the log and the status name node2 where it is missing"

# 5. The tz database is read on each node: one missing on node2 fails the job (exit 7).
zdir=$CLDIR/nodes/node1/zoneinfo_$$
LOCAL_FILES+=("$zdir")
cp -r /usr/share/zoneinfo "$zdir"
id=$(TZDIR=$CLDIR/local/zoneinfo_$$ UPTIME_DB=$PGU trigger --slurm -N 2 -n 4 --reports-dir tz)
[ "$(wait_done tz "$id" 120 | tail -1)" = Failed ] || fail "no tz database on node2 did not fail"
grep -q "no tz database .* on node2" "tz/$id.log" || fail "no warning naming node2: $(cat "tz/$id.log")"
wait_field tz "$id" exit_code
jq -e '.exit_code == 7' "tz/$id.status.json" >/dev/null || fail "$(cat "tz/$id.status.json")"
pass "no tz database on node2: Failed with exit 7 ($(jq -r .error "tz/$id.status.json"))"

# 6. Every rank of node2 killed mid-run (the reads wait for a locked table).
lock_pg "$PGU"
start=$SECONDS
id=$(UPTIME_DB=$PGU trigger --slurm -N 2 -n 4 --reports-dir kill)
until [ -n "$(node_procs 2 uptime_report)" ]; do
  [ $((SECONDS - start)) -lt 60 ] || fail "no rank ever ran on node2"
  sleep 0.1
done
sleep 1 # past MPI_Init: the ranks wait for rank 0's plan
victims=$(node_procs 2 uptime_report | paste -sd' ')
[ -n "$victims" ] || fail "node2's ranks ended on their own: $(cat "kill/$id.log")"
# shellcheck disable=SC2086 # one pid per word
kill -KILL $victims
t0=$SECONDS
[ "$(wait_done kill "$id" 60 | tail -1)" = Failed ] || fail "killed ranks: not Failed"
pass "node2's ranks (pids $victims) killed: Failed in $((SECONDS - t0)) s: $(jq -r .error "$T/get.out")"
[ ! -e "kill/$id.csv" ] && [ -z "$(ls -A kill | grep '\.csv\.tmp$' || true)" ] || fail "a CSV after the kill"
no_ranks_left "killed node2"
unlock_pg

# 7. scancel of a running 2-node job.
lock_pg "$PGU"
id=$(UPTIME_DB=$PGU trigger --slurm -N 2 -n 4 --reports-dir cancel)
start=$SECONDS
until [ -n "$(node_procs 2 uptime_report)" ] && [ -n "$(node_procs 1 uptime_report)" ]; do
  [ $((SECONDS - start)) -lt 60 ] || fail "the job never ran on both nodes"
  sleep 0.1
done
jid=$(jq -r .slurm_job_id "cancel/$id.status.json")
scancel "$jid"
t0=$SECONDS
[ "$(wait_done cancel "$id" 60 | tail -1)" = Failed ] || fail "scancel: not Failed"
jq -e --arg j "$jid" '.error == "cancelled (Slurm job \($j) CANCELLED)"' "$T/get.out" >/dev/null ||
  fail "scancel: $(cat "$T/get.out")"
[ ! -e "cancel/$id.csv" ] || fail "a CSV after scancel"
pass "scancel of a 2-node job: Failed in $((SECONDS - t0)) s, $(jq -r .error "$T/get.out")"
no_ranks_left "scancel"
unlock_pg

echo "# $checks checks passed"
