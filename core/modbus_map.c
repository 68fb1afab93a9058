/* modbus_map: the A3.2 register table, its encoders and the A3.3 writes. */
#include "modbus_map.h"
#include "variant.h"

#include <math.h>
#include <string.h>

#define OFF(field) ((uint16_t)offsetof(readings_t, field))

/* Table rows, one macro per kind of register so that each line reads like
 * the manual's. */
// clang-format off
#define FLT(a, field) {a, 2, MODBUS_TYPE_FLOAT, MODBUS_SRC_DOUBLE, MODBUS_WR_NONE, OFF(field), 0}
#define VER(a, field) {a, 2, MODBUS_TYPE_FLOAT, MODBUS_SRC_FLOAT, MODBUS_WR_NONE, OFF(field), 0}
#define INT(a, w, src, field) {a, w, MODBUS_TYPE_SIGNED, src, MODBUS_WR_NONE, OFF(field), 0}
#define HEXF(a, w, src, field) {a, w, MODBUS_TYPE_BITS, src, MODBUS_WR_NONE, OFF(field), 0}
#define ASC(a, field) {a, 1, MODBUS_TYPE_ASCII, MODBUS_SRC_CHAR, MODBUS_WR_NONE, OFF(field), 0}
#define SET(a, type, id) {a, 1, type, MODBUS_SRC_SETTING, MODBUS_WR_SETTING, id, id}

/* A readings_energy_t as the manual splits it: total, T1, T2, L1, L2, L3. */
#define ENERGY6(a, e)                                                                         \
    FLT(a, e.total), FLT(a + 2, e.tariff[0]), FLT(a + 4, e.tariff[1]), FLT(a + 6, e.phase[0]), \
        FLT(a + 8, e.phase[1]), FLT(a + 10, e.phase[2])
#define QUADRANT5(a, q)                                                                      \
    FLT(a, reactive_quadrant[q][0]), FLT(a + 2, reactive_quadrant[q][1]),                    \
        FLT(a + 4, reactive_quadrant[q][2]), FLT(a + 6, reactive_quadrant[q][3]),            \
        FLT(a + 8, reactive_quadrant[q][4])

const modbus_reg_t MODBUS_MAP[] = {
    /* A3.2, identity and settings */
    {0x4000, 2, MODBUS_TYPE_BCD, MODBUS_SRC_SERIAL, MODBUS_WR_NONE, 0, 0},
    HEXF(0x4002, 1, MODBUS_SRC_U16, meter_code),
    SET(0x4003, MODBUS_TYPE_SIGNED, SETTING_MODBUS_ID),
    SET(0x4004, MODBUS_TYPE_SIGNED, SETTING_MODBUS_BAUD),
    VER(0x4005, protocol_version),
    VER(0x4007, software_version),
    VER(0x4009, hardware_version),
    INT(0x400B, 1, MODBUS_SRC_U16, meter_amps),
    {0x400C, 1, MODBUS_TYPE_BCD, MODBUS_SRC_CT_RATIO, MODBUS_WR_NONE, 0, 0},
    {0x400D, 2, MODBUS_TYPE_FLOAT, MODBUS_SRC_S0_RATE, MODBUS_WR_S0_RATE, 0, SETTING_S0_RATE},
    SET(0x400F, MODBUS_TYPE_SIGNED, SETTING_COMBINATION_CODE),
    SET(0x4010, MODBUS_TYPE_BCD, SETTING_LCD_CYCLE),
    SET(0x4011, MODBUS_TYPE_SIGNED, SETTING_MODBUS_PARITY),
    ASC(0x4012, direction[0]), /* "Current direction": L1 by position (docs/modbus.md) */
    ASC(0x4013, direction[1]),
    ASC(0x4014, direction[2]),
    {0x4016, 1, MODBUS_TYPE_SIGNED, MODBUS_SRC_U32, MODBUS_WR_RESET, OFF(power_down_count),
     ACCESS_RESET_POWER_DOWN_COUNTER},
    INT(0x4017, 1, MODBUS_SRC_U8, quadrant_total),
    INT(0x4018, 1, MODBUS_SRC_U8, quadrant[0]),
    INT(0x4019, 1, MODBUS_SRC_U8, quadrant[1]),
    INT(0x401A, 1, MODBUS_SRC_U8, quadrant[2]),
    HEXF(0x401B, 2, MODBUS_SRC_U32, checksum),
    HEXF(0x401D, 2, MODBUS_SRC_U32, status_word),
    {0x401F, 2, MODBUS_TYPE_BCD, MODBUS_SRC_CT_PAIR, MODBUS_WR_CT, 0, 0},
    SET(0x4021, MODBUS_TYPE_BCD, SETTING_PULSE_WIDTH), /* 1 word: A3.3, 0x4022 follows */
    SET(0x4022, MODBUS_TYPE_BCD, SETTING_PULSE_TYPE),
    HEXF(0x4023, 2, MODBUS_SRC_U32, checksum2),
    SET(0x4026, MODBUS_TYPE_SIGNED, SETTING_DATA_TYPE),
    SET(0x4032, MODBUS_TYPE_SIGNED, SETTING_SCREEN_DIRECTION),
    SET(0x4033, MODBUS_TYPE_SIGNED, SETTING_OBIS),

    /* A3.2, instantaneous values */
    /* 0x5000 "Voltage*" and 0x500A "Current*": the starred registers of the
     * single-phase models; a 4PU/4PS reads 0 there (A4.4 shows "Voltage* 0 V"
     * beside L1 227.57 V; docs/decisions.md). */
    {0x5000, 2, MODBUS_TYPE_FLOAT, MODBUS_SRC_NONE, MODBUS_WR_NONE, 0, 0}, FLT(0x5002, voltage[0]), FLT(0x5004, voltage[1]),
    FLT(0x5006, voltage[2]), FLT(0x5008, frequency),
    {0x500A, 2, MODBUS_TYPE_FLOAT, MODBUS_SRC_NONE, MODBUS_WR_NONE, 0, 0}, FLT(0x500C, current[0]), FLT(0x500E, current[1]),
    FLT(0x5010, current[2]),
    FLT(0x5012, p_total), FLT(0x5014, p[0]), FLT(0x5016, p[1]), FLT(0x5018, p[2]),
    FLT(0x501A, q_total), FLT(0x501C, q[0]), FLT(0x501E, q[1]), FLT(0x5020, q[2]),
    FLT(0x5022, s_total), FLT(0x5024, s[0]), FLT(0x5026, s[1]), FLT(0x5028, s[2]),
    FLT(0x502A, pf_total), FLT(0x502C, pf[0]), FLT(0x502E, pf[1]), FLT(0x5030, pf[2]),
    FLT(0x5032, voltage_ll[0]), FLT(0x5034, voltage_ll[1]), FLT(0x5036, voltage_ll[2]),

    /* A3.2, energy */
    ENERGY6(0x6000, active_total),
    ENERGY6(0x600C, active_forward),
    ENERGY6(0x6018, active_reverse),
    ENERGY6(0x6024, reactive_total),
    ENERGY6(0x6030, reactive_forward),
    ENERGY6(0x603C, reactive_reverse),
    {0x6048, 1, MODBUS_TYPE_SIGNED, MODBUS_SRC_U8, MODBUS_WR_SETTING, OFF(tariff), SETTING_TARIFF},
    {0x6049, 2, MODBUS_TYPE_FLOAT, MODBUS_SRC_DOUBLE, MODBUS_WR_RESET, OFF(resettable),
     ACCESS_RESET_DAY_COUNTER},
    FLT(0x604B, active_total.tariff[2]), FLT(0x604D, active_total.tariff[3]),
    FLT(0x604F, active_forward.tariff[2]), FLT(0x6051, active_forward.tariff[3]),
    FLT(0x6053, active_reverse.tariff[2]), FLT(0x6055, active_reverse.tariff[3]),
    FLT(0x6057, reactive_total.tariff[2]), FLT(0x6059, reactive_total.tariff[3]),
    FLT(0x605B, reactive_forward.tariff[2]), FLT(0x605D, reactive_forward.tariff[3]),
    FLT(0x605F, reactive_reverse.tariff[2]), FLT(0x6061, reactive_reverse.tariff[3]),
    QUADRANT5(0x6063, 0),
    QUADRANT5(0x606D, 1),
    QUADRANT5(0x6077, 2),
    QUADRANT5(0x6081, 3),
    FLT(0x608B, resettable_phase[0]), FLT(0x608D, resettable_phase[1]),
    FLT(0x608F, resettable_phase[2]),
};
// clang-format on

const size_t MODBUS_MAP_COUNT = sizeof MODBUS_MAP / sizeof MODBUS_MAP[0];

/* The three tables of A3.2, [first, end): a block read may cross reserved
 * words inside one of them, never their edges (docs/modbus.md). */
// clang-format off
static const struct {
    uint16_t first, end;
} map_blocks[] = {
    {0x4000, 0x4034},
    {0x5000, 0x5038},
    {0x6000, 0x6091},
};
// clang-format on

bool modbus_map_in_block(uint16_t start, uint16_t count)
{
    uint32_t last = (uint32_t)start + count - 1u;
    if (count == 0)
        return false;
    for (size_t b = 0; b < sizeof map_blocks / sizeof map_blocks[0]; b++)
        if (start >= map_blocks[b].first && last < map_blocks[b].end)
            return true;
    return false;
}

/* Index of the first entry whose last word is at or after `addr`. */
static size_t map_lower_bound(uint16_t addr)
{
    size_t lo = 0, hi = MODBUS_MAP_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint32_t)MODBUS_MAP[mid].addr + MODBUS_MAP[mid].words <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const modbus_reg_t *modbus_map_find(uint16_t addr)
{
    size_t i = map_lower_bound(addr);
    if (i < MODBUS_MAP_COUNT && MODBUS_MAP[i].addr <= addr)
        return &MODBUS_MAP[i];
    return NULL;
}

/* ---- encoders ---------------------------------------------------------- */

void modbus_put_float_abcd(uint8_t out[4], float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u); /* the bits of the IEEE 754 single */
    out[0] = (uint8_t)(u >> 24);
    out[1] = (uint8_t)(u >> 16);
    out[2] = (uint8_t)(u >> 8);
    out[3] = (uint8_t)u;
}

float modbus_get_float_abcd(const uint8_t in[4])
{
    uint32_t u = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

int32_t modbus_int_milli(double v)
{
    double m = round(v * 1000.0);
    if (!(m == m)) /* NaN: no value, read as 0 */
        return 0;
    if (m >= 2147483647.0)
        return INT32_MAX;
    if (m <= -2147483648.0)
        return INT32_MIN;
    return (int32_t)m;
}

uint32_t modbus_bcd(uint32_t v, unsigned words)
{
    uint32_t out = 0;
    for (unsigned d = 0; d < 4 * words && d < 8; d++) {
        out |= (v % 10u) << (4 * d);
        v /= 10u;
    }
    return out;
}

int64_t modbus_from_bcd(uint32_t bcd, unsigned words)
{
    int64_t v = 0;
    for (int d = (int)(4 * words) - 1; d >= 0; d--) {
        uint32_t nib = (bcd >> (4 * d)) & 0xFu;
        if (nib > 9)
            return -1;
        v = v * 10 + nib;
    }
    return v;
}

/* The value of an entry as a number, before encoding. */
static double reg_value(const modbus_reg_t *e, const readings_t *r)
{
    const uint8_t *base = (const uint8_t *)r + e->arg;
    switch ((modbus_src_t)e->src) {
    case MODBUS_SRC_NONE:
        return 0;
    case MODBUS_SRC_DOUBLE: {
        double d;
        memcpy(&d, base, sizeof d);
        return d;
    }
    case MODBUS_SRC_FLOAT: {
        float f;
        memcpy(&f, base, sizeof f);
        return f;
    }
    case MODBUS_SRC_U8:
        return *base;
    case MODBUS_SRC_U16: {
        uint16_t u;
        memcpy(&u, base, sizeof u);
        return u;
    }
    case MODBUS_SRC_U32: {
        uint32_t u;
        memcpy(&u, base, sizeof u);
        return u;
    }
    case MODBUS_SRC_CHAR:
        return (unsigned char)*base;
    case MODBUS_SRC_SETTING:
        return settings_get(&r->settings, (setting_id_t)e->arg);
    case MODBUS_SRC_SERIAL:
        return settings_serial_number(r->serial);
    case MODBUS_SRC_S0_RATE:
        return r->settings.s0_rate_x100 / 100.0;
    case MODBUS_SRC_CT_RATIO:
        /* The ratio, primary over the x/5 A secondary: 1 on a direct meter,
         * 1999 at 9995/5 (variant.h). */
        return r->ct_primary / variant_of(r->model)->ct_secondary;
    case MODBUS_SRC_CT_PAIR:
        /* Digits "pppp ssss": the primary, then the secondary (A3.3 401F,
         * "9995 0005" = 9995/5). */
        return (double)r->ct_primary * 10000.0 + variant_of(r->model)->ct_secondary;
    }
    return 0;
}

/* Encodes one entry into out[0 .. 2*words) (at most 4 bytes). */
static void reg_encode(const modbus_reg_t *e, const readings_t *r, bool integer_mode,
                       uint8_t out[4])
{
    double v = reg_value(e, r);
    uint32_t u = 0;
    memset(out, 0, 4);
    switch ((modbus_type_t)e->type) {
    case MODBUS_TYPE_RESERVED:
        return;
    case MODBUS_TYPE_FLOAT:
        if (!integer_mode) {
            modbus_put_float_abcd(out, (float)v);
            return;
        }
        u = (uint32_t)modbus_int_milli(v);
        break;
    case MODBUS_TYPE_SIGNED:
        if (e->words == 1) {
            /* One word holds -32768..32767: a larger count sticks at the top. */
            double c = v > 32767.0 ? 32767.0 : (v < -32768.0 ? -32768.0 : v);
            u = (uint16_t)(int16_t)c;
        } else {
            double c = v > 2147483647.0 ? 2147483647.0 : (v < -2147483648.0 ? -2147483648.0 : v);
            u = (uint32_t)(int32_t)c;
        }
        break;
    case MODBUS_TYPE_BCD:
        u = modbus_bcd(v > 0 ? (uint32_t)v : 0u, e->words);
        break;
    case MODBUS_TYPE_BITS:
        u = (uint32_t)v;
        break;
    case MODBUS_TYPE_ASCII:
        u = (uint32_t)v & 0xFFu;
        break;
    }
    if (e->words == 2) {
        out[0] = (uint8_t)(u >> 24);
        out[1] = (uint8_t)(u >> 16);
        out[2] = (uint8_t)(u >> 8);
        out[3] = (uint8_t)u;
    } else {
        out[0] = (uint8_t)(u >> 8);
        out[1] = (uint8_t)u;
    }
}

modbus_ex_t modbus_map_read(const readings_t *r, uint16_t start, uint16_t count, uint8_t *out)
{
    if (!modbus_map_in_block(start, count))
        return MODBUS_EX_ILLEGAL_ADDRESS;
    bool integer_mode = r->settings.data_type == 2;
    size_t i = map_lower_bound(start);
    uint8_t enc[4];
    for (uint32_t a = start; a < (uint32_t)start + count; a++) {
        while (i < MODBUS_MAP_COUNT && (uint32_t)MODBUS_MAP[i].addr + MODBUS_MAP[i].words <= a)
            i++;
        uint8_t *w = out + 2 * (a - start);
        if (i < MODBUS_MAP_COUNT && MODBUS_MAP[i].addr <= a) {
            /* A read may begin or end in the middle of a two-word value: it
             * gets that half (docs/modbus.md). */
            reg_encode(&MODBUS_MAP[i], r, integer_mode, enc);
            memcpy(w, enc + 2 * (a - MODBUS_MAP[i].addr), 2);
        } else {
            w[0] = w[1] = 0; /* reserved */
        }
    }
    return MODBUS_EX_NONE;
}

/* ---- writes (A3.3) ----------------------------------------------------- */

/* Decodes the value written to `e` into the integer its write takes:
 * the setting's value, imp/kWh x 100 for the S0 rate, the counter value for
 * a reset, 1 for an acceptable CT ratio. Returns false for a value that
 * cannot be one (exception 03). */
static bool reg_decode(const modbus_reg_t *e, const uint8_t *d, bool integer_mode, int32_t *out)
{
    uint32_t u = e->words == 2
                     ? ((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3])
                     : ((uint32_t)d[0] << 8 | d[1]);
    switch ((modbus_type_t)e->type) {
    case MODBUS_TYPE_SIGNED:
        *out = e->words == 1 ? (int16_t)u : (int32_t)u;
        return true;
    case MODBUS_TYPE_BCD: {
        if (e->write == MODBUS_WR_CT) {
            /* Two words of BCD digits, primary then secondary: "9995 0005"
             * (A3.3 401F). Only x/5 A transformers exist for the meter;
             * whether the primary is one the meter takes is the settings'
             * question (SETTING_CT_PRIMARY: 5 only on a direct meter). */
            int64_t pri = modbus_from_bcd(u >> 16, 1), sec = modbus_from_bcd(u & 0xFFFFu, 1);
            *out = (int32_t)pri;
            return pri >= 0 && sec == 5;
        }
        int64_t v = modbus_from_bcd(u, e->words);
        if (v < 0)
            return false;
        *out = (int32_t)v;
        return true;
    }
    case MODBUS_TYPE_FLOAT: {
        double x;
        if (integer_mode) {
            x = (int32_t)u / 1000.0;
        } else {
            x = modbus_get_float_abcd(d);
            if (!isfinite(x))
                return false;
        }
        double scale = e->write == MODBUS_WR_S0_RATE ? 100.0 : 1.0;
        double y = x * scale, n = round(y);
        /* Settings and counters take whole numbers: 0.1 imp/kWh is 10.000000149
         * hundredths as a float, so allow for the float's rounding only. */
        if (fabs(y - n) > 1e-4 * (fabs(n) > 1.0 ? fabs(n) : 1.0) || fabs(n) > 2.0e9)
            return false;
        *out = (int32_t)n;
        return true;
    }
    case MODBUS_TYPE_RESERVED:
    case MODBUS_TYPE_BITS:
    case MODBUS_TYPE_ASCII:
        break;
    }
    return false;
}

modbus_ex_t modbus_map_write(const access_t *acc, const readings_t *r, uint16_t start,
                             uint16_t count, const uint8_t *data)
{
    if (!modbus_map_in_block(start, count))
        return MODBUS_EX_ILLEGAL_ADDRESS;
    uint32_t end = (uint32_t)start + count;
    /* Every word must belong to a writable register written whole. */
    for (uint32_t a = start; a < end;) {
        const modbus_reg_t *e = modbus_map_find((uint16_t)a);
        if (!e || e->addr != a || e->write == MODBUS_WR_NONE || a + e->words > end)
            return MODBUS_EX_ILLEGAL_ADDRESS;
        a += e->words;
    }
    /* Check every value, in order, on a copy: later values are checked
     * against the earlier ones (an S0 rate then a pulse width). */
    bool integer_mode = r->settings.data_type == 2;
    settings_t trial = r->settings;
    for (uint32_t a = start; a < end;) {
        const modbus_reg_t *e = modbus_map_find((uint16_t)a);
        int32_t v;
        if (!reg_decode(e, data + 2 * (a - start), integer_mode, &v))
            return MODBUS_EX_ILLEGAL_VALUE;
        switch ((modbus_write_t)e->write) {
        case MODBUS_WR_SETTING:
        case MODBUS_WR_S0_RATE:
            if (settings_set(&trial, (setting_id_t)e->warg, v) != SETTINGS_OK)
                return MODBUS_EX_ILLEGAL_VALUE;
            break;
        case MODBUS_WR_RESET:
            if (v != 0) /* A3.3: "Reset to 0" is the only value */
                return MODBUS_EX_ILLEGAL_VALUE;
            break;
        case MODBUS_WR_CT:
            if (settings_set(&trial, SETTING_CT_PRIMARY, v) != SETTINGS_OK)
                return MODBUS_EX_ILLEGAL_VALUE;
            break;
        case MODBUS_WR_NONE:
            break;
        }
        a += e->words;
    }
    /* Carry them out. */
    for (uint32_t a = start; a < end;) {
        const modbus_reg_t *e = modbus_map_find((uint16_t)a);
        int32_t v = 0;
        (void)reg_decode(e, data + 2 * (a - start), integer_mode, &v);
        switch ((modbus_write_t)e->write) {
        case MODBUS_WR_SETTING:
        case MODBUS_WR_S0_RATE:
            if (acc->set(acc->ctx, (setting_id_t)e->warg, v) != SETTINGS_OK)
                return MODBUS_EX_DEVICE_FAILURE; /* the meter disagreed with its own check */
            break;
        case MODBUS_WR_RESET:
            acc->reset(acc->ctx, (access_reset_t)e->warg);
            break;
        case MODBUS_WR_CT:
            if (acc->set(acc->ctx, SETTING_CT_PRIMARY, v) != SETTINGS_OK)
                return MODBUS_EX_DEVICE_FAILURE;
            break;
        case MODBUS_WR_NONE:
            break;
        }
        a += e->words;
    }
    return MODBUS_EX_NONE;
}
