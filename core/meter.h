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
 *   meter_exec(&m, samples, n);      // n ticks of 125 us
 *   meter_readings(&m, &r);
 *
 * A zero field in meter_desc_t means the default (4PU, 3P4W, factory settings).
 * The meter's parts hold pointers into it: a meter_t must not be moved or
 * copied after meter_init().
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
#include "pulse.h"
#include "readings.h"
#include "settings.h"
#include "vtime.h"

#define METER_TARIFF_SEGMENTS 8

typedef struct meter_desc {
    meter_model_t model;
    const char *serial;         /* decimal digits; NULL: "00000001" */
    connection_t connection;
    const settings_t *settings; /* NULL: factory defaults */
    uint64_t start_tick;        /* the host's time at power-up (a restart); 0 normally */
    modbus_desc_t modbus;       /* Modbus timing (zero: defaults, modbus.h) */
    mbus_desc_t mbus;           /* M-Bus timing (zero: defaults, mbus.h) */
    bool unpowered;             /* starts without supply (default: powered) */
} meter_desc_t;

typedef struct meter {
    meter_model_t model;
    char serial[17];
    connection_t connection;
    settings_t settings;
    metrology_t metrology;
    energy_t energy;
    energy_delta_t last_delta; /* what the last cycle added, for pulses */
    pulse_t pulse;             /* S0-1, S0-2 and the LED (pulse.h) */
    bool tariff_input;         /* 230 V AC on terminals 10/11 (A1.1) */
    /* Tariffs in force during the cycle being measured: a change inside a
     * cycle splits its energy by time, so T1/T2 shares are exact. */
    int seg_tariff[METER_TARIFF_SEGMENTS];
    double seg_from[METER_TARIFF_SEGMENTS]; /* ticks */
    int n_seg;
    uint32_t power_down_count; /* losses of supply (0x4016), nvm.h saves it */
    bool supply;               /* powered: energy is registered only then */
    /* 7.1 error byte while the meter has stopped because both copies of its
     * memory were bad (nvm.h); 0 in normal operation. Non-zero: no energy
     * is registered, ever, until a sound image is loaded. */
    uint8_t error_code;
    uint64_t tick;
    /* Counts changes of settings and counter resets: a host keeping the
     * memory on disk saves when it moves, as the meter writes its EEPROM at
     * once. */
    uint32_t changes;
    display_t display; /* the LCD model (6.1-6.3), drawn by a frontend */
    menu_t menu;       /* the buttons and the settings menu (6.4-6.6) */
    /* What the protocol machines use: their own writes of ID, baud rate and
     * parity take effect after their reply, so this table does not resync
     * them; meter_access() (menu, scenario) does. */
    access_t protocol_access;
    modbus_t modbus;   /* RS-485, terminals 7/8 (4.5, A3) */
    mbus_t mbus;       /* M-Bus, terminals 8/9 (4.4, A2) */
} meter_t;

void meter_init(meter_t *m, const meter_desc_t *d);

/* Runs n ticks of samples through the meter. */
void meter_exec(meter_t *m, const metrology_sample_t *s, size_t n);

/* Virtual time now, in nanoseconds since the meter was created. */
uint64_t meter_now_ns(const meter_t *m);

/* The tariff in use: T3/T4 when selected; otherwise the tariff input chooses
 * T2 while it carries 230 V (A1.1, docs/decisions.md). */
int meter_tariff(const meter_t *m);

void meter_set_tariff_input(meter_t *m, bool on);

/* A button edge (left <<, middle, right >>) now (6.4). */
void meter_button(meter_t *m, menu_button_t b, bool pressed);

/* The next instant at which a part of the meter has something to do without
 * new samples (a page change, a menu timeout); VTIME_NEVER if none. */
uint64_t meter_deadline(const meter_t *m);

/* Moves the parts that run on time alone (display, menu) to `now_ns`, which
 * may lie between ticks. */
void meter_advance(meter_t *m, uint64_t now_ns);

/* Replaces every setting at once (a loaded memory image): the tariff in use
 * and the line machines' ID, baud rate and parity follow. */
void meter_load_settings(meter_t *m, const settings_t *s);

/* A character received on the Modbus or M-Bus line; `t_ns` is when its last
 * bit ended (not before the meter's present time minus one tick). */
void meter_modbus_rx(meter_t *m, uint8_t byte, uint64_t t_ns, bool line_error);
void meter_mbus_rx(meter_t *m, uint8_t byte, uint64_t t_ns, bool line_error);

/* The reply that is due by now on each line, and when its first bit starts;
 * 0 when none. The bytes follow back to back at the line's baud rate. */
size_t meter_modbus_tx(meter_t *m, uint8_t *buf, size_t cap, uint64_t *t_start_ns);
size_t meter_mbus_tx(meter_t *m, uint8_t *buf, size_t cap, uint64_t *t_start_ns);

/* The LCD model as it is now. */
const display_t *meter_display(const meter_t *m);

/* Supply on or off. The meter is powered from its measured phases (4: no
 * auxiliary supply), so a host switches it off when the grid fails (all
 * phase voltages below METER_SUPPLY_MIN_V, docs/state.md) or the user pulls
 * the plug. Each loss of supply counts one power-down (0x4016); without
 * supply no energy is registered. */
void meter_set_supply(meter_t *m, bool on);

/* Below this RMS voltage on every phase a host takes the meter as unpowered:
 * half of Un, well under the operating range 230 V -20 % (4), so every
 * specified voltage powers the meter (docs/state.md, Decisions). */
#define METER_SUPPLY_MIN_V 115.0

/* Everything readable, as it is now. */
void meter_readings(const meter_t *m, readings_t *r);

/* The access table protocol machines and the menu use. */
access_t meter_access(meter_t *m);

#endif
