#!/usr/bin/env bash
# Loading as operations run it, on SQLite and (when a server is there) PostgreSQL: an
# hourly load of new polls alone gives the same report as one full load of the same rows;
# a load of one file leaves the other tables as they are; standard input and gzip give the
# same database and the same rejects (line numbers included) as the plain file; a
# truncated .gz is exit 2 and loads nothing; a prune keeps every report with
# --now >= TS + 7 days byte for byte; a load killed with SIGKILL leaves the data as it was.
# PostgreSQL: duplicates inside a file and against stored polls hold SQLite's rows, and a
# first load killed while it copies straight into the truncated tables changes nothing.
. "$(dirname "$0")/lib.sh"
. "$UP_SRC/tests/e2e/pg.sh"

END='2023-01-25 18:13:22.479220 UTC'
CUT='2023-01-25 17:13:22 UTC' # the last hour comes in a load of its own
"$GEN" --out full --stores 300 --days 9 --seed 7 --ids mixed --bad 0.02 2>/dev/null
# The polls before the cut (with the three files) and after it (polls alone).
mkdir -p early late
cp full/menu_hours.csv full/timezones.csv early/
awk -F, -v cut="$CUT" 'NR == 1 || !($3 ~ /^2023-/ && $3 >= cut)' full/store_status.csv >early/store_status.csv
awk -F, -v cut="$CUT" 'NR == 1 || ($3 ~ /^2023-/ && $3 >= cut)' full/store_status.csv >late/store_status.csv
n_late=$(($(wc -l <late/store_status.csv) - 1))
[ "$n_late" -gt 100 ] || fail "the last hour holds only $n_late polls"
# dump_sqlite DB: every table, sorted, as text (compares two databases' content). The
# polls are the logical ones: store_polls, store_status and store_status_recent together;
# the summary is store_summary_all, store_summary with the recent polls' share (which an
# hourly load leaves out of store_summary until the recent table is merged).
dump_sqlite() {
  sqlite3 "$1" "SELECT 's',store_id,ts_utc,active FROM store_polls;
    SELECT 'h',* FROM business_hours; SELECT 'z',* FROM store_timezone;
    SELECT 'm',* FROM store_summary_all;" | LC_ALL=C sort
}

# ---- SQLite: incremental equals full ----
"$LOAD" --db full.db --dir full --no-rejects -q
"$LOAD" --db inc.db --dir early --no-rejects -q
cp inc.db early.db
"$LOAD" --db inc.db --status late/store_status.csv --rejects late-rej.csv >late.txt
grep -q '^store_status' late.txt && ! grep -q '^menu_hours\|^timezones' late.txt ||
  { cat late.txt; fail "the summary of a polls-only load"; }
pass "a polls-only load reads only store_status"
dump_sqlite full.db >full.dump
dump_sqlite inc.db >inc.dump
same_files full.dump inc.dump "early + last hour (polls alone) = one full load: every table, the summary too"
[ "$(sqlite3 full.db 'SELECT count(*) FROM store_status_recent')" = 0 ] || fail "a first load wrote recent polls"
nrec=$(sqlite3 inc.db 'SELECT count(*) FROM store_status_recent')
[ "$nrec" -gt 0 ] && [ "$nrec" = "$(sqlite3 inc.db 'SELECT nrows FROM uptime_recent')" ] ||
  fail "the hourly load appended no recent polls, or uptime_recent does not count them ($nrec)"
[ "$(sqlite3 inc.db "SELECT count(*) FROM store_status_recent r WHERE ts_utc <= (SELECT MAX(ts_utc)
   FROM store_status s WHERE s.store_id = r.store_id)")" = 0 ] || fail "a recent poll is not newer than the store's others"
pass "the hourly load went to the recent table ($nrec polls), each newer than its store's stored polls"
# The same hour again, then the whole file: duplicates across the two tables merge.
cp inc.db again.db
"$LOAD" --db again.db --status late/store_status.csv --no-rejects -q
dump_sqlite again.db >again.dump
same_files full.dump again.dump "the last hour loaded twice = loaded once (duplicates in the recent table merge)"
"$LOAD" --db again.db --dir full --no-rejects -q
dump_sqlite again.db >again.dump
same_files full.dump again.dump "the full files over the incremental database = one full load (duplicates across both tables merge)"
# A store with polls in store_status had its recent polls moved there; a store whose polls
# all came in the last hour (none before the cut) keeps them in the recent table, where
# its reloaded twins merged.
late_only=$(awk -F, -v cut="$CUT" 'NR > 1 && $3 ~ /^2023-/ { if ($3 >= cut) late[$1] = 1; else early[$1] = 1 }
  END { n = 0; for (k in late) if (!(k in early)) n++; print n }' full/store_status.csv)
[ "$(sqlite3 again.db 'SELECT count(*) FROM store_status_recent r WHERE EXISTS
   (SELECT 1 FROM store_status s WHERE s.store_id = r.store_id)')" = 0 ] ||
  fail "the reload left recent polls of a store with polls in store_status"
[ "$(sqlite3 again.db 'SELECT count(DISTINCT store_id) FROM store_status_recent')" = "$late_only" ] ||
  fail "the recent table does not hold exactly the $late_only stores first seen in the last hour"
pass "a reload moved every store's recent polls into store_status but those of the $late_only stores first seen in the last hour"
# The last hour again with every active poll now inactive: inactive wins across the tables.
cp inc.db flip.db
awk -F, -v OFS=, 'NR > 1 && tolower($2) ~ /^ *active *$/ { $2 = "inactive" } 1' late/store_status.csv >flip.csv
"$LOAD" --db flip.db --status flip.csv --no-rejects -q
[ "$(sqlite3 flip.db "SELECT count(*) FROM store_polls WHERE active <> 0 AND ts_utc >= 1674666802000000")" = 0 ] ||
  fail "a poll loaded active then inactive stayed active"
dump_sqlite flip.db | grep -v '^s|' >flip.rest
dump_sqlite inc.db | grep -v '^s|' >inc.rest
same_files inc.rest flip.rest "the same polls inactive: the summary and the other tables unchanged"
[ "$(sqlite3 flip.db 'SELECT count(*) FROM store_polls')" = "$(sqlite3 inc.db 'SELECT count(*) FROM store_polls')" ] ||
  fail "the flipped hour added polls"
pass "polls of the recent table loaded again inactive become inactive (inactive wins)"
run_report 1 --db full.db --reports-dir rep --report-id full
run_report 2 --db inc.db --reports-dir rep --report-id inc
same_files rep/full.csv rep/inc.csv "report after the incremental load = report after the full load"
if [ -x "$UP_BUILD/uptime_snapshot" ]; then
  timeout 300 "$MPIEXEC" -n 2 "$UP_BUILD/uptime_snapshot" --quiet --db inc.db --output inc.h5
  run_report 2 --db inc.h5 --reports-dir rep --report-id inch5
  same_files rep/full.csv rep/inch5.csv "a snapshot of the incremental database (recent polls read beside) gives the full load's report"
fi

# ---- a load of one file leaves the other tables as they are ----
dump_sqlite inc.db | grep -v '^[hz]|' >polls.before
printf 'store_id,timezone_str\nnew-store,Asia/Tokyo\n' >tz1.csv
"$LOAD" --db inc.db -t tz1.csv --no-rejects -q
dump_sqlite inc.db | grep '^h|' >hours.after
dump_sqlite full.db | grep '^h|' >hours.before
same_files hours.before hours.after "a time zones load leaves business_hours as it was"
dump_sqlite inc.db | grep -v '^[hz]|' >polls.after
same_files polls.before polls.after "a time zones load leaves the polls and the summary as they were"
[ "$(sqlite3 inc.db "SELECT timezone_str FROM store_timezone WHERE store_id = 'new-store'")" = Asia/Tokyo ] ||
  fail "the time zones load"
pass "the time zones load added its zone"
expect_exit 2 "standard input for two files" -- "$LOAD" --db x.db -s - -H - --no-rejects
[ ! -e x.db ] || fail "a usage error left a database"

# ---- the progress line: on request, never when stderr is not a terminal ----
cp early.db prog.db
"$LOAD" --db prog.db --status late/store_status.csv --no-rejects -q --progress 2>prog.err
grep -q 'store_status.csv.*rows/s' prog.err && grep -q 'committing' prog.err ||
  { cat prog.err; fail "--progress"; }
pass "--progress: file, rows, rows/s, then the commit, on stderr"
cp early.db prog.db
"$LOAD" --db prog.db --status late/store_status.csv --no-rejects -q 2>noprog.err
[ ! -s noprog.err ] || { cat noprog.err; fail "progress without a terminal"; }
pass "no progress line when stderr is not a terminal"

# ---- standard input and gzip: the same database and rejects as the plain file ----
gzip -c late/store_status.csv >late.csv.gz
cp early.db gz.db
cp early.db pipe.db
"$LOAD" --db gz.db --status late.csv.gz --rejects gz-rej.csv -q
zcat late.csv.gz | "$LOAD" --db pipe.db --status - --rejects pipe-rej.csv -q
dump_sqlite gz.db >gz.dump
dump_sqlite pipe.db >pipe.dump
same_files inc.dump gz.dump "a .gz file gives the same database as the plain file"
same_files inc.dump pipe.dump "zcat | --status - gives the same database as the plain file"
cut -d, -f2- late-rej.csv >plain.rej
[ "$(wc -l <plain.rej)" -gt 1 ] || fail "the last hour has no rejected rows to compare"
cut -d, -f2- gz-rej.csv >gz.rej
cut -d, -f2- pipe-rej.csv >pipe.rej
same_files plain.rej gz.rej "a .gz file gives the same rejects, line numbers included"
same_files plain.rej pipe.rej "standard input gives the same rejects, line numbers included"
gzip -c full/store_status.csv >full.csv.gz
head -c 20000 full.csv.gz >trunc.gz
cp early.db trunc.db
dump_sqlite trunc.db >trunc.before
expect_exit 2 "a truncated .gz" -- "$LOAD" --db trunc.db --status trunc.gz --rejects trunc-rej.csv
grep -q 'truncated gzip data' err.txt || { cat err.txt; fail "the truncated .gz message"; }
dump_sqlite trunc.db >trunc.after
same_files trunc.before trunc.after "a truncated .gz loads nothing"
[ ! -e trunc-rej.csv ] || fail "a failed load published a rejects file"
pass "a failed load publishes no rejects file"

# ---- a pipe that stops sending: --timeout ends the load, nothing loaded ----
# The writer of the pipe sends the header and one row, then stays open without sending;
# the load waits for input only until its --timeout (exit 8), whether the pipe is silent
# from the start or after some rows, and the database is as before.
for head in "" "store_id,status,timestamp_utc
S,active,2023-01-25 18:00:00 UTC"; do
  cp early.db stall.db
  dump_sqlite stall.db >stall.before
  rm -f stall-rej.csv
  t0=$SECONDS
  rc=0
  { [ -z "$head" ] || printf '%s\n' "$head"; sleep 12; } |
    timeout -k 3 10 "$LOAD" --db stall.db --status - --timeout 2 --rejects stall-rej.csv \
      2>stall-err.txt || rc=$?
  # The pipeline ends with its writer (sleep 12): the loader's own exit is what counts.
  [ "$rc" -eq 8 ] || { cat stall-err.txt; fail "a stalled pipe: exit $rc, expected 8"; }
  grep -q -- '-: waiting for input: timed out after 2 s (--timeout)' stall-err.txt ||
    { cat stall-err.txt; fail "the stalled pipe's message"; }
  dump_sqlite stall.db >stall.after
  same_files stall.before stall.after "a stalled pipe loads nothing${head:+ (after a row)}"
  [ ! -e stall-rej.csv ] || fail "a timed-out load published a rejects file"
done
pass "a stalled pipe ends at --timeout with exit 8, the database as before"

# ---- retention: reports as of TS + 7 days or later are unchanged ----
TS='2023-01-18 10:00:00 UTC'
for now in "$END" '2023-01-25 10:00:00 UTC'; do
  id=keep-$(echo "$now" | tr -dc 0-9)
  run_report 2 --db full.db --reports-dir rep --report-id "$id" --now "$now"
done
cp full.db pruned.db
"$LOAD" --db pruned.db --prune-before "$TS" >prune.txt
before=$(sqlite3 full.db 'SELECT count(*) FROM store_polls')
after=$(sqlite3 pruned.db 'SELECT count(*) FROM store_polls')
[ "$after" -lt "$before" ] || fail "the prune deleted nothing ($before polls)"
grep -q "$((before - after)) polls before" prune.txt || { cat prune.txt; fail "the prune's count"; }
pass "the prune deleted $((before - after)) of $before polls and says so"
# Each store keeps exactly one poll before TS (if it had any) and its summary is right.
[ "$(sqlite3 pruned.db "SELECT count(*) FROM (SELECT store_id FROM store_polls WHERE ts_utc < 1674036000000000
   GROUP BY store_id HAVING count(*) > 1)")" = 0 ] || fail "a store kept two polls before TS"
[ "$(sqlite3 pruned.db "SELECT count(*) FROM store_summary m WHERE npolls <> (SELECT count(*) FROM
   store_polls s WHERE s.store_id = m.store_id) OR first_ts <> (SELECT MIN(ts_utc) FROM store_polls s
   WHERE s.store_id = m.store_id)")" = 0 ] || fail "the summary after the prune"
pass "one carry-in poll per store before TS, and the summary matches the polls"
for now in "$END" '2023-01-25 10:00:00 UTC'; do
  id=keep-$(echo "$now" | tr -dc 0-9)
  run_report 1 --db pruned.db --reports-dir rep --report-id "p$id" --now "$now"
  same_files "rep/$id.csv" "rep/p$id.csv" "report as of $now (>= TS + 7 days) unchanged by the prune"
done
# The same prune of the incremental database (recent polls merged first): the same reports.
cp inc.db pruned-inc.db
"$LOAD" --db pruned-inc.db --prune-before "$TS" -q
[ "$(sqlite3 pruned-inc.db 'SELECT count(*) FROM store_status_recent')" = 0 ] || fail "the prune left recent polls"
id=keep-$(echo "$END" | tr -dc 0-9)
run_report 2 --db pruned-inc.db --reports-dir rep --report-id "pi$id" --now "$END"
same_files "rep/$id.csv" "rep/pi$id.csv" "the prune of the incremental database (recent polls merged first): the same report"
sqlite3 pruned.db VACUUM
[ "$(stat -c %s pruned.db)" -lt "$(stat -c %s full.db)" ] || fail "VACUUM after the prune"
pass "VACUUM after the prune gives the space back"

# ---- SIGKILL in the middle of a load leaves the database as it was ----
"$GEN" --out big --stores 4000 --days 8 --seed 3 --end '2023-02-20 00:00:00 UTC' 2>/dev/null
dump_sqlite inc.db >kill.before
# kill_mid_load "DELAYS" ARGS...: a load of inc.db's copy kill.db with ARGS, killed with
# SIGKILL after each delay in turn until one is still running when killed; returns 1 when
# every one ended first.
kill_mid_load() {
  local delay pid killed=0
  for delay in $1; do
    cp inc.db kill.db
    "$LOAD" --db kill.db "${@:2}" --rejects kill-rej.csv -q &
    pid=$!
    sleep "$delay"
    if kill -KILL "$pid" 2>/dev/null; then killed=1; fi
    wait "$pid" 2>/dev/null || true
    [ "$killed" = 1 ] && return 0
  done
  return 1
}
kill_mid_load "0.2 0.5 1.0" --dir big || fail "the load ended before it could be killed"
dump_sqlite kill.db >kill.after
same_files kill.before kill.after "SQLite: a load killed with SIGKILL leaves the database exactly as before"
[ ! -e kill-rej.csv ] || fail "a killed load published a rejects file"
pass "a killed load publishes no rejects file"
# The same for a load of polls alone (written to the recent table, its share rewritten):
# every table as it was, the recent table, its count and share and the generation too.
dump_raw() {
  sqlite3 "$1" "SELECT 'r',* FROM store_status_recent; SELECT 'u',* FROM uptime_recent;
    SELECT 'x',max_ts,hex(stores) FROM uptime_recent_share; SELECT 'm',* FROM store_summary;
    SELECT 'g',generation FROM uptime_meta;" | LC_ALL=C sort
}
dump_raw inc.db >kill.raw.before
[ "$(grep -c '^r|' kill.raw.before)" -gt 0 ] && grep -q '^x|[0-9]' kill.raw.before ||
  fail "the database holds no recent polls (the test would prove nothing)"
kill_mid_load "0.1 0.3 0.6" --status big/store_status.csv ||
  fail "the polls-only load ended before it could be killed"
dump_sqlite kill.db >kill.after
same_files kill.before kill.after "SQLite: a polls-only load killed with SIGKILL leaves the data as before"
dump_raw kill.db >kill.raw.after
same_files kill.raw.before kill.raw.after "... and the recent table, its count, its share and the generation"

# ---- PostgreSQL: the same, when a server is there ----
if [ -n "${UPTIME_TEST_PG:-}" ] || [ -n "${CI:-}" ]; then
  pg_need
  trap 'pg_cleanup; rm -rf "$T"' EXIT
  pgf=$(pg_schema up_e2e_lo_full_$$)
  pgi=$(pg_schema up_e2e_lo_inc_$$)
  "$LOAD" --db "$pgf" --dir full --no-rejects -q
  "$LOAD" --db "$pgi" --dir early --no-rejects -q
  gzip -c late/store_status.csv | "$LOAD" --db "$pgi" --status - --no-rejects -q
  run_report 2 --db "$pgi" --reports-dir rep --report-id pginc
  same_files rep/full.csv rep/pginc.csv "PostgreSQL: early + last hour from a gzip pipe = the full load's report"
  dump_pg() {
    pg_q "$1" "SELECT 'm', store_id, first_ts, last_ts, npolls FROM store_summary" | LC_ALL=C sort
  }
  dump_pg "$pgf" >pgf.sum
  dump_pg "$pgi" >pgi.sum
  same_files pgf.sum pgi.sum "PostgreSQL: the summary after the incremental load"
  # Duplicates inside a file (every 7th poll again, flipped to inactive; every 11th again
  # as it was) and against stored polls: the first load (copied straight into the empty
  # tables) and a later one (merged through the stage) hold exactly SQLite's rows, reject
  # the same rows and give the same report.
  dump_pg_all() {
    pg_q "$1" "SELECT 's', store_id, ts_utc, active::int FROM store_status;
      SELECT 'h', * FROM business_hours; SELECT 'z', * FROM store_timezone;
      SELECT 'm', * FROM store_summary" | LC_ALL=C sort
  }
  flip() { awk -F, -v OFS=, -v m="$2" 'NR > 1 && NR % m == 0 && tolower($2) ~ /^ *active *$/ { $2 = "inactive"; print }' "$1"; }
  again() { awk -v m="$2" 'NR > 1 && NR % m == 0' "$1"; }
  mkdir -p dupf dupl
  cp full/menu_hours.csv full/timezones.csv dupf/
  { cat full/store_status.csv; flip full/store_status.csv 7; again full/store_status.csv 11; } >dupf/store_status.csv
  { cat late/store_status.csv; flip early/store_status.csv 5; again early/store_status.csv 13; } >dupl/store_status.csv
  [ "$(flip full/store_status.csv 7 | wc -l)" -gt 100 ] || fail "too few flipped duplicates"
  pgd=$(pg_schema up_e2e_lo_dup_$$)
  "$LOAD" --db "$pgd" --dir dupf --rejects pgd-rej.csv -q
  "$LOAD" --db dupf.db --dir dupf --rejects sqd-rej.csv -q
  same_files sqd-rej.csv pgd-rej.csv "PostgreSQL first load with duplicates in the file: SQLite's rejects"
  dump_sqlite dupf.db >sqd.dump
  dump_pg_all "$pgd" >pgd.dump
  same_files sqd.dump pgd.dump "PostgreSQL first load with duplicates in the file: SQLite's rows, summary included"
  run_report 1 --db dupf.db --reports-dir rep --report-id sqdup
  run_report 2 --db "$pgd" --reports-dir rep --report-id pgdup
  same_files rep/sqdup.csv rep/pgdup.csv "PostgreSQL first load with duplicates in the file: SQLite's report"
  pgd2=$(pg_schema up_e2e_lo_dup2_$$)
  "$LOAD" --db "$pgd2" --dir early --no-rejects -q
  "$LOAD" --db "$pgd2" --status dupl/store_status.csv --rejects pgd2-rej.csv -q
  cp early.db dupl.db
  "$LOAD" --db dupl.db --status dupl/store_status.csv --rejects sqd2-rej.csv -q
  same_files sqd2-rej.csv pgd2-rej.csv "PostgreSQL load over stored polls, with duplicates of them: SQLite's rejects"
  dump_sqlite dupl.db >sqd2.dump
  dump_pg_all "$pgd2" >pgd2.dump
  same_files sqd2.dump pgd2.dump "PostgreSQL load over stored polls, with duplicates of them: SQLite's rows and summary"
  run_report 1 --db dupl.db --reports-dir rep --report-id sqdup2
  run_report 2 --db "$pgd2" --reports-dir rep --report-id pgdup2
  same_files rep/sqdup2.csv rep/pgdup2.csv "PostgreSQL load over stored polls, with duplicates of them: SQLite's report"
  "$LOAD" --db "$pgi" --prune-before "$TS" -q
  run_report 2 --db "$pgi" --reports-dir rep --report-id pgpruned --now "$END"
  id=keep-$(echo "$END" | tr -dc 0-9)
  same_files "rep/$id.csv" rep/pgpruned.csv "PostgreSQL: report as of now unchanged by the prune"
  [ "$(pg_q "$pgi" "SELECT count(*) FROM store_summary m WHERE npolls <> (SELECT count(*) FROM
     store_status s WHERE s.store_id = m.store_id) OR first_ts <> (SELECT MIN(ts_utc) FROM store_status s
     WHERE s.store_id = m.store_id)")" = 0 ] || fail "PostgreSQL: the summary after the prune"
  pass "PostgreSQL: the summary matches the polls after the prune"
  # A role that may write the tables but does not own them: the first load of polls
  # cannot rebuild the primary key (ALTER TABLE) and falls back to the plain insert.
  sw=up_e2e_lo_w_$$
  role=up_e2e_writer_$$
  pgw=$(pg_schema "$sw")
  "$LOAD" --db "$pgw" --timezones full/timezones.csv --no-rejects -q # the owner makes the tables
  trap 'psql -X -q "$PG_BASE" -c "DROP OWNED BY $role; DROP ROLE IF EXISTS $role" >/dev/null 2>&1; pg_cleanup; rm -rf "$T"' EXIT
  psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE" -c "CREATE ROLE $role LOGIN; GRANT USAGE ON SCHEMA $sw TO $role;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA $sw TO $role" >/dev/null
  case "$PG_BASE" in
  postgresql://*@*) pgwr=$(pg_url "postgresql://$role@${PG_BASE#postgresql://*@}" "$sw") ;;
  *) pgwr="" ;;
  esac
  if [ -n "$pgwr" ]; then
    "$LOAD" --db "$pgwr" --dir full --no-rejects -q 2>writer.err || { cat writer.err; fail "a load by a writer role"; }
    run_report 2 --db "$pgwr" --reports-dir rep --report-id pgwriter
    same_files rep/full.csv rep/pgwriter.csv "PostgreSQL: a first load by a role that does not own the tables (plain insert)"
    # Every table empty (made by a load of a header-only polls file): the role may not
    # truncate them, so neither the polls nor the hours and zones are copied straight in;
    # both take the stage.
    sw2=up_e2e_lo_w2_$$
    pgw2=$(pg_schema "$sw2")
    head -1 full/store_status.csv >header-only.csv
    "$LOAD" --db "$pgw2" --status header-only.csv -q
    psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE" -c "GRANT USAGE ON SCHEMA $sw2 TO $role;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA $sw2 TO $role" >/dev/null
    pgwr2=$(pg_url "postgresql://$role@${PG_BASE#postgresql://*@}" "$sw2")
    "$LOAD" --db "$pgwr2" --dir full --no-rejects -q 2>writer.err || { cat writer.err; fail "a load by a writer role into empty tables"; }
    run_report 2 --db "$pgwr2" --reports-dir rep --report-id pgwriter2
    same_files rep/full.csv rep/pgwriter2.csv "PostgreSQL: a first load of every file by a role that may not truncate (the stages)"
  fi
  # SIGKILL in a first load, while it copies the polls straight into the truncated table
  # and while it builds the key again: every table and index is as before (the same
  # relfilenodes: the TRUNCATE and the dropped key rolled back with the transaction), and
  # the next load works.
  head -1 full/store_status.csv >empty.csv
  for stage in 'COPY store_status (%FREEZE)' 'ADD CONSTRAINT store_status_pkey'; do
    caught=0
    for try in 1 2 3; do
      pgk=$(pg_schema "up_e2e_lo_k${try}_$$")
      "$LOAD" --db "$pgk" --status empty.csv -q # the tables, empty
      kstate() {
        pg_q "$pgk" "SELECT (SELECT count(*) FROM store_status) || ' ' || (SELECT count(*) FROM store_summary)
          || ' ' || (SELECT count(*) FROM business_hours) || ' ' || (SELECT count(*) FROM store_timezone)
          || ' ' || (SELECT count(*) FROM store_meta) || ' ' || (SELECT string_agg(c.relname || '=' || c.relfilenode, ','
          ORDER BY c.relname) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace)"
      }
      kbefore=$(kstate)
      "$LOAD" --db "$pgk" --dir big --no-rejects -q &
      pid=$!
      seen=0
      for _ in $(seq 1500); do
        if [ "$(pg_q "$pgk" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%$stage%'
          AND query NOT LIKE '%pg_stat_activity%'" 2>/dev/null)" -ge 1 ]; then
          seen=1
          break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
      done
      if [ "$seen" = 1 ] && kill -KILL "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        sleep 1 # the server notices the closed socket and rolls the transaction back
        [ "$(kstate)" = "$kbefore" ] || fail "PostgreSQL: a first load killed at '$stage' changed the database:
$kbefore
$(kstate)"
        caught=1
        break
      fi
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true # it finished first: try again on a fresh schema
    done
    [ "$caught" = 1 ] || fail "PostgreSQL: the first load never reached '$stage' while alive"
    pass "PostgreSQL: a first load killed at '$stage' leaves every table and index exactly as before"
  done
  "$LOAD" --db "$pgk" --dir full --no-rejects -q
  run_report 2 --db "$pgk" --reports-dir rep --report-id pgafterkill
  same_files rep/full.csv rep/pgafterkill.csv "PostgreSQL: after a killed first load, the next first load gives the full load's report"
  snap() {
    pg_q "$pgi" "SELECT (SELECT count(*) FROM store_status) || ' ' || (SELECT sum(npolls) FROM store_summary)
      || ' ' || (SELECT count(*) FROM business_hours) || ' ' || (SELECT count(*) FROM store_timezone)"
  }
  pgbefore=$(snap)
  "$LOAD" --db "$pgi" --dir big --no-rejects -q &
  pid=$!
  for _ in $(seq 600); do
    [ "$(pg_q "$pgi" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY up_status_stage%'" 2>/dev/null)" -ge 1 ] && break
    sleep 0.02
  done
  kill -KILL "$pid" 2>/dev/null || fail "PostgreSQL: the load ended before it could be killed"
  wait "$pid" 2>/dev/null || true
  sleep 1 # the server notices the closed socket and rolls the transaction back
  [ "$(snap)" = "$pgbefore" ] || fail "PostgreSQL: a killed load changed the data ($pgbefore -> $(snap))"
  pass "PostgreSQL: a load killed with SIGKILL leaves the data exactly as before"
fi
echo "$checks passed, 0 failed"
