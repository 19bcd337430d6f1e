# shellcheck shell=bash
# Shared helpers of the report lifecycle (sourced by jobs/trigger_report, jobs/get_report
# and slurm/uptime_report.sbatch). See docs/lifecycle.md.
#
# Every writer of a status file outside the C job (trigger, local wrapper, batch script,
# get_report's verdicts) holds the report's lock file DIR/.ID.lock while it reads, merges
# and renames the file, so no update is lost. The C job itself does not lock: the scripts
# make sure it only starts after their own writes (see trigger_report) and that they only
# write a verdict once it has ended.

UP_ID_RE='^[A-Za-z0-9_-]{1,64}$'

# up_valid_id ID: true for 1-64 of [A-Za-z0-9_-].
up_valid_id() {
  [[ $1 =~ $UP_ID_RE ]]
}

# up_now_iso: the current UTC time as the C job writes it (2023-01-25T18:13:22.123Z).
up_now_iso() {
  date -u +%Y-%m-%dT%H:%M:%S.%3NZ
}

# up_redact URL: the URL with any password hidden, exactly as the C job's up_store_redact.
up_redact() {
  local url=$1 out head rest
  out=$url
  if [[ $url == *://* ]]; then
    head=${url%%://*}://
    rest=${url#*://}
    if [[ $rest == *@* ]]; then
      local userinfo=${rest%%@*} # up to the first '@'
      if [[ $userinfo == *:* ]]; then
        out="$head${userinfo%%:*}:***@${rest#*@}"
      fi
    fi
  fi
  if [[ $out == *password=* ]]; then
    local before=${out%%password=*} after=${out#*password=}
    if [[ $after == *" "* ]]; then
      out="${before}password=*** ${after#* }"
    else
      out="${before}password=***"
    fi
  fi
  printf '%s\n' "$out"
}

# up_json_string TEXT: TEXT as a JSON string literal (quoted and escaped by jq).
up_json_string() {
  jq -n --arg v "$1" '$v'
}

up_status_file() { printf '%s/%s.status.json\n' "$1" "$2"; }

# up_lock DIR ID: takes the report's lock (blocking); the fd is in UP_LOCK_FD.
up_lock() {
  exec {UP_LOCK_FD}>>"$1/.$2.lock"
  flock -x "$UP_LOCK_FD"
}

# up_unlock: releases the lock taken by up_lock.
up_unlock() {
  if [ -n "${UP_LOCK_FD:-}" ]; then
    exec {UP_LOCK_FD}>&-
    UP_LOCK_FD=
  fi
}

# up_status_get DIR ID FIELD: the field's value ('' when absent, null or no file).
up_status_get() {
  local f
  f=$(up_status_file "$1" "$2")
  [ -e "$f" ] || return 0
  jq -r --arg k "$3" '.[$k] // empty | tostring' "$f"
}

# up_status_merge DIR ID JSON: merges the JSON object into the status file (creating it),
# atomically (temporary file in the same folder, then rename). Hold the lock.
up_status_merge() {
  local dir=$1 id=$2 add=$3 f tmp
  f=$(up_status_file "$dir" "$id")
  tmp="$dir/.$id.status.json.tmp.$BASHPID"
  if [ -s "$f" ]; then
    jq -S --argjson add "$add" '(if type == "object" then . else {} end) + $add' "$f" >"$tmp"
  else
    jq -n -S --argjson add "$add" '$add' >"$tmp"
  fi || {
    rm -f "$tmp"
    echo "cannot write status file $f" >&2
    return 4
  }
  mv -f "$tmp" "$f"
}

# up_proc_start PID: the process's start time (clock ticks after boot), '' if gone or a
# zombie. Recorded beside a pid so that a recycled pid is not mistaken for the job.
up_proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # the command name may hold spaces and parentheses
  # shellcheck disable=SC2086 # split the fields on purpose
  set -- $stat
  [ "$1" != Z ] && [ "$1" != X ] || return 0
  printf '%s\n' "${20}"
}

# up_pid_alive PID [START]: true if PID runs (and, when START is given, started then).
up_pid_alive() {
  local pid=$1 want=${2:-} got
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  got=$(up_proc_start "$pid")
  [ -n "$got" ] || return 1
  [ -z "$want" ] || [ "$want" = "$got" ]
}

# up_slurm_job JOBID: prints "STATE EXITCODE" of a Slurm job ('' if Slurm does not know
# it or cannot be reached): from slurmctld while it keeps the job (MinJobAge), else from
# the jobcomp file (jobcomp/filetxt) if the cluster keeps one.
up_slurm_job() {
  local jid=$1 line loc
  line=$(scontrol -o show job "$jid" 2>/dev/null | head -1) || line=""
  if [[ $line != *"JobState="* ]]; then
    loc=$(scontrol show config 2>/dev/null | awk '$1 == "JobCompLoc" { print $3 }') || loc=""
    line=""
    if [ -n "$loc" ] && [ -r "$loc" ]; then
      line=$(grep -E "^JobId=$jid " "$loc" | tail -1) || line=""
    fi
  fi
  [[ $line == *"JobState="* ]] || return 0
  local state=${line#*JobState=} code=""
  state=${state%% *}
  if [[ $line == *" ExitCode="* ]]; then
    code=${line##* ExitCode=}
    code=${code%% *}
  fi
  printf '%s %s\n' "$state" "${code:--}"
}

# up_slurm_reason JOBID STATE EXITCODE: why a Slurm job that recorded no result ended.
up_slurm_reason() {
  local jid=$1 state=$2 code=$3
  case $state in
    CANCELLED) echo "cancelled (Slurm job $jid CANCELLED)" ;;
    TIMEOUT) echo "time limit reached (Slurm job $jid TIMEOUT)" ;;
    NODE_FAIL) echo "node failure (Slurm job $jid NODE_FAIL)" ;;
    OUT_OF_MEMORY) echo "out of memory (Slurm job $jid OUT_OF_MEMORY)" ;;
    FAILED) echo "Slurm job $jid FAILED with exit code $code" ;;
    COMPLETED) echo "Slurm job $jid COMPLETED without recording a result" ;;
    *) echo "Slurm job $jid ended: $state (exit code $code)" ;;
  esac
}
