/* nvm: the non-volatile image, main and backup (see nvm.h, manual 7.1). */
#include "nvm.h"
#include "crc32.h"
#include "meter_assert.h"

#include <math.h>
#include <string.h>

/* A little-endian writer and reader over a fixed buffer. */
typedef struct {
    uint8_t *p;
    size_t n;
} wr_t;

static void put(wr_t *w, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        w->p[w->n++] = (uint8_t)(v >> (8 * i));
}

typedef struct {
    const uint8_t *p;
    size_t n;
} rd_t;

static uint64_t get(rd_t *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->n++] << (8 * i);
    return v;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void put_settings(wr_t *w, const settings_t *s)
{
    put(w, s->bluetooth, 1);
    put(w, s->password, 2);
    put(w, s->tariff, 1);
    put(w, s->s0_rate_x100, 4);
    put(w, s->pulse_type, 1);
    put(w, s->pulse_width_ms, 1);
    put(w, s->modbus_id, 1);
    put(w, s->modbus_baud, 1);
    put(w, s->modbus_parity, 1);
    put(w, s->mbus_id, 1);
    put(w, s->mbus_baud, 2);
    put(w, s->mbus_secondary, 4);
    put(w, s->backlight, 1);
    put(w, s->obis, 1);
    put(w, s->combination_code, 1);
    put(w, s->lcd_cycle_s, 1);
    put(w, s->data_type, 1);
    put(w, s->screen_direction, 1);
    put(w, s->t34_activated, 1);
    put(w, s->ct_primary, 2); /* version 2 */
}

/* Reads settings of an image of `version` for a meter of `model`; false when
 * a byte cannot be a field's value (bool > 1) or a value is not one that
 * meter accepts. */
static bool get_settings(rd_t *r, settings_t *s, uint32_t version, uint8_t model)
{
    memset(s, 0, sizeof *s);
    s->model = model;
    s->bluetooth = (uint8_t)get(r, 1);
    s->password = (uint16_t)get(r, 2);
    s->tariff = (uint8_t)get(r, 1);
    s->s0_rate_x100 = (uint32_t)get(r, 4);
    s->pulse_type = (uint8_t)get(r, 1);
    s->pulse_width_ms = (uint8_t)get(r, 1);
    s->modbus_id = (uint8_t)get(r, 1);
    s->modbus_baud = (uint8_t)get(r, 1);
    s->modbus_parity = (uint8_t)get(r, 1);
    s->mbus_id = (uint8_t)get(r, 1);
    s->mbus_baud = (uint16_t)get(r, 2);
    s->mbus_secondary = (uint32_t)get(r, 4);
    s->backlight = (uint8_t)get(r, 1);
    s->obis = (uint8_t)get(r, 1);
    s->combination_code = (uint8_t)get(r, 1);
    s->lcd_cycle_s = (uint8_t)get(r, 1);
    s->data_type = (uint8_t)get(r, 1);
    s->screen_direction = (uint8_t)get(r, 1);
    uint8_t t34 = (uint8_t)get(r, 1);
    s->t34_activated = t34 != 0;
    s->ct_primary = version >= 2 ? (uint16_t)get(r, 2) : 5; /* version 1: 5/5 */
    setting_id_t bad;
    return t34 <= 1 && settings_validate(s, &bad) == SETTINGS_OK;
}

static void put_int_area(wr_t *w, const meter_t *m)
{
    energy_t e = m->energy;
    put(w, m->power_down_count, 4);
    put(w, m->supply ? NVM_FLAG_SUPPLY_ON : 0u, 1);
    put_settings(w, &m->settings);
    for (unsigned i = 0; i < ENERGY_REGISTERS; i++)
        put(w, (uint64_t)*energy_register(&e, i), 8);
}

size_t nvm_save(const meter_t *m, uint8_t *buf, size_t cap)
{
    METER_ASSERT(m && buf);
    if (cap < NVM_IMAGE_LEN)
        return 0;
    wr_t w = {buf, 0};
    put(&w, NVM_VERSION, 2);
    put(&w, 0, 2);
    put(&w, NVM_INT_LEN, 4);
    put(&w, NVM_MANT_LEN, 4);
    /* Main, then backup: the same bytes, so the main area is written once
     * and copied (the host writes the image at every step, docs/state.md). */
    size_t main_at = w.n;
    put_int_area(&w, m);
    put(&w, crc32_ieee(buf + main_at, NVM_INT_LEN), 4);
    memcpy(buf + w.n, buf + main_at, NVM_INT_LEN + 4u);
    w.n += NVM_INT_LEN + 4u;
    size_t from = w.n;
    energy_t e = m->energy;
    for (unsigned i = 0; i < 16; i++)
        put(&w, double_bits(energy_rem_get(&e, i)), 8); /* rem_phase[a][d][k], rem_net[a][d] */
    put(&w, crc32_ieee(buf + from, NVM_MANT_LEN), 4);
    return w.n;
}

/* What one integer area holds, once checked. */
typedef struct {
    uint32_t power_down_count;
    uint8_t flags;
    settings_t settings;
    int64_t reg[ENERGY_REGISTERS];
} int_area_t;

static bool area_crc_ok(const uint8_t *buf, size_t len, size_t off, size_t n)
{
    if (off + n + 4 > len)
        return false; /* missing: a truncated image */
    rd_t r = {buf + off + n, 0};
    return (uint32_t)get(&r, 4) == crc32_ieee(buf + off, n);
}

/* The layout of an image of one version. */
typedef struct {
    uint32_t version, int_len;
    size_t main_off, backup_off, mant_off;
} layout_t;

/* Reads and checks an integer area: CRC, then every value in range. */
static bool read_int_area(const uint8_t *buf, size_t len, size_t off, const layout_t *l,
                          uint8_t model, int_area_t *a)
{
    if (!area_crc_ok(buf, len, off, l->int_len))
        return false;
    rd_t r = {buf + off, 0};
    a->power_down_count = (uint32_t)get(&r, 4);
    a->flags = (uint8_t)get(&r, 1);
    if (a->flags & ~NVM_FLAG_SUPPLY_ON)
        return false;
    if (!get_settings(&r, &a->settings, l->version, model))
        return false;
    for (unsigned i = 0; i < ENERGY_REGISTERS; i++) {
        a->reg[i] = (int64_t)get(&r, 8);
        if (a->reg[i] <= -ENERGY_MODULUS_UWH || a->reg[i] >= ENERGY_MODULUS_UWH)
            return false; /* outside the 6+3 digit register (6.2) */
    }
    return true;
}

/* Reads and checks the mantissa area: each remainder a fraction in [0, 1). */
static bool read_mant_area(const uint8_t *buf, size_t len, size_t off, double rem[16])
{
    if (!area_crc_ok(buf, len, off, NVM_MANT_LEN))
        return false;
    rd_t r = {buf + off, 0};
    for (unsigned i = 0; i < 16; i++) {
        rem[i] = bits_double(get(&r, 8));
        if (!(rem[i] >= 0.0 && rem[i] < 1.0))
            return false; /* also refuses NaN */
    }
    return true;
}

nvm_status_t nvm_load(meter_t *m, const uint8_t *buf, size_t len, uint8_t *error_byte)
{
    METER_ASSERT(m && (buf || len == 0) && error_byte);
    *error_byte = 0;
    if (len < NVM_HEADER_LEN)
        return NVM_E_FORMAT;
    rd_t h = {buf, 0};
    uint32_t version = (uint32_t)get(&h, 2);
    (void)get(&h, 2);
    uint32_t int_len = (uint32_t)get(&h, 4);
    uint32_t mant_len = (uint32_t)get(&h, 4);
    if (version != 1 && version != NVM_VERSION)
        return NVM_E_VERSION;
    layout_t l = {.version = version, .int_len = version == 1 ? NVM_INT_LEN_V1 : NVM_INT_LEN};
    if (int_len != l.int_len || mant_len != NVM_MANT_LEN)
        return NVM_E_FORMAT;
    l.main_off = NVM_HEADER_LEN;
    l.backup_off = l.main_off + l.int_len + 4;
    l.mant_off = l.backup_off + l.int_len + 4;

    int_area_t main_area, backup_area;
    bool main_ok = read_int_area(buf, len, l.main_off, &l, (uint8_t)m->model, &main_area);
    bool backup_ok = read_int_area(buf, len, l.backup_off, &l, (uint8_t)m->model, &backup_area);
    double rem[16];
    bool mant_ok = read_mant_area(buf, len, l.mant_off, rem);

    uint8_t err = 0;
    if (!main_ok)
        err |= NVM_ERR_MAIN_DATA;
    if (!backup_ok)
        err |= NVM_ERR_BACKUP_DATA;
    if (!mant_ok)
        err |= NVM_ERR_MANTISSA;
    if (!main_ok && !backup_ok)
        err |= NVM_ERR_BOTH;
    *error_byte = err;
    m->error_flags = err;

    if (!main_ok && !backup_ok) {
        /* 7.1: "the meter will stop working and indicate error XX". The
         * registers are left alone: nothing from a bad image is trusted. */
        m->error_code = err;
        return NVM_STOPPED;
    }
    const int_area_t *a = main_ok ? &main_area : &backup_area;
    m->power_down_count = a->power_down_count;
    meter_load_settings(m, &a->settings);
    for (unsigned i = 0; i < ENERGY_REGISTERS; i++)
        *energy_register(&m->energy, i) = a->reg[i];
    for (unsigned i = 0; i < 16; i++)
        energy_rem_set(&m->energy, i, mant_ok ? rem[i] : 0.0);
    m->error_code = 0;
    m->memory_gen++;
    /* Power-up: a save made while powered means the supply went without
     * the meter seeing it go (the host was killed): count that loss now.
     * Whether the meter is powered from here on is the host's to say. */
    if (a->flags & NVM_FLAG_SUPPLY_ON)
        m->power_down_count++;
    return main_ok ? NVM_OK : NVM_OK_BACKUP;
}

const char *nvm_strstatus(nvm_status_t s)
{
    switch (s) {
    case NVM_OK:
        return "memory sound";
    case NVM_OK_BACKUP:
        return "main copy bad, the backup copy was used";
    case NVM_STOPPED:
        return "main and backup copies both bad: the meter has stopped";
    case NVM_E_VERSION:
        return "unknown image version";
    case NVM_E_FORMAT:
        return "not a memory image of this version (bad length)";
    }
    return "unknown status";
}
