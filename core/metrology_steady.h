/* metrology_steady: the metrology's whole-cycle sums in closed form, for a
 * grid whose phasors do not change (issue 14, point 3: --fidelity auto).
 *
 * metrology.c accumulates, sample by sample, u^2, i^2, u*i, u(t-T/4)*i and
 * the line-to-line squares between interpolated zero crossings. While the
 * inputs are a fixed sum of sinusoids, every one of those sums is a finite
 * sum of products of sinusoids over a run of whole ticks, which has a closed
 * form: with z_n = e^{j 2 pi phase(n)} and x[n] = sum_h Im(A_h z_n^h),
 *
 *   sum_n x[n] y[n] = 1/2 Re sum_m D_m G_m,   G_m = sum_n z_n^m  (geometric)
 *
 * where D_m collects A_h conj(B_g) for h - g = m and -A_h B_g for h + g = m.
 * The quarter-period product is the same with the voltage phasors turned by
 * the cubic Lagrange delay line's response H(h) = sum_j tap_j e^{-j h w D_j},
 * so the closed form reproduces the sample path's interpolation error too.
 *
 * Only the samples at the ends of a cycle are evaluated one by one: the one
 * that straddles each crossing (split in proportion, as metrology_step
 * splits it), and the sample of the crossing tick, whose quarter-period
 * product still uses the taps of the cycle before. The crossing is found
 * where the sample path finds it: the first tick whose (noiseless) reference
 * sample is >= 0 after one < 0, the crossing interpolated linearly between
 * the two. So the two paths differ only by the noise's draw and rounding.
 *
 * Noise (docs/metrology.md): the closed form adds the noise's exact expected
 * contribution, sigma^2 per tick, to the u^2, i^2 and line-to-line sums (as
 * the connection combines the phases' noise); its cross terms with the
 * signal and with the other channel have zero mean and are left out. The
 * ticks the meter still samples (the cycles around a change) get noise drawn
 * from a counter-based generator keyed by the seed and the tick, so they do
 * not depend on how a host splits its calls.
 *
 * Pure: no I/O, no clock, no globals. The state lives in meter_t; the host
 * reaches it only through meter_exec_steady() (meter.h).
 */
#ifndef METERSIM_METROLOGY_STEADY_H
#define METERSIM_METROLOGY_STEADY_H

#include <stdbool.h>
#include <stdint.h>

#include "metrology.h"

/* Harmonic orders (the fundamental included) a description may carry. */
#define METROLOGY_PHASOR_ORDERS 12
/* Distinct orders of products (0 .. 2 x the highest order) the closed form keeps. */
#define METROLOGY_STEADY_M 40
/* Ticks between exact recomputations of the rotor (metrology_steady.c). */
#define METROLOGY_ROTOR_BLOCK 64
#define METROLOGY_SINCOS_MEMO 32 /* a power of two */
#define METROLOGY_EVAL_MEMO 8    /* a power of two */

/* What the host hands over: the three line voltages and currents as sums of
 * sinusoids of one fundamental frequency, in force from tick `since` on.
 *   x(n) = sum_k Im(A_k e^{j 2 pi order_k phase(n)}),
 *   phase(n) = phase0 + step * (n - tick0)   (cycles)
 * The host changes `gen` whenever anything in it changes. */
typedef struct {
    uint64_t gen;
    uint64_t since;
    uint64_t tick0;
    double phase0; /* cycles, [0, 1) */
    double step;   /* f / fs, cycles per tick */
    int n;         /* orders in use, order[0] == 1 */
    int order[METROLOGY_PHASOR_ORDERS];
    double v[3][METROLOGY_PHASOR_ORDERS][2]; /* complex amplitude, V peak */
    double i[3][METROLOGY_PHASOR_ORDERS][2]; /* A peak */
    double noise_v, noise_i;                 /* RMS of the added white noise, per tick */
    uint64_t seed;
} metrology_phasors_t;

/* One tick's contributions, as metrology_step computes them. */
typedef struct {
    metrology_sums_t s[3];
    double ll[3];
} metrology_tick_sums_t;

/* A tick's voltage side (the powers of its rotor, the element voltages,
 * the delayed ones through the taps): what its sums need but the currents. */
typedef struct {
    double pw[METROLOGY_PHASOR_ORDERS][2];
    double u[3], ud[3];
} metrology_tick_v_t;

typedef struct {
    bool have;   /* ph holds a description */
    bool usable; /* its reference crosses zero once a period, cleanly */
    int ref;     /* the reference element usable was judged for */
    metrology_phasors_t ph;
    double u[3][METROLOGY_PHASOR_ORDERS][2], i[3][METROLOGY_PHASOR_ORDERS][2]; /* elements */
    int max_order;
    double rot_w[METROLOGY_ROTOR_BLOCK][2]; /* e^{j 2 pi step k} */
    double rot_base[2][2];                  /* the rotor at ticks rot_blk */
    uint64_t rot_blk[2];
    unsigned rot_valid; /* bit per slot */
    /* Memos of pure functions (the same bits as computing afresh, only
     * sooner): e^{j 2 pi x} by the bits of x, direct-mapped (a current that
     * moves every second meets the same phases again and again: the rotor's
     * block bases, a cycle's first tick, its length); the element voltages
     * at the last few ticks under this description (tick_sums and the
     * crossing look at overlapping ticks). */
    uint64_t sc_valid; /* bit per slot */
    uint64_t sc_key[METROLOGY_SINCOS_MEMO];
    double sc_val[METROLOGY_SINCOS_MEMO][2];
    unsigned eu_valid; /* bit per slot; cleared with rot_valid */
    uint64_t eu_tick[METROLOGY_EVAL_MEMO];
    double eu_val[METROLOGY_EVAL_MEMO][3];
    double w1[2];           /* e^{j 2 pi step} */
    uint32_t delay_cached;  /* the delay delay_rot was made for (0: none) */
    double delay_rot[4][2]; /* e^{-j 2 pi step (delay - 1 + j)} */
    double xphase;          /* the reference's positive-going crossing, cycles */
    double var_u[3], var_i[3], var_ll[3];
    /* Products whose coefficients do not depend on the delay: u^2, i^2 and
     * u*i per element, then the three line-to-line squares. */
    bool tables_ok; /* n_m, mval and mi were made for ph's orders */
    int n_m;
    int mval[METROLOGY_STEADY_M];
    /* Where the products of orders x and y go: mi[x][y][0] for |h - g|,
     * [1] for h + g (indices into mval). */
    uint8_t mi[METROLOGY_PHASOR_ORDERS][METROLOGY_PHASOR_ORDERS][2];
    double coef[12][METROLOGY_STEADY_M][2];
    /* 1 / (1 - w^m) for each product order m of the geometric sums (run_sums),
     * once per description; dflat: w^m = 1. */
    bool dinv_ok;
    double dinv[METROLOGY_STEADY_M][2];
    bool dflat[METROLOGY_STEADY_M];
    /* The quarter-period products' coefficients (run_sums) for the delay
     * and taps they were made with, until the next description (a memo). */
    bool qd_ok;
    uint32_t qd_delay;
    double qd_taps[4];
    double qd[3][METROLOGY_STEADY_M][2];
    bool coef_ok;   /* coef holds this description's products of the voltages */
    bool coef_i_ok; /* and of the currents (made when first needed) */
    int coef_conn;  /* the connection its elements were made for */

    /* The cycle open in closed form: it began at the crossing found at tick
     * `c`; `head` holds its first two samples (the split one and the
     * crossing tick's), `head_ticks` their weight. */
    bool lazy;
    uint64_t fresh_from; /* the tick the metrology last started afresh (a boot) */
    uint64_t c;
    uint64_t lazy_from; /* the first tick not sampled */
    uint64_t next_c;    /* the tick at which the next crossing is found */
    double next_move;   /* the share of sample next_c - 1 that goes on to the cycle after */
    double next_uref[2];
    bool periodic;   /* a period of a whole number of ticks */
    uint32_t period; /* ticks, rounded */
    bool reused;     /* the last cycle closed was the same as the one before */
    int fast_left;   /* crossings still to be taken one period on */
    /* The next close is a clone of the last one: the same reused cycle (the
     * same sums, length, split shares and taps), its crossing one period
     * on; so are the fast_left closes after it (metrology_steady_repeat). */
    bool clone;
    metrology_tick_sums_t head, head_last; /* head_last: the crossing tick's own */
    double head_ticks;
    double head_uref;  /* the reference at tick c */
    double head_freq;  /* the frequency its delay taps were set from */
    bool head_sampled; /* it came from the sample path (with its noise) */
    /* Current-only changes inside the open cycle (metrology_steady_carry):
     * the ticks c + 1 .. bank_from - 1 were under the descriptions before:
     * `bank` holds the sums of c + 1 .. bank_from - 2, `bank_last` the
     * last tick's own, apart (it is the split sample if the crossing comes
     * at bank_from). With no change bank_from is c + 1 and bank is zero. */
    uint64_t bank_from;
    metrology_tick_sums_t bank, bank_last;
    /* A current-only change came at the crossing that ends a clone cycle
     * (metrology_steady_carry): that cycle is the last one again, whole,
     * and only the crossing tick's own sample is under the new currents. */
    bool carry_clone;
    /* The voltage side of the last model cycle computed (metrology_steady_close):
     * the split tick's and the crossing tick's, and the body's G_m, for a
     * cycle of sk_len ticks split at sk_move under the taps set from sk_freq. While
     * the voltage stays, a cycle of the same shape under other currents
     * needs only their products (a profile's ramp: a new description every
     * second, at 50 Hz at the same place in the cycle). */
    bool sk_ok;
    uint32_t sk_len;
    double sk_move, sk_freq;
    double sk_g[METROLOGY_STEADY_M][2];
    metrology_tick_v_t sk_a, sk_l;
    /* The body's sums as functions of the currents' amplitudes b (the
     * orders' real and imaginary parts, 2 n of them): u^2 and the
     * line-to-line squares do not depend on them; u*i and the quarter-period
     * product are linear, sum_j b_j sk_lp[k][j]; i^2 is the quadratic form
     * b' sk_qi b, the same for every element. */
    double sk_u2[3], sk_ll[3];
    double sk_lp[3][2 * METROLOGY_PHASOR_ORDERS], sk_lq[3][2 * METROLOGY_PHASOR_ORDERS];
    double sk_qi[2 * METROLOGY_PHASOR_ORDERS][2 * METROLOGY_PHASOR_ORDERS];
    uint64_t v_since;   /* the tick the voltage side last changed */
    uint64_t n_carried; /* statistics: changes carried on in closed form */
    uint64_t n_kept;    /* statistics: cycles taken from the kept voltage side */

    /* Statistics: cycles closed in closed form, and of those reused. */
    uint64_t n_closed, n_reused;
    /* The last cycle computed, to reuse for an identical one. */
    bool have_last;
    uint32_t last_len;
    double last_freq, last_head_freq, last_move_in, last_move_out;
    metrology_tick_sums_t last_cyc, last_head, last_head_last;
    metrology_tick_sums_t last_a; /* its split sample (before the crossing), whole */
    double last_ticks, last_head_ticks, last_head_uref;
} metrology_steady_t;

/* Takes a new description: the element phasors, the coefficients, whether
 * the reference `ref` crosses cleanly. */
void metrology_steady_describe(metrology_steady_t *st, const metrology_phasors_t *ph,
                               connection_t conn, int ref);

/* The line sample at `tick`, noise included (drawn from the seed and the
 * tick), as a sampled tick receives it. */
void metrology_steady_sample(metrology_steady_t *st, uint64_t tick, metrology_sample_t *s);

/* After metrology_step closed a cycle at a crossing at tick `c`: whether the
 * cycle it opened can be carried on in closed form, and if so takes it over
 * (the metrology's open cycle becomes the head). */
bool metrology_steady_enter(metrology_steady_t *st, const metrology_t *m, uint64_t c);

/* Closes the open cycle at st->next_c (m->tick must be there): the sums in
 * closed form, close_cycle, and the next cycle opened. */
void metrology_steady_close(metrology_steady_t *st, metrology_t *m);

/* A new description whose voltage side is the one in force (the same
 * voltage phasors, orders, frequency, phase and voltage noise: only the
 * currents moved, as a load profile or a load step moves them), arriving at
 * m->tick inside the cycle open in closed form: the ticks since the last
 * change are summed in closed form under the old description, and the
 * cycle carries on under the new one. False (nothing changed) when it
 * cannot: the caller leaves and describes as for any other change. */
bool metrology_steady_carry(metrology_steady_t *st, metrology_t *m, const metrology_phasors_t *ph,
                            connection_t conn);

/* The closes that can be taken as clones from here (metrology_steady_repeat):
 * 0 when the next close is not one. */
uint64_t metrology_steady_clones(const metrology_steady_t *st);

/* Closes n clone cycles at once (n <= metrology_steady_clones(), m->tick at
 * st->next_c): what n calls of metrology_steady_close() would leave, m->tick
 * at the last crossing tick and m->cycle its record (`memo`: a cache of
 * whole windows, metrology_close_repeat). */
void metrology_steady_repeat(metrology_steady_t *st, metrology_t *m, uint64_t n,
                             metrology_window_memo_t *memo);

/* Hands the open cycle back to the sample path at m->tick: the partial sums,
 * the delay line, the detector, as if every tick had been sampled. */
void metrology_steady_leave(metrology_steady_t *st, metrology_t *m);

/* Moves the metrology's clock and delay line on by n ticks that the closed
 * form accounts for. */
void metrology_steady_skip(metrology_t *m, uint64_t n);

#endif
