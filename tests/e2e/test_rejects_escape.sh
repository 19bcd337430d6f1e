#!/usr/bin/env bash
# The rejects file holds no raw control byte (issue 13, defect 5): values with ESC, CR, TAB,
# NUL, DEL, C1 controls (U+0080-009F) and bytes that are not UTF-8 are written as \xNN,
# whole (past a NUL), one rejected row per line -- rows rejected by the row checks and by
# the CSV reader alike (README "The rejects file").
. "$(dirname "$0")/lib.sh"

{
  printf 'store_id,status,timestamp_utc\n'
  printf 's\0331,active,2023-01-25 10:00:00 UTC\n'                  # 2 ESC in the store_id
  printf 's2,\033[31mactive,2023-01-25 10:00:00 UTC\n'              # 3 an ANSI colour in status
  printf 's3,"in\ractive",2023-01-25 10:00:00 UTC\n'                # 4 CR (quoted)
  printf 's4,act\tive,2023-01-25 10:00:00 UTC\n'                    # 5 TAB
  printf 's5,active,2023-01-25 10:00:00 UTC\0;rm -rf /\n'           # 6 NUL, then more
  printf 's6,\302\233' && printf '2Jactive,2023-01-25 10:00:00 UTC\n' # 7 C1 CSI (U+009B)
  printf 's7,\177active,2023-01-25 10:00:00 UTC\n'                  # 8 DEL
  printf 's8,back\\slash,2023-01-25 10:00:00 UTC\n'                 # 9 a backslash
  printf 's9\033,\233\377,t\n'                                      # 10 raw C1 byte, not UTF-8
  printf 'ok,active,2023-01-25 11:00:00 UTC\n'                      # 11 valid
} >store_status.csv
printf 'store_id,timezone_str\nok,America/Chicago\0\033]0;pwned\a\n' >timezones.csv

"$LOAD" --db r.db --status store_status.csv --timezones timezones.csv --rejects rejects.csv >load.txt
grep -q "store_status .*: 10 rows, 1 loaded, 9 rejected" load.txt || fail "counts: $(cat load.txt)"
pass "9 status rows and 1 time zone row rejected, the valid row loaded"

# Not one raw control byte, C0, DEL or C1 (UTF-8 C2 80..9F, or a lone 80..9F), but the line
# breaks: one line per rejected row.
if LC_ALL=C grep -aqP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|[\x80-\xff]' rejects.csv; then
  od -c rejects.csv | head -40 >&2
  fail "a raw control or non-ASCII byte reached the rejects file"
fi
[ "$(wc -l <rejects.csv)" -eq 11 ] || fail "expected the header and 10 lines: $(wc -l <rejects.csv)"
pass "no raw control byte in the rejects file; one line per rejected row"

# Each value, escaped and whole.
want() {
  grep -qaF -- "$1" rejects.csv || { cat rejects.csv >&2; fail "rejects file lacks: $1"; }
}
want 'store_status.csv,2,invalid store_id,control character in store_id,s\x1b1'
want 'store_status.csv,3,invalid status,status is not active or inactive,\x1b[31mactive'
want 'store_status.csv,4,invalid status,status is not active or inactive,in\x0dactive'
want 'store_status.csv,5,invalid status,status is not active or inactive,act\x09ive'
want "store_status.csv,6,invalid timestamp_utc,must end in ' UTC',2023-01-25 10:00:00 UTC\\x00;rm -rf /"
want 'store_status.csv,7,invalid status,status is not active or inactive,\xc2\x9b2Jactive'
want 'store_status.csv,8,invalid status,status is not active or inactive,\x7factive'
want 'store_status.csv,9,invalid status,status is not active or inactive,back\x5cslash'
want 'store_status.csv,10,invalid UTF-8,field 2: byte 0x9b at offset 0,"s9\x1b,\x9b\xff,t"'
want 'timezones.csv,2,unknown timezone,not a Zone or Link name of the tz database,America/Chicago\x00\x1b]0;pwned\x07'
pass "every value escaped as \\xNN and kept whole past its NUL, backslash included"
echo "$checks passed, 0 failed"
