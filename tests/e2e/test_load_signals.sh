#!/usr/bin/env bash
# uptime_load stopped part way (issue 13, defect 5): SIGTERM or SIGINT removes the temporary
# rejects file and commits nothing; SIGKILL leaves it, and the next load sweeps it away; a
# live load's temporary, a symlink, a FIFO, another user's file and names off the pattern are
# never swept. The input is big enough (20 000 stores, a week) to be stopped mid-read.
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden

"$GEN" --out big --stores 20000 --days 7 --seed 1 --bad 0.001 2>/dev/null
mkdir -p rej

# temps: the temporary rejects files beside rej/r.csv.
temps() { find rej -maxdepth 1 -name 'r.csv.tmp.*' | sort; }

# start_load DB [ARGS...]: the big load in the background with SIGINT at its default (a
# script's background jobs ignore it), its rejects in rej/r.csv; sets LOAD_PID. Returns once
# it reads the polls file (its progress line names it), so that a signal falls mid-load.
start_load() {
  local db=$1 start=$SECONDS
  shift
  python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$LOAD" --db "$db" --dir big --rejects rej/r.csv --progress "$@" \
    >load.out 2>load.err &
  LOAD_PID=$!
  until grep -q 'store_status.csv' load.err 2>/dev/null; do
    kill -0 "$LOAD_PID" 2>/dev/null || { cat load.err >&2; fail "the load ended before it read the polls"; }
    [ $((SECONDS - start)) -lt 60 ] || fail "the load did not reach the polls file in 60 s"
    sleep 0.05
  done
}

# stopped SIG DB: the load was signalled mid-read: it ended by that signal (exit 128+n),
# said so, removed its temporary and committed nothing -- or, had it reached its commit
# already, finished the load and said so. Sets HOW.
stopped() {
  local sig=$1 db=$2 rc=0 n
  wait "$LOAD_PID" || rc=$?
  [ -z "$(temps)" ] || fail "SIG$sig: temporary rejects file left: $(temps)"
  if [ "$rc" -eq 0 ]; then
    grep -q "arrived while the load was committing: it is complete" load.err || fail "SIG$sig: exit 0 without a word"
    [ -s rej/r.csv ] || fail "SIG$sig: a complete load without its rejects file"
    HOW="it was committing: the load completed"
    return
  fi
  [ "$rc" -eq $((128 + $(kill -l "$sig"))) ] || { cat load.err >&2; fail "SIG$sig: exit $rc"; }
  grep -q "got signal $sig from pid $$; stopped, nothing loaded" load.err ||
    fail "SIG$sig: no word on stderr: $(tr '\r' '\n' <load.err | tail -2)"
  [ ! -e rej/r.csv ] || fail "SIG$sig: a rejects file for a load that did not happen"
  n=$(sqlite3 "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'store_status'")
  if [ "$n" -eq 1 ]; then n=$(sqlite3 "$db" "SELECT count(*) FROM store_status"); fi
  [ "$n" -eq 0 ] || fail "SIG$sig: $n polls committed by a stopped load"
  HOW="exit $rc, nothing loaded"
}

for sig in TERM INT; do
  rm -f rej/r.csv
  start_load "s-$sig.db"
  [ -n "$(temps)" ] || fail "no temporary rejects file while loading"
  kill -"$sig" "$LOAD_PID"
  stopped "$sig" "s-$sig.db"
  pass "SIG$sig mid-load: $HOW, no temporary rejects file left"
done

# SIGKILL: no handler runs, the temporary stays; the next load (another database, the same
# rejects file) removes it, and says so.
rm -f rej/r.csv
start_load k.db
kill -KILL "$LOAD_PID"
{ wait "$LOAD_PID"; } 2>/dev/null || true
left=$(temps)
[ -n "$left" ] || fail "SIGKILL left no temporary (the test would prove nothing)"
"$LOAD" --db k2.db --dir "$G" --rejects rej/r.csv >k2.out
[ -z "$(temps)" ] || fail "the next load did not sweep $(temps)"
grep -q "removed 1 temporary rejects file left by killed loads" k2.out || fail "summary: $(cat k2.out)"
[ -s rej/r.csv ] || fail "the next load wrote no rejects file"
pass "SIGKILL mid-load leaves $(basename "$left"); the next load sweeps it and says so"

# A live load's temporary is never swept: load A runs (its temporary locked) while load B
# (the same rejects path) starts and ends; A's file is still there, the same file, and A
# ends normally.
rm -f rej/r.csv
start_load a.db --quiet
a_tmp=$(temps)
[ -n "$a_tmp" ] || fail "load A has no temporary"
a_ino=$(stat -c %i "$a_tmp")
"$LOAD" --db b.db --dir "$G" --rejects rej/r.csv >b.out
grep -q "removed" b.out && fail "load B swept something: $(cat b.out)"
[ -e "$a_tmp" ] && [ "$(stat -c %i "$a_tmp")" = "$a_ino" ] || fail "load B removed live load A's temporary"
rc=0
wait "$LOAD_PID" || rc=$?
[ "$rc" -eq 0 ] || { cat load.err >&2; fail "load A: exit $rc"; }
[ -z "$(temps)" ] || fail "load A left $(temps)"
pass "a live load's temporary is left alone by another load's sweep"

# Only our pattern, only regular files of ours, never through a symlink, never blocking on
# a FIFO.
echo precious >outside.txt
ln -s "$T/outside.txt" rej/r.csv.tmp.Sym123
mkfifo rej/r.csv.tmp.Fifo12
: >rej/r.csv.tmp.Short
: >rej/r.csv.tmp.Long1234
: >rej/other.csv.tmp.Abc123
: >rej/r.csv.tmp.Not-Ok
owner=""
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  : >rej/r.csv.tmp.Nobody
  chown nobody rej/r.csv.tmp.Nobody
  owner=rej/r.csv.tmp.Nobody
fi
: >rej/r.csv.tmp.Stale1
timeout 60 "$LOAD" --db c.db --dir "$G" --rejects rej/r.csv >c.out || fail "load beside planted files failed"
[ ! -e rej/r.csv.tmp.Stale1 ] || fail "a stale temporary of ours was not swept"
for f in rej/r.csv.tmp.Sym123 rej/r.csv.tmp.Fifo12 rej/r.csv.tmp.Short rej/r.csv.tmp.Long1234 \
  rej/other.csv.tmp.Abc123 rej/r.csv.tmp.Not-Ok $owner; do
  [ -e "$f" ] || [ -L "$f" ] || fail "swept $f"
done
[ "$(cat outside.txt)" = precious ] || fail "the symlink's target changed"
pass "the sweep takes only unlocked regular files of ours named <rejects>.tmp.XXXXXX"
echo "$checks passed, 0 failed"
