#!/usr/bin/env bash
# The sanitizer build's end-to-end run (ctest san.sample in a build with UPTIME_SANITIZE;
# scripts/test-sanitize.sh): data/sample loaded and reported on 2 ranks by the ASan+UBSan
# programs -- into SQLite, through an HDF5 snapshot, and into PostgreSQL when
# UPTIME_TEST_PG is set -- and every result compared with the normal build's
# (UP_REF_BUILD, default build/). Any sanitizer report of any rank fails the test: the
# reports go to files (log_path, reports/<program>.<pid>), and none may appear.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/scripts/sanitize-env.sh"
REF=${UP_REF_BUILD:-$UP_SRC/build}
[ -x "$REF/uptime_report" ] || fail "no normal build at $REF (set UP_REF_BUILD)"
S=$UP_SRC/data/sample
mkdir "$T/sanitizer"
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$T/sanitizer/report"
# One id per run: an id is claimed once.
n=0

# san WHAT CMD...: runs CMD; it must succeed and leave no sanitizer report.
san() {
  local what=$1 rc=0 f
  shift
  "$@" >"$T/out.txt" 2>"$T/err.txt" || rc=$?
  if compgen -G "$T/sanitizer/*" >/dev/null; then
    for f in "$T"/sanitizer/*; do
      echo "--- $f" >&2
      cat "$f" >&2
    done
    fail "$what: sanitizer report (above)"
  fi
  [ "$rc" -eq 0 ] || { cat "$T/out.txt" "$T/err.txt" >&2; fail "$what: exit $rc"; }
  pass "$what"
}

# The normal build's load and report are the reference.
"$REF/uptime_load" --db ref.db --dir "$S" --rejects ref-rejects.csv -q
timeout 300 "$MPIEXEC" -n 2 "$REF/uptime_report" --quiet --db ref.db -r ref -i ref >/dev/null
[ -s ref/ref.csv ] || fail "the normal build made no report"

san "uptime_load of data/sample into SQLite" "$LOAD" --db san.db --dir "$S" --rejects san-rejects.csv -q
same_files ref-rejects.csv san-rejects.csv "the same rejects as the normal build"
san "uptime_report -n 2 on SQLite" run_report 2 --db san.db -r rep -i sqlite
same_files ref/ref.csv rep/sqlite.csv "the same report as the normal build (SQLite)"
jq -e '.status == "Complete"' rep/sqlite.status.json >/dev/null || fail "status is not Complete"

if [ -x "$UP_BUILD/uptime_snapshot" ]; then
  san "uptime_snapshot -n 2" timeout 300 "$MPIEXEC" -n 2 "$UP_BUILD/uptime_snapshot" -q --db san.db --output san.h5
  san "uptime_report -n 2 on the snapshot" run_report 2 --db san.h5 -r rep -i hdf5
  same_files ref/ref.csv rep/hdf5.csv "the same report as the normal build (HDF5 snapshot)"
fi

if [ -n "${UPTIME_TEST_PG:-}" ]; then
  . "$UP_SRC/tests/e2e/pg.sh"
  PG_BASE=$UPTIME_TEST_PG
  url=$(pg_schema "san_sample_$$")
  san "uptime_load of data/sample into PostgreSQL" "$LOAD" --db "$url" --dir "$S" --no-rejects -q
  san "uptime_report -n 2 on PostgreSQL" run_report 2 --db "$url" -r rep -i pg
  same_files ref/ref.csv rep/pg.csv "the same report as the normal build (PostgreSQL)"
else
  echo "# PostgreSQL part skipped: UPTIME_TEST_PG is not set"
fi
echo "$checks passed, 0 failed"
