/* Tests of the M-Bus records against the manual's A2.2 table and A2.3 writes.
 *
 * Every expected byte string below is a row of the manual (A2.2 "M-bus
 * register header DIF", "VIF", "Response/example"); the whole telegram's L
 * field and checksum are computed here from EN 13757-2's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "mbus_records.h"

/* A meter whose registers hold the manual's example values (A2.2). */
static void example_readings(readings_t *r)
{
    memset(r, 0, sizeof *r);
    settings_defaults(&r->settings, 19020246); /* header "46 02 02 19" */
    r->software_version = 1.04f;               /* version byte "01" */
    readings_energy_t *e[] = {&r->active_forward, &r->active_reverse};
    for (int k = 0; k < 2; k++) {
        e[k]->total = 123456.789;
        for (int t = 0; t < 4; t++)
            e[k]->tariff[t] = 123456.789;
    }
    r->resettable = 123456.789;
    r->reactive_forward.total = 123456.789;
    r->reactive_reverse.total = 123456.789;
    for (int i = 0; i < 3; i++) {
        r->voltage[i] = 230.12;
        r->current[i] = 100.123;
        r->p[i] = 1234.567;
        r->q[i] = 1234.567;
    }
    r->p[2] = -1234.567; /* "79 29 ED  -1234567 W" */
    r->p_total = 1234.567;
    r->q_total = 1234.567;
    r->s_total = 1234.567;
    r->pf_total = 1.0;
    r->frequency = 50.999;
    r->tariff = 1;
}

/* A2.2, row by row: name, then DIF.. VIF.. data as printed. */
static const struct {
    const char *name;
    uint8_t bytes[16];
    size_t n;
} ROWS[] = {
    {"Total forward active energy", {0x04, 0x03, 0x15, 0xCD, 0x5B, 0x07}, 6},
    {"Forward active energy T1", {0x84, 0x10, 0x03, 0x15, 0xCD, 0x5B, 0x07}, 7},
    {"Forward active energy T2", {0x84, 0x20, 0x03, 0x15, 0xCD, 0x5B, 0x07}, 7},
    {"Forward active energy T3", {0x84, 0x30, 0x03, 0x15, 0xCD, 0x5B, 0x07}, 7},
    {"Forward active energy T4", {0x84, 0x80, 0x10, 0x03, 0x15, 0xCD, 0x5B, 0x07}, 8},
    {"Total reverse active energy", {0x04, 0x83, 0x3C, 0x15, 0xCD, 0x5B, 0x07}, 7},
    {"Reverse active energy T1", {0x84, 0x10, 0x83, 0x3C, 0x15, 0xCD, 0x5B, 0x07}, 8},
    {"Reverse active energy T2", {0x84, 0x20, 0x83, 0x3C, 0x15, 0xCD, 0x5B, 0x07}, 8},
    {"Reverse active energy T3", {0x84, 0x30, 0x83, 0x3C, 0x15, 0xCD, 0x5B, 0x07}, 8},
    {"Reverse active energy T4", {0x84, 0x80, 0x10, 0x83, 0x3C, 0x15, 0xCD, 0x5B, 0x07}, 9},
    {"Total kWh (resettable)", {0x04, 0x83, 0xFC, 0x10, 0x15, 0xCD, 0x5B, 0x07}, 8},
    {"Forward reactive energy", {0x04, 0xFB, 0x82, 0x73, 0x15, 0xCD, 0x5B, 0x07}, 8},
    {"Reverse reactive energy", {0x04, 0xFB, 0x82, 0xF3, 0x3C, 0x15, 0xCD, 0x5B, 0x07}, 9},
    {"L1 voltage", {0x02, 0xFD, 0xC7, 0xFC, 0x01, 0xE4, 0x59}, 7},
    {"L2 voltage", {0x02, 0xFD, 0xC7, 0xFC, 0x02, 0xE4, 0x59}, 7},
    {"L3 voltage", {0x02, 0xFD, 0xC7, 0xFC, 0x03, 0xE4, 0x59}, 7},
    {"L1 current", {0x03, 0xFD, 0xD9, 0xFC, 0x01, 0x1B, 0x87, 0x01}, 8},
    {"L2 current", {0x03, 0xFD, 0xD9, 0xFC, 0x02, 0x1B, 0x87, 0x01}, 8},
    {"L3 current", {0x03, 0xFD, 0xD9, 0xFC, 0x03, 0x1B, 0x87, 0x01}, 8},
    {"Total active power", {0x03, 0x2B, 0x87, 0xD6, 0x12}, 5},
    {"L1 active power", {0x03, 0xAB, 0xFC, 0x01, 0x87, 0xD6, 0x12}, 7},
    {"L2 active power", {0x03, 0xAB, 0xFC, 0x02, 0x87, 0xD6, 0x12}, 7},
    {"L3 active power", {0x03, 0xAB, 0xFC, 0x03, 0x79, 0x29, 0xED}, 7},
    {"Total reactive power", {0x03, 0xFB, 0x14, 0x87, 0xD6, 0x12}, 6},
    {"L1 reactive power", {0x03, 0xFB, 0x94, 0xFC, 0x01, 0x87, 0xD6, 0x12}, 8},
    {"L2 reactive power", {0x03, 0xFB, 0x94, 0xFC, 0x02, 0x87, 0xD6, 0x12}, 8},
    {"L3 reactive power", {0x03, 0xFB, 0x94, 0xFC, 0x03, 0x87, 0xD6, 0x12}, 8},
    {"Total apparent power", {0x03, 0xFB, 0x34, 0x87, 0xD6, 0x12}, 6},
    {"Total power factor", {0x0A, 0xFD, 0x3A, 0x00, 0x01}, 5},
    {"Grid frequency", {0x03, 0xFB, 0x2C, 0x37, 0xC7, 0x00}, 6},
    {"Tariff", {0x09, 0x7C, 0x01, 0x54, 0x01}, 5},
};
#define NROWS (sizeof ROWS / sizeof ROWS[0])

/* "CT rate (only for CT version) 0A FD 3A 05 95 99 9995/5": the data bytes
 * as printed, LSB first the digits 9995 05; three bytes of BCD are DIF 0B
 * (the printed 0A announces two: docs/mbus.md). */
static const uint8_t CT_ROW[] = {0x0B, 0xFD, 0x3A, 0x05, 0x95, 0x99};

/* A2.2 header: serial, manufacturer, version, medium, access number 04,
 * status 00, signature 00 00. */
static const uint8_t HEADER[12] = {0x46, 0x02, 0x02, 0x19, 0xCD, 0x25,
                                   0x01, 0x02, 0x04, 0x00, 0x00, 0x00};

static void test_every_record_gives_the_manuals_bytes(void **state)
{
    (void)state;
    readings_t r;
    example_readings(&r);
    assert_int_equal(MBUS_RECORD_COUNT, NROWS + 1); /* and the CT version's row */
    for (size_t i = 0; i < NROWS; i++) {
        uint8_t out[32];
        size_t n = mbus_records_record(&MBUS_RECORDS[i], &r, out, sizeof out);
        assert_string_equal(MBUS_RECORDS[i].name, ROWS[i].name);
        assert_int_equal(n, ROWS[i].n);
        assert_memory_equal(out, ROWS[i].bytes, n);
    }
}

/* The CT version's telegram carries its CT rate last; the 4PU's does not. */
static void test_ct_rate_record(void **state)
{
    (void)state;
    readings_t r;
    example_readings(&r);
    const mbus_record_t *ct = &MBUS_RECORDS[MBUS_RECORD_COUNT - 1];
    assert_true(ct->ct_only);
    r.model = METER_MODEL_2PCT;
    r.ct_primary = 9995;
    uint8_t out[32];
    size_t n = mbus_records_record(ct, &r, out, sizeof out);
    assert_int_equal(n, sizeof CT_ROW);
    assert_memory_equal(out, CT_ROW, sizeof CT_ROW);
    uint8_t t4pu[MBUS_FRAME_MAX], tct[MBUS_FRAME_MAX];
    size_t n_ct = mbus_records_telegram(&r, 7, 4, tct, sizeof tct);
    r.model = METER_MODEL_4PU;
    size_t n_pu = mbus_records_telegram(&r, 7, 4, t4pu, sizeof t4pu);
    assert_int_equal(n_ct, n_pu + sizeof CT_ROW);
    assert_memory_equal(tct + n_ct - 2 - sizeof CT_ROW, CT_ROW, sizeof CT_ROW);
}

static void test_header_is_the_manuals(void **state)
{
    (void)state;
    readings_t r;
    example_readings(&r);
    uint8_t h[MBUS_HEADER_LEN];
    mbus_records_header(&r, 4, h);
    assert_memory_equal(h, HEADER, sizeof HEADER);
    r.error_code = 0x10; /* A2.2: status 02 = Error */
    mbus_records_header(&r, 4, h);
    assert_int_equal(h[9], 0x02);
}

static void test_whole_telegram_length_and_checksum(void **state)
{
    (void)state;
    readings_t r;
    example_readings(&r);
    uint8_t want[300];
    size_t n = 0;
    want[n++] = 0x68;
    want[n++] = 0; /* L, L filled below */
    want[n++] = 0;
    want[n++] = 0x68;
    want[n++] = 0x08; /* RSP_UD */
    want[n++] = 0x07; /* primary address */
    want[n++] = 0x72;
    memcpy(want + n, HEADER, sizeof HEADER);
    n += sizeof HEADER;
    for (size_t i = 0; i < NROWS; i++) {
        memcpy(want + n, ROWS[i].bytes, ROWS[i].n);
        n += ROWS[i].n;
    }
    size_t l = n - 4; /* EN 13757-2: L counts C, A, CI and the data */
    want[1] = want[2] = (uint8_t)l;
    unsigned cs = 0;
    for (size_t i = 4; i < n; i++)
        cs += want[i];
    want[n++] = (uint8_t)(cs & 0xFF);
    want[n++] = 0x16;

    uint8_t got[MBUS_FRAME_MAX];
    size_t k = mbus_records_telegram(&r, 0x07, 4, got, sizeof got);
    assert_int_equal(k, n);
    assert_int_equal(k, l + 6);
    assert_true(l <= 255);
    assert_memory_equal(got, want, n);
    /* too small a buffer: nothing */
    assert_int_equal(mbus_records_telegram(&r, 0x07, 4, got, n - 1), 0);
}

static void test_encoder_codings(void **state)
{
    (void)state;
    uint8_t b[8];
    /* 8-digit BCD, LSB first: 13070001 -> 01 00 07 13 (A2.3 selection example) */
    assert_int_equal(mbus_records_encode(0x0C, 13070001, b), 4);
    assert_memory_equal(b, ((uint8_t[]){0x01, 0x00, 0x07, 0x13}), 4);
    /* negative BCD: top nibble F (EN 13757-3) */
    assert_int_equal(mbus_records_encode(0x0A, -85, b), 2);
    assert_memory_equal(b, ((uint8_t[]){0x85, 0xF0}), 2);
    /* BCD saturates: 4 digits at most 9999, negative at most -999 */
    mbus_records_encode(0x0A, 123456, b);
    assert_memory_equal(b, ((uint8_t[]){0x99, 0x99}), 2);
    mbus_records_encode(0x0A, -123456, b);
    assert_memory_equal(b, ((uint8_t[]){0x99, 0xF9}), 2);
    /* integers saturate at the signed range of their length */
    mbus_records_encode(0x02, 40000, b);
    assert_memory_equal(b, ((uint8_t[]){0xFF, 0x7F}), 2);
    mbus_records_encode(0x02, -40000, b);
    assert_memory_equal(b, ((uint8_t[]){0x00, 0x80}), 2);
    mbus_records_encode(0x03, -1, b);
    assert_memory_equal(b, ((uint8_t[]){0xFF, 0xFF, 0xFF}), 3);
    mbus_records_encode(0x04, 0x12345678, b);
    assert_memory_equal(b, ((uint8_t[]){0x78, 0x56, 0x34, 0x12}), 4);
    mbus_records_encode(0x01, 250, b); /* 8-bit: saturates at 127 */
    assert_int_equal(b[0], 127);
    mbus_records_encode(0x07, -2, b);
    assert_memory_equal(b, ((uint8_t[]){0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), 8);
    assert_int_equal(mbus_records_encode(0x05, 1, b), 0); /* real: never used */
    assert_int_equal(mbus_records_data_len(0x0E), 6);
    assert_int_equal(mbus_records_data_len(0x0D), 0);
}

static void test_values_round_to_nearest(void **state)
{
    (void)state;
    readings_t r;
    example_readings(&r);
    const mbus_record_t *v1 = &MBUS_RECORDS[13], *pf = &MBUS_RECORDS[28], *e = &MBUS_RECORDS[0];
    assert_string_equal(v1->name, "L1 voltage");
    r.voltage[0] = 230.125; /* exactly representable: 23012.5 -> 23013 */
    assert_int_equal(mbus_records_value(v1, &r), 23013);
    r.voltage[0] = 230.1249;
    assert_int_equal(mbus_records_value(v1, &r), 23012);
    r.voltage[0] = NAN;
    assert_int_equal(mbus_records_value(v1, &r), 0);
    r.voltage[0] = 400.0; /* beyond 16 bits signed: saturates at 327.67 V */
    uint8_t b[16];
    assert_int_equal(mbus_records_record(v1, &r, b, sizeof b), 7);
    assert_memory_equal(b + 5, ((uint8_t[]){0xFF, 0x7F}), 2);
    r.pf_total = -0.854; /* -85 hundredths -> BCD 85 F0 */
    mbus_records_record(pf, &r, b, sizeof b);
    assert_memory_equal(b + 3, ((uint8_t[]){0x85, 0xF0}), 2);
    r.active_forward.total = 0.0006; /* 0.6 Wh -> 1 Wh */
    assert_int_equal(mbus_records_value(e, &r), 1);
    r.active_forward.total = 1e12; /* far beyond 32 bits: saturates */
    mbus_records_record(e, &r, b, sizeof b);
    assert_memory_equal(b + 2, ((uint8_t[]){0xFF, 0xFF, 0xFF, 0x7F}), 4);
    assert_int_equal(mbus_records_record(e, &r, b, 5), 0); /* cap too small */
}

static void test_bcd_decode(void **state)
{
    (void)state;
    int64_t v;
    assert_true(mbus_records_bcd_decode((uint8_t[]){0x15, 0x01, 0x23, 0x45}, 4, &v));
    assert_int_equal(v, 45230115);
    assert_false(mbus_records_bcd_decode((uint8_t[]){0x1A}, 1, &v));
    assert_false(mbus_records_bcd_decode((uint8_t[]){0xF1}, 1, &v));
}

/* A2.3: each write record, as "Command part 2" + "New value". */
static void test_write_records_of_a23(void **state)
{
    (void)state;
    mbus_write_t w;
    const uint8_t primary[] = {0x01, 0x7A, 0x01};
    assert_int_equal(mbus_records_parse_write(primary, sizeof primary, &w), MBUS_WRITE_OK);
    assert_int_equal(w.kind, MBUS_WRITE_SETTING);
    assert_int_equal(w.setting, SETTING_MBUS_ID);
    assert_int_equal(w.value, 1);

    const uint8_t secondary[] = {0x0C, 0x79, 0x15, 0x01, 0x23, 0x45};
    assert_int_equal(mbus_records_parse_write(secondary, sizeof secondary, &w), MBUS_WRITE_OK);
    assert_int_equal(w.setting, SETTING_MBUS_SECONDARY);
    assert_int_equal(w.value, 45230115); /* LSB first, "same as read" */

    const uint8_t tariff[] = {0x09, 0x7C, 0x01, 0x54, 0x02};
    assert_int_equal(mbus_records_parse_write(tariff, sizeof tariff, &w), MBUS_WRITE_OK);
    assert_int_equal(w.setting, SETTING_TARIFF);
    assert_int_equal(w.value, 2);

    const uint8_t combined[] = {0x09, 0xFD, 0x3A, 0x05};
    assert_int_equal(mbus_records_parse_write(combined, sizeof combined, &w), MBUS_WRITE_OK);
    assert_int_equal(w.setting, SETTING_COMBINATION_CODE);
    assert_int_equal(w.value, 5);

    const uint8_t s0[] = {0x0C, 0xFD, 0x3A, 0x00, 0x00, 0x01, 0x00};
    assert_int_equal(mbus_records_parse_write(s0, sizeof s0, &w), MBUS_WRITE_OK);
    assert_int_equal(w.setting, SETTING_S0_RATE);
    assert_int_equal(w.value, 10000); /* 100 imp/kWh in hundredths */

    const uint8_t kwh[] = {0x0C, 0x04, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(mbus_records_parse_write(kwh, sizeof kwh, &w), MBUS_WRITE_OK);
    assert_int_equal(w.kind, MBUS_WRITE_RESET);
    assert_int_equal(w.reset, ACCESS_RESET_DAY_COUNTER);
    const uint8_t kwh_junk[] = {0x0C, 0x04, 0xAB, 0xCD, 0xEF, 0xFF}; /* "Value is ignored" */
    assert_int_equal(mbus_records_parse_write(kwh_junk, sizeof kwh_junk, &w), MBUS_WRITE_OK);

    const uint8_t pdc[] = {0x0A, 0xFD, 0x60, 0x00, 0x00};
    assert_int_equal(mbus_records_parse_write(pdc, sizeof pdc, &w), MBUS_WRITE_OK);
    assert_int_equal(w.kind, MBUS_WRITE_RESET);
    assert_int_equal(w.reset, ACCESS_RESET_POWER_DOWN_COUNTER);
}

static void test_write_records_refused(void **state)
{
    (void)state;
    mbus_write_t w;
    const uint8_t unknown[] = {0x01, 0x7B, 0x01};
    assert_int_equal(mbus_records_parse_write(unknown, sizeof unknown, &w), MBUS_WRITE_E_UNKNOWN);
    const uint8_t short_rec[] = {0x0C, 0x79, 0x15, 0x01, 0x23};
    assert_int_equal(mbus_records_parse_write(short_rec, sizeof short_rec, &w),
                     MBUS_WRITE_E_UNKNOWN);
    const uint8_t two[] = {0x01, 0x7A, 0x01, 0x01, 0x7A, 0x02};
    assert_int_equal(mbus_records_parse_write(two, sizeof two, &w), MBUS_WRITE_E_UNKNOWN);
    const uint8_t bad_bcd[] = {0x09, 0x7C, 0x01, 0x54, 0x0A};
    assert_int_equal(mbus_records_parse_write(bad_bcd, sizeof bad_bcd, &w), MBUS_WRITE_E_CODING);
    const uint8_t bad_sec[] = {0x0C, 0x79, 0x15, 0x01, 0x23, 0xF5};
    assert_int_equal(mbus_records_parse_write(bad_sec, sizeof bad_sec, &w), MBUS_WRITE_E_CODING);
    assert_int_equal(mbus_records_parse_write(unknown, 0, &w), MBUS_WRITE_E_UNKNOWN);
}

/* Readings show reverse energy negative under C-01, C-02, C-04, C-05 (6.6.15);
 * M-Bus carries the direction in VIFE 3C and the magnitude in the data. */
static void test_reverse_records_carry_the_magnitude(void **state)
{
    (void)state;
    readings_t r;
    example_readings(&r);
    r.active_reverse.total = -123456.789;
    r.active_reverse.tariff[1] = -123456.789;
    r.reactive_reverse.total = -123456.789;
    for (size_t i = 0; i < MBUS_RECORD_COUNT; i++) {
        const mbus_record_t *rec = &MBUS_RECORDS[i];
        if (strcmp(rec->name, "Total reverse active energy") == 0 ||
            strcmp(rec->name, "Reverse active energy T2") == 0 ||
            strcmp(rec->name, "Reverse reactive energy") == 0)
            assert_int_equal(mbus_records_value(rec, &r), 123456789);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_record_gives_the_manuals_bytes),
        cmocka_unit_test(test_header_is_the_manuals),
        cmocka_unit_test(test_ct_rate_record),
        cmocka_unit_test(test_whole_telegram_length_and_checksum),
        cmocka_unit_test(test_encoder_codings),
        cmocka_unit_test(test_values_round_to_nearest),
        cmocka_unit_test(test_bcd_decode),
        cmocka_unit_test(test_write_records_of_a23),
        cmocka_unit_test(test_write_records_refused),
        cmocka_unit_test(test_reverse_records_carry_the_magnitude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
