/* Energy integration and registers: long-run precision through the whole
 * pipeline (waveform -> metrology -> energy), no creep, the manual's
 * combination-code table (6.6.15), tariffs (A1) and rollover (6.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "meter.h"
#include "waveform.h"

static metrology_sample_t buf[8000];

static void run(meter_t *m, wave_t *w, uint64_t seconds)
{
    for (uint64_t s = 0; s < seconds; s++) {
        wave_fill(w, buf, 8000);
        meter_exec(m, buf, 8000);
    }
}

/* Seconds of a run from power-up during which the meter measured: it boots
 * first (METER_BOOT_NS, docs/decisions.md). */
static double measured_s(double seconds)
{
    return seconds - (double)METER_BOOT_NS / 1e9;
}

static void assert_rel(double got, double want, double tol)
{
    if (fabs(got - want) > tol * fabs(want)) {
        print_error("got %.9f, expected %.9f (tolerance %g %%)\n", got, want, tol * 100);
        fail();
    }
}

/* 3 x 230 V x 10 A at PF 1: 6.9 kW, so 6.900 kWh an hour, 165.6 kWh a day. */
static void test_one_day_constant_load(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    wave_t w;
    wave_init(&w, &d);
    meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    readings_t r;

    run(&m, &w, 3600);
    meter_readings(&m, &r);
    double h = measured_s(3600) / 3600;
    assert_rel(r.active_forward.total, 3 * 230.0 * 10.0 / 1000.0 * h, 1e-4);
    assert_rel(r.active_total.total, 6.9 * h, 1e-4);
    for (int k = 0; k < 3; k++)
        assert_rel(r.active_forward.phase[k], 2.3 * h, 1e-4);
    assert_true(r.active_reverse.total == 0.0);

    run(&m, &w, 23 * 3600);
    meter_readings(&m, &r);
    assert_rel(r.active_forward.total, 6.9 * measured_s(24 * 3600) / 3600, 1e-4);
    /* The registers are exact integer sums of the same quanta. */
    assert_true(m.energy.forward[0].slot[ENERGY_TOTAL] ==
                m.energy.forward[0].slot[ENERGY_L1] + m.energy.forward[0].slot[ENERGY_L1 + 1] +
                    m.energy.forward[0].slot[ENERGY_L1 + 2]);
    assert_true(m.energy.forward[0].slot[ENERGY_TOTAL] == m.energy.forward[0].slot[ENERGY_T1]);
}

/* Below the starting current (20 mA) a phase registers nothing (4). */
static void test_no_creep(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    d.phase[1].current = 0.019;
    d.phase[2].current = 0.0199;
    wave_t w;
    wave_init(&w, &d);
    meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    run(&m, &w, 3600);
    readings_t r;
    meter_readings(&m, &r);
    assert_true(r.active_forward.phase[1] == 0.0 && r.active_reverse.phase[1] == 0.0);
    assert_true(r.active_forward.phase[2] == 0.0 && r.active_reverse.phase[2] == 0.0);
    assert_true(r.reactive_forward.phase[1] == 0.0);
    assert_rel(r.active_forward.phase[0], 2.3 * measured_s(3600) / 3600, 1e-4);
    /* ...while the current itself is still measured. */
    assert_rel(r.current[1], 0.019, 5e-4);
}

/* At exactly the starting current a phase does register. */
static void test_starts_at_20ma(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 0.020, 0.0);
    wave_t w;
    wave_init(&w, &d);
    meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    run(&m, &w, 600);
    readings_t r;
    meter_readings(&m, &r);
    assert_rel(r.active_forward.phase[0], 230.0 * 0.020 / 1000.0 * measured_s(600) / 3600, 1e-4);
}

/* Feeds cycles in which L1, L2, L3 carry the given kWh in total, spread over
 * n cycles that flow at the same time. */
static void feed_kwh(energy_t *e, const double kwh[3], int n, int tariff, int code)
{
    metrology_cycle_t c = {.ticks = 160.0};
    for (int k = 0; k < 3; k++) {
        c.p_ws[k] = kwh[k] * 3.6e6 / n;
        c.started[k] = true;
    }
    for (int i = 0; i < n; i++)
        energy_add_cycle(e, &c, tariff, code, NULL);
}

/* The manual's table (6.6.15): L1 +5 kWh, L2 +5 kWh, L3 -12 kWh. */
static void test_combination_code_table(void **state)
{
    (void)state;
    static const double flow[3] = {5.0, 5.0, -12.0};
    static const struct {
        double total, forward, reverse;
    } table[5] = {
        {10, 10, -12}, {-12, 10, -12}, {22, 10, 12}, {-2, 10, -12}, {-2, 0, -2},
    };
    for (int code = 1; code <= 5; code++) {
        energy_t e;
        energy_init(&e);
        feed_kwh(&e, flow, 1000, 1, code);
        readings_t r = {0};
        energy_read(&e, &r);
        assert_rel(r.active_total.total, table[code - 1].total, 1e-9);
        assert_rel(r.active_forward.total, table[code - 1].forward, 1e-9);
        if (table[code - 1].forward == 0.0)
            assert_true(r.active_forward.total == 0.0);
        /* The table is the LCD's; every interface reads the magnitude. */
        assert_true(r.active_reverse.total >= 0.0);
        assert_rel(energy_lcd_sign(code) * r.active_reverse.total, table[code - 1].reverse, 1e-9);
        /* The trip counter counts what total counts (6.6.13). */
        assert_rel(r.resettable, table[code - 1].total, 1e-9);
    }
}

/* T1/T2 by time share, T3/T4 only when selected. */
static void test_tariff_split(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    wave_t w;
    wave_init(&w, &d);
    meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    run(&m, &w, 600); /* 10 min T1 */
    meter_set_tariff_input(&m, true);
    assert_int_equal(meter_tariff(&m), 2);
    run(&m, &w, 1200); /* 20 min T2 */
    meter_set_tariff_input(&m, false);
    access_t acc = meter_access(&m);
    assert_int_equal(acc.set(acc.ctx, SETTING_TARIFF, 3), SETTINGS_OK);
    meter_set_tariff_input(&m, true); /* ignored while T3 is selected */
    assert_int_equal(meter_tariff(&m), 3);
    run(&m, &w, 300); /* 5 min T3 */
    assert_int_equal(acc.set(acc.ctx, SETTING_TARIFF, 4), SETTINGS_OK);
    run(&m, &w, 900); /* 15 min T4 */
    readings_t r;
    meter_readings(&m, &r);
    const double kw = 6.9;
    /* A switch inside a mains cycle splits that cycle by time: the shares are
     * exact to the register's micro-watt-hour. Only T4's last cycle is still
     * being measured when the registers are read. */
    const double exact = 2e-9, one_cycle = kw * 0.02 / 3600.0;
    /* T1 starts when the boot ends: the metrology starts on that sample, so
     * T1 is exact to that one sample's share. */
    const double one_sample = kw / 8000.0 / 3600.0;
    assert_true(fabs(r.active_forward.tariff[0] - kw * measured_s(600) / 3600) <=
                exact + one_sample);
    assert_true(fabs(r.active_forward.tariff[1] - kw * 1200 / 3600) <= exact);
    assert_true(fabs(r.active_forward.tariff[2] - kw * 300 / 3600) <= exact);
    assert_true(kw * 900 / 3600 - r.active_forward.tariff[3] <= one_cycle + exact);
    assert_true(r.settings.t34_activated);
    assert_rel(r.active_forward.total, kw * measured_s(3000) / 3600, 1e-4);
    assert_rel(r.active_total.tariff[1], kw * 1200 / 3600, 1e-9);
}

/* 999999.999 kWh is followed by 000000.000 (6.2). */
static void test_rollover(void **state)
{
    (void)state;
    energy_t e;
    energy_init(&e);
    e.forward[0].slot[ENERGY_TOTAL] = 999999999 * (int64_t)1000000; /* 999999.999 kWh in uWh */
    e.total[0].slot[ENERGY_TOTAL] = e.forward[0].slot[ENERGY_TOTAL];
    const double kwh[3] = {0.002, 0.0, 0.0};
    feed_kwh(&e, kwh, 1, 1, 1);
    readings_t r = {0};
    energy_read(&e, &r);
    assert_rel(r.active_forward.total, 0.001, 1e-6);
    assert_rel(r.active_total.total, 0.001, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combination_code_table),
        cmocka_unit_test(test_rollover),
        cmocka_unit_test(test_no_creep),
        cmocka_unit_test(test_starts_at_20ma),
        cmocka_unit_test(test_tariff_split),
        cmocka_unit_test(test_one_day_constant_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
