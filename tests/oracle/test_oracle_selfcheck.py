#!/usr/bin/env python3
"""Checks the reference oracle against hand-computed reports (SPEC section 4 and more).

Run: python3 tests/oracle/test_oracle_selfcheck.py   (unittest; exit 0 on success)
Every expected value below is worked out by hand in the comment above it.
"""

import datetime as dt
import os
import subprocess
import sys
import tempfile
import unittest
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(HERE, "uptime_oracle.py")
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, HERE)
import uptime_oracle  # noqa: E402

HEADER = ("store_id,uptime_last_hour,uptime_last_day,uptime_last_week,"
          "downtime_last_hour,downtime_last_day,downtime_last_week")
EVERY_DAY = range(7)


def hours_rows(store, days, start, end):
    return [f"{store},{d},{start},{end}" for d in days]


class OracleCase(unittest.TestCase):
    def run_oracle(self, status, hours, tz, now=None, hours_header="dayOfWeek",
                   extra_args=()):
        """Writes the three files, runs the oracle CLI, returns (report lines, stderr)."""
        with tempfile.TemporaryDirectory() as d:
            files = {
                "store_status.csv": ["store_id,status,timestamp_utc"] + status,
                "menu_hours.csv": [f"store_id,{hours_header},start_time_local,end_time_local"]
                + hours,
                "timezones.csv": ["store_id,timezone_str"] + tz,
            }
            for name, lines in files.items():
                with open(os.path.join(d, name), "w", encoding="utf-8", newline="") as f:
                    f.write("\n".join(lines) + "\n")
            cmd = [sys.executable, ORACLE, "--dir", d, *extra_args]
            if now:
                cmd += ["--now", now]
            p = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, f"oracle failed: {p.stderr}")
        lines = p.stdout.split("\n")
        self.assertEqual(lines[-1], "", "report must end with a newline")
        self.assertEqual(lines[0], HEADER, "header must be exactly SPEC's")
        return lines[1:-1], p.stderr


class WorkedExample(OracleCase):
    def test_spec_section_4(self):
        # SPEC 4, verbatim: now 2023-01-25 18:13:22 UTC, hours 09:00-17:00 every day,
        # inactive at 17:05 UTC, active at 17:50 UTC.
        rows, _ = self.run_oracle(
            ["S,inactive,2023-01-25 17:05:00 UTC", "S,active,2023-01-25 17:50:00 UTC"],
            hours_rows("S", EVERY_DAY, "09:00", "17:00"),
            ["S,America/Chicago"], now="2023-01-25 18:13:22 UTC")
        self.assertEqual(rows, ["S,23.37,0.39,0.39,36.63,7.61,55.61"])


class DstCases(OracleCase):
    def test_gap_is_read_with_the_offset_before_it(self):
        chicago = ZoneInfo("America/Chicago")
        # 02:30 on 2023-03-12 does not exist; fold=0 reads it at UTC-6 -> 08:30 UTC.
        self.assertEqual(uptime_oracle.wall_to_utc(dt.date(2023, 3, 12), 9000 * 10**6, chicago),
                         uptime_oracle.parse_timestamp("2023-03-12 08:30:00 UTC"))
        # 01:30 on 2023-11-05 happens twice; fold=0 is the earlier one, CDT (UTC-5) -> 06:30.
        self.assertEqual(uptime_oracle.wall_to_utc(dt.date(2023, 11, 5), 5400 * 10**6, chicago),
                         uptime_oracle.parse_timestamp("2023-11-05 06:30:00 UTC"))

    def test_spring_forward_week(self):
        # now = 2023-03-15 12:00 UTC (07:00 CDT, Wed). Week = [03-08 12:00, 03-15 12:00) UTC;
        # local dates 03-07 .. 03-15. America/Chicago, DST starts 2023-03-12 02:00 CST.
        #
        # Store S: 01:00-04:00 every day.
        #   03-07, 03-08 (CST) -> 07:00-10:00 UTC, before the window: 0.
        #   03-09, 03-10, 03-11 (CST) -> 07:00-10:00 UTC: 3 x 3 h = 9 h.
        #   03-12: 01:00 CST = 07:00 UTC to 04:00 CDT = 09:00 UTC: 2 h (the lost hour).
        #   03-13, 03-14, 03-15 (CDT) -> 06:00-09:00 UTC: 9 h.        week business 20 h.
        #   Polls: active 03-01, inactive 03-12 08:00 UTC, active 03-13 00:00 UTC
        #   -> inactive only 08:00-09:00 UTC on 03-12: week up 19 h, down 1 h.
        #   Day [03-14 12:00, 03-15 12:00): 03-15 06:00-09:00 UTC = 3 h, active.
        #   Hour [11:00, 12:00) UTC = 06:00-07:00 CDT: closed, 0.
        #   -> S,0.00,3.00,19.00,0.00,0.00,1.00
        # Store S2: only Sunday 02:30-03:15. On 03-12: L(02:30) = 08:30 UTC (offset before
        #   the gap), L(03:15) = 03:15 CDT = 08:15 UTC: backwards, adds nothing. No other
        #   Sunday in 03-07..03-15. Hours exist, so not 24x7: all zero.
        #   -> S2,0.00,0.00,0.00,0.00,0.00,0.00
        # Store S3: only Sunday 02:30-04:00 -> 08:30-09:00 UTC on 03-12 = 0.5 h, active.
        #   (Reading 02:30 with CDT would give 07:30 and 1.5 h.)
        #   -> S3,0.00,0.00,0.50,0.00,0.00,0.00
        status = ["S,active,2023-03-01 00:00:00 UTC", "S,inactive,2023-03-12 08:00:00 UTC",
                  "S,active,2023-03-13 00:00:00 UTC",
                  "S2,active,2023-03-01 00:00:00 UTC", "S3,active,2023-03-01 00:00:00 UTC"]
        hours = (hours_rows("S", EVERY_DAY, "01:00:00", "04:00:00")
                 + ["S2,6,02:30:00,03:15:00", "S3,6,02:30,04:00"])
        tz = ["S,America/Chicago", "S2,America/Chicago", "S3,US/Central"]
        rows, _ = self.run_oracle(status, hours, tz, now="2023-03-15 12:00:00 UTC")
        self.assertEqual(rows, ["S,0.00,3.00,19.00,0.00,0.00,1.00",
                                "S2,0.00,0.00,0.00,0.00,0.00,0.00",
                                "S3,0.00,0.00,0.50,0.00,0.00,0.00"])

    def test_fall_back_week(self):
        # now = 2023-11-06 12:00 UTC (Mon 06:00 CST). Week = [10-30 12:00, 11-06 12:00) UTC;
        # local dates 10-29 .. 11-06; Sundays 10-29 and 11-05. DST ends 11-05 02:00 CDT.
        # Store F: Sunday 00:30-02:30.
        #   10-29: 05:30-07:30 UTC on 10-29, before the window: 0.
        #   11-05: 00:30 CDT = 05:30 UTC to 02:30 CST = 08:30 UTC: 3 h (the repeated hour).
        #   Polls: active 11-01, inactive 11-05 07:00 UTC, active 11-06 11:30 UTC.
        #   Week: up 05:30-07:00 = 1.5 h, down 07:00-08:30 = 1.5 h.
        #   Day [11-05 12:00, 11-06 12:00): no Monday hours: 0. Hour: 0.
        #   -> F,0.00,0.00,1.50,0.00,0.00,1.50
        # Store F2: Sunday 01:30-01:45, ambiguous; fold=0 = CDT -> 06:30-06:45 UTC.
        #   Polls: active 11-01, inactive 11-05 06:40 UTC.
        #   Up 06:30-06:40 = 10 min = 0.1667 h -> 0.17; down 06:40-06:45 = 0.0833 h -> 0.08.
        #   (fold=1 would put the interval at 07:30-07:45: all down.)
        #   -> F2,0.00,0.00,0.17,0.00,0.00,0.08
        status = ["F,active,2023-11-01 00:00:00 UTC", "F,inactive,2023-11-05 07:00:00 UTC",
                  "F,active,2023-11-06 11:30:00 UTC",
                  "F2,active,2023-11-01 00:00:00 UTC", "F2,inactive,2023-11-05T06:40:00Z"]
        hours = ["F,6,00:30:00,02:30:00", "F2,6,01:30:00,01:45:00"]
        tz = ["F,America/Chicago", "F2,America/Chicago"]
        rows, _ = self.run_oracle(status, hours, tz, now="2023-11-06 12:00:00 UTC")
        self.assertEqual(rows, ["F,0.00,0.00,1.50,0.00,0.00,1.50",
                                "F2,0.00,0.00,0.17,0.00,0.00,0.08"])


class OtherCases(OracleCase):
    def test_overnight_row_from_the_day_before_the_week(self):
        # America/New_York (UTC-5 in January). Store O: Wednesday 22:00-02:00 (end < start).
        # Polls: active 01-18 00:00, inactive 01-26 04:30, inactive 01-26 05:00 UTC
        # -> now = 2023-01-26 05:00 UTC (Thu 00:00 EST), no --now.
        # Week = [01-19 05:00, 01-26 05:00) UTC; local dates 01-18 (the day before) .. 01-26.
        #   Wed 01-18: [01-19 03:00, 07:00) UTC, clipped to [05:00, 07:00) = 2 h, active.
        #   Wed 01-25: [01-26 03:00, 07:00) UTC, clipped to [03:00, 05:00) = 2 h:
        #     active 03:00-04:30 = 1.5 h, inactive 04:30-05:00 = 0.5 h.
        #   Week: up 3.5 h, down 0.5 h. Day [01-25 05:00, 01-26 05:00): up 1.5, down 0.5.
        #   Hour [04:00, 05:00): up 30 min, down 30 min.
        #   -> O,30.00,1.50,3.50,30.00,0.50,0.50
        rows, _ = self.run_oracle(
            ["O,active,2023-01-18 00:00:00 UTC", "O,inactive,2023-01-26 04:30:00 UTC",
             "O,inactive,2023-01-26 05:00:00 UTC"],
            ["O,2,22:00:00,02:00:00"], ["O,America/New_York"], hours_header="day")
        self.assertEqual(rows, ["O,30.00,1.50,3.50,30.00,0.50,0.50"])

    def test_24x7_duplicates_rejects_and_ties(self):
        # now = 2023-01-25 00:00 UTC (A's last poll). Week = [01-18 00:00, 01-25 00:00).
        # A: no hours, no zone row -> 24x7. inactive 01-20, active 01-24 00:00.
        #   The first poll's status (inactive) extends back to 01-18: down 6 d = 144 h,
        #   up 24 h. Day: up 24 h. Hour: up 60 min.
        #   -> A,60.00,24.00,24.00,0.00,0.00,144.00
        # R: same polls; every hours row rejected (day 7, hour 9:00, 24:00) and an unknown
        #   zone -> 24x7 in America/Chicago: same numbers.
        # D: active and inactive at the same instant 01-24 12:00 (inactive wins), nothing
        #   else: inactive all week. -> D,0.00,0.00,0.00,60.00,24.00,168.00
        # T: inactive 01-18, active 01-24 23:52:30: up 7.5 min = 0.125 h exactly -> "0.12"
        #   (binary tie, round half even); down 52.5 min, 23.875 h -> "23.88",
        #   167.875 h -> "167.88".  -> T,7.50,0.12,0.12,52.50,23.88,167.88
        # "a,b": one active poll, 24x7: up all week; its id is quoted in the report.
        # X: only rejected status rows -> not reported. H: hours only -> not reported.
        status = ["A,inactive,2023-01-20 00:00:00 UTC", "A,active,2023-01-24 00:00:00 UTC",
                  "A,active,2023-01-25 00:00:00 UTC",
                  "R,inactive,2023-01-20 00:00:00.0 UTC", "R,ACTIVE,2023-01-24T00:00:00+00:00",
                  "D,active,2023-01-24 12:00:00 UTC", " D ,Inactive,2023-01-24T12:00:00Z",
                  "T,inactive,2023-01-18 00:00:00 UTC", "T,active,2023-01-24 23:52:30 UTC",
                  '"a,b",active,2023-01-24 00:00:00 UTC',
                  "X,up,2023-01-24 00:00:00 UTC", "X,active,2023-01-24 24:00:00 UTC",
                  "X,active,2023-01-24 00:00:00 utc", "X,active,2023-02-30 00:00:00 UTC"]
        hours = ["R,7,09:00:00,17:00:00", "R,1,9:00,17:00", "R,2,09:00:00,24:00:00",
                 "H,0,09:00,17:00"]
        tz = ["R,Mars/Olympus", "H,Europe/London"]
        rows, err = self.run_oracle(status, hours, tz, extra_args=["--rejects"])
        self.assertEqual(rows, ["A,60.00,24.00,24.00,0.00,0.00,144.00",
                                "D,0.00,0.00,0.00,60.00,24.00,168.00",
                                "R,60.00,24.00,24.00,0.00,0.00,144.00",
                                "T,7.50,0.12,0.12,52.50,23.88,167.88",
                                '"a,b",60.00,24.00,168.00,0.00,0.00,0.00'])
        self.assertIn("8 rejected rows", err, "4 X rows + 3 R hours rows + 1 zone row")

    def test_no_valid_status_row_gives_header_only(self):
        rows, err = self.run_oracle(["S,up,2023-01-24 00:00:00 UTC"], [], [])
        self.assertEqual(rows, [])
        self.assertIn("header only", err)


if __name__ == "__main__":
    unittest.main()
