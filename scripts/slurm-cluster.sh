#!/usr/bin/env bash
# A private single-node Slurm 22.05 cluster for the tests and for trying the Slurm path:
# its own munged (own key and socket), slurmctld and slurmd with their own slurm.conf,
# ports, state, spool and logs, all under one folder. Needs root (munged runs as munge,
# the Slurm daemons as root). Nothing system-wide is touched or restarted.
#
#   scripts/slurm-cluster.sh start    # idempotent; returns when the node is idle
#   eval "$(scripts/slurm-cluster.sh env)"
#   scripts/slurm-cluster.sh status
#   scripts/slurm-cluster.sh stop     # cancels its jobs, stops the three daemons by pid
set -euo pipefail

DIR=${UPTIME_SLURM_DIR:-/tmp/uptime-slurm}
PORT=${UPTIME_SLURM_PORT:-16817} # slurmctld; slurmd uses PORT+1
CPUS=${UPTIME_SLURM_CPUS:-8}     # advertised, whatever the machine has: 4-task jobs must not pend
CONF=$DIR/etc/slurm.conf
MUNGE_SOCKET=$DIR/munge/munge.socket.2

usage() {
  cat <<EOF
usage: scripts/slurm-cluster.sh {start|stop|status|env}

  start   start munged, slurmctld and slurmd (if not running) and wait until the node is idle
  stop    cancel the cluster's jobs and stop the daemons, by the pids in their pid files
  status  say which daemons run, and show sinfo/squeue; exit 0 only if the node is usable
  env     print 'export SLURM_CONF=...' (use: eval "\$(scripts/slurm-cluster.sh env)")

environment:
  UPTIME_SLURM_DIR   folder for configuration, state, spool, logs, pids (default /tmp/uptime-slurm)
  UPTIME_SLURM_PORT  slurmctld port; slurmd uses the next one (default 16817)
  UPTIME_SLURM_CPUS  CPUs the node advertises (default 8)

The cluster: one node 'localhost', one partition 'debug', MpiDefault=pmix (launch Open MPI
jobs with srun --mpi=pmix or mpirun), finished jobs kept MinJobAge=3600 s by slurmctld and
logged for ever in \$UPTIME_SLURM_DIR/jobcomp.log (jobcomp/filetxt). Logs: \$UPTIME_SLURM_DIR/log.
EOF
}

die() {
  echo "slurm-cluster: $*" >&2
  exit 1
}

# alive PIDFILE: true if the pid file names a running process.
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

node_state() {
  SLURM_CONF=$CONF sinfo -h -n localhost -o %t 2>/dev/null | head -1
}

write_conf() {
  cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-cluster.sh: a private single-node cluster. Do not edit; the
# script rewrites it on start.
ClusterName=uptime
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to scontrol/squeue for an hour, and in the jobcomp file after.
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
JobAcctGatherType=jobacct_gather/none
# scancel and time limits: SIGTERM, then SIGKILL after KillWait seconds.
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
# The node advertises CPUS CPUs whatever the machine has (config_overrides).
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  if alive "$DIR/munge/munged.pid"; then
    return 0
  fi
  install -d -o munge -g munge -m 0755 "$DIR/munge"
  if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$DIR/munge/munge.key"
    chmod 0600 "$DIR/munge/munge.key"
  fi
  # munged refuses to run as root: it runs as the munge user, on its own socket and key.
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

start() {
  command -v slurmctld >/dev/null || die "slurmctld not found: install slurm-wlm (scripts/install-deps.sh)"
  command -v munged >/dev/null || die "munged not found: install munge (scripts/install-deps.sh)"
  [ "$(id -u)" -eq 0 ] || die "needs root (munged runs as munge, the Slurm daemons as root)"
  mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
  if alive "$DIR/run/slurmctld.pid" && alive "$DIR/run/slurmd.pid" && alive "$DIR/munge/munged.pid"; then
    echo "slurm-cluster: already running (SLURM_CONF=$CONF)"
  else
    write_conf
    start_munge
    export SLURM_CONF=$CONF
    # Job state (and so job ids) is kept across restarts: ids never repeat in jobcomp.log.
    alive "$DIR/run/slurmctld.pid" || slurmctld -f "$CONF" ||
      die "slurmctld did not start; see $DIR/log/slurmctld.log"
    alive "$DIR/run/slurmd.pid" || slurmd -f "$CONF" ||
      die "slurmd did not start; see $DIR/log/slurmd.log"
  fi
  local st=""
  for _ in $(seq 150); do
    st=$(node_state)
    case $st in
      idle | mix | alloc | comp) break ;;
      down* | drain* | drng*)
        # A node left down by an earlier run (e.g. killed slurmd) is brought back.
        SLURM_CONF=$CONF scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    sleep 0.2
  done
  case $st in
    idle | mix | alloc | comp) ;;
    *) die "node not usable after 30 s (state '${st:-unknown}'); see $DIR/log" ;;
  esac
  echo "slurm-cluster: node localhost $st, $CPUS CPUs (SLURM_CONF=$CONF)"
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
    echo "slurm-cluster: $2 (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

stop() {
  local jobs
  if alive "$DIR/run/slurmctld.pid"; then
    jobs=$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086 # one job id per word
      SLURM_CONF=$CONF scancel $jobs 2>/dev/null || true
    fi
  fi
  stop_pid "$DIR/run/slurmd.pid" slurmd
  stop_pid "$DIR/run/slurmctld.pid" slurmctld
  stop_pid "$DIR/munge/munged.pid" munged
  echo "slurm-cluster: stopped"
}

status() {
  local ok=0 name f
  for name in munged slurmctld slurmd; do
    f=$DIR/run/$name.pid
    [ "$name" = munged ] && f=$DIR/munge/munged.pid
    if alive "$f"; then
      echo "$name: running (pid $(cat "$f"))"
    else
      echo "$name: not running"
      ok=1
    fi
  done
  if [ "$ok" -eq 0 ]; then
    SLURM_CONF=$CONF sinfo || ok=1
    SLURM_CONF=$CONF squeue || ok=1
  fi
  return "$ok"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) printf 'export SLURM_CONF=%q\n' "$CONF" ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
