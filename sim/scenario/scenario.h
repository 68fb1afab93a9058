/* scenario: a JSON file that describes meters, their grid and load, and a
 * timeline of what happens and what must be true (docs/scenario.md).
 *
 *   {
 *     "name": "office", "seed": 7, "duration": "24h",
 *     "meters": [ { "name": "main", "serial": "13070001", "connection": "3P4W",
 *                   "settings": { "combination_code": 3 },
 *                   "registers": { "active_forward.total": 999999.99 } } ],
 *     "grid":  { "voltage": 230, "frequency": 50 },
 *     "load":  { "current": {"daily": [["00:00", 2], ["09:00", 14]]}, "pf": 0.95 },
 *     "timeline": [
 *       { "at": "8h", "tariff_input": false, "set": { "tariff": 3 } },
 *       { "at": "24h", "assert": { "field": "active_forward.total", "equals": 110.4,
 *                                   "tolerance": 0.01 } } ]
 *   }
 *
 * Instead of "meters", "buses": [{"name", "modbus", "mbus", "meters"}, ...] puts
 * meters on several buses; an entry of "meters" with "count" is a template for
 * many ("name": "f1-{n:03}", serials and IDs counted up, "vary" for each
 * meter's own load from the seed): 1000 meters on 10 buses in a few lines.
 *
 * Every field is checked: a bad one is refused with the file, line and column,
 * the JSON path of the field, the value and what is allowed, and nothing runs.
 */
#ifndef METERSIM_SCENARIO_H
#define METERSIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint_spec.h"
#include "fields.h"
#include "meter.h"
#include "profile.h"
#include "waveform.h"

#define SCENARIO_MAX_EVENTS 20000
/* A bus holds Modbus IDs 1-247 and M-Bus addresses 0-250; a process may
 * serve many buses (docs/network.md). */
#define SCENARIO_MAX_METERS 10000
#define SCENARIO_MAX_BUSES 256
#define SCENARIO_MAX_ENDPOINTS 8       /* per bus and protocol */
#define SCENARIO_MAX_BYTES (16u << 20) /* a scenario or CSV file is text, not data */
#define SCENARIO_MAX_REGISTERS 32

typedef struct {
    profile_t voltage[3];
    profile_t frequency;
    double position_deg[3];
    wave_harmonic_t vh[WAVE_MAX_HARMONICS];
    int n_vh;
    double noise_v;
} scenario_grid_t;

typedef struct {
    profile_t current; /* A RMS */
    profile_t pf;      /* |cos phi| */
    bool capacitive, export_;
    bool use_angle;
    double angle_deg;
    wave_harmonic_t ih[WAVE_MAX_HARMONICS];
    int n_ih;
} scenario_phase_t;

typedef struct {
    scenario_phase_t phase[3];
    double noise_i;
} scenario_load_t;

typedef struct {
    int reg;      /* energy.h's register enumeration */
    double value; /* kWh or kvarh */
} scenario_register_t;

typedef struct {
    char name[32];
    meter_model_t model;
    char serial[17];
    connection_t connection;
    settings_t settings;
    scenario_register_t registers[SCENARIO_MAX_REGISTERS];
    int n_registers;
    uint32_t power_down_count;
    uint64_t turnaround_ns; /* Modbus reply delay; 0: 10 ms + a spread from the serial */
    int bus;                /* index into scenario_t.buses */
    double vary_current;    /* a template's "vary": the factor on every current; 1: none */
    double vary_pf;         /* ... the power factor drawn for it; -1: none */
} scenario_meter_t;

/* One bus: a Modbus RS-485 line and an M-Bus line that its meters share,
 * and the endpoints through which masters reach them (endpoint_spec.h). */
typedef struct {
    char name[32];
    endpoint_spec_t modbus[SCENARIO_MAX_ENDPOINTS];
    int n_modbus;
    endpoint_spec_t mbus[SCENARIO_MAX_ENDPOINTS];
    int n_mbus;
    uint64_t gateway_timeout_ns; /* Modbus TCP gateway: no reply by then -> 0x0B; 0: default */
} scenario_bus_t;

typedef enum {
    SCENARIO_EV_GRID,
    SCENARIO_EV_LOAD,
    SCENARIO_EV_TARIFF_INPUT,
    SCENARIO_EV_SET,
    SCENARIO_EV_RESET,
    SCENARIO_EV_BUTTON,
    SCENARIO_EV_SUPPLY,
    SCENARIO_EV_FAULT,
    SCENARIO_EV_MODBUS,
    SCENARIO_EV_MBUS,
    SCENARIO_EV_ASSERT,
} scenario_ev_kind_t;

#define SCENARIO_FRAME_MAX 300
#define SCENARIO_FLOATS_MAX 64

typedef enum {
    SCENARIO_EXPECT_ANY,       /* only logged */
    SCENARIO_EXPECT_BYTES,     /* exactly these bytes (Modbus: before the CRC, which is checked) */
    SCENARIO_EXPECT_EXCEPTION, /* Modbus exception code */
    SCENARIO_EXPECT_NONE,      /* no reply at all */
    SCENARIO_EXPECT_FLOATS,    /* Modbus: the reply's data as Float ABCD values */
    SCENARIO_EXPECT_RECORD,    /* M-Bus: one data record of the RSP_UD */
    SCENARIO_EXPECT_GARBLED,   /* replies collided: line errors or a bad checksum */
} scenario_expect_t;

/* A master's request on the Modbus or M-Bus line and what must come back. */
typedef struct {
    uint8_t request[SCENARIO_FRAME_MAX];
    size_t request_len;
    scenario_expect_t expect;
    uint8_t reply[SCENARIO_FRAME_MAX];
    size_t reply_len;
    int exception;
    double floats[SCENARIO_FLOATS_MAX];
    int n_floats;
    double tolerance;
    char record[48];
    uint64_t timeout_ns;
    uint32_t bps; /* the master's line; 0: the first meter's settings */
    int parity;   /* 1 even, 2 none, 3 odd; 0: the first meter's */
    int bus;      /* index into scenario_t.buses (the event's "bus"; default 0) */
} scenario_xfer_t;

typedef enum {
    SCENARIO_ASSERT_FIELD,       /* a named value within bounds */
    SCENARIO_ASSERT_LCD,         /* the LCD's one-line text, exactly */
    SCENARIO_ASSERT_LCD_CONTAINS /* ... or a part of it */
} scenario_assert_kind_t;

typedef struct {
    scenario_assert_kind_t kind;
    field_t field;
    char name[48]; /* as written, for messages */
    bool equals;   /* "equals" +- "tolerance"; else "min"/"max" */
    double expect, tolerance;
    double lo, hi; /* the accepted range, either way */
    char text[64]; /* the LCD assertions' text */
} scenario_assert_t;

typedef struct {
    uint64_t at_tick;
    uint32_t seq; /* order in the file: ties in time keep it */
    scenario_ev_kind_t kind;
    int meter; /* index, or -1 for every meter */
    char path[160];
    union {
        scenario_grid_t grid; /* SCENARIO_EV_GRID: the grid from now on */
        scenario_load_t load; /* SCENARIO_EV_LOAD: the meter's load from now on */
        bool on;              /* SCENARIO_EV_TARIFF_INPUT, SCENARIO_EV_SUPPLY */
        meter_fault_t fault;  /* SCENARIO_EV_FAULT: a power cycle and the 7.1 fault it finds */
        struct {              /* SCENARIO_EV_SET */
            setting_id_t id;
            int32_t value;
        } set;
        access_reset_t reset; /* SCENARIO_EV_RESET */
        struct {              /* SCENARIO_EV_BUTTON: one edge */
            menu_button_t button;
            bool pressed;
        } button;
        scenario_xfer_t xfer;    /* SCENARIO_EV_MODBUS, SCENARIO_EV_MBUS */
        scenario_assert_t check; /* SCENARIO_EV_ASSERT */
    } u;
} scenario_event_t;

typedef struct scenario {
    char file[256];
    char name[64];
    uint64_t seed;
    uint64_t duration;        /* ticks; 0: until the last event */
    scenario_meter_t *meters; /* n_meters of them, in file order (templates expanded) */
    int n_meters;
    scenario_bus_t *buses; /* n_buses >= 1; without "buses" in the file, one named "bus1" */
    int n_buses;
    scenario_grid_t grid;
    scenario_load_t *load; /* each meter's load at the start */
    scenario_event_t *events;
    size_t n_events;
    /* Memory of CSV series and profile points, freed with the scenario. */
    double **arrays;
    size_t n_arrays;
} scenario_t;

/* Loads and checks `path`. On error returns false with a message naming the
 * file, line and column, and the JSON path in `err`. */
bool scenario_load(const char *path, scenario_t *sc, char *err, size_t errlen);

typedef struct {
    /* CSV files may lie outside the scenario's folder (--allow-outside-paths;
     * by default they must lie under it, docs/scenario.md "Files"). */
    bool allow_outside_paths;
    /* Every error found, one a line in `err`, not only the first (--check):
     * after a bad value the reader goes on with the next part that does not
     * depend on it (the next meter, bus or event; docs/cli.md). At most
     * SCENARIO_MAX_ERRORS lines; the scenario is not for running then. */
    bool all_errors;
} scenario_opts_t;

#define SCENARIO_MAX_ERRORS 100

/* scenario_load() with options; `opts` NULL: the defaults. */
bool scenario_load_opts(const char *path, const scenario_opts_t *opts, scenario_t *sc, char *err,
                        size_t errlen);

/* The built-in default: a realistic three-phase office load. */
bool scenario_default(scenario_t *sc, char *err, size_t errlen);

/* Its JSON text (--record-to-scenario starts from it). */
const char *scenario_default_text(void);

void scenario_free(scenario_t *sc);

/* The waveform of meter `k` at `tick`: the grid and the meter's load with
 * every profile evaluated then. */
void scenario_wave(const scenario_grid_t *g, const scenario_load_t *l, uint64_t seed, uint64_t tick,
                   wave_desc_t *out);

#endif
