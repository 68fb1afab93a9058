/* metrology: samples in, RMS values, powers, frequency and quadrants out.
 *
 * The meter's measuring front end. It takes one sample per tick (8 kHz,
 * vtime.h) of the three line voltages and currents, applies the connection
 * type (4.8/4.9), and accumulates, per measuring element k:
 *
 *   u_k^2, i_k^2, u_k*i_k, u_k(t - T/4)*i_k, and (u_a - u_b)^2 for the line pairs
 *
 * over whole mains cycles. Cycles are delimited by the positive-going zero
 * crossings of a reference voltage, interpolated between samples; the sample
 * that straddles a crossing is split between the two cycles in proportion, so
 * that the sum over all cycles is exactly the sum over all samples and a cycle
 * covers exactly one mains period, whatever the ratio of sample rate to
 * frequency.
 *
 *   samples --> [connection] --> [T/4 delay] --> per-cycle sums --+--> cycle record
 *                                                                  |    (energy, pulses)
 *                                                                  +--> window of whole
 *                                                                       cycles >= 1 s
 *                                                                       --> published values
 *
 * Each closed cycle is handed to the caller (energy integration wants the
 * finest grain, so that S0 pulses come out smooth); the published values are
 * averaged over the whole cycles of a window of at least one second (50
 * cycles at 50 Hz), which is the cadence at which the meter's registers move.
 * A cycle cut short (the first one, or one closed by the timeout because the
 * voltage went) counts for active energy, which is real, but not for reactive
 * energy or the published values, which only mean something over whole
 * periods; without any voltage the window is all such cycles.
 *
 * Reactive power is the mean of u(t - T/4) * i(t), the quarter-period delay
 * being taken at the measured frequency and interpolated (cubic Lagrange)
 * between samples. Apparent power per element is U_rms * I_rms; the total is
 * the arithmetic sum of the elements except in Aron connection, where the
 * elements are not phases and S = sqrt(P^2 + Q^2) (docs/decisions.md).
 *
 * Connection types (what the element inputs are, from the line voltages v1..v3
 * measured against the source's star point):
 *   3P4W          u_k = v_k
 *   3P3W delta    u_k = v_k - (v1 + v2 + v3) / 3   (the meter's virtual star point)
 *   3P3W Aron     u_k = v_k - v2                   (clamp N tied to L2, so u_2 = 0)
 *   1P2W          u_1 = v1; elements 2 and 3 are not connected
 *
 * Known inaccuracies: with harmonics, the quarter-period delay turns harmonic h
 * by h x 90 degrees, so Q is exact for the fundamental only (as in meters that
 * use the same method). Frequency is measured on one reference voltage (L1,
 * else the first element that carries voltage).
 */
#ifndef METERSIM_METROLOGY_H
#define METERSIM_METROLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "readings.h"

/* Instantaneous line voltages (V, against the source's star point) and line
 * currents (A, positive flowing from IN to OUT: import) at one tick. */
typedef struct {
    double v[3];
    double i[3];
} metrology_sample_t;

/* Below this RMS current a phase registers no energy (4: 0.4 % of Ib = 20 mA).
 * The comparison allows the metrology's own 0.05 % so that a load of exactly
 * 20 mA starts (docs/decisions.md). */
#define METROLOGY_START_CURRENT_A (0.020 * (1.0 - 0.0005))

/* Instantaneous voltage that arms the zero-crossing detector (hysteresis), V. */
#define METROLOGY_ZC_HYSTERESIS_V 5.0

/* A published window holds whole cycles of at least this many ticks (1 s). */
#define METROLOGY_WINDOW_TICKS 8000u
/* With no zero crossing, a cycle is closed after this many ticks (20 Hz). */
#define METROLOGY_CYCLE_TIMEOUT_TICKS 400u

#define METROLOGY_DELAY_RING 128u /* > the T/4 delay at 20 Hz plus the taps */

/* What one element accumulates over a cycle or a window. */
typedef struct {
    double u2, i2, p, q; /* sums of u^2, i^2, u*i, u(t-T/4)*i, over ticks */
} metrology_sums_t;

/* One closed mains cycle, for energy integration. */
typedef struct {
    double ticks;     /* its length in ticks (fractional at crossings) */
    double p_ws[3];   /* active energy of each element, W*s (signed) */
    double q_vars[3]; /* reactive energy of each element, var*s (signed) */
    bool started[3];  /* the element's RMS current reached the starting current */
    double end;       /* when it ended, in ticks since start (fractional) */
} metrology_cycle_t;

/* The published measurement: averages over the last window. */
typedef struct {
    double u[3], i[3], p[3], q[3], s[3], pf[3];
    double u_ll[3]; /* L1-L2, L1-L3, L2-L3 */
    double p_total, q_total, s_total, pf_total;
    double frequency; /* 0 when no voltage was seen */
    uint8_t quadrant[3], quadrant_total;
    uint32_t seq; /* windows published so far */
    uint64_t end_tick;
} metrology_values_t;

typedef struct metrology {
    connection_t connection;
    uint64_t tick; /* ticks processed */

    /* T/4 delay line of each element's voltage, and the interpolation taps
     * for the delay at the last measured frequency. */
    double ring[3][METROLOGY_DELAY_RING];
    uint32_t ring_pos;
    uint32_t delay_int;
    double taps[4];

    /* Zero-crossing detector on the reference element. */
    int ref;
    bool armed;
    double prev_ref_u;
    bool have_crossing; /* the current cycle began at a crossing */

    /* The previous tick's contributions, to split a straddling sample. */
    metrology_sums_t prev[3];
    double prev_ll[3];

    /* The cycle being accumulated. */
    metrology_sums_t cyc[3];
    double cyc_ll[3];
    double cyc_ticks;
    double cyc_peak[3]; /* largest |u| per element, to choose a reference */

    /* The window being accumulated: whole periods, and cycles cut short. */
    metrology_sums_t win_whole[3], win[3];
    double win_whole_ll[3], win_ll[3];
    double win_ticks;
    double win_period_ticks; /* summed length of cycles bounded by crossings */
    uint32_t win_periods;
    double last_frequency;

    metrology_values_t values;
    bool cycle_ready;
    metrology_cycle_t cycle;
} metrology_t;

/* A window filled from empty by equal whole cycles, kept to fill the next
 * one at once (metrology_close_repeat): the cycle (the key) and the window
 * as it stands when it fills. Only a cache: what it gives is what the
 * additions one by one give, bit for bit. */
typedef struct {
    bool have;
    metrology_sums_t s[3];
    double ll[3], ticks;
    uint32_t cycles;
    metrology_sums_t win[3];
    double win_ll[3], win_ticks, win_period_ticks;
} metrology_window_memo_t;

void metrology_init(metrology_t *m, connection_t connection);

/* Processes one tick. Returns true when a cycle closed at this tick; it is in
 * m->cycle until the next call. When a window also closed, m->values.seq
 * has moved on. */
bool metrology_step(metrology_t *m, const metrology_sample_t *s);

/* Processes up to n ticks, the same as n calls of metrology_step() but
 * faster, and stops after the tick that closes a cycle. Returns the number
 * of ticks taken (at least 1 when n > 0); m->cycle_ready tells whether the
 * last of them closed a cycle (then in m->cycle until the next call). */
size_t metrology_exec(metrology_t *m, const metrology_sample_t *s, size_t n);

/* The quadrant (1..4, IEC 62053-23) of a power pair: Q1 P>=0,Q>=0; Q2 P<0,Q>=0;
 * Q3 P<0,Q<0; Q4 P>=0,Q<0. */
uint8_t metrology_quadrant(double p, double q);

#endif
