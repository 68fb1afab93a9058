/* scenario: load and check a scenario file (see scenario.h, docs/scenario.md). */
#include "scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TICKS (100ull * 365 * 86400 * VTIME_SAMPLE_RATE) /* 100 years */

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

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
    char path[256];
    bool failed;
} ctx_t;

static bool fail(ctx_t *c, const char *fmt, ...)
{
    if (c->failed)
        return false;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s: %s", c->file, c->path[0] ? c->path : "$", msg);
    c->failed = true;
    return false;
}

/* Appends ".key" or "[i]" to the path for the duration of a check. */
static size_t push(ctx_t *c, const char *key, int index)
{
    size_t n = strlen(c->path);
    if (n == 0)
        snprintf(c->path, sizeof c->path, "$");
    n = strlen(c->path);
    if (key)
        snprintf(c->path + n, sizeof c->path - n, ".%s", key);
    else
        snprintf(c->path + n, sizeof c->path - n, "[%d]", index);
    return n;
}

static void pop(ctx_t *c, size_t n)
{
    c->path[n] = '\0';
}

/* Refuses keys the format does not know, so a typo never passes silently. */
static bool known_keys(ctx_t *c, const cJSON *obj, const char *const *keys)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (const char *const *k = keys; *k; k++)
            ok = ok || strcmp(it->string, *k) == 0;
        if (!ok) {
            size_t n = push(c, it->string, 0);
            fail(c, "unknown key \"%s\"", it->string);
            pop(c, n);
            return false;
        }
    }
    return true;
}

static bool get_number(ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                       const char *unit, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = push(c, key, 0);
    bool ok = true;
    if (!cJSON_IsNumber(v))
        ok = fail(c, "expected a number (%s)", unit);
    else if (!(v->valuedouble >= min && v->valuedouble <= max))
        ok = fail(c, "%g is out of range; allowed %g to %g %s", v->valuedouble, min, max, unit);
    else
        *out = v->valuedouble;
    pop(c, n);
    return ok;
}

static bool get_choice(ctx_t *c, const cJSON *obj, const char *key, const char *const *names,
                       int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = push(c, key, 0);
    bool ok = false;
    if (cJSON_IsString(v)) {
        for (int i = 0; names[i]; i++) {
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                ok = true;
            }
        }
    }
    if (!ok) {
        char list[256] = "";
        for (int i = 0; names[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                     names[i]);
        char *shown = cJSON_PrintUnformatted(v);
        fail(c, "%s is not one of %s", shown ? shown : "value", list);
        free(shown);
    }
    pop(c, n);
    return ok;
}

static bool get_object(ctx_t *c, const cJSON *obj, const char *key, const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v)
        return true;
    if (!cJSON_IsObject(v)) {
        size_t n = push(c, key, 0);
        fail(c, "expected an object");
        pop(c, n);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_harmonics(ctx_t *c, const cJSON *obj, wave_harmonic_t *h, int *count)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "harmonics");
    if (!arr)
        return true;
    size_t n = push(c, "harmonics", 0);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > WAVE_MAX_HARMONICS) {
        fail(c, "expected an array of at most %d harmonics", WAVE_MAX_HARMONICS);
        pop(c, n);
        return false;
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        size_t m = push(c, NULL, i);
        static const char *const keys[] = {"order", "percent", "phase", NULL};
        double order = 0, percent = 0, phase = 0;
        if (!cJSON_IsObject(it))
            fail(c, "expected an object {\"order\", \"percent\", \"phase\"}");
        else if (known_keys(c, it, keys) &&
                 get_number(c, it, "order", 2, WAVE_MAX_ORDER, "(harmonic order)", &order) &&
                 get_number(c, it, "percent", 0, 100, "% of the fundamental", &percent) &&
                 get_number(c, it, "phase", -360, 360, "degrees", &phase)) {
            if (!cJSON_GetObjectItemCaseSensitive(it, "order"))
                fail(c, "missing \"order\"");
            else if (order != floor(order))
                fail(c, "order %g is not a whole number", order);
            h[i] = (wave_harmonic_t){(int)order, percent, phase};
        }
        pop(c, m);
        if (c->failed)
            break;
        i++;
    }
    *count = i;
    pop(c, n);
    return !c->failed;
}

/* A number, or an array of three (L1, L2, L3). */
static bool get_per_phase(ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                          const char *unit, double out[3])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    if (cJSON_IsNumber(v)) {
        double x = 0;
        if (!get_number(c, obj, key, min, max, unit, &x))
            return false;
        out[0] = out[1] = out[2] = x;
        return true;
    }
    size_t n = push(c, key, 0);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3) {
        fail(c, "expected a number or an array of three numbers (L1, L2, L3)");
    } else {
        for (int k = 0; k < 3 && !c->failed; k++) {
            const cJSON *e = cJSON_GetArrayItem(v, k);
            size_t m = push(c, NULL, k);
            if (!cJSON_IsNumber(e))
                fail(c, "expected a number (%s)", unit);
            else if (!(e->valuedouble >= min && e->valuedouble <= max))
                fail(c, "%g is out of range; allowed %g to %g %s", e->valuedouble, min, max, unit);
            else
                out[k] = e->valuedouble;
            pop(c, m);
        }
    }
    pop(c, n);
    return !c->failed;
}

static bool parse_grid(ctx_t *c, const cJSON *g, wave_desc_t *w)
{
    static const char *const keys[] = {"voltage", "frequency", "phase_angles", "harmonics",
                                       "noise", NULL};
    double volts[3], angles[3];
    for (int k = 0; k < 3; k++) {
        volts[k] = w->phase[k].voltage;
        angles[k] = w->phase[k].position_deg;
    }
    wave_harmonic_t h[WAVE_MAX_HARMONICS];
    int nh = -1;
    if (!known_keys(c, g, keys) ||
        !get_per_phase(c, g, "voltage", 0, 276, "V (0 to Un + 20 %, manual 4)", volts) ||
        !get_number(c, g, "frequency", 45, 65, "Hz", &w->frequency) ||
        !get_per_phase(c, g, "phase_angles", -360, 360, "degrees", angles) ||
        !get_number(c, g, "noise", 0, 50, "V RMS", &w->noise_v) ||
        !parse_harmonics(c, g, h, &nh))
        return false;
    for (int k = 0; k < 3; k++) {
        w->phase[k].voltage = volts[k];
        w->phase[k].position_deg = angles[k];
        if (nh >= 0) {
            memcpy(w->phase[k].vh, h, sizeof h);
            w->phase[k].n_vh = nh;
        }
    }
    return true;
}

/* One phase's load: current, power factor or angle, direction, harmonics. */
static bool parse_phase_load(ctx_t *c, const cJSON *o, wave_phase_t *p)
{
    static const char *const keys[] = {"current", "pf", "reactive", "direction", "angle",
                                       "harmonics", NULL};
    static const char *const reactive[] = {"inductive", "capacitive", NULL};
    static const char *const direction[] = {"import", "export", NULL};
    if (!known_keys(c, o, keys))
        return false;
    double pf = -1, angle = NAN;
    int cap = -1, exp_ = -1, nh = -1;
    wave_harmonic_t h[WAVE_MAX_HARMONICS];
    if (!get_number(c, o, "current", 0, 65, "A (0 to Imax, manual 4)", &p->current) ||
        !get_number(c, o, "pf", 0, 1, "(|cos phi|)", &pf) ||
        !get_choice(c, o, "reactive", reactive, &cap) ||
        !get_choice(c, o, "direction", direction, &exp_) ||
        !get_number(c, o, "angle", -360, 360, "degrees (current lagging voltage)", &angle) ||
        !parse_harmonics(c, o, h, &nh))
        return false;
    if (!isnan(angle) && (pf >= 0 || cap >= 0)) {
        size_t n = push(c, "angle", 0);
        fail(c, "give either \"angle\" or \"pf\"/\"reactive\", not both");
        pop(c, n);
        return false;
    }
    if (!isnan(angle)) {
        p->lag_deg = angle;
    } else if (pf >= 0 || cap >= 0 || exp_ >= 0) {
        /* Unset parts keep their present meaning. */
        double lag = p->lag_deg;
        bool was_export = cos(lag * M_PI / 180.0) < 0;
        double base = was_export ? lag - 180.0 : lag;
        if (pf < 0)
            pf = cos(base * M_PI / 180.0);
        if (cap < 0)
            cap = base < 0;
        if (exp_ < 0)
            exp_ = was_export;
        p->lag_deg = wave_lag_from_pf(pf, cap, exp_);
    }
    if (nh >= 0) {
        memcpy(p->ih, h, sizeof h);
        p->n_ih = nh;
    }
    return true;
}

static bool parse_load(ctx_t *c, const cJSON *l, wave_desc_t *w)
{
    static const char *const phases[] = {"L1", "L2", "L3"};
    /* Fields for all phases first, then L1/L2/L3 objects on top of them. */
    cJSON *common = cJSON_Duplicate(l, 1);
    if (!common)
        return fail(c, "out of memory");
    for (int k = 0; k < 3; k++)
        cJSON_DeleteItemFromObjectCaseSensitive(common, phases[k]);
    double noise = w->noise_i;
    if (!get_number(c, common, "noise", 0, 10, "A RMS", &noise)) {
        cJSON_Delete(common);
        return false;
    }
    w->noise_i = noise;
    cJSON_DeleteItemFromObjectCaseSensitive(common, "noise");
    for (int k = 0; k < 3 && !c->failed; k++)
        parse_phase_load(c, common, &w->phase[k]);
    cJSON_Delete(common);
    for (int k = 0; k < 3 && !c->failed; k++) {
        const cJSON *o;
        if (!get_object(c, l, phases[k], &o))
            return false;
        if (o) {
            size_t n = push(c, phases[k], 0);
            parse_phase_load(c, o, &w->phase[k]);
            pop(c, n);
        }
    }
    return !c->failed;
}

static bool parse_meter(ctx_t *c, const cJSON *o, scenario_t *sc)
{
    static const char *const keys[] = {"model", "serial", "connection", NULL};
    static const char *const models[] = {"4PU", "4PS", NULL};
    static const char *const conns[] = {"3P4W", "3P3W-aron", "3P3W-delta", "1P2W", NULL};
    int model = (int)sc->model, conn = (int)sc->connection;
    if (!known_keys(c, o, keys) || !get_choice(c, o, "model", models, &model) ||
        !get_choice(c, o, "connection", conns, &conn))
        return false;
    sc->model = (meter_model_t)model;
    sc->connection = (connection_t)conn;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "serial");
    if (s) {
        size_t n = push(c, "serial", 0);
        size_t len = cJSON_IsString(s) ? strlen(s->valuestring) : 0;
        bool digits = len >= 1 && len <= 16;
        for (size_t i = 0; digits && i < len; i++)
            digits = s->valuestring[i] >= '0' && s->valuestring[i] <= '9';
        if (!digits)
            fail(c, "expected a string of 1 to 16 decimal digits");
        else
            memcpy(sc->serial, s->valuestring, len + 1);
        pop(c, n);
    }
    return !c->failed;
}

static bool parse_timeline(ctx_t *c, const cJSON *arr, scenario_t *sc)
{
    size_t n = push(c, "timeline", 0);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > SCENARIO_MAX_EVENTS) {
        fail(c, "expected an array of at most %d events", SCENARIO_MAX_EVENTS);
        pop(c, n);
        return false;
    }
    sc->events = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *sc->events);
    if (!sc->events) {
        pop(c, n);
        return fail(c, "out of memory");
    }
    wave_desc_t w = sc->wave;
    uint64_t last = 0;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        static const char *const keys[] = {"at", "grid", "load", "tariff_input", NULL};
        size_t m = push(c, NULL, i++);
        scenario_event_t *ev = &sc->events[sc->n_events];
        ev->tariff_input = -1;
        const cJSON *at = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "at") : NULL;
        const cJSON *g, *l, *ti;
        if (!cJSON_IsObject(it)) {
            fail(c, "expected an object with \"at\"");
        } else if (known_keys(c, it, keys)) {
            size_t a = push(c, "at", 0);
            if (!at)
                fail(c, "missing: every event needs \"at\" (a duration such as \"15m\")");
            else if (!cJSON_IsString(at) || !scenario_parse_duration(at->valuestring, &ev->at_tick))
                fail(c, "expected a duration such as \"250ms\", \"15m\", \"24h\", \"7d\" "
                        "(at most 100 years)");
            else if (ev->at_tick < last)
                fail(c, "events must be in time order (this one is before the one above)");
            pop(c, a);
            if (!c->failed && get_object(c, it, "grid", &g) && get_object(c, it, "load", &l)) {
                if (g) {
                    size_t b = push(c, "grid", 0);
                    parse_grid(c, g, &w);
                    pop(c, b);
                }
                if (l && !c->failed) {
                    size_t b = push(c, "load", 0);
                    parse_load(c, l, &w);
                    pop(c, b);
                }
                ev->set_wave = g || l;
                ev->wave = w;
            }
            ti = cJSON_GetObjectItemCaseSensitive(it, "tariff_input");
            if (ti && !c->failed) {
                size_t b = push(c, "tariff_input", 0);
                if (!cJSON_IsBool(ti))
                    fail(c, "expected true or false");
                ev->tariff_input = cJSON_IsTrue(ti);
                pop(c, b);
            }
            last = ev->at_tick;
            sc->n_events++;
        }
        pop(c, m);
        if (c->failed)
            break;
    }
    pop(c, n);
    return !c->failed;
}

static bool parse_root(ctx_t *c, const cJSON *root, scenario_t *sc)
{
    static const char *const keys[] = {"name", "description", "seed", "meter", "grid", "load",
                                       "timeline", NULL};
    memset(sc, 0, sizeof *sc);
    snprintf(sc->serial, sizeof sc->serial, "00000001");
    wave_desc_balanced(&sc->wave, 50.0, 230.0, 0.0, 0.0);
    if (!cJSON_IsObject(root))
        return fail(c, "a scenario is a JSON object");
    if (!known_keys(c, root, keys))
        return false;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name))
        snprintf(sc->name, sizeof sc->name, "%s", name->valuestring);
    double seed = 1;
    if (!get_number(c, root, "seed", 0, 9007199254740991.0, "(a whole number)", &seed))
        return false;
    sc->wave.seed = (uint64_t)seed;
    const cJSON *o;
    if (!get_object(c, root, "meter", &o))
        return false;
    if (o) {
        size_t n = push(c, "meter", 0);
        parse_meter(c, o, sc);
        pop(c, n);
    }
    if (!c->failed && get_object(c, root, "grid", &o) && o) {
        size_t n = push(c, "grid", 0);
        parse_grid(c, o, &sc->wave);
        pop(c, n);
    }
    if (!c->failed && get_object(c, root, "load", &o) && o) {
        size_t n = push(c, "load", 0);
        parse_load(c, o, &sc->wave);
        pop(c, n);
    }
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(root, "timeline");
    if (!c->failed && tl)
        parse_timeline(c, tl, sc);
    return !c->failed;
}

/* Line and column of a byte offset, for syntax errors. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool parse_text(const char *file, const char *text, size_t len, scenario_t *sc, char *err,
                       size_t errlen)
{
    ctx_t c = {.file = file, .err = err, .errlen = errlen};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        int line, col;
        /* cJSON puts an error at the very end on the last character. */
        size_t off = end ? (size_t)(end - text) : 0;
        line_col(text, off, &line, &col);
        snprintf(err, errlen, "%s:%d:%d: not valid JSON%s", file, line, col,
                 off + 1 >= len ? " (the file ends too early)" : "");
        return false;
    }
    bool ok = parse_root(&c, root, sc);
    cJSON_Delete(root);
    if (!ok)
        scenario_free(sc);
    return ok;
}

bool scenario_load(const char *path, scenario_t *sc, char *err, size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "%s: not a regular file", path);
        return false;
    }
    char *text = malloc(SCENARIO_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return false;
    }
    size_t len = fread(text, 1, SCENARIO_MAX_BYTES + 1, f);
    bool read_error = ferror(f);
    fclose(f);
    if (read_error || len > SCENARIO_MAX_BYTES) {
        snprintf(err, errlen, "%s: %s", path,
                 read_error ? "read error" : "larger than 16 MiB; a scenario is a small text file");
        free(text);
        return false;
    }
    text[len] = '\0';
    bool ok = parse_text(path, text, len, sc, err, errlen);
    free(text);
    return ok;
}

bool scenario_default(scenario_t *sc, char *err, size_t errlen)
{
    return parse_text("(default scenario)", default_json, sizeof default_json - 1, sc, err, errlen);
}

void scenario_free(scenario_t *sc)
{
    free(sc->events);
    sc->events = NULL;
    sc->n_events = 0;
}

bool scenario_parse_duration(const char *text, uint64_t *ticks)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || errno || !(x >= 0) || !isfinite(x))
        return false;
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"", 1}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double t = x * units[i].seconds * VTIME_SAMPLE_RATE;
            if (t > (double)MAX_TICKS)
                return false;
            *ticks = (uint64_t)llround(t);
            return true;
        }
    }
    return false;
}
