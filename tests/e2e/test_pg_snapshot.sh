#!/usr/bin/env bash
# Every rank of a PostgreSQL report reads one snapshot (rank 0's, exported and imported by
# every rank): a change that commits while a report runs gives the report of the database
# before it or after it, never a mix.
#  1. Deterministic: a session locks store_meta (what the hours are read from), so rank 0
#     waits in its plan after it has taken (and exported) its snapshot and read now and
#     the stores; the session then flips polls, deletes hours, adds a store and commits,
#     before any other rank has begun. The report must be the "before" one (without one snapshot, the other ranks
#     read the new polls under rank 0's old plan).
#  2. A real uptime_load racing reports at several offsets: each report is "before" or
#     "after", never anything else.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"
pg_need
tag=up_e2e_snap_$$

"$GEN" --out a --stores 300 --days 9 --seed 5 --ids mixed 2>/dev/null
# The racing load: a third of the polls again as inactive, half of the stores' hours
# replaced by 10:00-11:00 every day, and one poll an hour after the latest for every
# tenth store (a later now).
python3 "$UP_SRC/tests/e2e/racing_load.py" a b "2023-01-25 19:13:22.479220 UTC"
grep -q 2023-01-25 a/store_status.csv || fail "generated data does not end on 2023-01-25"

# The reference reports: before (A) and after (A then B), each on its own schema.
before_url=$(pg_schema "${tag}_before")
after_url=$(pg_schema "${tag}_after")
"$LOAD" --db "$before_url" --dir a --no-rejects -q
"$LOAD" --db "$after_url" --dir a --no-rejects -q
"$LOAD" --db "$after_url" --dir b --no-rejects -q
run_report 3 --db "$before_url" --reports-dir rep --report-id before
run_report 3 --db "$after_url" --reports-dir rep --report-id after
changed=$(diff rep/before.csv rep/after.csv | grep -c '^>' || true)
[ "$changed" -gt 50 ] || fail "the racing load changes too little ($changed rows)"
pass "the racing load changes $changed of $(wc -l <rep/before.csv) report rows"

# ---- 1. A change committed between rank 0's plan and the ranks' reads. ----
lock_url=$(pg_schema "${tag}_lock")
"$LOAD" --db "$lock_url" --dir a --no-rejects -q
run_report 2 --db "$lock_url" --reports-dir rep --report-id lock_ref
same_files rep/before.csv rep/lock_ref.csv "the locked schema starts as 'before'"
mkfifo locker.in
psql -X -q -v ON_ERROR_STOP=1 "$lock_url" <locker.in >locker.out 2>&1 &
locker=$!
exec 3>locker.in
echo "BEGIN; LOCK TABLE store_meta IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&3
for _ in $(seq 100); do grep -q locked locker.out && break; sleep 0.1; done
grep -q locked locker.out || fail "the locking session did not start: $(cat locker.out)"
timeout 300 "$MPIEXEC" -n 3 "$REPORT" --quiet --db "$lock_url" --reports-dir rep --report-id raced &
report=$!
# Wait until rank 0's read of the hours waits for the lock.
waiting=0
for _ in $(seq 300); do
  waiting=$(pg_q "$PG_BASE" "SELECT count(*) FROM pg_locks WHERE NOT granted
    AND relation = '${tag}_lock.store_meta'::regclass")
  [ "$waiting" -ge 1 ] && break
  sleep 0.1
done
[ "$waiting" -ge 1 ] || fail "rank 0 never waited for store_meta (its hours read)"
cat >&3 <<SQL
UPDATE store_status SET active = NOT active WHERE ts_utc % 3 = 0;
DELETE FROM business_hours WHERE store_id IN (SELECT store_id FROM store_summary ORDER BY store_id LIMIT 100);
UPDATE store_meta SET hours = NULL WHERE store_id IN (SELECT store_id FROM store_summary ORDER BY store_id LIMIT 100);
INSERT INTO store_status VALUES ('zz-new', (SELECT max(last_ts) FROM store_summary) + 3600000000, true);
INSERT INTO store_summary SELECT store_id, min(ts_utc), max(ts_utc), count(*) FROM store_status
  WHERE store_id = 'zz-new' GROUP BY store_id;
UPDATE store_summary SET npolls = npolls + 1;
COMMIT;
SQL
exec 3>&-
wait "$locker" || fail "the locking session failed: $(cat locker.out)"
wait "$report" || fail "the raced report failed"
same_files rep/before.csv rep/raced.csv \
  "a change committed while rank 0 plans is invisible to every rank (3 ranks)"
run_report 3 --db "$lock_url" --reports-dir rep --report-id lock_after
cmp -s rep/before.csv rep/lock_after.csv && fail "the locked change did not change the report"
pass "the same change is in the next report"

# ---- 2. uptime_load racing reports at several offsets. ----
declare -A seen=()
k=0
for off in 0 0.2 0.4 0.6 0.8 1.0 1.3 1.6; do
  k=$((k + 1))
  # A new report id each time: an id is claimed once (tests/e2e/test_ids.sh).
  url=$(pg_schema "${tag}_race")
  "$LOAD" --db "$url" --dir a --no-rejects -q
  "$LOAD" --db "$url" --dir b --no-rejects -q &
  load=$!
  sleep "$off"
  run_report 3 --db "$url" --reports-dir rep --report-id "race$k"
  wait "$load" || fail "the racing load failed"
  if cmp -s rep/before.csv rep/race$k.csv; then
    seen[before]=1
  elif cmp -s rep/after.csv rep/race$k.csv; then
    seen[after]=1
  else
    diff rep/before.csv rep/race$k.csv | head -5 >&2
    fail "report started ${off}s into a load is neither the before nor the after report"
  fi
  pass "report started ${off}s into a load is the $( cmp -s rep/before.csv rep/race$k.csv && echo before || echo after) report"
done
echo "# states seen: ${!seen[*]}"
