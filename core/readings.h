/* readings: one snapshot of everything a user can read from the meter.
 *
 * Modbus (A3.2), M-Bus (A2.2), the display (6.1-6.3) and the host's logs all
 * read the meter through this one struct, filled by meter_readings(), so the
 * interfaces can never disagree about a value. Units are those of the manual's
 * Modbus map: V, A, Hz, kW, kvar, kVA, kWh, kvarh; power factor -1..1.
 *
 * Index conventions: [3] arrays are phases L1, L2, L3; [4] tariff arrays are
 * T1..T4 at index 0..3; [3] line-to-line voltages are L1-L2, L1-L3, L2-L3 (the
 * order of 0x5032, 0x5034, 0x5036).
 */
#ifndef METERSIM_READINGS_H
#define METERSIM_READINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "settings.h"

/* The models (variant.h has what makes each one). */
typedef enum {
    METER_MODEL_4PU = 0, /* 879-3000 */
    METER_MODEL_4PS = 1, /* 879-3020 */
    METER_MODEL_2PCT,    /* the CT-operated version of the register map (0x4002 1113) */
    METER_MODEL_COUNT
} meter_model_t;

/* Connection types of 4.8 / 4.9. */
typedef enum {
    CONNECTION_3P4W = 0,
    CONNECTION_3P3W_ARON, /* open delta, N clamped to L2 */
    CONNECTION_3P3W_DELTA,
    CONNECTION_1P2W,
    CONNECTION_COUNT
} connection_t;

/* One energy quantity split the way the registers split it (A3.2 0x6000-0x6047). */
typedef struct {
    double total, tariff[4], phase[3];
} readings_energy_t;

typedef struct readings {
    /* Identity (0x4000-0x400B) */
    char serial[17]; /* decimal digits, NUL-terminated; Modbus shows the last 8 */
    meter_model_t model;
    uint16_t meter_code;    /* 0x1111 4PU, 0x1112 4PS (HEX: digits) */
    float protocol_version; /* 0x4005 */
    float software_version; /* 0x4007; also the M-Bus version byte's major */
    float hardware_version; /* 0x4009 */
    uint16_t meter_amps;    /* 0x400B: Imax, 65 (variant.h) */
    uint16_t ct_primary;    /* A: the CT ratio's primary, /5 A (0x400C, 0x401F; 5 direct) */
    uint32_t checksum;      /* 0x401B: the MID software CRC shown in display part 1 */
    uint32_t checksum2;     /* 0x4023 */
    uint32_t status_word;   /* 0x401D */
    uint8_t error_code;     /* 7.1 error byte while the meter has stopped on it; else 0 */
    uint8_t error_flags;    /* 7.1 error byte of what the last power-up found, stopped or
                               not (0x401D, M-Bus status; 0: all sound) */
    connection_t connection;

    /* Instantaneous values (0x5000-0x5037, 0x4012-0x401A) */
    double voltage[3], voltage_avg;      /* V */
    double current[3], current_sum;      /* A */
    double frequency;                    /* Hz, 0 while no voltage is seen */
    double p[3], p_total;                /* kW, + forward (import), - reverse */
    double q[3], q_total;                /* kvar, + inductive in import (Q1, Q2) */
    double s[3], s_total;                /* kVA */
    double pf[3], pf_total;              /* P/S, sign of P; 1.0 at S = 0 */
    double voltage_ll[3];                /* V: L1-L2, L1-L3, L2-L3 */
    uint8_t quadrant[3], quadrant_total; /* 1..4, IEC 62053-23 */
    char direction[3], direction_total;  /* 'F' or 'R' */

    /* Energy registers (0x6000-0x608F), kWh / kvarh */
    readings_energy_t active_total, active_forward, active_reverse;
    readings_energy_t reactive_total, reactive_forward, reactive_reverse;
    double reactive_quadrant[4][5];         /* [Q1..Q4][total, T1..T4] */
    double resettable, resettable_phase[3]; /* day / trip counter (0x6049, 0x608B) */

    /* Counters and state */
    uint32_t power_down_count; /* 0x4016 */
    uint8_t tariff;            /* the tariff in use, 1..4 (0x6048) */
    bool tariff_input;         /* 230 V on terminals 10/11 */
    bool comm_active;          /* Modbus or M-Bus traffic for this meter seen lately */
    bool bt_connected;         /* the configurator app is connected over Bluetooth (A4.2) */
    uint64_t pulses[3];        /* pulses so far: S0-1, S0-2, the red LED (6.6.3) */
    bool pulse_level[3];       /* the outputs now: true while a pulse is on */

    settings_t settings;
} readings_t;

#endif
