/* metrology_steady_internal: what core/metrology_steady.c (the cycle in
 * closed form) and core/metrology_describe.c (taking a description) share.
 * For core/ only. */
#ifndef METERSIM_METROLOGY_STEADY_INTERNAL_H
#define METERSIM_METROLOGY_STEADY_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrology_internal.h"
#include "metrology_steady.h"

#define TWO_PI 6.283185307179586476925286766559
#define MAX_M 128 /* products of orders up to 63 */
#define ROTOR_BLOCK METROLOGY_ROTOR_BLOCK
#define HYST METROLOGY_ZC_HYSTERESIS_V

typedef struct {
    double re, im;
} cx;

static inline cx cmul(cx a, cx b)
{
    return (cx){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}

static inline cx cexpi(double cycles)
{
    return (cx){cos(TWO_PI * cycles), sin(TWO_PI * cycles)};
}

static inline cx cpair(const double a[2])
{
    return (cx){a[0], a[1]};
}

/* nearbyint(x) in the rounding mode in force, for |x| < 2^52: adding and
 * taking away 2^52 rounds x to a whole number the same way (the same bits,
 * without nearbyint's call and its saving of the floating-point state). */
static inline double round_even(double x)
{
    return x >= 0.0 ? (x + 0x1p52) - 0x1p52 : -((-x + 0x1p52) - 0x1p52);
}

/* The fundamental phase at n_ticks from the description's tick0, plus add,
 * in cycles in [0, 1); the whole cycles in *whole (metrology_steady.c). */
double steady_phase_split(const metrology_phasors_t *p, int64_t n_ticks, double add, double *whole);
/* The fundamental phase at tick n, in cycles in [0, 1). */
double steady_phase_at(const metrology_phasors_t *p, uint64_t n);
/* sum_o Im(A_o z^order_o), for a table of amplitudes per order. */
double steady_im_sum(const metrology_phasors_t *p, const double a[][2], cx z);
/* D_m of sum_n Im(A z^h) Im(B z^g) = 1/2 Re sum_m D_m G_m (metrology_steady.h),
 * added to d (metrology_describe.c). */
void steady_add_product(const metrology_steady_t *st, double d[][2], const double a[][2],
                        const double b[][2]);
/* Whether b has the voltage side of a (metrology_describe.c). */
bool steady_same_voltage(const metrology_phasors_t *a, const metrology_phasors_t *b);

#endif
