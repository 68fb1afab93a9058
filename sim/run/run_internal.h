/* run_internal: what the parts of a run share (not for other modules).
 *
 *   runner.c      the simulation: meters, waveforms, the scenario's timeline,
 *                 the buses and their masters, the run from start to end
 *   step.c        moving the fleet: the common stops, a bus up to its
 *                 traffic, a paced run's catch-up with the wall clock
 *   controls.c    the live controls (the HTTP service's changes)
 *   report.c      the log (JSON lines) and every assertion's outcome
 *   junit.c       the JUnit XML report
 *   state/state.c the meters' memory on disk
 *   endpoints/    ports and TCP endpoints, served by the event loop
 */
#ifndef METERSIM_RUN_INTERNAL_H
#define METERSIM_RUN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus.h"
#include "endpoints.h"
#include "loop.h"
#include "runner.h"
#include "state.h"
#include "vtime.h"

typedef struct {
    char name[512];
    char failure[4096]; /* empty when it held */
} result_t;

/* The scenario's request on one line of a bus, waiting for its answer. */
typedef struct {
    const scenario_event_t *ev;
    uint32_t bps;
    line_parity_t parity;
    uint64_t sent_ns, request_end_ns, timeout_ns;
} xfer_t;

/* One bus of the scenario: its meters, its two lines, the scenario's
 * requests on them. */
typedef struct {
    const scenario_bus_t *sb;
    meter_t **members;
    int *index; /* members[i] is meters[index[i]] */
    int n;
    bool *lag; /* lazy stepping: the Modbus line's (bus.h) */
    bus_t line[METER_LINES];
    xfer_t xfer[METER_LINES];
} run_bus_t;

struct runner {
    const scenario_t *sc;
    const runner_opts_t *o;
    meter_t *meters;
    wave_t *waves;
    /* --fidelity auto: each meter's grid as phasors (metrology_steady.h),
     * the description they were made from, whether it fits. */
    metrology_phasors_t *phasors;
    wave_desc_t *described;
    bool *described_ok;
    scenario_load_t *loads;
    bool *supply; /* the supply as the scenario or the user set it */
    /* Live controls (controls.c, the HTTP service): a meter's own grid once
     * one of its grid's values was changed (until the scenario's next grid
     * event), and phases switched off one by one. */
    scenario_grid_t *grids;
    bool *own_grid;
    bool (*phase_off)[3];
    run_bus_t *buses;
    scenario_grid_t grid;
    metrology_sample_t buf[800];
    uint64_t tick;
    result_t *results;
    size_t n_results, cap_results;
    int failures;
    volatile int *stop;
    state_t state;
    endpoints_t ep;
    loop_t loop;
    loop_ep_t sim_ep;
    bool paced;
    size_t next_event;
    uint64_t end;        /* the tick the run ends at, unless forever */
    uint64_t max_lag_ns; /* paced: the latest the host woke after it planned to */
    bool forever;
    trace_t *trace; /* NULL: no trace */
    bool service_attached;
    /* Lazy stepping (step.c): a paced run whose meters only the lines look
     * at moves each meter when its bus has traffic, when an event acts on
     * it, and otherwise in turn, about once a LAZY_TICKS; the timeline
     * (r->tick) runs ahead of them. A meter's next waveform, set while it
     * lagged, waits for it at its tick (VTIME_NEVER: none). */
    bool lazy;
    wave_desc_t *pend;
    uint64_t *pend_at;
    int lazy_next;        /* the next meter in turn */
    uint64_t lazy_from;   /* the tick the turns were counted up to */
    uint64_t lazy_credit; /* meter-ticks of turns not yet taken */
};
typedef struct runner run_t;

/* 100 ms: the longest run of samples between two looks around. */
#define CHUNK_TICKS 800u

/* The run's time, in virtual nanoseconds. */
static inline uint64_t now_ns(const run_t *r)
{
    return r->tick * VTIME_NS_PER_TICK;
}

/* The first tick at or after `ns`. */
static inline uint64_t ceil_tick(uint64_t ns)
{
    return (ns + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK;
}

/* runner.c, for controls.c and step.c */
void run_set_wave(run_t *r, int k);
/* Meter k's waveform `d` from tick `at`, where the meter is. */
void run_wave_at(run_t *r, int k, const wave_desc_t *d, uint64_t at);
/* Every meter's waveform anew from the grid and its load (at a whole second,
 * after a grid or load event). */
void run_set_waves(run_t *r);
/* A timeline event, at the run's tick. */
void run_apply(run_t *r, const scenario_event_t *ev);
/* Requests whose answer time is over are judged (all: every one waiting). */
void run_check_xfers(run_t *r, bool all);
bool run_xfers_waiting(const run_t *r);
void run_record_action(run_t *r, int k, const char *action, int arg, double value);
void run_restart_meter(run_t *r, int k, meter_fault_t fault);
void run_sync_meter(run_t *r, int k);
/* The meters' memory into their state files as it changed (runner.c's mirror). */
void run_mirror(run_t *r);

/* step.c: moving the fleet */
/* The ports hear the replies; returns when the endpoints want a look next. */
uint64_t run_serve(run_t *r, uint64_t now);
/* Meter k's samples up to `target` (a tick), from wherever it is. */
void run_advance_meter(run_t *r, int k, uint64_t target);
/* Every meter up to the run's tick (lazy stepping: the laggards). */
void run_gather(run_t *r);
/* Every meter up to `target`, stopping at every common stop on the way. */
void run_advance_to(run_t *r, uint64_t target);
/* bus.h's hook: a master is about to send on the line. */
void run_bus_sync_hook(void *ctx, bus_t *line, uint64_t now_ns, const bool *lag);
/* The loop's after_sleep hook of a paced run: the meters up to its wake. */
void run_catch_up(loop_t *l, void *ctx);
/* The next instant a paced run has something to do, for the loop to sleep on. */
uint64_t run_sim_deadline(run_t *r, uint64_t io_next);

/* report.c */
void report_readings(run_t *r, int k);
void report_check(run_t *r, const scenario_event_t *ev, int k);
/* Judges the answer a scenario's request got; `got` is what the master's UART decoded. */
void report_xfer(run_t *r, const xfer_t *x, bool modbus, const line_byte_t *got, size_t n);
void report_result(run_t *r, const char *name, const char *failure);
/* --stats: one JSON line on standard error about the run itself. */
void report_stats(const run_t *r);

/* junit.c */
bool junit_write(const run_t *r, const char *path, double seconds);

#endif
