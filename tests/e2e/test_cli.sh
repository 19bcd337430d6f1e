#!/usr/bin/env bash
# One command line across the tools: each short option means one thing in every program
# that has it (read from each program's own --help), --help exits 0 on stdout, and a
# missing time zone database gives the same exit code (7) from every program that reads it.
. "$(dirname "$0")/lib.sh"

# short_opts NAME COMMAND...: "NAME -x --long" per short option the help lists.
short_opts() {
  local name=$1
  shift
  "$@" --help | grep -oE '^ +-[A-Za-z], --[a-z][a-z-]*' | sed -E "s/^ +/$name /; s/,//"
}
{
  short_opts uptime_load "$LOAD"
  short_opts uptime_report "$MPIEXEC" -n 1 "$REPORT"
  short_opts uptime_gen "$GEN"
  for tool in "$UP_SRC"/jobs/trigger_report "$UP_SRC"/jobs/get_report; do
    short_opts "$(basename "$tool")" "$tool"
  done
  for p in "$UP_BUILD"/uptime_ctl "$UP_BUILD"/uptime_serve "$UP_BUILD"/uptime_snapshot; do
    [ ! -x "$p" ] || short_opts "$(basename "$p")" "$p"
  done
} >opts.txt
[ "$(wc -l <opts.txt)" -ge 10 ] || { cat opts.txt; fail "too few options read from the helps"; }
pass "short options read from every program's --help ($(wc -l <opts.txt) of them)"
# A short letter that maps to two long names anywhere is a clash.
clashes=$(awk '{ if (($2 in long) && long[$2] != $3) print $2 ": " long[$2] " (" tool[$2] ") vs " $3 " (" $1 ")"; long[$2] = $3; tool[$2] = $1 }' opts.txt)
[ -z "$clashes" ] || { echo "$clashes" >&2; fail "a short option means two things"; }
pass "each short option means one thing in every program"

# ---- a missing time zone database: exit 7 from the loader and from every rank ----
G=$UP_SRC/tests/data/golden
expect_exit 7 "uptime_load without a tz database" -- env TZDIR=/nonexistent "$LOAD" --db tz.db --dir "$G" --no-rejects
[ ! -e tz.db ] || fail "a load that failed on the tz database left a database"
"$LOAD" --db g.db --dir "$G" --no-rejects -q
expect_exit 7 "uptime_report without a tz database" -- env TZDIR=/nonexistent timeout 120 "$MPIEXEC" -n 2 -x TZDIR "$REPORT" --quiet --db g.db --reports-dir rep --report-id notz
jq -e '.status == "Failed" and (.error | test("nonexistent"))' rep/notz.status.json >/dev/null ||
  { cat rep/notz.status.json; fail "status of a run without a tz database"; }
[ ! -e rep/notz.csv ] || fail "a run without a tz database left a CSV"
pass "no tz database: Failed with the reason, no CSV"

# ---- trigger_report refuses what the run would fail on, before starting anything ----
export UPTIME_REPORT=$REPORT UPTIME_CTL=$UP_BUILD/uptime_ctl
expect_exit 2 "trigger_report with an invalid --now" -- "$UP_SRC/jobs/trigger_report" --db g.db -r trig --now "2023-02-30 00:00:00 UTC"
grep -q "invalid --now" err.txt || { cat err.txt; fail "no reason for the invalid --now"; }
expect_exit 2 "trigger_report with an empty --report-id" -- "$UP_SRC/jobs/trigger_report" --db g.db -r trig --report-id ""
[ -z "$(ls -A trig 2>/dev/null)" ] || fail "a refused trigger left files: $(ls -A trig)"
pass "refused triggers start nothing and leave no file"
echo "$checks passed, 0 failed"
