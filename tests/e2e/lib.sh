# Shared helpers of the end-to-end tests (sourced). Set by ctest: UP_BUILD, UP_SRC, MPIEXEC.
set -euo pipefail
UP_SRC=${UP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
UP_BUILD=${UP_BUILD:-$UP_SRC/build}
MPIEXEC=${MPIEXEC:-mpirun}
. "$UP_SRC/scripts/mpi-env.sh"

LOAD=$UP_BUILD/uptime_load
REPORT=$UP_BUILD/uptime_report
GEN=$UP_BUILD/uptime_gen
ORACLE="python3 $UP_SRC/tests/oracle/uptime_oracle.py"

T=$(mktemp -d "${TMPDIR:-/tmp}/up_e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

checks=0
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
pass() {
  checks=$((checks + 1))
  echo "ok $checks - $*"
}

# expect_exit CODE DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit code.
expect_exit() {
  local want=$1 what=$2
  shift 3
  local got=0
  "$@" >"$T/out.txt" 2>"$T/err.txt" || got=$?
  [ "$got" -eq "$want" ] || { cat "$T/out.txt" "$T/err.txt" >&2; fail "$what: exit $got, expected $want"; }
  pass "$what (exit $want)"
}

# run_report N ARGS...: the MPI job on N ranks, bounded in time so a hang fails the test.
run_report() {
  local n=$1
  shift
  timeout 300 "$MPIEXEC" -n "$n" "$REPORT" --quiet "$@"
}

# same_files A B WHAT: byte-identical or fail with a diff excerpt.
same_files() {
  cmp -s "$1" "$2" || { diff "$1" "$2" | head -20 >&2; fail "$3"; }
  pass "$3"
}
