/*
 * parse - bounded parsers for the value types of the configuration and of
 * the protocols: integers with limits, PowerMTA time intervals ("1w2d12h"),
 * sizes ("20M"), booleans, rates ("600/h", "83/10m"), host:port.
 * Every function returns 0 on success, -1 on any malformed or out-of-range
 * input, and never writes *out on failure.
 */
#ifndef COURSER_PARSE_H
#define COURSER_PARSE_H

#include <stdint.h>
#include <stddef.h>

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Time interval in seconds: "90" (s), "30s", "10m", "4h", "2d", "1w", and
 * sums of them such as "4d12h". */
int parse_interval(const char *s, uint64_t *seconds);
/* Size in bytes: "512", "10k", "20M", "1g", "2t" (binary multiples). */
int parse_size(const char *s, uint64_t *bytes);
/* yes/no/true/false/on/off/1/0, case-insensitive. */
int parse_bool(const char *s, int *out);
/* Rate "N/[M]{s|m|h|d}": count per period seconds; "unlimited" gives 0/0. */
int parse_rate(const char *s, uint64_t *count, uint64_t *period);
/* "1.2.3.4:25", "[::1]:25", "[1.2.3.4]:25", "host:25".  host gets the bare
 * address or name (no brackets). */
int parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
