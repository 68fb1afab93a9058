/* meter: one WAGO 879-3000 (4PU) / 879-3020 (4PS) energy meter, whole.
 *
 * The only header a host needs. A meter is one plain struct that owns its
 * parts by value; time moves only when the host feeds samples.
 *
 *            samples (8 kHz)          tariff input, supply
 *                 |                          |
 *                 v                          v
 *   +------------------------------------------------------+
 *   | metrology --cycle--> energy (tariff, combination code)|
 *   |     |                    |                            |
 *   |     +--values--+---------+---> readings_t <--- settings|
 *   +------------------------------------------------------+
 *                      |
 *        meter_readings(): what every interface shows
 *
 * Usage:
 *   meter_t m;
 *   meter_init(&m, &(meter_desc_t){ .serial = "13070001" });
 *   meter_line_rx(&m, METER_LINE_MODBUS, byte, t_end, false);  // a master's bytes
 *   meter_exec(&m, samples, n);      // n ticks of 125 us: every event in them happens
 *   meter_line_tx(&m, METER_LINE_MODBUS, buf, cap, &t_start, &line);  // the reply, if due
 *   meter_readings(&m, &r);
 *
 * One clock, one queue: the meter's time is its tick count; every part with
 * work at an instant of its own (a frame's end, a reply's start, an S0 edge,
 * a long press, a page change, a save point) has a slot in one event queue
 * (sched.h), serviced by meter_exec() at its exact time in order of time,
 * then of a fixed priority. meter_deadline() is the next of them: a host's
 * loop sleeps on it. The result never depends on how the host splits the
 * samples into calls.
 *
 * The facade is the only door: a host changes a meter through the calls
 * below (which validate, as the buttons and protocols do) and never writes a
 * field of meter_t (`make check-facade` holds that). A zero field in
 * meter_desc_t means the default (4PU, 3P4W, factory settings). The meter's
 * parts hold pointers into it: a meter_t must not be moved or copied after
 * meter_init(). Programmer errors (a null or uninitialised meter, an index out
 * of range) trip METER_ASSERT (meter_assert.h).
 */
#ifndef METERSIM_METER_H
#define METERSIM_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "display.h"
#include "energy.h"
#include "mbus.h"
#include "menu.h"
#include "modbus.h"
#include "metrology.h"
#include "metrology_steady.h"
#include "pulse.h"
#include "readings.h"
#include "sched.h"
#include "settings.h"
#include "vtime.h"

#define METER_TARIFF_SEGMENTS 8

/* The meter's two serial interfaces. */
typedef enum {
    METER_LINE_MODBUS, /* RS-485, terminals 7/8 (4.5, A3) */
    METER_LINE_MBUS,   /* M-Bus, terminals 8/9 (4.4, A2) */
    METER_LINES
} meter_line_t;

/* Faults a host can inject at a power-up (7.1). */
typedef enum {
    METER_FAULT_NONE = 0,          /* a plain restart */
    METER_FAULT_CORRUPT_MAIN,      /* the main copy of the memory is damaged */
    METER_FAULT_CORRUPT_BACKUP,    /* the backup copy */
    METER_FAULT_CORRUPT_BOTH,      /* both: the meter stops with its error byte */
    METER_FAULT_CORRUPT_MANTISSA,  /* bit4: the remainders below 1 uWh are lost */
    METER_FAULT_MANTISSA_UNUSABLE, /* bit1: the mantissa area cannot be operated */
    METER_FAULT_BACKUP_UNUSABLE,   /* bit2: the backup area cannot be operated */
    METER_FAULT_MAIN_UNUSABLE,     /* bit3: the main area cannot be operated: backup used */
    METER_FAULT_STORAGE_UNUSABLE,  /* bits 3+2+0: neither area can be operated: stops */
    METER_FAULT_EEPROM_INIT,       /* bit7: the EEPROM cannot be fully initialised: stops */
    METER_FAULT_COUNT
} meter_fault_t;

typedef struct meter_desc {
    meter_model_t model;
    const char *serial; /* decimal digits; NULL: "00000001" */
    connection_t connection;
    const settings_t *settings; /* NULL: factory defaults */
    uint64_t start_tick;        /* the host's time at power-up (a restart); 0 normally */
    modbus_desc_t modbus;       /* Modbus timing (zero: defaults, modbus.h) */
    mbus_desc_t mbus;           /* M-Bus timing (zero: defaults, mbus.h) */
    bool unpowered;             /* starts without supply (default: powered) */
    /* Powered and running already at start_tick (a meter in service when a
     * host's run begins): no boot then. Default: it is switched on at
     * start_tick and boots (METER_BOOT_NS). */
    bool in_service;
    /* A save point every this many ns of meter time (meter_save_due());
     * 0: none, only changes of settings and losses of supply ask for one. */
    uint64_t save_interval_ns;
} meter_desc_t;

/* A host reads a meter's fields but never writes them: `make check-facade`
 * compiles every file outside core/ with METER_HOST_VIEW, which makes each
 * field const, so a write anywhere there fails to build. */
#ifdef METER_HOST_VIEW
#define METER_FIELD const
#else
#define METER_FIELD
#endif

typedef struct meter {
    METER_FIELD uint32_t init_mark; /* METER_INIT_MARK once meter_init() has run */
    METER_FIELD meter_model_t model;
    METER_FIELD char serial[17];
    METER_FIELD connection_t connection;
    METER_FIELD settings_t settings;
    METER_FIELD metrology_t metrology;
    METER_FIELD metrology_steady_t steady; /* the closed-form path (meter_exec_steady) */
    METER_FIELD energy_t energy;
    METER_FIELD energy_delta_t last_delta; /* what the last cycle added, for pulses */
    METER_FIELD pulse_t pulse;             /* S0-1, S0-2 and the LED (pulse.h) */
    METER_FIELD bool tariff_input;         /* 230 V AC on terminals 10/11 (A1.1) */
    /* Tariffs in force during the cycle being measured: a change inside a
     * cycle splits its energy by time, so T1/T2 shares are exact. */
    METER_FIELD int seg_tariff[METER_TARIFF_SEGMENTS];
    METER_FIELD double seg_from[METER_TARIFF_SEGMENTS]; /* ticks */
    METER_FIELD int n_seg;
    METER_FIELD uint32_t power_down_count; /* losses of supply (0x4016), nvm.h saves it */
    METER_FIELD bool supply;               /* powered: energy is registered only then */
    METER_FIELD bool booting;              /* powered, not running yet (METER_BOOT_NS) */
    /* 7.1 error byte while the meter has stopped because both copies of its
     * memory were bad (nvm.h); 0 in normal operation. Non-zero: no energy
     * is registered, ever, until a sound image is loaded. */
    METER_FIELD uint8_t error_code;
    /* 7.1 error byte of what the last power-up found, whether or not the
     * meter stopped on it (a bad copy it replaced from the other, a storage
     * area it cannot operate): reported over Modbus (0x401D) and M-Bus (the
     * status byte) and shown as a diagnostics page (docs/decisions.md). */
    METER_FIELD uint8_t error_flags;
    METER_FIELD uint64_t tick; /* the one clock: samples since the host's time 0 */
    METER_FIELD sched_t sched; /* the one event queue */
    /* A change of settings, a counter reset, a loss of supply or a save point
     * since the host last saved: the meter writes its EEPROM at once, so a
     * host keeping the memory on disk saves now (meter_save_due()). */
    METER_FIELD bool save_due;
    METER_FIELD uint64_t save_interval_ns;
    /* Moves on at every change of what the memory image holds (energy,
     * counters, settings, the supply flag): a host that mirrors the image
     * copies it only when this moved (meter_memory_generation()). */
    METER_FIELD uint32_t memory_gen;
    /* The configurator app is connected over Bluetooth (A4.2): only while
     * the Bluetooth setting is on (6.5) and the meter runs. */
    METER_FIELD bool bt_connected;
    /* meter_exec_steady() books every closed-form cycle by itself instead of
     * runs of equal cycles at once (meter_book_one_by_one: the reference the
     * runs are tested against, tests/unit/test_meter_runs.c). */
    METER_FIELD bool one_by_one;
    METER_FIELD uint64_t run_cycles;                 /* statistics: cycles booked in runs at once */
    METER_FIELD metrology_window_memo_t window_memo; /* a cache for the runs' windows */
    METER_FIELD display_t display; /* the LCD model (6.1-6.3), drawn by a frontend */
    METER_FIELD menu_t menu;       /* the buttons and the settings menu (6.4-6.6) */
    /* What the protocol machines use: their own writes of ID, baud rate and
     * parity take effect after their reply, so this table does not resync
     * them; meter_access() (menu, scenario) does. */
    METER_FIELD access_t protocol_access;
    METER_FIELD modbus_t modbus; /* RS-485, terminals 7/8 (4.5, A3) */
    METER_FIELD mbus_t mbus;     /* M-Bus, terminals 8/9 (4.4, A2) */
    /* The line machines by meter_line_t, reached through their tables. */
    METER_FIELD struct {
        const line_ops_t *ops;
        void *self;
    } lines[METER_LINES];
} meter_t;

#define METER_INIT_MARK 0x4D455452u /* "METR" */

void meter_init(meter_t *m, const meter_desc_t *d);

/* Runs n ticks of samples through the meter and services every event that
 * falls due up to the end of the last one, each at its exact instant: after
 * the call, a reply due by then is ready for meter_line_tx(). */
void meter_exec(meter_t *m, const metrology_sample_t *s, size_t n);

/* The same n ticks for a grid the host describes by its phasors instead of
 * samples (--fidelity auto, issue 14): while the description holds through
 * a whole mains cycle, the cycle's sums are computed in closed form
 * (metrology_steady.h); the cycles around a change of description are
 * sampled from it, noise drawn per tick from its seed. Every event is
 * serviced at its exact instant, as meter_exec() does. Which cycles are
 * computed in closed form depends only on the descriptions (their `since`
 * and `gen`), never on how the host splits the ticks into calls. The host
 * hands a new description (a new `gen`, `since` = now) whenever the grid
 * changes; a host that goes back to meter_exec() first calls
 * meter_exec_steady(m, NULL, 0), which hands the open cycle back. */
void meter_exec_steady(meter_t *m, const metrology_phasors_t *ph, size_t n);

/* Whether meter_exec_steady() books runs of equal steady cycles at once
 * (the default) or every cycle by itself: the same registers, pulses,
 * windows and state bit for bit either way (docs/performance.md); one by one
 * is the reference for tests and measurements. */
void meter_book_one_by_one(meter_t *m, bool on);

/* Virtual time now, in nanoseconds since the host's time 0. */
uint64_t meter_now_ns(const meter_t *m);

/* The next instant at which an event is due (a line's frame end or reply,
 * a pulse edge, the menu or LCD, a save point); VTIME_NEVER if none. */
uint64_t meter_deadline(const meter_t *m);

/* ---- the serial lines -------------------------------------------------- */

/* A character received on a line; `t_ns` is when its stop bit ended (not
 * before the meter's present time minus one tick). */
void meter_line_rx(meter_t *m, meter_line_t line, uint8_t byte, uint64_t t_ns, bool line_error);

/* The reply that is due by now on a line (0: none), the instant its first
 * bit starts and the UART settings it leaves with; the bytes follow back to
 * back at that rate. */
size_t meter_line_tx(meter_t *m, meter_line_t line, uint8_t *buf, size_t cap, uint64_t *t_start_ns,
                     line_settings_t *settings);

/* The settings a line listens with now. */
void meter_line_settings(const meter_t *m, meter_line_t line, line_settings_t *out);

/* The next instant the line machine has work (a frame to end, a reply to
 * start); VTIME_NEVER if none. */
uint64_t meter_line_deadline(const meter_t *m, meter_line_t line);

/* For a host that lets a meter's clock lag while nothing concerns it
 * (line_ops.h `wants`, `others`): the next instant the line may send or must
 * act on something sent to this meter; and whether bytes ending at t_end[]
 * may be given to meter_line_rx() while its clock is still behind them (a
 * running meter, and frames for other slaves only). */
uint64_t meter_line_wants(const meter_t *m, meter_line_t line);
bool meter_line_others(const meter_t *m, meter_line_t line, const uint8_t *bytes,
                       const uint64_t *t_end, size_t n);

/* The Modbus ID and M-Bus primary address the lines answer to now. */
uint8_t meter_modbus_id(const meter_t *m);

/* ---- inputs ------------------------------------------------------------ */

/* The tariff in use: T3/T4 when selected; otherwise the tariff input chooses
 * T2 while it carries 230 V (A1.1, docs/decisions.md). */
int meter_tariff(const meter_t *m);

void meter_set_tariff_input(meter_t *m, bool on);
bool meter_tariff_input(const meter_t *m);

/* A button edge (left <<, middle, right >>) now (6.4). */
void meter_button(meter_t *m, menu_button_t b, bool pressed);

/* Supply on or off. The meter is powered from its measured phases (4: no
 * auxiliary supply), so a host switches it off when the grid fails (all
 * phase voltages below METER_SUPPLY_MIN_V, docs/state.md) or the user pulls
 * the plug. Each loss of supply counts one power-down (0x4016) and asks for
 * a save; without supply no energy is registered. */
void meter_set_supply(meter_t *m, bool on);
bool meter_supply(const meter_t *m);

/* From the return of the supply (or the start) to the meter running: every
 * segment of the LCD is lit (a lamp test), the lines are deaf, nothing is
 * measured; then the pages start at part 1, the lines answer and the first
 * window of values is published a window (>= 1 s) later. The manual gives no
 * figure; docs/decisions.md. */
#define METER_BOOT_NS (500ull * VTIME_NS_PER_MS)

/* Running: powered and booted. Without supply the meter is off: no replies
 * on either line (a frame in flight is lost), a dark LCD, no pulses, no LED. */
bool meter_running(const meter_t *m);

/* Below this RMS voltage on every phase a host takes the meter as unpowered:
 * half of Un, well under the operating range 230 V -20 % (4), so every
 * specified voltage powers the meter (docs/state.md, Decisions). */
#define METER_SUPPLY_MIN_V 115.0

/* ---- settings, counters, presets, faults ------------------------------- */

/* Changes one setting as the menu does (validated by settings.h; the lines
 * take a new ID, baud rate or parity at once); SETTINGS_OK or why not. */
settings_err_t meter_set(meter_t *m, setting_id_t id, int32_t value);

/* The LCD and the menu brought up to date now, from the settings and values
 * as they are (what the end of every meter_exec() call does): a host that
 * changed a setting between two runs of samples shows it at once. Changes
 * nothing else. */
void meter_refresh(meter_t *m);

/* The configurator app connects (true) or disconnects (A4.2). A connection
 * is refused (false returned, nothing changed) while the Bluetooth setting is
 * off (6.5) or the meter is not running; switching Bluetooth off or losing
 * the supply ends it. The LCD's icon 1 is steady while an app is connected
 * and blinks while Bluetooth waits for one (docs/decisions.md). Returns
 * whether an app is connected afterwards. */
bool meter_bt_connect(meter_t *m, bool on);
bool meter_bt_connected(const meter_t *m);

/* Resets a counter as the menu does (6.6.12, 6.6.13). */
void meter_reset(meter_t *m, access_reset_t what);

/* Replaces every setting at once (a loaded memory image): the tariff in use
 * and the line machines' ID, baud rate and parity follow. */
void meter_load_settings(meter_t *m, const settings_t *s);

/* A starting value of energy register `reg` (energy.h's enumeration), in
 * micro-units; false (nothing changed) outside 0 .. 999999.999999999 kWh. */
bool meter_preset_register(meter_t *m, unsigned reg, int64_t micro);

/* A starting value of the power-down counter (0x4016). */
void meter_preset_power_down_count(meter_t *m, uint32_t count);

/* A power cycle through the memory image, as at a restart: the image is
 * written, damaged as `fault` says, the meter starts afresh from `d` at its
 * present time and loads the image (7.1). Returns what loading found (an
 * nvm_status_t) and the 7.1 error byte in *error. */
int meter_restart(meter_t *m, const meter_desc_t *d, meter_fault_t fault, uint8_t *error);

/* A fault's name, as scenarios and logs give it ("restart", "corrupt_main",
 * ..., "eeprom_init"); NULL past METER_FAULT_COUNT. */
const char *meter_fault_name(meter_fault_t f);

/* The 7.1 error byte while the meter has stopped on a memory error; 0 while
 * it runs. */
uint8_t meter_error(const meter_t *m);

/* True when the memory image should be written now (a setting changed, a
 * counter was reset, the supply went, a save point came); meter_saved()
 * after writing it. */
bool meter_save_due(const meter_t *m);
void meter_saved(meter_t *m);

/* A number that changes whenever the memory image (nvm_save) would: a host
 * that keeps the image compares it with the last one it copied, and copies
 * only when it moved (docs/state.md). Kept across meter_restart(). */
uint32_t meter_memory_generation(const meter_t *m);

/* ---- what it shows ------------------------------------------------------ */

/* Takes the oldest edge the S0 outputs and the LED made (pulse.h keeps the
 * last PULSE_EDGE_RING of them, with their exact instants); false when none
 * is left. For traces and tests. */
bool meter_pulse_edge(meter_t *m, pulse_edge_t *e);

/* The LCD model as it is now. */
const display_t *meter_display(const meter_t *m);

/* Everything readable, as it is now. */
void meter_readings(const meter_t *m, readings_t *r);

/* The access table the protocol machines and the menu use. */
access_t meter_access(meter_t *m);

#endif
