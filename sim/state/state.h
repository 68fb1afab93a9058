/* state: the meters of a run keep their memory on disk (--state, docs/state.md).
 *
 * One state file per meter: FILE for a lone meter, FILE.NAME for each meter
 * of a scenario with several. A meter asks for a save itself (meter_save_due:
 * a setting changed, a counter reset, its supply went, a save point of
 * --save-interval came); the host writes its image then, atomically
 * (statefile.h). A meter stopped on a memory error (7.1) is never saved: its
 * file is the evidence.
 */
#ifndef METERSIM_STATE_H
#define METERSIM_STATE_H

#include <stdbool.h>

#include "meter.h"
#include "scenario.h"

typedef struct state {
    const char *path; /* NULL: no state kept */
    bool failed;      /* a save failed (exit status 3) */
} state_t;

void state_init(state_t *s, const char *path);

/* Loads every meter's file; false when one is refused (nothing may run). */
bool state_load_all(state_t *s, const scenario_t *sc, meter_t *meters);

/* Saves meter k now (if state is kept and the meter runs). */
void state_save(state_t *s, const scenario_t *sc, meter_t *meters, int k);

/* Saves every meter that asks for it. */
void state_save_due(state_t *s, const scenario_t *sc, meter_t *meters);

#endif
