/* energy: registers, tariffs and combination codes (see energy.h). */
#include "energy.h"
#include "meter_assert.h"

#include <math.h>
#include <string.h>

#define UWH_PER_WS (1e6 / 3600.0)

void energy_init(energy_t *e)
{
    METER_ASSERT(e);
    memset(e, 0, sizeof *e);
}

int64_t energy_wrap(int64_t uwh)
{
    return uwh % ENERGY_MODULUS_UWH; /* keeps the sign: -12 kWh stays -12 kWh */
}

/* A quantity of x > 0 micro-units a cycle, from remainder rem: x in the
 * remainders' fixed point (rounded to 2^-32 of a micro-unit, the only
 * rounding; it is the same for one cycle and for a run). */
static energy_stream_t stream(uint32_t rem, double x)
{
    double w = floor(x);
    uint64_t fr = (uint64_t)((x - w) * ENERGY_REM_ONE + 0.5);
    if (fr >= (1ull << 32)) {
        w += 1.0;
        fr -= 1ull << 32;
    }
    return (energy_stream_t){.whole = (int64_t)w, .frac = fr, .rem0 = rem};
}

/* Whole micro-units a stream counted in its first j cycles. */
static int64_t counted(const energy_stream_t *s, uint64_t j)
{
    /* A stream not in use has whole = frac = 0: it counts nothing. */
    return (int64_t)j * s->whole + (int64_t)(((uint64_t)s->rem0 + j * s->frac) >> 32);
}

/* Its remainder after j cycles. */
static uint32_t left(const energy_stream_t *s, uint64_t j)
{
    return (uint32_t)((uint64_t)s->rem0 + j * s->frac);
}

/* How a combination code turns forward and reverse into "total" (6.6.15). */
static int64_t combine(int code, int64_t fwd, int64_t rev)
{
    switch (code) {
    case 1:
        return fwd;
    case 2:
        return -rev;
    case 3:
        return fwd + rev;
    default:
        return fwd - rev; /* C-04, and C-05 on netted quantities */
    }
}

/* energy_wrap(*reg + x) without its 64-bit division in the common case: a
 * register inside the modulus stays itself (a cycle adds a few µWh; the
 * division was a fifth of a closed-form cycle's cost, docs/performance.md). */
static void add(int64_t *reg, int64_t x)
{
    int64_t v = *reg + x;
    *reg = v >= ENERGY_MODULUS_UWH || v <= -ENERGY_MODULUS_UWH ? energy_wrap(v) : v;
}

/* Adds to the total slot and a tariff slot of a register. */
static void add_tariff(energy_reg_t *r, int tariff, int64_t x)
{
    add(&r->slot[ENERGY_TOTAL], x);
    add(&r->slot[ENERGY_T1 + tariff - 1], x);
}

void energy_run_prepare(const energy_t *e, const metrology_cycle_t *c, int tariff, int code,
                        energy_run_t *run)
{
    METER_ASSERT(e && c && run);
    METER_ASSERT(tariff >= 1 && tariff <= 4 && code >= 1 && code <= 5);
    run->tariff = tariff;
    run->code = code;
    run->on = 0;
    for (int a = 0; a < 2; a++)
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 3; k++)
                run->s[ENERGY_RUN_PHASE(a, d, k)] =
                    (energy_stream_t){.rem0 = e->rem_phase[a][d][k]};
    for (int d = 0; d < 2; d++)
        run->s[ENERGY_RUN_NET(d)] = (energy_stream_t){.rem0 = e->rem_net[0][d]};
    double net[2] = {0.0, 0.0};
    for (int k = 0; k < 3; k++) {
        /* No creep: below the starting current a phase registers nothing (4). */
        run->amount[0][k] = c->started[k] ? c->p_ws[k] * UWH_PER_WS : 0.0;
        run->amount[1][k] = c->started[k] ? c->q_vars[k] * UWH_PER_WS : 0.0;
        for (int a = 0; a < 2; a++) {
            double x = run->amount[a][k];
            /* Direction is decided per phase and per cycle on its net energy. */
            int d = x > 0.0 ? 0 : x < 0.0 ? 1 : -1;
            if (d >= 0) {
                int i = ENERGY_RUN_PHASE(a, d, k);
                run->s[i] = stream(e->rem_phase[a][d][k], d == 0 ? x : -x);
                run->on |= 1u << i;
            }
            net[a] += x;
        }
    }
    if (code == 5 && net[0] != 0.0) {
        /* C-05 nets the phases before deciding the direction (6.6.15). */
        int d = net[0] > 0.0 ? 0 : 1;
        run->s[ENERGY_RUN_NET(d)] = stream(e->rem_net[0][d], d == 0 ? net[0] : -net[0]);
        run->on |= 1u << ENERGY_RUN_NET(d);
    }
    for (int q = 0; q < ENERGY_RUN_QUANTITIES; q++) {
        int a = q / 2, d = q % 2;
        run->mask[q] = (7u << ENERGY_RUN_PHASE(a, d, 0)) & run->on;
    }
    if (code == 5)
        for (int d = 0; d < 2; d++)
            run->mask[ENERGY_RUN_ACTIVE_FWD + d] = run->on & (1u << ENERGY_RUN_NET(d));
}

int64_t energy_run_counted(const energy_run_t *run, unsigned mask, uint64_t j)
{
    int64_t n = 0;
    for (; mask; mask &= mask - 1)
        n += counted(&run->s[__builtin_ctz(mask)], j);
    return n;
}

/* The whole micro-units of every stream over cycles j0 + 1 .. j1. */
typedef struct {
    int64_t fwd[2][3], rev[2][3];
    int64_t f[2], r[2]; /* forward and reverse as the totals count them */
} counts_t;

static void count(const energy_run_t *run, uint64_t j0, uint64_t j1, counts_t *n)
{
    for (int a = 0; a < 2; a++) {
        n->f[a] = n->r[a] = 0;
        for (int k = 0; k < 3; k++) {
            const energy_stream_t *f = &run->s[ENERGY_RUN_PHASE(a, 0, k)];
            const energy_stream_t *r = &run->s[ENERGY_RUN_PHASE(a, 1, k)];
            n->fwd[a][k] = counted(f, j1) - counted(f, j0);
            n->rev[a][k] = counted(r, j1) - counted(r, j0);
            n->f[a] += n->fwd[a][k];
            n->r[a] += n->rev[a][k];
        }
    }
    if (run->code == 5) {
        const energy_stream_t *f = &run->s[ENERGY_RUN_NET(0)], *r = &run->s[ENERGY_RUN_NET(1)];
        n->f[0] = counted(f, j1) - counted(f, j0);
        n->r[0] = counted(r, j1) - counted(r, j0);
    }
}

void energy_run_delta(const energy_run_t *run, uint64_t j0, uint64_t j1, energy_delta_t *d)
{
    METER_ASSERT(run && d && j0 <= j1);
    int64_t q[ENERGY_RUN_QUANTITIES];
    for (int i = 0; i < ENERGY_RUN_QUANTITIES; i++)
        q[i] =
            energy_run_counted(run, run->mask[i], j1) - energy_run_counted(run, run->mask[i], j0);
    d->active_fwd = q[ENERGY_RUN_ACTIVE_FWD];
    d->active_rev = q[ENERGY_RUN_ACTIVE_REV];
    d->led = d->active_fwd + d->active_rev;
    d->reactive_fwd = q[ENERGY_RUN_REACTIVE_FWD];
    d->reactive_rev = q[ENERGY_RUN_REACTIVE_REV];
}

/* The largest |register|. */
static int64_t largest(const energy_t *e)
{
    int64_t m = 0;
    const energy_reg_t *regs[6] = {&e->total[0],   &e->total[1],   &e->forward[0],
                                   &e->forward[1], &e->reverse[0], &e->reverse[1]};
    for (int r = 0; r < 6; r++)
        for (int i = 0; i < ENERGY_SLOTS; i++) {
            int64_t v = regs[r]->slot[i];
            v = v < 0 ? -v : v;
            m = v > m ? v : m;
        }
    for (int q = 0; q < 4; q++)
        for (int t = 0; t < 5; t++) {
            int64_t v = e->quadrant[q][t] < 0 ? -e->quadrant[q][t] : e->quadrant[q][t];
            m = v > m ? v : m;
        }
    for (int i = 0; i < 4; i++) {
        int64_t v = e->resettable[i] < 0 ? -e->resettable[i] : e->resettable[i];
        m = v > m ? v : m;
    }
    return m;
}

bool energy_run_fits(const energy_t *e, const energy_run_t *run, uint64_t n)
{
    METER_ASSERT(e && run);
    /* Every register moves by at most the sum of all streams' counts at
     * any step; so long as that keeps it inside the modulus, no step wraps. */
    int64_t bound = 0;
    for (int i = 0; i < ENERGY_RUN_STREAMS; i++)
        bound += counted(&run->s[i], n);
    if (bound < 0 || bound >= ENERGY_MODULUS_UWH)
        return false;
    return largest(e) < ENERGY_MODULUS_UWH - bound;
}

static void apply(energy_t *e, const counts_t *c, const double amount[2][3], int tariff, int code);

/* One cycle of a stream of x > 0 from *rem: counted(s, 1) and left(s, 1). */
static int64_t one_cycle(uint32_t *rem, double x)
{
    energy_stream_t s = stream(*rem, x);
    *rem = left(&s, 1);
    return counted(&s, 1);
}

void energy_run_commit(energy_t *e, const energy_run_t *run, uint64_t n)
{
    METER_ASSERT(e && run);
    int tariff = run->tariff, code = run->code;
    counts_t c;
    count(run, 0, n, &c);
    for (int a = 0; a < 2; a++)
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 3; k++)
                e->rem_phase[a][d][k] = left(&run->s[ENERGY_RUN_PHASE(a, d, k)], n);
    e->rem_net[0][0] = left(&run->s[ENERGY_RUN_NET(0)], n);
    e->rem_net[0][1] = left(&run->s[ENERGY_RUN_NET(1)], n);
    apply(e, &c, run->amount, tariff, code);
}

/* The registers move by the counts c (whole micro-units of each base
 * quantity over one cycle or a run of them). */
static void apply(energy_t *e, const counts_t *cp, const double amount[2][3], int tariff, int code)
{
    const counts_t c = *cp;
    for (int a = 0; a < 2; a++) {
        int64_t f = c.f[a], r = c.r[a];
        /* Reactive total is the sum of both directions: the combination code
         * is defined for active energy only (6.6.15; docs/decisions.md). */
        int64_t t = a == 0 ? combine(code, f, r) : f + r;
        add_tariff(&e->forward[a], tariff, f);
        add_tariff(&e->reverse[a], tariff, r);
        add_tariff(&e->total[a], tariff, t);
        for (int k = 0; k < 3; k++) {
            add(&e->forward[a].slot[ENERGY_L1 + k], c.fwd[a][k]);
            add(&e->reverse[a].slot[ENERGY_L1 + k], c.rev[a][k]);
            add(&e->total[a].slot[ENERGY_L1 + k],
                a == 0 ? combine(code == 5 ? 4 : code, c.fwd[a][k], c.rev[a][k])
                       : c.fwd[a][k] + c.rev[a][k]);
        }
        if (a == 0) {
            /* The trip counter counts what "total" counts (6.6.13). */
            add(&e->resettable[0], t);
            for (int k = 0; k < 3; k++)
                add(&e->resettable[1 + k], combine(code == 5 ? 4 : code, c.fwd[0][k], c.rev[0][k]));
        }
    }

    for (int k = 0; k < 3; k++) {
        int64_t q = c.fwd[1][k] + c.rev[1][k];
        if (q == 0)
            continue;
        int quad = metrology_quadrant(amount[0][k], amount[1][k]) - 1;
        add(&e->quadrant[quad][0], q);
        add(&e->quadrant[quad][tariff], q);
    }
}

void energy_add_cycle(energy_t *e, const metrology_cycle_t *c, int tariff, int code,
                      energy_delta_t *delta)
{
    METER_ASSERT(e && c); /* delta may be NULL */
    METER_ASSERT(tariff >= 1 && tariff <= 4 && code >= 1 && code <= 5);
    /* A run of one (energy_run_prepare, _commit, _delta), its streams taken
     * one cycle on at once: the same arithmetic, without the run's tables. */
    counts_t n;
    memset(&n, 0, sizeof n);
    double amount[2][3], net = 0.0;
    for (int k = 0; k < 3; k++) {
        /* No creep: below the starting current a phase registers nothing (4). */
        amount[0][k] = c->started[k] ? c->p_ws[k] * UWH_PER_WS : 0.0;
        amount[1][k] = c->started[k] ? c->q_vars[k] * UWH_PER_WS : 0.0;
        for (int a = 0; a < 2; a++) {
            double x = amount[a][k];
            /* Direction is decided per phase and per cycle on its net energy. */
            if (x > 0.0)
                n.fwd[a][k] = one_cycle(&e->rem_phase[a][0][k], x);
            else if (x < 0.0)
                n.rev[a][k] = one_cycle(&e->rem_phase[a][1][k], -x);
            n.f[a] += n.fwd[a][k];
            n.r[a] += n.rev[a][k];
        }
        net += amount[0][k];
    }
    if (code == 5) {
        /* C-05 nets the phases before deciding the direction (6.6.15). */
        n.f[0] = net > 0.0 ? one_cycle(&e->rem_net[0][0], net) : 0;
        n.r[0] = net < 0.0 ? one_cycle(&e->rem_net[0][1], -net) : 0;
    }
    apply(e, &n, amount, tariff, code);
    if (delta) {
        delta->active_fwd = n.f[0];
        delta->active_rev = n.r[0];
        delta->led = n.f[0] + n.r[0];
        delta->reactive_fwd = n.f[1];
        delta->reactive_rev = n.r[1];
    }
}

static uint32_t *rem_at(energy_t *e, unsigned i)
{
    METER_ASSERT(i < 16);
    if (i < 12)
        return &e->rem_phase[i / 6][(i / 3) % 2][i % 3];
    return &e->rem_net[(i - 12) / 2][(i - 12) % 2];
}

double energy_rem_get(const energy_t *e, unsigned i)
{
    return (double)*rem_at((energy_t *)e, i) / ENERGY_REM_ONE;
}

void energy_rem_set(energy_t *e, unsigned i, double v)
{
    double x = v * ENERGY_REM_ONE + 0.5;
    *rem_at(e, i) = x <= 0.0 ? 0u : x >= ENERGY_REM_ONE ? 0xFFFFFFFFu : (uint32_t)x;
}

void energy_reset_day_counter(energy_t *e)
{
    memset(e->resettable, 0, sizeof e->resettable);
}

static void read_reg(const energy_reg_t *reg, double sign, readings_energy_t *out)
{
    out->total = sign * reg->slot[ENERGY_TOTAL] / ENERGY_UWH_PER_KWH;
    for (int t = 0; t < 4; t++)
        out->tariff[t] = sign * reg->slot[ENERGY_T1 + t] / ENERGY_UWH_PER_KWH;
    for (int k = 0; k < 3; k++)
        out->phase[k] = sign * reg->slot[ENERGY_L1 + k] / ENERGY_UWH_PER_KWH;
}

double energy_lcd_sign(int code)
{
    METER_ASSERT(code >= 1 && code <= 5);
    return code == 3 ? 1.0 : -1.0;
}

void energy_read(const energy_t *e, readings_t *r)
{
    METER_ASSERT(e && r);
    read_reg(&e->total[0], 1.0, &r->active_total);
    read_reg(&e->forward[0], 1.0, &r->active_forward);
    read_reg(&e->reverse[0], 1.0, &r->active_reverse);
    read_reg(&e->total[1], 1.0, &r->reactive_total);
    read_reg(&e->forward[1], 1.0, &r->reactive_forward);
    read_reg(&e->reverse[1], 1.0, &r->reactive_reverse);
    for (int q = 0; q < 4; q++)
        for (int t = 0; t < 5; t++)
            r->reactive_quadrant[q][t] = e->quadrant[q][t] / ENERGY_UWH_PER_KWH;
    r->resettable = e->resettable[0] / ENERGY_UWH_PER_KWH;
    for (int k = 0; k < 3; k++)
        r->resettable_phase[k] = e->resettable[1 + k] / ENERGY_UWH_PER_KWH;
}

/* ---- the register enumeration (energy.h) ---- */

int64_t *energy_register(energy_t *e, unsigned i)
{
    METER_ASSERT(e && i < ENERGY_REGISTERS);
    if (i < 48) {
        energy_reg_t *regs[6] = {&e->total[0],   &e->total[1],   &e->forward[0],
                                 &e->forward[1], &e->reverse[0], &e->reverse[1]};
        return &regs[i / 8]->slot[i % 8];
    }
    if (i < 68)
        return &e->quadrant[(i - 48) / 5][(i - 48) % 5];
    return &e->resettable[i - 68];
}

static char *put(char *out, const char *s)
{
    while (*s)
        *out++ = *s++;
    *out = '\0';
    return out;
}

const char *energy_register_name(unsigned i, char *buf)
{
    static const char *const kinds[6] = {"active_total",     "reactive_total", "active_forward",
                                         "reactive_forward", "active_reverse", "reactive_reverse"};
    static const char *const slots[8] = {"total", "T1", "T2", "T3", "T4", "L1", "L2", "L3"};
    METER_ASSERT(buf && i < ENERGY_REGISTERS);
    char *p;
    if (i < 48) {
        p = put(buf, kinds[i / 8]);
        p = put(p, ".");
        put(p, slots[i % 8]);
    } else if (i < 68) {
        char q[] = "reactive_q1.";
        q[10] = (char)('1' + (i - 48) / 5);
        p = put(buf, q);
        put(p, slots[(i - 48) % 5]);
    } else {
        p = put(buf, "resettable.");
        put(p, i == 68 ? "total" : slots[5 + i - 69]);
    }
    return buf;
}

int energy_register_find(const char *name)
{
    METER_ASSERT(name);
    char buf[32];
    for (unsigned i = 0; i < ENERGY_REGISTERS; i++)
        if (strcmp(energy_register_name(i, buf), name) == 0)
            return (int)i;
    return -1;
}
