/* profile: a quantity of a scenario that changes over time.
 *
 * A scenario may give a voltage, a frequency, a current or a power factor as a
 * plain number or as one of these (docs/scenario.md):
 *
 *   constant   10
 *   steps      {"steps": [["0s", 5], ["1h", 10], ["2h30m", 0]]}  value holds until the next
 *   ramp       {"ramp": {"from": 0, "to": 10, "over": "1h"}}      linear, then holds
 *   daily      {"daily": [["00:00", 2], ["08:00", 12], ["18:00", 3]]}  linear, wraps at 24 h
 *   csv        {"csv": "load.csv", "column": "L1"}                 time series, linear
 *
 *   value
 *     |        ____
 *     |   ____/    \____         daily: points joined by straight lines,
 *     |__/              \__      the last one joined to the first of the next day
 *     +--------------------- time of day
 *
 * Steps, ramps and CSV series start when the event that sets them happens;
 * a daily profile follows the simulated time of day (the scenario starts at
 * 00:00). The host samples profiles on a fixed grid of simulated time, so the
 * waveform is the same at any pace.
 */
#ifndef METERSIM_PROFILE_H
#define METERSIM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PROFILE_CONST,
    PROFILE_STEPS,
    PROFILE_RAMP,
    PROFILE_DAILY,
    PROFILE_SERIES
} profile_kind_t;

typedef struct {
    profile_kind_t kind;
    double value;  /* PROFILE_CONST */
    double *t, *v; /* points: time in seconds, value (heap; shared by copies) */
    size_t n;
    uint64_t start_tick; /* when the profile was set (not for DAILY) */
} profile_t;

/* The value at `tick` (ticks since the scenario began). */
double profile_at(const profile_t *s, uint64_t tick);

/* The first tick after `tick` at which the value may differ from its value
 * at `tick` (UINT64_MAX: never): a flat stretch (a constant, a step held,
 * two points of equal value, the ends of a ramp or series) runs to its end;
 * a sloped one may change at the next tick. Never later than the change, so
 * a host that samples the profile only there sees every value it would see
 * sampling it at every second (sim/run/runner.c, quiet auto runs). */
uint64_t profile_next_change(const profile_t *s, uint64_t tick);

/* A profile that is a constant. */
profile_t profile_const(double v);

#endif
