/* S0 pulse outputs and the red LED (manual 4, 6.6.3-6.6.5): pulse count x
 * weight equals the registered energy within one pulse at every rate and both
 * pulse types, widths as set, edge times from constant power within a cycle,
 * deferral instead of loss, and the decisions of docs/pulse.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "meter.h"
#include "waveform.h"

/* The manual's rates (6.6.3), in imp/kWh, and the LED's (4). */
static const double manual_rates[8] = {10000, 2000, 1000, 100, 10, 1, 0.1, 0.01};
#define LED_RATE 10000.0
#define UWH_PER_KWH 1e9
/* 3 x 276 V x 65 A: the highest power the meter can see (4). */
#define P_MAX_W (3.0 * 276.0 * 65.0)

static int64_t weight_of(double imp_per_kwh)
{
    return (int64_t)llround(UWH_PER_KWH / imp_per_kwh);
}

static uint32_t rate_x100_of(double imp_per_kwh)
{
    return (uint32_t)llround(imp_per_kwh * 100.0);
}

static void settings_for(settings_t *s, double rate, int type, int width_ms)
{
    settings_defaults(s, 1);
    /* Narrow the width first: a faster rate may not accept the old one. */
    assert_int_equal(settings_set(s, SETTING_PULSE_WIDTH, 2), SETTINGS_OK);
    assert_int_equal(settings_set(s, SETTING_S0_RATE, (int32_t)rate_x100_of(rate)), SETTINGS_OK);
    assert_int_equal(settings_set(s, SETTING_PULSE_TYPE, type), SETTINGS_OK);
    assert_int_equal(settings_set(s, SETTING_PULSE_WIDTH, width_ms), SETTINGS_OK);
}

/* The widest width the manual's rule allows: pulse and equal gap fit in one
 * pulse period at P_MAX (6.6.5), never above 99 ms. */
static int widest_ms(double rate)
{
    double period_ms = 3600.0 * 1000.0 / (P_MAX_W / 1000.0 * rate);
    double half = floor(period_ms / 2.0);
    return half > 99.0 ? 99 : (int)half;
}

/* Tracks the edges of the three outputs as a host would: checks order, width
 * and gap of every pulse, counts rises. */
typedef struct {
    uint64_t last_rise[PULSE_OUTPUTS], last_fall[PULSE_OUTPUTS];
    bool high[PULSE_OUTPUTS];
    uint64_t rises[PULSE_OUTPUTS], falls[PULSE_OUTPUTS];
    uint64_t width_ns[PULSE_OUTPUTS]; /* expected */
} watch_t;

static void watch_init(watch_t *w, uint64_t s0_width_ns)
{
    memset(w, 0, sizeof *w);
    w->width_ns[PULSE_S0_1] = w->width_ns[PULSE_S0_2] = s0_width_ns;
    w->width_ns[PULSE_LED] = 2 * VTIME_NS_PER_MS; /* docs/pulse.md */
}

/* Edges from a pulse_t alone (p) or from a meter through its facade (m). */
static void watch_drain(watch_t *w, pulse_t *p, meter_t *m)
{
    assert_int_equal(m ? m->pulse.edges_dropped : p->edges_dropped, 0);
    pulse_edge_t e;
    while (m ? meter_pulse_edge(m, &e) : pulse_pop_edge(p, &e)) {
        int k = e.output;
        assert_true(k >= 0 && k < PULSE_OUTPUTS);
        assert_true(e.level != w->high[k]); /* edges alternate */
        if (e.level) {
            if (w->rises[k] > 0) {
                /* The gap is at least as long as the pulse before it. */
                assert_true(e.t_ns >= w->last_fall[k] + w->width_ns[k]);
            }
            w->last_rise[k] = e.t_ns;
            w->rises[k]++;
        } else {
            assert_int_equal(e.t_ns - w->last_rise[k], w->width_ns[k]);
            w->last_fall[k] = e.t_ns;
            w->falls[k]++;
        }
        w->high[k] = e.level;
    }
}

/* Energy the registers hold for what each output counts (6.6.4, docs/pulse.md),
 * under combination code C-03 (the default: total = forward + reverse). */
static void register_energy(const energy_t *e, int type, int64_t out[PULSE_OUTPUTS])
{
    int64_t af = e->forward[0].slot[ENERGY_TOTAL], ar = e->reverse[0].slot[ENERGY_TOTAL];
    int64_t rf = e->forward[1].slot[ENERGY_TOTAL], rr = e->reverse[1].slot[ENERGY_TOTAL];
    out[PULSE_S0_1] = type == 2 ? af : af + ar;
    out[PULSE_S0_2] = type == 2 ? ar : rf + rr;
    out[PULSE_LED] = af + ar;
}

static void assert_within_one_pulse(uint64_t count, int64_t weight, int64_t energy)
{
    int64_t counted = (int64_t)count * weight;
    if (counted > energy || energy - counted >= weight) {
        print_error("%llu pulses x %lld uWh, energy %lld uWh\n", (unsigned long long)count,
                    (long long)weight, (long long)energy);
        fail();
    }
}

static void assert_exact(const pulse_output_t *o, int64_t energy)
{
    /* pulses earned x weight + accumulator == energy, to the micro-watt-hour. */
    assert_true((int64_t)o->earned * o->weight_uwh + o->acc_uwh == energy);
    assert_true(o->acc_uwh >= 0 && o->acc_uwh < o->weight_uwh);
}

static void test_weights(void **state)
{
    (void)state;
    assert_int_equal(SETTINGS_S0_RATE_COUNT, 8);
    for (int k = 0; k < 8; k++) {
        assert_int_equal(SETTINGS_S0_RATES[k], rate_x100_of(manual_rates[k]));
        int64_t w = pulse_weight_uwh(SETTINGS_S0_RATES[k]);
        assert_true(w == weight_of(manual_rates[k]));
        /* An integer weight: exactly one kWh per `rate` pulses. */
        assert_true(w * (int64_t)SETTINGS_S0_RATES[k] == 100 * (int64_t)UWH_PER_KWH);
    }
    assert_true(pulse_weight_uwh(PULSE_LED_RATE_X100) == weight_of(LED_RATE));
}

/* A load in every direction: L1 imports inductive, L2 imports capacitive, L3
 * exports, all at 276 V 65 A (the highest power, so the fastest pulses). */
static void wave_mixed(wave_desc_t *d)
{
    wave_desc_balanced(d, 50.0, 276.0, 65.0, 0.0);
    d->phase[0].lag_deg = wave_lag_from_pf(0.8, 0, 0);
    d->phase[1].lag_deg = wave_lag_from_pf(0.9, 1, 0);
    d->phase[2].lag_deg = wave_lag_from_pf(0.7, 0, 1);
}

static metrology_sample_t buf[8000];

/* Runs a meter at `rate` and `type` for `seconds`, in chunks of `chunk` ticks,
 * watching every edge; returns the meter for more checks. */
static void run_meter(meter_t *m, watch_t *w, double rate, int type, int width_ms, uint64_t seconds,
                      size_t chunk)
{
    settings_t s;
    settings_for(&s, rate, type, width_ms);
    meter_init(m, &(meter_desc_t){.settings = &s});
    wave_desc_t d;
    wave_mixed(&d);
    wave_t wave;
    wave_init(&wave, &d);
    watch_init(w, (uint64_t)width_ms * VTIME_NS_PER_MS);
    for (uint64_t t = 0; t < seconds * 8000; t += chunk) {
        wave_fill(&wave, buf, chunk);
        meter_exec(m, buf, chunk);
        watch_drain(w, NULL, m);
    }
}

static void check_meter_counts(meter_t *m, watch_t *w, double rate, int type)
{
    int64_t e[PULSE_OUTPUTS];
    register_energy(&m->energy, type, e);
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        int64_t weight = weight_of(k == PULSE_LED ? LED_RATE : rate);
        assert_true(m->pulse.out[k].weight_uwh == weight);
        assert_exact(&m->pulse.out[k], e[k]);
        /* Nothing was deferred at this power: every pulse earned has started. */
        assert_int_equal(pulse_pending(&m->pulse, k), 0);
        assert_int_equal(pulse_count(&m->pulse, k), w->rises[k]);
        assert_within_one_pulse(pulse_count(&m->pulse, k), weight, e[k]);
    }
}

/* Through the whole meter (waveform -> metrology -> energy -> pulse) at the
 * highest power, for every rate fast enough to pulse in a short run, both
 * pulse types, at the widest width the rate allows. */
static void test_meter_every_rate_and_type(void **state)
{
    (void)state;
    static meter_t m;
    watch_t w;
    for (int type = 1; type <= 2; type++) {
        for (int r = 0; r < 8; r++) {
            double rate = manual_rates[r];
            /* Slower rates are covered by test_slow_rates_long_run. */
            if (rate < 10)
                continue;
            /* 8 pulses at least on the slowest output (L3's export, 12.6 kW,
             * 10.5 pulses at 3000 / rate seconds); 5 s at the least. */
            uint64_t seconds = (uint64_t)ceil(3000.0 / rate);
            if (seconds < 5)
                seconds = 5;
            run_meter(&m, &w, rate, type, widest_ms(rate), seconds, 800);
            check_meter_counts(&m, &w, rate, type);
            if (w.rises[PULSE_S0_1] < 8 || w.rises[PULSE_S0_2] < 8) {
                print_error("rate %g type %d: %llu and %llu pulses\n", rate, type,
                            (unsigned long long)w.rises[PULSE_S0_1],
                            (unsigned long long)w.rises[PULSE_S0_2]);
                fail();
            }
            /* 10 000 imp/kWh at 53.8 kW is a pulse each 6.7 ms: the LED keeps up. */
            assert_true(w.rises[PULSE_LED] > (uint64_t)(seconds * P_MAX_W * 0.5 / 3600.0 * 10.0));
        }
    }
}

/* The same meter in chunks of one tick and of 100 ms: the same pulses at the
 * same times (they do not depend on how the host slices its calls), at the
 * default settings (1000 imp/kWh,
 * 30 ms, active & reactive: 6.6.3-6.6.5). */
static void test_meter_defaults_and_chunking(void **state)
{
    (void)state;
    static meter_t a, b;
    watch_t wa, wb;
    run_meter(&a, &wa, 1000, 1, 30, 10, 800);
    run_meter(&b, &wb, 1000, 1, 30, 10, 1);
    settings_t def;
    settings_defaults(&def, 1);
    assert_int_equal(def.s0_rate_x100, rate_x100_of(1000));
    assert_int_equal(def.pulse_type, 1);
    assert_int_equal(def.pulse_width_ms, 30);
    check_meter_counts(&a, &wa, 1000, 1);
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        assert_int_equal(wa.rises[k], wb.rises[k]);
        assert_int_equal(wa.last_rise[k], wb.last_rise[k]);
    }
}

/* Slow rates need hundreds of kWh: cycles go straight into the energy
 * registers and the pulse outputs, as meter.c hands them over. */
static void test_slow_rates_long_run(void **state)
{
    (void)state;
    static energy_t e;
    static pulse_t p[2][8];
    settings_t s[2][8];
    for (int type = 1; type <= 2; type++)
        for (int r = 0; r < 8; r++) {
            settings_for(&s[type - 1][r], manual_rates[r], type, widest_ms(manual_rates[r]));
            pulse_init(&p[type - 1][r], &s[type - 1][r]);
        }
    energy_init(&e);
    /* 600 kWh at ~53 kW: 6 pulses at 0.01 imp/kWh; 40.5 ms cycles (not a
     * multiple of anything) with power that wanders, import and export. */
    const double ticks = 324.1;
    double end = 0.0;
    uint64_t n_cycles = 0;
    int64_t e_type[2][PULSE_OUTPUTS];
    for (;;) {
        register_energy(&e, 1, e_type[0]);
        if (e_type[0][PULSE_S0_1] >= 600 * (int64_t)UWH_PER_KWH)
            break;
        metrology_cycle_t c = {.ticks = ticks, .end = end + ticks};
        double wobble = 1.0 + 0.05 * sin((double)n_cycles * 0.001);
        double ts = ticks / 8000.0;
        c.p_ws[0] = 276.0 * 65.0 * 0.9 * wobble * ts;
        c.p_ws[1] = 276.0 * 65.0 * 0.6 * ts;
        c.p_ws[2] = -276.0 * 65.0 * 0.8 * wobble * ts;
        c.q_vars[0] = 276.0 * 65.0 * 0.43 * ts;
        c.q_vars[1] = -276.0 * 65.0 * 0.8 * ts;
        c.q_vars[2] = 276.0 * 65.0 * 0.6 * ts;
        c.started[0] = c.started[1] = c.started[2] = true;
        energy_delta_t d;
        energy_add_cycle(&e, &c, 1, 3, &d);
        uint64_t t0 = (uint64_t)llround(end * 125000.0);
        uint64_t t1 = (uint64_t)llround(c.end * 125000.0);
        for (int type = 0; type < 2; type++)
            for (int r = 0; r < 8; r++) {
                pulse_cycle(&p[type][r], &d, t0, t1, &s[type][r]);
                p[type][r].ring_n = 0; /* no trace wanted here */
            }
        end = c.end;
        n_cycles++;
    }
    for (int type = 1; type <= 2; type++) {
        register_energy(&e, type, e_type[type - 1]);
        for (int r = 0; r < 8; r++) {
            pulse_t *q = &p[type - 1][r];
            pulse_advance(q, VTIME_NEVER - 1);
            for (int k = 0; k < PULSE_OUTPUTS; k++) {
                int64_t w = weight_of(k == PULSE_LED ? LED_RATE : manual_rates[r]);
                assert_exact(&q->out[k], e_type[type - 1][k]);
                assert_within_one_pulse(pulse_count(q, k), w, e_type[type - 1][k]);
            }
        }
        /* At 0.01 imp/kWh (100 kWh a pulse) both S0 outputs did pulse. */
        assert_true(pulse_count(&p[type - 1][7], PULSE_S0_1) >= 1);
    }
    assert_true(pulse_count(&p[0][7], PULSE_S0_1) >= 5);
}

/* Edge times: constant power within a cycle puts the crossing of k x w at
 * start + dur * (k*w - energy before the cycle) / energy of the cycle. */
static void check_interpolation(double rate, int width_ms, int64_t e_base, int64_t e_step)
{
    settings_t s;
    settings_for(&s, rate, 2, width_ms); /* forward & reverse: S0-1 is forward active */
    pulse_t p;
    pulse_init(&p, &s);
    const int64_t w = weight_of(rate);
    static uint64_t want[8192];
    size_t n_want = 0, n_got = 0;
    int64_t before = 0;
    uint64_t start = 5 * VTIME_NS_PER_S + 12345;
    for (int c = 0; c < 2000; c++) {
        /* Cycles of varying length and energy, forward only. */
        uint64_t dur = 19900000 + (uint64_t)(c % 7) * 31111;
        int64_t energy = e_base + (c % 5) * e_step;
        for (int64_t k = before / w + 1; k * w <= before + energy; k++) {
            assert_true(n_want < 8192);
            want[n_want++] =
                start + (uint64_t)floor((double)dur * (double)(k * w - before) / (double)energy);
        }
        energy_delta_t d = {.active_fwd = energy, .led = energy};
        pulse_cycle(&p, &d, start, start + dur, &s);
        pulse_edge_t e;
        while (pulse_pop_edge(&p, &e)) {
            assert_int_equal(e.output == PULSE_S0_2, 0);
            if (e.output != PULSE_S0_1 || !e.level)
                continue;
            assert_true(n_got < n_want);
            int64_t diff = (int64_t)e.t_ns - (int64_t)want[n_got];
            if (diff < -1 || diff > 1) {
                print_error("pulse %zu at %llu ns, expected %llu ns\n", n_got,
                            (unsigned long long)e.t_ns, (unsigned long long)want[n_got]);
                fail();
            }
            /* It rose inside the cycle that earned it. */
            assert_true(e.t_ns >= start && e.t_ns <= start + dur);
            n_got++;
        }
        before += energy;
        start += dur;
    }
    assert_true(n_want > 20);
    assert_int_equal(n_got, n_want);
    assert_int_equal(pulse_pending(&p, PULSE_S0_1), 0);
    assert_int_equal(pulse_count(&p, PULSE_S0_2), 0);
}

static void test_edges_interpolated(void **state)
{
    (void)state;
    /* One crossing every few cycles (1000 imp/kWh, 1e6 uWh a pulse). */
    check_interpolation(1000, 7, 123457, 98765);
    /* Two or three crossings in every cycle (10 000 imp/kWh, 1e5 uWh a pulse,
     * 2e5..2.9e5 uWh a cycle: at least 6.8 ms apart, more than 3 ms + 3 ms). */
    check_interpolation(10000, 3, 200000, 22000);
}

/* 6.6.5: a width whose pulse and equal gap do not fit one pulse period at
 * the highest power is refused; the widest that fits is accepted. */
static void test_width_limit(void **state)
{
    (void)state;
    for (int r = 0; r < 8; r++) {
        settings_t s;
        settings_defaults(&s, 1);
        assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 2), SETTINGS_OK);
        assert_int_equal(settings_set(&s, SETTING_S0_RATE, (int32_t)rate_x100_of(manual_rates[r])),
                         SETTINGS_OK);
        int max = widest_ms(manual_rates[r]);
        assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, max), SETTINGS_OK);
        if (max < 99) {
            assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, max + 1), SETTINGS_E_CONFLICT);
            assert_int_equal(s.pulse_width_ms, max);
        }
    }
    /* 10 000 imp/kWh at 53.82 kW: a pulse each 6.69 ms, so 3 ms at most. */
    settings_t s;
    settings_defaults(&s, 1);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 4), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_S0_RATE, 1000000), SETTINGS_OK);
    assert_int_equal(s.pulse_width_ms, 3); /* the width follows the rate down */
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 4), SETTINGS_E_CONFLICT);
}

/* At the highest power and the widest width, no pulse is ever deferred: each
 * rises at its crossing, exactly one pulse period apart. */
static void test_no_deferral_at_max_power(void **state)
{
    (void)state;
    for (int r = 0; r < 3; r++) {
        double rate = manual_rates[r];
        settings_t s;
        settings_for(&s, rate, 1, widest_ms(rate));
        pulse_t p;
        pulse_init(&p, &s);
        /* P_MAX in 20 ms cycles: 299 000 uWh a cycle (53 820 W x 20 ms). */
        const int64_t e = (int64_t)(P_MAX_W * 0.020 / 3600.0 * 1e6);
        const uint64_t dur = 20 * VTIME_NS_PER_MS;
        uint64_t prev = 0, n = 0;
        for (int c = 0; c < 500; c++) {
            energy_delta_t d = {.active_fwd = e, .led = e};
            pulse_cycle(&p, &d, c * dur, (c + 1) * dur, &s);
            assert_int_equal(pulse_pending(&p, PULSE_S0_1), 0);
            pulse_edge_t ed;
            while (pulse_pop_edge(&p, &ed)) {
                if (ed.output != PULSE_S0_1 || !ed.level)
                    continue;
                if (n++ > 0) {
                    /* weight / power: the period, to a nanosecond. */
                    double period = (double)weight_of(rate) / (double)e * (double)dur;
                    assert_true(fabs((double)(ed.t_ns - prev) - period) <= 1.0);
                }
                prev = ed.t_ns;
            }
        }
        assert_true(n > 10);
    }
}

/* Crossings closer than pulse + gap are deferred, never lost: each starts as
 * soon as the previous pulse and an equal gap have passed. */
static void test_deferred_never_lost(void **state)
{
    (void)state;
    settings_t s;
    settings_for(&s, 10000, 1, 3); /* 1e5 uWh a pulse, 3 ms + 3 ms */
    pulse_t p;
    pulse_init(&p, &s);
    const uint64_t ms = VTIME_NS_PER_MS;
    /* Ten pulses' worth in 20 ms: a crossing each 2 ms. */
    energy_delta_t d = {.active_fwd = 1000000};
    pulse_cycle(&p, &d, 0, 20 * ms, &s);
    /* Rises at 2, 8, 14 and 20 ms so far; six wait. */
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 4);
    assert_int_equal(pulse_pending(&p, PULSE_S0_1), 6);
    assert_true(pulse_level(&p, PULSE_S0_1));
    assert_true(pulse_deadline(&p) == 23 * ms);
    pulse_advance(&p, VTIME_NS_PER_S);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 10);
    assert_int_equal(pulse_pending(&p, PULSE_S0_1), 0);
    assert_false(pulse_level(&p, PULSE_S0_1));
    assert_true(pulse_deadline(&p) == VTIME_NEVER);
    pulse_edge_t e;
    for (int k = 0; k < 10; k++) {
        assert_true(pulse_pop_edge(&p, &e));
        assert_true(e.output == PULSE_S0_1 && e.level && e.t_ns == (2 + 6 * (uint64_t)k) * ms);
        assert_true(pulse_pop_edge(&p, &e));
        assert_true(e.output == PULSE_S0_1 && !e.level && e.t_ns == (5 + 6 * (uint64_t)k) * ms);
    }
    assert_false(pulse_pop_edge(&p, &e));
}

/* Host API: level and deadline follow the edges to the nanosecond. */
static void test_levels_and_deadline(void **state)
{
    (void)state;
    settings_t s;
    settings_defaults(&s, 1); /* 1000 imp/kWh (1e6 uWh), 30 ms */
    pulse_t p;
    pulse_init(&p, &s);
    const uint64_t ms = VTIME_NS_PER_MS;
    assert_true(pulse_deadline(&p) == VTIME_NEVER);
    /* 1.5 pulses in 20 ms: the crossing at 2/3 of the cycle. */
    energy_delta_t d = {.reactive_fwd = 1500000};
    pulse_cycle(&p, &d, 100 * ms, 130 * ms, &s);
    assert_true(pulse_level(&p, PULSE_S0_2));
    assert_false(pulse_level(&p, PULSE_S0_1));
    assert_false(pulse_level(&p, PULSE_LED)); /* reactive energy does not light it */
    assert_true(pulse_deadline(&p) == 120 * ms + 30 * ms);
    pulse_advance(&p, 150 * ms - 1);
    assert_true(pulse_level(&p, PULSE_S0_2));
    pulse_advance(&p, 150 * ms);
    assert_false(pulse_level(&p, PULSE_S0_2));
    assert_int_equal(pulse_count(&p, PULSE_S0_2), 1);
    assert_true(p.out[PULSE_S0_2].acc_uwh == 500000);
    assert_false(pulse_level(&p, 7)); /* no such output: low, nothing counted */
    assert_int_equal(pulse_count(&p, -1), 0);
}

/* The LED counts active energy at 10 000 imp/kWh (4) whatever the S0 rate
 * and type, in 2 ms flashes (docs/pulse.md). */
static void test_led(void **state)
{
    (void)state;
    settings_t s;
    settings_for(&s, 0.01, 2, 99);
    pulse_t p;
    pulse_init(&p, &s);
    const uint64_t ms = VTIME_NS_PER_MS;
    /* 1 Wh of reverse active energy in 200 ms: a flash each 20 ms, at the
     * 10th, 30th, ... ms: the first crossing is 1e5 of 1e6 uWh in. */
    energy_delta_t d = {.active_rev = 1000000, .led = 1000000};
    pulse_cycle(&p, &d, 0, 200 * ms, &s);
    pulse_advance(&p, VTIME_NS_PER_S);
    assert_int_equal(pulse_count(&p, PULSE_LED), 10);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 0); /* no forward energy */
    assert_int_equal(pulse_count(&p, PULSE_S0_2), 0); /* 1 Wh of 100 kWh */
    pulse_edge_t e;
    for (uint64_t k = 0; k < 10; k++) {
        assert_true(pulse_pop_edge(&p, &e));
        assert_true(e.output == PULSE_LED && e.level && e.t_ns == (20 * k + 20) * ms);
        assert_true(pulse_pop_edge(&p, &e));
        assert_true(e.output == PULSE_LED && !e.level && e.t_ns == (20 * k + 22) * ms);
    }
}

/* Decision (docs/pulse.md): a change of rate or type starts a new count; the
 * fraction in hand is dropped, pulses already earned still come out, and a
 * change of width applies from the next pulse. */
static void test_rate_and_type_change(void **state)
{
    (void)state;
    settings_t s;
    settings_defaults(&s, 1); /* 1000 imp/kWh: 1e6 uWh */
    pulse_t p;
    pulse_init(&p, &s);
    const uint64_t ms = VTIME_NS_PER_MS;
    energy_delta_t d = {.active_fwd = 2500000, .led = 2500000, .reactive_fwd = 700000};
    pulse_cycle(&p, &d, 0, 100 * ms, &s);
    pulse_advance(&p, VTIME_NS_PER_S);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 2);
    assert_true(p.out[PULSE_S0_1].acc_uwh == 500000);

    /* 100 imp/kWh (1e7 uWh), 50 ms. */
    assert_int_equal(settings_set(&s, SETTING_S0_RATE, 10000), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 50), SETTINGS_OK);
    d = (energy_delta_t){.active_fwd = 3000000};
    pulse_cycle(&p, &d, VTIME_NS_PER_S, VTIME_NS_PER_S + 20 * ms, &s);
    assert_true(p.out[PULSE_S0_1].acc_uwh == 3000000); /* the 5e5 in hand dropped */
    assert_true(p.out[PULSE_S0_2].acc_uwh == 0);       /* so was S0-2's 7e5 */
    assert_true(p.out[PULSE_LED].acc_uwh == 0);        /* 25 flashes, and it never restarts */
    assert_int_equal(pulse_count(&p, PULSE_LED), 25);
    /* 7e6 more: the crossing falls at the end of that cycle, not before. */
    d = (energy_delta_t){.active_fwd = 7000000};
    uint64_t t0 = VTIME_NS_PER_S + 20 * ms;
    pulse_cycle(&p, &d, t0, t0 + 20 * ms, &s);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 3);
    pulse_edge_t e, rise = {0}, fall = {0};
    while (pulse_pop_edge(&p, &e)) {
        if (e.output == PULSE_S0_1 && e.level)
            rise = e;
    }
    assert_true(rise.t_ns == t0 + 20 * ms);
    pulse_advance(&p, 2 * VTIME_NS_PER_S);
    while (pulse_pop_edge(&p, &e))
        fall = e;
    assert_true(fall.output == PULSE_S0_1 && fall.t_ns == rise.t_ns + 50 * ms);

    /* Type 2: S0-1 counts forward active from zero. */
    assert_int_equal(settings_set(&s, SETTING_PULSE_TYPE, 2), SETTINGS_OK);
    d = (energy_delta_t){.active_fwd = 4000000, .active_rev = 1000};
    pulse_cycle(&p, &d, 2 * VTIME_NS_PER_S, 2 * VTIME_NS_PER_S + 20 * ms, &s);
    assert_true(p.out[PULSE_S0_1].acc_uwh == 4000000);
    assert_true(p.out[PULSE_S0_2].acc_uwh == 1000);
}

/* A pulse earned under the old rate still comes out after the change, at
 * the end of the previous pulse's gap (deferred, not lost). */
static void test_change_keeps_pending(void **state)
{
    (void)state;
    settings_t s;
    settings_for(&s, 2000, 1, 16); /* 5e5 uWh, 16 ms */
    pulse_t p;
    pulse_init(&p, &s);
    const uint64_t ms = VTIME_NS_PER_MS;
    energy_delta_t d = {.active_fwd = 1000000}; /* crossings at 10 and 20 ms */
    pulse_cycle(&p, &d, 0, 20 * ms, &s);
    assert_int_equal(pulse_pending(&p, PULSE_S0_1), 1);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 2), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_S0_RATE, 1000000), SETTINGS_OK);
    d = (energy_delta_t){0};
    pulse_cycle(&p, &d, 20 * ms, 40 * ms, &s);
    pulse_advance(&p, VTIME_NS_PER_S);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 2);
    pulse_edge_t e;
    uint64_t rises[2] = {0}, falls[2] = {0};
    int nr = 0, nf = 0;
    while (pulse_pop_edge(&p, &e)) {
        if (e.output != PULSE_S0_1)
            continue;
        if (e.level)
            rises[nr++] = e.t_ns;
        else
            falls[nf++] = e.t_ns;
    }
    assert_true(nr == 2 && nf == 2);
    assert_true(rises[0] == 10 * ms && falls[0] == 26 * ms);
    /* 26 ms + 16 ms of gap; then 2 ms wide at the new setting. */
    assert_true(rises[1] == 42 * ms && falls[1] == 44 * ms);
}

/* The trace ring keeps the newest PULSE_EDGE_RING edges, oldest first, and
 * counts what it dropped. */
static void test_edge_ring(void **state)
{
    (void)state;
    settings_t s;
    settings_for(&s, 10000, 1, 2);
    pulse_t p;
    pulse_init(&p, &s);
    /* 200 S0-1 pulses and 200 LED flashes, 10 ms apart: 800 edges. */
    energy_delta_t d = {.active_fwd = 20000000, .led = 20000000};
    pulse_cycle(&p, &d, 0, 2 * VTIME_NS_PER_S, &s);
    pulse_advance(&p, 3 * VTIME_NS_PER_S);
    assert_int_equal(p.edges_dropped, 800 - PULSE_EDGE_RING);
    pulse_edge_t e;
    uint64_t last = 0;
    unsigned n = 0;
    while (pulse_pop_edge(&p, &e)) {
        assert_true(e.t_ns >= last);
        last = e.t_ns;
        n++;
    }
    assert_int_equal(n, PULSE_EDGE_RING);
    /* The newest edge: the last flash fell 2 ms after the last crossing. */
    assert_true(last == 2 * VTIME_NS_PER_S + 2 * VTIME_NS_PER_MS);
}

/* A backlog longer than the queue folds cycles together: later, but every
 * pulse still comes out, in order, with its gap. */
static void test_backlog_folds(void **state)
{
    (void)state;
    settings_t s;
    settings_for(&s, 10000, 1, 3); /* 1e5 uWh, 3 ms + 3 ms */
    pulse_t p;
    pulse_init(&p, &s);
    const uint64_t ms = VTIME_NS_PER_MS;
    int64_t total = 0;
    for (int c = 0; c < 40; c++) {
        /* 20 pulses' worth each 20 ms: six times faster than they can go. */
        energy_delta_t d = {.active_fwd = 2000000 + c};
        total += d.active_fwd;
        pulse_cycle(&p, &d, (uint64_t)c * 20 * ms, (uint64_t)(c + 1) * 20 * ms, &s);
        p.ring_n = 0;
        assert_true(p.out[PULSE_S0_1].due_n <= PULSE_DUE_SLOTS);
    }
    assert_int_equal(p.out[PULSE_S0_1].due_n, PULSE_DUE_SLOTS); /* it did fold */
    assert_exact(&p.out[PULSE_S0_1], total);
    uint64_t earned = p.out[PULSE_S0_1].earned;
    assert_true(pulse_pending(&p, PULSE_S0_1) > 600);
    /* Drain it, watching every edge: 6 ms apart at the least, nothing lost. */
    watch_t w;
    watch_init(&w, 3 * ms);
    w.rises[PULSE_S0_1] = pulse_count(&p, PULSE_S0_1);
    w.high[PULSE_S0_1] = pulse_level(&p, PULSE_S0_1);
    w.last_rise[PULSE_S0_1] = p.out[PULSE_S0_1].fall_ns - 3 * ms;
    w.last_fall[PULSE_S0_1] = p.out[PULSE_S0_1].ready_ns - 3 * ms;
    for (uint64_t t = 1; t <= 100; t++) {
        pulse_advance(&p, t * 100 * ms);
        watch_drain(&w, &p, NULL);
    }
    assert_int_equal(pulse_pending(&p, PULSE_S0_1), 0);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), earned);
    assert_int_equal(w.rises[PULSE_S0_1], earned);
    assert_within_one_pulse(pulse_count(&p, PULSE_S0_1), 100000, total);
}

/* Bad input: a cycle that ends before it starts, absurd energy, a rate of 0
 * (no valid setting) neither crash nor break the invariant. */
static void test_bad_input(void **state)
{
    (void)state;
    settings_t s;
    settings_defaults(&s, 1);
    pulse_t p;
    pulse_init(&p, &s);
    energy_delta_t d = {.active_fwd = 3000000, .led = -5, .reactive_rev = -7};
    pulse_cycle(&p, &d, 50 * VTIME_NS_PER_MS, 10 * VTIME_NS_PER_MS, &s);
    pulse_advance(&p, 60 * VTIME_NS_PER_MS);
    assert_int_equal(pulse_count(&p, PULSE_S0_1), 1); /* the rest wait their gaps */
    assert_int_equal(pulse_pending(&p, PULSE_S0_1), 2);
    assert_int_equal(pulse_count(&p, PULSE_LED), 0);
    assert_int_equal(pulse_count(&p, PULSE_S0_2), 0);
    s.s0_rate_x100 = 0;
    d = (energy_delta_t){.active_fwd = INT64_MAX, .reactive_fwd = INT64_MAX};
    pulse_cycle(&p, &d, VTIME_NS_PER_S, VTIME_NS_PER_S + 1, &s);
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        const pulse_output_t *o = &p.out[k];
        assert_true(o->weight_uwh > 0 && o->acc_uwh >= 0 && o->acc_uwh < o->weight_uwh);
    }
    pulse_advance(&p, 2 * VTIME_NS_PER_S);
    assert_true(pulse_pending(&p, PULSE_S0_1) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_edges_interpolated),
        cmocka_unit_test(test_width_limit),
        cmocka_unit_test(test_no_deferral_at_max_power),
        cmocka_unit_test(test_deferred_never_lost),
        cmocka_unit_test(test_levels_and_deadline),
        cmocka_unit_test(test_led),
        cmocka_unit_test(test_rate_and_type_change),
        cmocka_unit_test(test_change_keeps_pending),
        cmocka_unit_test(test_edge_ring),
        cmocka_unit_test(test_backlog_folds),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_meter_defaults_and_chunking),
        cmocka_unit_test(test_meter_every_rate_and_type),
        cmocka_unit_test(test_slow_rates_long_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
