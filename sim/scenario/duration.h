/* duration: a span of simulated time as people write it, in ticks.
 *
 *   "250ms"  "90s"  "15m"  "24h"  "7d"  "1h30m"  "2.5"  (a bare number is seconds)
 *
 * Used by the scenario format and the command line alike.
 */
#ifndef METERSIM_DURATION_H
#define METERSIM_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* The longest span anything accepts: 100 years (2^64 ns is 584). */
#define DURATION_MAX_TICKS (100ull * 365 * 86400 * 8000)

/* Parses `text` into ticks of 125 us; false when it is not a duration or
 * exceeds DURATION_MAX_TICKS. */
bool duration_parse(const char *text, uint64_t *ticks);

#endif
