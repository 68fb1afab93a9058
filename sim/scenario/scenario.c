/* scenario: load and check a scenario file (see scenario.h, docs/scenario.md). */
#include "scenario_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "duration.h"
#include "jsonpos.h"


/* The default scenario: an office floor on a 3P4W supply, its phases loaded
 * unevenly, with the harmonics of switch-mode power supplies and a little
 * measurement noise. */
static const char default_json[] =
    "{\"name\":\"default: office floor, 3P4W\",\"seed\":1,"
    "\"meter\":{\"model\":\"4PU\",\"serial\":\"13070001\",\"connection\":\"3P4W\"},"
    "\"grid\":{\"voltage\":[230.4,229.1,231.0],\"frequency\":50,"
    "\"harmonics\":[{\"order\":3,\"percent\":1.2},{\"order\":5,\"percent\":2.1}],\"noise\":0.05},"
    "\"load\":{\"L1\":{\"current\":12.4,\"pf\":0.93,\"reactive\":\"inductive\"},"
    "\"L2\":{\"current\":8.7,\"pf\":0.96,\"reactive\":\"inductive\"},"
    "\"L3\":{\"current\":15.2,\"pf\":0.89,\"reactive\":\"inductive\"},"
    "\"harmonics\":[{\"order\":3,\"percent\":18},{\"order\":5,\"percent\":9}],\"noise\":0.005}}";

static bool parse_harmonics(scn_ctx_t *c, const cJSON *obj, wave_harmonic_t *h, int *count)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "harmonics");
    if (!arr)
        return true;
    size_t n = scn_push(c, "harmonics", 0);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > WAVE_MAX_HARMONICS) {
        scn_fail(c, "expected an array of at most %d harmonics", WAVE_MAX_HARMONICS);
        scn_pop(c, n);
        return false;
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        size_t m = scn_push(c, NULL, i);
        static const char *const keys[] = {"order", "percent", "phase", NULL};
        double order = 0, percent = 0, phase = 0;
        if (!cJSON_IsObject(it))
            scn_fail(c, "expected an object {\"order\", \"percent\", \"phase\"}");
        else if (scn_known_keys(c, it, keys) &&
                 scn_get_number(c, it, "order", 2, WAVE_MAX_ORDER, "(harmonic order)", &order) &&
                 scn_get_number(c, it, "percent", 0, 100, "% of the fundamental", &percent) &&
                 scn_get_number(c, it, "phase", -360, 360, "degrees", &phase)) {
            if (!cJSON_GetObjectItemCaseSensitive(it, "order"))
                scn_fail(c, "missing \"order\"");
            else if (order != floor(order))
                scn_fail(c, "order %g is not a whole number", order);
            h[i] = (wave_harmonic_t){(int)order, percent, phase};
        }
        scn_pop(c, m);
        if (c->failed)
            break;
        i++;
    }
    *count = i;
    scn_pop(c, n);
    return !c->failed;
}

/* A signal, or an array of three (L1, L2, L3). */
static bool get_per_phase(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                          const char *unit, profile_t out[3])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = scn_push(c, key, 0);
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 3)
            scn_fail(c, "expected a number, a profile, or an array of three (L1, L2, L3)");
        for (int k = 0; k < 3 && !c->failed; k++) {
            size_t m = scn_push(c, NULL, k);
            scn_parse_profile(c, cJSON_GetArrayItem(v, k), min, max, unit, &out[k]);
            scn_pop(c, m);
        }
    } else if (scn_parse_profile(c, v, min, max, unit, &out[0])) {
        out[1] = out[2] = out[0];
    }
    scn_pop(c, n);
    return !c->failed;
}

static bool parse_grid(scn_ctx_t *c, const cJSON *g, scenario_grid_t *grid)
{
    static const char *const keys[] = {"voltage", "frequency", "phase_angles", "harmonics",
                                       "noise", NULL};
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(g, "phase_angles");
    if (!scn_known_keys(c, g, keys) ||
        !get_per_phase(c, g, "voltage", 0, 276, "V (0 to Un + 20 %, manual 4)", grid->voltage) ||
        !scn_get_number(c, g, "noise", 0, 50, "V RMS", &grid->noise_v) ||
        !parse_harmonics(c, g, grid->vh, &grid->n_vh) ||
        !scn_get_profile(c, g, "frequency", 45, 65, "Hz", &grid->frequency))
        return false;
    if (pa) {
        size_t n = scn_push(c, "phase_angles", 0);
        if (!cJSON_IsArray(pa) || cJSON_GetArraySize(pa) != 3)
            scn_fail(c, "expected three angles in degrees (L1, L2, L3)");
        for (int k = 0; k < 3 && !c->failed; k++) {
            size_t m = scn_push(c, NULL, k);
            scn_check_number(c, cJSON_GetArrayItem(pa, k), -360, 360, "degrees", &grid->position_deg[k]);
            scn_pop(c, m);
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

/* One phase's load on top of what it was. */
static bool parse_phase_load(scn_ctx_t *c, const cJSON *o, scenario_phase_t *p)
{
    static const char *const keys[] = {"current", "pf", "reactive", "direction", "angle",
                                       "harmonics", NULL};
    static const char *const reactive[] = {"inductive", "capacitive", NULL};
    static const char *const direction[] = {"import", "export", NULL};
    if (!scn_known_keys(c, o, keys))
        return false;
    int cap = p->capacitive, exp_ = p->export_;
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(o, "pf");
    const cJSON *angle = cJSON_GetObjectItemCaseSensitive(o, "angle");
    if (angle && (pf || cJSON_GetObjectItemCaseSensitive(o, "reactive"))) {
        size_t n = scn_push(c, "angle", 0);
        scn_fail(c, "give either \"angle\" or \"pf\"/\"reactive\", not both");
        scn_pop(c, n);
        return false;
    }
    if (!scn_get_profile(c, o, "current", 0, 65, "A (0 to Imax, manual 4)", &p->current) ||
        !scn_get_profile(c, o, "pf", 0, 1, "(|cos phi|)", &p->pf))
        return false;
    if (pf)
        p->use_angle = false;
    if (c->failed || !scn_get_choice(c, o, "reactive", reactive, &cap) ||
        !scn_get_choice(c, o, "direction", direction, &exp_) ||
        !scn_get_number(c, o, "angle", -360, 360, "degrees (current lagging voltage)", &p->angle_deg) ||
        !parse_harmonics(c, o, p->ih, &p->n_ih))
        return false;
    if (angle)
        p->use_angle = true;
    p->capacitive = cap;
    p->export_ = exp_;
    return true;
}

static bool parse_load(scn_ctx_t *c, const cJSON *l, scenario_load_t *load)
{
    static const char *const phases[] = {"L1", "L2", "L3"};
    /* Fields for all phases first, then L1/L2/L3 objects on top of them. */
    cJSON *common = cJSON_Duplicate(l, 1);
    if (!common)
        return scn_fail(c, "out of memory");
    for (int k = 0; k < 3; k++)
        cJSON_DeleteItemFromObjectCaseSensitive(common, phases[k]);
    if (scn_get_number(c, common, "noise", 0, 10, "A RMS", &load->noise_i)) {
        cJSON_DeleteItemFromObjectCaseSensitive(common, "noise");
        for (int k = 0; k < 3 && !c->failed; k++)
            parse_phase_load(c, common, &load->phase[k]);
    }
    cJSON_Delete(common);
    for (int k = 0; k < 3 && !c->failed; k++) {
        const cJSON *o;
        if (!scn_get_object(c, l, phases[k], &o))
            return false;
        if (o) {
            size_t n = scn_push(c, phases[k], 0);
            parse_phase_load(c, o, &load->phase[k]);
            scn_pop(c, n);
        }
    }
    return !c->failed;
}

/* {"name": value, ...} of settings, each checked by the settings module. */
static bool parse_settings(scn_ctx_t *c, const cJSON *o, settings_t *s)
{
    for (const cJSON *it = o->child; it && !c->failed; it = it->next) {
        size_t n = scn_push(c, it->string, 0);
        int id = 0;
        while (id < SETTING_COUNT && strcmp(settings_name((setting_id_t)id), it->string) != 0)
            id++;
        if (id == SETTING_COUNT) {
            char list[512] = "";
            for (int k = 0; k < SETTING_COUNT; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                         settings_name((setting_id_t)k));
            scn_fail(c, "unknown setting \"%s\" (settings: %s)", it->string, list);
        } else if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble)) {
            scn_fail(c, "expected a whole number");
        } else {
            settings_err_t e = settings_set(s, (setting_id_t)id, (int32_t)it->valuedouble);
            if (e != SETTINGS_OK)
                scn_fail(c, "%g refused: %s", it->valuedouble, settings_strerror(e));
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

static bool parse_meter(scn_ctx_t *c, const cJSON *o, scenario_meter_t *m, scenario_load_t *load)
{
    static const char *const keys[] = {"name",      "model",           "serial",
                                       "connection", "settings",       "registers",
                                       "power_down_count", "turnaround", "load", NULL};
    static const char *const models[] = {"4PU", "4PS", NULL};
    static const char *const conns[] = {"3P4W", "3P3W-aron", "3P3W-delta", "1P2W", NULL};
    int model = (int)m->model, conn = (int)m->connection;
    if (!scn_known_keys(c, o, keys) || !scn_get_choice(c, o, "model", models, &model) ||
        !scn_get_choice(c, o, "connection", conns, &conn))
        return false;
    m->model = (meter_model_t)model;
    m->connection = (connection_t)conn;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (name) {
        size_t n = scn_push(c, "name", 0);
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= sizeof m->name)
            scn_fail(c, "expected a name of 1 to %zu characters", sizeof m->name - 1);
        else
            snprintf(m->name, sizeof m->name, "%s", name->valuestring);
        scn_pop(c, n);
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "serial");
    if (s && !c->failed) {
        size_t n = scn_push(c, "serial", 0);
        size_t len = cJSON_IsString(s) ? strlen(s->valuestring) : 0;
        bool digits = len >= 1 && len <= 16;
        for (size_t i = 0; digits && i < len; i++)
            digits = s->valuestring[i] >= '0' && s->valuestring[i] <= '9';
        if (!digits)
            scn_fail(c, "expected a string of 1 to 16 decimal digits");
        else
            memcpy(m->serial, s->valuestring, len + 1);
        scn_pop(c, n);
    }
    /* The secondary address follows the serial number (A2.1) unless set. */
    uint32_t last8 = 0;
    for (const char *p = m->serial + (strlen(m->serial) > 8 ? strlen(m->serial) - 8 : 0); *p; p++)
        last8 = last8 * 10u + (uint32_t)(*p - '0');
    settings_defaults(&m->settings, last8);
    const cJSON *sub;
    if (!c->failed && scn_get_object(c, o, "settings", &sub) && sub) {
        size_t n = scn_push(c, "settings", 0);
        parse_settings(c, sub, &m->settings);
        scn_pop(c, n);
    }
    double pdc = 0;
    if (!c->failed && scn_get_number(c, o, "power_down_count", 0, 65535, "(counter)", &pdc))
        m->power_down_count = (uint32_t)pdc;
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(o, "turnaround");
    if (ta && !c->failed) {
        uint64_t ticks = 0;
        size_t n = scn_push(c, "turnaround", 0);
        if (scn_get_duration(c, ta, &ticks) && (ticks < 8 || ticks > 8000))
            scn_fail(c, "a Modbus turnaround lies between 1 ms and 1 s");
        m->turnaround_ns = ticks * VTIME_NS_PER_TICK;
        scn_pop(c, n);
    }
    if (!c->failed && scn_get_object(c, o, "registers", &sub) && sub) {
        size_t n = scn_push(c, "registers", 0);
        for (const cJSON *it = sub->child; it && !c->failed; it = it->next) {
            size_t k = scn_push(c, it->string, 0);
            int reg = energy_register_find(it->string);
            double v;
            if (m->n_registers >= SCENARIO_MAX_REGISTERS)
                scn_fail(c, "at most %d starting registers", SCENARIO_MAX_REGISTERS);
            else if (reg < 0)
                scn_fail(c, "\"%s\" is not an energy register (active_forward.total, "
                        "reactive_q1.T2, resettable.L1, ...)",
                     it->string);
            else if (scn_check_number(c, it, 0, 999999.999, "kWh (6+3 digits, manual 6.2)", &v))
                m->registers[m->n_registers++] = (scenario_register_t){reg, v};
            scn_pop(c, k);
        }
        scn_pop(c, n);
    }
    if (!c->failed && scn_get_object(c, o, "load", &sub) && sub) {
        size_t n = scn_push(c, "load", 0);
        parse_load(c, sub, load);
        scn_pop(c, n);
    }
    return !c->failed;
}

static scenario_event_t *new_event(scn_ctx_t *c, scenario_ev_kind_t kind, int meter)
{
    scenario_t *sc = c->sc;
    if (sc->n_events >= SCENARIO_MAX_EVENTS) {
        scn_fail(c, "more than %d events", SCENARIO_MAX_EVENTS);
        return NULL;
    }
    scenario_event_t *ev = &sc->events[sc->n_events];
    memset(ev, 0, sizeof *ev);
    ev->seq = (uint32_t)sc->n_events++;
    ev->at_tick = c->now;
    ev->kind = kind;
    ev->meter = meter;
    snprintf(ev->path, sizeof ev->path, "%.159s", c->path);
    return ev;
}

static bool parse_assert(scn_ctx_t *c, const cJSON *a, int meter)
{
    static const char *const keys[] = {"field", "equals", "tolerance", "min",
                                       "max",   "lcd",    "lcd_contains", NULL};
    if (!cJSON_IsObject(a))
        return scn_fail(c, "expected {\"field\": name, \"equals\": value, \"tolerance\": t}, "
                       "{\"field\", \"min\", \"max\"} or {\"lcd\": text}");
    if (!scn_known_keys(c, a, keys))
        return false;
    const cJSON *lcd = cJSON_GetObjectItemCaseSensitive(a, "lcd");
    const cJSON *lcdc = cJSON_GetObjectItemCaseSensitive(a, "lcd_contains");
    if (lcd || lcdc) {
        const cJSON *t = lcd ? lcd : lcdc;
        size_t n = scn_push(c, lcd ? "lcd" : "lcd_contains", 0);
        if (lcd && lcdc)
            scn_fail(c, "give \"lcd\" or \"lcd_contains\", not both");
        else if (a->child->next)
            scn_fail(c, "an LCD assertion has no other keys");
        else if (!cJSON_IsString(t) || strlen(t->valuestring) >= 64)
            scn_fail(c, "expected the LCD's text, as the text frontend prints it in one line, "
                    "e.g. \"1.8.1 000123.456 kWh T1\" (at most 63 characters)");
        scn_pop(c, n);
        if (c->failed)
            return false;
        scenario_event_t *ev = new_event(c, SCENARIO_EV_ASSERT, meter);
        if (!ev)
            return false;
        ev->u.check.kind = lcd ? SCENARIO_ASSERT_LCD : SCENARIO_ASSERT_LCD_CONTAINS;
        snprintf(ev->u.check.text, sizeof ev->u.check.text, "%s", t->valuestring);
        snprintf(ev->u.check.name, sizeof ev->u.check.name, "lcd");
        return true;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(a, "field");
    scenario_assert_t as = {.kind = SCENARIO_ASSERT_FIELD};
    size_t n = scn_push(c, "field", 0);
    if (!f)
        scn_fail(c, "missing: which field to check (%s)", fields_help());
    else if (!cJSON_IsString(f) || !fields_lookup(f->valuestring, &as.field))
        scn_fail(c, "no field named %s%s%s (fields: %s)", cJSON_IsString(f) ? "\"" : "",
             cJSON_IsString(f) ? f->valuestring : "(not a string)", cJSON_IsString(f) ? "\"" : "",
             fields_help());
    else
        snprintf(as.name, sizeof as.name, "%s", f->valuestring);
    scn_pop(c, n);
    if (c->failed)
        return false;
    const cJSON *eq = cJSON_GetObjectItemCaseSensitive(a, "equals");
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(a, "min");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(a, "max");
    double lo = -INFINITY, hi = INFINITY, tol = 0;
    if (eq && (mn || mx))
        return scn_fail(c, "give \"equals\" (with \"tolerance\") or \"min\"/\"max\", not both");
    if (!eq && !mn && !mx)
        return scn_fail(c, "missing: \"equals\", or \"min\"/\"max\"");
    if (!scn_get_number(c, a, "tolerance", 0, 1e12, "(absolute)", &tol) ||
        !scn_get_number(c, a, "min", -1e15, 1e15, "", &lo) ||
        !scn_get_number(c, a, "max", -1e15, 1e15, "", &hi))
        return false;
    if (eq) {
        double x;
        size_t m = scn_push(c, "equals", 0);
        bool ok = scn_check_number(c, eq, -1e15, 1e15, "", &x);
        scn_pop(c, m);
        if (!ok)
            return false;
        as.equals = true;
        as.expect = x;
        as.tolerance = tol;
        lo = x - tol;
        hi = x + tol;
    } else if (lo > hi) {
        return scn_fail(c, "\"min\" %g is above \"max\" %g", lo, hi);
    }
    as.lo = lo;
    as.hi = hi;
    scenario_event_t *ev = new_event(c, SCENARIO_EV_ASSERT, meter);
    if (!ev)
        return false;
    ev->u.check = as;
    return true;
}


/* A value some meter state could accept. */
static bool settings_value_possible(setting_id_t id, int32_t value)
{
    settings_t s;
    settings_defaults(&s, 0);
    s.s0_rate_x100 = 1; /* the slowest rate allows every pulse width */
    settings_err_t e = settings_set(&s, id, value);
    return e != SETTINGS_E_RANGE && e != SETTINGS_E_UNKNOWN;
}

static int meter_index(scn_ctx_t *c, const cJSON *o)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "meter");
    if (!m)
        return -1;
    size_t n = scn_push(c, "meter", 0);
    int found = -2;
    for (int k = 0; k < c->sc->n_meters && cJSON_IsString(m); k++)
        if (strcmp(c->sc->meters[k].name, m->valuestring) == 0)
            found = k;
    if (found == -2)
        scn_fail(c, "no meter named %s in \"meters\"", cJSON_IsString(m) ? m->valuestring : "(not a string)");
    scn_pop(c, n);
    return found;
}

static bool parse_event(scn_ctx_t *c, const cJSON *it, uint64_t *last, scenario_grid_t *grid,
                        scenario_load_t *loads)
{
    static const char *const keys[] = {"at",     "meter",  "grid",   "load",   "tariff_input",
                                       "supply", "fault",  "set",    "reset",  "button",
                                       "hold",   "modbus", "mbus",   "assert", NULL};
    if (!cJSON_IsObject(it))
        return scn_fail(c, "expected an object with \"at\"");
    if (!scn_known_keys(c, it, keys))
        return false;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "at");
    size_t a = scn_push(c, "at", 0);
    if (!at)
        scn_fail(c, "missing: every event needs \"at\" (a duration such as \"15m\")");
    else if (scn_get_duration(c, at, &c->now) && c->now < *last)
        scn_fail(c, "events must be in time order (this one is before the one above)");
    scn_pop(c, a);
    if (c->failed)
        return false;
    *last = c->now;
    int meter = meter_index(c, it);
    if (c->failed)
        return false;

    const cJSON *g, *l, *s, *v;
    if (!scn_get_object(c, it, "grid", &g) || !scn_get_object(c, it, "load", &l) ||
        !scn_get_object(c, it, "set", &s))
        return false;
    if (g) {
        size_t n = scn_push(c, "grid", 0);
        if (meter >= 0)
            scn_fail(c, "the grid is shared by every meter: remove \"meter\" or move the grid change "
                    "to its own event");
        else if (parse_grid(c, g, grid)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_GRID, -1);
            if (ev)
                ev->u.grid = *grid;
        }
        scn_pop(c, n);
    }
    if (l && !c->failed) {
        size_t n = scn_push(c, "load", 0);
        for (int k = 0; k < c->sc->n_meters && !c->failed; k++) {
            if (meter >= 0 && k != meter)
                continue;
            if (parse_load(c, l, &loads[k])) {
                scenario_event_t *ev = new_event(c, SCENARIO_EV_LOAD, k);
                if (ev)
                    ev->u.load = loads[k];
            }
        }
        scn_pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "tariff_input");
    if (v && !c->failed) {
        size_t n = scn_push(c, "tariff_input", 0);
        if (!cJSON_IsBool(v))
            scn_fail(c, "expected true (230 V on terminals 10/11) or false");
        else {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_TARIFF_INPUT, meter);
            if (ev)
                ev->u.on = cJSON_IsTrue(v);
        }
        scn_pop(c, n);
    }
    if (s && !c->failed) {
        size_t n = scn_push(c, "set", 0);
        for (const cJSON *x = s->child; x && !c->failed; x = x->next) {
            size_t k = scn_push(c, x->string, 0);
            int id = 0;
            while (id < SETTING_COUNT && strcmp(settings_name((setting_id_t)id), x->string) != 0)
                id++;
            if (id == SETTING_COUNT)
                scn_fail(c, "unknown setting \"%s\"", x->string);
            else if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) ||
                     fabs(x->valuedouble) > 1e9)
                scn_fail(c, "expected a whole number");
            else if (!settings_value_possible((setting_id_t)id, (int32_t)x->valuedouble)) {
                /* Out of range for any meter: a mistake in the file. A refusal
                 * that depends on the meter's state (the C-05 lock, a pulse
                 * width at the S0 rate) is the meter's answer, at run time. */
                int32_t lo, hi;
                settings_range((setting_id_t)id, &lo, &hi);
                scn_fail(c, "%g is not a possible %s (%d to %d%s)", x->valuedouble, x->string, (int)lo,
                     (int)hi,
                     id == SETTING_S0_RATE || id == SETTING_MBUS_BAUD ? ", from the manual's list"
                                                                      : "");
            }
            else {
                scenario_event_t *ev = new_event(c, SCENARIO_EV_SET, meter);
                if (ev) {
                    ev->u.set.id = (setting_id_t)id;
                    ev->u.set.value = (int32_t)x->valuedouble;
                }
            }
            scn_pop(c, k);
        }
        scn_pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "supply");
    if (v && !c->failed) {
        size_t n = scn_push(c, "supply", 0);
        if (!cJSON_IsBool(v))
            scn_fail(c, "expected true (the meter's supply on) or false (off: unplugged)");
        else {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_SUPPLY, meter);
            if (ev)
                ev->u.on = cJSON_IsTrue(v);
        }
        scn_pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "fault");
    if (v && !c->failed) {
        static const char *const faults[] = {"restart", "corrupt_main", "corrupt_backup",
                                             "corrupt_both", NULL};
        int f = -1;
        if (scn_get_choice(c, it, "fault", faults, &f)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_FAULT, meter);
            if (ev)
                ev->u.fault = (scenario_fault_t)f;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "reset");
    if (v && !c->failed) {
        static const char *const what[] = {"power_down_counter", "day_counter", NULL};
        int r = -1;
        if (scn_get_choice(c, it, "reset", what, &r)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_RESET, meter);
            if (ev)
                ev->u.reset = r == 0 ? ACCESS_RESET_POWER_DOWN_COUNTER : ACCESS_RESET_DAY_COUNTER;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "button");
    const cJSON *hold = cJSON_GetObjectItemCaseSensitive(it, "hold");
    if (hold && !v && !c->failed) {
        size_t n = scn_push(c, "hold", 0);
        scn_fail(c, "\"hold\" goes with \"button\"");
        scn_pop(c, n);
    }
    if (v && !c->failed) {
        /* A tap is a 100 ms touch; "hold" says how long the finger stays. */
        static const char *const names[] = {"left", "middle", "right", NULL};
        int b = -1;
        uint64_t held = VTIME_SAMPLE_RATE / 10;
        if (scn_get_choice(c, it, "button", names, &b) && hold) {
            size_t n = scn_push(c, "hold", 0);
            scn_get_duration(c, hold, &held);
            if (!c->failed && held == 0)
                scn_fail(c, "a hold lasts longer than 0");
            scn_pop(c, n);
        }
        for (int edge = 0; edge < 2 && !c->failed; edge++) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_BUTTON, meter);
            if (ev) {
                ev->u.button.button = (menu_button_t)b;
                ev->u.button.pressed = edge == 0;
                ev->at_tick += edge ? held : 0;
            }
        }
    }
    for (int bus = 0; bus < 2 && !c->failed; bus++) {
        const char *key = bus ? "mbus" : "modbus";
        v = cJSON_GetObjectItemCaseSensitive(it, key);
        if (!v)
            continue;
        size_t n = scn_push(c, key, 0);
        scenario_xfer_t x;
        memset(&x, 0, sizeof x);
        if (meter >= 0)
            scn_fail(c, "a request goes to the bus, where every meter hears it: address a meter "
                    "by its ID, not with \"meter\"");
        else if (bus ? scn_parse_mbus(c, v, &x) : scn_parse_modbus(c, v, &x)) {
            scenario_event_t *ev = new_event(c, bus ? SCENARIO_EV_MBUS : SCENARIO_EV_MODBUS, -1);
            if (ev)
                ev->u.xfer = x;
        }
        scn_pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "assert");
    if (v && !c->failed) {
        size_t n = scn_push(c, "assert", 0);
        if (cJSON_IsArray(v)) {
            int i = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, v)
            {
                size_t k = scn_push(c, NULL, i++);
                parse_assert(c, x, meter);
                scn_pop(c, k);
                if (c->failed)
                    break;
            }
        } else {
            parse_assert(c, v, meter);
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

static void default_load(scenario_load_t *l)
{
    memset(l, 0, sizeof *l);
    for (int k = 0; k < 3; k++) {
        l->phase[k].current = profile_const(0.0);
        l->phase[k].pf = profile_const(1.0);
    }
}

static int by_time(const void *a, const void *b)
{
    const scenario_event_t *x = a, *y = b;
    if (x->at_tick != y->at_tick)
        return x->at_tick < y->at_tick ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool parse_root(scn_ctx_t *c, const cJSON *root)
{
    static const char *const keys[] = {"name",  "description", "seed", "duration", "meter",
                                       "meters", "grid",       "load", "timeline", NULL};
    scenario_t *sc = c->sc;
    static const double pos[3] = {0.0, -120.0, 120.0};
    for (int k = 0; k < 3; k++) {
        sc->grid.voltage[k] = profile_const(230.0);
        sc->grid.position_deg[k] = pos[k];
    }
    sc->grid.frequency = profile_const(50.0);
    scenario_load_t common;
    default_load(&common);

    if (!cJSON_IsObject(root))
        return scn_fail(c, "a scenario is a JSON object");
    if (!scn_known_keys(c, root, keys))
        return false;
    static const char *const texts[] = {"name", "description"};
    for (int i = 0; i < 2; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, texts[i]);
        if (t && !cJSON_IsString(t)) {
            size_t n = scn_push(c, texts[i], 0);
            scn_fail(c, "expected a string");
            scn_pop(c, n);
            return false;
        }
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name))
        snprintf(sc->name, sizeof sc->name, "%s", name->valuestring);
    double seed = 1;
    if (!scn_get_number(c, root, "seed", 0, 9007199254740991.0, "(a whole number)", &seed))
        return false;
    sc->seed = (uint64_t)seed;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "duration");
    if (d) {
        size_t n = scn_push(c, "duration", 0);
        scn_get_duration(c, d, &sc->duration);
        scn_pop(c, n);
        if (c->failed)
            return false;
    }
    const cJSON *o;
    if (!scn_get_object(c, root, "grid", &o))
        return false;
    if (o) {
        size_t n = scn_push(c, "grid", 0);
        parse_grid(c, o, &sc->grid);
        scn_pop(c, n);
    }
    if (!c->failed && scn_get_object(c, root, "load", &o) && o) {
        size_t n = scn_push(c, "load", 0);
        parse_load(c, o, &common);
        scn_pop(c, n);
    }
    if (c->failed)
        return false;

    /* "meter": {...} is "meters": [{...}] with one. */
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(root, "meter");
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(root, "meters");
    if (one && many)
        return scn_fail(c, "give \"meter\" or \"meters\", not both");
    int count = many ? (cJSON_IsArray(many) ? cJSON_GetArraySize(many) : -1) : 1;
    if (count < 1 || count > SCENARIO_MAX_METERS) {
        size_t n = scn_push(c, "meters", 0);
        scn_fail(c, "expected an array of 1 to %d meters", SCENARIO_MAX_METERS);
        scn_pop(c, n);
        return false;
    }
    sc->meters = calloc((size_t)count, sizeof *sc->meters);
    sc->load = calloc((size_t)count, sizeof *sc->load);
    sc->buses = calloc(1, sizeof *sc->buses);
    if (!sc->meters || !sc->load || !sc->buses)
        return scn_fail(c, "out of memory");
    sc->n_buses = 1;
    snprintf(sc->buses[0].name, sizeof sc->buses[0].name, "bus1");
    sc->n_meters = count;
    for (int k = 0; k < count && !c->failed; k++) {
        scenario_meter_t *m = &sc->meters[k];
        snprintf(m->name, sizeof m->name, "meter%d", k + 1);
        snprintf(m->serial, sizeof m->serial, "%08d", k + 1);
        m->model = METER_MODEL_4PU;
        m->connection = CONNECTION_3P4W;
        sc->load[k] = common;
        const cJSON *mo = many ? cJSON_GetArrayItem(many, k) : one;
        size_t n = many ? scn_push(c, "meters", 0) : scn_push(c, "meter", 0);
        size_t n2 = many ? scn_push(c, NULL, k) : n;
        if (mo && !cJSON_IsObject(mo))
            scn_fail(c, "expected an object");
        else if (mo)
            parse_meter(c, mo, m, &sc->load[k]);
        else
            settings_defaults(&m->settings, (uint32_t)(k + 1));
        for (int j = 0; j < k && !c->failed; j++)
            if (strcmp(sc->meters[j].name, m->name) == 0)
                scn_fail(c, "two meters are named \"%s\"", m->name);
        if (many)
            scn_pop(c, n2);
        scn_pop(c, n);
    }
    if (c->failed)
        return false;

    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(root, "timeline");
    if (tl) {
        size_t n = scn_push(c, "timeline", 0);
        int size = cJSON_IsArray(tl) ? cJSON_GetArraySize(tl) : -1;
        if (size < 0 || size > SCENARIO_MAX_EVENTS) {
            scn_fail(c, "expected an array of at most %d events", SCENARIO_MAX_EVENTS);
        } else {
            /* An event may expand to one entry per meter and per assertion. */
            sc->events = calloc(SCENARIO_MAX_EVENTS, sizeof *sc->events);
            if (!sc->events)
                scn_fail(c, "out of memory");
            scenario_grid_t grid = sc->grid;
            scenario_load_t *loads = malloc((size_t)sc->n_meters * sizeof *loads);
            if (!loads)
                return scn_fail(c, "out of memory");
            memcpy(loads, sc->load, (size_t)sc->n_meters * sizeof *loads);
            uint64_t last = 0;
            int i = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, tl)
            {
                if (c->failed)
                    break;
                size_t m = scn_push(c, NULL, i++);
                parse_event(c, it, &last, &grid, loads);
                scn_pop(c, m);
            }
            free(loads);
            /* Button releases lie ahead of the events after them: order by
             * time, ties in file order. */
            if (!c->failed)
                qsort(sc->events, sc->n_events, sizeof *sc->events, by_time);
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

/* An object or array is still open at the end of the text (outside strings):
 * the file was cut short. */
static bool unclosed(const char *t, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (t[i] == '\\')
                i++;
            else if (t[i] == '"')
                in_string = false;
        } else if (t[i] == '"') {
            in_string = true;
        } else if (t[i] == '{' || t[i] == '[') {
            depth++;
        } else if (t[i] == '}' || t[i] == ']') {
            depth--;
        }
    }
    return depth > 0 || in_string;
}

static bool parse_text(scn_ctx_t *c)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(c->text, c->len + 1, &end, 1);
    if (!root) {
        int line, col;
        size_t off = end ? (size_t)(end - c->text) : 0;
        jsonpos_line_col(c->text, off, &line, &col);
        snprintf(c->err, c->errlen, "%s:%d:%d: not valid JSON%s", c->file, line, col,
                 unclosed(c->text, c->len) ? " (the file ends too early)" : "");
        return false;
    }
    bool ok = parse_root(c, root);
    cJSON_Delete(root);
    return ok;
}

bool scenario_load(const char *path, scenario_t *sc, char *err, size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->file, sizeof sc->file, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "%s: not a regular file", path);
        return false;
    }
    if (st.st_size > (off_t)SCENARIO_MAX_BYTES) {
        fclose(f);
        snprintf(err, errlen, "%s: %lld bytes; a scenario is a small text file (at most 16 MiB)",
                 path, (long long)st.st_size);
        return false;
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (!text) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return false;
    }
    size_t len = fread(text, 1, (size_t)st.st_size, f);
    bool read_error = ferror(f);
    fclose(f);
    if (read_error) {
        snprintf(err, errlen, "%s: read error", path);
        free(text);
        return false;
    }
    text[len] = '\0';
    scn_ctx_t c = {.file = path, .text = text, .len = len, .sc = sc, .err = err, .errlen = errlen,
               .self_ino = st.st_ino, .self_dev = st.st_dev};
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(c.dir, sizeof c.dir, "%.*s/", (int)(slash - path), path);
    bool ok = parse_text(&c);
    free(text);
    if (!ok)
        scenario_free(sc);
    return ok;
}

bool scenario_default(scenario_t *sc, char *err, size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->file, sizeof sc->file, "(default scenario)");
    scn_ctx_t c = {.file = sc->file,
               .text = default_json,
               .len = sizeof default_json - 1,
               .sc = sc,
               .err = err,
               .errlen = errlen};
    bool ok = parse_text(&c);
    if (!ok)
        scenario_free(sc);
    return ok;
}

void scenario_free(scenario_t *sc)
{
    free(sc->meters);
    free(sc->load);
    free(sc->buses);
    sc->meters = NULL;
    sc->load = NULL;
    sc->buses = NULL;
    free(sc->events);
    for (size_t i = 0; i < sc->n_arrays; i++)
        free(sc->arrays[i]);
    free(sc->arrays);
    sc->events = NULL;
    sc->arrays = NULL;
    sc->n_events = sc->n_arrays = 0;
}

void scenario_wave(const scenario_grid_t *g, const scenario_load_t *l, uint64_t seed, uint64_t tick,
                   wave_desc_t *out)
{
    memset(out, 0, sizeof *out);
    out->frequency = profile_at(&g->frequency, tick);
    out->noise_v = g->noise_v;
    out->noise_i = l->noise_i;
    out->seed = seed;
    for (int k = 0; k < 3; k++) {
        wave_phase_t *p = &out->phase[k];
        const scenario_phase_t *lp = &l->phase[k];
        p->voltage = profile_at(&g->voltage[k], tick);
        p->position_deg = g->position_deg[k];
        p->current = profile_at(&lp->current, tick);
        p->lag_deg = lp->use_angle ? lp->angle_deg
                                   : wave_lag_from_pf(profile_at(&lp->pf, tick), lp->capacitive,
                                                      lp->export_);
        memcpy(p->vh, g->vh, sizeof p->vh);
        p->n_vh = g->n_vh;
        memcpy(p->ih, lp->ih, sizeof p->ih);
        p->n_ih = lp->n_ih;
    }
}
