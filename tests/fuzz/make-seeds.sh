#!/usr/bin/env bash
# Writes the fuzz targets' seed inputs (corpus/<target>/seed-*) from the test data: the
# CSVs of tests/data, their fields, the time zones the unit tests use, synthetic TZif
# files for the footer grammar, and HDF5 snapshots of the golden and the bad data made by
# the given normal build. Run it again after the test data change; the other files of
# corpus/ (regressions, what fuzzing found) are left alone.
#   tests/fuzz/make-seeds.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:?usage: make-seeds.sh BUILD_DIR (a normal build with uptime_load and uptime_snapshot)}
build=$(cd "$build" && pwd)
data=$src/tests/data
corpus=$here/corpus
mkdir -p "$corpus"/{fields,csv,load,tzif,snapshot}
rm -f "$corpus"/*/seed-*

# fields: every distinct field value of the test CSVs, and a few the files lack.
python3 - "$data" "$corpus/fields" <<'PY'
import csv, hashlib, io, os, sys
data, out = sys.argv[1], sys.argv[2]
vals = set()
for sub in ("golden", "bad"):
    for name in ("store_status.csv", "menu_hours.csv", "timezones.csv"):
        raw = open(os.path.join(data, sub, name), "rb").read()
        for line in raw.split(b"\n"):
            for f in line.split(b","):
                vals.add(f.strip(b" \t\r"))
vals |= {b"2023-01-25 18:13:22.479220 UTC", b"2023-01-25T18:13:22Z", b"2024-02-29T00:00:00+00:00",
         b"0001-01-01 00:00:00 UTC", b"9999-12-31 23:59:59.999999 UTC", b"23:59:59.999999",
         b"00:00", b"inactive", b"US/Central", b"Etc/UTC", b"posix/UTC", b"../etc/passwd",
         b"Etc/Short", b"Text", b"\xc2\x85"}
vals.discard(b"")
for v in sorted(vals):
    name = "seed-" + hashlib.sha1(v).hexdigest()[:12]
    open(os.path.join(out, name), "wb").write(v)
PY

# csv: one byte for the column set (0 polls, 1 hours, 2 zones), then the file.
put_csv() { { printf "\\$(printf '%03o' "$1")"; cat "$2"; } >"$corpus/csv/seed-$3"; }
for sub in golden bad; do
  put_csv 0 "$data/$sub/store_status.csv" "$sub-status"
  put_csv 1 "$data/$sub/menu_hours.csv" "$sub-hours"
  put_csv 2 "$data/$sub/timezones.csv" "$sub-zones"
done
gzip -9nc "$data/golden/store_status.csv" >"$corpus/csv/gz.tmp"
put_csv 0 "$corpus/csv/gz.tmp" golden-status-gz
rm -f "$corpus/csv/gz.tmp"
printf '\000\357\273\277store_id,status,timestamp_utc\r\n"a\r\nb",active,2023-01-25 10:00:00 UTC\r\n"open,active\r\nc,inactive,2023-01-25 11:00:00 UTC' \
  >"$corpus/csv/seed-bom-crlf-multiline"

# load: a flags byte, then the three files, each ended by a "%%%%" line.
put_load() { { printf "\\$(printf '%03o' "$1")"; for f in "${@:3}"; do cat "$f"; printf '%%%%%%%%\n'; done; } >"$corpus/load/seed-$2"; }
for sub in golden bad; do
  d=$data/$sub
  put_load 7 "$sub" "$d/store_status.csv" "$d/menu_hours.csv" "$d/timezones.csv"
  put_load 31 "$sub-rejects-progress" "$d/store_status.csv" "$d/menu_hours.csv" "$d/timezones.csv"
  put_load 1 "$sub-polls-only" "$d/store_status.csv"
done
# A gzip file cut in half: the load fails after it began (nothing may be left of it).
python3 - "$data/golden/store_status.csv" "$corpus/load/seed-gzip-cut" <<'PY'
import gzip, sys
z = gzip.compress(open(sys.argv[1], "rb").read() * 50, mtime=0)
open(sys.argv[2], "wb").write(b"\x01" + z[: len(z) // 2])
PY

# tzif: the zones the unit tests use, and synthetic files for the footer grammar.
for z in America/Chicago America/New_York Australia/Lord_Howe Asia/Kolkata Pacific/Chatham Etc/UTC Europe/Dublin; do
  cp "/usr/share/zoneinfo/$z" "$corpus/tzif/seed-${z//\//-}"
done
python3 - "$corpus/tzif" <<'PY'
import os, struct, sys
out = sys.argv[1]
def block(times, idx, types, chars, tsize):
    b = struct.pack(">6I", 0, 0, 0, len(times), len(types), len(chars))
    b = b"TZif2" + b"\0" * 15 + b
    b += b"".join(struct.pack(">q" if tsize == 8 else ">i", t) for t in times)
    b += bytes(idx)
    b += b"".join(struct.pack(">iBB", off, dst, ai) for off, dst, ai in types)
    return b + chars
def tzif(times, idx, types, chars, footer, version=b"2"):
    v1 = block([], [], types, chars, 4).replace(b"TZif2", b"TZif" + version, 1)
    v2 = block(times, idx, types, chars, 8).replace(b"TZif2", b"TZif" + version, 1)
    return v1 + v2 + b"\n" + footer + b"\n"
std = [(-21600, 0, 0), (-18000, 1, 4)]
cases = {
    "us-rule": tzif([1678608000, 1699167600], [1, 0], std, b"CST\0CDT\0", b"CST6CDT,M3.2.0,M11.1.0"),
    "south": tzif([], [], [(36000, 0, 0)], b"AEST\0", b"AEST-10AEDT,M10.1.0,M4.1.0/3"),
    "julian": tzif([], [], [(3600, 0, 0)], b"XXX\0", b"XXX-1YYY,J60/25,J300/-2"),
    "zero-based": tzif([], [], [(0, 0, 0)], b"ZZZ\0", b"ZZZ0WWW,59/1:30,300/167"),
    "angle": tzif([], [], [(20700, 0, 0)], b"+0545\0", b"<+0545>-5:45"),
    "all-dst": tzif([], [], [(-10800, 0, 0)], b"-03\0", b"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1"),
    "no-rule": tzif([], [], [(-18000, 0, 0)], b"EST\0", b"EST5EDT"),
    "no-footer": tzif([100000000], [0], [(7200, 0, 0)], b"EET\0", b""),
    "v3": tzif([2000000000], [0], [(-7200, 0, 0)], b"-02\0", b"<-02>2", b"3"),
}
for name, b in cases.items():
    open(os.path.join(out, "seed-synth-" + name), "wb").write(b)
# Version 1: the 32-bit block alone, no footer.
v1 = block([-1000000, 1000000], [1, 0], std, b"CST\0CDT\0", 4).replace(b"TZif2", b"TZif\0", 1)
open(os.path.join(out, "seed-synth-v1"), "wb").write(v1)
PY

# snapshot: the golden and the bad data, contiguous (no checksums, so a changed byte
# reaches our checks) and chunked (a checksum per chunk).
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
. "$src/scripts/mpi-env.sh"
for sub in golden bad; do
  "$build/uptime_load" --db "$t/$sub.db" --dir "$data/$sub" --no-rejects -q
  mpirun -n 1 "$build/uptime_snapshot" --db "$t/$sub.db" --output "$t/$sub.h5" --chunk 0 -q
  cp "$t/$sub.h5" "$corpus/snapshot/seed-$sub-contiguous"
done
mpirun -n 1 "$build/uptime_snapshot" --db "$t/golden.db" --output "$t/chunked.h5" -q
cp "$t/chunked.h5" "$corpus/snapshot/seed-golden-chunked"
du -sh "$corpus"/*
