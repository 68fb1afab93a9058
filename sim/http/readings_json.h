/* readings_json: what the HTTP service shows of a meter, as JSON (cJSON).
 *
 *   readings_t --> rows of A4.4 ("Energy", "Instantaneous"), each with its
 *                  key, the app's label, value, unit and Modbus register
 *   display_t  --> the LCD model: the text line (frontends/text) and every
 *                  lit segment, point and icon, for a page to draw the glass
 *   settings_t --> every setting of the menu by its scenario name (settings.h)
 *
 * Only reads; computes nothing about the meter (the values are those of
 * meter_readings(), the same a Modbus read of that instant gives).
 */
#ifndef METERSIM_READINGS_JSON_H
#define METERSIM_READINGS_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "meter.h"

/* One row of A4.4: key, the app's label, unit, the register it mirrors. */
typedef struct {
    const char *key;
    const char *label;
    const char *unit;
    uint16_t reg; /* Modbus address of the same value (A3.2) */
} rj_row_t;

/* The rows of A4.4, in the app's order. */
const rj_row_t *rj_energy_rows(int *n);
const rj_row_t *rj_instant_rows(int *n);

/* A row's value in `r` (the readings_t field its register reads). */
double rj_row_value(const readings_t *r, const rj_row_t *row);

/* {"t_ns":..,"energy":[{key,label,value,unit,register}],"instantaneous":[..]} */
cJSON *rj_readings(const readings_t *r, uint64_t t_ns);

/* {"text":..,"display":{power,main,obis,icons,backlight,rotated,...}} */
cJSON *rj_lcd(const display_t *d);

/* {"bluetooth":0,"password":..} minus the password: every setting by name. */
cJSON *rj_settings(const settings_t *s);

/* The model's name as the app shows it: "4PU", "4PS", "2PCT". */
const char *rj_variant(meter_model_t m);

#endif
