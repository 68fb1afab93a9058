/* fields: the meter's readable values by name, for scenario assertions,
 * starting registers and logs.
 *
 *   name                          unit   Modbus
 *   voltage.L1 .. .L3, .avg       V      0x5002..0x5006
 *   current.L1 .. .L3, .sum       A      0x500C..0x5010
 *   frequency                     Hz     0x5008
 *   active_power.L1 .. .total     kW     0x5014.., 0x5012
 *   reactive_power.*, apparent_power.*, power_factor.*   (same pattern)
 *   voltage_ll.L1-L2, .L1-L3, .L2-L3                     0x5032..0x5036
 *   quadrant.L1 .. .total, direction.L1 .. .total ('F' = 1, 'R' = -1)
 *   active_total.total, .T1 .. .T4, .L1 .. .L3    kWh   0x6000.. (and the
 *   active_forward.*, active_reverse.*, reactive_total.*, reactive_forward.*,
 *   reactive_reverse.*)                          kWh / kvarh
 *   reactive_q1 .. reactive_q4 .total, .T1 .. .T4 kvarh  0x6063..0x6089
 *   resettable.total, .L1 .. .L3                 kWh    0x6049, 0x608B..
 *   power_down_count, tariff, tariff_input, error_code
 *   settings.<name>                              every setting of settings.h by its name
 *   pulses.S0-1, pulses.S0-2, pulses.LED         pulses emitted so far
 *   0x6000, 0x5002, ...                          a register of A3.2 by its address: the value a
 *                                                master decodes there (its data type; 0x4012 'F' =
 * 70)
 *
 * A scenario's starting energy registers are named the same way; the names
 * and their order are the core's (energy_register_find(), energy.h).
 */
#ifndef METERSIM_FIELDS_H
#define METERSIM_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include "meter.h"

typedef struct {
    int group; /* internal: which part of readings_t */
    int index; /* internal: which slot */
    const char *unit;
} field_t;

/* Looks a name up; false when there is no such field. */
bool fields_lookup(const char *name, field_t *f);

/* The field's value in a snapshot. */
double fields_value(const field_t *f, const readings_t *r);

/* A sentence listing the name patterns, for error messages. */
const char *fields_help(void);

#endif
