/* Tests of the Modbus RTU slave machine: framing in virtual time (Modbus over
 * Serial Line V1.02, 2.5.1.1), functions and exceptions (Application Protocol
 * V1.1b3), the manual's A3.3 examples byte for byte, and fast mode. Times and
 * CRCs are computed here from their definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "modbus.h"

/* ---- fake meter ---- */
typedef struct {
    readings_t r;
    int sets, resets, reads;
} fake_t;
static void fake_read(void *ctx, readings_t *out)
{
    ((fake_t *)ctx)->reads++;
    *out = ((fake_t *)ctx)->r;
}
static settings_err_t fake_set(void *ctx, setting_id_t id, int32_t v)
{
    fake_t *f = ctx;
    settings_err_t e = settings_set(&f->r.settings, id, v);
    f->sets += e == SETTINGS_OK;
    return e;
}
static void fake_reset(void *ctx, access_reset_t what)
{
    (void)what;
    ((fake_t *)ctx)->resets++;
}
static fake_t fake;
static const access_t acc = {&fake, fake_read, fake_set, fake_reset};

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    settings_defaults(&fake.r.settings, 13070001);
    fake.r.voltage[0] = 230.0;
    fake.r.tariff = 1;
    return 0;
}

/* ---- helpers ---- */

/* CRC-16/MODBUS, bit by bit (Serial Line V1.02, 6.2.2). */
static uint16_t crc(const uint8_t *d, size_t n)
{
    uint16_t c = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA001) : (uint16_t)(c >> 1);
    }
    return c;
}

/* Appends the CRC (low byte first) to f[0..n); returns n + 2. */
static size_t with_crc(uint8_t *f, size_t n)
{
    uint16_t c = crc(f, n);
    f[n] = (uint8_t)c;
    f[n + 1] = (uint8_t)(c >> 8);
    return n + 2;
}

/* 9600 bit/s, 8E1: 11 bits a character; t1.5 and t3.5 of 11-bit characters. */
#define CHAR_9600 ((11ull * 1000000000ull + 4800) / 9600)
#define T15_9600 ((33ull * 1000000000ull / 2 + 9599) / 9600)
#define T35_9600 ((77ull * 1000000000ull / 2 + 9599) / 9600)
#define MS 1000000ull

/* Sends n bytes back to back, the first starting at t0; returns the end of the last. */
static uint64_t send(modbus_t *mb, const uint8_t *f, size_t n, uint64_t t0)
{
    uint64_t t = t0;
    for (size_t i = 0; i < n; i++) {
        t += modbus_char_ns(mb);
        modbus_rx(mb, f[i], t, false);
    }
    return t;
}

/* Advances through every deadline up to `until`. */
static void run_to(modbus_t *mb, uint64_t until)
{
    for (uint64_t d; (d = modbus_deadline(mb)) <= until;)
        modbus_advance(mb, d);
    modbus_advance(mb, until);
}

/* Runs until a reply is handed out (or `until`); returns its length. */
static size_t reply(modbus_t *mb, uint8_t *buf, uint64_t *t_start, uint64_t until)
{
    for (;;) {
        size_t n = modbus_tx(mb, buf, MODBUS_ADU_MAX, t_start);
        if (n)
            return n;
        uint64_t d = modbus_deadline(mb);
        if (d > until)
            return 0;
        modbus_advance(mb, d);
    }
}

static void init_wire(modbus_t *mb)
{
    modbus_init(mb, &acc, NULL);
}

/* ---- framing ---- */

static void test_defaults_and_timers(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    assert_int_equal(modbus_line(&mb)->id, 1);
    assert_int_equal(modbus_line(&mb)->bps, 9600);
    assert_int_equal(modbus_line(&mb)->parity, MODBUS_PARITY_EVEN);
    assert_int_equal(modbus_char_ns(&mb), CHAR_9600);
    assert_int_equal(mb.t15_ns, T15_9600);
    assert_int_equal(mb.t35_ns, T35_9600);
    assert_int_equal(modbus_deadline(&mb), VTIME_NEVER);
    /* Above 19200 the timers are fixed (2.5.1.1). */
    fake.r.settings.modbus_baud = 10;
    fake.r.settings.modbus_parity = MODBUS_PARITY_NONE;
    modbus_sync(&mb);
    assert_int_equal(mb.t15_ns, 750000);
    assert_int_equal(mb.t35_ns, 1750000);
    assert_int_equal(modbus_char_ns(&mb), (10ull * 1000000000ull + 57600) / 115200);
    fake.r.settings.modbus_baud = 7; /* 19200: still character based */
    modbus_sync(&mb);
    assert_int_equal(mb.t35_ns, (77ull * 1000000000ull / 2 + 19199) / 19200);
}

static void test_read_l1_voltage_timing(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint8_t f[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02};
    size_t n = with_crc(f, 6);
    uint64_t t0 = 5 * MS;
    uint64_t t_end = send(&mb, f, n, t0);
    assert_int_equal(t_end, t0 + 8 * CHAR_9600);
    /* The frame ends after t3.5 of silence, not one nanosecond earlier. */
    assert_int_equal(modbus_deadline(&mb), t_end + T35_9600);
    modbus_advance(&mb, t_end + T35_9600 - 1);
    assert_int_equal(modbus_stats(&mb)->frames, 0);
    modbus_advance(&mb, t_end + T35_9600);
    assert_int_equal(modbus_stats(&mb)->frames, 1);
    /* The reply is due 10 ms (the default turnaround) after the request's end. */
    uint8_t r[MODBUS_ADU_MAX];
    uint64_t ts = 0;
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 0);
    assert_int_equal(modbus_deadline(&mb), t_end + 10 * MS);
    n = reply(&mb, r, &ts, VTIME_NEVER);
    assert_int_equal(ts, t_end + MODBUS_TURNAROUND_DEFAULT_NS);
    uint8_t want[9] = {0x01, 0x03, 0x04, 0x43, 0x66, 0x00, 0x00};
    assert_int_equal(n, with_crc(want, 7));
    assert_memory_equal(r, want, n);
    assert_int_equal(modbus_deadline(&mb), VTIME_NEVER);
    assert_int_equal(modbus_last_request_ns(&mb), t_end);
}

static void test_turnaround_setting_and_floor(void **state)
{
    (void)state;
    modbus_t mb;
    modbus_desc_t d = {.turnaround_ns = 1}; /* shorter than t3.5: t3.5 wins */
    modbus_init(&mb, &acc, &d);
    uint8_t f[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02}, r[MODBUS_ADU_MAX];
    uint64_t t_end = send(&mb, f, with_crc(f, 6), 0), ts;
    assert_true(reply(&mb, r, &ts, VTIME_NEVER) > 0);
    assert_int_equal(ts, t_end + T35_9600);
    d.turnaround_ns = 50 * MS;
    modbus_init(&mb, &acc, &d);
    t_end = send(&mb, f, 8, 0);
    assert_true(reply(&mb, r, &ts, VTIME_NEVER) > 0);
    assert_int_equal(ts, t_end + 50 * MS);
}

static void test_gap_over_t15_drops_frame(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint8_t f[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02}, r[MODBUS_ADU_MAX];
    with_crc(f, 6);
    /* 4 bytes, then a gap of t1.5 + 1 ns (less than t3.5), then the rest. */
    uint64_t t = send(&mb, f, 4, 0);
    t = send(&mb, f + 4, 4, t + T15_9600 + 1);
    uint64_t ts;
    assert_int_equal(reply(&mb, r, &ts, t + 100 * MS), 0);
    assert_int_equal(modbus_stats(&mb)->gap_errors, 1);
    assert_int_equal(modbus_stats(&mb)->frames, 0);
    /* A gap of exactly t1.5 is still inside the frame, and split calls with
     * advances in between change nothing. */
    uint64_t t2 = send(&mb, f, 3, t + 200 * MS);
    modbus_advance(&mb, t2 + T15_9600 / 2);
    t2 = send(&mb, f + 3, 5, t2 + T15_9600);
    assert_int_equal(reply(&mb, r, &ts, VTIME_NEVER), 9);
    assert_int_equal(modbus_stats(&mb)->gap_errors, 1);
}

static void test_crc_and_line_errors_drop(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint8_t f[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02}, r[MODBUS_ADU_MAX];
    with_crc(f, 6);
    f[7] ^= 0x01;
    uint64_t ts, t = send(&mb, f, 8, 0);
    assert_int_equal(reply(&mb, r, &ts, t + 100 * MS), 0);
    assert_int_equal(modbus_stats(&mb)->crc_errors, 1);
    f[7] ^= 0x01;
    /* A parity error on one byte drops the whole frame. */
    t += 100 * MS;
    for (int i = 0; i < 8; i++) {
        t += CHAR_9600;
        modbus_rx(&mb, f[i], t, i == 5);
    }
    assert_int_equal(reply(&mb, r, &ts, t + 100 * MS), 0);
    assert_int_equal(modbus_stats(&mb)->line_errors, 1);
    /* Too short a frame. */
    t = send(&mb, f, 3, t + 100 * MS);
    assert_int_equal(reply(&mb, r, &ts, t + 100 * MS), 0);
    assert_int_equal(modbus_stats(&mb)->short_frames, 1);
    assert_int_equal(fake.reads, 1); /* only modbus_init read the meter */
}

static void test_back_to_back_frames(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint8_t other[8] = {0x02, 0x03, 0x50, 0x02, 0x00, 0x02};
    uint8_t mine[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02}, r[MODBUS_ADU_MAX];
    with_crc(other, 6);
    with_crc(mine, 6);
    /* A frame for slave 2, exactly t3.5 of silence, a frame for us: two
     * frames, one answer, for us; the frame for 2 gets none. */
    uint64_t t = send(&mb, other, 8, 0);
    t = send(&mb, mine, 8, t + T35_9600);
    uint64_t ts;
    assert_int_equal(reply(&mb, r, &ts, VTIME_NEVER), 9);
    assert_int_equal(ts, t + 10 * MS);
    assert_int_equal(modbus_stats(&mb)->frames, 2);
    assert_int_equal(modbus_stats(&mb)->requests, 1);
    /* Two frames with less than t3.5 (but more than t1.5) between them are one
     * broken frame: no answer. */
    t = send(&mb, mine, 8, ts + 100 * MS);
    t = send(&mb, mine, 8, t + T35_9600 - 1000);
    assert_int_equal(reply(&mb, r, &ts, t + 100 * MS), 0);
    /* Longer than 256 bytes: dropped. */
    uint8_t big[300];
    memset(big, 0x01, sizeof big);
    t = send(&mb, big, sizeof big, t + 100 * MS);
    assert_int_equal(reply(&mb, r, &ts, t + 100 * MS), 0);
    assert_int_equal(modbus_stats(&mb)->overruns, 1);
}

/* ---- functions and exceptions ---- */

/* Sends a request and returns the reply (0 if none) with the time run far on. */
static size_t transact(modbus_t *mb, const uint8_t *req, size_t n, uint8_t *r, uint64_t *t)
{
    uint64_t ts;
    *t = send(mb, req, n, *t + 100 * MS);
    size_t len = reply(mb, r, &ts, *t + 1000 * MS);
    if (len)
        *t = ts + len * modbus_char_ns(mb);
    run_to(mb, *t + 1000 * MS);
    *t += 1000 * MS;
    return len;
}

static void expect_exception(modbus_t *mb, uint64_t *t, const uint8_t *pdu, size_t n, uint8_t code)
{
    uint8_t req[MODBUS_ADU_MAX], r[MODBUS_ADU_MAX], want[5];
    req[0] = 0x01;
    memcpy(req + 1, pdu, n);
    size_t len = transact(mb, req, with_crc(req, n + 1), r, t);
    want[0] = 0x01;
    want[1] = (uint8_t)(pdu[0] | 0x80);
    want[2] = code;
    assert_int_equal(len, with_crc(want, 3));
    assert_memory_equal(r, want, 5);
}

static void test_exceptions(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint64_t t = 0;
    readings_t before = fake.r;
    const uint8_t fc01[] = {0x01, 0x00, 0x00, 0x00, 0x01};
    expect_exception(&mb, &t, fc01, 5, 0x01);
    const uint8_t fc2b[] = {0x2B, 0x0E, 0x01, 0x00};
    expect_exception(&mb, &t, fc2b, 4, 0x01);
    const uint8_t fc05[] = {0x05, 0x00, 0x00, 0xFF, 0x00};
    expect_exception(&mb, &t, fc05, 5, 0x01);
    const uint8_t rd_out[] = {0x03, 0x70, 0x00, 0x00, 0x01};
    expect_exception(&mb, &t, rd_out, 5, 0x02);
    const uint8_t rd_span[] = {0x03, 0x40, 0x30, 0x00, 0x08};
    expect_exception(&mb, &t, rd_span, 5, 0x02);
    const uint8_t rd126[] = {0x03, 0x60, 0x00, 0x00, 0x7E}; /* more than 125 */
    expect_exception(&mb, &t, rd126, 5, 0x03);
    const uint8_t rd0[] = {0x03, 0x60, 0x00, 0x00, 0x00};
    expect_exception(&mb, &t, rd0, 5, 0x03);
    const uint8_t wr_ro[] = {0x06, 0x50, 0x00, 0x00, 0x01};
    expect_exception(&mb, &t, wr_ro, 5, 0x02);
    const uint8_t wr_bad[] = {0x06, 0x40, 0x03, 0x00, 0xF8}; /* ID 248 */
    expect_exception(&mb, &t, wr_bad, 5, 0x03);
    const uint8_t wr16_cnt[] = {0x10, 0x40, 0x0D, 0x00, 0x02, 0x02, 0x41, 0x20};
    expect_exception(&mb, &t, wr16_cnt, 8, 0x03); /* byte count 2 for 2 registers */
    const uint8_t wr16_bad[] = {0x10, 0x40, 0x0D, 0x00, 0x02, 0x04, 0x42, 0x48, 0x00, 0x00};
    expect_exception(&mb, &t, wr16_bad, 10, 0x03); /* 50 imp/kWh */
    assert_int_equal(fake.sets, 0);
    assert_memory_equal(&fake.r, &before, sizeof before);
    assert_int_equal(modbus_line(&mb)->id, 1);
    assert_int_equal(modbus_stats(&mb)->exceptions, 11);
}

static void test_fc04_answers_as_fc03(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint64_t t = 0;
    uint8_t q3[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02},
            q4[8] = {0x01, 0x04, 0x50, 0x02, 0x00, 0x02};
    uint8_t r3[MODBUS_ADU_MAX], r4[MODBUS_ADU_MAX];
    assert_int_equal(transact(&mb, q3, with_crc(q3, 6), r3, &t), 9);
    assert_int_equal(transact(&mb, q4, with_crc(q4, 6), r4, &t), 9);
    assert_int_equal(r4[1], 0x04);
    assert_memory_equal(r3 + 2, r4 + 2, 5);
}

static void test_block_read_75_from_6000(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    fake.r.tariff = 3;
    uint64_t t = 0;
    uint8_t q[8] = {0x01, 0x03, 0x60, 0x00, 0x00, 75}, r[MODBUS_ADU_MAX];
    assert_int_equal(transact(&mb, q, with_crc(q, 6), r, &t), 3 + 150 + 2);
    assert_int_equal(r[2], 150);
    assert_int_equal(r[3 + 2 * 0x48], 0x00);
    assert_int_equal(r[3 + 2 * 0x48 + 1], 3);
    assert_int_equal(crc(r, 155), 0);
    /* The largest read, 125 registers, fits the 256-byte ADU. */
    uint8_t q125[8] = {0x01, 0x03, 0x60, 0x00, 0x00, 125};
    assert_int_equal(transact(&mb, q125, with_crc(q125, 6), r, &t), 255);
}

/* A3.3: "01 06 4003 000A (new ID: 10)": the echo goes out from ID 1, then ID 10 holds. */
static void test_manual_id_change_after_reply(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint8_t q[8] = {0x01, 0x06, 0x40, 0x03, 0x00, 0x0A}, r[MODBUS_ADU_MAX];
    size_t n = with_crc(q, 6);
    uint64_t ts, t = send(&mb, q, n, 0);
    size_t len = reply(&mb, r, &ts, VTIME_NEVER);
    assert_int_equal(len, 8);
    assert_memory_equal(r, q, 8);                    /* the echo */
    assert_int_equal(fake.r.settings.modbus_id, 10); /* kept by the meter at once */
    uint64_t t_done = ts + 8 * CHAR_9600;
    assert_int_equal(modbus_line(&mb)->id, 1); /* but answering as 1 ... */
    assert_int_equal(modbus_deadline(&mb), t_done);
    modbus_advance(&mb, t_done - 1);
    assert_int_equal(modbus_line(&mb)->id, 1);
    modbus_advance(&mb, t_done);
    assert_int_equal(modbus_line(&mb)->id, 10); /* ... until its reply is out */
    /* Now 1 is silent and 10 answers. */
    t = t_done;
    uint8_t q1[8] = {0x01, 0x03, 0x40, 0x03, 0x00, 0x01};
    assert_int_equal(transact(&mb, q1, with_crc(q1, 6), r, &t), 0);
    uint8_t q10[8] = {0x0A, 0x03, 0x40, 0x03, 0x00, 0x01};
    assert_int_equal(transact(&mb, q10, with_crc(q10, 6), r, &t), 7);
    assert_int_equal(r[4], 10);
}

static void test_baud_and_parity_change(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint64_t t = 0;
    uint8_t q[8] = {0x01, 0x06, 0x40, 0x04, 0x00, 0x07}, r[MODBUS_ADU_MAX]; /* 19200 */
    assert_int_equal(transact(&mb, q, with_crc(q, 6), r, &t), 8);
    assert_int_equal(modbus_line(&mb)->bps, 19200);
    assert_int_equal(modbus_char_ns(&mb), (11ull * 1000000000ull + 9600) / 19200);
    uint8_t p[8] = {0x01, 0x06, 0x40, 0x11, 0x00, 0x02}; /* "new parity: none" */
    assert_int_equal(transact(&mb, p, with_crc(p, 6), r, &t), 8);
    assert_memory_equal(r, p, 8);
    assert_int_equal(modbus_line(&mb)->parity, MODBUS_PARITY_NONE);
    assert_int_equal(modbus_line(&mb)->bits, 10);
}

static void test_broadcast(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint64_t t = 0;
    uint8_t r[MODBUS_ADU_MAX];
    uint8_t rd[8] = {0x00, 0x03, 0x50, 0x02, 0x00, 0x02};
    assert_int_equal(transact(&mb, rd, with_crc(rd, 6), r, &t), 0);
    uint8_t bad[8] = {0x00, 0x06, 0x40, 0x03, 0x00, 0x00};
    assert_int_equal(transact(&mb, bad, with_crc(bad, 6), r, &t), 0); /* no exception either */
    uint8_t unk[4] = {0x00, 0x2B};
    assert_int_equal(transact(&mb, unk, with_crc(unk, 2), r, &t), 0);
    assert_int_equal(modbus_stats(&mb)->replies, 0);
    uint8_t wr[8] = {0x00, 0x06, 0x40, 0x03, 0x00, 0x0A};
    assert_int_equal(transact(&mb, wr, with_crc(wr, 6), r, &t), 0);
    assert_int_equal(fake.r.settings.modbus_id, 10);
    assert_int_equal(modbus_line(&mb)->id, 10);
    uint8_t s0[13] = {0x00, 0x10, 0x40, 0x0D, 0x00, 0x02, 0x04, 0x41, 0x20, 0x00, 0x00};
    assert_int_equal(transact(&mb, s0, with_crc(s0, 11), r, &t), 0);
    assert_int_equal(fake.r.settings.s0_rate_x100, 1000);
}

static void test_manual_fc16_examples(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint64_t t = 0;
    uint8_t r[MODBUS_ADU_MAX];
    /* "01 10 400D 0002 04 41 20 00 00 (new S0: 10)" */
    uint8_t s0[13] = {0x01, 0x10, 0x40, 0x0D, 0x00, 0x02, 0x04, 0x41, 0x20, 0x00, 0x00};
    uint8_t want[8] = {0x01, 0x10, 0x40, 0x0D, 0x00, 0x02};
    assert_int_equal(transact(&mb, s0, with_crc(s0, 11), r, &t), with_crc(want, 6));
    assert_memory_equal(r, want, 8);
    assert_int_equal(fake.r.settings.s0_rate_x100, 1000);
    /* "01 10 6049 0002 04 0000 0000": reset the day counter. */
    uint8_t dc[13] = {0x01, 0x10, 0x60, 0x49, 0x00, 0x02, 0x04, 0, 0, 0, 0};
    assert_int_equal(transact(&mb, dc, with_crc(dc, 11), r, &t), 8);
    assert_int_equal(fake.resets, 1);
    /* "01 06 4010 0025 (new time: 25 sec.)" */
    uint8_t lcd[8] = {0x01, 0x06, 0x40, 0x10, 0x00, 0x25};
    assert_int_equal(transact(&mb, lcd, with_crc(lcd, 6), r, &t), 8);
    assert_int_equal(fake.r.settings.lcd_cycle_s, 25);
}

static void test_bytes_during_reply_ignored(void **state)
{
    (void)state;
    modbus_t mb;
    init_wire(&mb);
    uint8_t q[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02}, r[MODBUS_ADU_MAX];
    with_crc(q, 6);
    uint64_t t = send(&mb, q, 8, 0), ts;
    /* The master repeats itself 6 ms later, before the meter's reply. */
    send(&mb, q, 8, t + 6 * MS);
    assert_int_equal(reply(&mb, r, &ts, VTIME_NEVER), 9);
    assert_true(modbus_stats(&mb)->busy_drops > 0);
    assert_int_equal(modbus_stats(&mb)->requests, 1);
}

/* ---- fast mode ---- */

static void test_fast_mode(void **state)
{
    (void)state;
    modbus_t mb;
    modbus_desc_t d = {.fast = true};
    modbus_init(&mb, &acc, &d);
    uint8_t q[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02}, r[MODBUS_ADU_MAX];
    with_crc(q, 6);
    uint64_t ts = 0;
    /* All bytes at the same instant: answered at that instant. */
    for (int i = 0; i < 7; i++)
        modbus_rx(&mb, q[i], 1000, false);
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 0);
    modbus_rx(&mb, q[7], 1000, false);
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 9);
    assert_int_equal(ts, 1000);
    assert_int_equal(r[3], 0x43);
    /* Garbage, then a request: resynchronised. */
    const uint8_t junk[] = {0x55, 0x01, 0x03, 0xFF, 0x10};
    for (size_t i = 0; i < sizeof junk; i++)
        modbus_rx(&mb, junk[i], 2000, false);
    for (int i = 0; i < 8; i++)
        modbus_rx(&mb, q[i], 2000, false);
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 9);
    /* A frame for another ID is consumed whole, then ours follows at once. */
    uint8_t o[8] = {0x07, 0x03, 0x50, 0x02, 0x00, 0x02};
    with_crc(o, 6);
    for (int i = 0; i < 8; i++)
        modbus_rx(&mb, o[i], 3000, false);
    for (int i = 0; i < 8; i++)
        modbus_rx(&mb, q[i], 3000, false);
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 9);
    assert_int_equal(modbus_stats(&mb)->frames, 4);
    /* An unknown function code: exception 01, found by its CRC. */
    uint8_t u[4] = {0x01, 0x41};
    with_crc(u, 2);
    for (int i = 0; i < 4; i++)
        modbus_rx(&mb, u[i], 4000, false);
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 5);
    assert_int_equal(r[1], 0xC1);
    /* An ID change applies when its reply is handed out. */
    uint8_t w[8] = {0x01, 0x06, 0x40, 0x03, 0x00, 0x0A};
    with_crc(w, 6);
    for (int i = 0; i < 8; i++)
        modbus_rx(&mb, w[i], 5000, false);
    assert_int_equal(modbus_line(&mb)->id, 1);
    assert_int_equal(modbus_tx(&mb, r, sizeof r, &ts), 8);
    assert_int_equal(modbus_line(&mb)->id, 10);
    /* A stalled partial frame is flushed after the flush time. */
    for (int i = 0; i < 3; i++)
        modbus_rx(&mb, q[i], 6000, false);
    assert_int_equal(modbus_deadline(&mb), 6000 + MODBUS_FAST_FLUSH_DEFAULT_NS + 1);
    modbus_advance(&mb, modbus_deadline(&mb));
    assert_int_equal(mb.rx_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_and_timers, setup),
        cmocka_unit_test_setup(test_read_l1_voltage_timing, setup),
        cmocka_unit_test_setup(test_turnaround_setting_and_floor, setup),
        cmocka_unit_test_setup(test_gap_over_t15_drops_frame, setup),
        cmocka_unit_test_setup(test_crc_and_line_errors_drop, setup),
        cmocka_unit_test_setup(test_back_to_back_frames, setup),
        cmocka_unit_test_setup(test_exceptions, setup),
        cmocka_unit_test_setup(test_fc04_answers_as_fc03, setup),
        cmocka_unit_test_setup(test_block_read_75_from_6000, setup),
        cmocka_unit_test_setup(test_manual_id_change_after_reply, setup),
        cmocka_unit_test_setup(test_baud_and_parity_change, setup),
        cmocka_unit_test_setup(test_broadcast, setup),
        cmocka_unit_test_setup(test_manual_fc16_examples, setup),
        cmocka_unit_test_setup(test_bytes_during_reply_ignored, setup),
        cmocka_unit_test_setup(test_fast_mode, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
