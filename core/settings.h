/* settings: every configurable value of the meter, with its valid range.
 *
 * One module decides what is a valid setting, so that a change made over
 * Modbus (A3.3), over M-Bus (A2.3), with the buttons (6.6) or by a scenario is
 * the same change and is refused for the same reasons.
 *
 *   caller (modbus / mbus / menu / scenario)
 *        |  settings_set(s, SETTING_x, value)
 *        v
 *   +----------------------------+
 *   | range / list / lock checks |--> SETTINGS_OK, or an error, s unchanged
 *   +----------------------------+
 *
 * Values are stored in the units a user sees (ms, seconds, digits); codes
 * that the manual gives as small integers (baud-rate code, parity code) are
 * stored as those codes, so that the Modbus registers read them back as is.
 *
 * Known inaccuracies: the CT ratio is only meaningful on the CT variant
 * (2PCT); on the 4PU/4PS it is fixed at 5/5 and refused as a write.
 */
#ifndef METERSIM_SETTINGS_H
#define METERSIM_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

/* The settings a user can change, in the order of the manual's menu (6.5-6.6.15)
 * followed by those only reachable over Modbus (A3.3). */
typedef enum {
    SETTING_BLUETOOTH,        /* 0 off, 1 on (6.5) */
    SETTING_PASSWORD,         /* 0..9999, four digits (6.6.1) */
    SETTING_TARIFF,           /* 1..4 (6.6.2, A1) */
    SETTING_S0_RATE,          /* imp/kWh x 100: one of SETTINGS_S0_RATES (6.6.3) */
    SETTING_PULSE_TYPE,       /* 1 active & reactive, 2 forward & reverse (6.6.4) */
    SETTING_PULSE_WIDTH,      /* ms, 2..99, limited by the S0 rate (6.6.5) */
    SETTING_MODBUS_ID,        /* 1..247 (6.6.6) */
    SETTING_MODBUS_BAUD,      /* code 1..10, see settings_baud_code_to_bps() (6.6.7) */
    SETTING_MODBUS_PARITY,    /* 1 even, 2 none, 3 odd (6.6.8) */
    SETTING_MBUS_ID,          /* 0..250 (6.6.9) */
    SETTING_MBUS_BAUD,        /* bit/s: 300, 600, 1200, 2400, 4800, 9600 (6.6.10) */
    SETTING_MBUS_SECONDARY,   /* 0..99999999, eight decimal digits (A2.1) */
    SETTING_BACKLIGHT,        /* 0 off, 1 always on, 2 button mode (6.6.11) */
    SETTING_OBIS,             /* 0 off, 1 on (6.6.14) */
    SETTING_COMBINATION_CODE, /* 1..5; 5 can never be left again (6.6.15) */
    SETTING_LCD_CYCLE,        /* seconds, 1..30 (A3.3 0x4010) */
    SETTING_DATA_TYPE,        /* 1 standard (float), 2 integer (A3.3 0x4026) */
    SETTING_SCREEN_DIRECTION, /* 0 standard, 1 turned 180 degrees (A3.3 0x4032) */
    SETTING_CT_PRIMARY,       /* A, the CT ratio's primary over x/5 A (A3.3 0x401F): the CT
                                 variant's range (variant.h); 5 (5/5) on a direct meter */
    SETTING_COUNT
} setting_id_t;

typedef enum {
    SETTINGS_OK = 0,
    SETTINGS_E_RANGE,    /* outside the allowed range or list */
    SETTINGS_E_LOCKED,   /* combination code C-05 cannot be changed (6.6.15) */
    SETTINGS_E_CONFLICT, /* pulse width does not fit the S0 rate (6.6.5) */
    SETTINGS_E_UNKNOWN   /* no such setting */
} settings_err_t;

/* S0 rates in hundredths of imp/kWh: 10000, 2000, 1000, 100, 10, 1, 0.1, 0.01. */
#define SETTINGS_S0_RATE_COUNT 8
extern const uint32_t SETTINGS_S0_RATES[SETTINGS_S0_RATE_COUNT];

/* The highest power the meter can see: 3 x 276 V x 65 A (4, 4.5: Un +20 %, Imax). */
#define SETTINGS_P_MAX_W (3.0 * 276.0 * 65.0)

typedef struct settings {
    uint8_t bluetooth;
    uint16_t password;
    uint8_t tariff;
    uint32_t s0_rate_x100;
    uint8_t pulse_type;
    uint8_t pulse_width_ms;
    uint8_t modbus_id;
    uint8_t modbus_baud;
    uint8_t modbus_parity;
    uint8_t mbus_id;
    uint16_t mbus_baud;
    uint32_t mbus_secondary;
    uint8_t backlight;
    uint8_t obis;
    uint8_t combination_code;
    uint8_t lcd_cycle_s;
    uint8_t data_type;
    uint8_t screen_direction;
    /* T3/T4 have been selected at least once: their registers are shown for
     * good (A1.2). Set by the tariff setter, never cleared. */
    bool t34_activated;
    uint16_t ct_primary;
    /* The meter the settings belong to (not a setting: the meter's own
     * model, kept here so that one place decides what it accepts). */
    uint8_t model; /* meter_model_t */
} settings_t;

/* The last eight characters of a serial number: the M-Bus secondary address
 * (A2.1), Modbus 0x4000 and the LCD's "Sn" page all show these. */
const char *settings_serial_tail(const char *serial);

/* settings_serial_tail() as a number; a character that is not a digit
 * counts as 0 (the register and the BCD field have room for digits only). */
uint32_t settings_serial_number(const char *serial);

/* Factory defaults (manual 6.6.x, A2.1, A3.1); `mbus_secondary` is
 * settings_serial_number() of the meter's serial number. */
void settings_defaults(settings_t *s, uint32_t mbus_secondary);

/* Sets one value after checking it; on any error `s` is left unchanged. */
settings_err_t settings_set(settings_t *s, setting_id_t id, int32_t value);

/* Reads one value in the same units settings_set() takes. */
int32_t settings_get(const settings_t *s, setting_id_t id);

/* Checks a whole settings struct (a loaded state file, a scenario); returns the
 * first bad setting in *bad. */
settings_err_t settings_validate(const settings_t *s, setting_id_t *bad);

/* The widest pulse, in ms, whose pulse and gap both fit at SETTINGS_P_MAX_W for
 * the given rate (never above 99). */
uint8_t settings_max_pulse_width(uint32_t s0_rate_x100);

/* Modbus baud-rate code (A3.2 0x4004) to bit/s and back; 0 for an unknown code. */
uint32_t settings_baud_code_to_bps(uint8_t code);
uint8_t settings_bps_to_baud_code(uint32_t bps);

/* The smallest and largest value of a setting (some take only values of a
 * list inside that range: S0 rates, M-Bus baud rates). */
void settings_range(setting_id_t id, int32_t *min, int32_t *max);

/* A name for the setting and a sentence for the error, for messages. */
const char *settings_name(setting_id_t id);
const char *settings_strerror(settings_err_t err);

#endif
