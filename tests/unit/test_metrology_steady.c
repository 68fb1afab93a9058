/* The closed-form cycle sums (core/metrology_steady, meter_exec_steady)
 * against the sample path (wave_fill + meter_exec) on the same waveform:
 * harmonics, 49.5 Hz, every connection type. Without noise the two must
 * agree to rounding (1e-9 here; they differ by about 1e-14), with noise the
 * closed form must add exactly sigma^2 per tick to the squares (a formula
 * computed here), and the closed form must not depend on how the calls are
 * cut. Issue 14, point 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "meter.h"
#include "waveform.h"

#define TOL 1e-9

static metrology_sample_t buf[800];

typedef struct {
    meter_t m;
    wave_t w;
    metrology_phasors_t ph;
} rig_t;

static void rig_init(rig_t *r, const wave_desc_t *d, connection_t conn)
{
    wave_init(&r->w, d);
    memset(&r->ph, 0, sizeof r->ph);
    assert_true(wave_phasors(&r->w, &r->ph));
    r->ph.gen = 1;
    r->ph.since = 0;
    meter_init(&r->m, &(meter_desc_t){.connection = conn, .in_service = true});
}

static void run_samples(rig_t *r, uint64_t ticks)
{
    while (ticks) {
        size_t n = ticks < 800 ? (size_t)ticks : 800;
        wave_fill(&r->w, buf, n);
        meter_exec(&r->m, buf, n);
        ticks -= n;
    }
}

static void run_steady(rig_t *r, uint64_t ticks, size_t chunk)
{
    while (ticks) {
        size_t n = ticks < chunk ? (size_t)ticks : chunk;
        meter_exec_steady(&r->m, &r->ph, n);
        wave_skip(&r->w, n);
        ticks -= n;
    }
}

/* `ticks` through the closed form in calls of 1 .. most ticks, their
 * lengths drawn from the generator state *x (where the host cuts). */
static void run_steady_cut(rig_t *r, uint64_t ticks, uint64_t *x, uint64_t most)
{
    while (ticks) {
        *x = *x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t n = 1 + (*x >> 33) % most;
        if (n > ticks)
            n = ticks;
        run_steady(r, n, (size_t)n);
        ticks -= n;
    }
}

/* A changed grid from the present tick on (as the runner hands it over). */
static void rig_set(rig_t *r, const wave_desc_t *d)
{
    wave_set(&r->w, d);
    uint64_t gen = r->ph.gen + 1;
    assert_true(wave_phasors(&r->w, &r->ph));
    r->ph.gen = gen;
    r->ph.since = r->w.tick;
}

static void near(double a, double b, double scale, const char *what, const char *ctx)
{
    if (fabs(a - b) > TOL * scale + 1e-12) {
        print_error("%s: %s sample %.15g, closed form %.15g\n", ctx, what, a, b);
        fail();
    }
}

static void compare(const meter_t *a, const meter_t *b, const char *ctx)
{
    readings_t x, y;
    meter_readings(a, &x);
    meter_readings(b, &y);
    assert_int_equal(a->metrology.values.seq, b->metrology.values.seq);
    for (int k = 0; k < 3; k++) {
        double s = fmax(x.s[k], 1e-6);
        near(x.voltage[k], y.voltage[k], x.voltage[k], "U", ctx);
        near(x.current[k], y.current[k], x.current[k], "I", ctx);
        near(x.p[k], y.p[k], s, "P", ctx);
        near(x.q[k], y.q[k], s, "Q", ctx);
        near(x.s[k], y.s[k], s, "S", ctx);
        near(x.voltage_ll[k], y.voltage_ll[k], x.voltage_ll[k], "U_LL", ctx);
        /* A register counts whole uWh: its last digit may round either way. */
        assert_true(fabs(x.active_forward.phase[k] - y.active_forward.phase[k]) <= 1.5e-9);
        assert_true(fabs(x.reactive_forward.phase[k] - y.reactive_forward.phase[k]) <= 1.5e-9);
    }
    near(x.frequency, y.frequency, x.frequency, "f", ctx);
    near(x.p_total, y.p_total, x.s_total, "P total", ctx);
    near(x.q_total, y.q_total, x.s_total, "Q total", ctx);
    near(x.s_total, y.s_total, x.s_total, "S total", ctx);
    /* The registers count whole uWh: each phase's rounding may fall either
     * way (on a balanced grid all three at once). */
    assert_true(fabs(x.active_total.total - y.active_total.total) <= 3.5e-9);
    assert_true(fabs(x.reactive_total.total - y.reactive_total.total) <= 3.5e-9);
}

static void with_harmonics(wave_desc_t *d)
{
    for (int k = 0; k < 3; k++) {
        wave_phase_t *p = &d->phase[k];
        p->vh[0] = (wave_harmonic_t){.order = 5, .percent = 4.0, .phase_deg = 20.0};
        p->n_vh = 1;
        p->ih[0] = (wave_harmonic_t){.order = 3, .percent = 12.0, .phase_deg = 0.0};
        p->ih[1] = (wave_harmonic_t){.order = 5, .percent = 6.0, .phase_deg = 45.0};
        p->ih[2] = (wave_harmonic_t){.order = 7, .percent = 3.0, .phase_deg = -30.0};
        p->n_ih = 3;
    }
}

/* Both paths through `seconds`, compared at every second. */
static uint64_t reused; /* cycles the last agree() reused */

static void agree(const wave_desc_t *d, connection_t conn, double seconds, const char *ctx)
{
    static rig_t a, b;
    rig_init(&a, d, conn);
    rig_init(&b, d, conn);
    for (int s = 0; s < (int)seconds; s++) {
        run_samples(&a, VTIME_SAMPLE_RATE);
        run_steady(&b, VTIME_SAMPLE_RATE, 800);
        compare(&a.m, &b.m, ctx);
    }
    /* The closed form did the work: a cycle is open in it, and nearly every
     * cycle was closed in it. */
    assert_true(b.m.steady.lazy);
    assert_true(b.m.steady.n_closed > (uint64_t)(seconds - 1.0) * 45u);
    reused = b.m.steady.n_reused;
}

static void test_pure_50hz(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, wave_lag_from_pf(0.8, 0, 0));
    agree(&d, CONNECTION_3P4W, 5, "3P4W 50 Hz pf 0.8");
    /* 160 ticks a period: the identical cycles are reused, and still agree. */
    assert_true(reused > 200);
}

static void test_harmonics_49_5hz(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 49.5, 231.0, 17.0, wave_lag_from_pf(0.9, 1, 0));
    with_harmonics(&d);
    agree(&d, CONNECTION_3P4W, 5, "3P4W 49.5 Hz harmonics capacitive");
}

static void test_unbalanced_export_51hz(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 51.3, 225.0, 5.0, wave_lag_from_pf(0.7, 0, 1));
    d.phase[1].voltage = 238.0;
    d.phase[1].current = 31.0;
    d.phase[2].current = 0.0;
    d.phase[2].position_deg = 118.0;
    with_harmonics(&d);
    agree(&d, CONNECTION_3P4W, 4, "3P4W 51.3 Hz unbalanced export");
}

static void test_delta(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 49.5, 230.0, 20.0, wave_lag_from_pf(0.85, 0, 0));
    with_harmonics(&d);
    d.phase[2].current = 12.0;
    agree(&d, CONNECTION_3P3W_DELTA, 4, "3P3W delta 49.5 Hz");
}

static void test_aron(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 20.0, wave_lag_from_pf(0.6, 0, 0));
    with_harmonics(&d);
    agree(&d, CONNECTION_3P3W_ARON, 4, "3P3W Aron 50 Hz");
}

static void test_1p2w(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 49.5, 230.0, 8.0, wave_lag_from_pf(0.95, 0, 0));
    with_harmonics(&d);
    agree(&d, CONNECTION_1P2W, 4, "1P2W 49.5 Hz");
}

/* Load steps and an outage: the cycles around each change are sampled, the
 * rest closed form; the registers and values still agree. */
static void test_steps_and_outage(void **state)
{
    (void)state;
    static rig_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, wave_lag_from_pf(0.8, 0, 0));
    with_harmonics(&d);
    rig_init(&a, &d, CONNECTION_3P4W);
    rig_init(&b, &d, CONNECTION_3P4W);
    const double amps[] = {10.0, 25.0, 25.0, 3.0, 0.0, 0.0, 40.0, 40.0, 12.0, 12.0};
    for (int s = 0; s < 10; s++) {
        wave_desc_t e = d;
        for (int k = 0; k < 3; k++)
            e.phase[k].current = amps[s];
        if (s == 4 || s == 5) /* the supply is off for two seconds */
            for (int k = 0; k < 3; k++)
                e.phase[k].voltage = 0.0;
        rig_set(&a, &e);
        rig_set(&b, &e);
        bool on = e.phase[0].voltage > METER_SUPPLY_MIN_V;
        meter_set_supply(&a.m, on);
        meter_set_supply(&b.m, on);
        /* Each change 3.3 ms into the second: inside a cycle. */
        run_samples(&a, 26);
        run_steady(&b, 26, 800);
        run_samples(&a, VTIME_SAMPLE_RATE - 26);
        run_steady(&b, VTIME_SAMPLE_RATE - 26, 333);
        char ctx[64];
        snprintf(ctx, sizeof ctx, "second %d (%g A)", s, amps[s]);
        compare(&a.m, &b.m, ctx);
    }
    readings_t r;
    meter_readings(&b.m, &r);
    assert_int_equal(r.power_down_count, 1);
}

/* A load that moves inside a cycle (a profile step, a load step): only the
 * currents change, so the closed form carries the cycle on, summing the
 * ticks before the change under the old currents and the rest under the
 * new (metrology_steady_carry). Every `interval` ticks a new current, so the
 * changes walk through every tick of the period; the sample path must see
 * the same values after each. */
static void current_walk(double hz, connection_t conn, uint64_t interval, int changes,
                         const char *name)
{
    static rig_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, hz, 230.0, 10.0, wave_lag_from_pf(0.8, 0, 0));
    with_harmonics(&d);
    rig_init(&a, &d, conn);
    rig_init(&b, &d, conn);
    run_samples(&a, VTIME_SAMPLE_RATE);
    run_steady(&b, VTIME_SAMPLE_RATE, 800);
    uint64_t carried = b.m.steady.n_carried, closed = b.m.steady.n_closed;
    for (int c = 0; c < changes; c++) {
        wave_desc_t e = d;
        for (int k = 0; k < 3; k++) {
            wave_phase_t *p = &e.phase[k];
            p->current = 1.0 + (double)((c * 7 + k * 3) % 23) * 1.7;
            p->lag_deg = -60.0 + (double)((c * 11 + k) % 13) * 10.0;
            p->ih[0].percent = (double)((c * 5 + k) % 9) * 3.0; /* the same orders */
            p->ih[2].phase_deg = (double)(c % 7) * 20.0;
        }
        rig_set(&a, &e);
        rig_set(&b, &e);
        run_samples(&a, interval);
        run_steady(&b, interval, 800);
        char ctx[96];
        snprintf(ctx, sizeof ctx, "%s change %d at tick %llu", name, c,
                 (unsigned long long)(VTIME_SAMPLE_RATE + (uint64_t)c * interval));
        compare(&a.m, &b.m, ctx);
    }
    /* The closed form did it: the cycle stayed open in closed form through
     * nearly every change (those within two ticks of a crossing are handed
     * back to the samples), and nearly every cycle closed in it. */
    assert_true(b.m.steady.lazy);
    uint64_t periods = (uint64_t)changes * interval * (uint64_t)(hz + 0.5) / VTIME_SAMPLE_RATE;
    assert_true(b.m.steady.n_carried - carried >= (uint64_t)changes * 9u / 10u);
    assert_true(b.m.steady.n_closed - closed + 2u * (uint64_t)changes / 10u >= periods - 1u);
}

static void test_current_change_inside_cycle(void **state)
{
    (void)state;
    /* 50 Hz: 160 ticks a period, 167 = 160 + 7 walks every tick of it. */
    current_walk(50.0, CONNECTION_3P4W, 167, 160, "3P4W 50 Hz");
    /* 49.5 Hz: a period of 161.6 ticks, the crossing moves within the tick. */
    current_walk(49.5, CONNECTION_3P4W, 173, 120, "3P4W 49.5 Hz");
    current_walk(50.0, CONNECTION_3P3W_DELTA, 163, 60, "3P3W delta 50 Hz");
    current_walk(51.3, CONNECTION_3P3W_ARON, 149, 60, "3P3W Aron 51.3 Hz");
    current_walk(49.5, CONNECTION_1P2W, 171, 60, "1P2W 49.5 Hz");
}

/* Several current changes in one cycle, and one right after a crossing:
 * each one's ticks under its own currents. */
static void test_current_changes_same_cycle(void **state)
{
    (void)state;
    static rig_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 20.0, wave_lag_from_pf(0.9, 0, 0));
    with_harmonics(&d);
    rig_init(&a, &d, CONNECTION_3P4W);
    rig_init(&b, &d, CONNECTION_3P4W);
    run_samples(&a, VTIME_SAMPLE_RATE);
    run_steady(&b, VTIME_SAMPLE_RATE, 800);
    const uint64_t gaps[] = {1, 1, 3, 17, 40, 2, 90, 5, 1, 60, 130, 11, 159, 161, 1, 320};
    uint64_t carried = b.m.steady.n_carried;
    for (size_t c = 0; c < sizeof gaps / sizeof gaps[0]; c++) {
        wave_desc_t e = d;
        e.phase[c % 3].current = 3.0 + 4.0 * (double)c;
        e.phase[(c + 1) % 3].lag_deg = 5.0 * (double)c - 30.0;
        rig_set(&a, &e);
        rig_set(&b, &e);
        run_samples(&a, gaps[c]);
        run_steady(&b, gaps[c], 7);
        d = e;
    }
    run_samples(&a, 800);
    run_steady(&b, 800, 800);
    compare(&a.m, &b.m, "current changes within one cycle");
    assert_true(b.m.steady.n_carried - carried >= 12u);
}

/* The noise in closed form: its expected contribution, sigma^2 per tick in
 * the squares, as the connection combines the lines' independent noise. */
static void noise_case(connection_t conn, double var_factor_u, double var_factor_ll)
{
    static rig_t quiet, noisy;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, wave_lag_from_pf(0.8, 0, 0));
    rig_init(&quiet, &d, conn);
    d.noise_v = 2.0;
    d.noise_i = 0.3;
    d.seed = 7;
    rig_init(&noisy, &d, conn);
    run_steady(&quiet, 3 * VTIME_SAMPLE_RATE, 800);
    run_steady(&noisy, 3 * VTIME_SAMPLE_RATE, 800);
    readings_t q, n;
    meter_readings(&quiet.m, &q);
    meter_readings(&noisy.m, &n);
    for (int k = 0; k < 3; k++) {
        if (q.voltage[k] == 0.0)
            continue;
        double want_u = sqrt(q.voltage[k] * q.voltage[k] + var_factor_u * 4.0);
        double want_i = sqrt(q.current[k] * q.current[k] + 0.09);
        assert_true(fabs(n.voltage[k] - want_u) < 1e-9 * want_u);
        assert_true(fabs(n.current[k] - want_i) < 1e-9 * want_i);
        /* Noise is independent of the other channel: P and Q keep their values. */
        assert_true(fabs(n.p[k] - q.p[k]) < 1e-9 * q.s[k]);
        assert_true(fabs(n.q[k] - q.q[k]) < 1e-9 * q.s[k]);
    }
    if (conn != CONNECTION_1P2W) {
        double want_ll = sqrt(q.voltage_ll[0] * q.voltage_ll[0] + var_factor_ll * 4.0);
        assert_true(fabs(n.voltage_ll[0] - want_ll) < 1e-9 * want_ll);
    }
}

static void test_noise_expectation(void **state)
{
    (void)state;
    noise_case(CONNECTION_3P4W, 1.0, 2.0);
    noise_case(CONNECTION_3P3W_DELTA, 2.0 / 3.0, 2.0); /* v_k - mean of three */
    noise_case(CONNECTION_3P3W_ARON, 2.0, 2.0);        /* v_1 - v_2 */
    noise_case(CONNECTION_1P2W, 1.0, 1.0);
}

/* Where the host cuts its calls changes nothing, bit for bit. */
static void test_cuts(void **state)
{
    (void)state;
    static rig_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, 49.5, 230.0, 16.0, wave_lag_from_pf(0.9, 0, 0));
    with_harmonics(&d);
    d.noise_v = 0.5;
    d.noise_i = 0.05;
    d.seed = 3;
    rig_init(&a, &d, CONNECTION_3P4W);
    rig_init(&b, &d, CONNECTION_3P4W);
    uint64_t x = 1;
    for (int s = 0; s < 4; s++) {
        if (s == 2) {
            wave_desc_t e = d;
            e.phase[1].current = 3.0;
            rig_set(&a, &e);
            rig_set(&b, &e);
        }
        run_steady(&a, VTIME_SAMPLE_RATE, 8000);
        run_steady_cut(&b, VTIME_SAMPLE_RATE, &x, 211);
    }
    assert_memory_equal(&a.m.metrology.values, &b.m.metrology.values, sizeof a.m.metrology.values);
    assert_memory_equal(&a.m.energy, &b.m.energy, sizeof a.m.energy);
}

/* Current changes inside cycles, with noise: where the host cuts its calls
 * between the changes changes nothing, bit for bit. */
static void test_cuts_current_changes(void **state)
{
    (void)state;
    static rig_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, 49.5, 230.0, 16.0, wave_lag_from_pf(0.9, 0, 0));
    with_harmonics(&d);
    d.noise_v = 0.5;
    d.noise_i = 0.05;
    d.seed = 5;
    rig_init(&a, &d, CONNECTION_3P4W);
    rig_init(&b, &d, CONNECTION_3P4W);
    run_steady(&a, VTIME_SAMPLE_RATE, 8000);
    run_steady(&b, VTIME_SAMPLE_RATE, 8000);
    uint64_t x = 7;
    for (int c = 0; c < 120; c++) {
        wave_desc_t e = d;
        for (int k = 0; k < 3; k++)
            e.phase[k].current = 2.0 + (double)((c * 5 + k) % 17);
        e.noise_i = 0.01 * (double)(c % 4);
        rig_set(&a, &e);
        rig_set(&b, &e);
        uint64_t gap = 1 + (uint64_t)(c * 37 % 251);
        run_steady(&a, gap, 8000);
        run_steady_cut(&b, gap, &x, 53);
    }
    run_steady(&a, VTIME_SAMPLE_RATE, 8000);
    run_steady(&b, VTIME_SAMPLE_RATE, 97);
    assert_true(b.m.steady.n_carried >= 100u);
    assert_memory_equal(&a.m.metrology.values, &b.m.metrology.values, sizeof a.m.metrology.values);
    assert_memory_equal(&a.m.energy, &b.m.energy, sizeof a.m.energy);
}

/* A profile's ramp: a new description every second in which only the
 * current amplitudes moved (the year's load profiles). At 50 Hz the change
 * comes at a crossing, so the closed form keeps the cycle's voltage side
 * (metrology_steady.h sk_*) and takes the cycles after the change from it:
 * against the sample path at every second, and where the host cuts its
 * calls changes nothing, bit for bit. */
static void ramp_case(double f, connection_t conn, bool noise, const char *ctx)
{
    static rig_t a, b, c;
    wave_desc_t d;
    wave_desc_balanced(&d, f, 230.0, 1.0, wave_lag_from_pf(0.95, 0, 0));
    with_harmonics(&d);
    rig_init(&a, &d, conn);
    rig_init(&b, &d, conn);
    if (noise) {
        d.noise_i = 0.02;
        d.seed = 11;
        rig_init(&c, &d, conn);
    }
    uint64_t x = 3;
    for (int s = 0; s < 40; s++) {
        wave_desc_t e = d;
        for (int k = 0; k < 3; k++)
            e.phase[k].current = 1.0 + 0.25 * (double)s * (double)(k + 1);
        if (!noise) {
            rig_set(&a, &e);
            run_samples(&a, VTIME_SAMPLE_RATE);
        } else {
            rig_set(&c, &e);
            run_steady_cut(&c, VTIME_SAMPLE_RATE, &x, 389);
        }
        rig_set(&b, &e);
        run_steady(&b, VTIME_SAMPLE_RATE, 800);
        if (!noise)
            compare(&a.m, &b.m, ctx);
    }
    /* The kept voltage side did the work: nearly every second after the
     * first few took its model from it. */
    if (f == 50.0)
        assert_true(b.m.steady.n_kept >= 30u);
    if (noise) {
        assert_memory_equal(&b.m.metrology.values, &c.m.metrology.values,
                            sizeof b.m.metrology.values);
        assert_memory_equal(&b.m.energy, &c.m.energy, sizeof b.m.energy);
    }
}

static void test_ramp_seconds(void **state)
{
    (void)state;
    ramp_case(50.0, CONNECTION_3P4W, false, "ramp 3P4W 50 Hz");
    ramp_case(50.0, CONNECTION_3P3W_ARON, false, "ramp Aron 50 Hz");
    ramp_case(49.5, CONNECTION_3P4W, false, "ramp 3P4W 49.5 Hz");
    ramp_case(50.0, CONNECTION_3P4W, true, "ramp 3P4W 50 Hz, noise, cuts");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pure_50hz),
        cmocka_unit_test(test_harmonics_49_5hz),
        cmocka_unit_test(test_unbalanced_export_51hz),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_aron),
        cmocka_unit_test(test_1p2w),
        cmocka_unit_test(test_steps_and_outage),
        cmocka_unit_test(test_current_change_inside_cycle),
        cmocka_unit_test(test_current_changes_same_cycle),
        cmocka_unit_test(test_noise_expectation),
        cmocka_unit_test(test_cuts),
        cmocka_unit_test(test_cuts_current_changes),
        cmocka_unit_test(test_ramp_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
