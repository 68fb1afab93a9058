/* waveform: rotor-based three-phase synthesis (see waveform.h). */
#include "waveform.h"

#include <math.h>
#include <string.h>

#include "vtime.h"

#define TWO_PI 6.283185307179586476925286766559
#define DEG 0.017453292519943295769236907684886
#define BLOCK 256 /* ticks between exact recomputations of the rotor */

double wave_lag_from_pf(double pf, int capacitive, int export_)
{
    double a = acos(fabs(pf) > 1.0 ? 1.0 : fabs(pf)) / DEG;
    if (capacitive)
        a = -a;
    if (export_)
        a += 180.0;
    return a;
}

void wave_desc_balanced(wave_desc_t *d, double frequency, double voltage, double current,
                        double lag_deg)
{
    static const double position[3] = {0.0, -120.0, 120.0};
    memset(d, 0, sizeof *d);
    d->frequency = frequency;
    for (int k = 0; k < 3; k++) {
        d->phase[k].voltage = voltage;
        d->phase[k].current = current;
        d->phase[k].lag_deg = lag_deg;
        d->phase[k].position_deg = position[k];
    }
}

/* sin(h*a + c) = Im(e^{jc} * rotor^h): store sqrt2 * amplitude * e^{jc}. */
static void add_component(double a[2], double amplitude, double angle_rad)
{
    a[0] += M_SQRT2 * amplitude * cos(angle_rad);
    a[1] += M_SQRT2 * amplitude * sin(angle_rad);
}

static void set_rotor(double r[2], double cycles)
{
    r[0] = cos(TWO_PI * cycles);
    r[1] = sin(TWO_PI * cycles);
}

void wave_set(wave_t *w, const wave_desc_t *d)
{
    /* Fold the ticks run at the old frequency into the anchor: the phase
     * carries on where it was. */
    double old_step = w->desc.frequency / VTIME_SAMPLE_RATE;
    w->anchor += old_step * w->since_anchor;
    w->anchor -= floor(w->anchor);
    w->since_anchor = 0;
    set_rotor(w->rotor, w->anchor);
    w->desc = *d;
    set_rotor(w->step_rotor, d->frequency / VTIME_SAMPLE_RATE);
    memset(w->av, 0, sizeof w->av);
    memset(w->ai, 0, sizeof w->ai);
    memset(w->used, 0, sizeof w->used);
    w->max_order = 1;
    w->used[1] = 1;
    for (int k = 0; k < 3; k++) {
        const wave_phase_t *p = &d->phase[k];
        double th = p->position_deg * DEG;
        double ti = (p->position_deg - p->lag_deg) * DEG;
        add_component(w->av[k][1], p->voltage, th);
        add_component(w->ai[k][1], p->current, ti);
        for (int n = 0; n < p->n_vh; n++) {
            int h = p->vh[n].order;
            if (h < 2 || h > WAVE_MAX_ORDER)
                continue;
            add_component(w->av[k][h], p->voltage * p->vh[n].percent / 100.0,
                          h * th + p->vh[n].phase_deg * DEG);
            w->used[h] = 1;
            if (h > w->max_order)
                w->max_order = h;
        }
        for (int n = 0; n < p->n_ih; n++) {
            int h = p->ih[n].order;
            if (h < 2 || h > WAVE_MAX_ORDER)
                continue;
            add_component(w->ai[k][h], p->current * p->ih[n].percent / 100.0,
                          h * ti + p->ih[n].phase_deg * DEG);
            w->used[h] = 1;
            if (h > w->max_order)
                w->max_order = h;
        }
    }
}

void wave_init(wave_t *w, const wave_desc_t *d)
{
    memset(w, 0, sizeof *w);
    w->desc.frequency = d->frequency;
    w->rng = d->seed ? d->seed : 0x9E3779B97F4A7C15ull;
    wave_set(w, d);
}

/* splitmix64: small, fast, and the same sequence everywhere. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Approximately standard normal: the sum of four uniforms (Irwin-Hall) from
 * one 64-bit draw, centred and scaled to unit variance. Bounded at 3.46
 * sigma, which noise on a meter's input never exceeds anyway, and about ten
 * times cheaper than Box-Muller. */
static double gauss(uint64_t *s)
{
    uint64_t r = next_u64(s);
    double sum = (double)(r & 0xFFFF) + (double)((r >> 16) & 0xFFFF) +
                 (double)((r >> 32) & 0xFFFF) + (double)(r >> 48);
    /* Each term is uniform on 0..65535: mean 32767.5, variance (65536^2 - 1) / 12. */
    return (sum - 4 * 32767.5) / sqrt(4.0 * (65536.0 * 65536.0 - 1.0) / 12.0);
}

/* The next tick's sample; the rotor then turns by one step. */
static void fill_one(wave_t *w, metrology_sample_t *s)
{
    if (w->tick % BLOCK == 0) {
        /* Exact phase again, on a grid of the absolute tick count. */
        w->anchor += w->desc.frequency / VTIME_SAMPLE_RATE * w->since_anchor;
        w->anchor -= floor(w->anchor);
        w->since_anchor = 0;
        set_rotor(w->rotor, w->anchor);
    }
    const double *r = w->rotor;
    for (int k = 0; k < 3; k++) {
        /* Im(A * r) = A.re * r.im + A.im * r.re */
        s->v[k] = w->av[k][1][0] * r[1] + w->av[k][1][1] * r[0];
        s->i[k] = w->ai[k][1][0] * r[1] + w->ai[k][1][1] * r[0];
    }
    if (w->max_order > 1) {
        double p[2] = {r[0], r[1]};
        for (int h = 2; h <= w->max_order; h++) {
            double re = p[0] * r[0] - p[1] * r[1];
            p[1] = p[0] * r[1] + p[1] * r[0];
            p[0] = re;
            if (!w->used[h])
                continue;
            for (int k = 0; k < 3; k++) {
                s->v[k] += w->av[k][h][0] * p[1] + w->av[k][h][1] * p[0];
                s->i[k] += w->ai[k][h][0] * p[1] + w->ai[k][h][1] * p[0];
            }
        }
    }
    if (w->desc.noise_v > 0.0 || w->desc.noise_i > 0.0) {
        for (int k = 0; k < 3; k++) {
            s->v[k] += w->desc.noise_v * gauss(&w->rng);
            s->i[k] += w->desc.noise_i * gauss(&w->rng);
        }
    }
    double re = w->rotor[0] * w->step_rotor[0] - w->rotor[1] * w->step_rotor[1];
    w->rotor[1] = w->rotor[0] * w->step_rotor[1] + w->rotor[1] * w->step_rotor[0];
    w->rotor[0] = re;
    w->since_anchor++;
    w->tick++;
}

void wave_fill(wave_t *w, metrology_sample_t *out, size_t n)
{
    for (size_t t = 0; t < n; t++)
        fill_one(w, &out[t]);
}

bool wave_phasors(const wave_t *w, metrology_phasors_t *out)
{
    double step = w->desc.frequency / VTIME_SAMPLE_RATE;
    double phase = w->anchor + step * w->since_anchor;
    out->tick0 = w->tick;
    out->phase0 = phase - floor(phase);
    out->step = step;
    out->noise_v = w->desc.noise_v;
    out->noise_i = w->desc.noise_i;
    out->seed = w->desc.seed;
    out->n = 0;
    for (int h = 1; h <= w->max_order; h++) {
        if (!w->used[h])
            continue;
        if (out->n == METROLOGY_PHASOR_ORDERS)
            return false;
        int o = out->n++;
        out->order[o] = h;
        for (int k = 0; k < 3; k++)
            for (int c = 0; c < 2; c++) {
                out->v[k][o][c] = w->av[k][h][c];
                out->i[k][o][c] = w->ai[k][h][c];
            }
    }
    return true;
}

void wave_skip(wave_t *w, size_t n)
{
    /* The same folds of the phase accumulator as wave_fill makes, at the
     * same ticks, so that a later wave_set carries the phase on alike. */
    while (n > 0) {
        if (w->tick % BLOCK == 0) {
            w->anchor += w->desc.frequency / VTIME_SAMPLE_RATE * w->since_anchor;
            w->anchor -= floor(w->anchor);
            w->since_anchor = 0;
        }
        uint64_t k = BLOCK - w->tick % BLOCK;
        if (k > n)
            k = n;
        w->since_anchor += (uint32_t)k;
        w->tick += k;
        n -= (size_t)k;
    }
    set_rotor(w->rotor, w->anchor + w->desc.frequency / VTIME_SAMPLE_RATE * w->since_anchor);
}
