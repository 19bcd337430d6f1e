#!/usr/bin/env bash
# A private multi-node Slurm 22.05 cluster on one machine, for the tests and for trying a
# report with ranks on several nodes over TCP. Each node is a network namespace of its own
# (`ip netns`, named uptime-nodeK) with its own hostname (a UTS namespace, nodeK) and its
# own address on a private bridge; the head (slurmctld, a private PostgreSQL server, and
# the machine the tests run on) is the host's side of that bridge. Needs root.
#
#   scripts/cluster.sh start    # idempotent; returns when every node is idle
#   eval "$(scripts/cluster.sh env)"
#   scripts/cluster.sh status
#   scripts/cluster.sh stop     # cancels its jobs, stops its daemons, removes namespaces and links
#   scripts/cluster.sh exec NODE CMD...   # a command on a node (its network and hostname)
#
# It runs beside scripts/slurm-cluster.sh (the single-node cluster) and scripts/pg-server.sh:
# its own folder, ports, munged, bridge and address range. Only links it created (the bridge
# upbr0 and the veth pairs up-nodeK) are ever touched: the host's real interfaces, routes,
# forwarding and firewall are left as they are, and nothing is routed off the bridge.
#
# The nodes share the host's file system, as a shared file system would be: the project
# tree, the build and every folder are the same on every node, except one: each node has
# its own $UPTIME_CLUSTER_DIR/local (a mount namespace per node binds
# $UPTIME_CLUSTER_DIR/nodes/nodeK there), a node-local disk to show what a path that is
# not shared does. On the head (this machine) that folder is the head's own, empty.
set -euo pipefail

DIR=${UPTIME_CLUSTER_DIR:-/tmp/uptime-cluster}
NODES=${UPTIME_CLUSTER_NODES:-2}
NET=${UPTIME_CLUSTER_NET:-10.213.42} # a /24: head .1, nodeK .(10+K)
PORT=${UPTIME_CLUSTER_PORT:-16837}   # slurmctld; slurmd uses PORT+1 (inside each node)
PG_PORT=${UPTIME_CLUSTER_PG_PORT:-55442}
CPUS=${UPTIME_CLUSTER_CPUS:-4} # advertised per node, whatever the machine has
BR=upbr0                       # the bridge, on the host
NODE_IF=upnet0                 # each node's interface on the bridge (btl_tcp_if_include)
HEAD=uphead
HEAD_ADDR=$NET.1
CONF=$DIR/etc/slurm.conf
MUNGE_SOCKET=$DIR/munge/munge.socket.2
PG_DB=uptime_test

usage() {
  cat <<EOF
usage: scripts/cluster.sh {start|stop|status|env|exec NODE CMD...}

  start   create the nodes (network + UTS namespaces on a private bridge), start munged,
          slurmctld, one slurmd per node inside it, and a PostgreSQL server on the bridge;
          wait until every node is idle. Does nothing that is already done.
  stop    cancel the cluster's jobs, stop its daemons (by their pid files) and every process
          left in a node, remove the namespaces, the veth pairs and the bridge
  status  say what runs; exit 0 only if the cluster is usable
  env     print the exports for a shell: SLURM_CONF, UPTIME_CLUSTER_PG (the server's URL as
          seen from every node), OMPI_MCA_btl_tcp_if_include
  exec NODE CMD...   run CMD on NODE (node1, ...): its network namespace and hostname

environment:
  UPTIME_CLUSTER_DIR      configuration, state, logs, pids (default /tmp/uptime-cluster)
  UPTIME_CLUSTER_NODES    number of nodes (default 2, at most 50)
  UPTIME_CLUSTER_NET      the first three octets of the bridge's /24 (default 10.213.42);
                          start refuses one that a route of this machine already covers
  UPTIME_CLUSTER_PORT     slurmctld port; slurmd the next one (default 16837)
  UPTIME_CLUSTER_PG_PORT  the PostgreSQL server's port (default 55442)
  UPTIME_CLUSTER_CPUS     CPUs each node advertises (default 4)

Nodes node1..nodeN (addresses $NET.11...), head $HEAD ($HEAD_ADDR, the host's side of
bridge $BR). Partition 'nodes' (default), MpiDefault=pmix: launch with srun --mpi=pmix.
Logs: \$UPTIME_CLUSTER_DIR/log. See docs/cluster.md.
EOF
}

die() {
  echo "cluster: $*" >&2
  exit 1
}

node_name() { echo "node$1"; }
node_ns() { echo "uptime-node$1"; }
node_addr() { echo "$NET.$((10 + $1))"; }
node_veth() { echo "up-node$1"; }

# alive PIDFILE: true if the pid file names a running process.
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# on K CMD...: CMD in node K's network and UTS namespaces.
on() {
  local k=$1
  shift
  nsenter --net="/run/netns/$(node_ns "$k")" --uts="$DIR/ns/$(node_name "$k").uts" \
    --mount="$DIR/ns/$(node_name "$k").mnt" -- "$@"
}

check_settings() {
  [[ $NODES =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le 50 ] ||
    die "UPTIME_CLUSTER_NODES must be 1..50, not '$NODES'"
  [[ $NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
    die "UPTIME_CLUSTER_NET must be three octets (e.g. 10.213.42), not '$NET'"
}

# The address range must be ours alone: no route of the machine may cover it, but the
# bridge's own.
check_range() {
  local line
  while read -r line; do
    case $line in
      *" dev $BR "* | *" dev $BR") continue ;;
    esac
    if python3 - "$line" "$NET.0/24" <<'EOF'; then
import ipaddress, sys
dst = sys.argv[1].split()[0]
if dst == "default":
    sys.exit(1)  # a default route covers everything; it is not a conflict
try:
    net = ipaddress.ip_network(dst, strict=False)
except ValueError:
    sys.exit(1)
sys.exit(0 if net.overlaps(ipaddress.ip_network(sys.argv[2])) else 1)
EOF
      die "address range $NET.0/24 is already routed on this machine ('$line'): set UPTIME_CLUSTER_NET"
    fi
  done < <(ip -4 route show table all 2>/dev/null | grep -v '^local\|^broadcast' || true)
}

# Can this machine create what the cluster needs? Prints why not, for the tests' skip.
can_namespace() {
  local probe=uptime-probe$$ ok=0
  command -v ip >/dev/null || { echo "no 'ip' command (install iproute2)"; return 1; }
  command -v nsenter >/dev/null || { echo "no 'nsenter' (install util-linux)"; return 1; }
  [ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, munged as munge)"; return 1; }
  ip netns add "$probe" 2>/dev/null || { echo "cannot create a network namespace (ip netns add)"; return 1; }
  ip link add "upprobe$$" type veth peer name "upprobe$$p" 2>/dev/null || ok=1
  ip link del "upprobe$$" 2>/dev/null || true
  ip netns del "$probe" 2>/dev/null || true
  [ "$ok" -eq 0 ] || { echo "cannot create veth links"; return 1; }
  unshare --uts --mount true 2>/dev/null || { echo "cannot create UTS and mount namespaces (unshare)"; return 1; }
}

# ---- the network ----

make_bridge() {
  if ! ip link show "$BR" >/dev/null 2>&1; then
    check_range
    ip link add "$BR" type bridge
  fi
  ip addr show dev "$BR" | grep -q "inet $HEAD_ADDR/24" || ip addr add "$HEAD_ADDR/24" dev "$BR"
  ip link set "$BR" up
}

# A UTS namespace kept alive by a bind mount on FILE (dropped by drop_uts), with hostname NAME.
make_uts() {
  local file=$1 name=$2
  if [ -e "$file" ] && findmnt -n "$file" >/dev/null 2>&1; then
    return 0
  fi
  : >"$file"
  unshare --uts="$file" hostname "$name"
}

make_node() {
  local k=$1 ns veth addr
  ns=$(node_ns "$k") veth=$(node_veth "$k") addr=$(node_addr "$k")
  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip -n "$ns" link show "$NODE_IF" >/dev/null 2>&1; then
    ip link del "$veth" 2>/dev/null || true
    ip link add "$veth" type veth peer name "$NODE_IF" netns "$ns"
  fi
  ip link set "$veth" master "$BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr show dev "$NODE_IF" | grep -q "inet $addr/24" ||
    ip -n "$ns" addr add "$addr/24" dev "$NODE_IF"
  ip -n "$ns" link set "$NODE_IF" up
  make_uts "$DIR/ns/$(node_name "$k").uts" "$(node_name "$k")"
  make_mnt "$k"
}

# The folder that holds the namespace files must be a private mount for a mount namespace
# to be kept alive by a bind mount inside it.
make_ns_dir() {
  mkdir -p "$DIR/ns"
  if ! findmnt -n "$DIR/ns" >/dev/null 2>&1; then
    mount --bind "$DIR/ns" "$DIR/ns"
    mount --make-private "$DIR/ns"
  fi
}

# Node K's mount namespace: the host's mounts (later ones propagate in), plus its own
# $DIR/local.
make_mnt() {
  local k=$1 file
  file=$DIR/ns/$(node_name "$k").mnt
  mkdir -p "$DIR/nodes/$(node_name "$k")" "$DIR/local"
  if [ -e "$file" ] && findmnt -n "$file" >/dev/null 2>&1; then
    return 0
  fi
  : >"$file"
  unshare --mount="$file" --propagation slave mount --bind "$DIR/nodes/$(node_name "$k")" "$DIR/local"
}

# ---- the daemons ----

write_conf() {
  local k nodes=""
  for k in $(seq "$NODES"); do
    nodes+="NodeName=$(node_name "$k") NodeAddr=$(node_addr "$k") NodeHostname=$(node_name "$k") CPUs=$CPUS RealMemory=1000 State=UNKNOWN"$'\n'
  done
  cat >"$CONF.tmp" <<EOF
# Written by scripts/cluster.sh: a private cluster of network-namespaced nodes. Do not
# edit; the script rewrites it on start.
ClusterName=uptimenet
SlurmctldHost=$HEAD($HEAD_ADDR)
SlurmUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/state
# One slurmd per node on one file system: spool, pid and log files per node (%n).
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
# The PMIx plugin makes its client folder under TmpFS, named by job and step only: two
# nodes sharing /tmp would collide (File exists), so each node has its own.
TmpFS=$DIR/tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
JobAcctGatherType=jobacct_gather/none
KillWait=5
InactiveLimit=0
# A node whose slurmd stops answering is DOWN after 10 s; its job is then killed
# (NODE_FAIL) rather than left running on the other nodes.
SlurmdTimeout=10
SlurmctldTimeout=10
MessageTimeout=5
SlurmdParameters=config_overrides
${nodes}PartitionName=nodes Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  alive "$DIR/munge/munged.pid" && return 0
  install -d -o munge -g munge -m 0755 "$DIR/munge"
  if [ ! -s "$DIR/munge/munge.key" ]; then
    (umask 077 && dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none)
    chown munge:munge "$DIR/munge/munge.key"
  fi
  runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" \
    --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munge/munged.pid" \
    --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/munge/munged.log" ||
    die "munged did not start; see $DIR/munge/munged.log"
  for _ in $(seq 50); do
    [ -S "$MUNGE_SOCKET" ] && return 0
    sleep 0.1
  done
  die "munged socket $MUNGE_SOCKET did not appear"
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

pg_running() {
  local bin
  bin=$(pg_bin)
  [ -n "$bin" ] && [ -f "$DIR/pg/data/PG_VERSION" ] &&
    (cd / && runuser -u postgres -- "$bin/pg_ctl" status -D "$DIR/pg/data" >/dev/null 2>&1)
}

# A PostgreSQL server of the cluster's own, listening on the bridge (reachable from every
# node) and on 127.0.0.1; trust for the bridge's range (a private test network).
start_pg() {
  local bin
  bin=$(pg_bin)
  [ -n "$bin" ] || die "no PostgreSQL server binaries (install postgresql)"
  id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as"
  install -d -m 0755 "$DIR/pg"
  install -d -m 0700 -o postgres "$DIR/pg/data"
  install -d -m 0755 -o postgres "$DIR/pg/sock"
  if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
    (cd / && runuser -u postgres -- "$bin/initdb" -D "$DIR/pg/data" -U postgres -E UTF8 \
      --locale=C --auth=trust) >"$DIR/pg/initdb.log" 2>&1 ||
      die "initdb failed; see $DIR/pg/initdb.log"
    runuser -u postgres -- tee "$DIR/pg/data/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/cluster.sh: the cluster's private test server.
local all all                 trust
host  all all 127.0.0.1/32    trust
host  all all $NET.0/24   trust
EOF
  fi
  if ! pg_running; then
    touch "$DIR/pg/server.log" && chown postgres "$DIR/pg/server.log"
    (cd / && runuser -u postgres -- "$bin/pg_ctl" start -D "$DIR/pg/data" -l "$DIR/pg/server.log" \
      -w -t 60 -o "-k $DIR/pg/sock -c listen_addresses=127.0.0.1,$HEAD_ADDR -p $PG_PORT") \
      >/dev/null || { tail -n 20 "$DIR/pg/server.log" >&2; die "PostgreSQL did not start (port $PG_PORT in use?)"; }
  fi
  local q="SELECT 1 FROM pg_database WHERE datname = '$PG_DB'"
  if [ "$("$bin/psql" -X -q -h "$DIR/pg/sock" -p "$PG_PORT" -U postgres -d postgres -tAc "$q")" != 1 ]; then
    "$bin/psql" -X -q -h "$DIR/pg/sock" -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null
  fi
}

stop_pg() {
  local bin
  bin=$(pg_bin)
  if pg_running; then
    (cd / && runuser -u postgres -- "$bin/pg_ctl" stop -D "$DIR/pg/data" -m fast -w -t 60) >/dev/null ||
      echo "cluster: PostgreSQL did not stop; see $DIR/pg/server.log" >&2
  fi
}

node_states() {
  SLURM_CONF=$CONF sinfo -h -N -o '%N %t' 2>/dev/null | sort -u
}

start() {
  check_settings
  command -v slurmctld >/dev/null || die "slurmctld not found: install slurm-wlm (scripts/install-deps.sh)"
  command -v munged >/dev/null || die "munged not found: install munge (scripts/install-deps.sh)"
  local why
  why=$(can_namespace) || die "cannot build the nodes here: $why"
  mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/ns"
  make_ns_dir
  make_bridge
  local k
  for k in $(seq "$NODES"); do
    make_node "$k"
    mkdir -p "$DIR/spool/$(node_name "$k")" "$DIR/tmp/$(node_name "$k")"
    chmod 1777 "$DIR/tmp/$(node_name "$k")"
  done
  make_uts "$DIR/ns/$HEAD.uts" "$HEAD"
  # The configuration is rewritten only when nothing runs on it.
  if ! alive "$DIR/run/slurmctld.pid"; then
    write_conf
  fi
  start_munge
  start_pg
  export SLURM_CONF=$CONF
  if ! alive "$DIR/run/slurmctld.pid"; then
    # slurmctld takes its host from SlurmctldHost: it runs with that hostname.
    nsenter --uts="$DIR/ns/$HEAD.uts" -- slurmctld -f "$CONF" ||
      die "slurmctld did not start; see $DIR/log/slurmctld.log"
  fi
  for k in $(seq "$NODES"); do
    alive "$DIR/run/slurmd-$(node_name "$k").pid" && continue
    on "$k" slurmd -f "$CONF" -N "$(node_name "$k")" ||
      die "slurmd of $(node_name "$k") did not start; see $DIR/log/slurmd-$(node_name "$k").log"
  done
  local states="" bad
  for _ in $(seq 150); do
    states=$(node_states)
    bad=$(awk '$2 !~ /^(idle|mix|alloc|comp)$/' <<<"$states")
    if [ -n "$states" ] && [ -z "$bad" ] && [ "$(wc -l <<<"$states")" -eq "$NODES" ]; then
      break
    fi
    # A node left down by an earlier run (a stopped slurmd) is brought back.
    awk '$2 ~ /^(down|drain|drng)/ { print $1 }' <<<"$states" | while read -r n; do
      SLURM_CONF=$CONF scontrol update nodename="$n" state=resume 2>/dev/null || true
    done
    sleep 0.2
  done
  [ -n "$states" ] && [ -z "$bad" ] || die "nodes not usable after 30 s: $(tr '\n' ' ' <<<"$states"); see $DIR/log"
  echo "cluster: $NODES nodes up ($(tr '\n' ' ' <<<"$states" | sed 's/ $//')), head $HEAD $HEAD_ADDR," \
    "PostgreSQL $HEAD_ADDR:$PG_PORT (SLURM_CONF=$CONF)"
}

# stop_pid PIDFILE NAME: SIGTERM, up to 10 s, then SIGKILL; only the pid in the file.
stop_pid() {
  local pid
  alive "$1" || { rm -f "$1"; return 0; }
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "cluster: $2 (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# Every process still inside node K's network namespace (job steps, ranks): all started
# by this cluster, since nothing else enters it.
kill_node_procs() {
  local ns pids
  ns=$(node_ns "$1")
  [ -e "/run/netns/$ns" ] || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  [ -n "${pids// /}" ] || return 0
  # shellcheck disable=SC2086 # one pid per word
  kill $pids 2>/dev/null || true
  for _ in $(seq 50); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [ -n "${pids// /}" ] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  sleep 0.2
}

drop_uts() {
  [ -e "$1" ] || return 0
  umount "$1" 2>/dev/null || true
  rm -f "$1"
}

stop() {
  check_settings
  local jobs k n
  if alive "$DIR/run/slurmctld.pid"; then
    jobs=$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086 # one job id per word
      SLURM_CONF=$CONF scancel $jobs 2>/dev/null || true
    fi
  fi
  # Every node ever configured here, even if UPTIME_CLUSTER_NODES changed since.
  local ks
  ks=$( (seq "$NODES"; ls /run/netns 2>/dev/null | sed -n 's/^uptime-node\([0-9]\+\)$/\1/p') | sort -un)
  for k in $ks; do
    n=$(node_name "$k")
    stop_pid "$DIR/run/slurmd-$n.pid" "slurmd of $n"
  done
  stop_pid "$DIR/run/slurmctld.pid" slurmctld
  stop_pg
  stop_pid "$DIR/munge/munged.pid" munged
  for k in $ks; do
    kill_node_procs "$k"
    ip link del "$(node_veth "$k")" 2>/dev/null || true
    [ -e "/run/netns/$(node_ns "$k")" ] && ip netns del "$(node_ns "$k")"
    drop_uts "$DIR/ns/$(node_name "$k").uts"
    drop_uts "$DIR/ns/$(node_name "$k").mnt"
  done
  drop_uts "$DIR/ns/$HEAD.uts"
  if findmnt -n "$DIR/ns" >/dev/null 2>&1; then
    umount "$DIR/ns" || echo "cluster: cannot unmount $DIR/ns" >&2
  fi
  if ip link show "$BR" >/dev/null 2>&1; then
    ip link del "$BR"
  fi
  echo "cluster: stopped"
}

status() {
  check_settings
  local ok=0 k f name
  for f in "$DIR/munge/munged.pid:munged" "$DIR/run/slurmctld.pid:slurmctld"; do
    if alive "${f%%:*}"; then echo "${f#*:}: running (pid $(cat "${f%%:*}"))"; else
      echo "${f#*:}: not running"
      ok=1
    fi
  done
  for k in $(seq "$NODES"); do
    name=$(node_name "$k")
    if [ -e "/run/netns/$(node_ns "$k")" ] && alive "$DIR/run/slurmd-$name.pid"; then
      echo "slurmd on $name ($(node_addr "$k")): running (pid $(cat "$DIR/run/slurmd-$name.pid"))"
    else
      echo "slurmd on $name: not running"
      ok=1
    fi
  done
  if pg_running; then echo "postgresql: running on $HEAD_ADDR:$PG_PORT"; else
    echo "postgresql: not running"
    ok=1
  fi
  if [ "$ok" -eq 0 ]; then
    SLURM_CONF=$CONF sinfo -N || ok=1
    SLURM_CONF=$CONF squeue || ok=1
  fi
  return "$ok"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env)
    printf 'export SLURM_CONF=%q\n' "$CONF"
    printf "export UPTIME_CLUSTER_PG='postgresql://postgres@%s:%s/%s'\n" "$HEAD_ADDR" "$PG_PORT" "$PG_DB"
    printf 'export OMPI_MCA_btl_tcp_if_include=%s\n' "$NODE_IF"
    ;;
  exec)
    [ $# -ge 3 ] || { usage >&2; exit 2; }
    [[ $2 =~ ^node([0-9]+)$ ]] || die "no node '$2' (node1..node$NODES)"
    k=${BASH_REMATCH[1]}
    shift 2
    on "$k" "$@"
    ;;
  can)
    # Used by the tests: exit 0 if namespaces can be made here, else say why.
    why=$(can_namespace) || { echo "$why"; exit 1; }
    ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
