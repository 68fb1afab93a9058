/* The meter's facade: one clock, one event queue, one door (issue 18).
 *
 * A request goes in through meter_line_rx() with the instants its bytes end,
 * and only meter_exec() with samples moves time: the reply must be there at
 * the first call that covers its start, not a tick before, with the start
 * time the wire timing says, whatever the size of the sample blocks. The
 * expected instants are computed here from the line settings: Modbus over
 * Serial Line V1.02 2.5.1.1 (11-bit characters, t3.5) and the meter's
 * documented 10 ms turnaround (docs/modbus.md); EN 13757-2 for M-Bus (11-bit
 * characters, the documented reply delay of 33 bit times, docs/mbus.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "meter.h"
#include "waveform.h"

#define TICK_NS 125000ull

/* The core's assertions report to cmocka here (meter_assert.h). */
void meter_assert_fail(const char *expr, const char *file, int line)
{
    mock_assert(0, expr, file, line);
}

static metrology_sample_t buf[8000];

typedef struct {
    meter_t m;
    wave_t w;
} rig_t;

static void setup_rig(rig_t *g, uint64_t save_interval_ns)
{
    memset(g, 0, sizeof *g);
    meter_init(&g->m, &(meter_desc_t){.serial = "13070001", .save_interval_ns = save_interval_ns});
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    wave_init(&g->w, &d);
}

/* Runs `ticks` samples in blocks of `block`. */
static void run(rig_t *g, uint64_t ticks, size_t block)
{
    while (ticks) {
        size_t n = ticks < block ? (size_t)ticks : block;
        wave_fill(&g->w, buf, n);
        meter_exec(&g->m, buf, n);
        ticks -= n;
    }
}

/* Two identical meters, booted and 2 s into their first windows. */
static void setup_pair(rig_t *a, rig_t *b)
{
    setup_rig(a, 0);
    setup_rig(b, 0);
    run(a, 16000, 800);
    run(b, 16000, 800);
}

/* CRC-16/MODBUS, bit by bit (Modbus over Serial Line V1.02, 6.2.2). */
static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

#define CH_9600 ((11ull * 1000000000ull + 4800) / 9600) /* 11 bits, to the nearest ns */

/* FC03 0x5002 x2 to `addr` into f[8], its bytes' ends from t0 at 9600 8E1 into t[8]. */
static void fc03_frame(uint8_t addr, uint64_t t0, uint8_t f[8], uint64_t t[8])
{
    const uint8_t pdu[6] = {addr, 0x03, 0x50, 0x02, 0x00, 0x02};
    memcpy(f, pdu, 6);
    uint16_t crc = crc16(f, 6);
    f[6] = (uint8_t)crc;
    f[7] = (uint8_t)(crc >> 8);
    for (int i = 0; i < 8; i++)
        t[i] = t0 + (uint64_t)(i + 1) * CH_9600;
}

/* Sends FC03 0x5002 x2 to ID 1 at 9600 8E1 from t0; returns its last byte's end. */
static uint64_t send_fc03(rig_t *g, uint64_t t0)
{
    uint8_t f[8];
    uint64_t t[8];
    fc03_frame(0x01, t0, f, t);
    for (int i = 0; i < 8; i++)
        meter_line_rx(&g->m, METER_LINE_MODBUS, f[i], t[i], false);
    return t[7];
}

/* Runs tick by tick until a reply shows; returns the tick count it took. */
static uint64_t ticks_until_reply(rig_t *g, meter_line_t l, uint8_t *rsp, size_t *n,
                                  uint64_t *t_start, size_t block)
{
    for (uint64_t k = 1; k < 80000; k++) {
        run(g, 1, block);
        *n = meter_line_tx(&g->m, l, rsp, 256, t_start, NULL);
        if (*n)
            return k;
    }
    return 0;
}

static void test_fc03_reply_at_its_tick(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g, 0);
    run(&g, 16000, 800); /* 2 s: the first window is published */
    uint64_t t0 = meter_now_ns(&g.m);
    uint64_t t_end = send_fc03(&g, t0);
    /* The frame ends after 3.5 characters of silence: the meter's next event. */
    uint64_t t35 = (77ull * 1000000000ull / 2 + 9600 - 1) / 9600;
    assert_int_equal(meter_deadline(&g.m), t_end + t35);
    assert_int_equal(meter_line_deadline(&g.m, METER_LINE_MODBUS), t_end + t35);

    uint64_t start_want = t_end + 10000000ull; /* the turnaround (> t3.5) */
    uint64_t tick_want = (start_want + TICK_NS - 1) / TICK_NS;
    uint8_t rsp[256];
    size_t n = 0;
    uint64_t t_start = 0;
    uint64_t took = ticks_until_reply(&g, METER_LINE_MODBUS, rsp, &n, &t_start, 1);
    assert_int_equal(t0 / TICK_NS + took, tick_want);
    assert_int_equal(t_start, start_want);
    assert_int_equal(n, 9);
    const uint8_t head[3] = {0x01, 0x03, 0x04};
    assert_memory_equal(rsp, head, 3);
    uint16_t crc = crc16(rsp, 7);
    assert_int_equal(rsp[7], crc & 0xFF);
    assert_int_equal(rsp[8], crc >> 8);
    /* 230 V as Float ABCD: 0x43660000. */
    const uint8_t v230[4] = {0x43, 0x66, 0x00, 0x00};
    assert_memory_equal(rsp + 3, v230, 4);
}

/* The same request, the samples in one block of a second: the same reply at
 * the same instant (the queue, not the host's blocks, decides). */
static void test_blocks_do_not_matter(void **state)
{
    (void)state;
    static rig_t a, b;
    setup_pair(&a, &b);
    uint64_t t0 = meter_now_ns(&a.m);
    send_fc03(&a, t0);
    send_fc03(&b, t0);
    uint8_t ra[256], rb[256];
    uint64_t sa = 0, sb = 0;
    size_t na = 0, nb = 0;
    ticks_until_reply(&a, METER_LINE_MODBUS, ra, &na, &sa, 1);
    run(&b, 8000, 8000);
    nb = meter_line_tx(&b.m, METER_LINE_MODBUS, rb, sizeof rb, &sb, NULL);
    assert_int_equal(na, nb);
    assert_int_equal(sa, sb);
    assert_memory_equal(ra, rb, na);
}

static void test_req_ud2_reply_at_its_tick(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g, 0);
    run(&g, 16000, 800);
    /* REQ_UD2 to primary address 0 at 2400 8E1 (A2.1 defaults). */
    const uint8_t f[5] = {0x10, 0x5B, 0x00, 0x5B, 0x16};
    uint64_t t0 = meter_now_ns(&g.m);
    uint64_t ch = 11ull * 1000000000ull / 2400;
    for (int i = 0; i < 5; i++)
        meter_line_rx(&g.m, METER_LINE_MBUS, f[i], t0 + (uint64_t)(i + 1) * ch, false);
    uint64_t t_end = t0 + 5 * ch;
    uint64_t start_want = t_end + 33ull * 1000000000ull / 2400;
    assert_int_equal(meter_deadline(&g.m), start_want);
    uint8_t rsp[256];
    size_t n = 0;
    uint64_t t_start = 0;
    line_settings_t ls;
    uint64_t took = ticks_until_reply(&g, METER_LINE_MBUS, rsp, &n, &t_start, 1);
    assert_int_equal(t0 / TICK_NS + took, (start_want + TICK_NS - 1) / TICK_NS);
    assert_int_equal(t_start, start_want);
    assert_true(n > 21);
    assert_int_equal(rsp[0], 0x68);
    assert_int_equal(rsp[3], 0x68);
    assert_int_equal(rsp[1] + 6, n);
    uint8_t cs = 0;
    for (size_t i = 4; i < n - 2; i++)
        cs = (uint8_t)(cs + rsp[i]);
    assert_int_equal(rsp[n - 2], cs);
    assert_int_equal(rsp[n - 1], 0x16);
    meter_line_settings(&g.m, METER_LINE_MBUS, &ls);
    assert_int_equal(ls.bps, 2400);
}

/* A host may let a meter's clock lag behind frames for other slaves
 * (meter_line_others): heard while it lags, such a frame leaves the meter as
 * it would have been had it been brought up to the frame first, and wants
 * nothing of the host (meter_line_wants). Frames to its own ID (1, the
 * default) or to all (0, Serial Line 2.1), or the rest of a frame to it, or
 * anything while it boots, must not lag. */
static void test_others_heard_while_lagging(void **state)
{
    (void)state;
    static rig_t a, b;
    setup_pair(&a, &b);
    uint64_t t0 = meter_now_ns(&a.m);
    run(&a, 4000, 800); /* a is brought up to the frame, b lags 0.5 s */
    uint64_t t1 = meter_now_ns(&a.m);
    uint8_t f[8];
    uint64_t t[8];
    fc03_frame(0x07, t1, f, t);
    assert_true(meter_line_others(&a.m, METER_LINE_MODBUS, f, t, 8));
    assert_true(meter_line_others(&b.m, METER_LINE_MODBUS, f, t, 8));
    for (int i = 0; i < 8; i++) {
        meter_line_rx(&a.m, METER_LINE_MODBUS, f[i], t[i], false);
        meter_line_rx(&b.m, METER_LINE_MODBUS, f[i], t[i], false);
    }
    uint64_t t35 = (77ull * 1000000000ull / 2 + 9600 - 1) / 9600;
    assert_int_equal(meter_line_deadline(&b.m, METER_LINE_MODBUS), t[7] + t35);
    assert_int_equal(meter_line_wants(&b.m, METER_LINE_MODBUS), VTIME_NEVER);
    assert_int_equal(meter_now_ns(&b.m), t0);
    run(&a, 8000, 800);
    run(&b, 12000, 8000); /* its first call crosses the frame's end */
    assert_int_equal(meter_now_ns(&a.m), meter_now_ns(&b.m));
    assert_int_equal(modbus_stats(&a.m.modbus)->frames, 1);
    assert_memory_equal(modbus_stats(&a.m.modbus), modbus_stats(&b.m.modbus),
                        sizeof(modbus_stats_t));
    readings_t ra, rb;
    meter_readings(&a.m, &ra);
    meter_readings(&b.m, &rb);
    assert_memory_equal(&ra, &rb, sizeof ra);
    uint8_t rsp[256];
    uint64_t ts = 0;
    assert_int_equal(meter_line_tx(&b.m, METER_LINE_MODBUS, rsp, sizeof rsp, &ts, NULL), 0);

    uint64_t t2 = meter_now_ns(&b.m);
    fc03_frame(0x01, t2, f, t);
    assert_false(meter_line_others(&b.m, METER_LINE_MODBUS, f, t, 8)); /* its own ID */
    fc03_frame(0x00, t2, f, t);
    assert_false(meter_line_others(&b.m, METER_LINE_MODBUS, f, t, 8)); /* to all */
    fc03_frame(0x01, t2, f, t);
    for (int i = 0; i < 3; i++)
        meter_line_rx(&b.m, METER_LINE_MODBUS, f[i], t[i], false);
    assert_false(
        meter_line_others(&b.m, METER_LINE_MODBUS, f + 3, t + 3, 5)); /* its frame's rest */
    assert_int_not_equal(meter_line_wants(&b.m, METER_LINE_MODBUS), VTIME_NEVER);
    for (int i = 3; i < 8; i++)
        meter_line_rx(&b.m, METER_LINE_MODBUS, f[i], t[i], false);
    run(&b, 8000, 800); /* its reply, and the line quiet again */
    assert_int_not_equal(meter_line_tx(&b.m, METER_LINE_MODBUS, rsp, sizeof rsp, &ts, NULL), 0);
    fc03_frame(0x07, meter_now_ns(&b.m), f, t);
    assert_true(meter_line_others(&b.m, METER_LINE_MODBUS, f, t, 3)); /* a frame's head: to 7 */
    meter_set_supply(&b.m, false);
    meter_set_supply(&b.m, true);
    assert_false(meter_line_others(&b.m, METER_LINE_MODBUS, f, t, 8)); /* booting */
    /* The M-Bus slave never says: its addressing is not one byte. */
    assert_false(meter_line_others(&a.m, METER_LINE_MBUS, f, t, 8));
}

/* Save points come from the queue at their exact instants; a setting asks
 * for a save at once. */
static void test_save_points(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g, 1000000000ull);
    assert_false(meter_save_due(&g.m));
    run(&g, 7999, 7999);
    assert_false(meter_save_due(&g.m));
    run(&g, 1, 1);
    assert_true(meter_save_due(&g.m));
    meter_saved(&g.m);
    assert_int_equal(meter_deadline(&g.m) <= 2000000000ull, true);
    assert_int_equal(meter_set(&g.m, SETTING_TARIFF, 2), SETTINGS_OK);
    assert_true(meter_save_due(&g.m));
    meter_saved(&g.m);
    assert_int_not_equal(meter_set(&g.m, SETTING_MODBUS_ID, 300), SETTINGS_OK);
    assert_false(meter_save_due(&g.m));
}

/* Presets go through the facade and its checks (6.2: 6+3 digits). */
static void test_presets(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g, 0);
    int reg = energy_register_find("active_forward.T1");
    assert_true(reg >= 0);
    assert_true(meter_preset_register(&g.m, (unsigned)reg, 1234500000000ll));
    assert_false(meter_preset_register(&g.m, (unsigned)reg, -1));
    assert_false(meter_preset_register(&g.m, (unsigned)reg, 1000000000000000ll));
    readings_t r;
    meter_readings(&g.m, &r);
    assert_true(r.active_forward.tariff[0] == 1234.5);
    meter_preset_power_down_count(&g.m, 7);
    meter_readings(&g.m, &r);
    assert_int_equal(r.power_down_count, 7);
    char name[32];
    for (unsigned i = 0; i < ENERGY_REGISTERS; i++)
        assert_int_equal(energy_register_find(energy_register_name(i, name)), (int)i);
}

/* What only a programmer gets wrong trips an assertion. */
static void test_asserts(void **state)
{
    (void)state;
    static rig_t g;
    static meter_t never;
    setup_rig(&g, 0);
    uint8_t b[8];
    expect_assert_failure(meter_exec(NULL, buf, 1));
    expect_assert_failure(meter_exec(&never, buf, 1)); /* not meter_init'ed */
    expect_assert_failure(meter_line_rx(&g.m, METER_LINES, 0, 0, false));
    expect_assert_failure(meter_line_tx(&g.m, (meter_line_t)7, b, sizeof b, NULL, NULL));
    expect_assert_failure(meter_preset_register(&g.m, ENERGY_REGISTERS, 0));
    expect_assert_failure(meter_button(&g.m, MENU_BUTTON_COUNT, true));
    expect_assert_failure(meter_init(&never, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fc03_reply_at_its_tick),
        cmocka_unit_test(test_blocks_do_not_matter),
        cmocka_unit_test(test_req_ud2_reply_at_its_tick),
        cmocka_unit_test(test_others_heard_while_lagging),
        cmocka_unit_test(test_save_points),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_asserts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
