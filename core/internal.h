/* internal: helpers the core modules share with each other alone.
 *
 * The display and the menu both print numbers onto seven-segment fields and
 * the core has no stdio; the formatter lives in display.c.
 */
#ifndef METERSIM_INTERNAL_H
#define METERSIM_INTERNAL_H

#include <stdint.h>

/* Writes |v| truncated to `dec` (0..8) decimals with at least `min_int`
 * integer digits; the integer part wraps at `wrap` (0: never). NUL-terminated;
 * `out` needs 32 bytes. The sign is the caller's business (the minus icon). */
void core_fmt_fixed(char *out, double v, int dec, int min_int, uint64_t wrap);

/* Writes v in decimal, at least `min` digits; returns the end (at the NUL). */
char *core_fmt_u(char *out, uint64_t v, int min);

#endif
