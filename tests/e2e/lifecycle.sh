# shellcheck shell=bash
# Helpers of the report lifecycle tests (sourced after lib.sh): the trigger/get_report
# commands, waiting for a status, a database held busy, and the Slurm cluster.

TRIGGER=$UP_SRC/jobs/trigger_report
GET=$UP_SRC/jobs/get_report
export UPTIME_REPORT=$REPORT
HOLD_PID=""
STARTED_SLURM=0

cleanup() {
  release_db
  [ "$STARTED_SLURM" -eq 0 ] || "$UP_SRC/scripts/slurm-cluster.sh" stop >&2 || true
  # A batch script may still be recording its exit code after the report's Complete: a
  # file it writes meanwhile must not make the clean-up fail.
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    rm -rf "$T" 2>/dev/null && return 0
    sleep 0.2
  done
  rm -rf "$T"
}
trap cleanup EXIT

# get_rc ID [ARGS...]: get_report's exit code (its output in $T/get.out, $T/get.err).
get_rc() {
  local rc=0
  "$GET" "$@" >"$T/get.out" 2>"$T/get.err" || rc=$?
  echo "$rc"
}

# trigger ARGS...: runs trigger_report, checks its output is exactly {"report_id": "<id>"},
# and prints the id.
trigger() {
  local out id
  out=$("$TRIGGER" "$@") || fail "trigger_report $* failed"
  id=$(jq -r '.report_id' <<<"$out")
  [ "$out" = "{\"report_id\": \"$id\"}" ] || fail "trigger_report printed '$out'"
  printf '%s\n' "$id"
}

# wait_done DIR ID [SECONDS]: polls get_report until it stops saying Pending/Running; prints
# the statuses seen, one per change (Pending, Running, Complete or Failed).
wait_done() {
  local dir=$1 id=$2 limit=${3:-120} rc last="" now st start=$SECONDS
  while :; do
    rc=$(get_rc "$id" --reports-dir "$dir")
    case $rc in
      0) st=Complete ;;
      10) st=$(jq -r .status "$T/get.out") ;;
      11) st=Failed ;;
      *)
        cat "$T/get.err" >&2
        fail "get_report $id: exit $rc"
        ;;
    esac
    [ "$st" = "$last" ] || printf '%s\n' "$st"
    last=$st
    [ "$rc" -eq 10 ] || return 0
    now=$SECONDS
    [ $((now - start)) -lt "$limit" ] || fail "report $id still $st after $limit s"
    sleep 0.1
  done
}

# wait_field DIR ID FIELD [SECONDS]: waits until the status file has FIELD.
wait_field() {
  local f="$1/$2.status.json" start=$SECONDS
  until [ -s "$f" ] && jq -e --arg k "$3" '.[$k] != null' "$f" >/dev/null 2>&1; do
    [ $((SECONDS - start)) -lt "${4:-30}" ] || fail "status file of $2 never got $3"
    sleep 0.05
  done
}

# hold_db DB: an honest slow job: another process holds the SQLite database's exclusive
# lock (as a long write into a rollback-journal database would), so a report's read waits
# for it (the job's busy timeout is 10 s, then it fails with "database is locked"). The
# loader keeps databases in WAL mode, where no write ever holds a reader up (docs/schema.md),
# so the file is put back in rollback mode first (its next load switches it to WAL again).
# Sets HOLD_PID; release_db ends it.
hold_db() {
  rm -f "$T/held"
  python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("PRAGMA journal_mode = DELETE")
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(60)' "$1" "$T/held" &
  HOLD_PID=$!
  local start=$SECONDS
  until [ -e "$T/held" ]; do
    [ $((SECONDS - start)) -lt 10 ] || fail "could not lock $1"
    sleep 0.05
  done
}
release_db() {
  [ -n "$HOLD_PID" ] || return 0
  kill "$HOLD_PID" 2>/dev/null || true
  wait "$HOLD_PID" 2>/dev/null || true
  HOLD_PID=""
}

# need_slurm: a usable Slurm cluster. Under scripts/test.sh SLURM_CONF is already set;
# alone, the test starts the private cluster (and stops it at exit if it started it).
need_slurm() {
  if [ -z "${SLURM_CONF:-}" ]; then
    if ! "$UP_SRC/scripts/slurm-cluster.sh" status >/dev/null 2>&1; then
      STARTED_SLURM=1
      "$UP_SRC/scripts/slurm-cluster.sh" start >&2 || fail "could not start the Slurm cluster"
    fi
    eval "$("$UP_SRC/scripts/slurm-cluster.sh" env)"
  fi
  export SLURM_CONF
  sinfo -h -o %t >/dev/null || fail "Slurm is not reachable (SLURM_CONF=$SLURM_CONF)"
}
