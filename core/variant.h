/* variant: what makes each model of the meter what it is, in one table that
 * every module reads (no other file knows a variant's numbers).
 *
 *   model  article    0x4002  Imax   measures                 CT ratio (0x400C, 0x401F)
 *   4PU    879-3000   1111    65 A   directly (4, 4.8)        5/5, fixed
 *   4PS    879-3020   1112    65 A   directly (4, 4.9)        5/5, fixed
 *   2PCT   CT version 1113     6 A   on x/5 A transformers    5/5 .. 9995/5 (A3.3 401F)
 *
 * The 4PU and 4PS differ in article and meter code only: the manual gives
 * them the same data, connections (4.8, 4.9) and registers. The CT-operated
 * variant is named by the register map alone ("2PCT: 1113" at 0x4002, the CT
 * ratio at 0x400C/0x401F, the M-Bus "CT rate (only for CT version)" record):
 * it measures the transformers' secondary current at its terminals and shows
 * primary values, the ratio applied (docs/decisions.md, "The CT variant").
 *
 * Known inaccuracies: the CT version's article number, its current rating
 * and its connections are not in the manual; the table gives it x/5 A with a
 * 6 A Imax (the usual 5(6) A of transformer meters) and every connection.
 */
#ifndef METERSIM_VARIANT_H
#define METERSIM_VARIANT_H

#include <stdbool.h>
#include <stdint.h>

#include "readings.h"

typedef struct variant {
    meter_model_t model;
    const char *name;         /* "4PU", as scenarios name it */
    const char *article;      /* "879-3000" */
    uint16_t meter_code;      /* 0x4002, as its HEX digits */
    uint16_t imax_a;          /* 0x400B "Meter amps": the highest current at its terminals */
    bool ct;                  /* on current transformers: registers show primary values */
    uint16_t ct_secondary;    /* A: the transformers' rated secondary (x/5 A) */
    uint16_t ct_primary_max;  /* A: the highest primary 0x401F takes (9995, A3.3) */
    uint16_t ct_primary_step; /* A: primaries are multiples of this */
    uint8_t connections;      /* bit per connection_t it may be wired as */
} variant_t;

/* The variant of a model; METER_MODEL_COUNT and above are a programmer's
 * mistake. */
const variant_t *variant_of(meter_model_t model);

/* A model by its name ("4PU", "4PS", "2PCT"); false when there is none. */
bool variant_find(const char *name, meter_model_t *out);

#endif
