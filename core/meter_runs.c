/* meter_runs: runs of equal steady cycles booked at once (meter_book_run,
 * docs/performance.md), for meter_exec_steady() in meter.c. */
#include <stdint.h>

#include "meter.h"
#include "meter_internal.h"

/* The streams each output counts (pulse.h: S0-1, S0-2, the LED), for the
 * pulse type in force. */
static void output_masks(const pulse_t *p, const energy_run_t *run, unsigned mask[PULSE_OUTPUTS])
{
    unsigned af = run->mask[ENERGY_RUN_ACTIVE_FWD], ar = run->mask[ENERGY_RUN_ACTIVE_REV];
    unsigned rf = run->mask[ENERGY_RUN_REACTIVE_FWD], rr = run->mask[ENERGY_RUN_REACTIVE_REV];
    energy_delta_t probe = {
        .active_fwd = 1, .active_rev = 2, .reactive_fwd = 4, .reactive_rev = 8, .led = 3};
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        /* What pulse_output_energy() sums, read back from a probe. */
        int64_t w = pulse_output_energy(p, &probe, k);
        mask[k] = (w & 1 ? af : 0u) | (w & 2 ? ar : 0u) | (w & 4 ? rf : 0u) | (w & 8 ? rr : 0u);
    }
}

/* The first cycle j in [from, n) of the run whose energy takes an output's
 * accumulator to its weight; n when none does. */
static uint64_t first_crossing(const pulse_t *p, const energy_run_t *run,
                               const unsigned mask[PULSE_OUTPUTS], uint64_t from, uint64_t n)
{
    uint64_t best = n;
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        int64_t w = p->out[k].weight_uwh, need = w - p->out[k].acc_uwh;
        if (w <= 0 || !mask[k] || best == from)
            continue;
        int64_t base = energy_run_counted(run, mask[k], from);
        int64_t all = energy_run_counted(run, mask[k], best) - base;
        if (all < need || all <= 0)
            continue; /* none before the best so far */
        /* Cycles from..j: the rate tells where; the counts say exactly. */
        uint64_t span = best - from;
        uint64_t j = from + (uint64_t)((double)need / (double)all * (double)span);
        if (j >= best)
            j = best - 1;
        while (j > from && energy_run_counted(run, mask[k], j) - base >= need)
            j--; /* cycle j - 1 already gets there */
        while (energy_run_counted(run, mask[k], j + 1) - base < need)
            j++;
        if (j < best)
            best = j;
    }
    return best;
}

/* What it books and in what order: meter_internal.h. */
uint64_t meter_book_run(meter_t *m, uint64_t end)
{
    metrology_steady_t *st = &m->steady;
    uint64_t n = metrology_steady_clones(st);
    if (n < 2 || m->one_by_one || !meter_running(m) || m->error_code != 0 || m->n_seg != 1 ||
        ct_factor(m) != 1.0 || m->settings.s0_rate_x100 != m->pulse.s0_rate_x100 ||
        m->settings.pulse_type != m->pulse.pulse_type)
        return 0;
    const uint64_t c1 = st->next_c, P = st->period, NS = VTIME_NS_PER_TICK;
    if (c1 != m->tick || c1 >= end || P == 0)
        return 0;
    /* Closes at c1 + j P: before the end of the call, and before any event
     * but the pulses (those are taken below). */
    uint64_t lim = end;
    for (int i = 0; i < SCHED_SLOTS; i++) {
        uint64_t due = m->sched.due[i];
        if (i == SCHED_PULSE || due == VTIME_NEVER)
            continue;
        uint64_t t = (due + NS - 1) / NS; /* the tick it is serviced at */
        if (t < lim)
            lim = t;
    }
    if (lim <= c1)
        return 0;
    uint64_t fit = (lim - 1 - c1) / P + 1;
    if (fit < n)
        n = fit;
    if (n < 2)
        return 0;
    energy_run_t run;
    energy_run_prepare(&m->energy, &m->metrology.cycle, m->seg_tariff[0],
                       m->settings.combination_code, &run);
    if (!energy_run_fits(&m->energy, &run, n))
        return 0;

    unsigned mask[PULSE_OUTPUTS];
    output_masks(&m->pulse, &run, mask);
    const double move = st->next_move, ticks = m->metrology.cycle.ticks;
    uint64_t done = 0;  /* cycles whose pulses are applied */
    uint64_t seen = c1; /* the loop's event check is done up to this tick */
    energy_delta_t d;
    while (done < n) {
        /* The next stop of the loop at a pulse edge, and the close it
         * comes before. */
        uint64_t due = pulse_deadline(&m->pulse), stop = UINT64_MAX, js = n;
        if (due != VTIME_NEVER) {
            stop = (due + NS - 1) / NS;
            if (stop <= seen)
                stop = seen + 1;
            uint64_t at = c1 + done * P;
            js = stop <= at ? done : done + (stop - at + P - 1) / P;
            if (js > n)
                js = n;
        }
        uint64_t jc = first_crossing(&m->pulse, &run, mask, done, js);
        uint64_t upto = jc < js ? jc : js;
        if (upto > done) { /* cycles that earn nothing and see no edge */
            energy_run_delta(&run, done, upto, &d);
            double e_end = (double)(c1 + (upto - 1) * P) - move;
            pulse_accumulate(&m->pulse, &d, ticks_to_ns(e_end));
            seen = c1 + (upto - 1) * P;
            done = upto;
        }
        if (done == n)
            break;
        uint64_t at = c1 + done * P;
        if (js == done) {
            /* The loop stops at `stop` for the edge (before the close at
             * the same tick, if it is one). */
            meter_service(m, stop * NS);
            seen = stop;
            if (stop < at)
                continue;
        }
        energy_run_delta(&run, done, done + 1, &d);
        double e_end = (double)at - move;
        pulse_cycle(&m->pulse, &d, ticks_to_ns(e_end - ticks), ticks_to_ns(e_end), &m->settings);
        sched_set(&m->sched, SCHED_PULSE, pulse_deadline(&m->pulse));
        seen = at;
        done++;
    }
    energy_run_commit(&m->energy, &run, n);
    energy_run_delta(&run, n - 1, n, &m->last_delta);
    m->memory_gen += (uint32_t)n; /* registers and remainders moved, once a cycle */
    m->run_cycles += n;
    uint64_t last = c1 + (n - 1) * P;
    metrology_steady_skip(&m->metrology, last - c1);
    metrology_steady_repeat(st, &m->metrology, n, &m->window_memo);
    m->seg_from[0] = m->metrology.cycle.end;
    m->tick = last;
    sched_set(&m->sched, SCHED_PULSE, pulse_deadline(&m->pulse));
    return n;
}
