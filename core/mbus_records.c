/* mbus_records: the A2.2 record list, the data encoder, the RSP_UD telegram
 * and the A2.3 write records (EN 13757-3 data coding). */
#include "mbus_records.h"
#include "variant.h"

#include <math.h>
#include <string.h>

#define D(field) MBUS_SRC_DOUBLE, offsetof(readings_t, field)
#define BACK(field) MBUS_SRC_MAGNITUDE, offsetof(readings_t, field)

/* Unit factors from readings_t (kWh, kvarh, V, A, kW, kvar, kVA, Hz, PF) to
 * the unit each VIF announces. */
#define WH 1000.0   /* kWh -> Wh (VIF 03: Wh x 10^0) */
#define VARH 1000.0 /* kvarh -> kvarh x 10^-3 (VIF FB 82 = kVARh, VIFE 73 = x 10^-3) */
#define CV 100.0    /* V -> 10 mV (VIF FD C7: V x 10^(7-9)) */
#define MA 1000.0   /* A -> mA (VIF FD D9: A x 10^(9-12)) */
#define W 1000.0    /* kW -> W (VIF 2B: W x 10^0); kvar -> var (FB 14); kVA -> VA (FB 34) */
#define MHZ 1000.0  /* Hz -> mHz (VIF FB 2C: Hz x 10^-3) */
#define PF100 100.0 /* PF -> hundredths (BCD "00 01" = 1,00) */

/* A2.2 in the manual's order. DIB: DIF 04 = 32-bit integer, 03 = 24-bit,
 * 02 = 16-bit, 0A = 4-digit BCD, 09 = 2-digit BCD; DIFE x0 = tariff x (first
 * DIFE carries tariff bits 0-1, the second bits 2-3: 80 10 = tariff 4).
 * VIFE 3C = backward flow; FC 01..03 = at phase L1..L3; 73 = x 10^-3. */
// clang-format off
const mbus_record_t MBUS_RECORDS[] = {
    {"Total forward active energy", {0x04}, 1, {0x03}, 1, D(active_forward.total), WH, false},
    {"Forward active energy T1", {0x84, 0x10}, 2, {0x03}, 1, D(active_forward.tariff[0]), WH, false},
    {"Forward active energy T2", {0x84, 0x20}, 2, {0x03}, 1, D(active_forward.tariff[1]), WH, false},
    {"Forward active energy T3", {0x84, 0x30}, 2, {0x03}, 1, D(active_forward.tariff[2]), WH, false},
    {"Forward active energy T4", {0x84, 0x80, 0x10}, 3, {0x03}, 1, D(active_forward.tariff[3]), WH, false},
    {"Total reverse active energy", {0x04}, 1, {0x83, 0x3C}, 2, BACK(active_reverse.total), WH, false},
    {"Reverse active energy T1", {0x84, 0x10}, 2, {0x83, 0x3C}, 2, BACK(active_reverse.tariff[0]), WH, false},
    {"Reverse active energy T2", {0x84, 0x20}, 2, {0x83, 0x3C}, 2, BACK(active_reverse.tariff[1]), WH, false},
    {"Reverse active energy T3", {0x84, 0x30}, 2, {0x83, 0x3C}, 2, BACK(active_reverse.tariff[2]), WH, false},
    {"Reverse active energy T4", {0x84, 0x80, 0x10}, 3, {0x83, 0x3C}, 2, BACK(active_reverse.tariff[3]), WH, false},
    {"Total kWh (resettable)", {0x04}, 1, {0x83, 0xFC, 0x10}, 3, D(resettable), WH, false},
    {"Forward reactive energy", {0x04}, 1, {0xFB, 0x82, 0x73}, 3, D(reactive_forward.total), VARH, false},
    {"Reverse reactive energy", {0x04}, 1, {0xFB, 0x82, 0xF3, 0x3C}, 4, BACK(reactive_reverse.total), VARH, false},
    {"L1 voltage", {0x02}, 1, {0xFD, 0xC7, 0xFC, 0x01}, 4, D(voltage[0]), CV, false},
    {"L2 voltage", {0x02}, 1, {0xFD, 0xC7, 0xFC, 0x02}, 4, D(voltage[1]), CV, false},
    {"L3 voltage", {0x02}, 1, {0xFD, 0xC7, 0xFC, 0x03}, 4, D(voltage[2]), CV, false},
    {"L1 current", {0x03}, 1, {0xFD, 0xD9, 0xFC, 0x01}, 4, D(current[0]), MA, false},
    {"L2 current", {0x03}, 1, {0xFD, 0xD9, 0xFC, 0x02}, 4, D(current[1]), MA, false},
    {"L3 current", {0x03}, 1, {0xFD, 0xD9, 0xFC, 0x03}, 4, D(current[2]), MA, false},
    {"Total active power", {0x03}, 1, {0x2B}, 1, D(p_total), W, false},
    {"L1 active power", {0x03}, 1, {0xAB, 0xFC, 0x01}, 3, D(p[0]), W, false},
    {"L2 active power", {0x03}, 1, {0xAB, 0xFC, 0x02}, 3, D(p[1]), W, false},
    {"L3 active power", {0x03}, 1, {0xAB, 0xFC, 0x03}, 3, D(p[2]), W, false},
    {"Total reactive power", {0x03}, 1, {0xFB, 0x14}, 2, D(q_total), W, false},
    {"L1 reactive power", {0x03}, 1, {0xFB, 0x94, 0xFC, 0x01}, 4, D(q[0]), W, false},
    {"L2 reactive power", {0x03}, 1, {0xFB, 0x94, 0xFC, 0x02}, 4, D(q[1]), W, false},
    {"L3 reactive power", {0x03}, 1, {0xFB, 0x94, 0xFC, 0x03}, 4, D(q[2]), W, false},
    {"Total apparent power", {0x03}, 1, {0xFB, 0x34}, 2, D(s_total), W, false},
    {"Total power factor", {0x0A}, 1, {0xFD, 0x3A}, 2, D(pf_total), PF100, false},
    {"Grid frequency", {0x03}, 1, {0xFB, 0x2C}, 2, D(frequency), MHZ, false},
    /* VIF 7C: plain-text unit of 1 character, "T" (0x54). */
    {"Tariff", {0x09}, 1, {0x7C, 0x01, 0x54}, 3, MBUS_SRC_TARIFF, 0, 1.0, false},
    /* "CT rate (only for CT version) 0A FD 3A 05 95 99 9995/5": three data
     * bytes, LSB first, are the digits 9995 05, which is 6-digit BCD (DIF
     * 0B); the manual's 0A (4 digits) cannot hold them (docs/mbus.md). */
    {"CT rate", {0x0B}, 1, {0xFD, 0x3A}, 2, MBUS_SRC_CT, 0, 1.0, true},
};
// clang-format on

const size_t MBUS_RECORD_COUNT = sizeof MBUS_RECORDS / sizeof MBUS_RECORDS[0];

uint8_t mbus_checksum(const uint8_t *p, size_t n)
{
    uint8_t cs = 0;
    for (size_t i = 0; i < n; i++)
        cs = (uint8_t)(cs + p[i]);
    return cs;
}

/* EN 13757-3, coding of the data field (DIF bits 0-3): bytes of data. */
static const uint8_t DIF_DATA_LEN[16] = {0, 1, 2, 3, 4, 0, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0};

size_t mbus_records_data_len(uint8_t dif)
{
    return DIF_DATA_LEN[dif & 0x0F];
}

bool mbus_records_dif_is_bcd(uint8_t dif)
{
    uint8_t c = dif & 0x0F;
    return c == 0x9 || c == 0xA || c == 0xB || c == 0xC || c == 0xE;
}

static int64_t pow10_i64(unsigned n)
{
    int64_t v = 1;
    while (n--)
        v *= 10;
    return v;
}

size_t mbus_records_encode(uint8_t dif, int64_t value, uint8_t *out)
{
    size_t n = mbus_records_data_len(dif);
    if (n == 0)
        return 0;
    if (mbus_records_dif_is_bcd(dif)) {
        unsigned digits = (unsigned)(2 * n);
        /* Negative: the top nibble is F, so one digit fewer is left. */
        int64_t max = pow10_i64(digits) - 1, min = -(pow10_i64(digits - 1) - 1);
        if (value > max)
            value = max;
        if (value < min)
            value = min;
        bool neg = value < 0;
        uint64_t mag = (uint64_t)(neg ? -value : value);
        for (size_t i = 0; i < n; i++) {
            uint8_t lo = (uint8_t)(mag % 10);
            mag /= 10;
            uint8_t hi = (uint8_t)(mag % 10);
            mag /= 10;
            out[i] = (uint8_t)(hi << 4 | lo);
        }
        if (neg)
            out[n - 1] = (uint8_t)(0xF0 | (out[n - 1] & 0x0F));
        return n;
    }
    if (n < 8) {
        int64_t max = ((int64_t)1 << (8 * n - 1)) - 1, min = -max - 1;
        if (value > max)
            value = max;
        if (value < min)
            value = min;
    }
    uint64_t u = (uint64_t)value; /* two's complement: the low n bytes */
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(u & 0xFF);
        u >>= 8;
    }
    return n;
}

bool mbus_records_bcd_decode(const uint8_t *p, size_t n, int64_t *value)
{
    int64_t v = 0;
    for (size_t i = n; i-- > 0;) {
        uint8_t hi = p[i] >> 4, lo = p[i] & 0x0F;
        if (hi > 9 || lo > 9)
            return false;
        v = v * 100 + hi * 10 + lo;
    }
    *value = v;
    return true;
}

int64_t mbus_records_value(const mbus_record_t *rec, const readings_t *r)
{
    if (rec->src == MBUS_SRC_TARIFF)
        return r->tariff;
    if (rec->src == MBUS_SRC_CT)
        return (int64_t)r->ct_primary * 100 + variant_of(r->model)->ct_secondary;
    double v;
    memcpy(&v, (const char *)r + rec->offset, sizeof v);
    if (rec->src == MBUS_SRC_MAGNITUDE)
        v = fabs(v);
    v *= rec->scale;
    if (isnan(v))
        return 0;
    /* Clamp before rounding: every record is at most 32 bits wide, and
     * llround() of a value beyond int64 is undefined. */
    if (v > 9.0e15)
        return (int64_t)9e15;
    if (v < -9.0e15)
        return -(int64_t)9e15;
    return (int64_t)llround(v); /* nearest, halves away from zero */
}

size_t mbus_records_record(const mbus_record_t *rec, const readings_t *r, uint8_t *out, size_t cap)
{
    size_t dlen = mbus_records_data_len(rec->dib[0]);
    size_t len = rec->dib_len + rec->vib_len + dlen;
    if (len > cap)
        return 0;
    memcpy(out, rec->dib, rec->dib_len);
    memcpy(out + rec->dib_len, rec->vib, rec->vib_len);
    mbus_records_encode(rec->dib[0], mbus_records_value(rec, r), out + rec->dib_len + rec->vib_len);
    return len;
}

void mbus_records_header(const readings_t *r, uint8_t access_no, uint8_t out[MBUS_HEADER_LEN])
{
    /* Identification number: the secondary address, 8 BCD digits, LSB first
     * (A2.2 "46 02 02 19", A2.3 "01 00 07 13" = 13070001). */
    mbus_records_encode(0x0C, (int64_t)(r->settings.mbus_secondary % 100000000u), out);
    out[4] = MBUS_MANUFACTURER & 0xFF;
    out[5] = MBUS_MANUFACTURER >> 8;
    /* A2.2: "Same as the major version of the software". */
    double sw = r->software_version;
    out[6] = (sw >= 0.0 && sw < 256.0) ? (uint8_t)sw : 0;
    out[7] = MBUS_MEDIUM_ELECTRICITY;
    out[8] = access_no;
    /* A2.2: status 02 = error, for any 7.1 fault found (the meter stopped
     * or running on a replaced copy). */
    out[9] = (r->error_code || r->error_flags) ? MBUS_STATUS_ERROR : MBUS_STATUS_OK;
    out[10] = 0x00; /* signature: always 00 00 (A2.2) */
    out[11] = 0x00;
}

size_t mbus_records_telegram(const readings_t *r, uint8_t address, uint8_t access_no, uint8_t *out,
                             size_t cap)
{
    uint8_t buf[MBUS_FRAME_MAX];
    size_t n = 4;
    buf[n++] = MBUS_C_RSP_UD;
    buf[n++] = address;
    buf[n++] = MBUS_CI_RSP_UD;
    mbus_records_header(r, access_no, buf + n);
    n += MBUS_HEADER_LEN;
    bool ct = variant_of(r->model)->ct;
    for (size_t i = 0; i < MBUS_RECORD_COUNT; i++) {
        if (MBUS_RECORDS[i].ct_only && !ct)
            continue;
        size_t k = mbus_records_record(&MBUS_RECORDS[i], r, buf + n, MBUS_FRAME_MAX - 2 - n);
        if (k == 0)
            return 0; /* cannot happen with this table: 238 bytes of L */
        n += k;
    }
    size_t l = n - 4;
    buf[0] = 0x68;
    buf[1] = (uint8_t)l;
    buf[2] = (uint8_t)l;
    buf[3] = 0x68;
    buf[n] = mbus_checksum(buf + 4, l);
    buf[n + 1] = 0x16;
    n += 2;
    if (n > cap)
        return 0;
    memcpy(out, buf, n);
    return n;
}

/* ---- A2.3 writes ---- */

typedef enum { WR_BIN, WR_BCD, WR_IGNORED } wr_coding_t;

typedef struct {
    uint8_t pat[5]; /* DIF VIF [VIFE..] exactly as in A2.3 */
    uint8_t pat_len;
    uint8_t data_len;
    wr_coding_t coding;
    mbus_write_kind_t kind;
    setting_id_t setting;
    access_reset_t reset;
} write_rec_t;

/* The A2.3 table, "Command part 2" and "New value" columns. */
// clang-format off
static const write_rec_t MBUS_WRITES[] = {
    /* Primary address: 01 7A nn (binary, "000 - 250 write in HEX") */
    {{0x01, 0x7A}, 2, 1, WR_BIN, MBUS_WRITE_SETTING, SETTING_MBUS_ID, 0},
    /* Secondary address: 0C 79 + 4 bytes BCD "same as read" (LSB first) */
    {{0x0C, 0x79}, 2, 4, WR_BCD, MBUS_WRITE_SETTING, SETTING_MBUS_SECONDARY, 0},
    /* Tariff: 09 7C 01 54 ("T") + 1 byte BCD */
    {{0x09, 0x7C, 0x01, 0x54}, 4, 1, WR_BCD, MBUS_WRITE_SETTING, SETTING_TARIFF, 0},
    /* Combined code: 09 FD 3A + 1 byte BCD */
    {{0x09, 0xFD, 0x3A}, 3, 1, WR_BCD, MBUS_WRITE_SETTING, SETTING_COMBINATION_CODE, 0},
    /* S0 rate: 0C FD 3A + 4 bytes BCD in 0.01 imp/kWh ("00 00 01 00" = 100) */
    {{0x0C, 0xFD, 0x3A}, 3, 4, WR_BCD, MBUS_WRITE_SETTING, SETTING_S0_RATE, 0},
    /* Resettable kWh: 0C 04 + 4 bytes, "Value is ignored, always set to 0" */
    {{0x0C, 0x04}, 2, 4, WR_IGNORED, MBUS_WRITE_RESET, 0, ACCESS_RESET_DAY_COUNTER},
    /* Power-down counter: 0A FD 60 + 2 bytes, value ignored */
    {{0x0A, 0xFD, 0x60}, 3, 2, WR_IGNORED, MBUS_WRITE_RESET, 0, ACCESS_RESET_POWER_DOWN_COUNTER},
};
// clang-format on

mbus_write_err_t mbus_records_parse_write(const uint8_t *data, size_t len, mbus_write_t *out)
{
    for (size_t i = 0; i < sizeof MBUS_WRITES / sizeof MBUS_WRITES[0]; i++) {
        const write_rec_t *w = &MBUS_WRITES[i];
        if (len != (size_t)w->pat_len + w->data_len || memcmp(data, w->pat, w->pat_len) != 0)
            continue;
        const uint8_t *d = data + w->pat_len;
        int64_t v = 0;
        if (w->coding == WR_BIN)
            v = d[0];
        else if (w->coding == WR_BCD && !mbus_records_bcd_decode(d, w->data_len, &v))
            return MBUS_WRITE_E_CODING;
        *out = (mbus_write_t){
            .kind = w->kind,
            .setting = w->setting,
            .reset = w->reset,
            .value = (int32_t)v,
        };
        return MBUS_WRITE_OK;
    }
    return MBUS_WRITE_E_UNKNOWN;
}
