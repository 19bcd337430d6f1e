#!/usr/bin/env bash
# Files we create, in a reports folder another user can write: the report's temporary,
# the status file's temporary and the report's lock are never opened through a planted
# name or symlink, a planted <id>.csv symlink is replaced (not written through), and
# every file gets mode 0644 narrowed by the umask, never wider.
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden
"$LOAD" --db g.db --dir "$G" --no-rejects -q
mkdir -m 0777 rep   # a shared folder, not sticky: symlinks in it are followed by default
echo SECRET >secret
chmod 0600 secret

# The old predictable temporary name, planted as a symlink to a file root must not touch.
ln -s "$T/secret" rep/.victim.csv.tmp
# Planted status temporaries for the pids the next runs could get.
for p in $(seq $(($(cat /proc/sys/kernel/ns_last_pid) + 1)) $(($(cat /proc/sys/kernel/ns_last_pid) + 60))); do
  ln -s "$T/secret" "rep/.victim.status.json.tmp.$p"
done
run_report 2 --db g.db --reports-dir rep --report-id victim
[ "$(cat secret)" = SECRET ] || fail "a planted temporary symlink was written through"
same_files "$G/expected.csv" rep/victim.csv "the report is right despite planted temporaries"
[ -f rep/victim.csv ] && [ ! -L rep/victim.csv ] || fail "the report is not a regular file"
pass "planted temporaries (report and status) are never opened"

# A planted <id>.csv symlink: the rename replaces the link, the target stays as it was.
ln -s "$T/secret" rep/victim2.csv
run_report 1 --db g.db --reports-dir rep --report-id victim2
[ "$(cat secret)" = SECRET ] || fail "the report was written through a planted <id>.csv symlink"
[ ! -L rep/victim2.csv ] || fail "<id>.csv is still the planted symlink"
same_files "$G/expected.csv" rep/victim2.csv "a planted <id>.csv symlink is replaced by the report"

# A planted lock symlink to a name that does not exist: nothing is created through it.
ln -s "$T/created-through-lock" rep/.victim3.lock
run_report 1 --db g.db --reports-dir rep --report-id victim3 2>err3.txt || true
[ ! -e created-through-lock ] || fail "a file was created through a planted lock symlink"
pass "a planted lock symlink is refused (O_NOFOLLOW), nothing is created through it"

# A status file that cannot be written is found before any computing: exit 4 at once.
mkdir rep/early.status.json
start=$SECONDS
expect_exit 4 "a status file that cannot be written" -- run_report 2 --db g.db --reports-dir rep --report-id early
grep -q "status file" err.txt || { cat err.txt; fail "no reason given for the unwritable status"; }
[ ! -e rep/early.csv ] || fail "a report was published without its status"
pass "an unwritable status fails the job before it computes (in $((SECONDS - start)) s)"

# Modes: 0644 narrowed by the umask, never wider.
(umask 000 && run_report 1 --db g.db --reports-dir rep --report-id wide)
[ "$(stat -c %a rep/wide.csv)" = 644 ] || fail "umask 000 gave the report mode $(stat -c %a rep/wide.csv)"
[ "$(stat -c %a rep/wide.status.json)" = 644 ] || fail "umask 000 gave the status mode $(stat -c %a rep/wide.status.json)"
(umask 077 && run_report 1 --db g.db --reports-dir rep --report-id narrow)
[ "$(stat -c %a rep/narrow.csv)" = 600 ] || fail "umask 077 gave the report mode $(stat -c %a rep/narrow.csv)"
pass "report and status modes: 0644 under umask 000, 0600 under umask 077"
if [ -x "$UP_BUILD/uptime_snapshot" ]; then
  (umask 000 && timeout 120 "$MPIEXEC" -n 2 "$UP_BUILD/uptime_snapshot" --quiet --db g.db --output wide.h5)
  [ "$(stat -c %a wide.h5)" = 644 ] || fail "umask 000 gave the snapshot mode $(stat -c %a wide.h5)"
  pass "snapshot mode: 0644 under umask 000"
fi
echo "$checks passed, 0 failed"
