# shellcheck shell=bash
# Shared helper of the report lifecycle's scripts (sourced by jobs/trigger_report,
# jobs/get_report and slurm/uptime_report.sbatch). See docs/lifecycle.md.
#
# The scripts only start processes (setsid, sbatch, srun) and pass their options on: report
# ids, source strings and the status file are handled by uptime_ctl (src/uptime_ctl, over
# up_status, up_source and up_lifecycle), the one implementation the coming HTTP front
# shares. No field name of the status file and no id pattern is spelled here.

UP_LIB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# up_ctl: prints uptime_ctl's path -- $UPTIME_CTL, else the one beside $UPTIME_REPORT, else
# build/uptime_ctl of this checkout -- or says it is not built and fails.
up_ctl() {
  local ctl=${UPTIME_CTL:-}
  if [ -z "$ctl" ]; then
    ctl=$UP_LIB_HOME/build/uptime_ctl
    if [ -n "${UPTIME_REPORT:-}" ] && [ -x "$(dirname "$UPTIME_REPORT")/uptime_ctl" ]; then
      ctl=$(dirname "$UPTIME_REPORT")/uptime_ctl
    fi
  fi
  if [ ! -x "$ctl" ]; then
    echo "$ctl is not built (run scripts/build.sh, or set UPTIME_CTL)" >&2
    return 1
  fi
  printf '%s\n' "$ctl"
}

# up_wants_help ARGS...: true if the arguments ask for --help (before any "--").
up_wants_help() {
  local a
  for a in "$@"; do
    case $a in
      -h | --help) return 0 ;;
      --) return 1 ;;
    esac
  done
  return 1
}
