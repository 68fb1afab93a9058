/* vtime: virtual time, the only clock the core knows.
 *
 * The core never reads a clock. The host moves time forward by feeding
 * metrology samples (one sample = one tick) and hands protocol bytes over with
 * their arrival time. Every instant in the core is an unsigned count of
 * nanoseconds since the meter was created: 2^64 ns is 584 years, so it never
 * wraps in practice, and one tick is a whole number of nanoseconds.
 *
 *   tick:  |-------|-------|-------|   125 000 ns each (8 kHz)
 *   bytes:     ^b0    ^b1        ^b2   any nanosecond
 *
 * Why 8 kHz: it keeps the 40th harmonic of 50 Hz (2 kHz) far below Nyquist,
 * makes a quarter mains period a whole 40 samples at 50 Hz, and gives an
 * integer tick in nanoseconds (docs/decisions.md).
 */
#ifndef METERSIM_VTIME_H
#define METERSIM_VTIME_H

#include <stdint.h>

#define VTIME_SAMPLE_RATE 8000u
#define VTIME_NS_PER_TICK 125000ull
#define VTIME_NS_PER_MS 1000000ull
#define VTIME_NS_PER_S 1000000000ull
#define VTIME_NEVER UINT64_MAX

#endif
