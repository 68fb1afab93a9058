/* run_internal: what the parts of a run share (not for other modules).
 *
 *   runner.c      the simulation: meters, waveforms, the scenario's timeline,
 *                 pacing, the buses and their masters
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
};
typedef struct runner run_t;

/* runner.c, for controls.c */
void run_set_wave(run_t *r, int k);
void run_record_action(run_t *r, int k, const char *action, int arg, double value);
void run_restart_meter(run_t *r, int k, meter_fault_t fault);
void run_sync_meter(run_t *r, int k);
/* The meters' memory into their state files as it changed (runner.c's mirror). */
void run_mirror(run_t *r);

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
