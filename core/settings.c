/* settings: valid ranges and defaults of every setting (manual 6.5-6.6.15, A2.3, A3.3). */
#include "settings.h"
#include "variant.h"
#include "meter_assert.h"

#include <string.h>

#include <stddef.h>

const uint32_t SETTINGS_S0_RATES[SETTINGS_S0_RATE_COUNT] = {
    1000000, 200000, 100000, 10000, 1000, 100, 10, 1,
};

/* The plain numeric range of each setting; lists and cross-checks are in
 * settings_check(). Names are what messages and the scenario format use. */
// clang-format off
static const struct {
    const char *name;
    int32_t min, max;
} setting_info[SETTING_COUNT] = {
    [SETTING_BLUETOOTH] = {"bluetooth", 0, 1},
    [SETTING_PASSWORD] = {"password", 0, 9999},
    [SETTING_TARIFF] = {"tariff", 1, 4},
    [SETTING_S0_RATE] = {"s0_rate", 1, 1000000},
    [SETTING_PULSE_TYPE] = {"pulse_type", 1, 2},
    [SETTING_PULSE_WIDTH] = {"pulse_width", 2, 99},
    [SETTING_MODBUS_ID] = {"modbus_id", 1, 247},
    [SETTING_MODBUS_BAUD] = {"modbus_baud", 1, 10},
    [SETTING_MODBUS_PARITY] = {"modbus_parity", 1, 3},
    [SETTING_MBUS_ID] = {"mbus_id", 0, 250},
    [SETTING_MBUS_BAUD] = {"mbus_baud", 300, 9600},
    [SETTING_MBUS_SECONDARY] = {"mbus_secondary", 0, 99999999},
    [SETTING_BACKLIGHT] = {"backlight", 0, 2},
    [SETTING_OBIS] = {"obis", 0, 1},
    [SETTING_COMBINATION_CODE] = {"combination_code", 1, 5},
    [SETTING_LCD_CYCLE] = {"lcd_cycle", 1, 30},
    [SETTING_DATA_TYPE] = {"data_type", 1, 2},
    [SETTING_SCREEN_DIRECTION] = {"screen_direction", 0, 1},
    [SETTING_CT_PRIMARY] = {"ct_primary", 1, 65535}, /* and the variant's own range */
};
// clang-format on

static const uint32_t baud_codes[] = {0,    300,   600,   1200,  2400,  4800,
                                      9600, 19200, 38400, 57600, 115200};

const char *settings_serial_tail(const char *serial)
{
    size_t n = strlen(serial);
    return n > 8 ? serial + n - 8 : serial;
}

uint32_t settings_serial_number(const char *serial)
{
    uint32_t v = 0;
    for (const char *p = settings_serial_tail(serial); *p; p++)
        v = v * 10u + (*p >= '0' && *p <= '9' ? (uint32_t)(*p - '0') : 0u);
    return v;
}

void settings_defaults(settings_t *s, uint32_t mbus_secondary)
{
    *s = (settings_t){
        .bluetooth = 0,
        .password = 0,          /* 0000 (6.6.1) */
        .tariff = 1,            /* 6.6.2 */
        .s0_rate_x100 = 100000, /* 1000 imp/kWh (6.6.3) */
        .pulse_type = 1,        /* active & reactive (6.6.4) */
        .pulse_width_ms = 30,   /* 6.6.5 */
        .modbus_id = 1,         /* 6.6.6 */
        .modbus_baud = 6,       /* 9600 (6.6.7) */
        .modbus_parity = 1,     /* even (6.6.8, A3.1) */
        .mbus_id = 0,           /* 6.6.9, A2.1 */
        .mbus_baud = 2400,      /* 6.6.10 */
        .mbus_secondary = mbus_secondary % 100000000u,
        .backlight = 1,        /* docs/decisions.md: always on */
        .obis = 0,             /* off by default (6.6.14) */
        .combination_code = 3, /* docs/decisions.md: forward + reverse */
        .lcd_cycle_s = 10,     /* docs/decisions.md */
        .data_type = 1,
        .screen_direction = 0,
        .t34_activated = false,
        .ct_primary = 5, /* 5/5: a direct meter's, and a CT meter's until set (A3.3 401F) */
        .model = METER_MODEL_4PU,
    };
}

uint8_t settings_max_pulse_width(uint32_t s0_rate_x100)
{
    /* Shortest pulse period at the highest power: 3600 s / (P_max[kW] * rate),
     * in ms; the pulse may take at most half of it so the gap is as long. */
    double rate = s0_rate_x100 / 100.0;
    double period_ms = 3600.0 * 1000.0 / (SETTINGS_P_MAX_W / 1000.0 * rate);
    double half = period_ms / 2.0;
    if (half >= 99.0)
        return 99;
    return (uint8_t)half; /* floor: the width must fit */
}

uint32_t settings_baud_code_to_bps(uint8_t code)
{
    return code < sizeof baud_codes / sizeof baud_codes[0] ? baud_codes[code] : 0;
}

uint8_t settings_bps_to_baud_code(uint32_t bps)
{
    for (uint8_t c = 1; c < sizeof baud_codes / sizeof baud_codes[0]; c++)
        if (baud_codes[c] == bps)
            return c;
    return 0;
}

static bool s0_rate_listed(int32_t v)
{
    for (int k = 0; k < SETTINGS_S0_RATE_COUNT; k++)
        if ((int64_t)SETTINGS_S0_RATES[k] == v)
            return true;
    return false;
}

static bool mbus_baud_listed(int32_t v)
{
    return v == 300 || v == 600 || v == 1200 || v == 2400 || v == 4800 || v == 9600;
}

static bool bcd_digits_valid(int32_t v)
{
    /* The secondary address is eight decimal digits (A2.3: "4 bytes BCD"). */
    return v >= 0 && v <= 99999999;
}

/* Checks `value` for `id` against `s` as it is now (the C-05 lock and the
 * pulse-width limit depend on other settings). */
static settings_err_t settings_check(const settings_t *s, setting_id_t id, int32_t value)
{
    if ((unsigned)id >= SETTING_COUNT)
        return SETTINGS_E_UNKNOWN;
    if (value < setting_info[id].min || value > setting_info[id].max)
        return SETTINGS_E_RANGE;
    switch (id) {
    case SETTING_S0_RATE:
        return s0_rate_listed(value) ? SETTINGS_OK : SETTINGS_E_RANGE;
    case SETTING_MBUS_BAUD:
        return mbus_baud_listed(value) ? SETTINGS_OK : SETTINGS_E_RANGE;
    case SETTING_MBUS_SECONDARY:
        return bcd_digits_valid(value) ? SETTINGS_OK : SETTINGS_E_RANGE;
    case SETTING_PULSE_WIDTH:
        return value <= settings_max_pulse_width(s->s0_rate_x100) ? SETTINGS_OK
                                                                  : SETTINGS_E_CONFLICT;
    case SETTING_COMBINATION_CODE:
        /* 6.6.15: a meter set to C-05 cannot be set to another mode. */
        return (s->combination_code == 5 && value != 5) ? SETTINGS_E_LOCKED : SETTINGS_OK;
    case SETTING_CT_PRIMARY: {
        /* A direct meter's ratio is 5/5 for good; the CT variant takes
         * multiples of its step up to its maximum (A3.3 401F: 9995/5). */
        const variant_t *v = variant_of((meter_model_t)s->model);
        if (!v->ct)
            return value == v->ct_secondary ? SETTINGS_OK : SETTINGS_E_RANGE;
        return value >= v->ct_primary_step && value <= v->ct_primary_max &&
                       value % v->ct_primary_step == 0
                   ? SETTINGS_OK
                   : SETTINGS_E_RANGE;
    }
    default:
        return SETTINGS_OK;
    }
}

settings_err_t settings_set(settings_t *s, setting_id_t id, int32_t value)
{
    METER_ASSERT(s);
    settings_err_t err = settings_check(s, id, value);
    if (err != SETTINGS_OK)
        return err;
    switch (id) {
    case SETTING_BLUETOOTH:
        s->bluetooth = (uint8_t)value;
        break;
    case SETTING_PASSWORD:
        s->password = (uint16_t)value;
        break;
    case SETTING_TARIFF:
        s->tariff = (uint8_t)value;
        if (value >= 3)
            s->t34_activated = true; /* A1.2: cannot be undone */
        break;
    case SETTING_S0_RATE:
        s->s0_rate_x100 = (uint32_t)value;
        /* A faster rate narrows the widest possible pulse: the width follows
         * (docs/decisions.md), so the pair stays valid. */
        if (s->pulse_width_ms > settings_max_pulse_width(s->s0_rate_x100))
            s->pulse_width_ms = settings_max_pulse_width(s->s0_rate_x100);
        break;
    case SETTING_PULSE_TYPE:
        s->pulse_type = (uint8_t)value;
        break;
    case SETTING_PULSE_WIDTH:
        s->pulse_width_ms = (uint8_t)value;
        break;
    case SETTING_MODBUS_ID:
        s->modbus_id = (uint8_t)value;
        break;
    case SETTING_MODBUS_BAUD:
        s->modbus_baud = (uint8_t)value;
        break;
    case SETTING_MODBUS_PARITY:
        s->modbus_parity = (uint8_t)value;
        break;
    case SETTING_MBUS_ID:
        s->mbus_id = (uint8_t)value;
        break;
    case SETTING_MBUS_BAUD:
        s->mbus_baud = (uint16_t)value;
        break;
    case SETTING_MBUS_SECONDARY:
        s->mbus_secondary = (uint32_t)value;
        break;
    case SETTING_BACKLIGHT:
        s->backlight = (uint8_t)value;
        break;
    case SETTING_OBIS:
        s->obis = (uint8_t)value;
        break;
    case SETTING_COMBINATION_CODE:
        s->combination_code = (uint8_t)value;
        break;
    case SETTING_LCD_CYCLE:
        s->lcd_cycle_s = (uint8_t)value;
        break;
    case SETTING_DATA_TYPE:
        s->data_type = (uint8_t)value;
        break;
    case SETTING_SCREEN_DIRECTION:
        s->screen_direction = (uint8_t)value;
        break;
    case SETTING_CT_PRIMARY:
        s->ct_primary = (uint16_t)value;
        break;
    case SETTING_COUNT:
        return SETTINGS_E_UNKNOWN;
    }
    return SETTINGS_OK;
}

int32_t settings_get(const settings_t *s, setting_id_t id)
{
    switch (id) {
    case SETTING_BLUETOOTH:
        return s->bluetooth;
    case SETTING_PASSWORD:
        return s->password;
    case SETTING_TARIFF:
        return s->tariff;
    case SETTING_S0_RATE:
        return (int32_t)s->s0_rate_x100;
    case SETTING_PULSE_TYPE:
        return s->pulse_type;
    case SETTING_PULSE_WIDTH:
        return s->pulse_width_ms;
    case SETTING_MODBUS_ID:
        return s->modbus_id;
    case SETTING_MODBUS_BAUD:
        return s->modbus_baud;
    case SETTING_MODBUS_PARITY:
        return s->modbus_parity;
    case SETTING_MBUS_ID:
        return s->mbus_id;
    case SETTING_MBUS_BAUD:
        return s->mbus_baud;
    case SETTING_MBUS_SECONDARY:
        return (int32_t)s->mbus_secondary;
    case SETTING_BACKLIGHT:
        return s->backlight;
    case SETTING_OBIS:
        return s->obis;
    case SETTING_COMBINATION_CODE:
        return s->combination_code;
    case SETTING_LCD_CYCLE:
        return s->lcd_cycle_s;
    case SETTING_DATA_TYPE:
        return s->data_type;
    case SETTING_SCREEN_DIRECTION:
        return s->screen_direction;
    case SETTING_CT_PRIMARY:
        return s->ct_primary;
    case SETTING_COUNT:
        break;
    }
    return 0;
}

settings_err_t settings_validate(const settings_t *s, setting_id_t *bad)
{
    /* Check each value as if it were being set on a copy that already holds
     * it, so the C-05 lock never rejects a stored 5. */
    for (int id = 0; id < SETTING_COUNT; id++) {
        settings_err_t err = settings_check(s, (setting_id_t)id, settings_get(s, (setting_id_t)id));
        if (err != SETTINGS_OK) {
            if (bad)
                *bad = (setting_id_t)id;
            return err;
        }
    }
    return SETTINGS_OK;
}

void settings_range(setting_id_t id, int32_t *min, int32_t *max)
{
    bool known = (unsigned)id < SETTING_COUNT;
    *min = known ? setting_info[id].min : 0;
    *max = known ? setting_info[id].max : 0;
}

const char *settings_name(setting_id_t id)
{
    return (unsigned)id < SETTING_COUNT ? setting_info[id].name : "unknown";
}

const char *settings_strerror(settings_err_t err)
{
    switch (err) {
    case SETTINGS_OK:
        return "ok";
    case SETTINGS_E_RANGE:
        return "value outside the allowed range";
    case SETTINGS_E_LOCKED:
        return "combination code C-05 cannot be changed (manual 6.6.15)";
    case SETTINGS_E_CONFLICT:
        return "pulse width does not fit the S0 rate at maximum power";
    case SETTINGS_E_UNKNOWN:
        return "no such setting";
    }
    return "unknown error";
}
