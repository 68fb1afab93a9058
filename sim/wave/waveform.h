/* waveform: synthesises the three-phase grid the meter measures, tick by tick.
 *
 * Per phase k, with the fundamental angle a(t) = 2*pi*f*t + theta_k:
 *
 *   v_k(t) = sqrt2 * V_k * [ sin(a) + sum_h (pv_h/100) * sin(h*a + phi_h) ]
 *   i_k(t) = sqrt2 * I_k * [ sin(a - psi_k) + sum_h (pi_h/100) * sin(h*(a - psi_k) + phi_h) ]
 *
 * where psi_k is the angle by which the current lags the voltage (positive:
 * inductive; a reverse flow adds 180 degrees), theta_k the phase position
 * (0, -120, +120 by default). Optional white, nearly Gaussian noise of a given
 * RMS is added from a seeded generator, so a run is reproducible.
 *
 * Speed: one rotor e^{j*2*pi*f*t} turns by a fixed step each tick; every
 * component is Im(A * rotor^h) with a complex constant A, so a tick costs a
 * few multiplications. The rotor is recomputed exactly from the phase
 * accumulator every 256 ticks of the absolute tick count, so it never drifts,
 * the output does not depend on how the caller chunks its requests, and a
 * change of frequency keeps the phase continuous.
 */
#ifndef METERSIM_WAVEFORM_H
#define METERSIM_WAVEFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrology.h"
#include "metrology_steady.h"

#define WAVE_MAX_HARMONICS 16
#define WAVE_MAX_ORDER 50
#define WAVE_SINCOS_MEMO 32 /* a power of two, at most 32 */

typedef struct {
    int order;        /* 2..WAVE_MAX_ORDER */
    double percent;   /* amplitude, % of the fundamental */
    double phase_deg; /* phase of the harmonic relative to h times the fundamental's */
} wave_harmonic_t;

typedef struct {
    double voltage;      /* V RMS of the fundamental */
    double current;      /* A RMS of the fundamental */
    double lag_deg;      /* current lags voltage by this angle: see wave_lag_from_pf() */
    double position_deg; /* phase position of the voltage: 0, -120, +120 */
    wave_harmonic_t vh[WAVE_MAX_HARMONICS];
    wave_harmonic_t ih[WAVE_MAX_HARMONICS];
    int n_vh, n_ih;
} wave_phase_t;

typedef struct {
    double frequency; /* Hz */
    wave_phase_t phase[3];
    double noise_v, noise_i; /* RMS of the added noise, V and A; 0 for none */
    uint64_t seed;
} wave_desc_t;

typedef struct {
    wave_desc_t desc;
    uint64_t tick;         /* ticks written so far */
    double anchor;         /* fundamental phase in cycles at the anchor tick, [0, 1) */
    uint32_t since_anchor; /* ticks since the anchor */
    double rotor[2];       /* e^{j*2*pi*phase} now */
    double step_rotor[2];  /* e^{j*2*pi*f/fs} */
    int max_order;         /* highest harmonic in use */
    double av[3][WAVE_MAX_ORDER + 1][2]; /* complex amplitude of v per order */
    double ai[3][WAVE_MAX_ORDER + 1][2];
    uint8_t used[WAVE_MAX_ORDER + 1];
    /* av and ai again, as wave_fill() reads them: per order, the real parts
     * then the imaginary parts, in the order of a sample's six values (v1 v2
     * v3 i1 i2 i3), so that pairs of them are one vector operation. */
    double amp[WAVE_MAX_ORDER + 1][2][6];
    uint64_t rng;
    /* cos and sin of the last angles met, by the bits of the angle (the
     * same values as computing them afresh): a profile that moves the
     * currents every second gives wave_set the same angles every time. */
    uint32_t sc_valid; /* bit per slot */
    uint64_t sc_key[WAVE_SINCOS_MEMO];
    double sc_val[WAVE_SINCOS_MEMO][2];
} wave_t;

/* The lag angle for a power factor: |pf| in (0, 1], inductive or capacitive,
 * import or export (export adds 180 degrees, which turns an inductive lag
 * into quadrant 3 and a capacitive one into quadrant 2, IEC 62053-23). */
double wave_lag_from_pf(double pf, int capacitive, int export_);

/* A balanced grid: voltage and current on each phase, at 0, -120, +120. */
void wave_desc_balanced(wave_desc_t *d, double frequency, double voltage, double current,
                        double lag_deg);

void wave_init(wave_t *w, const wave_desc_t *d);

/* Changes the waveform's parameters from the next tick on; the phase of the
 * grid runs on without a jump. */
void wave_set(wave_t *w, const wave_desc_t *d);

/* Writes n ticks of samples. */
void wave_fill(wave_t *w, metrology_sample_t *out, size_t n);

/* The waveform as phasors from its present tick on, for the meter's
 * closed-form path (metrology_steady.h; --fidelity auto): `gen` and `since`
 * are the caller's. False when it has more harmonic orders than a
 * description holds (METROLOGY_PHASOR_ORDERS): the caller samples it. */
bool wave_phasors(const wave_t *w, metrology_phasors_t *out);

/* Moves the waveform on by n ticks without writing them: the phase runs on
 * exactly (it is kept from the phase accumulator, not from the samples);
 * the noise generator does not move. */
void wave_skip(wave_t *w, size_t n);

#endif
