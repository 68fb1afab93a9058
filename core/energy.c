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

/* Whole micro-units of rem + x, keeping the fraction for next time. */
static int64_t quantize(double *rem, double x)
{
    double t = *rem + x;
    double n = floor(t);
    *rem = t - n;
    return (int64_t)n;
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

void energy_add_cycle(energy_t *e, const metrology_cycle_t *c, int tariff, int code,
                      energy_delta_t *delta)
{
    int64_t fwd[2][3] = {{0}}, rev[2][3] = {{0}};
    int64_t sum_fwd[2] = {0}, sum_rev[2] = {0};
    double net[2] = {0.0, 0.0};
    double amount[2][3];

    METER_ASSERT(e && c); /* delta may be NULL */
    METER_ASSERT(tariff >= 1 && tariff <= 4 && code >= 1 && code <= 5);
    for (int k = 0; k < 3; k++) {
        /* No creep: below the starting current a phase registers nothing (4). */
        amount[0][k] = c->started[k] ? c->p_ws[k] * UWH_PER_WS : 0.0;
        amount[1][k] = c->started[k] ? c->q_vars[k] * UWH_PER_WS : 0.0;
        for (int a = 0; a < 2; a++) {
            double x = amount[a][k];
            if (x > 0.0)
                fwd[a][k] = quantize(&e->rem_phase[a][0][k], x);
            else if (x < 0.0)
                rev[a][k] = quantize(&e->rem_phase[a][1][k], -x);
            sum_fwd[a] += fwd[a][k];
            sum_rev[a] += rev[a][k];
            net[a] += x;
        }
    }

    for (int a = 0; a < 2; a++) {
        int64_t f = sum_fwd[a], r = sum_rev[a];
        if (a == 0 && code == 5) {
            /* C-05 nets the phases before deciding the direction (6.6.15). */
            f = net[0] > 0.0 ? quantize(&e->rem_net[0][0], net[0]) : 0;
            r = net[0] < 0.0 ? quantize(&e->rem_net[0][1], -net[0]) : 0;
        }
        /* Reactive total is the sum of both directions: the combination code
         * is defined for active energy only (6.6.15; docs/decisions.md). */
        int64_t t = a == 0 ? combine(code, f, r) : f + r;
        add_tariff(&e->forward[a], tariff, f);
        add_tariff(&e->reverse[a], tariff, r);
        add_tariff(&e->total[a], tariff, t);
        for (int k = 0; k < 3; k++) {
            add(&e->forward[a].slot[ENERGY_L1 + k], fwd[a][k]);
            add(&e->reverse[a].slot[ENERGY_L1 + k], rev[a][k]);
            add(&e->total[a].slot[ENERGY_L1 + k],
                a == 0 ? combine(code == 5 ? 4 : code, fwd[a][k], rev[a][k])
                       : fwd[a][k] + rev[a][k]);
        }
        if (a == 0) {
            /* The trip counter counts what "total" counts (6.6.13). */
            add(&e->resettable[0], t);
            for (int k = 0; k < 3; k++)
                add(&e->resettable[1 + k], combine(code == 5 ? 4 : code, fwd[0][k], rev[0][k]));
            if (delta) {
                delta->active_fwd = f;
                delta->active_rev = r;
                delta->led = f + r;
            }
        } else if (delta) {
            delta->reactive_fwd = f;
            delta->reactive_rev = r;
        }
    }

    for (int k = 0; k < 3; k++) {
        int64_t q = fwd[1][k] + rev[1][k];
        if (q == 0)
            continue;
        int quad = metrology_quadrant(amount[0][k], amount[1][k]) - 1;
        add(&e->quadrant[quad][0], q);
        add(&e->quadrant[quad][tariff], q);
    }
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
