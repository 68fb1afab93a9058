/* metrology_steady: closed-form cycle sums for a steady grid (see
 * metrology_steady.h, docs/metrology.md). */
#include "metrology_steady.h"

#include <math.h>
#include <string.h>

#include "metrology_internal.h"
#include "metrology_steady_internal.h"
#include "vtime.h"

#define RING_MASK (METROLOGY_DELAY_RING - 1u)
/* Two cycles whose crossings and delay taps agree this closely are the
 * same cycle: its sums are reused (a difference of 1e-12 of a tick moves
 * a sum by about 1e-14 of itself). */
#define SAME 1e-12
#define FAST_CYCLES 400
#define SAME_F 1e-13 /* of the frequency: 4e-12 of a tick of delay at 50 Hz */

/* cexpi(cycles) through the description-independent memo (header): the
 * same call's bits, looked up by the bits of its argument. */
static cx cexpi_memo(metrology_steady_t *st, double cycles)
{
    uint64_t key;
    memcpy(&key, &cycles, sizeof key);
    unsigned slot = (unsigned)((key * 0x9E3779B97F4A7C15u) >> 59) & (METROLOGY_SINCOS_MEMO - 1);
    if ((st->sc_valid >> slot & 1u) && st->sc_key[slot] == key)
        return cpair(st->sc_val[slot]);
    cx v = cexpi(cycles);
    st->sc_key[slot] = key;
    st->sc_val[slot][0] = v.re;
    st->sc_val[slot][1] = v.im;
    st->sc_valid |= (uint64_t)1 << slot;
    return v;
}

/* step * N exactly enough for a week of ticks: step = hi + lo with hi of
 * 20 significant bits, so hi * N (N < 2^33) is exact in a double and only
 * lo * N (about 1e-6 of it) rounds, to about 1e-15 of a cycle. Returns the
 * whole cycles in *whole (approximately: the caller checks at the edges). */
double steady_phase_split(const metrology_phasors_t *p, int64_t n_ticks, double add, double *whole)
{
    /* step < 2^-6: 20 bits. (Scaling by powers of two is exact: the same
     * bits as ldexp, without its call, a fiftieth of a year's time.) */
    double hi = round_even(p->step * 0x1p26) * 0x1p-26;
    double lo = p->step - hi;
    double nn = (double)n_ticks;
    double a = hi * nn, b = lo * nn;
    double fa = floor(a), fb = floor(b);
    double x = (a - fa) + (b - fb) + p->phase0 + add;
    double fx = floor(x);
    if (whole)
        *whole = fa + fb + fx;
    return x - fx;
}

/* The fundamental phase at tick n, in cycles in [0, 1). */
double steady_phase_at(const metrology_phasors_t *p, uint64_t n)
{
    return steady_phase_split(p, (int64_t)(n - p->tick0), 0.0, NULL);
}

/* e^{j 2 pi phase(n)}: exact at every ROTOR_BLOCK-th tick of the
 * description, turned by a table of exact steps in between, so that the
 * value is a function of n alone (however the calls are cut) and costs a
 * multiplication, not a sine. */
static cx rotor_at(metrology_steady_t *st, uint64_t n)
{
    uint64_t off = n - st->ph.tick0, k = off % ROTOR_BLOCK, blk = n - k;
    int slot = (int)((off / ROTOR_BLOCK) & 1u); /* two neighbouring blocks at once */
    if (!(st->rot_valid & (1u << slot)) || st->rot_blk[slot] != blk) {
        cx b = cexpi_memo(st, steady_phase_at(&st->ph, blk));
        st->rot_base[slot][0] = b.re;
        st->rot_base[slot][1] = b.im;
        st->rot_blk[slot] = blk;
        st->rot_valid |= 1u << slot;
    }
    return cmul(cpair(st->rot_base[slot]), cpair(st->rot_w[k]));
}

/* z^order_o for every order of the description. */
static void powers(const metrology_phasors_t *p, cx z, cx *pw)
{
    cx x = {1.0, 0.0};
    int h = 0;
    for (int o = 0; o < p->n; o++) {
        while (h < p->order[o]) {
            x = cmul(x, z);
            h++;
        }
        pw[o] = x;
    }
}

/* sum_o Im(A_o z^order_o), the powers given. */
static double im_dot(const metrology_phasors_t *p, const double a[][2], const cx *pw)
{
    double s = 0.0;
    for (int o = 0; o < p->n; o++)
        s += a[o][0] * pw[o].im + a[o][1] * pw[o].re;
    return s;
}

/* sum_o Im(A_o z^order_o), for a table of amplitudes per order. */
double steady_im_sum(const metrology_phasors_t *p, const double a[][2], cx z)
{
    cx pw = {1.0, 0.0};
    int h = 0;
    double s = 0.0;
    for (int o = 0; o < p->n; o++) {
        while (h < p->order[o]) {
            pw = cmul(pw, z);
            h++;
        }
        s += a[o][0] * pw.im + a[o][1] * pw.re;
    }
    return s;
}

/* The element voltages at tick n, without noise (memo: header). */
static void eval_u(metrology_steady_t *st, uint64_t n, double u[3])
{
    unsigned slot = (unsigned)n & (METROLOGY_EVAL_MEMO - 1);
    if ((st->eu_valid >> slot & 1u) && st->eu_tick[slot] == n) {
        memcpy(u, st->eu_val[slot], sizeof st->eu_val[slot]);
        return;
    }
    cx pw[METROLOGY_PHASOR_ORDERS];
    powers(&st->ph, rotor_at(st, n), pw);
    for (int k = 0; k < 3; k++)
        u[k] = im_dot(&st->ph, st->u[k], pw);
    memcpy(st->eu_val[slot], u, sizeof st->eu_val[slot]);
    st->eu_tick[slot] = n;
    st->eu_valid |= 1u << slot;
}

static double eval_ref(metrology_steady_t *st, int ref, uint64_t n)
{
    return steady_im_sum(&st->ph, st->u[ref], rotor_at(st, n));
}

/* ---- noise: a counter-based generator (seed, tick, channel) --------------- */

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Approximately standard normal, as sim/wave draws it (Irwin-Hall of four). */
static double gauss_at(uint64_t seed, uint64_t tick, unsigned ch)
{
    uint64_t r = mix(seed ^ mix(tick * 8u + ch));
    double sum = (double)(r & 0xFFFF) + (double)((r >> 16) & 0xFFFF) +
                 (double)((r >> 32) & 0xFFFF) + (double)(r >> 48);
    return (sum - 4 * 32767.5) / sqrt(4.0 * (65536.0 * 65536.0 - 1.0) / 12.0);
}

void metrology_steady_sample(metrology_steady_t *st, uint64_t tick, metrology_sample_t *s)
{
    const metrology_phasors_t *p = &st->ph;
    cx pw[METROLOGY_PHASOR_ORDERS];
    powers(p, rotor_at(st, tick), pw);
    for (int k = 0; k < 3; k++) {
        s->v[k] = im_dot(p, p->v[k], pw);
        s->i[k] = im_dot(p, p->i[k], pw);
    }
    if (p->noise_v > 0.0 || p->noise_i > 0.0)
        for (int k = 0; k < 3; k++) {
            s->v[k] += p->noise_v * gauss_at(p->seed, tick, 2u * (unsigned)k);
            s->i[k] += p->noise_i * gauss_at(p->seed, tick, 2u * (unsigned)k + 1u);
        }
}

/* ---- one tick, and a run of ticks, in closed form ---------------------- */

static void add_sums(metrology_tick_sums_t *a, const metrology_tick_sums_t *b, double w)
{
    for (int k = 0; k < 3; k++) {
        a->s[k].u2 += w * b->s[k].u2;
        a->s[k].i2 += w * b->s[k].i2;
        a->s[k].p += w * b->s[k].p;
        a->s[k].q += w * b->s[k].q;
        a->ll[k] += w * b->ll[k];
    }
}

/* Tick n's voltage side with the delay taps now in force: the powers of
 * its rotor, the element voltages and the delayed ones. */
static void tick_voltage(metrology_steady_t *st, const metrology_t *m, uint64_t n,
                         metrology_tick_v_t *t)
{
    const metrology_phasors_t *p = &st->ph;
    cx pw[METROLOGY_PHASOR_ORDERS];
    powers(&st->ph, rotor_at(st, n), pw);
    double r[4][3];
    for (int j = 0; j < 4; j++)
        eval_u(st, n - m->delay_int + 1u - (uint64_t)j, r[j]);
    for (int o = 0; o < p->n; o++) {
        t->pw[o][0] = pw[o].re;
        t->pw[o][1] = pw[o].im;
    }
    for (int k = 0; k < 3; k++) {
        t->u[k] = im_dot(p, st->u[k], pw);
        t->ud[k] = m->taps[0] * r[0][k] + m->taps[1] * r[1][k] + m->taps[2] * r[2][k] +
                   m->taps[3] * r[3][k];
    }
}

/* A tick's contributions from its voltage side and the currents in force,
 * as metrology_step computes them (the noise by its expectation). */
static void tick_currents(const metrology_steady_t *st, const metrology_tick_v_t *t,
                          metrology_tick_sums_t *out)
{
    const metrology_phasors_t *p = &st->ph;
    const double *u = t->u, *ud = t->ud;
    double i[3];
    for (int k = 0; k < 3; k++) {
        double s = 0.0;
        for (int o = 0; o < p->n; o++)
            s += st->i[k][o][0] * t->pw[o][1] + st->i[k][o][1] * t->pw[o][0];
        i[k] = s;
    }
    for (int k = 0; k < 3; k++) {
        out->s[k].u2 = u[k] * u[k] + st->var_u[k];
        out->s[k].i2 = i[k] * i[k] + st->var_i[k];
        out->s[k].p = u[k] * i[k];
        out->s[k].q = ud[k] * i[k];
    }
    out->ll[0] = (u[0] - u[1]) * (u[0] - u[1]) + st->var_ll[0];
    out->ll[1] = (u[0] - u[2]) * (u[0] - u[2]) + st->var_ll[1];
    out->ll[2] = (u[1] - u[2]) * (u[1] - u[2]) + st->var_ll[2];
}

/* Tick n's contributions; its voltage side kept in *keep if given. */
static void tick_sums(metrology_steady_t *st, const metrology_t *m, uint64_t n,
                      metrology_tick_sums_t *out, metrology_tick_v_t *keep)
{
    metrology_tick_v_t t;
    tick_voltage(st, m, n, keep ? keep : &t);
    tick_currents(st, keep ? keep : &t, out);
}

static double re_dot(const metrology_steady_t *st, const double d[][2], const cx *g)
{
    double s = 0.0;
    for (int j = 0; j < st->n_m; j++)
        s += d[j][0] * g[j].re - d[j][1] * g[j].im;
    return 0.5 * s;
}

/* G_m over the ticks a .. a + count - 1 (count > 0): the run's voltage
 * side, the geometric sums of its rotor. */
static void geometric(metrology_steady_t *st, uint64_t a, uint64_t count, cx *g)
{
    const metrology_phasors_t *p = &st->ph;
    /* G_m = sum_{n=a}^{a+count-1} z_n^m = z_a^m (1 - w^(m count)) / (1 - w^m). */
    cx za = cexpi_memo(st, steady_phase_at(p, a));
    cx wn = cexpi_memo(st, steady_phase_split(p, (int64_t)count, -p->phase0, NULL));
    cx w1 = cpair(st->w1);
    int top = 0;
    for (int j = 0; j < st->n_m; j++)
        if (st->mval[j] > top)
            top = st->mval[j];
    cx pa = {1.0, 0.0}, pn = {1.0, 0.0};
    cx pows[2][MAX_M];
    pows[0][0] = pa;
    pows[1][0] = pn;
    for (int h = 1; h <= top; h++) {
        pa = cmul(pa, za);
        pn = cmul(pn, wn);
        pows[0][h] = pa;
        pows[1][h] = pn;
    }
    if (!st->dinv_ok) { /* 1 / (1 - w^m): the description's alone */
        cx p1 = {1.0, 0.0}, p1s[MAX_M];
        p1s[0] = p1;
        for (int h = 1; h <= top; h++) {
            p1 = cmul(p1, w1);
            p1s[h] = p1;
        }
        for (int j = 0; j < st->n_m; j++) {
            int mm = st->mval[j];
            cx den = {1.0 - p1s[mm].re, -p1s[mm].im};
            double dd = den.re * den.re + den.im * den.im;
            st->dflat[j] = dd < 1e-18;
            st->dinv[j][0] = st->dflat[j] ? 0.0 : den.re / dd;
            st->dinv[j][1] = st->dflat[j] ? 0.0 : -den.im / dd;
        }
        st->dinv_ok = true;
    }
    for (int j = 0; j < st->n_m; j++) {
        int mm = st->mval[j];
        if (mm == 0) {
            g[j] = (cx){(double)count, 0.0};
            continue;
        }
        cx num = {1.0 - pows[1][mm].re, -pows[1][mm].im};
        if (st->dflat[j]) { /* w^m = 1: every term is z_a^m */
            g[j] = (cx){(double)count * pows[0][mm].re, (double)count * pows[0][mm].im};
            continue;
        }
        cx q = cmul(num, cpair(st->dinv[j]));
        g[j] = cmul(pows[0][mm], q);
    }
}

/* The delay line's response at each order of the description, for the
 * taps now in force: H(h) = sum_j tap_j e^{-j 2 pi h step D_j},
 * D_j = delay - 1 + j (metrology_step reads ring[pos - d + 1 - j]). */
static void delay_response(metrology_steady_t *st, const metrology_t *m, cx *hresp)
{
    const metrology_phasors_t *p = &st->ph;
    cx e[4], pe[4];
    if (st->delay_cached != m->delay_int) { /* it changes with the frequency only */
        for (int j = 0; j < 4; j++) {
            cx x = cexpi_memo(
                st, -steady_phase_split(p, (int64_t)m->delay_int - 1 + j, -p->phase0, NULL));
            st->delay_rot[j][0] = x.re;
            st->delay_rot[j][1] = x.im;
        }
        st->delay_cached = m->delay_int;
    }
    for (int j = 0; j < 4; j++) {
        e[j] = cpair(st->delay_rot[j]);
        pe[j] = (cx){1.0, 0.0};
    }
    int h = 0;
    for (int o = 0; o < p->n; o++) {
        while (h < p->order[o]) {
            for (int j = 0; j < 4; j++)
                pe[j] = cmul(pe[j], e[j]);
            h++;
        }
        hresp[o] = (cx){0.0, 0.0};
        for (int j = 0; j < 4; j++) {
            hresp[o].re += m->taps[j] * pe[j].re;
            hresp[o].im += m->taps[j] * pe[j].im;
        }
    }
}

/* The description's products of the currents (i^2, u*i), made once. */
static void coef_currents(metrology_steady_t *st)
{
    if (st->coef_i_ok)
        return;
    memset(st->coef[3], 0, sizeof st->coef[0] * 6);
    for (int k = 0; k < 3; k++) {
        steady_add_product(st, st->coef[3 + k], st->i[k], st->i[k]);
        steady_add_product(st, st->coef[6 + k], st->u[k], st->i[k]);
    }
    st->coef_i_ok = true;
}

/* The sums over a run of count whole ticks from its G_m, with the
 * description's products and the delay taps now in force. */
static void sums_from(metrology_steady_t *st, const metrology_t *m, const cx *g, uint64_t count,
                      metrology_tick_sums_t *out)
{
    const metrology_phasors_t *p = &st->ph;
    double nn = (double)count;
    coef_currents(st);
    for (int k = 0; k < 3; k++) {
        out->s[k].u2 = re_dot(st, st->coef[k], g) + nn * st->var_u[k];
        out->s[k].i2 = re_dot(st, st->coef[3 + k], g) + nn * st->var_i[k];
        out->s[k].p = re_dot(st, st->coef[6 + k], g);
        out->ll[k] = re_dot(st, st->coef[9 + k], g) + nn * st->var_ll[k];
    }
    /* The quarter-period product: the voltage through the delay line's
     * response at each order, H(h) = sum_j tap_j e^{-j 2 pi h step D_j},
     * D_j = delay - 1 + j (metrology_step reads ring[pos - d + 1 - j]). */
    if (st->qd_ok && st->qd_delay == m->delay_int &&
        memcmp(st->qd_taps, m->taps, sizeof st->qd_taps) == 0) {
        /* the same description and taps: the same coefficients (memo) */
        for (int k = 0; k < 3; k++)
            out->s[k].q = re_dot(st, st->qd[k], g);
        return;
    }
    cx hresp[METROLOGY_PHASOR_ORDERS];
    delay_response(st, m, hresp);
    for (int k = 0; k < 3; k++) {
        double ud[METROLOGY_PHASOR_ORDERS][2], d[METROLOGY_STEADY_M][2];
        for (int o = 0; o < p->n; o++) {
            cx v = cmul(cpair(st->u[k][o]), hresp[o]);
            ud[o][0] = v.re;
            ud[o][1] = v.im;
        }
        memset(d, 0, sizeof(d[0]) * (size_t)st->n_m);
        steady_add_product(st, d, ud, st->i[k]);
        out->s[k].q = re_dot(st, d, g);
        memcpy(st->qd[k], d, sizeof(d[0]) * (size_t)st->n_m);
    }
    st->qd_ok = true;
    st->qd_delay = m->delay_int;
    memcpy(st->qd_taps, m->taps, sizeof st->qd_taps);
}

/* The sums over the ticks a .. a + count - 1, every one whole, with the
 * delay taps now in force; their G_m kept in keep if given. */
static void run_sums(metrology_steady_t *st, const metrology_t *m, uint64_t a, uint64_t count,
                     metrology_tick_sums_t *out, double (*keep)[2])
{
    memset(out, 0, sizeof *out);
    if (count == 0)
        return;
    cx g[METROLOGY_STEADY_M];
    geometric(st, a, count, g);
    if (keep)
        for (int j = 0; j < st->n_m; j++) {
            keep[j][0] = g[j].re;
            keep[j][1] = g[j].im;
        }
    sums_from(st, m, g, count, out);
}

/* ---- the cycle open in closed form ------------------------------------ */

/* The tick at which the crossing after the one at st->c is found, and the
 * share of the sample before it that the next cycle takes. */
static bool find_next(metrology_steady_t *st, const metrology_t *m)
{
    const metrology_phasors_t *p = &st->ph;
    /* A period of a whole number of ticks (50 Hz: 160) puts every crossing
     * at the same fraction of a tick: after a cycle that was the same as
     * the one before, the next is found one period on, with the same split,
     * and looked at afresh every FAST_CYCLES (the phase drifts by the
     * rounding of the step only, about 1e-17 of a cycle per period: 4e-15
     * of a cycle, 7e-13 of a tick at 50 Hz, over 400, below SAME). Every
     * look afresh ends a run of clones (meter_runs.c meter_book_run), so it is rare:
     * 400 periods, 8 s at 50 Hz (docs/performance.md). The crossings
     * depend on the voltage alone: a change of the currents keeps the
     * count (describe and enter set it to 0 when the voltage, the step or
     * the reference is new, or the cycle open is not in closed form). */
    if (st->periodic && st->fast_left > 0) {
        st->fast_left--;
        st->next_c = st->c + st->period;
        return true;
    }
    st->fast_left = FAST_CYCLES;
    double whole;
    steady_phase_split(p, (int64_t)(st->c - p->tick0), -st->xphase, &whole);
    int64_t k = (int64_t)whole + 1;
    uint64_t c1 = 0;
    for (int tries = 0; tries < 3; tries++) {
        double x = (double)(int64_t)p->tick0 + ((double)k + st->xphase - p->phase0) / p->step;
        c1 = (uint64_t)(int64_t)ceil(x);
        if (c1 <= st->c + 1u)
            k++;
        else if ((double)(c1 - st->c) > 1.5 / p->step)
            k--;
        else
            break;
    }
    double u0 = eval_ref(st, m->ref, c1 - 1u), u1 = eval_ref(st, m->ref, c1);
    /* The first tick >= 0 after one < 0, as metrology_step finds it. */
    for (int tries = 0; tries < 4; tries++) {
        if (u1 < 0.0) {
            c1++;
            u0 = u1;
            u1 = eval_ref(st, m->ref, c1);
        } else if (u0 >= 0.0 && c1 > st->c + 2u) {
            c1--;
            u1 = u0;
            u0 = eval_ref(st, m->ref, c1 - 1u);
        } else {
            break;
        }
    }
    double f = u0 / (u0 - u1);
    st->next_c = c1;
    st->next_move = 1.0 - f;
    st->next_uref[0] = u0;
    st->next_uref[1] = u1;
    return false;
}

bool metrology_steady_enter(metrology_steady_t *st, const metrology_t *m, uint64_t c)
{
    st->clone = false;
    if (!st->have || !st->usable || st->ref != m->ref || !m->have_crossing)
        return false;
    /* The delay line of the cycle's first whole tick must hold this
     * description's samples only (not the last one's, nor the zeros of a
     * metrology started afresh at fresh_from). */
    uint64_t from = st->v_since > st->fresh_from ? st->v_since : st->fresh_from;
    if (c < from + m->delay_int + 1u)
        return false;
    for (int k = 0; k < 3; k++) {
        st->head.s[k] = m->cyc[k];
        st->head.ll[k] = m->cyc_ll[k];
        st->head_last.s[k] = m->prev[k];
        st->head_last.ll[k] = m->prev_ll[k];
    }
    st->head_ticks = m->cyc_ticks;
    st->head_uref = m->prev_ref_u;
    st->head_sampled = true;
    st->c = c;
    st->lazy_from = c + 1u;
    st->bank_from = c + 1u;
    memset(&st->bank, 0, sizeof st->bank);
    st->lazy = true;
    st->have_last = false;
    st->reused = false;
    st->carry_clone = false;
    st->fast_left = 0;
    st->sk_ok = false;
    find_next(st, m);
    return true;
}

static bool same(double a, double b)
{
    return fabs(a - b) <= SAME;
}

/* The kept body's sums as functions of the currents (header, sk_lp ..),
 * from its G_m and its sums under the description in force (body). */
static void sk_functionals(metrology_steady_t *st, const metrology_t *m,
                           const metrology_tick_sums_t *body)
{
    const metrology_phasors_t *p = &st->ph;
    const int nb = 2 * p->n;
    cx g[METROLOGY_STEADY_M], hresp[METROLOGY_PHASOR_ORDERS];
    for (int j = 0; j < st->n_m; j++)
        g[j] = cpair(st->sk_g[j]);
    delay_response(st, m, hresp);
    double ud[3][METROLOGY_PHASOR_ORDERS][2];
    for (int k = 0; k < 3; k++) {
        st->sk_u2[k] = body->s[k].u2;
        st->sk_ll[k] = body->ll[k];
        for (int o = 0; o < p->n; o++) {
            cx v = cmul(cpair(st->u[k][o]), hresp[o]);
            ud[k][o][0] = v.re;
            ud[k][o][1] = v.im;
        }
    }
    double e[METROLOGY_PHASOR_ORDERS][2], d[METROLOGY_STEADY_M][2];
    /* Each amplitude alone (a unit vector e_j) gives the linear parts and
     * the form's diagonal; two at once its other entries (polarisation). */
    for (int j = 0; j < nb; j++) {
        memset(e, 0, sizeof e);
        e[j / 2][j % 2] = 1.0;
        for (int k = 0; k < 3; k++) {
            memset(d, 0, sizeof d);
            steady_add_product(st, d, st->u[k], e);
            st->sk_lp[k][j] = re_dot(st, d, g);
            memset(d, 0, sizeof d);
            steady_add_product(st, d, ud[k], e);
            st->sk_lq[k][j] = re_dot(st, d, g);
        }
        memset(d, 0, sizeof d);
        steady_add_product(st, d, e, e);
        st->sk_qi[j][j] = re_dot(st, d, g);
    }
    for (int j = 0; j < nb; j++)
        for (int l = j + 1; l < nb; l++) {
            memset(e, 0, sizeof e);
            e[j / 2][j % 2] = 1.0;
            e[l / 2][l % 2] = 1.0;
            memset(d, 0, sizeof d);
            steady_add_product(st, d, e, e);
            double both = re_dot(st, d, g);
            st->sk_qi[j][l] = st->sk_qi[l][j] = 0.5 * (both - st->sk_qi[j][j] - st->sk_qi[l][l]);
        }
}

/* The kept body's sums (count ticks) under the currents in force. */
static void sk_body(const metrology_steady_t *st, uint64_t count, metrology_tick_sums_t *out)
{
    const int nb = 2 * st->ph.n;
    for (int k = 0; k < 3; k++) {
        const double *b = &st->i[k][0][0];
        double pk = 0.0, qk = 0.0, ik = 0.0;
        for (int j = 0; j < nb; j++) {
            pk += b[j] * st->sk_lp[k][j];
            qk += b[j] * st->sk_lq[k][j];
            double row = 0.0;
            for (int l = 0; l < nb; l++)
                row += st->sk_qi[j][l] * b[l];
            ik += b[j] * row;
        }
        out->s[k].u2 = st->sk_u2[k];
        out->s[k].i2 = ik + (double)count * st->var_i[k];
        out->s[k].p = pk;
        out->s[k].q = qk;
        out->ll[k] = st->sk_ll[k];
    }
}

/* Whether the kept voltage side (sk_*) is that of a cycle of len ticks
 * split at move, its delay taps set from the frequency freq. The crossing
 * is compared to SK_SAME of a tick: it drifts by about 4e-12 of a tick a
 * second with the host's phase (each new description's), which moves a
 * cycle's sums by about 1e-14 of themselves. The taps are compared as the
 * frequency they were set from, as the reuse of a cycle compares them
 * (at 50 Hz they flip between two stencils for the same delay). */
#define SK_SAME 1e-9
static bool sk_fits(const metrology_steady_t *st, uint32_t len, double move, double freq)
{
    return st->sk_ok && st->sk_len == len && fabs(st->sk_move - move) <= SK_SAME &&
           fabs(st->sk_freq - freq) <= SAME_F * freq;
}

void metrology_steady_close(metrology_steady_t *st, metrology_t *m)
{
    uint64_t c1 = st->next_c;
    double move = st->next_move;
    double freq_now = m->last_frequency; /* its taps; close_cycle sets the next */
    uint32_t len = (uint32_t)(c1 - st->c);
    metrology_tick_sums_t cyc, head, last;
    double ticks, head_ticks;
    bool split_old = false; /* the split sample was under the currents before a change */
    /* The same cycle again: the same length, crossings at the same
     * fractions of a tick, the same delay for its body and for its head.
     * The delay is compared as the frequency it was set from, not as taps:
     * at 50 Hz the delay is 40 ticks to within rounding, and the measured
     * period puts it at 39 + 0.99999.. or at 40 + 0.0 from one cycle to the
     * next, two stencils that interpolate the same sample. */
    bool reuse = st->have_last && !st->head_sampled && st->last_len == len &&
                 same(st->last_move_out, move) && same(st->last_move_in, st->head_ticks - 1.0) &&
                 fabs(st->last_freq - freq_now) <= SAME_F * freq_now &&
                 fabs(st->last_head_freq - st->head_freq) <= SAME_F * freq_now;
    st->reused = reuse;
    st->n_closed++;
    st->n_reused += reuse;
    if (st->carry_clone) {
        /* The cycle is the last one again, whole (metrology_steady_carry);
         * only the crossing tick c1 is under the new currents. */
        st->carry_clone = false;
        split_old = true;
        cyc = st->last_cyc;
        ticks = st->last_ticks;
        if (sk_fits(st, len, move, freq_now))
            tick_currents(st, &st->sk_l, &last);
        else
            tick_sums(st, m, c1, &last, NULL);
        memset(&head, 0, sizeof head);
        add_sums(&head, &st->last_a, move);
        add_sums(&head, &last, 1.0);
        head_ticks = move + 1.0;
    } else if (reuse) {
        cyc = st->last_cyc;
        ticks = st->last_ticks;
        head = st->last_head;
        head_ticks = st->last_head_ticks;
        last = st->last_head_last;
    } else {
        /* The ticks c + 1 .. c1 - 2 whole, c1 - 1 split: those before the
         * last current change from the bank (the split one too, if the
         * change came at the crossing tick c1), the rest in closed form. */
        metrology_tick_sums_t a, body; /* body: the ticks after the head, under this description */
        bool held = st->bank_from > st->c + 1u;
        split_old = held && st->bank_from == c1;
        /* A body of whole ticks under this description: its voltage side is
         * kept, or taken from the last one kept. */
        bool fits = !held && len > 2u && sk_fits(st, len, move, freq_now);
        bool keep = !held && len > 2u && !fits;
        if (split_old) {
            a = st->bank_last;
            memset(&cyc, 0, sizeof cyc);
        } else if (fits) {
            /* the voltage side kept: only the currents' products */
            tick_currents(st, &st->sk_a, &a);
            st->n_kept++;
            sk_body(st, len - 2u, &cyc);
            body = cyc;
            add_sums(&body, &a, 1.0 - move);
        } else {
            tick_sums(st, m, c1 - 1u, &a, keep ? &st->sk_a : NULL);
            run_sums(st, m, st->bank_from, c1 - 1u - st->bank_from, &cyc, keep ? st->sk_g : NULL);
            if (keep)
                sk_functionals(st, m, &cyc);
            body = cyc;
            add_sums(&body, &a, 1.0 - move);
            if (held)
                add_sums(&cyc, &st->bank_last, 1.0);
        }
        if (fits)
            tick_currents(st, &st->sk_l, &last);
        else
            tick_sums(st, m, c1, &last, keep ? &st->sk_l : NULL);
        if (keep) {
            st->sk_ok = true;
            st->sk_len = len;
            st->sk_move = move;
            st->sk_freq = freq_now;
        }
        add_sums(&cyc, &st->bank, 1.0);
        add_sums(&cyc, &st->head, 1.0);
        add_sums(&cyc, &a, 1.0 - move);
        ticks = st->head_ticks + (double)(len - 1u) - move;
        memset(&head, 0, sizeof head);
        add_sums(&head, &a, move);
        add_sums(&head, &last, 1.0);
        head_ticks = move + 1.0;
        /* Remember it: the next cycle may be the same one again. A cycle
         * whose head was sampled (noise drawn), or that a current change
         * went through (metrology_steady_carry), is not a model for others;
         * but if only its head is another's, its body and the head it hands
         * on are the next cycle's, in closed form: that is the model (the
         * next close still checks the length, the split and the taps). */
        st->have_last = true;
        st->last_head_freq = st->head_freq;
        st->last_len = len;
        st->last_freq = freq_now;
        st->last_move_in = st->head_ticks - 1.0; /* the head's split share */
        st->last_move_out = move;
        st->last_cyc = cyc;
        st->last_ticks = ticks;
        st->last_head = head;
        st->last_head_ticks = head_ticks;
        st->last_head_last = last;
        st->last_a = a;
        if (st->head_sampled && !held) {
            metrology_tick_sums_t next = head;
            add_sums(&next, &body, 1.0);
            st->last_head_freq = freq_now; /* the head handed on: this close's taps */
            st->last_move_in = move;
            st->last_cyc = next;
            st->last_ticks = head_ticks + (double)(len - 1u) - move;
        } else if (st->head_sampled) {
            st->have_last = false;
        }
    }
    for (int k = 0; k < 3; k++) {
        m->cyc[k] = cyc.s[k];
        m->cyc_ll[k] = cyc.ll[k];
    }
    m->cyc_ticks = ticks;
    metrology_close_cycle(m, true, (double)c1 - move);
    /* The detector as metrology_step leaves it after a crossing. */
    for (int k = 0; k < 3; k++) {
        m->cyc[k] = head.s[k];
        m->cyc_ll[k] = head.ll[k];
        m->prev[k] = last.s[k];
        m->prev_ll[k] = last.ll[k];
        m->cyc_peak[k] = 0.0;
    }
    m->cyc_ticks = head_ticks;
    m->prev_ref_u = st->next_uref[1];
    m->armed = false;
    st->head_freq = freq_now;
    /* A head that holds a share of a sample under the old currents is no
     * model for the cycles after (metrology_steady_carry). */
    st->head_sampled = split_old;
    st->head = head;
    st->head_last = last;
    st->head_ticks = head_ticks;
    st->head_uref = st->next_uref[1];
    st->c = c1;
    st->bank_from = c1 + 1u;
    memset(&st->bank, 0, sizeof st->bank);
    bool fast = find_next(st, m);
    st->clone = reuse && fast && st->next_c - c1 == len;
}

uint64_t metrology_steady_clones(const metrology_steady_t *st)
{
    return st->lazy && st->clone && st->fast_left > 0 ? (uint64_t)st->fast_left : 0;
}

void metrology_steady_repeat(metrology_steady_t *st, metrology_t *m, uint64_t n,
                             metrology_window_memo_t *memo)
{
    if (n == 0)
        return;
    /* Each close would take the reused cycle (nothing it compares moved)
     * and find the next crossing one period on (fast_left > 0). */
    uint64_t c1 = st->next_c;
    metrology_sums_t s[3];
    for (int k = 0; k < 3; k++)
        s[k] = st->last_cyc.s[k];
    metrology_close_repeat(m, n, c1, st->period, st->next_move, s, st->last_cyc.ll, st->last_ticks,
                           memo);
    st->n_closed += n;
    st->n_reused += n;
    st->fast_left -= (int)n;
    st->c = c1 + (n - 1u) * st->period;
    st->bank_from = st->c + 1u;
    st->next_c = st->c + st->period;
}

bool metrology_steady_carry(metrology_steady_t *st, metrology_t *m, const metrology_phasors_t *ph,
                            connection_t conn)
{
    uint64_t now = m->tick; /* the first tick under ph */
    bool clone = st->clone; /* the cycle open is a clone of the last */
    st->clone = false;
    /* The lazy loop closes the cycle at next_c before it moves on: now is
     * at most the crossing tick (a change there leaves the split sample
     * before it under the old currents, held in bank_last). */
    if (!st->lazy || !st->usable || st->ref != m->ref || now < st->bank_from || now > st->next_c ||
        !steady_same_voltage(&st->ph, ph))
        return false;
    /* At the crossing that ends a clone of the last cycle (a profile that
     * moves the currents on the second, at 50 Hz: every time), that cycle
     * is the last one whole, its crossing the same (the voltage is): close
     * takes it as it is, and the crossing is not looked for again. */
    bool whole = clone && now == st->next_c && st->bank_from == st->c + 1u;
    if (!whole && now > st->bank_from) {
        /* The ticks bank_from .. now - 2 into the bank, now - 1 held apart:
         * it may be the split sample before the crossing. */
        metrology_tick_sums_t run;
        if (st->bank_from > st->c + 1u)
            add_sums(&st->bank, &st->bank_last, 1.0);
        run_sums(st, m, st->bank_from, now - 1u - st->bank_from, &run, NULL);
        add_sums(&st->bank, &run, 1.0);
        tick_sums(st, m, now - 1u, &st->bank_last, NULL);
        st->bank_from = now;
    }
    /* describe() ends the open cycle: keep it across. The reference voltage
     * is the same, so the crossing phase and the rotor step stay. */
    uint64_t c = st->c, lazy_from = st->lazy_from;
    double head_freq = st->head_freq;
    metrology_steady_describe(st, ph, conn, m->ref);
    st->c = c;
    st->lazy_from = lazy_from;
    st->head_freq = head_freq;
    st->lazy = true;
    st->head_sampled = true; /* a cycle a change went through is no model for others */
    st->n_carried++;
    st->carry_clone = whole;
    if (!whole)
        find_next(st, m);
    if (!st->usable || now > st->next_c)
        metrology_steady_leave(st, m); /* not expected; the bank makes it exact */
    return true;
}

void metrology_steady_leave(metrology_steady_t *st, metrology_t *m)
{
    st->clone = false;
    uint64_t now = m->tick; /* the next tick to be sampled */
    metrology_tick_sums_t cyc = st->head, prev = st->head_last;
    double prev_ref = st->head_uref;
    /* The ticks c + 1 .. now - 1: those before the last current change
     * banked, the rest under the description in force. */
    bool whole =
        st->carry_clone; /* at the crossing tick: the last cycle, all of its split sample */
    if (whole) {
        st->carry_clone = false;
        cyc = st->last_cyc;
        add_sums(&cyc, &st->last_a, st->next_move);
        prev = st->last_a;
        st->bank_from = st->next_c;
    }
    add_sums(&cyc, &st->bank, 1.0);
    if (!whole && st->bank_from > st->c + 1u) { /* the held tick */
        add_sums(&cyc, &st->bank_last, 1.0);
        prev = st->bank_last;
    }
    if (now > st->bank_from) {
        metrology_tick_sums_t run;
        run_sums(st, m, st->bank_from, now - st->bank_from, &run, NULL);
        add_sums(&cyc, &run, 1.0);
        tick_sums(st, m, now - 1u, &prev, NULL);
    }
    if (now > st->c + 1u)
        prev_ref = eval_ref(st, m->ref, now - 1u); /* the voltage: the same under each */
    for (int k = 0; k < 3; k++) {
        m->cyc[k] = cyc.s[k];
        m->cyc_ll[k] = cyc.ll[k];
        m->prev[k] = prev.s[k];
        m->prev_ll[k] = prev.ll[k];
        m->cyc_peak[k] = 0.0;
    }
    m->cyc_ticks = st->head_ticks + (double)(now - 1u - st->c);
    m->prev_ref_u = prev_ref;
    /* The detector armed, the peaks and the delay line, from the ticks
     * since the crossing (the ring only for the ticks not sampled). */
    uint64_t ring_from = now - st->lazy_from > RING_MASK ? now - RING_MASK - 1u : st->lazy_from;
    uint64_t from = ring_from < st->c + 1u ? ring_from : st->c + 1u;
    m->armed = false;
    for (uint64_t n = from; n < now; n++) {
        double u[3];
        eval_u(st, n, u);
        if (n > st->c) {
            if (u[m->ref] < -HYST)
                m->armed = true;
            for (int k = 0; k < 3; k++)
                if (fabs(u[k]) > m->cyc_peak[k])
                    m->cyc_peak[k] = fabs(u[k]);
        }
        if (n >= ring_from) {
            uint32_t pos = (m->ring_pos - (uint32_t)(now - n)) & RING_MASK;
            for (int k = 0; k < 3; k++)
                m->ring[k][pos] = u[k];
        }
    }
    st->lazy = false;
    st->have_last = false;
    st->sk_ok = false;
}

void metrology_steady_skip(metrology_t *m, uint64_t n)
{
    m->tick += n;
    m->ring_pos = (uint32_t)((m->ring_pos + n) & RING_MASK);
    m->cycle_ready = false;
}
