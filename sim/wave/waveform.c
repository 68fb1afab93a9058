/* waveform: rotor-based three-phase synthesis (see waveform.h). */
#include "waveform.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "simd.h"
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

/* cs = (cos x, sin x), through w's memo. */
static void cos_sin(wave_t *w, double x, double cs[2])
{
    uint64_t key;
    memcpy(&key, &x, sizeof key);
    unsigned slot = (unsigned)((key * 0x9E3779B97F4A7C15u) >> 59) & (WAVE_SINCOS_MEMO - 1);
    if ((w->sc_valid >> slot & 1u) && w->sc_key[slot] == key) {
        cs[0] = w->sc_val[slot][0];
        cs[1] = w->sc_val[slot][1];
        return;
    }
    cs[0] = cos(x);
    cs[1] = sin(x);
    w->sc_key[slot] = key;
    w->sc_val[slot][0] = cs[0];
    w->sc_val[slot][1] = cs[1];
    w->sc_valid |= 1u << slot;
}

/* sin(h*a + c) = Im(e^{jc} * rotor^h): store sqrt2 * amplitude * e^{jc}. */
static void add_component(wave_t *w, double a[2], double amplitude, double angle_rad)
{
    double cs[2];
    cos_sin(w, angle_rad, cs);
    a[0] += M_SQRT2 * amplitude * cs[0];
    a[1] += M_SQRT2 * amplitude * cs[1];
}

/* The rotor at a phase (cycles): a new one at each call, no memo. */
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
    cos_sin(w, TWO_PI * (d->frequency / VTIME_SAMPLE_RATE), w->step_rotor);
    /* Above max_order every amplitude is 0 (wave_init clears them all, and
     * each wave_set clears what the last one set): clear and copy only the
     * orders either description uses (a current that moves every second
     * sets three orders, not 51). */
    int old_max = w->max_order;
    for (int k = 0; k < 3; k++) {
        memset(w->av[k], 0, sizeof w->av[k][0] * (size_t)(old_max + 1));
        memset(w->ai[k], 0, sizeof w->ai[k][0] * (size_t)(old_max + 1));
    }
    memset(w->used, 0, sizeof w->used[0] * (size_t)(old_max + 1));
    w->max_order = 1;
    w->used[1] = 1;
    for (int k = 0; k < 3; k++) {
        const wave_phase_t *p = &d->phase[k];
        double th = p->position_deg * DEG;
        double ti = (p->position_deg - p->lag_deg) * DEG;
        add_component(w, w->av[k][1], p->voltage, th);
        add_component(w, w->ai[k][1], p->current, ti);
        for (int n = 0; n < p->n_vh; n++) {
            int h = p->vh[n].order;
            if (h < 2 || h > WAVE_MAX_ORDER)
                continue;
            add_component(w, w->av[k][h], p->voltage * p->vh[n].percent / 100.0,
                          h * th + p->vh[n].phase_deg * DEG);
            w->used[h] = 1;
            if (h > w->max_order)
                w->max_order = h;
        }
        for (int n = 0; n < p->n_ih; n++) {
            int h = p->ih[n].order;
            if (h < 2 || h > WAVE_MAX_ORDER)
                continue;
            add_component(w, w->ai[k][h], p->current * p->ih[n].percent / 100.0,
                          h * ti + p->ih[n].phase_deg * DEG);
            w->used[h] = 1;
            if (h > w->max_order)
                w->max_order = h;
        }
    }
    int top = w->max_order > old_max ? w->max_order : old_max;
    for (int h = 0; h <= top; h++) {
        for (int k = 0; k < 3; k++) {
            for (int c = 0; c < 2; c++) {
                w->amp[h][c][k] = w->av[k][h][c];
                w->amp[h][c][3 + k] = w->ai[k][h][c];
            }
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
static inline uint64_t next_u64(uint64_t *s)
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
static inline double gauss(uint64_t *s)
{
    uint64_t r = next_u64(s);
    double sum = (double)(r & 0xFFFF) + (double)((r >> 16) & 0xFFFF) +
                 (double)((r >> 32) & 0xFFFF) + (double)(r >> 48);
    /* Each term is uniform on 0..65535: mean 32767.5, variance (65536^2 - 1) / 12. */
    return (sum - 4 * 32767.5) / sqrt(4.0 * (65536.0 * 65536.0 - 1.0) / 12.0);
}

/* Pairs of doubles (v2d, simd.h): each lane does the operations of the
 * scalar formula, in its order, so the samples are the same bits as one value
 * at a time. */
static inline v2d pair(double a, double b)
{
    return (v2d){a, b};
}

static inline v2d load2(const double *p)
{
    v2d v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* n ticks from the rotor as it is, without the exact recomputation: the
 * caller stops at the grid of BLOCK ticks. Per tick: the rotor's powers
 * p = r^h by successive products, every component Im(A * p) added in order
 * of h, the noise, then the rotor turns by one step. */
SIMD_CLONES static void fill_run(wave_t *w, metrology_sample_t *out, size_t n)
{
    const int max_order = w->max_order;
    const double(*amp)[2][6] = (const double(*)[2][6])w->amp;
    const bool noisy = w->desc.noise_v > 0.0 || w->desc.noise_i > 0.0;
    const v2d step = pair(w->step_rotor[0], w->step_rotor[1]);
    const v2d step_n = pair(-w->step_rotor[1], w->step_rotor[0]);
    v2d r = pair(w->rotor[0], w->rotor[1]);
    for (size_t t = 0; t < n; t++) {
        /* (a, b) * e^{j x} as pairs: (re, re) * (c, s) + (im, im) * (-s, c)
         * gives (re c - im s, re s + im c), the products of the scalar code. */
        v2d rre = pair(r[0], r[0]), rim = pair(r[1], r[1]);
        v2d rn = pair(-r[1], r[0]);
        v2d o[3];
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) /* Im(A * r) = A.re * r.im + A.im * r.re */
            o[j] = load2(&amp[1][0][2 * j]) * rim + load2(&amp[1][1][2 * j]) * rre;
        v2d pre = rre, pim = rim; /* r^h, h = 1 */
        for (int h = 2; h <= max_order; h++) {
            v2d p = pre * r + pim * rn;
            pre = pair(p[0], p[0]);
            pim = pair(p[1], p[1]);
            if (!w->used[h])
                continue;
#pragma GCC unroll 3
            for (int j = 0; j < 3; j++)
                o[j] += load2(&amp[h][0][2 * j]) * pim + load2(&amp[h][1][2 * j]) * pre;
        }
        metrology_sample_t *s = &out[t];
        for (int j = 0; j < 3; j++) /* v1 v2 | v3 i1 | i2 i3 */
            memcpy((unsigned char *)s + j * sizeof o[j], &o[j], sizeof o[j]);
        if (noisy) {
            for (int k = 0; k < 3; k++) {
                s->v[k] += w->desc.noise_v * gauss(&w->rng);
                s->i[k] += w->desc.noise_i * gauss(&w->rng);
            }
        }
        r = rre * step + rim * step_n;
    }
    w->rotor[0] = r[0];
    w->rotor[1] = r[1];
    w->since_anchor += (uint32_t)n;
    w->tick += n;
}

void wave_fill(wave_t *w, metrology_sample_t *out, size_t n)
{
    size_t t = 0;
    while (t < n) {
        uint32_t in_block = (uint32_t)(w->tick % BLOCK);
        if (in_block == 0) {
            /* Exact phase again, on a grid of the absolute tick count. */
            w->anchor += w->desc.frequency / VTIME_SAMPLE_RATE * w->since_anchor;
            w->anchor -= floor(w->anchor);
            w->since_anchor = 0;
            set_rotor(w->rotor, w->anchor);
        }
        size_t run = BLOCK - in_block;
        if (run > n - t)
            run = n - t;
        fill_run(w, &out[t], run);
        t += run;
    }
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

/* m folds of whole blocks at once, from a fold (since_anchor 0), when they
 * can be counted in integers: each fold is a = a + c - floor(a + c) with
 * c = step * BLOCK. For c in [1, 2) and a and c whole even multiples of
 * 2^-52 (a after one fold is a multiple of 2^-52 or 2^-51), a + c is exact
 * (below 2 on the grid of 2^-52; from 2 on, of 2^-51, which an even sum is
 * on) and so is the subtraction: in units of 2^-52 the fold is
 * A = (A + C) mod 2^52, and m of them are A + m C mod 2^52. 50 Hz at 8 kHz
 * is such a case. False (nothing done) when the case does not hold. */
static bool fold_blocks(wave_t *w, uint64_t m)
{
    const double one = 4503599627370496.0; /* 2^52 */
    double c = w->desc.frequency / VTIME_SAMPLE_RATE * (double)BLOCK;
    if (!(c >= 1.0 && c < 2.0) || !(w->anchor >= 0.0 && w->anchor < 1.0))
        return false;
    double cs = c * one, as = w->anchor * one; /* exact: powers of two */
    uint64_t C = (uint64_t)cs, A = (uint64_t)as;
    if ((double)C != cs || (double)A != as || (C & 1u) || (A & 1u))
        return false;
    A = (A + m * C) & ((1ull << 52) - 1u);
    w->anchor = (double)A / one;
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
            /* The whole blocks after which a fold still comes in this call
             * (a tick is left after them), at once where they can be. */
            uint64_t m = (n - 1) / BLOCK;
            if (m > 0 && fold_blocks(w, m)) {
                w->tick += m * BLOCK;
                n -= (size_t)(m * BLOCK);
                continue; /* the fold at this boundary adds 0 * step */
            }
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
