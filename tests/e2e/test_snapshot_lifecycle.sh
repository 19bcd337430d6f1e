#!/usr/bin/env bash
# A snapshot through the report lifecycle: jobs/trigger_report on an HDF5 snapshot (a
# relative path, made absolute for the run) locally and through Slurm, the CSV fetched
# with jobs/get_report equal to the hand-computed golden report.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/lifecycle.sh"
SNAP=$UP_BUILD/uptime_snapshot
[ -x "$SNAP" ] || { echo "SKIP: built without HDF5 (UPTIME_WITH_HDF5=OFF)"; exit 0; }
G=$UP_SRC/tests/data/golden

"$LOAD" --db g.db --dir "$G" --no-rejects -q
mkdir snap
timeout 120 "$MPIEXEC" -n 2 "$SNAP" --quiet --db g.db --output snap/g.h5

id=$(trigger -n 2 --db snap/g.h5 --reports-dir rep)
[ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "local report on the snapshot: $(cat "$T/get.out")"
"$GET" "$id" --reports-dir rep >local.csv
same_files "$G/expected.csv" local.csv "trigger_report on a snapshot (local): the golden report"
jq -e '.source | endswith("/snap/g.h5")' "rep/$id.status.json" >/dev/null ||
  fail "the status does not name the snapshot by its absolute path"
pass "the run found the snapshot by its absolute path"

id=$(UPTIME_DB=hdf5:snap/g.h5 trigger -n 3 --reports-dir rep)
[ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "UPTIME_DB=hdf5:...: $(cat "$T/get.out")"
"$GET" "$id" --reports-dir rep >prefixed.csv
same_files "$G/expected.csv" prefixed.csv "UPTIME_DB=hdf5:PATH through trigger_report: the golden report"

if [ -n "${SLURM_CONF:-}" ] && sinfo -h >/dev/null 2>&1; then
  id=$(trigger --slurm -n 2 --time 5 --db snap/g.h5 --reports-dir rep)
  [ "$(wait_done rep "$id" | tail -1)" = Complete ] || fail "Slurm report on the snapshot: $(cat "$T/get.out")"
  "$GET" "$id" --reports-dir rep >slurm.csv
  same_files "$G/expected.csv" slurm.csv "trigger_report --slurm on a snapshot: the golden report"
else
  echo "# no Slurm cluster configured (SLURM_CONF): the Slurm case is skipped"
fi
echo "$checks passed, 0 failed"
