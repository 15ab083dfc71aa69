/*
 * timefmt.h - RFC 3339 timestamps <-> seconds since the Unix epoch (UTC).
 *
 * Pure functions with no I/O and no dependence on the process time zone.
 */
#ifndef NS_TIMEFMT_H
#define NS_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its terminator. */
#define TIMEFMT_LEN 21

/*
 * Parses an RFC 3339 date-time ("2023-02-22T14:05:00Z", "...+01:00",
 * fractional seconds allowed and dropped). Returns false and leaves *out
 * untouched when s is not one, or when the instant (in UTC, after the
 * offset) is outside the years 1..9999.
 */
bool timefmt_parse(const char *s, int64_t *out);

/*
 * Parses a calendar date "YYYY-MM-DD" to the first second of that UTC day.
 * Returns false and leaves *out untouched when s is not one.
 */
bool timefmt_parse_date(const char *s, int64_t *out);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into out (TIMEFMT_LEN bytes). */
void timefmt_format(int64_t t, char out[TIMEFMT_LEN]);

#endif
