/* pulse: the two S0 pulse outputs and the red test LED (manual 4, 6.6.3-6.6.5).
 *
 * Pulses are edges in virtual time, computed from the integrated energy. The
 * meter hands over each closed mains cycle with the micro-watt-hours it
 * registered (energy_delta_t) and the cycle's span in nanoseconds. Power is
 * taken as constant inside one cycle (20 ms at 50 Hz), so the energy of an
 * output grows linearly from the cycle's start to its end, and a pulse is due
 * at the instant its accumulator crosses one pulse weight:
 *
 *   energy  ^                       /|
 *   (uWh)   |   weight .. . . . . ./.|. . . . crossing: rise of a pulse
 *           |                   /  |
 *           |  acc at start -> /   |
 *           +-----------------+----+---> time
 *                          start  end
 *
 *   rise: t = start + (end - start) * (weight - acc) / E
 *
 *   level  ___|~~~~~~~~|________|~~~~~~~~|____   high for `width`, then a gap
 *             rise     fall     ^ no earlier than fall + width
 *
 * Each output keeps an integer accumulator in uWh, so that at every moment
 *
 *   pulses earned x weight + accumulator == energy counted  (exactly)
 *
 * The weight is 1e11 / s0_rate_x100 uWh (1e5 uWh = 0.1 Wh at 10 000 imp/kWh, 1e11 uWh
 * at 0.01 imp/kWh), an integer for every rate of 6.6.3; the LED's is 1e5 uWh
 * (10 000 imp/kWh, 4).
 *
 * A pulse that comes due before the previous pulse and an equal gap have
 * passed is deferred, never lost: each output queues the crossings it has not
 * started yet (pending). Within the widths settings.c allows this cannot
 * happen at any power the meter can see; it can after a change of rate.
 *
 * Outputs (docs/pulse.md, Decisions):
 *   pulse type 1 "active & reactive": S0-1 active (fwd + rev, as the forward and
 *                                     reverse registers count them; netted under
 *                                     C-05), S0-2 reactive (fwd + rev)
 *   pulse type 2 "forward & reverse": S0-1 forward active, S0-2 reverse active
 *   LED: active energy (fwd + rev, like S0-1 of type 1), 10 000 imp/kWh, 2 ms flashes
 *
 * Host API: pulse_deadline() tells when the next edge falls, pulse_advance()
 * applies the edges due, pulse_level()/pulse_count() read the outputs, and
 * pulse_pop_edge() drains a fixed ring of past edges with their exact times,
 * for traces.
 *
 * Known inaccuracies: pulses are decided when the cycle that earns them closes,
 * so an edge's time can lie up to one cycle before the moment it is applied;
 * a host that advances time inside an open cycle may see an edge of one output
 * in the ring after a later edge of another output (the ring is in time order
 * per output, always). Power is constant within a cycle by assumption; a real
 * meter's pulse jitter (its own DSP frame) is not modelled.
 */
#ifndef METERSIM_PULSE_H
#define METERSIM_PULSE_H

#include <stdbool.h>
#include <stdint.h>

#include "energy.h"
#include "settings.h"
#include "vtime.h"

enum { PULSE_S0_1 = 0, PULSE_S0_2 = 1, PULSE_LED = 2, PULSE_OUTPUTS = 3 };

/* The LED's rate (4: "Test output flash rate 10.000 imp/kWh"), x100, and its
 * flash width (docs/pulse.md). */
#define PULSE_LED_RATE_X100 1000000u
#define PULSE_LED_WIDTH_MS 2u

/* Pulse weight in uWh at a rate in hundredths of imp/kWh: 1 kWh = 1e9 uWh. */
#define PULSE_UWH_X100 100000000000ll

/* Cycles whose crossings an output has not all started yet; beyond that, a
 * new cycle's crossings fold into the newest entry (deferred, not lost). */
#define PULSE_DUE_SLOTS 16u
/* Past edges kept for pulse_pop_edge(); the oldest are dropped when full. */
#define PULSE_EDGE_RING 256u

/* One edge on one output. */
typedef struct {
    uint64_t t_ns;
    uint8_t output; /* PULSE_S0_1, PULSE_S0_2, PULSE_LED */
    bool level;     /* the level after the edge: true rising, false falling */
} pulse_edge_t;

/* The crossings of one cycle not started yet: crossing j (next <= j <= last)
 * falls at start + dur * (j * weight - acc0) / energy. An entry with
 * energy 0 holds folded crossings, none to rise before start. */
typedef struct {
    uint64_t start_ns, dur_ns;
    int64_t energy_uwh, acc0_uwh, weight_uwh;
    uint64_t next, last;
} pulse_due_t;

typedef struct {
    int64_t weight_uwh; /* the weight the accumulator counts in */
    int64_t acc_uwh;    /* energy since the last crossing, 0 <= acc < weight */
    uint64_t earned;    /* crossings since init (or since the last change) */
    uint64_t count;     /* rising edges applied since init */
    uint64_t pending;   /* crossings not started yet (in due[]) */
    bool level;
    uint64_t fall_ns;  /* while high: when it falls */
    uint64_t ready_ns; /* the earliest next rise: last fall + that pulse's width */
    pulse_due_t due[PULSE_DUE_SLOTS];
    uint32_t due_head, due_n;
} pulse_output_t;

typedef struct pulse {
    pulse_output_t out[PULSE_OUTPUTS];
    uint32_t s0_rate_x100; /* settings the S0 outputs run at */
    uint8_t pulse_type;
    uint64_t s0_width_ns;
    uint64_t now_ns; /* edges up to here have been applied */
    pulse_edge_t ring[PULSE_EDGE_RING];
    uint32_t ring_head, ring_n;
    uint64_t edges_dropped; /* edges that fell out of a full ring */
} pulse_t;

/* Starts with every output low and empty, at the given settings. */
void pulse_init(pulse_t *p, const settings_t *s);

/* One closed cycle: `d` is what the energy registers counted in it, spanning
 * [start_ns, end_ns]. Schedules the crossings inside it, then applies every
 * edge up to end_ns. A change of rate or type in `s` restarts the S0
 * accumulators (docs/pulse.md); a change of width applies from the next pulse. */
void pulse_cycle(pulse_t *p, const energy_delta_t *d, uint64_t start_ns, uint64_t end_ns,
                 const settings_t *s);

/* What output `output` counts of a delta under the pulse type in force. */
int64_t pulse_output_energy(const pulse_t *p, const energy_delta_t *d, int output);

/* Cycles ending at end_ns that earn no crossing on any output (the caller
 * checked: every accumulator stays below its weight) and bring no edge due:
 * what pulse_cycle() does for them, their summed delta `d` into the
 * accumulators. For a run of equal cycles booked at once (meter.c). */
void pulse_accumulate(pulse_t *p, const energy_delta_t *d, uint64_t end_ns);

/* The supply goes (4: the meter is powered from its phases): an output that
 * conducts stops, crossings not yet started and the fraction of a pulse in
 * hand are lost (less than one pulse of energy, docs/pulse.md); the counts
 * stay. */
void pulse_power_off(pulse_t *p, uint64_t now_ns);

/* The time of the next edge on any output; VTIME_NEVER when none is due. */
uint64_t pulse_deadline(const pulse_t *p);

/* Applies every edge at or before now_ns, in time order. */
void pulse_advance(pulse_t *p, uint64_t now_ns);

/* The level of an output now: true while the transistor conducts (LED lit). */
bool pulse_level(const pulse_t *p, int output);

/* Pulses started on an output since pulse_init() (rising edges applied). */
uint64_t pulse_count(const pulse_t *p, int output);

/* Crossings earned but not started yet on an output (deferred or scheduled). */
uint64_t pulse_pending(const pulse_t *p, int output);

/* Takes the oldest edge from the ring; false when there is none. */
bool pulse_pop_edge(pulse_t *p, pulse_edge_t *e);

/* The weight of one pulse, in uWh, at a rate in hundredths of imp/kWh. */
int64_t pulse_weight_uwh(uint32_t rate_x100);

#endif
