/* readings_json: the meter as JSON for the HTTP service (see readings_json.h). */
#include "readings_json.h"

#include <stdio.h>
#include <string.h>

#include "modbus_map.h"
#include "text/text_lcd.h"
#include "variant.h"

/* A4.4 "Energy", as the app lists it, each row the register of A3.2 that
 * holds the same value. */
// clang-format off
static const rj_row_t energy_rows[] = {
    {"total_active",       "Total active energy",      "kWh", 0x6000},
    {"t1_total_active",    "T1 Total active energy",   "kWh", 0x6002},
    {"t2_total_active",    "T2 Total active energy",   "kWh", 0x6004},
    {"l1_total_active",    "L1 Total active energy",   "kWh", 0x6006},
    {"l2_total_active",    "L2 Total active energy",   "kWh", 0x6008},
    {"l3_total_active",    "L3 Total active energy",   "kWh", 0x600A},
    {"forward_active",     "Forward active energy",    "kWh", 0x600C},
    {"t1_forward_active",  "T1 Forward active energy", "kWh", 0x600E},
    {"t2_forward_active",  "T2 Forward active energy", "kWh", 0x6010},
    {"l1_forward_active",  "L1 Forward active energy", "kWh", 0x6012},
    {"l2_forward_active",  "L2 Forward active energy", "kWh", 0x6014},
    {"l3_forward_active",  "L3 Forward active energy", "kWh", 0x6016},
    {"reverse_active",     "Reverse active energy",    "kWh", 0x6018},
};

/* A4.4 "Instantaneous". "Voltage*" and "Current*" are 0x5000 and 0x500A,
 * which read 0 on a three-phase meter (docs/decisions.md). */
static const rj_row_t instant_rows[] = {
    {"voltage",            "Voltage*",                 "V",   0x5000},
    {"l1_voltage",         "L1 Voltage",               "V",   0x5002},
    {"l2_voltage",         "L2 Voltage",               "V",   0x5004},
    {"l3_voltage",         "L3 Voltage",               "V",   0x5006},
    {"frequency",          "Grid frequency",           "Hz",  0x5008},
    {"current",            "Current*",                 "A",   0x500A},
    {"l1_current",         "L1 Current",               "A",   0x500C},
    {"l2_current",         "L2 Current",               "A",   0x500E},
    {"l3_current",         "L3 Current",               "A",   0x5010},
    {"total_active_power", "Total active power",       "kW",  0x5012},
    {"l1_active_power",    "L1 Active power",          "kW",  0x5014},
    {"l2_active_power",    "L2 Active power",          "kW",  0x5016},
    {"l3_active_power",    "L3 Active power",          "kW",  0x5018},
};
// clang-format on

const rj_row_t *rj_energy_rows(int *n)
{
    *n = (int)(sizeof energy_rows / sizeof energy_rows[0]);
    return energy_rows;
}

const rj_row_t *rj_instant_rows(int *n)
{
    *n = (int)(sizeof instant_rows / sizeof instant_rows[0]);
    return instant_rows;
}

/* Through the register map's own entry: the field a Modbus read of the
 * register encodes, so the row and the register cannot disagree. */
double rj_row_value(const readings_t *r, const rj_row_t *row)
{
    const modbus_reg_t *e = modbus_map_find(row->reg);
    if (!e || e->src != MODBUS_SRC_DOUBLE)
        return 0.0; /* 0x5000, 0x500A: read as 0 */
    double v;
    memcpy(&v, (const char *)r + e->arg, sizeof v);
    return v;
}

static cJSON *rows(const readings_t *r, const rj_row_t *t, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char reg[8];
        snprintf(reg, sizeof reg, "0x%04X", t[i].reg);
        cJSON_AddStringToObject(o, "key", t[i].key);
        cJSON_AddStringToObject(o, "label", t[i].label);
        cJSON_AddNumberToObject(o, "value", rj_row_value(r, &t[i]));
        cJSON_AddStringToObject(o, "unit", t[i].unit);
        cJSON_AddStringToObject(o, "register", reg);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

cJSON *rj_readings(const readings_t *r, uint64_t t_ns)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "t_ns", (double)t_ns);
    int n;
    const rj_row_t *t = rj_energy_rows(&n);
    cJSON_AddItemToObject(o, "energy", rows(r, t, n));
    t = rj_instant_rows(&n);
    cJSON_AddItemToObject(o, "instantaneous", rows(r, t, n));
    return o;
}

static cJSON *field(const display_field_t *f, int n)
{
    cJSON *o = cJSON_CreateObject();
    char text[DISPLAY_MAIN_DIGITS + 1];
    memcpy(text, f->text, (size_t)n);
    text[n] = '\0';
    cJSON_AddStringToObject(o, "text", text);
    cJSON *seg = cJSON_CreateArray(), *dp = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(seg, cJSON_CreateNumber(f->seg[i]));
        cJSON_AddItemToArray(dp, cJSON_CreateBool((f->dp >> i) & 1u));
    }
    cJSON_AddItemToObject(o, "segments", seg); /* bit 0 a .. bit 6 g (display.h) */
    cJSON_AddItemToObject(o, "points", dp);    /* the point after digit i */
    return o;
}

cJSON *rj_lcd(const display_t *d)
{
    static const char *const powers[] = {"on", "off", "boot"};
    cJSON *o = cJSON_CreateObject();
    char line[128];
    text_lcd_line(d, line, sizeof line);
    cJSON_AddStringToObject(o, "text", line);
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "power", d->power < 3 ? powers[d->power] : "on");
    cJSON_AddBoolToObject(g, "dark", d->power == DISPLAY_POWER_OFF);
    cJSON_AddItemToObject(g, "main", field(&d->main, DISPLAY_MAIN_DIGITS));
    cJSON_AddItemToObject(g, "obis", field(&d->obis, DISPLAY_OBIS_DIGITS));
    cJSON *icons = cJSON_CreateArray();
    for (int i = 0; i < DISPLAY_ICON_COUNT; i++)
        if (d->icons & (1u << i))
            cJSON_AddItemToArray(icons, cJSON_CreateString(text_lcd_icon_name(1u << i)));
    cJSON_AddItemToObject(g, "icons", icons);
    cJSON_AddNumberToObject(g, "icon_bits", d->icons);
    cJSON *units = cJSON_CreateArray();
    for (int i = 0; i < DISPLAY_ICON_COUNT; i++)
        if (d->icons & DISPLAY_ICON_UNITS & (1u << i))
            cJSON_AddItemToArray(units, cJSON_CreateString(text_lcd_icon_name(1u << i)));
    cJSON_AddItemToObject(g, "units", units);
    cJSON_AddBoolToObject(g, "backlight", d->backlight);
    cJSON_AddBoolToObject(g, "rotated", d->rotated);
    cJSON_AddBoolToObject(g, "error", d->error);
    cJSON_AddBoolToObject(g, "menu", d->menu);
    cJSON_AddItemToObject(o, "display", g);
    return o;
}

cJSON *rj_settings(const settings_t *s)
{
    cJSON *o = cJSON_CreateObject();
    for (int id = 0; id < SETTING_COUNT; id++)
        if (id != SETTING_PASSWORD) /* never shown (6.6.1) */
            cJSON_AddNumberToObject(o, settings_name((setting_id_t)id),
                                    settings_get(s, (setting_id_t)id));
    return o;
}

const char *rj_variant(meter_model_t m)
{
    return variant_of(m)->name;
}
