#!/usr/bin/env bash
# Every rank of a SQLite report reads one commit (issue 13, defect 1): a load that commits
# while a report runs gives the report of the database before it or after it, byte for
# byte, never a mix. The loader keeps the file in WAL mode and bumps a load generation in
# each load's transaction; rank 0 holds a read transaction from its plan to the end, every
# rank's connection opens its own at once and checks the generation (docs/schema.md "One
# commit per report"; a rank that finds another makes rank 0 plan again: the window is
# milliseconds, so that retry is tested in tests/test_job.c, and the refusal itself in
# tests/test_store.c).
#  1. References: the report on the database before the racing load and after it, with
#     one --now; the load changes many rows (polls re-sent as inactive, hours replaced).
#  2. uptime_load racing reports at many offsets, 2 and 3 ranks: each report is "before"
#     or "after" (without the one view, rank 0's plan and the ranks' polls mix).
#  3. uptime_snapshot (HDF5) racing the same load: the report read from the snapshot is
#     "before" or "after" too.
#  4. The file's mode and generation: WAL and a generation bumped by each load and prune;
#     a database of an older version (rollback journal, no generation) is read, then
#     switched to WAL by its next load; a failed first load leaves no -wal/-shm behind; a
#     user who cannot write the folder still reads the database.
. "$(dirname "$0")/lib.sh"
SNAP=$UP_BUILD/uptime_snapshot
NOW='2023-01-25 18:13:22 UTC'

"$GEN" --out a --stores 1500 --days 9 --seed 5 --ids mixed 2>/dev/null
# The racing load: every third poll again as inactive, half of the stores' hours replaced
# by 10:00-11:00 every day, and one more poll before now for every tenth store.
python3 "$UP_SRC/tests/e2e/racing_load.py" a b "2023-01-25 18:12:00.000000 UTC"
grep -q 2023-01-25 a/store_status.csv || fail "generated data does not end on 2023-01-25"

# fresh_copy NAME: a copy of the "before" database (its WAL is empty once the loader has
# closed it, so the main file is the whole database).
fresh_copy() {
  [ ! -s before.db-wal ] || fail "before.db-wal is not empty after the load closed"
  cp before.db "$1"
}

# ---- 1. The references. ----
"$LOAD" --db before.db --dir a --no-rejects -q
fresh_copy after.db
"$LOAD" --db after.db --dir b --no-rejects -q
run_report 2 --db before.db --now "$NOW" --reports-dir rep --report-id before
run_report 2 --db after.db --now "$NOW" --reports-dir rep --report-id after
changed=$(diff rep/before.csv rep/after.csv | grep -c '^>' || true)
[ "$changed" -gt 500 ] || fail "the racing load changes too little ($changed rows)"
pass "the racing load changes $changed of $(wc -l <rep/before.csv) report rows"

# The load's duration sets the offsets (in per mille of it, so that a slow or a fast
# machine gets the same sweep).
fresh_copy timing.db
t0=$(date +%s%N)
"$LOAD" --db timing.db --dir b --no-rejects -q
load_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# the racing load takes ${load_ms} ms"

# race_one K N OFFSET_MS: a fresh copy, the load started, the report started OFFSET_MS
# later (negative: the report first); prints before or after, fails on anything else.
race_one() {
  local k=$1 n=$2 off=$3 bg rc=0
  fresh_copy "race$k.db"
  if [ "$off" -ge 0 ]; then
    "$LOAD" --db "race$k.db" --dir b --no-rejects -q &
    bg=$!
    sleep "$(printf '%d.%03d' $((off / 1000)) $((off % 1000)))"
    run_report "$n" --db "race$k.db" --now "$NOW" --reports-dir rep --report-id "race$k" \
      2>"race$k.err" || rc=$?
  else
    run_report "$n" --db "race$k.db" --now "$NOW" --reports-dir rep --report-id "race$k" \
      2>"race$k.err" &
    bg=$!
    sleep "$(printf '%d.%03d' $((-off / 1000)) $((-off % 1000)))"
    "$LOAD" --db "race$k.db" --dir b --no-rejects -q || rc=$?
  fi
  wait "$bg" || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "race$k.err" >&2
    fail "race $k (${off} ms, $n ranks): the report or the load failed ($rc)"
  fi
  if cmp -s rep/before.csv "rep/race$k.csv"; then
    echo before
  elif cmp -s rep/after.csv "rep/race$k.csv"; then
    echo after
  else
    diff rep/before.csv "rep/race$k.csv" | head -5 >&2
    fail "race $k: a report started ${off} ms into a load ($n ranks) is neither before nor after"
  fi
  rm -f "race$k.db" "race$k.db-wal" "race$k.db-shm"
}

# ---- 2. uptime_load racing reports. ----
# A coarse sweep from before the load to past its commit finds where the reports turn
# from "before" to "after"; then bisection closes in on that turn, the commit, where a
# report without one view mixes the two (its plan before the commit, some ranks' polls
# after: measured here, the mixes span about 100 ms of starts, and bisection ends inside
# any span wider than its last step).
declare -A seen=()
k=0
# race PERMILLE: one report started PERMILLE/1000 of the load's duration into it, on 2 or
# 3 ranks in turn; its outcome in $got.
race() {
  k=$((k + 1))
  local n=$((2 + k % 2)) off=$((load_ms * $1 / 1000))
  got=$(race_one "$k" "$n" "$off")
  seen[$got]=$((${seen[$got]:-0} + 1))
  pass "report on $n ranks started ${off} ms into the load ($1 per mille): the $got report"
}
lo=-300 hi=""
for pm in -300 0 250 500 750 1000 1250 1500; do
  race "$pm"
  if [ -z "$hi" ]; then
    [ "$got" = before ] && lo=$pm
    [ "$got" = after ] && hi=$pm
  fi
done
if [ -n "$hi" ]; then
  for _ in 1 2 3 4 5 6; do
    mid=$(((lo + hi) / 2))
    [ "$mid" -gt "$lo" ] && [ "$mid" -lt "$hi" ] || break
    race "$mid"
    if [ "$got" = before ]; then lo=$mid; else hi=$mid; fi
  done
  echo "# before turns to after between $((load_ms * lo / 1000)) and $((load_ms * hi / 1000)) ms"
else
  echo "# no report started after the commit: no bisection"
fi
again=$(cat race*.err | grep -c 'planning again' || true)
echo "# reports seen: before ${seen[before]:-0}, after ${seen[after]:-0}; planned again" \
  "(a load committed between rank 0's view and a rank's): $again"

# ---- 3. uptime_snapshot racing the same load: the snapshot holds one commit. ----
if [ -x "$SNAP" ]; then
  k=0
  for pm in -300 300 700 900 1050 1300; do
    k=$((k + 1))
    n=$((2 + k % 2))
    off=$((load_ms * pm / 1000))
    fresh_copy "snap$k.db"
    "$LOAD" --db "snap$k.db" --dir b --no-rejects -q &
    bg=$!
    [ "$off" -le 0 ] || sleep "$(printf '%d.%03d' $((off / 1000)) $((off % 1000)))"
    timeout 300 "$MPIEXEC" -n "$n" "$SNAP" --quiet --db "snap$k.db" --output "snap$k.h5" \
      --now "$NOW" || fail "snapshot $k (${off} ms, $n ranks) failed"
    wait "$bg" || fail "the load racing snapshot $k failed"
    run_report 2 --db "snap$k.h5" --now "$NOW" --reports-dir rep --report-id "snap$k"
    if cmp -s rep/before.csv "rep/snap$k.csv"; then
      got=before
    elif cmp -s rep/after.csv "rep/snap$k.csv"; then
      got=after
    else
      diff rep/before.csv "rep/snap$k.csv" | head -5 >&2
      fail "a snapshot written ${off} ms into a load ($n ranks) is neither before nor after"
    fi
    pass "snapshot on $n ranks started ${off} ms into the load ($pm per mille): the $got report"
    rm -f "snap$k.db" "snap$k.db-wal" "snap$k.db-shm" "snap$k.h5"
  done
else
  echo "# uptime_snapshot not built (UPTIME_WITH_HDF5=OFF): part 3 skipped"
fi

# ---- 4. The file: WAL, the generation, older databases, a folder the reader cannot write. ----
gen() { sqlite3 "$1" 'SELECT generation FROM uptime_meta'; }
mode() { sqlite3 "$1" 'PRAGMA journal_mode'; }
[ "$(mode before.db)" = wal ] || fail "the loader left journal mode $(mode before.db), not WAL"
[ "$(gen before.db) $(gen after.db)" = "1 2" ] ||
  fail "generations $(gen before.db) and $(gen after.db), expected 1 and 2"
pass "the database is in WAL mode; each load bumped the generation (1, then 2)"
"$LOAD" --db after.db --prune-before '2023-01-16 00:00:00 UTC' -q
[ "$(gen after.db)" = 3 ] || fail "a prune left generation $(gen after.db), expected 3"
run_report 3 --db after.db --now "$NOW" --reports-dir rep --report-id pruned
same_files rep/after.csv rep/pruned.csv "a prune moves the generation on, the report stays"

# A database of an older version: rollback journal, no uptime_meta.
fresh_copy old.db
sqlite3 old.db 'DROP TABLE uptime_meta; PRAGMA journal_mode = DELETE;' >/dev/null
[ "$(mode old.db)" = delete ] || fail "could not make an older database"
run_report 2 --db old.db --now "$NOW" --reports-dir rep --report-id old2
run_report 3 --db old.db --now "$NOW" --reports-dir rep --report-id old3
same_files rep/before.csv rep/old2.csv "a database of an older version (rollback journal): 2 ranks"
same_files rep/before.csv rep/old3.csv "a database of an older version: 3 ranks"
"$LOAD" --db old.db --dir b --no-rejects -q
[ "$(mode old.db) $(gen old.db)" = "wal 1" ] ||
  fail "after its next load the older database is '$(mode old.db)', generation $(gen old.db)"
run_report 2 --db old.db --now "$NOW" --reports-dir rep --report-id old_after
same_files rep/after.csv rep/old_after.csv "its next load switches it to WAL, generation 1"

# A failed first load leaves nothing: no database, journal, WAL or shared-memory index.
mkdir -p broken
head -c 20000 a/store_status.csv | gzip >broken/store_status.csv.gz
head -c 1000 broken/store_status.csv.gz >broken/cut.csv.gz
expect_exit 2 "a first load from a truncated gzip file" -- \
  "$LOAD" --db new.db --status broken/cut.csv.gz --no-rejects
! ls new.db* >/dev/null 2>&1 || fail "a failed first load left $(ls new.db*)"
pass "a failed first load leaves no new.db, -journal, -wal or -shm"

# A user who cannot write the folder reads the database: the loader leaves the -wal and
# -shm files beside it (empty WAL), which SQLite then opens read-only.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  mkdir ro rep_ro
  "$LOAD" --db ro/x.db --dir a --no-rejects -q
  [ -e ro/x.db-wal ] || fail "the loader did not keep x.db-wal"
  [ -e ro/x.db-shm ] || fail "the loader did not keep x.db-shm"
  chmod 555 ro
  chmod 777 rep_ro
  chmod 755 "$T"
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp "$@"; }
  as_nobody timeout 300 "$MPIEXEC" -n 2 "$REPORT" --quiet --db ro/x.db --now "$NOW" \
    --reports-dir rep_ro --report-id ro || fail "a user who cannot write the folder cannot read it"
  same_files rep/before.csv rep_ro/ro.csv "a user who cannot write the folder reads the database"
  chmod 755 ro
  rm ro/x.db-wal ro/x.db-shm
  chmod 555 ro
  expect_exit 3 "without its -wal and -shm files, such a user" -- \
    as_nobody timeout 300 "$MPIEXEC" -n 2 "$REPORT" --quiet --db ro/x.db --now "$NOW" \
    --reports-dir rep_ro --report-id ro_gone
  grep -q -- "-wal and -shm files" rep_ro/ro_gone.status.json ||
    fail "the failure does not name the -wal and -shm files: $(cat rep_ro/ro_gone.status.json)"
  pass "... is told the -wal and -shm files are missing"
  chmod 755 ro
else
  echo "# not root or no setpriv: the read-only folder checks skipped"
fi
