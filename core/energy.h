/* energy: the registers a utility bills from (A3.2 0x6000-0x608F, 6.2, 6.6.15).
 *
 * Energy arrives one mains cycle at a time from the metrology (signed W*s and
 * var*s per element). Each base quantity is quantised to whole micro-watt-hours
 * with its remainder carried to the next cycle, so nothing is ever lost or
 * rounded twice, and every register below is an exact integer sum of those
 * quanta: the forward total is exactly the sum of the phases' forward
 * registers, year after year.
 *
 *   cycle (p_ws[3], q_vars[3]) --> direction per phase --> quanta (uWh, uvarh)
 *                                  net of the phases  -->    |
 *                                                            v
 *              registers: [total | T1..T4 | L1..L3] x active/reactive x total/fwd/rev,
 *                         reactive by quadrant Q1..Q4 x [total | T1..T4],
 *                         resettable day counter [total | L1..L3]
 *
 * Direction is decided per phase and per cycle on the cycle's net energy (an
 * instantaneous u*i changes sign within a cycle whenever PF < 1).
 *
 * Combination codes (6.6.15) decide how "total" grows, and, for C-05, how
 * forward and reverse grow, at each moment; changing the code changes what is
 * added from then on, never the past:
 *   C-01 total += fwd           C-02 total -= rev         C-03 total += fwd + rev
 *   C-04 total += fwd - rev     C-05 the phases are netted first: fwd, rev and
 *                               total grow from the net three-phase energy
 * Reverse registers hold magnitudes, and every interface reads them so
 * (Modbus 0x6018.., M-Bus's backward-flow records, the log): a stored register
 * never changes sign because the code was written. Only the LCD shows them
 * with the sign of the manual's table, titled "LCD reading" (negative except
 * in C-03): energy_lcd_sign(). The total is the code's own result and reads
 * signed everywhere (docs/decisions.md).
 *
 * Rollover: the meter has a 6+3 digit kWh register (6.2); every register is
 * kept modulo 1 000 000 kWh, so 999999.999 kWh is followed by 000000.000.
 *
 * Reactive quadrants (IEC 62053-23, the manual's Q1..Q4 names): Q1 import
 * active and inductive (+Q), Q2 export and capacitive (+Q), Q3 export and
 * inductive (-Q), Q4 import and capacitive (-Q); a phase's cycle of reactive
 * energy goes to the quadrant of that phase's (P, Q).
 */
#ifndef METERSIM_ENERGY_H
#define METERSIM_ENERGY_H

#include <stdbool.h>
#include <stdint.h>

#include "metrology.h"
#include "readings.h"

/* 1 000 000 kWh in micro-watt-hours: the register's modulus (6.2). */
#define ENERGY_MODULUS_UWH 1000000000000000ll
#define ENERGY_UWH_PER_KWH 1e9

/* One register split as the map splits it: [0] total, [1..4] T1..T4, [5..7] L1..L3. */
enum { ENERGY_TOTAL = 0, ENERGY_T1 = 1, ENERGY_L1 = 5, ENERGY_SLOTS = 8 };

typedef struct {
    int64_t slot[ENERGY_SLOTS]; /* micro-watt-hours (micro-var-hours) */
} energy_reg_t;

typedef struct energy {
    /* active and reactive: [0] active, [1] reactive */
    energy_reg_t total[2], forward[2], reverse[2];
    int64_t quadrant[4][5]; /* reactive, Q1..Q4 x [total, T1..T4] */
    int64_t resettable[4];  /* [total, L1..L3] */

    /* Remainders below one micro-unit, carried into the next cycle, in
     * units of 2^-32 micro-unit (ENERGY_REM_ONE): integers, so that a run of
     * n equal cycles carries exactly what n cycles one by one carry
     * (energy_run_t, docs/performance.md). */
    uint32_t rem_phase[2][2][3]; /* [active/reactive][fwd/rev][phase] */
    uint32_t rem_net[2][2];      /* [active/reactive][fwd/rev], netted (C-05) */
} energy_t;

/* One micro-unit in the remainders' fixed point. */
#define ENERGY_REM_ONE 4294967296.0

/* The increments one cycle produced, for the pulse outputs. */
typedef struct {
    int64_t active_fwd, active_rev; /* as counted by the combination code */
    int64_t reactive_fwd, reactive_rev;
    int64_t led; /* |active| for the test LED */
} energy_delta_t;

void energy_init(energy_t *e);

/* Adds one metrology cycle at tariff 1..4 under combination code 1..5. */
void energy_add_cycle(energy_t *e, const metrology_cycle_t *c, int tariff, int code,
                      energy_delta_t *delta);

/* A run of equal cycles (the same energies, tariff and code), booked at
 * once with the same result as cycle by cycle. Each base quantity is a
 * stream: per cycle it adds `whole` + `frac` / 2^32 micro-units to its
 * remainder, so after j cycles it has counted
 *   Q(j) = j * whole + ((rem0 + j * frac) >> 32)
 * whole micro-units, exactly what j calls of energy_add_cycle() count. */
/* The quantities of energy_delta_t, each a sum of streams (masks by index). */
enum {
    ENERGY_RUN_ACTIVE_FWD, /* the quantities of energy_delta_t, as masks */
    ENERGY_RUN_ACTIVE_REV,
    ENERGY_RUN_REACTIVE_FWD,
    ENERGY_RUN_REACTIVE_REV,
    ENERGY_RUN_QUANTITIES
};

typedef struct {
    int64_t whole;
    uint64_t frac; /* < 2^32 */
    uint32_t rem0;
} energy_stream_t;

/* A run's streams by index: phase[a][d][k] (active/reactive, fwd/rev, L1..L3)
 * and, under C-05, the netted active energy net[d]. A stream not in use
 * (`on` has not its bit) counts nothing and keeps its remainder. */
#define ENERGY_RUN_PHASE(a, d, k) ((a)*6 + (d)*3 + (k))
#define ENERGY_RUN_NET(d) (12 + (d))
#define ENERGY_RUN_STREAMS 14

typedef struct {
    energy_stream_t s[ENERGY_RUN_STREAMS];
    unsigned on;         /* the streams in use, by bit */
    double amount[2][3]; /* uWh per cycle, signed: the quadrants */
    int tariff, code;
    unsigned mask[ENERGY_RUN_QUANTITIES]; /* the streams each quantity sums */
} energy_run_t;

/* The streams of cycle c from the remainders now in e. */
void energy_run_prepare(const energy_t *e, const metrology_cycle_t *c, int tariff, int code,
                        energy_run_t *run);

/* What cycles j0 + 1 .. j1 of the run add, as energy_add_cycle() reports
 * one cycle (for j1 = j0 + 1: that cycle's own delta). */
void energy_run_delta(const energy_run_t *run, uint64_t j0, uint64_t j1, energy_delta_t *d);

/* The whole micro-units the streams of `mask` counted in the run's first
 * j cycles (a quantity's count from cycle j0 to j1 is the difference). */
int64_t energy_run_counted(const energy_run_t *run, unsigned mask, uint64_t j);

/* Whether n cycles of the run keep every register inside the modulus at
 * every step (then booking them at once wraps nothing, as one by one). */
bool energy_run_fits(const energy_t *e, const energy_run_t *run, uint64_t n);

/* Books n cycles of the run (energy_run_fits() must hold, or n == 1). */
void energy_run_commit(energy_t *e, const energy_run_t *run, uint64_t n);

/* A remainder (index 0..15, rem_phase[a][d][k] then rem_net[a][d]) in
 * micro-units, [0, 1), as the memory image stores it; and set from one
 * (rounded to the fixed point). */
double energy_rem_get(const energy_t *e, unsigned i);
void energy_rem_set(energy_t *e, unsigned i, double v);

/* Resets the resettable day counter (0x6049, M-Bus, 6.6.13). */
void energy_reset_day_counter(energy_t *e);

/* Fills the energy part of a readings snapshot (kWh): reverse as magnitudes,
 * the total as the code made it; T3/T4 read as they are, shown or not. */
void energy_read(const energy_t *e, readings_t *r);

/* The sign the LCD gives reverse energy under combination code `code`
 * (6.6.15, "LCD reading"): -1, or +1 under C-03 (forward + reverse). */
double energy_lcd_sign(int code);

/* Every integer register of energy_t in one enumeration, the one the memory
 * image (nvm.h), the host's field names and presets all use:
 *
 *   index   register                                     name
 *    0.. 7  active total    [total, T1..T4, L1..L3]       active_total.total .. .L3
 *    8..15  reactive total                                reactive_total.*
 *   16..23  active forward                                active_forward.*
 *   24..31  reactive forward                              reactive_forward.*
 *   32..39  active reverse                                active_reverse.*
 *   40..47  reactive reverse                              reactive_reverse.*
 *   48..67  reactive Q1..Q4 x [total, T1..T4]             reactive_q1.total .. reactive_q4.T4
 *   68..71  resettable day counter [total, L1..L3]        resettable.total .. .L3
 */
#define ENERGY_REGISTERS 72u

/* Register i (< ENERGY_REGISTERS), in micro-units. */
int64_t *energy_register(energy_t *e, unsigned i);

/* Its name, as above ("active_forward.T1"); `buf` needs 32 bytes. */
const char *energy_register_name(unsigned i, char *buf);

/* The index of a register by its name; -1 when there is none. */
int energy_register_find(const char *name);

/* Keeps a register inside the 6+3 digit range. */
int64_t energy_wrap(int64_t uwh);

#endif
