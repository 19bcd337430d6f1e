#!/usr/bin/env python3
"""The load that races reports in test_pg_snapshot.sh and test_sqlite_snapshot.sh.

racing_load.py SRC DST EXTRA_TS: from the generated files in SRC, writes in DST every
third poll again as inactive, one more active poll at EXTRA_TS for every tenth store,
half of the stores' hours replaced by 10:00-11:00 every day, and an empty timezones
file (its header only): a load that changes most stores' rows, so that a report mixing
the before and the after data shows.
"""
import csv
import os
import sys

src, dst, extra_ts = sys.argv[1:4]
os.makedirs(dst, exist_ok=True)
with open(os.path.join(src, "store_status.csv"), newline="") as f:
    rows = list(csv.reader(f))
head, polls = rows[0], rows[1:]
ids = sorted({r[0] for r in polls})
with open(os.path.join(dst, "store_status.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(head)
    for i, r in enumerate(polls):
        if i % 3 == 0:
            w.writerow([r[0], "inactive", r[2]])
    for sid in ids[::10]:
        w.writerow([sid, "active", extra_ts])
with open(os.path.join(src, "menu_hours.csv"), newline="") as f:
    hh = list(csv.reader(f))
with open(os.path.join(dst, "menu_hours.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(hh[0])
    for sid in ids[::2]:
        for d in range(7):
            w.writerow([sid, d, "10:00:00", "11:00:00"])
with open(os.path.join(src, "timezones.csv")) as f:
    head = f.readline()
with open(os.path.join(dst, "timezones.csv"), "w") as f:
    f.write(head)
