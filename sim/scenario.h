/* scenario: a JSON file that describes a meter, its grid, its load and a
 * timeline of changes (docs/scenario.md).
 *
 *   {
 *     "name": "office", "seed": 7,
 *     "meter": { "model": "4PU", "serial": "13070001", "connection": "3P4W" },
 *     "grid":  { "voltage": 230, "frequency": 50, "harmonics": [...], "noise": 0.1 },
 *     "load":  { "current": 10, "pf": 0.95, "reactive": "inductive", "direction": "import" },
 *     "timeline": [ { "at": "8h", "load": { "L1": { "current": 25 } }, "tariff_input": true } ]
 *   }
 *
 * Every field is checked: a bad one is refused with the file, the JSON path
 * of the field, the value and what is allowed, and nothing runs.
 */
#ifndef METERSIM_SCENARIO_H
#define METERSIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter.h"
#include "waveform.h"

#define SCENARIO_MAX_EVENTS 4096
#define SCENARIO_MAX_BYTES (16u << 20) /* a scenario file is text, not data */

typedef struct {
    uint64_t at_tick;
    bool set_wave;
    wave_desc_t wave;
    int tariff_input; /* -1: unchanged, 0 off, 1 on */
} scenario_event_t;

typedef struct scenario {
    char name[64];
    char serial[17];
    meter_model_t model;
    connection_t connection;
    wave_desc_t wave;
    scenario_event_t *events;
    size_t n_events;
} scenario_t;

/* Loads and checks `path`. On error returns false with a message naming the
 * file and the place in `err`. */
bool scenario_load(const char *path, scenario_t *sc, char *err, size_t errlen);

/* The built-in default: a realistic three-phase office load. */
bool scenario_default(scenario_t *sc, char *err, size_t errlen);

void scenario_free(scenario_t *sc);

/* Parses a duration such as "250ms", "15m", "24h", "7d", "10s", or a number of
 * seconds, into ticks; false when it is not one or exceeds 100 years. */
bool scenario_parse_duration(const char *text, uint64_t *ticks);

#endif
