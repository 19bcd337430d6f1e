#!/usr/bin/env bash
# Bad snapshots: each way a file can be wrong ends the report with exit 3, status Failed
# naming the file and what is wrong, no CSV, and never a crash; then random corrupt bytes
# of a real snapshot, again and again: each run either fails cleanly or (bytes nobody
# reads) gives the good report, never anything else.
. "$(dirname "$0")/lib.sh"
SNAP=$UP_BUILD/uptime_snapshot
TAMPER=$UP_BUILD/tests/h5_tamper
[ -x "$SNAP" ] || { echo "SKIP: built without HDF5 (UPTIME_WITH_HDF5=OFF)"; exit 0; }
G=$UP_SRC/tests/data/golden

"$LOAD" --db g.db --dir "$G" --no-rejects -q
timeout 120 "$MPIEXEC" -n 2 "$SNAP" --quiet --db g.db --output good.h5
run_report 2 --db good.h5 --reports-dir rep --report-id good
same_files "$G/expected.csv" rep/good.csv "the untouched snapshot gives the golden report"

# bad NAME WHY-REGEX: the report on NAME.h5 fails cleanly, saying WHY.
bad() {
  local name=$1 why=$2 got=0
  timeout 120 "$MPIEXEC" -n 2 "$REPORT" --quiet --db "$name.h5" --reports-dir rep --report-id "$name" \
    >out.txt 2>err.txt || got=$?
  [ "$got" -eq 3 ] || { cat err.txt; fail "$name: exit $got, expected 3"; }
  jq -e --arg f "$name.h5" --arg w "$why" '.status == "Failed" and (.error | contains($f)) and (.error | test($w))' \
    "rep/$name.status.json" >/dev/null || { cat "rep/$name.status.json"; fail "$name: status does not name the file and '$why'"; }
  [ ! -e "rep/$name.csv" ] || fail "$name: a CSV was left"
  pass "$name: exit 3, Failed naming the file and what is wrong"
}

# tampered NAME OP ARGS...: a copy of the good snapshot damaged by h5_tamper.
tampered() {
  local name=$1
  shift
  cp good.h5 "$name.h5"
  "$TAMPER" "$name.h5" "$@" || fail "h5_tamper $* failed"
}

echo "just text" >text.h5
bad text "not an HDF5 file"
tampered version set-attr schema_version 2
bad version "schema version"
tampered noattr del-attr now_us
bad noattr "schema version"
tampered nodataset del-dataset /polls/active
bad nodataset "dataset /polls/active is missing"
tampered offsets add-u64 /stores/poll_offset -1 1
bad offsets "do not add up|disagree"
tampered unsorted set-u8 /stores/id_bytes 0 255
bad unsorted "ascending"
tampered hole set-u64 /stores/poll_offset 2 7
bad hole "malformed|order|do not add up"
cp good.h5 truncated.h5
truncate -s $(($(stat -c %s good.h5) / 2)) truncated.h5
bad truncated "corrupt|cannot|not an HDF5"
# Lengths the file cannot hold: a zone table of 2 000 000 000 names and 10^12 polls, each a
# dataset whose chunks were never written. Refused before anything is allocated for them
# (16 GB of offsets, 8 TB of timestamps), within seconds and a small memory bound.
tampered hugezones sparse /zones/name_offset 2000000001
"$TAMPER" hugezones.h5 set-attr zones 2000000000 || fail "h5_tamper set-attr zones"
(ulimit -v 4000000 && bad hugezones "zone table claims more than the file holds")
tampered hugepolls sparse /polls/ts 1000000000000
"$TAMPER" hugepolls.h5 sparse /polls/active 1000000000000 || fail "h5_tamper sparse active"
"$TAMPER" hugepolls.h5 set-attr polls 1000000000000 || fail "h5_tamper set-attr polls"
"$TAMPER" hugepolls.h5 set-u64 /stores/poll_offset -1 1000000000000 || fail "h5_tamper set-u64"
(ulimit -v 4000000 && bad hugepolls "dataset /polls/ts claims 1000000000000 items but the file holds too few bytes")

# ---- random corrupt bytes: a clean failure or the good report, every time ----
size=$(stat -c %s good.h5)
clean=0 same=0
for i in $(seq 1 60); do
  cp good.h5 fuzz.h5
  python3 - "$size" "$i" <<'PY'
import random, sys
size, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
with open("fuzz.h5", "r+b") as f:
    for _ in range(rnd.randint(1, 8)):
        pos = rnd.randrange(size)
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([(b[0] ^ rnd.randint(1, 255)) & 0xFF]))
PY
  rm -f rep/fuzz.csv rep/fuzz.status.json
  got=0
  timeout 60 "$MPIEXEC" -n 2 "$REPORT" --quiet --db fuzz.h5 --reports-dir rep --report-id fuzz \
    >out.txt 2>err.txt || got=$?
  if [ "$got" -eq 0 ]; then
    cmp -s rep/fuzz.csv "$G/expected.csv" || { cp fuzz.h5 "$UP_BUILD/fuzz-fail-$i.h5"; fail "corruption $i: exit 0 with a different report (kept as fuzz-fail-$i.h5)"; }
    same=$((same + 1))
  elif [ "$got" -eq 3 ]; then
    jq -e '.status == "Failed" and (.error | contains("fuzz.h5"))' rep/fuzz.status.json >/dev/null ||
      fail "corruption $i: exit 3 without a Failed status naming the file"
    [ ! -e rep/fuzz.csv ] || fail "corruption $i: a CSV was left"
    clean=$((clean + 1))
  else
    cp fuzz.h5 "$UP_BUILD/fuzz-fail-$i.h5"
    cat err.txt >&2
    fail "corruption $i: exit $got (crash or hang), kept as fuzz-fail-$i.h5"
  fi
done
pass "60 corrupted snapshots: $clean failed cleanly, $same gave the good report (bytes nobody reads)"
echo "$checks passed, 0 failed"
