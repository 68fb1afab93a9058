/* access: what a protocol machine or the menu may read and change in a meter.
 *
 *   modbus --+                    +--> readings snapshot (readings.h)
 *   mbus   --+--> access_t -------+--> settings_set()  (one place decides validity)
 *   menu   --+                    +--> resets (power-down counter, day counter)
 *
 * The protocol machines never see `meter_t`: they hold an access_t, so each is
 * testable on its own with a small fake, and the meter is the one place that
 * turns a request into a change of state.
 */
#ifndef METERSIM_ACCESS_H
#define METERSIM_ACCESS_H

#include "readings.h"
#include "settings.h"

typedef enum {
    ACCESS_RESET_POWER_DOWN_COUNTER, /* Modbus 0x4016, M-Bus A2.3, menu 6.6.12 */
    ACCESS_RESET_DAY_COUNTER,        /* Modbus 0x6049, M-Bus A2.3, menu 6.6.13 */
} access_reset_t;

typedef struct access {
    void *ctx;
    /* Fills *out with the meter's values as they are now. */
    void (*read)(void *ctx, readings_t *out);
    /* Changes one setting; SETTINGS_OK or why not (nothing changed then). */
    settings_err_t (*set)(void *ctx, setting_id_t id, int32_t value);
    /* Resets a counter. */
    void (*reset)(void *ctx, access_reset_t what);
} access_t;

#endif
