/* fields: names for the values of readings_t (see fields.h). */
#include "fields.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_map.h"

enum {
    G_VOLTAGE,
    G_CURRENT,
    G_FREQUENCY,
    G_P,
    G_Q,
    G_S,
    G_PF,
    G_ULL,
    G_QUADRANT,
    G_DIRECTION,
    G_ENERGY, /* index = kind * 8 + slot: kind 0..5, slot 0 total, 1..4 T1..T4, 5..7 L1..L3 */
    G_QUAD_E, /* index = quadrant * 5 + slot: slot 0 total, 1..4 T1..T4 */
    G_RESETTABLE,
    G_POWER_DOWN,
    G_TARIFF,
    G_TARIFF_INPUT,
    G_ERROR,
    G_ERROR_FLAGS,
    G_SETTING, /* index = setting_id_t */
    G_PULSES,  /* index = output */
    G_MODBUS   /* index = register address (A3.2) */
};

static const char *const energy_kinds[6] = {"active_total",     "active_forward",
                                            "active_reverse",   "reactive_total",
                                            "reactive_forward", "reactive_reverse"};

/* Slots after the dot: total, T1..T4, L1..L3 (and for per-phase groups, the
 * sum or average as "total"/"avg"/"sum"). */
static int slot_of(const char *s, bool tariffs, bool phases)
{
    if (strcmp(s, "total") == 0)
        return 0;
    if (tariffs && s[0] == 'T' && s[1] >= '1' && s[1] <= '4' && !s[2])
        return 1 + (s[1] - '1');
    if (phases && s[0] == 'L' && s[1] >= '1' && s[1] <= '3' && !s[2])
        return 5 + (s[1] - '1');
    return -1;
}

bool fields_lookup(const char *name, field_t *f)
{
    if (name[0] == '0' && (name[1] == 'x' || name[1] == 'X')) {
        /* A register of A3.2 by its address: what a master decodes there. */
        char *end;
        unsigned long a = strtoul(name + 2, &end, 16);
        const modbus_reg_t *reg = *end || a > 0xFFFF ? NULL : modbus_map_find((uint16_t)a);
        if (!reg || reg->addr != a || reg->type == MODBUS_TYPE_RESERVED)
            return false;
        *f = (field_t){G_MODBUS, (int)a, ""};
        return true;
    }
    static const struct {
        const char *name;
        int group;
        const char *unit;
    } per_phase[] = {
        {"voltage", G_VOLTAGE, "V"},    {"current", G_CURRENT, "A"},
        {"active_power", G_P, "kW"},    {"reactive_power", G_Q, "kvar"},
        {"apparent_power", G_S, "kVA"}, {"power_factor", G_PF, ""},
        {"quadrant", G_QUADRANT, ""},   {"direction", G_DIRECTION, ""},
    };
    static const struct {
        const char *name;
        int group;
        const char *unit;
    } plain[] = {
        {"frequency", G_FREQUENCY, "Hz"}, {"power_down_count", G_POWER_DOWN, ""},
        {"tariff", G_TARIFF, ""},         {"tariff_input", G_TARIFF_INPUT, ""},
        {"error_code", G_ERROR, ""},      {"error_flags", G_ERROR_FLAGS, ""},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (strcmp(name, plain[i].name) == 0) {
            *f = (field_t){plain[i].group, 0, plain[i].unit};
            return true;
        }
    }
    const char *dot = strchr(name, '.');
    if (!dot)
        return false;
    if (strncmp(name, "pulses.", 7) == 0) {
        static const char *const outs[3] = {"S0-1", "S0-2", "LED"};
        for (int k = 0; k < 3; k++)
            if (strcmp(dot + 1, outs[k]) == 0) {
                *f = (field_t){G_PULSES, k, "pulses"};
                return true;
            }
        return false;
    }
    if (strcmp(name, "settings.t34_activated") == 0) {
        *f = (field_t){G_SETTING, SETTING_COUNT, ""}; /* A1.2: shown for good once used */
        return true;
    }
    if (strncmp(name, "settings.", 9) == 0) {
        for (int id = 0; id < SETTING_COUNT; id++)
            if (strcmp(dot + 1, settings_name((setting_id_t)id)) == 0) {
                *f = (field_t){G_SETTING, id, ""};
                return true;
            }
        return false;
    }
    size_t glen = (size_t)(dot - name);
    const char *slot = dot + 1;
    for (size_t i = 0; i < sizeof per_phase / sizeof per_phase[0]; i++) {
        if (strlen(per_phase[i].name) == glen && strncmp(name, per_phase[i].name, glen) == 0) {
            int s = slot_of(slot, false, true);
            bool agg = strcmp(slot, "avg") == 0 || strcmp(slot, "sum") == 0;
            if (agg && !((per_phase[i].group == G_VOLTAGE && slot[0] == 'a') ||
                         (per_phase[i].group == G_CURRENT && slot[0] == 's')))
                return false;
            if (s < 0 && !agg)
                return false;
            /* index 0..2 phases, 3 total/avg/sum */
            *f = (field_t){per_phase[i].group, s >= 5 ? s - 5 : 3, per_phase[i].unit};
            return true;
        }
    }
    if (glen == 10 && strncmp(name, "voltage_ll", 10) == 0) {
        static const char *const pairs[3] = {"L1-L2", "L1-L3", "L2-L3"};
        for (int k = 0; k < 3; k++)
            if (strcmp(slot, pairs[k]) == 0) {
                *f = (field_t){G_ULL, k, "V"};
                return true;
            }
        return false;
    }
    for (int k = 0; k < 6; k++) {
        if (strlen(energy_kinds[k]) == glen && strncmp(name, energy_kinds[k], glen) == 0) {
            int s = slot_of(slot, true, true);
            if (s < 0)
                return false;
            *f = (field_t){G_ENERGY, k * 8 + s, k < 3 ? "kWh" : "kvarh"};
            return true;
        }
    }
    if (glen == 11 && strncmp(name, "reactive_q", 10) == 0 && name[10] >= '1' && name[10] <= '4') {
        int s = slot_of(slot, true, false);
        if (s < 0)
            return false;
        *f = (field_t){G_QUAD_E, (name[10] - '1') * 5 + s, "kvarh"};
        return true;
    }
    if (glen == 10 && strncmp(name, "resettable", 10) == 0) {
        int s = slot_of(slot, false, true);
        if (s < 0)
            return false;
        *f = (field_t){G_RESETTABLE, s ? s - 4 : 0, "kWh"};
        return true;
    }
    return false;
}

static double per_phase(const double v[3], double total, int index)
{
    return index < 3 ? v[index] : total;
}

static const readings_energy_t *energy_of(const readings_t *r, int kind)
{
    const readings_energy_t *e[6] = {&r->active_total,     &r->active_forward,
                                     &r->active_reverse,   &r->reactive_total,
                                     &r->reactive_forward, &r->reactive_reverse};
    return e[kind];
}

/* The value a master decodes from a register, as its data type says (A3.2);
 * in integer mode (0x4026 = 2) a float register carries value x 1000. */
static double modbus_value(uint16_t addr, const readings_t *r)
{
    const modbus_reg_t *reg = modbus_map_find(addr);
    uint8_t b[8] = {0};
    if (!reg || modbus_map_read(r, addr, reg->words, b) != MODBUS_EX_NONE)
        return NAN;
    uint32_t u = reg->words == 2
                     ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                     : (uint32_t)b[0] << 8 | b[1];
    switch (reg->type) {
    case MODBUS_TYPE_FLOAT:
        if (r->settings.data_type == 2)
            return (int32_t)u / 1000.0;
        return modbus_get_float_abcd(b);
    case MODBUS_TYPE_SIGNED:
        return reg->words == 2 ? (double)(int32_t)u : (double)(int16_t)u;
    case MODBUS_TYPE_BCD: {
        double v = 0;
        for (int shift = reg->words * 16 - 4; shift >= 0; shift -= 4)
            v = v * 10 + ((u >> shift) & 0xF);
        return v;
    }
    default:
        return (double)u; /* bits, codes, ASCII (the character's code) */
    }
}

double fields_value(const field_t *f, const readings_t *r)
{
    switch (f->group) {
    case G_VOLTAGE:
        return per_phase(r->voltage, r->voltage_avg, f->index);
    case G_CURRENT:
        return per_phase(r->current, r->current_sum, f->index);
    case G_FREQUENCY:
        return r->frequency;
    case G_P:
        return per_phase(r->p, r->p_total, f->index);
    case G_Q:
        return per_phase(r->q, r->q_total, f->index);
    case G_S:
        return per_phase(r->s, r->s_total, f->index);
    case G_PF:
        return per_phase(r->pf, r->pf_total, f->index);
    case G_ULL:
        return r->voltage_ll[f->index];
    case G_QUADRANT:
        return f->index < 3 ? r->quadrant[f->index] : r->quadrant_total;
    case G_DIRECTION: {
        char d = f->index < 3 ? r->direction[f->index] : r->direction_total;
        return d == 'R' ? -1.0 : 1.0;
    }
    case G_ENERGY: {
        const readings_energy_t *e = energy_of(r, f->index / 8);
        int s = f->index % 8;
        return s == 0 ? e->total : s <= 4 ? e->tariff[s - 1] : e->phase[s - 5];
    }
    case G_QUAD_E:
        return r->reactive_quadrant[f->index / 5][f->index % 5];
    case G_RESETTABLE:
        return f->index == 0 ? r->resettable : r->resettable_phase[f->index - 1];
    case G_POWER_DOWN:
        return r->power_down_count;
    case G_TARIFF:
        return r->tariff;
    case G_TARIFF_INPUT:
        return r->tariff_input;
    case G_ERROR:
        return r->error_code;
    case G_ERROR_FLAGS:
        return r->error_flags;
    case G_SETTING:
        return f->index == SETTING_COUNT ? r->settings.t34_activated
                                         : settings_get(&r->settings, (setting_id_t)f->index);
    case G_PULSES:
        return (double)r->pulses[f->index];
    case G_MODBUS:
        return modbus_value((uint16_t)f->index, r);
    }
    return 0.0;
}

const char *fields_help(void)
{
    return "voltage.L1..L3|avg, current.L1..L3|sum, frequency, active_power.L1..L3|total, "
           "reactive_power.*, apparent_power.*, power_factor.*, voltage_ll.L1-L2|L1-L3|L2-L3, "
           "quadrant.*, direction.*, "
           "{active,reactive}_{total,forward,reverse}.total|T1..T4|L1..L3, "
           "reactive_q1..q4.total|T1..T4, resettable.total|L1..L3, power_down_count, tariff, "
           "tariff_input, error_code, error_flags, pulses.S0-1|S0-2|LED, 0x6000 (a register of "
           "A3.2), "
           "settings.<name> (modbus_id, combination_code, ..., t34_activated)";
}
