#!/usr/bin/env python3
"""Independent reference implementation of SPEC.md (the uptime report), for cross-checks.

Reads store_status.csv, menu_hours.csv and timezones.csv the way SPEC sections 1 and 5
say, and prints the report CSV of SPEC section 3 on stdout.  Standard library only.
It is written to be obviously correct, not fast: every rule of the SPEC is one small
function here, and durations are integers (microseconds) until they are printed.

    python3 tests/oracle/uptime_oracle.py --dir DIR [--now TS] [--rejects] > report.csv

Exit codes follow the project: 0 ok, 2 usage or fatal input (missing file, empty file,
missing or duplicated required column).
"""

import argparse
import bisect
import datetime as dt
import os
import re
import sys
from zoneinfo import ZoneInfo

TZDATA_ZI = "/usr/share/zoneinfo/tzdata.zi"
DEFAULT_ZONE = "America/Chicago"
HEADER = ("store_id,uptime_last_hour,uptime_last_day,uptime_last_week,"
          "downtime_last_hour,downtime_last_day,downtime_last_week")

US_PER_SEC = 1_000_000
US_PER_DAY = 86_400 * US_PER_SEC
HOUR_WINDOW = 3_600 * US_PER_SEC
DAY_WINDOW = 86_400 * US_PER_SEC
WEEK_WINDOW = 604_800 * US_PER_SEC

WS_STR = " \t\r\n\x0b\x0c"      # SPEC 5: ASCII whitespace trimmed around fields
WS_BYTES = WS_STR.encode()
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class FatalInput(Exception):
    """A load-fatal input problem (SPEC 5): exit 2, nothing written."""


# ------------------------------------------------------------------ value parsers
# Each returns the parsed value or raises ValueError with the reason.

_TS_SPACE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})"
                       r"(?:\.([0-9]{1,6}))? UTC")
_TS_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     r"(?:\.([0-9]{1,6}))?(?:Z|\+00:00)")
_TOD = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?")


def _frac_us(frac):
    return int(frac.ljust(6, "0")) if frac else 0


def parse_timestamp(s):
    """SPEC timestamp -> microseconds since the Unix epoch (UTC)."""
    m = _TS_SPACE.fullmatch(s) or _TS_ISO.fullmatch(s)
    if m is None:
        raise ValueError("bad timestamp")
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    if not 1 <= y <= 9999:
        raise ValueError("bad timestamp year")
    try:
        day = dt.date(y, mo, d)
    except ValueError:
        raise ValueError("timestamp date does not exist") from None
    if hh > 23 or mi > 59 or ss > 59:
        raise ValueError("bad timestamp time")
    days = day.toordinal() - EPOCH_ORDINAL
    return (days * 86_400 + hh * 3_600 + mi * 60 + ss) * US_PER_SEC + _frac_us(m.group(7))


def parse_time_of_day(s):
    """HH:MM or HH:MM:SS[.f] -> microseconds since midnight."""
    m = _TOD.fullmatch(s)
    if m is None:
        raise ValueError("bad time of day")
    hh, mi = int(m.group(1)), int(m.group(2))
    ss = int(m.group(3)) if m.group(3) is not None else 0
    if hh > 23 or mi > 59 or ss > 59:
        raise ValueError("time of day out of range")
    return (hh * 3_600 + mi * 60 + ss) * US_PER_SEC + _frac_us(m.group(4))


def parse_day(s):
    if len(s) != 1 or s not in "0123456":
        raise ValueError("bad day (expected one digit 0-6)")
    return int(s)


def _ascii_lower(s):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def parse_status(s):
    low = _ascii_lower(s)
    if low == "active":
        return True
    if low == "inactive":
        return False
    raise ValueError("bad status")


def check_store_id(s):
    n = len(s.encode("utf-8"))
    if n == 0:
        raise ValueError("empty store_id")
    if n > 128:
        raise ValueError("store_id longer than 128 bytes")
    for c in s:
        if ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F:
            raise ValueError("control character in store_id")
    return s


def known_zones(path=TZDATA_ZI):
    """Every Zone name and Link name of the system tz database (SPEC 5)."""
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "Z":
                names.add(parts[1])
            elif len(parts) >= 3 and parts[0] == "L":
                names.add(parts[2])
    return names


# ------------------------------------------------------------------ CSV records

def csv_records(data):
    """Splits a file's bytes into records (SPEC 1/5).

    Yields (line, fields, error): line = physical line where the record starts
    (header = 1), fields = list of raw bytes (None on error), error = reason or None.
    Empty lines are skipped; a whitespace-only line is an error record.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    n = len(data)
    pos = 0
    line = 1
    while pos < n:
        eol = data.find(b"\n", pos)
        if eol < 0:
            eol = n
        raw = data[pos:eol]
        if raw in (b"", b"\r"):
            pos, line = eol + 1, line + 1
            continue
        if raw.strip(WS_BYTES) == b"":
            yield line, None, "whitespace-only line"
            pos, line = eol + 1, line + 1
            continue
        start_line = line
        fields = []
        err = None
        while True:
            # Spaces or tabs before an opening quote are allowed.
            q = pos
            while q < n and data[q] in b" \t":
                q += 1
            if q < n and data[q] == 0x22:
                pos = q + 1
                buf = bytearray()
                while True:
                    if pos >= n:
                        err = "unterminated quoted field"
                        break
                    c = data[pos]
                    if c == 0x22:
                        if pos + 1 < n and data[pos + 1] == 0x22:
                            buf.append(0x22)
                            pos += 2
                            continue
                        pos += 1
                        break
                    if c == 0x0A:
                        line += 1
                    buf.append(c)
                    pos += 1
                if err:
                    break
                while pos < n and data[pos] in b" \t":
                    pos += 1
                fields.append(bytes(buf))
            else:
                end = pos
                while end < n and data[end] not in b",\n":
                    end += 1
                field = data[pos:end]
                if b'"' in field:
                    err = "broken quoting"
                    break
                fields.append(field)
                pos = end
            if pos >= n:
                break
            c = data[pos]
            if c == 0x2C:
                pos += 1
                continue
            if c == 0x0A:
                pos += 1
                line += 1
                break
            if c == 0x0D and pos + 1 < n and data[pos + 1] == 0x0A:
                pos += 2
                line += 1
                break
            if c == 0x0D and pos + 1 == n:
                pos += 1
                break
            err = "broken quoting"
            break
        if err:
            # Resynchronise at the end of the current physical line.
            eol = data.find(b"\n", pos)
            if eol < 0:
                pos = n
            else:
                pos, line = eol + 1, line + 1
            yield start_line, None, err
            continue
        yield start_line, fields, None


def read_table(path, required, rejects):
    """Reads one input file. required: list of (column, alternatives...) tuples.

    Returns a list of (line, {column: trimmed str}) for records that pass the
    csv/UTF-8/field-count checks; other records go to rejects as (path, line, reason).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FatalInput(f"cannot read {path}: {e.strerror}") from None
    recs = csv_records(data)
    header = None
    for line, fields, err in recs:
        if err is not None:
            raise FatalInput(f"{path}:{line}: bad header: {err}")
        header = [f.decode("utf-8", "replace").strip(WS_STR) for f in fields]
        break
    if header is None:
        raise FatalInput(f"{path}: empty file")
    index = {}
    for names in required:
        chosen = next((nm for nm in names if nm in header), None)
        if chosen is None:
            raise FatalInput(f"{path}: missing column {names[0]}")
        if header.count(chosen) > 1:
            raise FatalInput(f"{path}: column {chosen} named twice")
        index[names[0]] = header.index(chosen)
    rows = []
    for line, fields, err in recs:
        if err is not None:
            rejects.append((path, line, err))
            continue
        try:
            text = [f.decode("utf-8") for f in fields]
        except UnicodeDecodeError:
            rejects.append((path, line, "invalid UTF-8"))
            continue
        if len(text) != len(header):
            rejects.append((path, line, f"{len(text)} fields, header has {len(header)}"))
            continue
        rows.append((line, {col: text[i].strip(WS_STR) for col, i in index.items()}))
    return rows


# ------------------------------------------------------------------ loading

class Store:
    def __init__(self):
        self.polls = []        # (t_us, active)
        self.hours = []        # (day, start_us, end_us)
        self.zone = None       # first valid timezone_str


def load(status_path, hours_path, tz_path, rejects):
    stores = {}
    zones = known_zones()

    def store(sid):
        return stores.setdefault(sid, Store())

    # Fatal checks of all three files come before any row is looked at.
    status_rows = read_table(status_path, [("store_id",), ("status",), ("timestamp_utc",)],
                             rejects)
    hours_rows = read_table(hours_path, [("store_id",), ("dayOfWeek", "day"),
                                         ("start_time_local",), ("end_time_local",)], rejects)
    tz_rows = read_table(tz_path, [("store_id",), ("timezone_str",)], rejects)

    for line, r in status_rows:
        try:
            sid = check_store_id(r["store_id"])
            active = parse_status(r["status"])
            t = parse_timestamp(r["timestamp_utc"])
        except ValueError as e:
            rejects.append((status_path, line, str(e)))
            continue
        store(sid).polls.append((t, active))

    for line, r in hours_rows:
        try:
            sid = check_store_id(r["store_id"])
        except ValueError as e:
            rejects.append((hours_path, line, str(e)))
            continue
        st = store(sid)
        try:
            day = parse_day(r["dayOfWeek"])
            start = parse_time_of_day(r["start_time_local"])
            end = parse_time_of_day(r["end_time_local"])
        except ValueError as e:
            rejects.append((hours_path, line, str(e)))
            continue
        st.hours.append((day, start, end))

    for line, r in tz_rows:
        try:
            sid = check_store_id(r["store_id"])
            name = r["timezone_str"]
            if name not in zones:
                raise ValueError(f"unknown timezone {name!r}")
        except ValueError as e:
            rejects.append((tz_path, line, str(e)))
            continue
        st = store(sid)
        if st.zone is None:
            st.zone = name
        elif st.zone != name:
            rejects.append((tz_path, line, f"conflicting timezone {name} (first was {st.zone})"))
    return stores


# ------------------------------------------------------------------ computing

def local_date(us, zone):
    return (UTC_EPOCH + dt.timedelta(microseconds=us)).astimezone(zone).date()


def wall_to_utc(date, tod_us, zone):
    """L(date, wall time): PEP 495 fold=0 (earlier instant; gap read with the old offset)."""
    secs, usec = divmod(tod_us, US_PER_SEC)
    local = dt.datetime(date.year, date.month, date.day, secs // 3600, secs // 60 % 60,
                        secs % 60, usec, tzinfo=zone, fold=0)
    off = local.utcoffset()
    off_us = (off.days * 86_400 + off.seconds) * US_PER_SEC + off.microseconds
    naive_us = (date.toordinal() - EPOCH_ORDINAL) * US_PER_DAY + tod_us
    return naive_us - off_us


def business_intervals(st, zone, now):
    """Sorted disjoint [a, b) UTC intervals of B(store) that can touch the week window."""
    first = local_date(now - WEEK_WINDOW, zone) - dt.timedelta(days=1)
    last = local_date(now, zone)
    raw = []
    d = first
    while d <= last:
        for day, start, end in st.hours:
            if day != d.weekday():
                continue
            d2 = d if end > start else d + dt.timedelta(days=1)
            a = wall_to_utc(d, start, zone)
            b = wall_to_utc(d2, end, zone)
            if b > a:
                raw.append((a, b))
        d += dt.timedelta(days=1)
    raw.sort()
    merged = []
    for a, b in raw:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def status_steps(polls):
    """Sorted distinct poll instants and the status at each (inactive wins ties)."""
    by_time = {}
    for t, active in polls:
        by_time[t] = by_time.get(t, True) and active
    times = sorted(by_time)
    return times, [by_time[t] for t in times]


def active_measure(times, states, a, b):
    """Microseconds of [a, b) where s(t) is active."""
    total = 0
    # Index of the poll in force at a: latest at or before a, or the first poll.
    i = max(bisect.bisect_right(times, a) - 1, 0)
    cur = a
    while cur < b:
        nxt = times[i + 1] if i + 1 < len(times) else None
        seg_end = b if nxt is None or nxt >= b else max(nxt, cur)
        if states[i]:
            total += seg_end - cur
        cur = seg_end
        i += 1
        if nxt is None:
            break
    return total


def store_row(st, zone, now, business_only=False):
    times, states = status_steps(st.polls)
    if st.hours:
        bus = business_intervals(st, zone, now)
    else:
        bus = [(now - WEEK_WINDOW, now)]
    out = []
    for length in (HOUR_WINDOW, DAY_WINDOW, WEEK_WINDOW):
        w0 = now - length
        business = active = 0
        for a, b in bus:
            a, b = max(a, w0), min(b, now)
            if a < b:
                business += b - a
                active += active_measure(times, states, a, b)
        out.append((active, business - active))
    if business_only:
        (uh, dh), (ud, dd), (uw, dw) = out
        return [(uh + dh) / 6e7, (ud + dd) / 3.6e9, (uw + dw) / 3.6e9]
    (uh, dh), (ud, dd), (uw, dw) = out
    return [uh / 6e7, ud / 3.6e9, uw / 3.6e9, dh / 6e7, dd / 3.6e9, dw / 3.6e9]


def quote_id(sid):
    if "," in sid or '"' in sid:
        return '"' + sid.replace('"', '""') + '"'
    return sid


def report(stores, now_arg=None, business_only=False):
    """Returns (report text, warning or None). With business_only, each row holds the
    business time of the three windows instead (minutes, hours, hours)."""
    if now_arg is not None:
        for st in stores.values():
            st.polls = [p for p in st.polls if p[0] <= now_arg]
    with_polls = {sid: st for sid, st in stores.items() if st.polls}
    lines = [HEADER]
    if not with_polls:
        return "\n".join(lines) + "\n", "no valid status row: header only"
    now = now_arg if now_arg is not None else max(t for st in with_polls.values()
                                                  for t, _ in st.polls)
    cache = {}
    for sid in sorted(with_polls, key=lambda s: s.encode("utf-8")):
        st = with_polls[sid]
        name = st.zone or DEFAULT_ZONE
        zone = cache.get(name) or cache.setdefault(name, ZoneInfo(name))
        vals = store_row(st, zone, now, business_only)
        lines.append(quote_id(sid) + "," + ",".join("%.2f" % v for v in vals))
    return "\n".join(lines) + "\n", None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="directory with the three default file names")
    ap.add_argument("--status", help="store_status.csv path (default DIR/store_status.csv)")
    ap.add_argument("--hours", help="menu_hours.csv path (default DIR/menu_hours.csv)")
    ap.add_argument("--timezones", help="timezones.csv path (default DIR/timezones.csv)")
    ap.add_argument("--now", help="report as of this SPEC timestamp")
    ap.add_argument("--business", action="store_true",
                    help="print store_id and the business time of each window instead")
    ap.add_argument("--rejects", action="store_true",
                    help="print every rejected row as file:line: reason on stderr")
    args = ap.parse_args(argv)

    def path(explicit, name):
        if explicit:
            return explicit
        if args.dir is None:
            ap.error(f"--dir or --{name.split('_')[-1].split('.')[0]} is required")
        return os.path.join(args.dir, name)

    status_path = path(args.status, "store_status.csv")
    hours_path = path(args.hours, "menu_hours.csv")
    tz_path = args.timezones or (os.path.join(args.dir, "timezones.csv") if args.dir else None)
    if tz_path is None:
        ap.error("--dir or --timezones is required")
    now = None
    if args.now is not None:
        try:
            now = parse_timestamp(args.now.strip(WS_STR))
        except ValueError as e:
            ap.error(f"--now {args.now!r}: {e}")
    rejects = []
    try:
        stores = load(status_path, hours_path, tz_path, rejects)
    except FatalInput as e:
        print(f"uptime_oracle: {e}", file=sys.stderr)
        return 2
    text, warning = report(stores, now, args.business)
    if args.rejects:
        for p, line, reason in rejects:
            print(f"{p}:{line}: {reason}", file=sys.stderr)
    print(f"uptime_oracle: {len(rejects)} rejected rows", file=sys.stderr)
    if warning:
        print(f"uptime_oracle: warning: {warning}", file=sys.stderr)
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
