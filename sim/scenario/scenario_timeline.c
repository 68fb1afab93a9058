/* scenario_timeline: the "timeline" of a scenario, event by event: what
 * happens (grid, load, tariff input, supply, faults, settings, resets,
 * buttons), the requests of the scenario as a master, and the assertions
 * (docs/scenario.md, "Timeline"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_internal.h"

static scenario_event_t *new_event(scn_ctx_t *c, scenario_ev_kind_t kind, int meter)
{
    scenario_t *sc = c->sc;
    if (sc->n_events >= SCENARIO_MAX_EVENTS) {
        scn_fail(c, "more than %d events", SCENARIO_MAX_EVENTS);
        return NULL;
    }
    if (sc->n_events == c->events_cap) {
        /* Grown as needed: a timeline's events are large, and most are few. */
        size_t cap = c->events_cap ? 2 * c->events_cap : 64;
        cap = cap > SCENARIO_MAX_EVENTS ? SCENARIO_MAX_EVENTS : cap;
        scenario_event_t *e = realloc(sc->events, cap * sizeof *e);
        if (!e) {
            scn_fail(c, "out of memory");
            return NULL;
        }
        sc->events = e;
        c->events_cap = cap;
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
    static const char *const keys[] = {"field", "equals", "tolerance",    "min",
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
                 cJSON_IsString(f) ? f->valuestring : "(not a string)",
                 cJSON_IsString(f) ? "\"" : "", fields_help());
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
    s.s0_rate_x100 = 1;         /* the slowest rate allows every pulse width */
    s.model = METER_MODEL_2PCT; /* and the CT variant every CT ratio */
    settings_err_t e = settings_set(&s, id, value);
    return e != SETTINGS_E_RANGE && e != SETTINGS_E_UNKNOWN;
}

static int meter_index(scn_ctx_t *c, const cJSON *o)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "meter");
    if (!m)
        return -1;
    size_t n = scn_push(c, "meter", 0);
    int found = cJSON_IsString(m) ? scn_name_find(c, m->valuestring) : -1;
    if (found < 0)
        scn_fail(c, "no meter named %s in \"meters\"",
                 cJSON_IsString(m) ? m->valuestring : "(not a string)");
    scn_pop(c, n);
    return found < 0 ? -2 : found;
}

/* The bus of a request: "bus" names one; the first without it. */
static int bus_index(scn_ctx_t *c, const cJSON *o)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bus");
    if (!b)
        return 0;
    size_t n = scn_push(c, "bus", 0);
    int found = -1;
    for (int k = 0; k < c->sc->n_buses && cJSON_IsString(b); k++)
        if (strcmp(c->sc->buses[k].name, b->valuestring) == 0)
            found = k;
    if (!cJSON_GetObjectItemCaseSensitive(o, "modbus") &&
        !cJSON_GetObjectItemCaseSensitive(o, "mbus"))
        scn_fail(c, "\"bus\" goes with \"modbus\" or \"mbus\": the line a request goes on");
    else if (found < 0)
        scn_fail(c, "no bus named %s%s%s in \"buses\"", cJSON_IsString(b) ? "\"" : "",
                 cJSON_IsString(b) ? b->valuestring : "(not a string)",
                 cJSON_IsString(b) ? "\"" : "");
    scn_pop(c, n);
    return found;
}

bool scn_parse_event(scn_ctx_t *c, const cJSON *it, uint64_t *last, scenario_grid_t *grid,
                     scenario_load_t *loads)
{
    static const char *const keys[] = {
        "at",    "meter",  "grid", "load",   "tariff_input", "supply", "fault",  "set",
        "reset", "button", "hold", "modbus", "mbus",         "bus",    "assert", NULL};
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
    c->n_cache = 0;
    int meter = meter_index(c, it);
    int on_bus = c->failed ? 0 : bus_index(c, it);
    if (c->failed)
        return false;

    const cJSON *g, *l, *s, *v;
    if (!scn_get_object(c, it, "grid", &g) || !scn_get_object(c, it, "load", &l) ||
        !scn_get_object(c, it, "set", &s))
        return false;
    if (g) {
        size_t n = scn_push(c, "grid", 0);
        if (meter >= 0)
            scn_fail(c,
                     "the grid is shared by every meter: remove \"meter\" or move the grid change "
                     "to its own event");
        else if (scn_parse_grid(c, g, grid)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_GRID, -1);
            if (ev)
                ev->u.grid = *grid;
        }
        scn_pop(c, n);
    }
    if (l && !c->failed) {
        size_t n = scn_push(c, "load", 0);
        size_t count = meter >= 0 ? 1 : (size_t)c->sc->n_meters;
        if (c->sc->n_events + count > SCENARIO_MAX_EVENTS)
            scn_fail(c,
                     "a load change is one event per meter it changes: with this one for %zu "
                     "meter%s the timeline would hold more than %d events (give \"meter\", "
                     "or change the load less often)",
                     count, count == 1 ? "" : "s", SCENARIO_MAX_EVENTS);
        for (int k = 0; k < c->sc->n_meters && !c->failed; k++) {
            if (meter >= 0 && k != meter)
                continue;
            if (!scn_parse_load(c, l, &loads[k]))
                break;
            if (c->vary_hi[k] > 0)
                scn_vary_load_change(c, l, k, &loads[k]);
            else {
                char who[48];
                snprintf(who, sizeof who, "meter \"%.31s\": ", c->sc->meters[k].name);
                scn_check_imax(c, c->sc->meters[k].model, &loads[k], 1.0, who);
            }
            scenario_event_t *ev = c->failed ? NULL : new_event(c, SCENARIO_EV_LOAD, k);
            if (ev)
                ev->u.load = loads[k];
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
            else if (!scn_check_int(c, x, -1e9, 1e9, "(the setting's value)", &(double){0}))
                ;
            else if (!settings_value_possible((setting_id_t)id, (int32_t)x->valuedouble)) {
                /* Out of range for any meter: a mistake in the file. A refusal
                 * that depends on the meter's state (the C-05 lock, a pulse
                 * width at the S0 rate) is the meter's answer, at run time. */
                int32_t lo, hi;
                settings_range((setting_id_t)id, &lo, &hi);
                scn_fail(c, "%g is not a possible %s (%d to %d%s)", x->valuedouble, x->string,
                         (int)lo, (int)hi,
                         id == SETTING_S0_RATE || id == SETTING_MBUS_BAUD
                             ? ", from the manual's list"
                             : "");
            } else {
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
        const char *faults[METER_FAULT_COUNT + 1];
        for (int k = 0; k <= METER_FAULT_COUNT; k++)
            faults[k] = meter_fault_name((meter_fault_t)k); /* NULL-terminated */
        int f = -1;
        if (scn_get_choice(c, it, "fault", faults, &f)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_FAULT, meter);
            if (ev)
                ev->u.fault = (meter_fault_t)f;
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
            x.bus = on_bus;
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

int scn_by_time(const void *a, const void *b)
{
    const scenario_event_t *x = a, *y = b;
    if (x->at_tick != y->at_tick)
        return x->at_tick < y->at_tick ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}
