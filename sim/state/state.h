/* state: the meters of a run keep their memory on disk (--state, docs/state.md).
 *
 * One state file per meter: FILE for a lone meter, FILE.NAME for each meter
 * of a scenario with several. Each file is locked for the whole run and
 * mapped into memory (statefile.h): whenever a meter's memory image changed
 * (meter_memory_generation) the host copies it into the file's older slot
 * before anything the meter did can be seen outside (a reply on a port, a
 * log line), so a killed host loses nothing. The file is made durable
 * (msync) when the meter asks for a save (meter_save_due: a setting, a
 * counter reset, a power-down, a save point of --save-interval) and on
 * exit: what a crash of the whole machine can lose.
 *
 * A save that fails (the disk refuses it, the file is gone or replaced) is
 * retried every STATE_RETRY_S for STATE_GRACE_S of wall time; then the run
 * stops with status 3 and says what was not saved. A meter stopped on a
 * memory error (7.1) is never written: its file is the evidence.
 */
#ifndef METERSIM_STATE_H
#define METERSIM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "meter.h"
#include "scenario.h"
#include "statefile.h"

#define STATE_GRACE_S 5.0 /* how long a failing save is retried (docs/state.md) */
#define STATE_RETRY_S 0.5 /* how often */

typedef struct state_meter {
    statefile_t file;
    bool mapped;          /* written from this run on */
    uint32_t gen;         /* meter_memory_generation() last copied */
    bool failing;         /* the last save failed: retrying */
    double failing_since; /* wall seconds (CLOCK_MONOTONIC) */
    double last_try;
    int tries;           /* saves tried since it began to fail */
    char why[2048];      /* why it failed */
    uint64_t durable_ns; /* meter time of the last save that reached the disk */
    double durable_kwh;  /* its total active energy then */
} state_meter_t;

typedef struct state {
    const char *path; /* NULL: no state kept */
    bool failed;      /* a save failed for good (exit status 3) */
    int n;
    state_meter_t *m;
} state_t;

void state_init(state_t *s, const char *path);

/* Opens, locks and loads every meter's file; 0, or the exit status when one
 * is refused (2: nothing may run, every file left as it was). */
int state_load_all(state_t *s, const scenario_t *sc, meter_t *meters);

/* Maps every file for writing (creating a new one, rewriting an older
 * version); false with a message when one cannot be (exit status 3). */
bool state_start(state_t *s, const scenario_t *sc, meter_t *meters);

/* After each step of the host: copies every changed image into its file
 * (when `copy`: what the meters did is about to be seen), makes it durable
 * when the meter asks (copied first), retries a failed save. False when a
 * save failed for longer than STATE_GRACE_S: the run must stop (status 3). */
bool state_step(state_t *s, const scenario_t *sc, meter_t *meters, bool copy);

/* Meter k's image now, copied and made durable (a power-down, the exit). */
void state_save(state_t *s, const scenario_t *sc, meter_t *meters, int k);

/* The end of the run: every image copied and made durable, a file that is
 * gone put back; what cannot be saved is said (s->failed: status 3). */
void state_finish(state_t *s, const scenario_t *sc, meter_t *meters);

/* Unmaps, unlocks and closes every file. */
void state_close(state_t *s);

#endif
