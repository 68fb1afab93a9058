/* runner: runs a scenario through its meters and checks its assertions.
 *
 *   scenario --> profiles sampled every simulated second --> waveform --> meters
 *            \-> timeline events (grid, load, tariff input, settings, resets,
 *                requests, assertions) applied at their tick, in file order
 *   buses    --> each a Modbus and an M-Bus line (bus.h) shared by its meters,
 *                reached by the scenario as master and by the endpoints
 *   loop     --> one event loop (loop.h) sleeps until the next fd event or
 *                deadline: the simulation itself is one of its endpoints
 *
 * The meters never run ahead of the wall clock by more than a tick in a paced
 * run; with nothing due the host sleeps, waking about once a second per
 * meter-second of samples to move them on (docs/decisions.md).
 *
 * Everything the run shows goes to one log (JSON lines): periodic readings,
 * every event and every assertion with its outcome, so two runs of the same
 * scenario can be compared byte for byte, whatever the pace.
 */
#ifndef METERSIM_RUNNER_H
#define METERSIM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "endpoint_spec.h"
#include "scenario.h"
#include "trace.h"

typedef struct runner runner_t;
struct loop;
struct record;
struct replay;

/* A frontend, called between steps of a paced run (about 30 times a second of
 * wall time): it draws and turns a person's input into changes of the run. */
typedef struct {
    void *ctx;
    bool (*frame)(void *ctx, runner_t *r); /* false: stop the run */
} runner_ui_t;

/* A service of the run besides the ports (the HTTP service, sim/http/):
 * attached to the run's event loop before the run starts (false: the run
 * does not start, status 2), stepped whenever the simulation has moved (at
 * every stop and every round of the loop: it pushes what changed to its
 * clients; a run at full speed, which never sleeps in the loop, serves its
 * sockets there too), detached before the run ends. */
typedef struct {
    void *ctx;
    bool (*attach)(void *ctx, runner_t *r, struct loop *l);
    void (*step)(void *ctx, runner_t *r);
    void (*detach)(void *ctx, runner_t *r);
} runner_service_t;

/* An endpoint named on the command line: --modbus [BUS=]SPEC, --mbus [BUS=]SPEC. */
typedef struct {
    char bus[32]; /* a bus's name; "": the first bus */
    bool modbus;  /* else M-Bus */
    endpoint_spec_t spec;
    const char *text; /* as given, for messages */
} runner_endpoint_t;

/* How the meters are fed (docs/cli.md, --fidelity; issue 14). */
typedef enum {
    RUNNER_FIDELITY_SAMPLE = 0, /* every tick a sample (wave_fill, meter_exec) */
    RUNNER_FIDELITY_AUTO,       /* steady cycles in closed form (meter_exec_steady) */
} runner_fidelity_t;

typedef struct {
    uint64_t until;    /* ticks; 0: the scenario's duration, else its last event, else forever */
    double speed;      /* times real time; 0: as fast as possible */
    uint64_t every;    /* ticks between periodic readings in the log; 0: none */
    FILE *log;         /* the JSON-lines log (standard output) */
    bool progress;     /* a progress line on standard error, when it is a terminal */
    const char *junit; /* write JUnit XML here; NULL: none */
    const runner_ui_t *ui;              /* NULL: none */
    const char *state;                  /* the meters' memory on disk (docs/state.md); NULL: none.
                                           With several meters, meter NAME uses "STATE.NAME". */
    uint64_t save_interval;             /* ticks between saves of `state` */
    const runner_endpoint_t *endpoints; /* from the command line, besides the scenario's */
    int n_endpoints;
    bool copper;                 /* a pty behaves as copper: baud-rate mismatches fail */
    bool fast;                   /* wire-time emulation off (docs/cli.md) */
    uint64_t tcp_idle_ns;        /* a TCP client without a request for this long is closed */
    uint64_t gateway_timeout_ns; /* Modbus TCP gateways: the response timeout (0: default) */
    bool stats;                  /* a line about the run itself on standard error at the end */
    struct record *rec;          /* --record FILE: every input, every reply (NULL: none) */
    struct replay *replay;       /* --replay FILE: the endpoints and the clock are the
                                    recording's (sim/record/replay.h); NULL: none */
    trace_opts_t trace;          /* --trace-vcd/-pcap/-jsonl (docs/trace.md) */
    runner_fidelity_t fidelity;
    const runner_service_t *service; /* --http (sim/http/); NULL: none */
} runner_opts_t;

/* Runs until the end. Returns the exit status: 0 every assertion held, 1 one
 * failed (each failure is told on standard error: when, what was expected,
 * what was found), 2 a state file was refused or an endpoint could not be
 * opened (nothing ran), 3 an I/O error (or a trace file that cannot be
 * written: nothing ran).
 * `stop` may be set by a signal handler. */
int runner_run(const scenario_t *sc, const runner_opts_t *o, volatile int *stop);

/* What a frontend may look at and change while the run goes on. */
meter_t *runner_meter(runner_t *r, int k);
const scenario_t *runner_scenario(const runner_t *r);
bool runner_supply(const runner_t *r, int k);
void runner_button(runner_t *r, int k, menu_button_t b, bool pressed);
void runner_set_tariff_input(runner_t *r, int k, bool on);
/* --replay: meter k's samples up to at_ns (no further if it is there). */
void runner_align_meter(runner_t *r, int k, uint64_t at_ns);
void runner_set_supply(runner_t *r, int k, bool on);
double runner_current(const runner_t *r, int k, int phase); /* A, as set now */
void runner_set_current(runner_t *r, int k, int phase, double amps);
bool runner_export(const runner_t *r, int k, int phase);
void runner_set_export(runner_t *r, int k, int phase, bool export_);

/* ---- live controls (controls.c): the HTTP service's changes ----------------
 * Each is a timeline event: applied at meter k's own time, brought up to the
 * loop's wake first (what a master would see), written to the log as an
 * "event" line and into --record as an action, so --replay repeats it. */
int runner_meters(const runner_t *r);
bool runner_paced(const runner_t *r);
/* Meter k (and its bus) up to now: reads see what a Modbus read would. */
void runner_sync(runner_t *r, int k);
double runner_voltage(const runner_t *r, int k, int phase); /* V, as set now */
void runner_set_voltage(runner_t *r, int k, int phase, double volts);
double runner_pf(const runner_t *r, int k, int phase); /* signed: < 0 capacitive */
void runner_set_pf(runner_t *r, int k, int phase, double pf);
double runner_frequency(const runner_t *r, int k);
void runner_set_frequency(runner_t *r, int k, double hz);
bool runner_phase_supply(const runner_t *r, int k, int phase);
void runner_set_phase_supply(runner_t *r, int k, int phase, bool on);
/* A setting as the menu changes it (meter_set); logged as a "set" event. */
settings_err_t runner_set_setting(runner_t *r, int k, setting_id_t id, int32_t value);
/* A fault of docs/scenario.md (a restart through the memory image). */
void runner_fault(runner_t *r, int k, meter_fault_t fault);
/* The configurator app connects or disconnects (meter_bt_connect). */
bool runner_bt_connect(runner_t *r, int k, bool on);
/* Meter k's memory into its state file now; false without --state. */
bool runner_save(runner_t *r, int k);

/* "1d 02:03:04.125" for a tick count. */
void runner_format_time(uint64_t tick, char *buf, size_t cap);

#endif
