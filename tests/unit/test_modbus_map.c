/* Tests of the A3.2 register map and the A3.3 writes, through a fake meter.
 * Expected words come from the manual's tables and examples, or are computed
 * here from IEEE 754 and BCD by formulas independent of the encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "modbus_map.h"

/* ---- a fake meter behind access_t ---- */
typedef struct {
    readings_t r;
    int sets, resets;
    access_reset_t last_reset;
} fake_t;

static void fake_read(void *ctx, readings_t *out)
{
    *out = ((fake_t *)ctx)->r;
}
static settings_err_t fake_set(void *ctx, setting_id_t id, int32_t v)
{
    fake_t *f = ctx;
    settings_err_t e = settings_set(&f->r.settings, id, v);
    if (e == SETTINGS_OK) {
        f->sets++;
        if (id == SETTING_TARIFF)
            f->r.tariff = (uint8_t)v;
        f->r.ct_primary = f->r.settings.ct_primary;
    }
    return e;
}
static void fake_reset(void *ctx, access_reset_t what)
{
    fake_t *f = ctx;
    f->resets++;
    f->last_reset = what;
    if (what == ACCESS_RESET_POWER_DOWN_COUNTER)
        f->r.power_down_count = 0;
    else
        f->r.resettable = 0;
}

static fake_t fake;
static access_t acc = {&fake, fake_read, fake_set, fake_reset};

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    settings_defaults(&fake.r.settings, 13070001);
    strcpy(fake.r.serial, "19013070001");
    fake.r.meter_code = 0x1111;
    fake.r.meter_amps = 65;
    fake.r.ct_primary = 5; /* a direct meter: 5/5 */
    fake.r.tariff = 1;
    return 0;
}

/* IEEE 754 single bits of v, built from frexp (normal numbers only). */
static uint32_t ieee_bits(double v)
{
    if (v == 0)
        return 0;
    uint32_t sign = v < 0 ? 0x80000000u : 0;
    int e;
    double m = frexp(fabs(v), &e); /* v = m * 2^e, 0.5 <= m < 1 */
    uint32_t exp = (uint32_t)(e - 1 + 127);
    uint32_t frac = (uint32_t)llround((m * 2.0 - 1.0) * 8388608.0);
    return sign | exp << 23 | frac;
}

static uint32_t word32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static uint16_t word16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static modbus_ex_t rd(uint16_t start, uint16_t n, uint8_t *out)
{
    return modbus_map_read(&fake.r, start, n, out);
}
static modbus_ex_t wr(uint16_t start, uint16_t n, const uint8_t *data)
{
    return modbus_map_write(&acc, &fake.r, start, n, data);
}

static void test_float_abcd(void **state)
{
    (void)state;
    uint8_t b[4];
    assert_int_equal(ieee_bits(230.0), 0x43660000u); /* the formula agrees with the known value */
    modbus_put_float_abcd(b, 230.0f);
    assert_int_equal(word32(b), 0x43660000u);
    assert_int_equal(b[0], 0x43); /* A (most significant) first */
    const double vals[] = {1.0, -1.5, 49.98, 0.001, 123456.789, 10.0, 0.01};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        modbus_put_float_abcd(b, (float)vals[i]);
        assert_int_equal(word32(b), ieee_bits((float)vals[i]));
        assert_true(modbus_get_float_abcd(b) == (float)vals[i]);
    }
}

static void test_bcd(void **state)
{
    (void)state;
    assert_int_equal(modbus_bcd(25, 1), 0x0025);
    assert_int_equal(modbus_bcd(13070001, 2), 0x13070001u);
    assert_int_equal(modbus_bcd(123456789, 2), 0x23456789u); /* low digits only */
    assert_int_equal(modbus_from_bcd(0x0025, 1), 25);
    assert_int_equal(modbus_from_bcd(0x001A, 1), -1);
}

static void test_table_is_sorted_and_in_blocks(void **state)
{
    (void)state;
    for (size_t i = 0; i < MODBUS_MAP_COUNT; i++) {
        const modbus_reg_t *e = &MODBUS_MAP[i];
        assert_true(e->words == 1 || e->words == 2);
        assert_true(modbus_map_in_block(e->addr, e->words));
        if (i > 0)
            assert_true(MODBUS_MAP[i - 1].addr + MODBUS_MAP[i - 1].words <= e->addr);
        assert_ptr_equal(modbus_map_find(e->addr), e);
        assert_ptr_equal(modbus_map_find((uint16_t)(e->addr + e->words - 1)), e);
    }
    /* The manual's last registers of each table (A3.2). */
    assert_non_null(modbus_map_find(0x4033));
    assert_non_null(modbus_map_find(0x5037));
    assert_non_null(modbus_map_find(0x6090));
    assert_null(modbus_map_find(0x4015)); /* unlisted */
    assert_null(modbus_map_find(0x4025)); /* Reserved */
    assert_null(modbus_map_find(0x4027));
    assert_null(modbus_map_find(0x4031));
}

static void test_identity_registers(void **state)
{
    (void)state;
    uint8_t b[2 * 52];
    fake.r.direction[0] = 'F';
    fake.r.direction[1] = 'R';
    fake.r.direction[2] = 'F';
    fake.r.power_down_count = 7;
    fake.r.quadrant_total = 4;
    fake.r.checksum = 0xA1B2C3D4u;
    fake.r.protocol_version = 1.5f;
    assert_int_equal(rd(0x4000, 52, b), MODBUS_EX_NONE); /* the whole first block */
    assert_int_equal(word32(b + 0), 0x13070001u);        /* serial: last 8 digits */
    assert_int_equal(word16(b + 2 * 0x02), 0x1111);      /* meter code 4PU */
    assert_int_equal(word16(b + 2 * 0x03), 1);           /* ID 1 */
    assert_int_equal(word16(b + 2 * 0x04), 6);           /* 9600 */
    assert_int_equal(word32(b + 2 * 0x05), ieee_bits(1.5));
    assert_int_equal(word16(b + 2 * 0x0B), 65);
    assert_int_equal(word16(b + 2 * 0x0C), 0x0001);            /* CT ratio 5/5 */
    assert_int_equal(word32(b + 2 * 0x0D), ieee_bits(1000.0)); /* 1000 imp/kWh */
    assert_int_equal(word16(b + 2 * 0x0F), 3);
    assert_int_equal(word16(b + 2 * 0x10), 0x0010); /* 10 s as digits */
    assert_int_equal(word16(b + 2 * 0x11), 1);      /* even */
    assert_int_equal(word16(b + 2 * 0x12), 'F');
    assert_int_equal(word16(b + 2 * 0x13), 'R');
    assert_int_equal(word16(b + 2 * 0x15), 0); /* unlisted: 0 */
    assert_int_equal(word16(b + 2 * 0x16), 7);
    assert_int_equal(word16(b + 2 * 0x17), 4);
    assert_int_equal(word32(b + 2 * 0x1B), 0xA1B2C3D4u);
    assert_int_equal(word32(b + 2 * 0x1F), 0x00050005u); /* CT 5/5 */
    assert_int_equal(word16(b + 2 * 0x21), 0x0030);      /* 30 ms as digits */
    assert_int_equal(word16(b + 2 * 0x22), 1);
    assert_int_equal(word16(b + 2 * 0x25), 0);
    assert_int_equal(word16(b + 2 * 0x26), 1);
    for (int a = 0x27; a <= 0x31; a++)
        assert_int_equal(word16(b + 2 * a), 0);
    assert_int_equal(word16(b + 2 * 0x33), 0); /* OBIS off */
}

static void test_instantaneous_block(void **state)
{
    (void)state;
    uint8_t b[2 * 56];
    fake.r.voltage[0] = 230.0;
    fake.r.voltage_avg = 229.5;
    fake.r.current_sum = 30.0;
    fake.r.frequency = 49.98;
    fake.r.p_total = -1.5;
    fake.r.voltage_ll[2] = 400.25;
    assert_int_equal(rd(0x5000, 56, b), MODBUS_EX_NONE);
    /* "Voltage*" and "Current*" read 0 on a three-phase meter (A4.4). */
    assert_int_equal(word32(b + 0), 0);
    assert_int_equal(word32(b + 2 * 0x0A), 0);
    assert_int_equal(word32(b + 4), 0x43660000u);
    assert_int_equal(word32(b + 2 * 0x08), ieee_bits((float)49.98));
    assert_int_equal(word32(b + 2 * 0x12), ieee_bits(-1.5));
    assert_int_equal(word32(b + 2 * 0x36), ieee_bits(400.25));
    /* A read may start inside a float: the low word of L1 voltage. */
    assert_int_equal(rd(0x5003, 1, b), MODBUS_EX_NONE);
    assert_int_equal(word16(b), 0x0000);
    assert_int_equal(rd(0x5002, 1, b), MODBUS_EX_NONE);
    assert_int_equal(word16(b), 0x4366);
}

/* Integrations read 75 registers from 0x6000, over the tariff word 0x6048. */
static void test_energy_block_75(void **state)
{
    (void)state;
    uint8_t b[2 * 125];
    for (int k = 0; k < 6; k++) {
        readings_energy_t *e = &(&fake.r.active_total)[k];
        e->total = 1000.0 * (k + 1) + 0.5;
        e->tariff[0] = 100.0 * (k + 1);
        e->tariff[1] = 200.0 * (k + 1);
        e->phase[0] = 10.0 * (k + 1);
        e->phase[1] = 20.0 * (k + 1);
        e->phase[2] = 30.0 * (k + 1);
    }
    fake.r.tariff = 2;
    fake.r.resettable = 12.25;
    assert_int_equal(rd(0x6000, 75, b), MODBUS_EX_NONE);
    for (int k = 0; k < 6; k++) {
        const uint8_t *q = b + 2 * (12 * k);
        assert_int_equal(word32(q + 0), ieee_bits(1000.0 * (k + 1) + 0.5));
        assert_int_equal(word32(q + 4), ieee_bits(100.0 * (k + 1)));
        assert_int_equal(word32(q + 8), ieee_bits(200.0 * (k + 1)));
        assert_int_equal(word32(q + 12), ieee_bits(10.0 * (k + 1)));
        assert_int_equal(word32(q + 16), ieee_bits(20.0 * (k + 1)));
        assert_int_equal(word32(q + 20), ieee_bits(30.0 * (k + 1)));
    }
    assert_int_equal(word16(b + 2 * 0x48), 2);                /* tariff, Signed */
    assert_int_equal(word32(b + 2 * 0x49), ieee_bits(12.25)); /* day counter */
    /* 125 registers from 0x6000 and the whole block to 0x6090. */
    assert_int_equal(rd(0x6000, 125, b), MODBUS_EX_NONE);
    assert_int_equal(rd(0x6090 - 124, 125, b), MODBUS_EX_NONE);
    fake.r.resettable_phase[2] = 3.0;
    assert_int_equal(rd(0x608F, 2, b), MODBUS_EX_NONE);
    assert_int_equal(word32(b), ieee_bits(3.0));
    fake.r.reactive_quadrant[3][4] = 8.5; /* Q4, T4 at 0x6089 */
    assert_int_equal(rd(0x6089, 2, b), MODBUS_EX_NONE);
    assert_int_equal(word32(b), ieee_bits(8.5));
}

static void test_exception_02_edges(void **state)
{
    (void)state;
    uint8_t b[2 * 125];
    assert_int_equal(rd(0x3FFF, 2, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x4033, 2, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x4034, 1, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x4FFF, 1, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x5037, 2, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x6090, 2, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x6091, 1, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x0000, 1, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0xFFFF, 1, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0xFFF0, 100, b), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x4033, 1, b), MODBUS_EX_NONE);
    assert_int_equal(rd(0x5037, 1, b), MODBUS_EX_NONE);
    assert_int_equal(rd(0x6090, 1, b), MODBUS_EX_NONE);
}

static void test_integer_mode(void **state)
{
    (void)state;
    uint8_t b[8];
    fake.r.settings.data_type = 2;
    fake.r.voltage[0] = 230.0;
    fake.r.p_total = -1.5;
    fake.r.active_total.total = 999999.999; /* the display's largest value (6.2) */
    assert_int_equal(rd(0x5002, 2, b), MODBUS_EX_NONE);
    assert_int_equal(word32(b), 230000u);
    assert_int_equal(rd(0x5012, 2, b), MODBUS_EX_NONE);
    assert_int_equal((int32_t)word32(b), -1500);
    assert_int_equal(rd(0x6000, 2, b), MODBUS_EX_NONE);
    assert_int_equal(word32(b), 999999999u);
    assert_int_equal(rd(0x400D, 2, b), MODBUS_EX_NONE);
    assert_int_equal(word32(b), 1000000u); /* 1000 imp/kWh x 1000 */
    /* Non-float registers do not change. */
    assert_int_equal(rd(0x4003, 1, b), MODBUS_EX_NONE);
    assert_int_equal(word16(b), 1);
    assert_int_equal(modbus_int_milli(1e12), INT32_MAX);
    assert_int_equal(modbus_int_milli(-1e12), INT32_MIN);
}

/* A3.3, each example of the manual, byte for byte. */
static void test_manual_write_examples(void **state)
{
    (void)state;
    const uint8_t id10[] = {0x00, 0x0A};
    assert_int_equal(wr(0x4003, 1, id10), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.modbus_id, 10);
    const uint8_t baud6[] = {0x00, 0x06};
    assert_int_equal(wr(0x4004, 1, baud6), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.modbus_baud, 6);
    const uint8_t s0[] = {0x41, 0x20, 0x00, 0x00}; /* 10.0f */
    assert_int_equal(wr(0x400D, 2, s0), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.s0_rate_x100, 1000);
    const uint8_t cc4[] = {0x00, 0x04};
    assert_int_equal(wr(0x400F, 1, cc4), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.combination_code, 4);
    const uint8_t lcd25[] = {0x00, 0x25};
    assert_int_equal(wr(0x4010, 1, lcd25), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.lcd_cycle_s, 25);
    const uint8_t par2[] = {0x00, 0x02};
    assert_int_equal(wr(0x4011, 1, par2), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.modbus_parity, 2);
    fake.r.power_down_count = 9;
    const uint8_t zero[] = {0, 0, 0, 0};
    assert_int_equal(wr(0x4016, 1, zero), MODBUS_EX_NONE);
    assert_int_equal(fake.last_reset, ACCESS_RESET_POWER_DOWN_COUNTER);
    assert_int_equal(fake.r.power_down_count, 0);
    const uint8_t t2[] = {0x00, 0x02};
    assert_int_equal(wr(0x6048, 1, t2), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.tariff, 2);
    fake.r.resettable = 5.0;
    assert_int_equal(wr(0x6049, 2, zero), MODBUS_EX_NONE);
    assert_int_equal(fake.last_reset, ACCESS_RESET_DAY_COUNTER);
    assert_int_equal(fake.resets, 2);
    const uint8_t pw30[] = {0x00, 0x30};
    assert_int_equal(wr(0x4021, 1, pw30), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.pulse_width_ms, 30);
    const uint8_t pt2[] = {0x00, 0x02};
    assert_int_equal(wr(0x4022, 1, pt2), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.pulse_type, 2);
    assert_int_equal(wr(0x4026, 1, t2), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.data_type, 2);
    const uint8_t one[] = {0x00, 0x01};
    assert_int_equal(wr(0x4032, 1, one), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.screen_direction, 1);
    assert_int_equal(wr(0x4033, 1, one), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.obis, 1);
    /* 401F "9995 0005": the 4PU/4PS measure directly, only 5/5 is accepted. */
    int sets = fake.sets;
    const uint8_t ct9995[] = {0x99, 0x95, 0x00, 0x05};
    assert_int_equal(wr(0x401F, 2, ct9995), MODBUS_EX_ILLEGAL_VALUE);
    assert_int_equal(fake.sets, sets);
    const uint8_t ct5[] = {0x00, 0x05, 0x00, 0x05};
    assert_int_equal(wr(0x401F, 2, ct5), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.ct_primary, 5);
}

/* The CT variant (0x4002 "2PCT: 1113") takes the manual's own command
 * 01 10 401F 0002 04 9995 0005 and reads it back at 0x401F and 0x400C. */
static void test_ct_ratio(void **state)
{
    (void)state;
    fake.r.model = METER_MODEL_2PCT;
    fake.r.settings.model = METER_MODEL_2PCT;
    const uint8_t ct9995[] = {0x99, 0x95, 0x00, 0x05};
    assert_int_equal(wr(0x401F, 2, ct9995), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.ct_primary, 9995);
    uint8_t b[4];
    assert_int_equal(rd(0x401F, 2, b), MODBUS_EX_NONE);
    const uint8_t want[4] = {0x99, 0x95, 0x00, 0x05};
    assert_memory_equal(b, want, 4);
    assert_int_equal(rd(0x400C, 1, b), MODBUS_EX_NONE);
    assert_int_equal(b[0] << 8 | b[1], 0x1999); /* 9995 / 5 as BCD digits */
    /* Not a multiple of 5, a secondary other than 5, 0, past 9995: refused. */
    const uint8_t bad[][4] = {{0x99, 0x97, 0x00, 0x05},
                              {0x01, 0x00, 0x00, 0x01},
                              {0x00, 0x00, 0x00, 0x05},
                              {0x12, 0x3A, 0x00, 0x05}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wr(0x401F, 2, bad[i]), MODBUS_EX_ILLEGAL_VALUE);
    assert_int_equal(fake.r.settings.ct_primary, 9995);
}

static void test_bad_writes_change_nothing(void **state)
{
    (void)state;
    readings_t before = fake.r;
    const uint8_t id0[] = {0x00, 0x00}, id248[] = {0x00, 0xF8}, neg[] = {0xFF, 0xFF};
    assert_int_equal(wr(0x4003, 1, id0), MODBUS_EX_ILLEGAL_VALUE);
    assert_int_equal(wr(0x4003, 1, id248), MODBUS_EX_ILLEGAL_VALUE);
    assert_int_equal(wr(0x4003, 1, neg), MODBUS_EX_ILLEGAL_VALUE);
    const uint8_t b11[] = {0x00, 0x0B};
    assert_int_equal(wr(0x4004, 1, b11), MODBUS_EX_ILLEGAL_VALUE);
    const uint8_t lcd31[] = {0x00, 0x31}, lcd1a[] = {0x00, 0x1A}, lcd0[] = {0, 0};
    assert_int_equal(wr(0x4010, 1, lcd31), MODBUS_EX_ILLEGAL_VALUE);
    assert_int_equal(wr(0x4010, 1, lcd1a), MODBUS_EX_ILLEGAL_VALUE);
    assert_int_equal(wr(0x4010, 1, lcd0), MODBUS_EX_ILLEGAL_VALUE);
    uint8_t f[4];
    modbus_put_float_abcd(f, 50.0f); /* not one of the eight rates */
    assert_int_equal(wr(0x400D, 2, f), MODBUS_EX_ILLEGAL_VALUE);
    modbus_put_float_abcd(f, NAN);
    assert_int_equal(wr(0x400D, 2, f), MODBUS_EX_ILLEGAL_VALUE);
    modbus_put_float_abcd(f, 1.0f);
    assert_int_equal(wr(0x6049, 2, f), MODBUS_EX_ILLEGAL_VALUE); /* only a reset to 0 */
    const uint8_t one[] = {0x00, 0x01};
    assert_int_equal(wr(0x4016, 1, one), MODBUS_EX_ILLEGAL_VALUE);
    const uint8_t t5[] = {0x00, 0x05};
    assert_int_equal(wr(0x6048, 1, t5), MODBUS_EX_ILLEGAL_VALUE);
    /* Read-only, reserved, outside, half of a float: 02. */
    assert_int_equal(wr(0x4000, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x4002, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x5002, 2, f), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x4015, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x4025, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x7000, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x400D, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x400E, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr(0x6049, 1, one), MODBUS_EX_ILLEGAL_ADDRESS);
    /* Two registers at once: a bad second value leaves the first alone. */
    const uint8_t pw_pt[] = {0x00, 0x25, 0x00, 0x05};
    assert_int_equal(wr(0x4021, 2, pw_pt), MODBUS_EX_ILLEGAL_VALUE);
    /* A good value followed by a read-only word: 02, nothing written. */
    const uint8_t obis_more[] = {0x00, 0x01, 0x00, 0x00};
    assert_int_equal(wr(0x4033, 2, obis_more), MODBUS_EX_ILLEGAL_ADDRESS);
    assert_int_equal(fake.sets, 0);
    assert_int_equal(fake.resets, 0);
    assert_memory_equal(&fake.r, &before, sizeof before);
    /* And both at once when both are valid. */
    const uint8_t pw_pt_ok[] = {0x00, 0x25, 0x00, 0x02};
    assert_int_equal(wr(0x4021, 2, pw_pt_ok), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.pulse_width_ms, 25);
    assert_int_equal(fake.r.settings.pulse_type, 2);
}

static void test_integer_mode_writes(void **state)
{
    (void)state;
    fake.r.settings.data_type = 2;
    /* S0 rate in integer mode: imp/kWh x 1000; 0.01 imp/kWh = 10. */
    const uint8_t s0[] = {0x00, 0x00, 0x00, 0x0A};
    assert_int_equal(wr(0x400D, 2, s0), MODBUS_EX_NONE);
    assert_int_equal(fake.r.settings.s0_rate_x100, 1);
    const uint8_t s0bad[] = {0x00, 0x00, 0x00, 0x0B};
    assert_int_equal(wr(0x400D, 2, s0bad), MODBUS_EX_ILLEGAL_VALUE);
    const uint8_t zero[] = {0, 0, 0, 0};
    assert_int_equal(wr(0x6049, 2, zero), MODBUS_EX_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_float_abcd, setup),
        cmocka_unit_test_setup(test_bcd, setup),
        cmocka_unit_test_setup(test_table_is_sorted_and_in_blocks, setup),
        cmocka_unit_test_setup(test_identity_registers, setup),
        cmocka_unit_test_setup(test_instantaneous_block, setup),
        cmocka_unit_test_setup(test_energy_block_75, setup),
        cmocka_unit_test_setup(test_exception_02_edges, setup),
        cmocka_unit_test_setup(test_integer_mode, setup),
        cmocka_unit_test_setup(test_manual_write_examples, setup),
        cmocka_unit_test_setup(test_ct_ratio, setup),
        cmocka_unit_test_setup(test_bad_writes_change_nothing, setup),
        cmocka_unit_test_setup(test_integer_mode_writes, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
