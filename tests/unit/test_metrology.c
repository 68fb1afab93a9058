/* Metrology against the formulas: sinusoids and harmonics synthesised by
 * sim/waveform, measured by core/metrology through the meter, compared with
 * values computed here from V, I, phi and f. Class B allows 1 %; the twin
 * must stay within 0.05 % (issue 2). */
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

#define DEG (M_PI / 180.0)
#define TOL 5e-4

static metrology_sample_t buf[8000];

static void run(meter_t *m, wave_t *w, double seconds)
{
    uint64_t ticks = (uint64_t)llround(seconds * VTIME_SAMPLE_RATE);
    while (ticks > 0) {
        size_t n = ticks < 8000 ? (size_t)ticks : 8000;
        wave_fill(w, buf, n);
        meter_exec(m, buf, n);
        ticks -= n;
    }
}

/* |got - want| within TOL of `scale` (the quantity's own magnitude, or the
 * apparent power for a quantity whose analytic value is zero). */
static void near(double got, double want, double scale, const char *what, const char *ctx)
{
    double err = fabs(got - want);
    if (err > TOL * scale + 1e-9) {
        print_error("%s: %s = %.9g, expected %.9g (error %.3g %% of %.6g)\n", ctx, what, got, want,
                    100.0 * err / scale, scale);
        fail();
    }
}

static void check_sinusoid(double f, double v, double i, double pf, int cap, int exp_)
{
    char ctx[128];
    snprintf(ctx, sizeof ctx, "f=%g V=%g I=%g pf=%g%s%s", f, v, i, pf, cap ? " cap" : " ind",
             exp_ ? " export" : " import");
    meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    wave_desc_t d;
    double lag = wave_lag_from_pf(pf, cap, exp_);
    wave_desc_balanced(&d, f, v, i, lag);
    wave_t w;
    wave_init(&w, &d);
    run(&m, &w, 3.0); /* the last published window holds settled whole cycles */

    readings_t r;
    meter_readings(&m, &r);
    double phi = lag * DEG;
    double p = v * i * cos(phi), q = v * i * sin(phi), s = v * i;
    for (int k = 0; k < 3; k++) {
        near(r.voltage[k], v, v, "U", ctx);
        near(r.current[k], i, i, "I", ctx);
        near(r.p[k] * 1000, p, fabs(p) > 0 ? fabs(p) : s, "P", ctx);
        near(r.q[k] * 1000, q, fabs(q) > 1e-9 * s ? fabs(q) : s, "Q", ctx);
        near(r.s[k] * 1000, s, s, "S", ctx);
        if (v > 0) {
            near(r.pf[k], cos(phi), fabs(cos(phi)), "PF", ctx);
        } else {
            assert_true(r.pf[k] == 1.0); /* nothing flows: no angle */
        }
        near(r.voltage_ll[k], sqrt(3.0) * v, v, "U_LL", ctx);
    }
    near(r.p_total * 1000, 3 * p, 3 * (fabs(p) > 0 ? fabs(p) : s), "P total", ctx);
    near(r.q_total * 1000, 3 * q, 3 * (fabs(q) > 1e-9 * s ? fabs(q) : s), "Q total", ctx);
    near(r.s_total * 1000, 3 * s, 3 * s, "S total", ctx);
    if (v > 0) {
        near(r.frequency, f, f, "f", ctx);
        /* Quadrants of IEC 62053-23 and directions: exact. */
        int quad = exp_ ? (cap || pf == 1.0 ? 2 : 3) : (cap && pf != 1.0 ? 4 : 1);
        for (int k = 0; k < 3; k++) {
            if (r.quadrant[k] != quad || r.direction[k] != (exp_ ? 'R' : 'F')) {
                print_error("%s: L%d quadrant %d direction %c, expected %d %c\n", ctx, k + 1,
                            r.quadrant[k], r.direction[k], quad, exp_ ? 'R' : 'F');
                fail();
            }
        }
        assert_int_equal(r.quadrant_total, quad);
        assert_int_equal(r.direction_total, exp_ ? 'R' : 'F');
    } else {
        assert_true(r.frequency == 0.0);
    }
}

static void test_sinusoid_grid(void **state)
{
    (void)state;
    const double freqs[] = {45, 50, 60};
    const double volts[] = {0, 23, 115, 230, 276};
    const double amps[] = {0.02, 0.1, 1, 5, 10, 65};
    const struct {
        double pf;
        int cap;
    } pfs[] = {{1.0, 0}, {0.5, 0}, {0.8, 1}};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 6; c++)
                for (size_t e = 0; e < 3; e++)
                    for (int x = 0; x < 2; x++)
                        check_sinusoid(freqs[a], volts[b], amps[c], pfs[e].pf, pfs[e].cap, x);
}

/* With harmonics the RMS is the root-sum-square of the components. */
static void test_harmonics_rms(void **state)
{
    (void)state;
    const double freqs[] = {50, 60};
    for (size_t a = 0; a < 2; a++) {
        wave_desc_t d;
        wave_desc_balanced(&d, freqs[a], 230.0, 10.0, 25.0);
        const wave_harmonic_t vh[] = {{3, 8.0, 30.0}, {5, 5.0, 0.0}, {7, 3.0, 120.0}, {11, 1.5, 0}};
        const wave_harmonic_t ih[] = {
            {3, 35.0, 10.0}, {5, 20.0, 45.0}, {7, 10.0, 0.0}, {13, 4.0, 0}};
        double sv = 1.0, si = 1.0;
        for (int n = 0; n < 4; n++) {
            sv += (vh[n].percent / 100) * (vh[n].percent / 100);
            si += (ih[n].percent / 100) * (ih[n].percent / 100);
        }
        for (int k = 0; k < 3; k++) {
            for (int n = 0; n < 4; n++) {
                d.phase[k].vh[n] = vh[n];
                d.phase[k].ih[n] = ih[n];
            }
            d.phase[k].n_vh = d.phase[k].n_ih = 4;
        }
        meter_t m;
        meter_init(&m, &(meter_desc_t){0});
        wave_t w;
        wave_init(&w, &d);
        run(&m, &w, 3.0);
        readings_t r;
        meter_readings(&m, &r);
        for (int k = 0; k < 3; k++) {
            near(r.voltage[k], 230.0 * sqrt(sv), 230.0 * sqrt(sv), "U rms (harmonics)", "harm");
            near(r.current[k], 10.0 * sqrt(si), 10.0 * sqrt(si), "I rms (harmonics)", "harm");
        }
        near(r.frequency, freqs[a], 1e-3 * freqs[a], "f (harmonics)", "harm");
    }
}

/* Connection types: what each implies for the phases it does not use. */
static void test_connection_types(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    double ull = sqrt(3.0) * 230.0;
    readings_t r;
    wave_t w;
    meter_t m;

    meter_init(&m, &(meter_desc_t){.connection = CONNECTION_1P2W});
    wave_init(&w, &d);
    run(&m, &w, 3.0);
    meter_readings(&m, &r);
    near(r.voltage[0], 230.0, 230.0, "1P2W U1", "1P2W");
    near(r.p[0] * 1000, 2300.0, 2300.0, "1P2W P1", "1P2W");
    assert_true(r.voltage[1] == 0.0 && r.voltage[2] == 0.0 && r.current[1] == 0.0);
    assert_true(r.voltage_ll[0] == 0.0);
    near(r.p_total * 1000, 2300.0, 2300.0, "1P2W P", "1P2W");

    /* Delta: the meter's virtual star point gives the star-equivalent
     * voltages, and the total power of a balanced load is sqrt3 U I cos phi. */
    meter_init(&m, &(meter_desc_t){.connection = CONNECTION_3P3W_DELTA});
    wave_init(&w, &d);
    run(&m, &w, 3.0);
    meter_readings(&m, &r);
    near(r.voltage[1], 230.0, 230.0, "delta U2", "delta");
    near(r.voltage_ll[2], ull, ull, "delta U23", "delta");
    near(r.p_total * 1000, sqrt(3.0) * ull * 10.0, 6900.0, "delta P", "delta");

    /* Aron: N tied to L2, two elements measure U12*I1 and U32*I3, whose sum
     * is the three-phase power; element 2 sees no voltage. */
    meter_init(&m, &(meter_desc_t){.connection = CONNECTION_3P3W_ARON});
    wave_init(&w, &d);
    run(&m, &w, 3.0);
    meter_readings(&m, &r);
    near(r.voltage[0], ull, ull, "Aron U12", "Aron");
    near(r.voltage[2], ull, ull, "Aron U32", "Aron");
    assert_true(r.voltage[1] == 0.0);
    near(r.p[0] * 1000, ull * 10.0 * cos(30 * DEG), 6900.0, "Aron P1", "Aron");
    near(r.p[2] * 1000, ull * 10.0 * cos(30 * DEG), 6900.0, "Aron P3", "Aron");
    near(r.p_total * 1000, 6900.0, 6900.0, "Aron P", "Aron");
    near(r.q_total * 1000, 0.0, 6900.0, "Aron Q", "Aron");
    near(r.s_total * 1000, 6900.0, 6900.0, "Aron S", "Aron");
    near(r.voltage_ll[1], ull, ull, "Aron U13", "Aron");
}

/* A frequency change keeps the phase continuous and is followed. */
static void test_frequency_step(void **state)
{
    (void)state;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 5.0, 0.0);
    wave_t w;
    wave_init(&w, &d);
    meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    run(&m, &w, 2.0);
    d.frequency = 61.3;
    wave_set(&w, &d);
    run(&m, &w, 3.0);
    readings_t r;
    meter_readings(&m, &r);
    near(r.frequency, 61.3, 61.3, "f after step", "fstep");
    near(r.p_total * 1000, 3 * 1150.0, 3 * 1150.0, "P after step", "fstep");
}

/* The samples of a hard stretch for the pace tests: harmonics and noise, a
 * frequency step down to 23 Hz (the longest delay line), the reference
 * phase's voltage gone (cycles closed by the timeout, another reference
 * found), every voltage gone, then back at 50 Hz. */
#define PACE_TICKS (8000 * 13)
static metrology_sample_t pace_buf[PACE_TICKS];

static void pace_samples(void)
{
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 8.0, 33.0);
    for (int k = 0; k < 3; k++) {
        d.phase[k].vh[0] = (wave_harmonic_t){3, 4.0, 20.0};
        d.phase[k].ih[0] = (wave_harmonic_t){5, 30.0, -40.0};
        d.phase[k].ih[1] = (wave_harmonic_t){7, 10.0, 0.0};
        d.phase[k].n_vh = 1;
        d.phase[k].n_ih = 2;
    }
    d.noise_v = 1.0;
    d.noise_i = 0.05;
    d.seed = 42;
    wave_t w;
    wave_init(&w, &d);
    size_t at = 0;
    const struct {
        double seconds, frequency, v1, v;
    } parts[] = {{3.3, 50.0, 230, 230},
                 {2.7, 23.0, 230, 230},
                 {2.1, 49.9, 0, 230},
                 {1.5, 49.9, 0, 0},
                 {3.4, 50.0, 230, 230}};
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        d.frequency = parts[p].frequency;
        d.phase[0].voltage = parts[p].v1;
        d.phase[1].voltage = d.phase[2].voltage = parts[p].v;
        wave_set(&w, &d);
        size_t n = (size_t)(parts[p].seconds * 8000);
        if (n > PACE_TICKS - at)
            n = PACE_TICKS - at;
        wave_fill(&w, &pace_buf[at], n);
        at += n;
    }
    assert_int_equal(at, PACE_TICKS);
}

/* The same samples one tick at a time (metrology_step) and in runs of any
 * length (metrology_exec, which takes the ticks up to a cycle's end at a
 * time): the same cycles and the same state, bit for bit (issue 14). */
static void test_any_pace(void **state)
{
    (void)state;
    pace_samples();
    static metrology_t one, many;
    static metrology_cycle_t cycles[2000];
    const size_t chunks[] = {1, 2, 3, 39, 40, 41, 127, 128, 129, 160, 401, 512, 513, 800, 8000};
    for (int conn = 0; conn < CONNECTION_COUNT; conn++) {
        metrology_init(&one, (connection_t)conn);
        size_t n_one = 0;
        for (size_t t = 0; t < PACE_TICKS; t++)
            if (metrology_step(&one, &pace_buf[t])) {
                assert_true(n_one < 2000);
                cycles[n_one++] = one.cycle;
            }
        assert_true(n_one > 300); /* the stretch has cycles of all kinds */
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            metrology_init(&many, (connection_t)conn);
            size_t n_many = 0, t = 0;
            while (t < PACE_TICKS) {
                size_t want = PACE_TICKS - t < chunks[c] ? PACE_TICKS - t : chunks[c];
                size_t done = metrology_exec(&many, &pace_buf[t], want);
                assert_true(done >= 1 && done <= want);
                t += done;
                if (many.cycle_ready) {
                    if (n_many >= n_one ||
                        memcmp(&many.cycle, &cycles[n_many], sizeof many.cycle) != 0) {
                        print_error("connection %d, runs of %zu: cycle %zu differs (tick %zu)\n",
                                    conn, chunks[c], n_many, t);
                        fail();
                    }
                    n_many++;
                }
            }
            assert_int_equal(n_many, n_one);
            if (memcmp(&one, &many, sizeof one) != 0) {
                print_error("connection %d, runs of %zu: the state differs\n", conn, chunks[c]);
                fail();
            }
        }
    }
}

/* The whole meter, fed one tick at a time and in calls of other sizes,
 * with a tariff switch between two calls at the same tick: the same
 * readings, bit for bit. */
static void pace_meter(meter_t *m, size_t chunk, readings_t *r)
{
    meter_init(m, &(meter_desc_t){0});
    for (size_t t = 0; t < PACE_TICKS;) {
        size_t n = PACE_TICKS - t < chunk ? PACE_TICKS - t : chunk;
        if (t < 4 * 8000 && 4 * 8000 < t + n)
            n = 4 * 8000 - t; /* ends at the switch */
        if (t == 4 * 8000)
            meter_set_tariff_input(m, true);
        meter_exec(m, &pace_buf[t], n);
        t += n;
    }
    meter_readings(m, r);
}

static void test_meter_any_pace(void **state)
{
    (void)state;
    pace_samples();
    static meter_t m;
    readings_t a, b;
    pace_meter(&m, 1, &a);
    assert_true(a.active_forward.total > 0.0);
    const size_t chunks[] = {7, 160, 513, 800, 8000};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        pace_meter(&m, chunks[c], &b);
#define SAME(field)                                                                                \
    do {                                                                                           \
        if (memcmp(&a.field, &b.field, sizeof a.field) != 0) {                                     \
            print_error("calls of %zu ticks: %s differs\n", chunks[c], #field);                    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
        SAME(voltage);
        SAME(current);
        SAME(frequency);
        SAME(p);
        SAME(q);
        SAME(s);
        SAME(pf);
        SAME(voltage_ll);
        SAME(quadrant);
        SAME(active_forward);
        SAME(active_reverse);
        SAME(reactive_forward);
        SAME(reactive_reverse);
        SAME(reactive_quadrant);
        SAME(pulses);
#undef SAME
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sinusoid_grid),    cmocka_unit_test(test_harmonics_rms),
        cmocka_unit_test(test_connection_types), cmocka_unit_test(test_frequency_step),
        cmocka_unit_test(test_any_pace),         cmocka_unit_test(test_meter_any_pace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
