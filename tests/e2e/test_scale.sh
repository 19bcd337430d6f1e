#!/usr/bin/env bash
# The job's shape at the edges: more ranks than stores (ranks with nothing to do), one
# store holding most of the polls (the balance), rows streamed to rank 0 chunk by chunk
# (a report larger than one 1 MiB chunk), and progress that follows the stores computed
# on every rank.
. "$(dirname "$0")/lib.sh"
G=$UP_SRC/tests/data/golden

# ---- more ranks than stores: the golden 4 stores on 6 ranks ----
"$LOAD" --db g.db --dir "$G" --no-rejects -q
run_report 6 --db g.db --reports-dir rep --report-id six
same_files "$G/expected.csv" rep/six.csv "6 ranks for 4 stores: the golden report"

# ---- one store with most of the polls: one a minute for 9 days beside 30 hourly ones ----
mkdir skew
cp "$G/menu_hours.csv" "$G/timezones.csv" skew/
python3 - >skew/store_status.csv <<'PY'
import datetime
end = datetime.datetime(2023, 1, 25, 18, 0, 0)
print("store_id,status,timestamp_utc")
for m in range(9 * 24 * 60):
    t = end - datetime.timedelta(minutes=m)
    print(f"big,{'active' if (m // 37) % 5 else 'inactive'},{t:%Y-%m-%d %H:%M:%S} UTC")
for s in range(30):
    for h in range(9 * 24):
        t = end - datetime.timedelta(hours=h, minutes=s)
        print(f"s{s:02d},{'inactive' if (h + s) % 7 == 0 else 'active'},{t:%Y-%m-%d %H:%M:%S} UTC")
PY
"$LOAD" --db skew.db --dir skew --no-rejects -q
for n in 1 2 3 4; do
  run_report "$n" --db skew.db --reports-dir rep --report-id "skew$n"
done
$ORACLE --dir skew >skew-oracle.csv
for n in 1 2 3 4; do
  same_files skew-oracle.csv "rep/skew$n.csv" "a store with two thirds of the polls, $n ranks: the oracle's report"
done

# ---- a store with more polls in its week than a snapshot reads in one batch (2^18) ----
# One every 2 s for 8 days (302 400 in the week), between stores before and after it.
mkdir huge
cp "$G/menu_hours.csv" "$G/timezones.csv" huge/
python3 - >huge/store_status.csv <<'PY'
import datetime
end = datetime.datetime(2023, 1, 25, 18, 0, 0)
print("store_id,status,timestamp_utc")
for s in range(8 * 24 * 3600 // 2):
    t = end - datetime.timedelta(seconds=2 * s)
    print(f"m-huge,{'active' if (s // 1001) % 6 else 'inactive'},{t:%Y-%m-%d %H:%M:%S} UTC")
for name in ("a-before", "z-after"):
    for h in range(8 * 24):
        t = end - datetime.timedelta(hours=h, minutes=7)
        print(f"{name},{'inactive' if h % 5 == 0 else 'active'},{t:%Y-%m-%d %H:%M:%S} UTC")
PY
"$LOAD" --db huge.db --dir huge --no-rejects -q
timeout 300 "$MPIEXEC" -n 2 "$UP_BUILD/uptime_snapshot" --db huge.db --output huge.h5 --days 7 --quiet ||
  fail "snapshot of the huge store failed"
$ORACLE --dir huge >huge-oracle.csv
for n in 1 2; do
  run_report "$n" --db huge.h5 --reports-dir rep --report-id "huge$n"
  same_files huge-oracle.csv "rep/huge$n.csv" \
    "a store of 302 400 polls in its week read from a snapshot, $n ranks: the oracle's report"
done

# ---- a report larger than one chunk of streamed rows, and its progress ----
"$GEN" --out big --stores 20000 --days 8 --polls-per-store-day 2 --seed 4 --ids uuid 2>/dev/null
"$LOAD" --db big.db --dir big --no-rejects -q
run_report 1 --db big.db --reports-dir rep --report-id big1
[ "$(stat -c %s rep/big1.csv)" -gt 1048576 ] || fail "the report is not larger than one chunk"
timeout 300 "$MPIEXEC" -n 3 "$REPORT" --quiet --verbose --progress-ms 1 --db big.db --reports-dir rep \
  --report-id big3 2>progress3.txt
same_files rep/big1.csv rep/big3.csv "a report of $(stat -c %s rep/big1.csv) bytes streamed from 3 ranks equals 1 rank's"
# On one rank no other rank's message comes: rank 0's own count moves the progress.
timeout 300 "$MPIEXEC" -n 1 "$REPORT" --quiet --verbose --progress-ms 1 --db big.db --reports-dir rep \
  --report-id big1p 2>progress1.txt
for n in 3 1; do
  id=big3
  [ "$n" = 1 ] && id=big1p
  python3 - "progress$n.txt" "rep/$id.status.json" <<'PY' || fail "progress does not follow the stores computed ($n ranks)"
import json, re, sys
seen = [(int(a), int(b)) for a, b in re.findall(r"progress: (\d+) of (\d+) stores", open(sys.argv[1]).read())]
assert seen, "no progress update"
total = seen[0][1]
done = [a for a, _ in seen]
assert all(b == total for _, b in seen), "the total changed"
assert done == sorted(done), f"progress went back: {done[:20]}"
assert any(0 < a < total for a in done), "no update between the first and the last store"
assert done[-1] == total, f"last update {done[-1]} of {total}"
st = json.load(open(sys.argv[2]))
assert st["status"] == "Complete" and st["progress"] == 100, st
PY
  pass "progress rises with the stores computed on all ranks and ends at 100 ($n ranks)"
done
echo "$checks passed, 0 failed"
