/* Runs of equal steady cycles booked at once (meter_exec_steady, meter_book_run
 * in core/meter_runs.c; energy_run_t in core/energy.h) against the same cycles booked
 * one by one (meter_book_one_by_one): every register, remainder, pulse
 * accumulator and edge, the published window, the event queue and the
 * closed-form state, bit for bit, over many cycles, across a tariff switch,
 * a change of load and many pulse edges (docs/performance.md, issue 14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "energy.h"
#include "meter.h"
#include "waveform.h"

typedef struct {
    meter_t m;
    wave_t w;
    metrology_phasors_t ph;
    uint64_t edges;
    uint64_t edge_sum; /* a running fingerprint of every edge popped */
} rig_t;

static void rig_init(rig_t *r, const wave_desc_t *d, bool one_by_one)
{
    memset(r, 0, sizeof *r);
    wave_init(&r->w, d);
    assert_true(wave_phasors(&r->w, &r->ph));
    r->ph.gen = 1;
    meter_init(&r->m, &(meter_desc_t){.connection = CONNECTION_3P4W, .in_service = true});
    meter_book_one_by_one(&r->m, one_by_one);
}

static void rig_set(rig_t *r, const wave_desc_t *d)
{
    wave_set(&r->w, d);
    uint64_t gen = r->ph.gen + 1;
    assert_true(wave_phasors(&r->w, &r->ph));
    r->ph.gen = gen;
    r->ph.since = r->w.tick;
}

static void run(rig_t *r, uint64_t n)
{
    meter_exec_steady(&r->m, &r->ph, (size_t)n);
    wave_skip(&r->w, (size_t)n);
    pulse_edge_t e;
    while (meter_pulse_edge(&r->m, &e)) {
        r->edges++;
        r->edge_sum = r->edge_sum * 1000003u + e.t_ns * 4u + e.output * 2u + e.level;
    }
}

/* Everything the two paths must leave the same (meter_t's pointers, which
 * point into each meter, and the runs' own statistic aside). */
static void same(const rig_t *a, const rig_t *b, const char *ctx)
{
    const meter_t *x = &a->m, *y = &b->m;
    char buf[32];
    for (unsigned i = 0; i < ENERGY_REGISTERS; i++)
        if (*energy_register((energy_t *)&x->energy, i) !=
            *energy_register((energy_t *)&y->energy, i))
            fail_msg("%s: register %s: %lld and %lld", ctx, energy_register_name(i, buf),
                     (long long)*energy_register((energy_t *)&x->energy, i),
                     (long long)*energy_register((energy_t *)&y->energy, i));
    assert_memory_equal(&x->energy, &y->energy, sizeof x->energy);
    assert_memory_equal(&x->last_delta, &y->last_delta, sizeof x->last_delta);
    assert_memory_equal(&x->pulse, &y->pulse, sizeof x->pulse);
    assert_memory_equal(&x->metrology, &y->metrology, sizeof x->metrology);
    assert_memory_equal(&x->steady, &y->steady, sizeof x->steady);
    assert_memory_equal(&x->sched, &y->sched, sizeof x->sched);
    assert_memory_equal(x->seg_tariff, y->seg_tariff, sizeof x->seg_tariff);
    assert_memory_equal(x->seg_from, y->seg_from, sizeof x->seg_from);
    assert_int_equal(x->n_seg, y->n_seg);
    assert_int_equal(x->memory_gen, y->memory_gen);
    assert_int_equal(x->tick, y->tick);
    assert_memory_equal(&x->display, &y->display, sizeof x->display);
    assert_int_equal(a->edges, b->edges);
    assert_int_equal(a->edge_sum, b->edge_sum);
}

/* A household-sized load at 50 Hz with harmonics and noise: `seconds` of
 * meter life in calls of irregular length (up to 20 s), the tariff input
 * switched and the load changed between calls half way. */
static void compare_runs(double amps, double pf, int pulse_type, uint32_t s0_rate, int code,
                         uint64_t seconds, bool export_)
{
    static rig_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, amps, wave_lag_from_pf(pf, 0, export_));
    d.phase[1].current = amps * 0.5; /* unbalanced: the phases' remainders differ */
    for (int k = 0; k < 3; k++) {
        d.phase[k].ih[0] = (wave_harmonic_t){.order = 3, .percent = 10.0};
        d.phase[k].ih[1] = (wave_harmonic_t){.order = 5, .percent = 4.0};
        d.phase[k].n_ih = 2;
    }
    d.noise_v = 0.05;
    d.noise_i = 0.005;
    d.seed = 7;
    rig_init(&a, &d, false);
    rig_init(&b, &d, true);
    for (rig_t *r = &a; r; r = r == &a ? &b : NULL) {
        assert_int_equal(meter_set(&r->m, SETTING_PULSE_TYPE, pulse_type), SETTINGS_OK);
        assert_int_equal(meter_set(&r->m, SETTING_S0_RATE, (int32_t)s0_rate), SETTINGS_OK);
        assert_int_equal(meter_set(&r->m, SETTING_COMBINATION_CODE, code), SETTINGS_OK);
    }
    uint64_t total = seconds * VTIME_SAMPLE_RATE, t = 0, x = 12345;
    bool switched = false;
    while (t < total) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t n = 1 + (x >> 33) % (20u * VTIME_SAMPLE_RATE);
        if (n > total - t)
            n = total - t;
        run(&a, n);
        run(&b, n);
        t += n;
        if (!switched && t > total / 2) {
            switched = true;
            wave_desc_t e = d;
            e.phase[2].current = amps * 0.8;
            for (rig_t *r = &a; r; r = r == &a ? &b : NULL) {
                meter_set_tariff_input(&r->m, true);
                rig_set(r, &e);
            }
        }
        same(&a, &b, "after a call");
    }
    uint64_t cycles = a.m.steady.n_closed;
    print_message("# %.0f A, %s: %llu cycles, %llu booked in runs, %llu pulse edges\n", amps,
                  export_ ? "export" : "import", (unsigned long long)cycles,
                  (unsigned long long)a.m.run_cycles, (unsigned long long)a.edges);
    assert_int_equal(b.m.run_cycles, 0);
    assert_true(a.m.run_cycles > cycles / 2); /* the runs were taken */
    assert_true(a.edges > 100);
    /* The tariff switch counted in T2 on both. */
    assert_true(a.m.energy.forward[0].slot[ENERGY_T1 + 1] > 0 ||
                a.m.energy.reverse[0].slot[ENERGY_T1 + 1] > 0);
}

/* 16 A: an LED pulse every two cycles, S0 at 10 000 imp/kWh. */
static void test_heavy_load(void **state)
{
    (void)state;
    compare_runs(16.0, 0.9, 1, 1000000, 3, 120, false);
}

/* 0.3 A: a pulse every few seconds, long stretches that earn none. */
static void test_light_load(void **state)
{
    (void)state;
    compare_runs(0.3, 0.95, 1, 100000, 3, 300, false);
}

/* Export, pulse type 2 (forward and reverse), C-05 netting. */
static void test_export_c05(void **state)
{
    (void)state;
    compare_runs(5.0, 0.8, 2, 200000, 5, 120, true);
}

/* energy_run_t alone: n cycles at once are n energy_add_cycle() calls. */
static void test_energy_run(void **state)
{
    (void)state;
    static energy_t a, b;
    energy_init(&a);
    energy_init(&b);
    metrology_cycle_t c = {.ticks = 160.0,
                           .p_ws = {55.123456789, -12.5, 0.000123},
                           .q_vars = {-3.3, 7.77777, 0.0},
                           .started = {true, true, true}};
    const uint64_t n = 1000003;
    for (int code = 1; code <= 5; code++) {
        energy_run_t run;
        energy_run_prepare(&a, &c, 2, code, &run);
        assert_true(energy_run_fits(&a, &run, n));
        energy_run_commit(&a, &run, n);
        energy_delta_t last, one;
        energy_run_delta(&run, n - 1, n, &last);
        for (uint64_t j = 0; j < n; j++)
            energy_add_cycle(&b, &c, 2, code, &one);
        assert_memory_equal(&a, &b, sizeof a);
        assert_memory_equal(&last, &one, sizeof last);
    }
    /* Near the register's modulus a run does not claim to fit. */
    energy_run_t run;
    *energy_register(&a, 16) = ENERGY_MODULUS_UWH - 1000;
    energy_run_prepare(&a, &c, 2, 3, &run);
    assert_false(energy_run_fits(&a, &run, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_run),
        cmocka_unit_test(test_heavy_load),
        cmocka_unit_test(test_light_load),
        cmocka_unit_test(test_export_c05),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
