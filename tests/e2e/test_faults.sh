#!/usr/bin/env bash
# Fault injection, bounded in time: full file systems (small tmpfs mounts) under the
# reports folder, the database and the rejects file; ranks killed with SIGKILL at several
# moments of a report. Each fault ends with a clear error and its documented exit code;
# no partial or temporary file is left; a database is byte-identical to what it was; no
# rank is left running. (The other injected faults have their own tests: a load racing a
# report, test_sqlite_snapshot.sh and test_pg_snapshot.sh; planted symlinks,
# test_files.sh; id collisions, test_ids.sh; a stopped PostgreSQL server,
# test_hung_server.sh; a hung Slurm, test_slurm_hung.sh. docs/reliability.md lists them.)
# Needs root for the mounts: without it the full-folder cases say SKIP.
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden

MOUNTS=()
# shellcheck disable=SC2317 # called by the trap
cleanup_mounts() {
  local m
  for m in "${MOUNTS[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup_mounts EXIT
trap 'exit 143' TERM INT

# small_fs DIR SIZE: a tmpfs of SIZE at DIR; 1 when none can be mounted here.
small_fs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>/dev/null || return 1
  MOUNTS+=("$1")
}

# only_files DIR NAME...: DIR holds exactly these names (temporaries included).
only_files() {
  local dir=$1
  shift
  local got want
  got=$(cd "$dir" && ls -A | sort | paste -sd' ')
  want=$(printf '%s\n' "$@" | sort | paste -sd' ')
  [ "$got" = "$want" ] || fail "$dir holds '$got', expected '$want'"
}

"$GEN" --out in --stores 2000 --days 8 --seed 5 2>/dev/null
"$LOAD" --db u.db --dir in --no-rejects -q
"$LOAD" --db g.db --dir "$G" --no-rejects -q
csv_bytes=$(run_report 1 --db u.db --reports-dir ref --report-id ref && stat -c %s ref/ref.csv)

if small_fs full 64k; then
  # 1. A reports folder full before the job starts: it fails at once, before computing.
  dd if=/dev/zero of=full/filler bs=4k count=64 2>/dev/null || true
  start=$(date +%s%N)
  rc=0
  run_report 2 --db u.db --reports-dir full --report-id early 2>err1.txt || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  [ "$rc" -eq 4 ] || fail "full reports folder: exit $rc, expected 4 ($(cat err1.txt))"
  grep -q "cannot write status file full/.*No space left on device" err1.txt ||
    fail "no reason naming the folder: $(cat err1.txt)"
  only_files full filler
  pass "a full reports folder: exit 4 in $ms ms, naming the file and ENOSPC, nothing left"

  # The same through the trigger: it cannot record Pending, so it starts nothing.
  rc=0
  UPTIME_REPORT=$REPORT timeout 60 "$UP_SRC/jobs/trigger_report" --db u.db --reports-dir full \
    >trig.out 2>trig.err || rc=$?
  [ "$rc" -ne 0 ] || fail "trigger_report into a full folder succeeded: $(cat trig.out)"
  grep -q "No space left on device" trig.err || fail "trigger_report: $(cat trig.err)"
  only_files full filler
  pass "trigger_report into a full folder: exit $rc with the reason, no run started"

  # 2. Room for the status file but not for the CSV: fails while writing, nothing partial.
  rm -f full/filler
  [ "$csv_bytes" -gt 65536 ] || fail "the reference report is too small ($csv_bytes bytes)"
  rc=0
  run_report 2 --db u.db --reports-dir full --report-id late 2>err2.txt || rc=$?
  [ "$rc" -eq 4 ] || fail "CSV larger than the folder: exit $rc, expected 4 ($(cat err2.txt))"
  jq -e '.status == "Failed" and (.error | test("cannot write report .*No space left on device"))' \
    full/late.status.json >/dev/null || fail "status: $(cat full/late.status.json)"
  only_files full late.status.json
  pass "a reports folder that fills during the write: exit 4, status Failed (ENOSPC), no CSV, no temporary"

  # 2b. The same with every rank writing its own rows (--parallel-write).
  rm -f full/late.status.json
  rc=0
  run_report 3 --db u.db --reports-dir full --report-id plate --parallel-write 2>err2b.txt || rc=$?
  [ "$rc" -eq 4 ] || fail "--parallel-write, CSV larger than the folder: exit $rc, expected 4 ($(cat err2b.txt))"
  jq -e '.status == "Failed" and (.error | test("cannot write report .*No space left on device"))' \
    full/plate.status.json >/dev/null || fail "status: $(cat full/plate.status.json)"
  only_files full plate.status.json
  pass "--parallel-write into a folder that fills: exit 4, status Failed (ENOSPC), no CSV, no temporary"
else
  echo "# SKIP: no tmpfs can be mounted here (not root?): full reports folder cases"
fi

if small_fs dbfs 4m; then
  # 3. A load that fills the database's file system: exit 3, the database as it was.
  "$LOAD" --db dbfs/a.db --dir "$G" --no-rejects -q
  before=$(md5sum <dbfs/a.db)
  files_before=$(cd dbfs && ls -A | sort | paste -sd' ')
  rc=0
  timeout 120 "$LOAD" --db dbfs/a.db --dir in --no-rejects -q 2>err3.txt || rc=$?
  [ "$rc" -eq 3 ] || fail "load into a full file system: exit $rc, expected 3 ($(cat err3.txt))"
  grep -q "database or disk is full" err3.txt || fail "no reason: $(cat err3.txt)"
  [ "$(md5sum <dbfs/a.db)" = "$before" ] || fail "the database changed"
  [ "$(cd dbfs && ls -A | sort | paste -sd' ')" = "$files_before" ] ||
    fail "files left beside the database: $(ls -A dbfs)"
  run_report 1 --db dbfs/a.db --reports-dir rep3 --report-id after
  same_files "$G/expected.csv" rep3/after.csv "after a load failed on a full disk, the database still gives its report"
  pass "a load that fills the database's file system: exit 3, database byte-identical, nothing left beside it"

  # 4. A first load into a full file system leaves no database file at all.
  rc=0
  timeout 120 "$LOAD" --db dbfs/new.db --dir in --no-rejects -q 2>err4.txt || rc=$?
  [ "$rc" -eq 3 ] || fail "first load into a full file system: exit $rc ($(cat err4.txt))"
  [ "$(cd dbfs && ls -A | sort | paste -sd' ')" = "$files_before" ] ||
    fail "a failed first load left files: $(ls -A dbfs)"
  pass "a first load that fills the disk: exit 3, no database file left"
else
  echo "# SKIP: no tmpfs can be mounted here (not root?): full database cases"
fi

if small_fs rj 16k; then
  # 5. Rejects that do not fit: the load fails (no reject is silently dropped) and loads
  # nothing.
  cp u.db r.db
  before=$(md5sum <r.db)
  {
    echo "store_id,status,timestamp_utc"
    for i in $(seq 2000); do echo "s$i,maybe,2023-01-01 00:00:00 UTC"; done
    echo "s1,active,2023-01-01 00:00:00 UTC"
  } >bad.csv
  rc=0
  timeout 60 "$LOAD" --db r.db --status bad.csv --rejects rj/rejects.csv -q 2>err5.txt || rc=$?
  [ "$rc" -eq 4 ] || fail "rejects on a full disk: exit $rc, expected 4 ($(cat err5.txt))"
  grep -q "cannot write rejects file rj/.*No space left on device" err5.txt || fail "$(cat err5.txt)"
  [ "$(md5sum <r.db)" = "$before" ] || fail "the database changed though the load failed"
  only_files rj
  pass "a rejects file that fills its disk: exit 4, nothing loaded, no temporary left"
else
  echo "# SKIP: no tmpfs can be mounted here (not root?): full rejects case"
fi

# 6. SIGKILL of one rank at several moments of a report (the job's own phases move fast
# on this data, so the offsets fall in different ones): mpirun ends the job within a
# bound, no CSV and no temporary, no rank left.
"$GEN" --out big --stores 20000 --days 8 --seed 6 2>/dev/null
"$LOAD" --db big.db --dir big --no-rejects -q
run_report 1 --db big.db --reports-dir kref --report-id whole
for delay in 0.1 0.3 0.6 1.0; do
  id=kill-${delay/./_}
  timeout -k 10 120 "$MPIEXEC" -n 3 "$REPORT" --quiet --db big.db --reports-dir kr --report-id "$id" \
    >/dev/null 2>"kill-$id.err" &
  mpid=$!
  sleep "$delay"
  victim=$(pgrep -f -- "--report-id $id\$" | while read -r p; do
    [ "$(ps -o comm= -p "$p" || true)" != uptime_report ] || echo "$p"
  done | tail -1 || true)
  [ -z "$victim" ] || kill -KILL "$victim" 2>/dev/null || true
  start=$SECONDS
  rc=0
  wait "$mpid" || rc=$?
  [ $((SECONDS - start)) -le 30 ] || fail "$id: mpirun took $((SECONDS - start)) s to end"
  if [ "$rc" -eq 0 ] || [ -e "kr/$id.csv" ]; then
    # The job published before the kill reached it (the rename is the one atomic step):
    # then its report is whole and Complete, whatever mpirun's exit.
    grc=0
    UPTIME_REPORT=$REPORT "$UP_SRC/jobs/get_report" --reports-dir kr "$id" >get.csv 2>&1 || grc=$?
    [ "$grc" -eq 0 ] || fail "$id: a published CSV but get_report exit $grc: $(head -3 get.csv)"
    same_files kref/whole.csv "kr/$id.csv" \
      "$([ -n "$victim" ] && echo "rank killed after ${delay}s" || echo "no rank to kill yet at ${delay}s") (mpirun exit $rc): the report was published, whole, Complete"
  else
    # Rank 0 may have been killed mid-write (SIGKILL leaves its temporary): get_report
    # finds the run dead, records Failed and removes what it left.
    grc=0
    UPTIME_REPORT=$REPORT "$UP_SRC/jobs/get_report" --reports-dir kr "$id" >get.out 2>&1 || grc=$?
    # Killed before rank 0 claimed the id (in MPI_Init): nothing was started (12, unknown).
    [ "$grc" -eq 11 ] || { [ "$grc" -eq 12 ] && [ ! -e "kr/$id.status.json" ]; } ||
      fail "$id: get_report exit $grc: $(cat get.out)"
    ! ls -A kr 2>/dev/null | grep -q "^\.$id\..*tmp" || fail "$id: temporaries left: $(ls -A kr)"
    pass "rank killed after ${delay}s: mpirun exit $rc, no CSV; get_report says $([ "$grc" -eq 11 ] && echo Failed || echo 'unknown (killed before the id was claimed)'), no temporary left"
  fi
  sleep 0.2
  ! pgrep -f -- "--report-id $id\$" >/dev/null || fail "$id: processes left: $(pgrep -af -- "--report-id $id")"
done
# 7. The snapshot writer stopped (SIGTERM to mpirun) or one of its ranks SIGKILLed: no
# temporary file is left beside the output, and no output appears unless it is whole.
if [ -x "$UP_BUILD/uptime_snapshot" ]; then
  mkdir -p snap
  for how in term kill; do
    t0=$SECONDS
    timeout -k 10 120 "$MPIEXEC" -n 2 "$UP_BUILD/uptime_snapshot" --quiet --db big.db \
      --output "snap/$how.h5" >/dev/null 2>"snap-$how.err" &
    mpid=$!
    sleep 0.25
    if [ "$how" = term ]; then
      kill -TERM "$mpid" 2>/dev/null || true
    else
      victim=$(pgrep -f -- "--output snap/$how.h5\$" | while read -r p; do
        [ "$(ps -o comm= -p "$p" || true)" != uptime_snapshot ] || echo "$p"
      done | tail -1 || true)
      [ -z "$victim" ] || kill -KILL "$victim" 2>/dev/null || true
    fi
    rc=0
    wait "$mpid" || rc=$?
    [ $((SECONDS - t0)) -lt 110 ] || fail "snapshot $how: the job did not end within 110 s of the signal"
    ! ls -A snap | grep -q "^$how\.h5\.tmp\." || fail "snapshot $how: temporary left: $(ls -A snap)"
    if [ -e "snap/$how.h5" ]; then
      # Published (its rename is the one atomic step) before the signal reached it, which
      # may still have made mpirun exit non-zero while the ranks finalized: whole.
      run_report 1 --db "snap/$how.h5" --reports-dir kref --report-id "snap-$how"
      same_files kref/whole.csv "kref/snap-$how.csv" "snapshot, $how at 0.25 s (exit $rc): published before the signal, whole"
    else
      [ "$rc" -ne 0 ] || fail "snapshot $how: exit 0 but no file"
      pass "snapshot, $how at 0.25 s: exit $rc, no file, no temporary left"
    fi
  done
fi
echo "$checks passed, 0 failed"
