/* metrology_describe: taking a description of the grid for the closed form
 * (metrology_steady.h): the element phasors of the connection, the products
 * of their orders, whether the reference crosses zero cleanly (issue 14,
 * point 3; docs/metrology.md). */
#include <math.h>
#include <string.h>

#include "metrology_internal.h"
#include "metrology_steady_internal.h"
#include "vtime.h"

/* The element phasors of the connection (metrology.h): linear in the lines. */
static void elements(metrology_steady_t *st, connection_t conn)
{
    const metrology_phasors_t *p = &st->ph;
    memset(st->u, 0, sizeof st->u);
    memset(st->i, 0, sizeof st->i);
    double sv = p->noise_v * p->noise_v, si = p->noise_i * p->noise_i;
    for (int o = 0; o < p->n; o++)
        for (int c = 0; c < 2; c++) {
            double v0 = p->v[0][o][c], v1 = p->v[1][o][c], v2 = p->v[2][o][c];
            switch (conn) {
            case CONNECTION_3P3W_DELTA: {
                double star = (v0 + v1 + v2) / 3.0;
                st->u[0][o][c] = v0 - star;
                st->u[1][o][c] = v1 - star;
                st->u[2][o][c] = v2 - star;
                break;
            }
            case CONNECTION_3P3W_ARON:
                st->u[0][o][c] = v0 - v1;
                st->u[2][o][c] = v2 - v1;
                break;
            case CONNECTION_1P2W:
                st->u[0][o][c] = v0;
                break;
            case CONNECTION_3P4W:
            default:
                st->u[0][o][c] = v0;
                st->u[1][o][c] = v1;
                st->u[2][o][c] = v2;
                break;
            }
            for (int k = 0; k < 3; k++)
                st->i[k][o][c] = conn == CONNECTION_1P2W && k > 0 ? 0.0 : p->i[k][o][c];
        }
    /* The noise's variance in each sum: independent per line, combined as
     * the connection combines the lines. */
    for (int k = 0; k < 3; k++) {
        st->var_i[k] = conn == CONNECTION_1P2W && k > 0 ? 0.0 : si;
        st->var_ll[k] = 2.0 * sv;
    }
    switch (conn) {
    case CONNECTION_3P3W_DELTA: /* v_k - mean: (2/3)^2 + 2 (1/3)^2 */
        st->var_u[0] = st->var_u[1] = st->var_u[2] = sv * 2.0 / 3.0;
        break;
    case CONNECTION_3P3W_ARON:
        st->var_u[0] = st->var_u[2] = 2.0 * sv;
        st->var_u[1] = 0.0;
        break;
    case CONNECTION_1P2W:
        st->var_u[0] = sv;
        st->var_u[1] = st->var_u[2] = 0.0;
        st->var_ll[0] = st->var_ll[1] = sv; /* u_1 - 0, u_1 - 0 */
        st->var_ll[2] = 0.0;
        break;
    case CONNECTION_3P4W:
    default:
        st->var_u[0] = st->var_u[1] = st->var_u[2] = sv;
        break;
    }
}

static int m_index(const metrology_steady_t *st, int m)
{
    for (int j = 0; j < st->n_m; j++)
        if (st->mval[j] == m)
            return j;
    return -1;
}

/* D_m of sum_n Im(A z^h) Im(B z^g) = 1/2 Re sum_m D_m G_m (header). */
void steady_add_product(const metrology_steady_t *st, double d[][2], const double a[][2],
                        const double b[][2])
{
    const metrology_phasors_t *p = &st->ph;
    for (int x = 0; x < p->n; x++)
        for (int y = 0; y < p->n; y++) {
            int h = p->order[x], g = p->order[y];
            cx A = cpair(a[x]), B = cpair(b[y]);
            cx ab = cmul(A, (cx){B.re, -B.im});
            int j = st->mi[x][y][0];
            d[j][0] += ab.re;
            d[j][1] += h >= g ? ab.im : -ab.im;
            cx s = cmul(A, B);
            j = st->mi[x][y][1];
            d[j][0] -= s.re;
            d[j][1] -= s.im;
        }
}

/* Whether element k's voltage crosses zero upwards once a period, well
 * clear of the detector's hysteresis; its crossing phase in *x. */
static bool clean_crossing(const metrology_steady_t *st, int k, double *x)
{
    const metrology_phasors_t *p = &st->ph;
    int n = 64 * st->max_order;
    if (n < 256)
        n = 256;
    /* A scan on a rotor turned by 1/n of a cycle (a drift of 1e-13 over a
     * cycle does not matter here: the crossing is refined below and each
     * predicted crossing tick is checked on the samples). */
    cx w = cexpi(1.0 / n), z = cexpi(-1.0 / n);
    double prev = steady_im_sum(p, st->u[k], z);
    int ups = 0, low = 0;
    double lo = 0.0, hi = 0.0, at = 0.0;
    for (int j = 0; j < n; j++) {
        z = cmul(z, w);
        double r = steady_im_sum(p, st->u[k], z);
        if (prev < 0.0 && r >= 0.0) {
            ups++;
            at = (double)j / n;
        }
        if (r < lo)
            lo = r;
        if (r > hi)
            hi = r;
        low += r < -HYST;
        prev = r;
    }
    /* One crossing, a trough that arms the detector on at least two samples
     * of every period, a crest well above zero. */
    if (ups != 1 || lo > -2.0 * HYST || hi < 2.0 * HYST || (double)low / n < 2.0 * p->step)
        return false;
    double a = at - 1.0 / n, b = at;
    for (int it = 0; it < 24; it++) { /* to 1e-10 of a cycle */
        double mid = 0.5 * (a + b);
        if (steady_im_sum(p, st->u[k], cexpi(mid)) < 0.0)
            a = mid;
        else
            b = mid;
    }
    *x = b - floor(b);
    return true;
}

/* Two descriptions' phases agree this closely (cycles) at the later one's
 * first tick: the wave's phase accumulator and steady_phase_split round apart by
 * about 1e-15 of a cycle a second (sim/wave folds it every 256 ticks). */
#define SAME_PHASE 1e-11

/* Whether `b` has the voltage side of `a`: the voltages at every tick, the
 * zero crossings and the delay line are the same under either. */
bool steady_same_voltage(const metrology_phasors_t *a, const metrology_phasors_t *b)
{
    if (a->step != b->step || a->n != b->n || a->noise_v != b->noise_v ||
        memcmp(a->order, b->order, sizeof(a->order[0]) * (size_t)a->n) != 0 ||
        memcmp(a->v, b->v, sizeof a->v) != 0)
        return false;
    double d = steady_phase_at(a, b->tick0) - b->phase0;
    d -= nearbyint(d);
    return fabs(d) <= SAME_PHASE;
}

void metrology_steady_describe(metrology_steady_t *st, const metrology_phasors_t *ph,
                               connection_t conn, int ref)
{
    st->clone = false;
    bool had_dinv = st->dinv_ok; /* made for the last description's step and orders */
    st->dinv_ok = false;
    /* The delay line holds this voltage since v_since (metrology_steady_enter). */
    bool same_v = st->have && steady_same_voltage(&st->ph, ph);
    if (!same_v)
        st->v_since = ph->since;
    /* The same voltage phasors, orders and connection: the products of the
     * voltages alone (u^2, the line-to-line squares) are the ones held. */
    bool keep_v = same_v && st->coef_ok && st->coef_conn == (int)conn;
    st->coef_ok = false;
    /* What the last description had, to keep what depends on it alone: a
     * profile that moves the currents every second leaves the frequency and
     * the reference voltage, so the rotor tables and the crossing stay. */
    bool same_step = st->have && st->ph.step == ph->step;
    bool had_crossing = st->have && st->usable && st->ref == ref; /* xphase holds */
    if (!(same_v && had_crossing))
        st->fast_left = 0; /* the crossings move: find the next one afresh */
    if (!(keep_v && had_crossing))
        st->sk_ok = false; /* the voltage side moves */
    st->carry_clone = false;
    double old_ref[METROLOGY_PHASOR_ORDERS][2];
    int old_order[METROLOGY_PHASOR_ORDERS], old_n = st->ph.n;
    memcpy(old_ref, st->u[ref], sizeof old_ref);
    memcpy(old_order, st->ph.order, sizeof old_order);
    st->ph = *ph;
    st->have = true;
    st->rot_valid = 0;
    st->eu_valid = 0;
    st->qd_ok = false;
    if (!same_step) {
        st->delay_cached = 0;
        st->w1[0] = cos(TWO_PI * ph->step);
        st->w1[1] = sin(TWO_PI * ph->step);
        for (int k = 0; k < ROTOR_BLOCK; k++) {
            cx w = cexpi(steady_phase_split(ph, k, -ph->phase0, NULL));
            st->rot_w[k][0] = w.re;
            st->rot_w[k][1] = w.im;
        }
    }
    st->lazy = false;
    st->have_last = false;
    st->usable = false;
    st->ref = ref;
    elements(st, conn);
    st->max_order = 1;
    bool ok = ph->n >= 1 && ph->n <= METROLOGY_PHASOR_ORDERS && ph->order[0] == 1;
    for (int o = 0; ok && o < ph->n; o++) {
        ok = ph->order[o] >= 1 && 2 * ph->order[o] < MAX_M &&
             (o == 0 || ph->order[o] > ph->order[o - 1]);
        if (ok)
            st->max_order = ph->order[o];
    }
    /* A period shorter than the cycle timeout and a delay the ring holds. */
    ok = ok && ph->step > 1.0 / (METROLOGY_CYCLE_TIMEOUT_TICKS - 10.0) &&
         ph->step <= 100.0 / VTIME_SAMPLE_RATE;
    if (!ok)
        return;
    /* The product orders and their table depend on the orders alone: a
     * description with the orders of the last keeps them. */
    bool same_tables =
        st->tables_ok && old_n == ph->n && memcmp(old_order, ph->order, sizeof old_order) == 0;
    if (!same_tables) {
        st->tables_ok = false;
        st->n_m = 0;
        for (int x = 0; x < ph->n && ok; x++)
            for (int y = 0; y < ph->n && ok; y++) {
                int h = ph->order[x], g = ph->order[y];
                int ms[2] = {h >= g ? h - g : g - h, h + g};
                for (int j = 0; j < 2; j++)
                    if (m_index(st, ms[j]) < 0) {
                        if (st->n_m == METROLOGY_STEADY_M) {
                            ok = false;
                            break;
                        }
                        st->mval[st->n_m++] = ms[j];
                    }
            }
        if (!ok)
            return;
        for (int x = 0; x < ph->n; x++)
            for (int y = 0; y < ph->n; y++) {
                int h = ph->order[x], g = ph->order[y];
                st->mi[x][y][0] = (uint8_t)m_index(st, h >= g ? h - g : g - h);
                st->mi[x][y][1] = (uint8_t)m_index(st, h + g);
            }
        st->tables_ok = true;
    }
    /* 1 / (1 - w^m) depends on the step and the product orders alone. */
    st->dinv_ok = had_dinv && same_step && same_tables;
    if (!keep_v) {
        memset(st->coef, 0, sizeof st->coef);
        static const int pair[3][2] = {{0, 1}, {0, 2}, {1, 2}};
        for (int l = 0; l < 3; l++) {
            double d[METROLOGY_PHASOR_ORDERS][2];
            for (int o = 0; o < ph->n; o++)
                for (int c = 0; c < 2; c++)
                    d[o][c] = st->u[pair[l][0]][o][c] - st->u[pair[l][1]][o][c];
            steady_add_product(st, st->coef[9 + l], d, d);
        }
    }
    if (!keep_v)
        for (int k = 0; k < 3; k++)
            steady_add_product(st, st->coef[k], st->u[k], st->u[k]);
    st->coef_i_ok = false; /* the currents' products: when first needed (coef_currents) */
    st->coef_ok = true;
    st->coef_conn = (int)conn;
    if (!(had_crossing && same_step && old_n == ph->n &&
          memcmp(old_order, ph->order, sizeof old_order) == 0 &&
          memcmp(old_ref, st->u[ref], sizeof old_ref) == 0))
        st->usable = clean_crossing(st, ref, &st->xphase);
    else
        st->usable = true; /* the same reference voltage: the same crossing */
    double per = nearbyint(1.0 / ph->step);
    st->period = (uint32_t)per;
    st->periodic = fabs(per * ph->step - 1.0) < 1e-15;
    st->reused = false;
}
