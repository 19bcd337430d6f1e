/*
 * IANA time zones read from the system tz database (TZif files and tzdata.zi),
 * with the PEP 495 fold=0 rule for local-to-UTC conversion. No libc TZ involved.
 */
#ifndef UP_TZ_H
#define UP_TZ_H

#include <stddef.h>
#include <stdint.h>

/* The tz database: the set of known Zone and Link names plus a cache of loaded zones. */
struct up_tzdb;
/* One zone's UTC offsets over the range given to up_tzdb_open (read-only once made). */
struct up_tz;

/*
 * Opens the tz database in dir (NULL: $TZDIR, else /usr/share/zoneinfo).
 * Known names are the Zone and Link names of dir/tzdata.zi (so "US/Central" and
 * "UTC" are known; "posix/...", "right/...", "localtime", "posixrules" are not).
 * Zones are prepared to answer exactly for instants in [lo_us, hi_us] (µs since the
 * epoch, UTC); outside that range answers follow the TZif data and footer rule too.
 * Returns NULL on failure with a message in err[errlen]. Free with up_tzdb_free.
 */
struct up_tzdb *up_tzdb_open(const char *dir, int64_t lo_us, int64_t hi_us, char *err,
                             size_t errlen);

/* Frees db and every zone it handed out. Accepts NULL. */
void up_tzdb_free(struct up_tzdb *db);

/* Returns 1 if name (NUL-terminated, case-sensitive) is a Zone or Link name, else 0. */
int up_tzdb_known(const struct up_tzdb *db, const char *name);

/*
 * Returns the zone named name, loading it on first use (one cache entry per name;
 * links load their target's data). The zone belongs to db. Returns NULL if the name
 * is unknown or its TZif file is unreadable or corrupt, with a message in err.
 */
const struct up_tz *up_tzdb_zone(struct up_tzdb *db, const char *name, char *err, size_t errlen);

/* UTC offset (µs, east positive) in force at instant utc_us. */
int64_t up_tz_offset_at(const struct up_tz *tz, int64_t utc_us);

/* Local wall-clock time (µs, as if the wall clock were UTC) of instant utc_us. */
int64_t up_tz_utc_to_local(const struct up_tz *tz, int64_t utc_us);

/*
 * Instant (µs since the epoch, UTC) of local wall-clock time local_us with the PEP 495
 * fold=0 rule: an ambiguous wall time gives its earlier instant; a wall time inside a
 * gap is read with the offset in force before the gap.
 */
int64_t up_tz_local_to_utc(const struct up_tz *tz, int64_t local_us);

#endif
