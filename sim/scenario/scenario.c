/* scenario: load and check a scenario file (see scenario.h, docs/scenario.md). */
#include "scenario_internal.h"
#include "variant.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
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
                 scn_get_int(c, it, "order", 2, WAVE_MAX_ORDER, "(harmonic order)", &order) &&
                 scn_get_number(c, it, "percent", 0, 100, "% of the fundamental", &percent) &&
                 scn_get_number(c, it, "phase", -360, 360, "degrees", &phase)) {
            if (!cJSON_GetObjectItemCaseSensitive(it, "order"))
                scn_fail(c, "missing \"order\"");
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

bool scn_parse_grid(scn_ctx_t *c, const cJSON *g, scenario_grid_t *grid)
{
    static const char *const keys[] = {"voltage",   "frequency", "phase_angles",
                                       "harmonics", "noise",     NULL};
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
            scn_check_number(c, cJSON_GetArrayItem(pa, k), -360, 360, "degrees",
                             &grid->position_deg[k]);
            scn_pop(c, m);
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

/* One phase's load on top of what it was. `o` is a phase's object, or the
 * whole load (`whole`), whose other keys are read by parse_load. */
static bool parse_phase_load(scn_ctx_t *c, const cJSON *o, scenario_phase_t *p, bool whole)
{
    static const char *const keys[] = {"current", "pf",        "reactive", "direction",
                                       "angle",   "harmonics", NULL};
    static const char *const whole_keys[] = {"current", "pf",        "reactive", "direction",
                                             "angle",   "harmonics", "noise",    "L1",
                                             "L2",      "L3",        NULL};
    static const char *const reactive[] = {"inductive", "capacitive", NULL};
    static const char *const direction[] = {"import", "export", NULL};
    if (!scn_known_keys(c, o, whole ? whole_keys : keys))
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
        !scn_get_number(c, o, "angle", -360, 360, "degrees (current lagging voltage)",
                        &p->angle_deg) ||
        !parse_harmonics(c, o, p->ih, &p->n_ih))
        return false;
    if (angle)
        p->use_angle = true;
    p->capacitive = cap;
    p->export_ = exp_;
    return true;
}

static const char *const phase_names[] = {"L1", "L2", "L3"};

/* Fields for all phases first, then L1/L2/L3 objects on top of them. The
 * JSON is only read, never copied, so that a profile read once for a load
 * change of every meter is found again (scn_parse_profile). */
bool scn_parse_load(scn_ctx_t *c, const cJSON *l, scenario_load_t *load)
{
    if (!scn_get_number(c, l, "noise", 0, 10, "A RMS", &load->noise_i))
        return false;
    for (int k = 0; k < 3 && !c->failed; k++)
        parse_phase_load(c, l, &load->phase[k], true);
    for (int k = 0; k < 3 && !c->failed; k++) {
        const cJSON *o;
        if (!scn_get_object(c, l, phase_names[k], &o))
            return false;
        if (o) {
            size_t n = scn_push(c, phase_names[k], 0);
            parse_phase_load(c, o, &load->phase[k], false);
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
        } else if (scn_check_int(c, it, -1e9, 1e9, "(the setting's value)", &(double){0})) {
            settings_err_t e = settings_set(s, (setting_id_t)id, (int32_t)it->valuedouble);
            if (e != SETTINGS_OK)
                scn_fail(c, "%g refused: %s", it->valuedouble, settings_strerror(e));
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

/* A template: one entry of "meters" with "count" that stands for `count`
 * meters (docs/scenario.md, Buses and fleets). */
typedef struct {
    int n, count;    /* the meter being read, 1..count */
    const char *bus; /* its bus's name, for the default name "<bus>-{n}" */
    scn_vary_t vary;
    scenario_load_t load; /* the template's load, read with its first meter */
} tmpl_t;

/* A template's name with "{n}" or "{n:0W}" (zero-padded to W digits) made
 * meter n's. */
static bool expand_name(scn_ctx_t *c, const char *pat, const tmpl_t *t, char *out, size_t cap)
{
    char buf[512];
    size_t len = 0;
    bool numbered = false;
    for (const char *p = pat; *p && len < sizeof buf - 32;) {
        if (p[0] == '{' && p[1] == 'n' && (p[2] == '}' || p[2] == ':')) {
            const char *q = p + 2;
            long width = 0;
            if (*q == ':') {
                char *end;
                width = q[1] == '0' && q[2] >= '1' && q[2] <= '9' ? strtol(q + 2, &end, 10) : 0;
                q = width ? end : q;
            }
            if (*q != '}' || width > 16)
                return scn_fail(c,
                                "\"%s\": a meter's number is written {n}, or {n:03} for 001, "
                                "002, ... (zero-padded to 1-16 digits)",
                                pat);
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%0*d", (int)width, t->n);
            numbered = true;
            p = q + 1;
        } else {
            buf[len++] = *p++;
        }
    }
    buf[len] = '\0';
    if (!numbered && t->count > 1)
        return scn_fail(c,
                        "\"%s\": a template of %d meters needs {n} in its name (each meter's "
                        "number, 1 to %d), so that every meter has its own",
                        pat, t->count, t->count);
    if (len == 0 || len >= cap)
        return scn_fail(c, "\"%s\" makes meter %d's name \"%s\"; a name has 1 to %zu characters",
                        pat, t->n, buf, cap - 1);
    memcpy(out, buf, len + 1);
    return true;
}

/* A template's first serial, plus n - 1, in as many digits as it has (or
 * more). */
static bool template_serial(scn_ctx_t *c, const char *first, const tmpl_t *t, char *out)
{
    unsigned long long v = strtoull(first, NULL, 10);
    if (v > 9999999999999999ull - (unsigned long long)(t->count - 1))
        return scn_fail(c,
                        "a template of %d meters numbers their serials from \"%s\": the last "
                        "would have more than 16 digits",
                        t->count, first);
    snprintf(out, 17, "%0*llu", (int)strlen(first), v + (unsigned long long)(t->n - 1));
    return true;
}

/* A template's IDs: from the one given in "settings" (else from 1), one
 * more per meter. */
static bool template_id(scn_ctx_t *c, const cJSON *o, const tmpl_t *t, const char *name,
                        settings_t *s, setting_id_t id, int from, const char *what)
{
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(o, "settings");
    bool given = cJSON_GetObjectItemCaseSensitive(set, name) != NULL;
    int32_t lo, hi;
    settings_range(id, &lo, &hi);
    int first = given ? (int)settings_get(s, id) : from, last = first + t->count - 1;
    if (last > hi) {
        size_t n = given ? scn_push(c, "settings", 0) : scn_push(c, "count", 0);
        if (given)
            scn_push(c, name, 0);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        char pat[64];
        snprintf(pat, sizeof pat, "%s-{n}", t->bus);
        scn_fail(c, "the template \"%s\" of %d meters would take %s %d to %d; a bus has %d to %d%s",
                 cJSON_IsString(nm) ? nm->valuestring : pat, t->count, what, first, last, (int)lo,
                 (int)hi,
                 given ? ""
                       : " (a template numbers them from 1 unless its settings give the first)");
        scn_pop(c, n);
        return false;
    }
    if (settings_set(s, id, first + t->n - 1) != SETTINGS_OK)
        return scn_fail(c, "%s %d refused", what, first + t->n - 1);
    return true;
}

/* One meter, or meter t->n of template t (then `o` is read once per meter,
 * its load only with the first). */
static bool parse_meter(scn_ctx_t *c, const cJSON *o, scenario_meter_t *m, scenario_load_t *load,
                        tmpl_t *t)
{
    static const char *const keys[] = {"name",     "model",     "serial",           "connection",
                                       "settings", "registers", "power_down_count", "turnaround",
                                       "load",     NULL};
    static const char *const tkeys[] = {
        "name",       "model", "serial", "connection", "settings", "registers", "power_down_count",
        "turnaround", "load",  "count",  "vary",       NULL};
    static const char *const models[] = {"4PU", "4PS", "2PCT", NULL}; /* meter_model_t order */
    static const char *const conns[] = {"3P4W", "3P3W-aron", "3P3W-delta", "1P2W", NULL};
    int model = (int)m->model, conn = (int)m->connection;
    if (!scn_known_keys(c, o, t ? tkeys : keys) || !scn_get_choice(c, o, "model", models, &model) ||
        !scn_get_choice(c, o, "connection", conns, &conn))
        return false;
    m->model = (meter_model_t)model;
    m->connection = (connection_t)conn;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (name) {
        size_t n = scn_push(c, "name", 0);
        if (!cJSON_IsString(name) || !name->valuestring[0] ||
            (!t && strlen(name->valuestring) >= sizeof m->name))
            scn_fail(c, "expected a name of 1 to %zu characters", sizeof m->name - 1);
        else if (t)
            expand_name(c, name->valuestring, t, m->name, sizeof m->name);
        else
            snprintf(m->name, sizeof m->name, "%s", name->valuestring);
        scn_pop(c, n);
    } else if (t) {
        char pat[64];
        snprintf(pat, sizeof pat, "%s-{n}", t->bus);
        expand_name(c, pat, t, m->name, sizeof m->name);
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
        else if (t)
            template_serial(c, s->valuestring, t, m->serial);
        else
            memcpy(m->serial, s->valuestring, len + 1);
        scn_pop(c, n);
    }
    if (c->failed)
        return false;
    /* The secondary address follows the serial number (A2.1) unless set. */
    settings_defaults(&m->settings, settings_serial_number(m->serial));
    m->settings.model = (uint8_t)m->model; /* what its settings accept is its model's */
    const cJSON *sub;
    if (!c->failed && scn_get_object(c, o, "settings", &sub) && sub) {
        size_t n = scn_push(c, "settings", 0);
        parse_settings(c, sub, &m->settings);
        scn_pop(c, n);
    }
    if (t && !c->failed &&
        (!template_id(c, o, t, "modbus_id", &m->settings, SETTING_MODBUS_ID, 1, "Modbus IDs") ||
         !template_id(c, o, t, "mbus_id", &m->settings, SETTING_MBUS_ID, 1, "M-Bus addresses")))
        return false;
    double pdc = 0;
    if (!c->failed && scn_get_int(c, o, "power_down_count", 0, 65535, "(counter)", &pdc))
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
                scn_fail(c,
                         "\"%s\" is not an energy register (active_forward.total, "
                         "reactive_q1.T2, resettable.L1, ...)",
                         it->string);
            else if (scn_check_number(c, it, 0, 999999.999, "kWh (6+3 digits, manual 6.2)", &v))
                m->registers[m->n_registers++] = (scenario_register_t){reg, v};
            scn_pop(c, k);
        }
        scn_pop(c, n);
    }
    if (c->failed)
        return false;
    if (t && t->n > 1) {
        *load = t->load;
        return true;
    }
    if (scn_get_object(c, o, "load", &sub) && sub) {
        size_t n = scn_push(c, "load", 0);
        scn_parse_load(c, sub, load);
        scn_pop(c, n);
    }
    const cJSON *vary = t ? cJSON_GetObjectItemCaseSensitive(o, "vary") : NULL;
    if (vary && !c->failed) {
        size_t n = scn_push(c, "vary", 0);
        if (scn_parse_vary(c, vary, &t->vary) && t->vary.current) {
            size_t k = scn_push(c, "current", 0);
            for (int p = 0; p < 3 && !c->failed; p++)
                scn_check_scaled(c, &load->phase[p].current, p, t->vary.hi, "");
            scn_pop(c, k);
        }
        scn_pop(c, n);
    }
    /* Its terminals take at most its Imax (4; the CT version: variant.h). */
    scn_check_imax(c, m->model, load, t && t->vary.current ? t->vary.hi : 1.0, "");
    if (t)
        t->load = *load;
    return !c->failed;
}

bool scn_check_imax(scn_ctx_t *c, meter_model_t model, const scenario_load_t *load, double hi,
                    const char *who)
{
    const variant_t *var = variant_of(model);
    for (int p = 0; p < 3 && !c->failed; p++) {
        double top = scn_profile_max(&load->phase[p].current) * hi;
        if (top > var->imax_a)
            scn_fail(c,
                     "%sL%d's current reaches %g A; a %s takes at most %u A at its terminals "
                     "(Imax%s)",
                     who, p + 1, top, var->name, (unsigned)var->imax_a,
                     var->ct ? ": the CT's secondary; its registers show primary values"
                             : ", manual 4");
    }
    return !c->failed;
}

/* Room for `n` meters in all. */
static bool room_for_meters(scn_ctx_t *c, size_t n)
{
    scenario_t *sc = c->sc;
    if (n <= c->meters_cap)
        return true;
    size_t cap = c->meters_cap < 8 ? 8 : 2 * c->meters_cap;
    cap = cap < n ? n : cap;
    scenario_meter_t *m = realloc(sc->meters, cap * sizeof *m);
    if (m)
        sc->meters = m;
    scenario_load_t *l = realloc(sc->load, cap * sizeof *l);
    if (l)
        sc->load = l;
    double *h = realloc(c->vary_hi, cap * sizeof *h);
    if (h)
        c->vary_hi = h;
    if (!m || !l || !h)
        return scn_fail(c, "out of memory");
    c->meters_cap = cap;
    return true;
}

/* One entry of a "meters" array (or "meter"; NULL: the default meter): a
 * meter, or with "count" a template for many, on bus b. */
static bool add_meters(scn_ctx_t *c, const cJSON *o, int b, const scenario_load_t *common,
                       bool single)
{
    scenario_t *sc = c->sc;
    if (o && !cJSON_IsObject(o))
        return scn_fail(c, "expected an object");
    const cJSON *cnt = o && !single ? cJSON_GetObjectItemCaseSensitive(o, "count") : NULL;
    int count = 1;
    if (cnt) {
        size_t n = scn_push(c, "count", 0);
        double x = 0;
        scn_check_int(c, cnt, 1, SCENARIO_MAX_METERS, "meters", &x);
        count = (int)x;
        if (!c->failed && sc->n_meters + count > SCENARIO_MAX_METERS)
            scn_fail(c, "%d more meters make %d; a scenario holds at most %d", count,
                     sc->n_meters + count, SCENARIO_MAX_METERS);
        scn_pop(c, n);
    } else if (sc->n_meters >= SCENARIO_MAX_METERS) {
        scn_fail(c, "more than %d meters; a scenario holds at most %d", SCENARIO_MAX_METERS,
                 SCENARIO_MAX_METERS);
    } else if (o && !single && cJSON_GetObjectItemCaseSensitive(o, "vary")) {
        size_t n = scn_push(c, "vary", 0);
        scn_fail(c, "\"vary\" goes with \"count\": it varies the meters of a template");
        scn_pop(c, n);
    }
    if (c->failed || !room_for_meters(c, (size_t)sc->n_meters + (size_t)count))
        return false;
    tmpl_t t = {.count = count, .bus = sc->buses[b].name};
    for (int n = 1; n <= count && !c->failed; n++) {
        int k = sc->n_meters;
        scenario_meter_t *m = &sc->meters[k];
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "meter%d", k + 1);
        snprintf(m->serial, sizeof m->serial, "%08d", k + 1);
        m->model = METER_MODEL_4PU;
        m->connection = CONNECTION_3P4W;
        m->bus = b;
        m->vary_current = 1.0;
        m->vary_pf = -1.0;
        c->vary_hi[k] = 0;
        sc->load[k] = *common;
        t.n = n;
        if (o)
            parse_meter(c, o, m, &sc->load[k], cnt ? &t : NULL);
        else
            settings_defaults(&m->settings, (uint32_t)(k + 1));
        if (!c->failed && cnt && (t.vary.current || t.vary.pf))
            scn_apply_vary(c, &t.vary, &t.load, k);
        int other;
        if (!c->failed && !scn_name_add(c, m->name, k, &other))
            scn_fail(c, "two meters are named \"%s\"", m->name);
        if (!c->failed)
            sc->n_meters++;
        else if (c->collect && scn_name_find(c, m->name) < 0 && scn_name_add(c, m->name, k, &other))
            sc->n_meters++; /* the timeline's references to it are still checked */
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

/* A bus's name: what events and the default names of its templates' meters
 * use, so kept to characters that are safe in file names and URLs. */
static bool bus_name(scn_ctx_t *c, const cJSON *v, char *out, size_t cap)
{
    size_t n = scn_push(c, "name", 0);
    size_t len = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
    bool ok = len >= 1 && len < cap;
    for (size_t i = 0; ok && i < len; i++) {
        char ch = v->valuestring[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.';
    }
    if (!ok)
        scn_fail(c, "expected a name of 1 to %zu letters, digits, '-', '_' or '.'", cap - 1);
    else
        memcpy(out, v->valuestring, len + 1);
    scn_pop(c, n);
    return ok;
}

/* "buses": [{"name", "modbus", "mbus", "gateway_timeout", "meters"}, ...]. */
static bool parse_buses(scn_ctx_t *c, const cJSON *arr, const scenario_load_t *common)
{
    static const char *const keys[] = {"name", "modbus", "mbus", "gateway_timeout", "meters", NULL};
    scenario_t *sc = c->sc;
    int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (count < 1 || count > SCENARIO_MAX_BUSES)
        return scn_fail(c,
                        "expected an array of 1 to %d buses, each {\"name\", \"modbus\", "
                        "\"mbus\", \"meters\"}",
                        SCENARIO_MAX_BUSES);
    sc->buses = calloc((size_t)count, sizeof *sc->buses);
    if (!sc->buses)
        return scn_fail(c, "out of memory");
    for (int b = 0; b < count && scn_go_on(c); b++) {
        const cJSON *o = cJSON_GetArrayItem(arr, b);
        scenario_bus_t *bus = &sc->buses[b];
        size_t n = scn_push(c, NULL, b);
        sc->n_buses = b + 1;
        snprintf(bus->name, sizeof bus->name, "bus%d", b + 1);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *gt = cJSON_GetObjectItemCaseSensitive(o, "gateway_timeout");
        const cJSON *meters = cJSON_GetObjectItemCaseSensitive(o, "meters");
        if (!cJSON_IsObject(o)) {
            scn_fail(c, "expected a bus {\"name\", \"modbus\", \"mbus\", \"meters\"}");
        } else if (scn_known_keys(c, o, keys) &&
                   (!name || bus_name(c, name, bus->name, sizeof bus->name))) {
            for (int j = 0; j < b && !c->failed; j++) {
                if (strcmp(sc->buses[j].name, bus->name) == 0) {
                    size_t k = name ? scn_push(c, "name", 0) : n;
                    scn_fail(c, "two buses are named \"%s\"%s", bus->name,
                             name ? "" : " (a bus without \"name\" is bus<its number>)");
                    scn_pop(c, k);
                }
            }
        }
        if (!c->failed && scn_get_endpoints(c, o, "modbus", b) &&
            scn_get_endpoints(c, o, "mbus", b) && gt) {
            uint64_t ticks = 0;
            size_t k = scn_push(c, "gateway_timeout", 0);
            if (scn_get_duration(c, gt, &ticks) &&
                (ticks < VTIME_SAMPLE_RATE / 1000 || ticks > 60ull * VTIME_SAMPLE_RATE))
                scn_fail(c, "a gateway timeout lies between 1 ms and 60 s");
            bus->gateway_timeout_ns = ticks * VTIME_NS_PER_TICK;
            scn_pop(c, k);
        }
        if (!c->failed && (!cJSON_IsArray(meters) || cJSON_GetArraySize(meters) < 1)) {
            size_t k = meters ? scn_push(c, "meters", 0) : n;
            scn_fail(c, "a bus needs \"meters\": an array of meters and templates (\"count\")");
            scn_pop(c, k);
        }
        int i = 0;
        /* A bus with an error in its endpoints still has its meters checked. */
        const cJSON *it, *list = scn_go_on(c) && cJSON_IsArray(meters) ? meters : NULL;
        cJSON_ArrayForEach(it, list)
        {
            size_t k = scn_push(c, "meters", 0);
            scn_push(c, NULL, i++);
            add_meters(c, it, b, common, false);
            scn_pop(c, k);
            if (!scn_go_on(c))
                break;
        }
        scn_pop(c, n);
    }
    return !c->failed;
}

static bool parse_root(scn_ctx_t *c, const cJSON *root)
{
    static const char *const keys[] = {"name",  "description", "seed",  "duration",
                                       "meter", "meters",      "buses", "grid",
                                       "load",  "timeline",    NULL};
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
            if (!scn_go_on(c))
                return false;
        }
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name))
        snprintf(sc->name, sizeof sc->name, "%s", name->valuestring);
    double seed = 1;
    if (!scn_get_int(c, root, "seed", 0, 9007199254740991.0, "(0 to 2^53 - 1)", &seed) &&
        !scn_go_on(c))
        return false;
    sc->seed = (uint64_t)seed;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "duration");
    if (d) {
        size_t n = scn_push(c, "duration", 0);
        scn_get_duration(c, d, &sc->duration);
        scn_pop(c, n);
        if (!scn_go_on(c))
            return false;
    }
    const cJSON *o;
    if (!scn_get_object(c, root, "grid", &o) && !scn_go_on(c))
        return false;
    if (o) {
        size_t n = scn_push(c, "grid", 0);
        scn_parse_grid(c, o, &sc->grid);
        scn_pop(c, n);
    }
    o = NULL;
    if (scn_go_on(c) && scn_get_object(c, root, "load", &o) && o) {
        size_t n = scn_push(c, "load", 0);
        scn_parse_load(c, o, &common);
        scn_pop(c, n);
    }
    /* A load with an error keeps what was read before it: the meters are
     * still checked against it. */
    if (!scn_go_on(c))
        return false;

    c->names = calloc(SCN_NAMES_CAP, sizeof *c->names);
    if (!c->names)
        return scn_fail(c, "out of memory");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(root, "meter");
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(root, "meters");
    const cJSON *buses = cJSON_GetObjectItemCaseSensitive(root, "buses");
    if (buses && (one || many))
        return scn_fail(c, "give \"buses\" (each with its \"meters\") or \"meter\"/\"meters\", "
                           "not both");
    if (buses) {
        size_t n = scn_push(c, "buses", 0);
        parse_buses(c, buses, &common);
        scn_pop(c, n);
    } else {
        /* One bus, "bus1", without endpoints; "meter": {...} is "meters":
         * [{...}] with one. */
        if (one && many)
            return scn_fail(c, "give \"meter\" or \"meters\", not both");
        int count = many ? (cJSON_IsArray(many) ? cJSON_GetArraySize(many) : -1) : 1;
        if (count < 1 || count > SCENARIO_MAX_METERS) {
            size_t n = scn_push(c, "meters", 0);
            scn_fail(c, "expected an array of 1 to %d meters", SCENARIO_MAX_METERS);
            scn_pop(c, n);
            return false;
        }
        sc->buses = calloc(1, sizeof *sc->buses);
        if (!sc->buses)
            return scn_fail(c, "out of memory");
        sc->n_buses = 1;
        snprintf(sc->buses[0].name, sizeof sc->buses[0].name, "bus1");
        for (int k = 0; k < count && scn_go_on(c); k++) {
            size_t n = many ? scn_push(c, "meters", 0) : scn_push(c, "meter", 0);
            if (many)
                scn_push(c, NULL, k);
            add_meters(c, many ? cJSON_GetArrayItem(many, k) : one, 0, &common, !many);
            scn_pop(c, n);
        }
    }
    if (!scn_go_on(c))
        return false;

    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(root, "timeline");
    if (tl) {
        size_t n = scn_push(c, "timeline", 0);
        int size = cJSON_IsArray(tl) ? cJSON_GetArraySize(tl) : -1;
        if (size < 0 || size > SCENARIO_MAX_EVENTS) {
            scn_fail(c, "expected an array of at most %d events", SCENARIO_MAX_EVENTS);
        } else {
            scenario_grid_t grid = sc->grid;
            /* --check goes on after meters with errors: there may be none. */
            size_t n_loads = sc->n_meters > 0 ? (size_t)sc->n_meters : 1;
            scenario_load_t *loads = malloc(n_loads * sizeof *loads);
            if (!loads)
                return scn_fail(c, "out of memory");
            if (sc->n_meters > 0)
                memcpy(loads, sc->load, (size_t)sc->n_meters * sizeof *loads);
            uint64_t last = 0;
            int i = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, tl)
            {
                if (!scn_go_on(c))
                    break;
                size_t m = scn_push(c, NULL, i++);
                scn_parse_event(c, it, &last, &grid, loads);
                scn_pop(c, m);
            }
            free(loads);
            /* Button releases lie ahead of the events after them: order by
             * time, ties in file order. */
            if (!c->failed && sc->n_events)
                qsort(sc->events, sc->n_events, sizeof *sc->events, scn_by_time);
        }
        scn_pop(c, n);
    }
    return !c->failed && c->n_errors == 0;
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
    int line, col;
    /* cJSON takes a NUL byte for white space; in a string it would cut it
     * short. A scenario is text: refused where it is. */
    const char *nul = memchr(c->text, '\0', c->len);
    if (nul) {
        jsonpos_line_col(c->text, (size_t)(nul - c->text), &line, &col);
        snprintf(c->err, c->errlen, "%s:%d:%d: a NUL byte; a scenario is a text file (JSON)",
                 c->file, line, col);
        return false;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(c->text, c->len + 1, &end, 1);
    if (!root) {
        size_t off = end ? (size_t)(end - c->text) : 0;
        jsonpos_line_col(c->text, off, &line, &col);
        snprintf(c->err, c->errlen, "%s:%d:%d: not valid JSON%s", c->file, line, col,
                 unclosed(c->text, c->len) ? " (the file ends too early)" : "");
        return false;
    }
    /* What cJSON lets pass: a key twice, \\u0000, how numbers are written. */
    size_t off = 0;
    char msg[256];
    if (!jsontext_check(c->text, c->len, root, &c->jt, &off, c->path, sizeof c->path, msg,
                        sizeof msg)) {
        jsonpos_line_col(c->text, off, &line, &col);
        snprintf(c->err, c->errlen, "%s:%d:%d: %s: %s", c->file, line, col, c->path, msg);
        cJSON_Delete(root);
        jsontext_free(&c->jt);
        return false;
    }
    c->path[0] = '\0';
    bool ok = parse_root(c, root);
    cJSON_Delete(root);
    jsontext_free(&c->jt);
    free(c->names);
    free(c->vary_hi);
    c->names = NULL;
    c->vary_hi = NULL;
    return ok;
}

bool scenario_load(const char *path, scenario_t *sc, char *err, size_t errlen)
{
    return scenario_load_opts(path, NULL, sc, err, errlen);
}

bool scenario_load_opts(const char *path, const scenario_opts_t *opts, scenario_t *sc, char *err,
                        size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->file, sizeof sc->file, "%s", path);
    struct stat st;
    char why[512];
    FILE *f = scn_open_file(path, &st, why, sizeof why);
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, why);
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
    scn_ctx_t c = {.file = path,
                   .text = text,
                   .len = len,
                   .sc = sc,
                   .err = err,
                   .errlen = errlen,
                   .self_ino = st.st_ino,
                   .self_dev = st.st_dev};
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(c.dir, sizeof c.dir, "%.*s/", (int)(slash - path), path);
    c.allow_outside = opts && opts->allow_outside_paths;
    c.collect = opts && opts->all_errors;
    char root[PATH_MAX];
    if (realpath(c.dir[0] ? c.dir : ".", root))
        snprintf(c.root, sizeof c.root, "%s", root);
    bool ok = parse_text(&c);
    if (c.collect && c.n_errors > SCENARIO_MAX_ERRORS && c.err_used + 1 < errlen)
        snprintf(err + c.err_used, errlen - c.err_used, "\n%s: %d more errors not shown", path,
                 c.n_errors - SCENARIO_MAX_ERRORS);
    free(text);
    if (!ok)
        scenario_free(sc);
    return ok;
}

const char *scenario_default_text(void)
{
    return default_json;
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
        p->lag_deg = lp->use_angle
                         ? lp->angle_deg
                         : wave_lag_from_pf(profile_at(&lp->pf, tick), lp->capacitive, lp->export_);
        memcpy(p->vh, g->vh, sizeof p->vh);
        p->n_vh = g->n_vh;
        memcpy(p->ih, lp->ih, sizeof p->ih);
        p->n_ih = lp->n_ih;
    }
}
