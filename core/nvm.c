/* nvm: the non-volatile image, main and backup (see nvm.h, manual 7.1). */
#include "nvm.h"
#include "meter_assert.h"

#include <math.h>
#include <string.h>

/* crc32_table[i]: the CRC register after eight rounds of the reflected
 * polynomial 0xEDB88320 on the byte value i (the bit-by-bit method applied to
 * one byte); a lookup per byte keeps the image cheap to write at every step
 * of the host (docs/state.md). Generated once, kept as data. */
// clang-format off
static const uint32_t crc32_table[256] = {
    0x00000000u, 0x77073096u, 0xEE0E612Cu, 0x990951BAu, 0x076DC419u, 0x706AF48Fu,
    0xE963A535u, 0x9E6495A3u, 0x0EDB8832u, 0x79DCB8A4u, 0xE0D5E91Eu, 0x97D2D988u,
    0x09B64C2Bu, 0x7EB17CBDu, 0xE7B82D07u, 0x90BF1D91u, 0x1DB71064u, 0x6AB020F2u,
    0xF3B97148u, 0x84BE41DEu, 0x1ADAD47Du, 0x6DDDE4EBu, 0xF4D4B551u, 0x83D385C7u,
    0x136C9856u, 0x646BA8C0u, 0xFD62F97Au, 0x8A65C9ECu, 0x14015C4Fu, 0x63066CD9u,
    0xFA0F3D63u, 0x8D080DF5u, 0x3B6E20C8u, 0x4C69105Eu, 0xD56041E4u, 0xA2677172u,
    0x3C03E4D1u, 0x4B04D447u, 0xD20D85FDu, 0xA50AB56Bu, 0x35B5A8FAu, 0x42B2986Cu,
    0xDBBBC9D6u, 0xACBCF940u, 0x32D86CE3u, 0x45DF5C75u, 0xDCD60DCFu, 0xABD13D59u,
    0x26D930ACu, 0x51DE003Au, 0xC8D75180u, 0xBFD06116u, 0x21B4F4B5u, 0x56B3C423u,
    0xCFBA9599u, 0xB8BDA50Fu, 0x2802B89Eu, 0x5F058808u, 0xC60CD9B2u, 0xB10BE924u,
    0x2F6F7C87u, 0x58684C11u, 0xC1611DABu, 0xB6662D3Du, 0x76DC4190u, 0x01DB7106u,
    0x98D220BCu, 0xEFD5102Au, 0x71B18589u, 0x06B6B51Fu, 0x9FBFE4A5u, 0xE8B8D433u,
    0x7807C9A2u, 0x0F00F934u, 0x9609A88Eu, 0xE10E9818u, 0x7F6A0DBBu, 0x086D3D2Du,
    0x91646C97u, 0xE6635C01u, 0x6B6B51F4u, 0x1C6C6162u, 0x856530D8u, 0xF262004Eu,
    0x6C0695EDu, 0x1B01A57Bu, 0x8208F4C1u, 0xF50FC457u, 0x65B0D9C6u, 0x12B7E950u,
    0x8BBEB8EAu, 0xFCB9887Cu, 0x62DD1DDFu, 0x15DA2D49u, 0x8CD37CF3u, 0xFBD44C65u,
    0x4DB26158u, 0x3AB551CEu, 0xA3BC0074u, 0xD4BB30E2u, 0x4ADFA541u, 0x3DD895D7u,
    0xA4D1C46Du, 0xD3D6F4FBu, 0x4369E96Au, 0x346ED9FCu, 0xAD678846u, 0xDA60B8D0u,
    0x44042D73u, 0x33031DE5u, 0xAA0A4C5Fu, 0xDD0D7CC9u, 0x5005713Cu, 0x270241AAu,
    0xBE0B1010u, 0xC90C2086u, 0x5768B525u, 0x206F85B3u, 0xB966D409u, 0xCE61E49Fu,
    0x5EDEF90Eu, 0x29D9C998u, 0xB0D09822u, 0xC7D7A8B4u, 0x59B33D17u, 0x2EB40D81u,
    0xB7BD5C3Bu, 0xC0BA6CADu, 0xEDB88320u, 0x9ABFB3B6u, 0x03B6E20Cu, 0x74B1D29Au,
    0xEAD54739u, 0x9DD277AFu, 0x04DB2615u, 0x73DC1683u, 0xE3630B12u, 0x94643B84u,
    0x0D6D6A3Eu, 0x7A6A5AA8u, 0xE40ECF0Bu, 0x9309FF9Du, 0x0A00AE27u, 0x7D079EB1u,
    0xF00F9344u, 0x8708A3D2u, 0x1E01F268u, 0x6906C2FEu, 0xF762575Du, 0x806567CBu,
    0x196C3671u, 0x6E6B06E7u, 0xFED41B76u, 0x89D32BE0u, 0x10DA7A5Au, 0x67DD4ACCu,
    0xF9B9DF6Fu, 0x8EBEEFF9u, 0x17B7BE43u, 0x60B08ED5u, 0xD6D6A3E8u, 0xA1D1937Eu,
    0x38D8C2C4u, 0x4FDFF252u, 0xD1BB67F1u, 0xA6BC5767u, 0x3FB506DDu, 0x48B2364Bu,
    0xD80D2BDAu, 0xAF0A1B4Cu, 0x36034AF6u, 0x41047A60u, 0xDF60EFC3u, 0xA867DF55u,
    0x316E8EEFu, 0x4669BE79u, 0xCB61B38Cu, 0xBC66831Au, 0x256FD2A0u, 0x5268E236u,
    0xCC0C7795u, 0xBB0B4703u, 0x220216B9u, 0x5505262Fu, 0xC5BA3BBEu, 0xB2BD0B28u,
    0x2BB45A92u, 0x5CB36A04u, 0xC2D7FFA7u, 0xB5D0CF31u, 0x2CD99E8Bu, 0x5BDEAE1Du,
    0x9B64C2B0u, 0xEC63F226u, 0x756AA39Cu, 0x026D930Au, 0x9C0906A9u, 0xEB0E363Fu,
    0x72076785u, 0x05005713u, 0x95BF4A82u, 0xE2B87A14u, 0x7BB12BAEu, 0x0CB61B38u,
    0x92D28E9Bu, 0xE5D5BE0Du, 0x7CDCEFB7u, 0x0BDBDF21u, 0x86D3D2D4u, 0xF1D4E242u,
    0x68DDB3F8u, 0x1FDA836Eu, 0x81BE16CDu, 0xF6B9265Bu, 0x6FB077E1u, 0x18B74777u,
    0x88085AE6u, 0xFF0F6A70u, 0x66063BCAu, 0x11010B5Cu, 0x8F659EFFu, 0xF862AE69u,
    0x616BFFD3u, 0x166CCF45u, 0xA00AE278u, 0xD70DD2EEu, 0x4E048354u, 0x3903B3C2u,
    0xA7672661u, 0xD06016F7u, 0x4969474Du, 0x3E6E77DBu, 0xAED16A4Au, 0xD9D65ADCu,
    0x40DF0B66u, 0x37D83BF0u, 0xA9BCAE53u, 0xDEBB9EC5u, 0x47B2CF7Fu, 0x30B5FFE9u,
    0xBDBDF21Cu, 0xCABAC28Au, 0x53B39330u, 0x24B4A3A6u, 0xBAD03605u, 0xCDD70693u,
    0x54DE5729u, 0x23D967BFu, 0xB3667A2Eu, 0xC4614AB8u, 0x5D681B02u, 0x2A6F2B94u,
    0xB40BBE37u, 0xC30C8EA1u, 0x5A05DF1Bu, 0x2D02EF8Du,
};
// clang-format on

uint32_t nvm_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = (crc >> 8) ^ crc32_table[(crc ^ p[i]) & 0xFFu];
    return crc ^ 0xFFFFFFFFu;
}

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

/* The 16 remainders, in image order: rem_phase[a][d][k], then rem_net[a][d]. */
static double *rem_at(energy_t *e, unsigned i)
{
    if (i < 12)
        return &e->rem_phase[i / 6][(i / 3) % 2][i % 3];
    return &e->rem_net[(i - 12) / 2][(i - 12) % 2];
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
    put(&w, nvm_crc32(buf + main_at, NVM_INT_LEN), 4);
    memcpy(buf + w.n, buf + main_at, NVM_INT_LEN + 4u);
    w.n += NVM_INT_LEN + 4u;
    size_t from = w.n;
    energy_t e = m->energy;
    for (unsigned i = 0; i < 16; i++)
        put(&w, double_bits(*rem_at(&e, i)), 8);
    put(&w, nvm_crc32(buf + from, NVM_MANT_LEN), 4);
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
    return (uint32_t)get(&r, 4) == nvm_crc32(buf + off, n);
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
        *rem_at(&m->energy, i) = mant_ok ? rem[i] : 0.0;
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
