/* metrology: whole-cycle measurement of a three-phase grid (see metrology.h). */
#include "metrology.h"

#include <math.h>
#include <string.h>

#include "metrology_internal.h"
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

/* The element inputs for the connection type (metrology.h). */
static void element_inputs(connection_t conn, const metrology_sample_t *s, double u[3], double i[3])
{
    switch (conn) {
    case CONNECTION_3P3W_DELTA: {
        double star = (s->v[0] + s->v[1] + s->v[2]) / 3.0;
        for (int k = 0; k < 3; k++) {
            u[k] = s->v[k] - star;
            i[k] = s->i[k];
        }
        break;
    }
    case CONNECTION_3P3W_ARON:
        u[0] = s->v[0] - s->v[1];
        u[1] = 0.0;
        u[2] = s->v[2] - s->v[1];
        i[0] = s->i[0];
        i[1] = s->i[1];
        i[2] = s->i[2];
        break;
    case CONNECTION_1P2W:
        u[0] = s->v[0];
        i[0] = s->i[0];
        u[1] = u[2] = i[1] = i[2] = 0.0;
        break;
    case CONNECTION_3P4W:
    default:
        for (int k = 0; k < 3; k++) {
            u[k] = s->v[k];
            i[k] = s->i[k];
        }
        break;
    }
}

bool metrology_step(metrology_t *m, const metrology_sample_t *s)
{
    double u[3], i[3];
    element_inputs(m->connection, s, u, i);
    m->cycle_ready = false;

    /* Delay line: write this tick, read T/4 back. */
    uint32_t pos = m->ring_pos;
    metrology_sums_t c[3];
    double ll[3];
    for (int k = 0; k < 3; k++) {
        double *r = m->ring[k];
        r[pos] = u[k];
        uint32_t d = m->delay_int;
        double ud =
            m->taps[0] * r[(pos - d + 1u) & RING_MASK] + m->taps[1] * r[(pos - d) & RING_MASK] +
            m->taps[2] * r[(pos - d - 1u) & RING_MASK] + m->taps[3] * r[(pos - d - 2u) & RING_MASK];
        c[k].u2 = u[k] * u[k];
        c[k].i2 = i[k] * i[k];
        c[k].p = u[k] * i[k];
        c[k].q = ud * i[k];
        double a = fabs(u[k]);
        if (a > m->cyc_peak[k])
            m->cyc_peak[k] = a;
    }
    m->ring_pos = (pos + 1u) & RING_MASK;
    ll[0] = (u[0] - u[1]) * (u[0] - u[1]);
    ll[1] = (u[0] - u[2]) * (u[0] - u[2]);
    ll[2] = (u[1] - u[2]) * (u[1] - u[2]);

    /* Positive-going zero crossing of the reference, with hysteresis so that
     * harmonics and noise near zero give one crossing per period. */
    double ur = u[m->ref];
    bool crossed = false;
    if (ur < -METROLOGY_ZC_HYSTERESIS_V)
        m->armed = true;
    if (m->armed && m->prev_ref_u < 0.0 && ur >= 0.0) {
        /* The crossing lies at (tick - 1) + f; the previous sample covers
         * [tick - 1, tick), so its last (1 - f) belongs to the next cycle. */
        double f = m->prev_ref_u / (m->prev_ref_u - ur);
        double move = 1.0 - f;
        for (int k = 0; k < 3; k++) {
            m->cyc[k].u2 -= move * m->prev[k].u2;
            m->cyc[k].i2 -= move * m->prev[k].i2;
            m->cyc[k].p -= move * m->prev[k].p;
            m->cyc[k].q -= move * m->prev[k].q;
            m->cyc_ll[k] -= move * m->prev_ll[k];
        }
        m->cyc_ticks -= move;
        close_cycle(m, true, (double)m->tick - move);
        for (int k = 0; k < 3; k++) {
            m->cyc[k].u2 = move * m->prev[k].u2;
            m->cyc[k].i2 = move * m->prev[k].i2;
            m->cyc[k].p = move * m->prev[k].p;
            m->cyc[k].q = move * m->prev[k].q;
            m->cyc_ll[k] = move * m->prev_ll[k];
            m->cyc_peak[k] = 0.0;
        }
        m->cyc_ticks = move;
        m->armed = false;
        crossed = true;
    }
    m->prev_ref_u = ur;

    for (int k = 0; k < 3; k++) {
        m->cyc[k].u2 += c[k].u2;
        m->cyc[k].i2 += c[k].i2;
        m->cyc[k].p += c[k].p;
        m->cyc[k].q += c[k].q;
        m->cyc_ll[k] += ll[k];
        m->prev[k] = c[k];
        m->prev_ll[k] = ll[k];
    }
    m->cyc_ticks += 1.0;
    m->tick++;

    if (!crossed && m->cyc_ticks >= METROLOGY_CYCLE_TIMEOUT_TICKS) {
        close_cycle(m, false, (double)m->tick);
        memset(m->cyc, 0, sizeof m->cyc);
        memset(m->cyc_ll, 0, sizeof m->cyc_ll);
        memset(m->cyc_peak, 0, sizeof m->cyc_peak);
        m->cyc_ticks = 0.0;
        crossed = true;
    }
    return crossed;
}

/* The closed-form path (metrology_steady.c) closes its cycles here. */
void metrology_close_cycle(metrology_t *m, bool ends_at_crossing, double end)
{
    close_cycle(m, ends_at_crossing, end);
}
