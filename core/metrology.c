/* metrology: whole-cycle measurement of a three-phase grid (see metrology.h). */
#include "metrology.h"

#include <math.h>
#include <string.h>

#include "metrology_internal.h"
#include "simd.h"
#include "vtime.h"

#define RING_MASK (METROLOGY_DELAY_RING - 1u)
#define WINDOW_SLACK 0.5 /* a window of whole cycles may end half a tick early */

/* Sets the interpolation taps of the T/4 delay for frequency f: the delay is
 * fs / (4 f) ticks, split into a whole part and a cubic Lagrange fraction over
 * the samples at offsets d-1, d, d+1, d+2. */
static void set_delay(metrology_t *m, double f)
{
    if (f < 20.0)
        f = 20.0;
    if (f > 100.0)
        f = 100.0;
    double d = VTIME_SAMPLE_RATE / (4.0 * f);
    double whole = floor(d);
    double x = d - whole;
    m->delay_int = (uint32_t)whole;
    m->taps[0] = -x * (x - 1.0) * (x - 2.0) / 6.0;
    m->taps[1] = (x + 1.0) * (x - 1.0) * (x - 2.0) / 2.0;
    m->taps[2] = -(x + 1.0) * x * (x - 2.0) / 2.0;
    m->taps[3] = (x + 1.0) * x * (x - 1.0) / 6.0;
}

void metrology_init(metrology_t *m, connection_t connection)
{
    memset(m, 0, sizeof *m);
    m->connection = connection;
    m->ref = 0;
    m->last_frequency = 50.0;
    set_delay(m, 50.0);
    m->values.pf[0] = m->values.pf[1] = m->values.pf[2] = m->values.pf_total = 1.0;
    m->values.quadrant[0] = m->values.quadrant[1] = m->values.quadrant[2] = 1;
    m->values.quadrant_total = 1;
}

uint8_t metrology_quadrant(double p, double q)
{
    if (p >= 0.0)
        return q >= 0.0 ? 1 : 4;
    return q >= 0.0 ? 2 : 3;
}

static double power_factor(double p, double s)
{
    /* With nothing flowing there is no angle; the meter shows 1. */
    return s > 0.0 ? p / s : 1.0;
}

/* A reactive power below 10 ppm of the apparent power is no angle at all:
 * at PF 1 the quadrant is Q1 (import) or Q2 (export), not a coin toss on the
 * last bit of Q. */
static double deadband(double q, double s)
{
    return fabs(q) < 1e-5 * s ? 0.0 : q;
}

static void publish(metrology_t *m)
{
    metrology_values_t *v = &m->values;
    /* Whole periods when the window has any; cut cycles only when there is
     * no voltage to find periods in. */
    bool whole = m->win_periods > 0;
    double t = whole ? m->win_period_ticks : m->win_ticks;
    const metrology_sums_t *sums = whole ? m->win_whole : m->win;
    const double *ll = whole ? m->win_whole_ll : m->win_ll;
    v->p_total = v->q_total = v->s_total = 0.0;
    for (int k = 0; k < 3; k++) {
        const metrology_sums_t *w = &sums[k];
        v->u[k] = sqrt(w->u2 / t);
        v->i[k] = sqrt(w->i2 / t);
        v->p[k] = w->p / t;
        v->q[k] = w->q / t;
        v->s[k] = v->u[k] * v->i[k];
        v->pf[k] = power_factor(v->p[k], v->s[k]);
        v->quadrant[k] = metrology_quadrant(v->p[k], deadband(v->q[k], v->s[k]));
        v->p_total += v->p[k];
        v->q_total += v->q[k];
        v->s_total += v->s[k];
        v->u_ll[k] = m->connection == CONNECTION_1P2W ? 0.0 : sqrt(ll[k] / t);
    }
    if (m->connection == CONNECTION_3P3W_ARON)
        v->s_total = sqrt(v->p_total * v->p_total + v->q_total * v->q_total);
    v->pf_total = power_factor(v->p_total, v->s_total);
    v->quadrant_total = metrology_quadrant(v->p_total, deadband(v->q_total, v->s_total));
    v->frequency =
        m->win_periods ? m->win_periods * (double)VTIME_SAMPLE_RATE / m->win_period_ticks : 0.0;
    v->seq++;
    v->end_tick = m->tick;

    memset(m->win, 0, sizeof m->win);
    memset(m->win_ll, 0, sizeof m->win_ll);
    memset(m->win_whole, 0, sizeof m->win_whole);
    memset(m->win_whole_ll, 0, sizeof m->win_whole_ll);
    m->win_ticks = m->win_period_ticks = 0.0;
    m->win_periods = 0;
}

/* Closes the cycle being accumulated: records it for the energy integrator,
 * adds it to the window, measures the period when both ends were crossings. */
static void close_cycle(metrology_t *m, bool ends_at_crossing, double end)
{
    const double ts = 1.0 / VTIME_SAMPLE_RATE;
    metrology_cycle_t *c = &m->cycle;
    /* A whole period lies between two crossings. The quarter-period product
     * means nothing over less (the cycle cut by the start or by a lost
     * voltage): such a cycle's active energy is real and counted, its
     * reactive energy is not made up. */
    bool whole = ends_at_crossing && m->have_crossing;
    c->ticks = m->cyc_ticks;
    c->end = end;
    for (int k = 0; k < 3; k++) {
        c->p_ws[k] = m->cyc[k].p * ts;
        c->q_vars[k] = whole ? m->cyc[k].q * ts : 0.0;
        c->started[k] =
            m->cyc_ticks > 0.0 && sqrt(m->cyc[k].i2 / m->cyc_ticks) >= METROLOGY_START_CURRENT_A;
        metrology_sums_t *w = whole ? &m->win_whole[k] : &m->win[k];
        w->u2 += m->cyc[k].u2;
        w->i2 += m->cyc[k].i2;
        w->p += m->cyc[k].p;
        w->q += m->cyc[k].q;
        (whole ? m->win_whole_ll : m->win_ll)[k] += m->cyc_ll[k];
    }
    m->cycle_ready = true;
    m->win_ticks += m->cyc_ticks;
    if (whole) {
        m->win_period_ticks += m->cyc_ticks;
        m->win_periods++;
        m->last_frequency = VTIME_SAMPLE_RATE / m->cyc_ticks;
        set_delay(m, m->last_frequency);
    }
    if (!ends_at_crossing) {
        /* No crossing for a whole timeout: if the reference has lost its
         * voltage and another element has one, follow that one. */
        if (m->cyc_peak[m->ref] < METROLOGY_ZC_HYSTERESIS_V) {
            for (int k = 0; k < 3; k++) {
                if (m->cyc_peak[k] >= METROLOGY_ZC_HYSTERESIS_V) {
                    m->ref = k;
                    m->armed = false;
                    break;
                }
            }
        }
    }
    m->have_crossing = ends_at_crossing;
    if (m->win_ticks >= METROLOGY_WINDOW_TICKS - WINDOW_SLACK)
        publish(m);
}

/* The hot loop (docs/performance.md) works on the elements in pairs (v2d,
 * simd.h): elements 1 and 2 in the lanes of one vector, and element 3's own
 * pairs (u^2, i^2) and (u*i, u(t - T/4)*i). Every lane does the operations of
 * the scalar formula, in its order, so the results are the same bits as one
 * element at a time. */
/* Ticks handled per call at most: bounds the history buffer on the stack. */
#define EXEC_MAX 512u
/* History kept before the first tick of a call: the delay reads d + 2 back. */
#define HIST METROLOGY_DELAY_RING

/* One tick's element voltages: elements 1, 2 in a pair, element 3 alone. */
typedef struct {
    v2d lo;
    double hi, pad;
} hist_t;

/* The element inputs of one tick for the connection type (metrology.h). */
static inline void element_inputs(connection_t conn, const metrology_sample_t *s, v2d *u,
                                  double *u3, v2d *i, double *i3)
{
    switch (conn) {
    case CONNECTION_3P3W_DELTA: {
        double star = (s->v[0] + s->v[1] + s->v[2]) / 3.0;
        *u = (v2d){s->v[0] - star, s->v[1] - star};
        *u3 = s->v[2] - star;
        *i = (v2d){s->i[0], s->i[1]};
        *i3 = s->i[2];
        break;
    }
    case CONNECTION_3P3W_ARON:
        *u = (v2d){s->v[0] - s->v[1], 0.0};
        *u3 = s->v[2] - s->v[1];
        *i = (v2d){s->i[0], s->i[1]};
        *i3 = s->i[2];
        break;
    case CONNECTION_1P2W:
        *u = (v2d){s->v[0], 0.0};
        *u3 = 0.0;
        *i = (v2d){s->i[0], 0.0};
        *i3 = 0.0;
        break;
    case CONNECTION_3P4W:
    default:
        *u = (v2d){s->v[0], s->v[1]};
        *u3 = s->v[2];
        *i = (v2d){s->i[0], s->i[1]};
        *i3 = s->i[2];
        break;
    }
}

/* Sums (or one tick's contributions) of the three elements, packed. */
typedef struct {
    v2d u2, i2, p, q; /* elements 1, 2 */
    v2d ui3;          /* element 3: u^2, i^2 */
    v2d pq3;          /* element 3: u*i, u(t - T/4)*i */
    v2d ll;           /* (u1 - u2)^2, (u1 - u3)^2 */
    double ll3;       /* (u2 - u3)^2 */
} lanes_t;

/* The interpolation taps, each in both lanes and alone. */
typedef struct {
    v2d v[4];
    double s[4];
} taps_t;

static inline lanes_t contributions(const hist_t *h, uint32_t d, const taps_t *tp, v2d i, double i3)
{
    const hist_t *a = h + 1 - (ptrdiff_t)d, *b = h - (ptrdiff_t)d;
    const hist_t *c = h - 1 - (ptrdiff_t)d, *e = h - 2 - (ptrdiff_t)d;
    v2d ud = tp->v[0] * a->lo + tp->v[1] * b->lo + tp->v[2] * c->lo + tp->v[3] * e->lo;
    double ud3 = tp->s[0] * a->hi + tp->s[1] * b->hi + tp->s[2] * c->hi + tp->s[3] * e->hi;
    v2d u = h->lo;
    double u3 = h->hi;
    v2d x = {u3, i3}, y = {u3, ud3};
    v2d l = {u[0], u[0]}, r = {u[1], u3};
    lanes_t o;
    o.u2 = u * u;
    o.i2 = i * i;
    o.p = u * i;
    o.q = ud * i;
    o.ui3 = x * x;
    o.pq3 = y * (v2d){i3, i3};
    o.ll = (l - r) * (l - r);
    o.ll3 = (u[1] - u3) * (u[1] - u3);
    return o;
}

static void lanes_load(lanes_t *l, const metrology_sums_t s[3], const double ll[3])
{
    l->u2 = (v2d){s[0].u2, s[1].u2};
    l->i2 = (v2d){s[0].i2, s[1].i2};
    l->p = (v2d){s[0].p, s[1].p};
    l->q = (v2d){s[0].q, s[1].q};
    l->ui3 = (v2d){s[2].u2, s[2].i2};
    l->pq3 = (v2d){s[2].p, s[2].q};
    l->ll = (v2d){ll[0], ll[1]};
    l->ll3 = ll[2];
}

static void lanes_store(metrology_sums_t s[3], double ll[3], const lanes_t *l)
{
    for (int k = 0; k < 2; k++) {
        s[k].u2 = l->u2[k];
        s[k].i2 = l->i2[k];
        s[k].p = l->p[k];
        s[k].q = l->q[k];
        ll[k] = l->ll[k];
    }
    s[2].u2 = l->ui3[0];
    s[2].i2 = l->ui3[1];
    s[2].p = l->pq3[0];
    s[2].q = l->pq3[1];
    ll[2] = l->ll3;
}

/* a += b, or a -= m * b: per lane, as the scalar code does. */
static inline void lanes_add(lanes_t *a, const lanes_t *b)
{
    a->u2 += b->u2;
    a->i2 += b->i2;
    a->p += b->p;
    a->q += b->q;
    a->ui3 += b->ui3;
    a->pq3 += b->pq3;
    a->ll += b->ll;
    a->ll3 += b->ll3;
}

static inline lanes_t lanes_scale(double m, const lanes_t *b)
{
    v2d v = {m, m};
    return (lanes_t){v * b->u2,  v * b->i2,  v * b->p,  v * b->q,
                     v * b->ui3, v * b->pq3, v * b->ll, m * b->ll3};
}

static inline void lanes_sub(lanes_t *a, const lanes_t *b)
{
    a->u2 -= b->u2;
    a->i2 -= b->i2;
    a->p -= b->p;
    a->q -= b->q;
    a->ui3 -= b->ui3;
    a->pq3 -= b->pq3;
    a->ll -= b->ll;
    a->ll3 -= b->ll3;
}

/* The history of element voltages before this call, from the ring. */
static void history_load(hist_t *h, const metrology_t *m, uint32_t back)
{
    for (uint32_t j = 1; j <= back; j++) {
        uint32_t at = (m->ring_pos - j) & RING_MASK;
        h[-(ptrdiff_t)j] = (hist_t){{m->ring[0][at], m->ring[1][at]}, m->ring[2][at], 0.0};
    }
}

/* The n ticks of this call back into the ring (the last RING of them). */
static void history_store(metrology_t *m, const hist_t *h, size_t n)
{
    size_t from = n > METROLOGY_DELAY_RING ? n - METROLOGY_DELAY_RING : 0;
    for (size_t t = from; t < n; t++) {
        uint32_t at = (m->ring_pos + (uint32_t)t) & RING_MASK;
        m->ring[0][at] = h[t].lo[0];
        m->ring[1][at] = h[t].lo[1];
        m->ring[2][at] = h[t].hi;
    }
    m->ring_pos = (m->ring_pos + (uint32_t)n) & RING_MASK;
}

/* The state of the cycle being accumulated stays in locals (registers) over
 * the run of ticks up to the next cycle end, and goes back to *m before
 * close_cycle() reads it and when the call ends; the arithmetic of each tick
 * and its order are those of one tick at a time, so the result does not
 * depend on how the caller splits the samples (tests/unit/test_metrology.c,
 * test_any_pace). */
SIMD_CLONES size_t metrology_exec(metrology_t *m, const metrology_sample_t *s, size_t n)
{
    m->cycle_ready = false;
    if (n == 0)
        return 0;
    if (n > EXEC_MAX)
        n = EXEC_MAX;
    hist_t buf[HIST + EXEC_MAX];
    hist_t *h = buf + HIST; /* h[t]: this call's tick t; h[-1]: the tick before */
    const connection_t conn = m->connection;
    const int ref = m->ref;
    const uint32_t d = m->delay_int;
    taps_t tp;
    for (int j = 0; j < 4; j++) {
        tp.s[j] = m->taps[j];
        tp.v[j] = (v2d){m->taps[j], m->taps[j]};
    }
    history_load(h, m, d + 2u);

    bool armed = m->armed;
    double prev_ref_u = m->prev_ref_u;
    double cyc_ticks = m->cyc_ticks;
    lanes_t cyc;
    lanes_load(&cyc, m->cyc, m->cyc_ll);
    v2d peak = {m->cyc_peak[0], m->cyc_peak[1]};
    double peak3 = m->cyc_peak[2];
    const v2i abs_mask = {INT64_MAX, INT64_MAX};

    size_t t = 0;
    int closed = 0; /* 1: at a crossing, 2: by the timeout */
    double move = 0.0;
    v2d i;
    double i3;
    for (; t < n; t++) {
        v2d u;
        double u3;
        element_inputs(conn, &s[t], &u, &u3, &i, &i3);
        h[t].lo = u;
        h[t].hi = u3;
        v2d a = (v2d)((v2i)u & abs_mask);
        v2i gt = a > peak;
        peak = (v2d)(((v2i)a & gt) | ((v2i)peak & ~gt));
        double a3 = fabs(u3);
        peak3 = a3 > peak3 ? a3 : peak3;
        /* Positive-going zero crossing of the reference, with hysteresis so
         * that harmonics and noise near zero give one crossing per period. */
        double ur = ref == 2 ? u3 : ref == 1 ? u[1] : u[0];
        if (ur < -METROLOGY_ZC_HYSTERESIS_V)
            armed = true;
        if (armed && prev_ref_u < 0.0 && ur >= 0.0) {
            /* The crossing lies at (tick - 1) + f; the previous sample
             * covers [tick - 1, tick), so its last (1 - f) belongs to the
             * next cycle. */
            move = 1.0 - prev_ref_u / (prev_ref_u - ur);
            prev_ref_u = ur;
            closed = 1;
            break;
        }
        prev_ref_u = ur;
        lanes_t c = contributions(&h[t], d, &tp, i, i3);
        lanes_add(&cyc, &c);
        cyc_ticks += 1.0;
        if (cyc_ticks >= METROLOGY_CYCLE_TIMEOUT_TICKS) {
            closed = 2;
            t++;
            break;
        }
    }

    /* The previous tick's contributions (to split a straddling sample, and
     * for the next call): computed again, the same operations. */
    lanes_t prev;
    if (closed != 1 || t > 0) {
        v2d pu, pi;
        double pu3, pi3;
        element_inputs(conn, &s[t - 1], &pu, &pu3, &pi, &pi3);
        prev = contributions(&h[t - 1], d, &tp, pi, pi3);
    } else {
        lanes_load(&prev, m->prev, m->prev_ll);
    }
    if (closed == 1) {
        lanes_t moved = lanes_scale(move, &prev);
        lanes_sub(&cyc, &moved);
        cyc_ticks -= move;
        lanes_t c = contributions(&h[t], d, &tp, i, i3);
        t++; /* the crossing tick is taken */
        history_store(m, h, t);
        lanes_store(m->cyc, m->cyc_ll, &cyc);
        m->cyc_ticks = cyc_ticks;
        m->cyc_peak[0] = peak[0];
        m->cyc_peak[1] = peak[1];
        m->cyc_peak[2] = peak3;
        m->tick += t - 1;
        close_cycle(m, true, (double)m->tick - move);
        /* The new cycle: the straddling part, then this tick. */
        lanes_add(&moved, &c);
        lanes_store(m->cyc, m->cyc_ll, &moved);
        lanes_store(m->prev, m->prev_ll, &c);
        m->cyc_ticks = move + 1.0;
        memset(m->cyc_peak, 0, sizeof m->cyc_peak);
        m->tick++;
        m->armed = false;
        m->prev_ref_u = prev_ref_u;
        return t;
    }
    lanes_store(m->prev, m->prev_ll, &prev);
    history_store(m, h, t);
    lanes_store(m->cyc, m->cyc_ll, &cyc);
    m->cyc_ticks = cyc_ticks;
    m->cyc_peak[0] = peak[0];
    m->cyc_peak[1] = peak[1];
    m->cyc_peak[2] = peak3;
    m->armed = armed;
    m->prev_ref_u = prev_ref_u;
    m->tick += t;
    if (closed == 2) {
        /* No crossing for a whole timeout. */
        close_cycle(m, false, (double)m->tick);
        memset(m->cyc, 0, sizeof m->cyc);
        memset(m->cyc_ll, 0, sizeof m->cyc_ll);
        memset(m->cyc_peak, 0, sizeof m->cyc_peak);
        m->cyc_ticks = 0.0;
    }
    return t;
}

bool metrology_step(metrology_t *m, const metrology_sample_t *s)
{
    metrology_exec(m, s, 1);
    return m->cycle_ready;
}

/* The closed-form path (metrology_steady.c) closes its cycles here. */
void metrology_close_cycle(metrology_t *m, bool ends_at_crossing, double end)
{
    close_cycle(m, ends_at_crossing, end);
}

/* One whole cycle of sums s, ll, length `ticks` into the window, as
 * close_cycle() adds it. */
static void window_add(metrology_t *m, const metrology_sums_t s[3], const double ll[3],
                       double ticks)
{
    for (int k = 0; k < 3; k++) {
        metrology_sums_t *w = &m->win_whole[k];
        w->u2 += s[k].u2;
        w->i2 += s[k].i2;
        w->p += s[k].p;
        w->q += s[k].q;
        m->win_whole_ll[k] += ll[k];
    }
    m->win_ticks += ticks;
    m->win_period_ticks += ticks;
    m->win_periods++;
}

static bool window_full(const metrology_t *m)
{
    return m->win_ticks >= METROLOGY_WINDOW_TICKS - WINDOW_SLACK;
}

/* The window is as publish() leaves it (or metrology_init()). */
static bool window_empty(const metrology_t *m)
{
    return m->win_ticks == 0.0 && m->win_periods == 0 && m->win_period_ticks == 0.0;
}

/* The memo for this cycle: the window filled from empty by it. */
static bool memo_for(metrology_window_memo_t *memo, const metrology_t *m,
                     const metrology_sums_t s[3], const double ll[3], double ticks)
{
    if (memo->have && memcmp(memo->s, s, sizeof memo->s) == 0 &&
        memcmp(memo->ll, ll, sizeof memo->ll) == 0 &&
        memcmp(&memo->ticks, &ticks, sizeof ticks) == 0)
        return true;
    metrology_t w = *m; /* empty: the additions from zero, as they will be made */
    uint32_t c = 0;
    while (!window_full(&w)) {
        if (++c > 4u * METROLOGY_WINDOW_TICKS)
            return memo->have = false; /* not a cycle that fills a window */
        window_add(&w, s, ll, ticks);
    }
    memo->have = true;
    memcpy(memo->s, s, sizeof memo->s);
    memcpy(memo->ll, ll, sizeof memo->ll);
    memo->ticks = ticks;
    memo->cycles = c;
    memcpy(memo->win, w.win_whole, sizeof memo->win);
    memcpy(memo->win_ll, w.win_whole_ll, sizeof memo->win_ll);
    memo->win_ticks = w.win_ticks;
    memo->win_period_ticks = w.win_period_ticks;
    return true;
}

void metrology_close_repeat(metrology_t *m, uint64_t n, uint64_t c1, uint32_t period, double move,
                            const metrology_sums_t s[3], const double ll[3], double ticks,
                            metrology_window_memo_t *memo)
{
    /* The additions of close_cycle(), in its order for each accumulator
     * (the accumulators are independent), so the window is the same bits. */
    uint64_t j = 0;
    while (j < n) {
        if (memo && window_empty(m) && memo_for(memo, m, s, ll, ticks) && n - j >= memo->cycles) {
            memcpy(m->win_whole, memo->win, sizeof memo->win);
            memcpy(m->win_whole_ll, memo->win_ll, sizeof memo->win_ll);
            m->win_ticks = memo->win_ticks;
            m->win_period_ticks = memo->win_period_ticks;
            m->win_periods = memo->cycles;
            j += memo->cycles;
            m->tick = c1 + (j - 1) * period;
            publish(m);
            continue;
        }
        window_add(m, s, ll, ticks);
        j++;
        if (window_full(m)) {
            m->tick = c1 + (j - 1) * period;
            publish(m);
        }
    }
    m->tick = c1 + (n - 1) * period;
    m->cycle.end = (double)m->tick - move;
    m->cycle_ready = true;
    m->have_crossing = true;
}
