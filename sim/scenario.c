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

#include "crc.h"
#include "jsonpos.h"
#include "mbus_records.h"

#define MAX_TICKS (100ull * 365 * 86400 * VTIME_SAMPLE_RATE) /* 100 years */
#define DEG (M_PI / 180.0)

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
    const char *text;
    size_t len;
    char dir[256]; /* the scenario's folder, for relative CSV paths */
    scenario_t *sc;
    char *err;
    size_t errlen;
    char path[256];
    bool failed;
    uint64_t now; /* the time of the event being parsed */
    ino_t self_ino; /* the scenario file, so a CSV cannot be the file itself */
    dev_t self_dev;
} ctx_t;

static bool fail(ctx_t *c, const char *fmt, ...)
{
    if (c->failed)
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *path = c->path[0] ? c->path : "$";
    int line = 1, col = 1;
    if (c->text)
        jsonpos_find(c->text, c->len, path, &line, &col);
    snprintf(c->err, c->errlen, "%s:%d:%d: %s: %s", c->file, line, col, path, msg);
    c->failed = true;
    return false;
}

/* Appends ".key" or "[i]" to the path; pop() restores it. */
static size_t push(ctx_t *c, const char *key, int index)
{
    if (!c->path[0])
        snprintf(c->path, sizeof c->path, "$");
    size_t n = strlen(c->path);
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

/* Keeps an array alive as long as the scenario. */
static double *keep(ctx_t *c, size_t n)
{
    double **list = realloc(c->sc->arrays, (c->sc->n_arrays + 1) * sizeof *list);
    if (!list)
        return NULL;
    c->sc->arrays = list;
    double *a = calloc(n ? n : 1, sizeof *a);
    if (a)
        list[c->sc->n_arrays++] = a;
    return a;
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
            char list[384] = "";
            for (const char *const *k = keys; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         k == keys ? "" : ", ", *k);
            fail(c, "unknown key \"%s\" (known here: %s)", it->string, list);
            pop(c, n);
            return false;
        }
    }
    return true;
}

static bool check_number(ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                         double *out)
{
    if (!cJSON_IsNumber(v))
        return fail(c, "expected a number (%s)", unit);
    if (!(v->valuedouble >= min && v->valuedouble <= max))
        return fail(c, "%g is out of range; allowed %g to %g %s", v->valuedouble, min, max, unit);
    *out = v->valuedouble;
    return true;
}

static bool get_number(ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                       const char *unit, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = push(c, key, 0);
    bool ok = check_number(c, v, min, max, unit, out);
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
    if (cJSON_IsString(v))
        for (int i = 0; names[i]; i++)
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                ok = true;
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

static bool get_duration(ctx_t *c, const cJSON *v, uint64_t *ticks)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
        v->valuedouble * VTIME_SAMPLE_RATE <= (double)MAX_TICKS) {
        *ticks = (uint64_t)llround(v->valuedouble * VTIME_SAMPLE_RATE);
        return true;
    }
    if (cJSON_IsString(v) && scenario_parse_duration(v->valuestring, ticks))
        return true;
    return fail(c, "expected a duration such as \"250ms\", \"15m\", \"24h\", \"7d\", \"1h30m\" "
                   "(at most 100 years)");
}

/* "HH:MM" or "HH:MM:SS" as seconds of the day. */
static bool time_of_day(const char *s, double *seconds)
{
    int h, m, sec = 0;
    char tail;
    int n = sscanf(s, "%d:%d:%d%c", &h, &m, &sec, &tail);
    if (n < 2 || n > 3 || h < 0 || h > 24 || m < 0 || m > 59 || sec < 0 || sec > 59 ||
        (h == 24 && (m || sec)))
        return false;
    *seconds = h * 3600.0 + m * 60.0 + sec;
    return true;
}

static bool parse_csv(ctx_t *c, const cJSON *o, double min, double max, const char *unit,
                      profile_t *out);

/* A number, or {"steps"|"ramp"|"daily"|"csv": ...} (signal.h). */
static bool parse_profile(ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                         profile_t *out)
{
    if (cJSON_IsNumber(v)) {
        double x;
        if (!check_number(c, v, min, max, unit, &x))
            return false;
        *out = profile_const(x);
        return true;
    }
    if (!cJSON_IsObject(v) || !v->child)
        return fail(c, "expected a number (%s) or a profile {\"steps\"|\"ramp\"|\"daily\"|\"csv\"}",
                    unit);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(v, "steps");
    const cJSON *ramp = cJSON_GetObjectItemCaseSensitive(v, "ramp");
    const cJSON *daily = cJSON_GetObjectItemCaseSensitive(v, "daily");
    const cJSON *csv = cJSON_GetObjectItemCaseSensitive(v, "csv");
    if (csv)
        return parse_csv(c, v, min, max, unit, out);
    static const char *const one[] = {"steps", "ramp", "daily", NULL};
    if (!known_keys(c, v, one))
        return false;
    if (ramp) {
        static const char *const keys[] = {"from", "to", "over", NULL};
        size_t n = push(c, "ramp", 0);
        double from = NAN, to = NAN;
        uint64_t over = 0;
        const cJSON *ov = cJSON_IsObject(ramp) ? cJSON_GetObjectItemCaseSensitive(ramp, "over") : NULL;
        if (!cJSON_IsObject(ramp))
            fail(c, "expected {\"from\", \"to\", \"over\"}");
        else if (known_keys(c, ramp, keys) && get_number(c, ramp, "from", min, max, unit, &from) &&
                 get_number(c, ramp, "to", min, max, unit, &to)) {
            if (isnan(from) || isnan(to) || !ov)
                fail(c, "a ramp needs \"from\", \"to\" and \"over\"");
            else {
                size_t m = push(c, "over", 0);
                get_duration(c, ov, &over);
                pop(c, m);
            }
        }
        pop(c, n);
        if (c->failed)
            return false;
        double *a = keep(c, 4);
        if (!a)
            return fail(c, "out of memory");
        a[0] = 0.0;
        a[1] = (double)over / VTIME_SAMPLE_RATE;
        a[2] = from;
        a[3] = to;
        *out = (profile_t){.kind = PROFILE_RAMP, .t = a, .v = a + 2, .n = 2, .start_tick = c->now};
        return true;
    }
    const cJSON *list = steps ? steps : daily;
    size_t n = push(c, steps ? "steps" : "daily", 0);
    int count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (count < 1 || count > 100000) {
        fail(c, steps ? "expected an array of [duration, value] pairs"
                      : "expected an array of [\"HH:MM\", value] pairs");
        pop(c, n);
        return false;
    }
    double *a = keep(c, 2 * (size_t)count);
    if (!a) {
        pop(c, n);
        return fail(c, "out of memory");
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        size_t m = push(c, NULL, i);
        const cJSON *t = cJSON_GetArrayItem(it, 0), *val = cJSON_GetArrayItem(it, 1);
        uint64_t ticks = 0;
        double tod = 0;
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2)
            fail(c, steps ? "expected [duration, value]" : "expected [\"HH:MM\", value]");
        else if (steps ? get_duration(c, t, &ticks)
                       : (cJSON_IsString(t) && time_of_day(t->valuestring, &tod)) ||
                             fail(c, "expected a time of day \"HH:MM\" or \"HH:MM:SS\"")) {
            a[i] = steps ? (double)ticks / VTIME_SAMPLE_RATE : tod;
            size_t k = push(c, NULL, 1);
            check_number(c, val, min, max, unit, &a[count + i]);
            pop(c, k);
            if (!c->failed && i > 0 && a[i] <= a[i - 1])
                fail(c, "times must increase");
        }
        pop(c, m);
        if (c->failed)
            break;
        i++;
    }
    pop(c, n);
    if (c->failed)
        return false;
    *out = (profile_t){.kind = steps ? PROFILE_STEPS : PROFILE_DAILY,
                      .t = a,
                      .v = a + count,
                      .n = (size_t)count,
                      .start_tick = c->now};
    return true;
}

/* {"csv": "file.csv", "column": "L1", "period": "1m"}: a time series. The
 * file's first line names the columns; a column "time" gives each row's time
 * (a duration or seconds), otherwise rows are `period` apart. */
static bool parse_csv(ctx_t *c, const cJSON *o, double min, double max, const char *unit,
                      profile_t *out)
{
    static const char *const keys[] = {"csv", "column", "period", NULL};
    if (!known_keys(c, o, keys))
        return false;
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(o, "csv");
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(o, "column");
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(o, "period");
    size_t n = push(c, "csv", 0);
    if (!cJSON_IsString(file) || !file->valuestring[0]) {
        fail(c, "expected the name of a CSV file");
        pop(c, n);
        return false;
    }
    char path[512];
    if (file->valuestring[0] == '/')
        snprintf(path, sizeof path, "%s", file->valuestring);
    else
        snprintf(path, sizeof path, "%s%s", c->dir, file->valuestring);
    pop(c, n);
    uint64_t period = VTIME_SAMPLE_RATE * 60;
    if (per) {
        size_t m = push(c, "period", 0);
        get_duration(c, per, &period);
        pop(c, m);
        if (c->failed)
            return false;
    }
    n = push(c, "csv", 0);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        fail(c, "cannot open %s: %s", path, strerror(errno));
    } else if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(c, "%s is not a regular file", path);
    } else if (st.st_size > (off_t)SCENARIO_MAX_BYTES) {
        fail(c, "%s is larger than 16 MiB", path);
    } else if (c->text && c->self_ino && st.st_ino == c->self_ino && st.st_dev == c->self_dev) {
        fail(c, "%s is this scenario itself, not a CSV file", path);
    }
    if (c->failed) {
        if (f)
            fclose(f);
        pop(c, n);
        return false;
    }
    char line[4096];
    int value_col = -1, time_col = -1, lineno = 1;
    size_t rows = 0, cap = 0;
    double *t = NULL, *v = NULL;
    if (!fgets(line, sizeof line, f)) {
        fail(c, "%s is empty: it needs a header line naming its columns", path);
    } else {
        int k = 0;
        for (char *save = NULL, *tok = strtok_r(line, ",\r\n", &save); tok;
             tok = strtok_r(NULL, ",\r\n", &save), k++) {
            while (*tok == ' ')
                tok++;
            if (strcmp(tok, "time") == 0)
                time_col = k;
            if (cJSON_IsString(col) ? strcmp(tok, col->valuestring) == 0 : false)
                value_col = k;
        }
        if (cJSON_IsNumber(col) && col->valuedouble >= 1 && col->valuedouble <= k)
            value_col = (int)col->valuedouble - 1;
        if (value_col < 0)
            fail(c, "%s has no column %s%s%s", path, cJSON_IsString(col) ? "\"" : "",
                 cJSON_IsString(col) ? col->valuestring : "(give \"column\": a name or a number)",
                 cJSON_IsString(col) ? "\"" : "");
    }
    while (!c->failed && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '#')
            continue;
        if (rows == cap) {
            cap = cap ? cap * 2 : 1024;
            double *nt = realloc(t, cap * sizeof *t), *nv = nt ? realloc(v, cap * sizeof *v) : NULL;
            if (!nt || !nv) {
                free(nt ? nt : t);
                free(nv ? nv : v);
                t = v = NULL;
                fail(c, "out of memory reading %s", path);
                break;
            }
            t = nt;
            v = nv;
        }
        int k = 0;
        bool got_v = false, got_t = time_col < 0;
        for (char *save = NULL, *tok = strtok_r(line, ",\r\n", &save); tok;
             tok = strtok_r(NULL, ",\r\n", &save), k++) {
            while (*tok == ' ')
                tok++;
            if (k == value_col) {
                char *end;
                double x = strtod(tok, &end);
                if (end == tok || (*end && *end != ' '))
                    fail(c, "%s:%d: column %d: \"%s\" is not a number", path, lineno, k + 1, tok);
                else if (!(x >= min && x <= max))
                    fail(c, "%s:%d: %g is out of range; allowed %g to %g %s", path, lineno, x, min,
                         max, unit);
                v[rows] = x;
                got_v = true;
            } else if (k == time_col) {
                uint64_t ticks;
                if (!scenario_parse_duration(tok, &ticks))
                    fail(c, "%s:%d: time \"%s\" is not a duration", path, lineno, tok);
                t[rows] = (double)ticks / VTIME_SAMPLE_RATE;
                got_t = true;
            }
        }
        if (!c->failed && (!got_v || !got_t))
            fail(c, "%s:%d: the row has no value in column %d", path, lineno,
                 (got_v ? time_col : value_col) + 1);
        if (!c->failed && time_col < 0)
            t[rows] = (double)(rows * period) / VTIME_SAMPLE_RATE;
        if (!c->failed && rows > 0 && t[rows] <= t[rows - 1])
            fail(c, "%s:%d: times must increase", path, lineno);
        rows++;
    }
    fclose(f);
    if (!c->failed && rows == 0)
        fail(c, "%s has no rows of data", path);
    double *a = c->failed ? NULL : keep(c, 2 * rows);
    if (!c->failed && !a)
        fail(c, "out of memory");
    if (a) {
        memcpy(a, t, rows * sizeof *t);
        memcpy(a + rows, v, rows * sizeof *v);
        *out = (profile_t){
            .kind = PROFILE_SERIES, .t = a, .v = a + rows, .n = rows, .start_tick = c->now};
    }
    free(t);
    free(v);
    pop(c, n);
    return !c->failed;
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

/* A signal, or an array of three (L1, L2, L3). */
static bool get_per_phase(ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                          const char *unit, profile_t out[3])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = push(c, key, 0);
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 3)
            fail(c, "expected a number, a profile, or an array of three (L1, L2, L3)");
        for (int k = 0; k < 3 && !c->failed; k++) {
            size_t m = push(c, NULL, k);
            parse_profile(c, cJSON_GetArrayItem(v, k), min, max, unit, &out[k]);
            pop(c, m);
        }
    } else if (parse_profile(c, v, min, max, unit, &out[0])) {
        out[1] = out[2] = out[0];
    }
    pop(c, n);
    return !c->failed;
}

static bool parse_grid(ctx_t *c, const cJSON *g, scenario_grid_t *grid)
{
    static const char *const keys[] = {"voltage", "frequency", "phase_angles", "harmonics",
                                       "noise", NULL};
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(g, "phase_angles");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(g, "frequency");
    if (!known_keys(c, g, keys) ||
        !get_per_phase(c, g, "voltage", 0, 276, "V (0 to Un + 20 %, manual 4)", grid->voltage) ||
        !get_number(c, g, "noise", 0, 50, "V RMS", &grid->noise_v) ||
        !parse_harmonics(c, g, grid->vh, &grid->n_vh))
        return false;
    if (fr) {
        size_t n = push(c, "frequency", 0);
        parse_profile(c, fr, 45, 65, "Hz", &grid->frequency);
        pop(c, n);
    }
    if (pa && !c->failed) {
        size_t n = push(c, "phase_angles", 0);
        if (!cJSON_IsArray(pa) || cJSON_GetArraySize(pa) != 3)
            fail(c, "expected three angles in degrees (L1, L2, L3)");
        for (int k = 0; k < 3 && !c->failed; k++) {
            size_t m = push(c, NULL, k);
            check_number(c, cJSON_GetArrayItem(pa, k), -360, 360, "degrees", &grid->position_deg[k]);
            pop(c, m);
        }
        pop(c, n);
    }
    return !c->failed;
}

/* One phase's load on top of what it was. */
static bool parse_phase_load(ctx_t *c, const cJSON *o, scenario_phase_t *p)
{
    static const char *const keys[] = {"current", "pf", "reactive", "direction", "angle",
                                       "harmonics", NULL};
    static const char *const reactive[] = {"inductive", "capacitive", NULL};
    static const char *const direction[] = {"import", "export", NULL};
    if (!known_keys(c, o, keys))
        return false;
    int cap = p->capacitive, exp_ = p->export_;
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(o, "current");
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(o, "pf");
    const cJSON *angle = cJSON_GetObjectItemCaseSensitive(o, "angle");
    if (angle && (pf || cJSON_GetObjectItemCaseSensitive(o, "reactive"))) {
        size_t n = push(c, "angle", 0);
        fail(c, "give either \"angle\" or \"pf\"/\"reactive\", not both");
        pop(c, n);
        return false;
    }
    if (cur) {
        size_t n = push(c, "current", 0);
        parse_profile(c, cur, 0, 65, "A (0 to Imax, manual 4)", &p->current);
        pop(c, n);
    }
    if (pf && !c->failed) {
        size_t n = push(c, "pf", 0);
        if (parse_profile(c, pf, 0, 1, "(|cos phi|)", &p->pf))
            p->use_angle = false;
        pop(c, n);
    }
    if (c->failed || !get_choice(c, o, "reactive", reactive, &cap) ||
        !get_choice(c, o, "direction", direction, &exp_) ||
        !get_number(c, o, "angle", -360, 360, "degrees (current lagging voltage)", &p->angle_deg) ||
        !parse_harmonics(c, o, p->ih, &p->n_ih))
        return false;
    if (angle)
        p->use_angle = true;
    p->capacitive = cap;
    p->export_ = exp_;
    return true;
}

static bool parse_load(ctx_t *c, const cJSON *l, scenario_load_t *load)
{
    static const char *const phases[] = {"L1", "L2", "L3"};
    /* Fields for all phases first, then L1/L2/L3 objects on top of them. */
    cJSON *common = cJSON_Duplicate(l, 1);
    if (!common)
        return fail(c, "out of memory");
    for (int k = 0; k < 3; k++)
        cJSON_DeleteItemFromObjectCaseSensitive(common, phases[k]);
    if (get_number(c, common, "noise", 0, 10, "A RMS", &load->noise_i)) {
        cJSON_DeleteItemFromObjectCaseSensitive(common, "noise");
        for (int k = 0; k < 3 && !c->failed; k++)
            parse_phase_load(c, common, &load->phase[k]);
    }
    cJSON_Delete(common);
    for (int k = 0; k < 3 && !c->failed; k++) {
        const cJSON *o;
        if (!get_object(c, l, phases[k], &o))
            return false;
        if (o) {
            size_t n = push(c, phases[k], 0);
            parse_phase_load(c, o, &load->phase[k]);
            pop(c, n);
        }
    }
    return !c->failed;
}

/* {"name": value, ...} of settings, each checked by the settings module. */
static bool parse_settings(ctx_t *c, const cJSON *o, settings_t *s)
{
    for (const cJSON *it = o->child; it && !c->failed; it = it->next) {
        size_t n = push(c, it->string, 0);
        int id = 0;
        while (id < SETTING_COUNT && strcmp(settings_name((setting_id_t)id), it->string) != 0)
            id++;
        if (id == SETTING_COUNT) {
            char list[512] = "";
            for (int k = 0; k < SETTING_COUNT; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                         settings_name((setting_id_t)k));
            fail(c, "unknown setting \"%s\" (settings: %s)", it->string, list);
        } else if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble)) {
            fail(c, "expected a whole number");
        } else {
            settings_err_t e = settings_set(s, (setting_id_t)id, (int32_t)it->valuedouble);
            if (e != SETTINGS_OK)
                fail(c, "%g refused: %s", it->valuedouble, settings_strerror(e));
        }
        pop(c, n);
    }
    return !c->failed;
}

static bool parse_meter(ctx_t *c, const cJSON *o, scenario_meter_t *m, scenario_load_t *load)
{
    static const char *const keys[] = {"name",      "model",           "serial",
                                       "connection", "settings",       "registers",
                                       "power_down_count", "turnaround", "load", NULL};
    static const char *const models[] = {"4PU", "4PS", NULL};
    static const char *const conns[] = {"3P4W", "3P3W-aron", "3P3W-delta", "1P2W", NULL};
    int model = (int)m->model, conn = (int)m->connection;
    if (!known_keys(c, o, keys) || !get_choice(c, o, "model", models, &model) ||
        !get_choice(c, o, "connection", conns, &conn))
        return false;
    m->model = (meter_model_t)model;
    m->connection = (connection_t)conn;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (name) {
        size_t n = push(c, "name", 0);
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= sizeof m->name)
            fail(c, "expected a name of 1 to %zu characters", sizeof m->name - 1);
        else
            snprintf(m->name, sizeof m->name, "%s", name->valuestring);
        pop(c, n);
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "serial");
    if (s && !c->failed) {
        size_t n = push(c, "serial", 0);
        size_t len = cJSON_IsString(s) ? strlen(s->valuestring) : 0;
        bool digits = len >= 1 && len <= 16;
        for (size_t i = 0; digits && i < len; i++)
            digits = s->valuestring[i] >= '0' && s->valuestring[i] <= '9';
        if (!digits)
            fail(c, "expected a string of 1 to 16 decimal digits");
        else
            memcpy(m->serial, s->valuestring, len + 1);
        pop(c, n);
    }
    /* The secondary address follows the serial number (A2.1) unless set. */
    uint32_t last8 = 0;
    for (const char *p = m->serial + (strlen(m->serial) > 8 ? strlen(m->serial) - 8 : 0); *p; p++)
        last8 = last8 * 10u + (uint32_t)(*p - '0');
    settings_defaults(&m->settings, last8);
    const cJSON *sub;
    if (!c->failed && get_object(c, o, "settings", &sub) && sub) {
        size_t n = push(c, "settings", 0);
        parse_settings(c, sub, &m->settings);
        pop(c, n);
    }
    double pdc = 0;
    if (!c->failed && get_number(c, o, "power_down_count", 0, 65535, "(counter)", &pdc))
        m->power_down_count = (uint32_t)pdc;
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(o, "turnaround");
    if (ta && !c->failed) {
        uint64_t ticks = 0;
        size_t n = push(c, "turnaround", 0);
        if (get_duration(c, ta, &ticks) && (ticks < 8 || ticks > 8000))
            fail(c, "a Modbus turnaround lies between 1 ms and 1 s");
        m->turnaround_ns = ticks * VTIME_NS_PER_TICK;
        pop(c, n);
    }
    if (!c->failed && get_object(c, o, "registers", &sub) && sub) {
        size_t n = push(c, "registers", 0);
        for (const cJSON *it = sub->child; it && !c->failed; it = it->next) {
            size_t k = push(c, it->string, 0);
            field_t f;
            double v;
            meter_t probe;
            if (m->n_registers >= SCENARIO_MAX_REGISTERS)
                fail(c, "at most %d starting registers", SCENARIO_MAX_REGISTERS);
            else if (!fields_lookup(it->string, &f) || !fields_energy_register(&f, &probe))
                fail(c, "\"%s\" is not an energy register (active_forward.total, "
                        "reactive_q1.T2, resettable.L1, ...)",
                     it->string);
            else if (check_number(c, it, 0, 999999.999, "kWh (6+3 digits, manual 6.2)", &v))
                m->registers[m->n_registers++] = (scenario_register_t){f, v};
            pop(c, k);
        }
        pop(c, n);
    }
    if (!c->failed && get_object(c, o, "load", &sub) && sub) {
        size_t n = push(c, "load", 0);
        parse_load(c, sub, load);
        pop(c, n);
    }
    return !c->failed;
}

static scenario_event_t *new_event(ctx_t *c, scenario_ev_kind_t kind, int meter)
{
    scenario_t *sc = c->sc;
    if (sc->n_events >= SCENARIO_MAX_EVENTS) {
        fail(c, "more than %d events", SCENARIO_MAX_EVENTS);
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

static bool parse_assert(ctx_t *c, const cJSON *a, int meter)
{
    static const char *const keys[] = {"field", "equals", "tolerance", "min",
                                       "max",   "lcd",    "lcd_contains", NULL};
    if (!cJSON_IsObject(a))
        return fail(c, "expected {\"field\": name, \"equals\": value, \"tolerance\": t}, "
                       "{\"field\", \"min\", \"max\"} or {\"lcd\": text}");
    if (!known_keys(c, a, keys))
        return false;
    const cJSON *lcd = cJSON_GetObjectItemCaseSensitive(a, "lcd");
    const cJSON *lcdc = cJSON_GetObjectItemCaseSensitive(a, "lcd_contains");
    if (lcd || lcdc) {
        const cJSON *t = lcd ? lcd : lcdc;
        size_t n = push(c, lcd ? "lcd" : "lcd_contains", 0);
        if (lcd && lcdc)
            fail(c, "give \"lcd\" or \"lcd_contains\", not both");
        else if (a->child->next)
            fail(c, "an LCD assertion has no other keys");
        else if (!cJSON_IsString(t) || strlen(t->valuestring) >= 64)
            fail(c, "expected the LCD's text, as the text frontend prints it in one line, "
                    "e.g. \"1.8.1 000123.456 kWh T1\" (at most 63 characters)");
        pop(c, n);
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
    size_t n = push(c, "field", 0);
    if (!f)
        fail(c, "missing: which field to check (%s)", fields_help());
    else if (!cJSON_IsString(f) || !fields_lookup(f->valuestring, &as.field))
        fail(c, "no field named %s%s%s (fields: %s)", cJSON_IsString(f) ? "\"" : "",
             cJSON_IsString(f) ? f->valuestring : "(not a string)", cJSON_IsString(f) ? "\"" : "",
             fields_help());
    else
        snprintf(as.name, sizeof as.name, "%s", f->valuestring);
    pop(c, n);
    if (c->failed)
        return false;
    const cJSON *eq = cJSON_GetObjectItemCaseSensitive(a, "equals");
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(a, "min");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(a, "max");
    double lo = -INFINITY, hi = INFINITY, tol = 0;
    if (eq && (mn || mx))
        return fail(c, "give \"equals\" (with \"tolerance\") or \"min\"/\"max\", not both");
    if (!eq && !mn && !mx)
        return fail(c, "missing: \"equals\", or \"min\"/\"max\"");
    if (!get_number(c, a, "tolerance", 0, 1e12, "(absolute)", &tol) ||
        !get_number(c, a, "min", -1e15, 1e15, "", &lo) ||
        !get_number(c, a, "max", -1e15, 1e15, "", &hi))
        return false;
    if (eq) {
        double x;
        size_t m = push(c, "equals", 0);
        bool ok = check_number(c, eq, -1e15, 1e15, "", &x);
        pop(c, m);
        if (!ok)
            return false;
        as.equals = true;
        as.expect = x;
        as.tolerance = tol;
        lo = x - tol;
        hi = x + tol;
    } else if (lo > hi) {
        return fail(c, "\"min\" %g is above \"max\" %g", lo, hi);
    }
    as.lo = lo;
    as.hi = hi;
    scenario_event_t *ev = new_event(c, SCENARIO_EV_ASSERT, meter);
    if (!ev)
        return false;
    ev->u.check = as;
    return true;
}


/* "01 03 50 00" or "01035000": bytes in hexadecimal; false on anything else. */
static bool parse_hex(const char *text, uint8_t *out, size_t cap, size_t *n)
{
    *n = 0;
    int hi = -1;
    for (const char *p = text; *p; p++) {
        int v;
        if (*p == ' ' || *p == ':')
            continue;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
            v = (*p | 0x20) - 'a' + 10;
        else
            return false;
        if (hi < 0) {
            hi = v;
        } else {
            if (*n == cap)
                return false;
            out[(*n)++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 && *n > 0;
}

static bool get_hex(ctx_t *c, const cJSON *o, const char *key, uint8_t *out, size_t cap, size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    size_t k = push(c, key, 0);
    if (!cJSON_IsString(v) || !parse_hex(v->valuestring, out, cap, n))
        fail(c, "expected bytes in hexadecimal, e.g. \"01 03 50 00 00 02\" (1 to %zu bytes)", cap);
    pop(c, k);
    return !c->failed;
}

/* The common part of a master's transaction: timeout, line settings and the
 * simple expectations. */
static bool parse_xfer_common(ctx_t *c, const cJSON *o, scenario_xfer_t *x, bool modbus)
{
    static const char *const parities[] = {"even", "none", "odd", NULL};
    double baud = 0;
    int parity = -1;
    x->timeout_ns = VTIME_NS_PER_S; /* a master's usual answer timeout */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "timeout");
    if (t) {
        uint64_t ticks;
        size_t k = push(c, "timeout", 0);
        if (get_duration(c, t, &ticks) && (ticks == 0 || ticks > 60ull * VTIME_SAMPLE_RATE))
            fail(c, "a timeout lies between 1 tick and 60 s");
        x->timeout_ns = ticks * VTIME_NS_PER_TICK;
        pop(c, k);
        if (c->failed)
            return false;
    }
    if (!get_number(c, o, "baud", 300, 115200, "bit/s", &baud) ||
        (modbus && !get_choice(c, o, "parity", parities, &parity)))
        return false;
    if (baud && (modbus ? settings_bps_to_baud_code((uint32_t)baud) == 0
                        : (baud != 300 && baud != 600 && baud != 1200 && baud != 2400 &&
                           baud != 4800 && baud != 9600))) {
        size_t k = push(c, "baud", 0);
        fail(c, "%g is not a baud rate of the meter (%s)", baud,
             modbus ? "300 to 115200, 4.5 and A3.1" : "300 to 9600, 4.4");
        pop(c, k);
        return false;
    }
    x->bps = (uint32_t)baud;
    x->parity = parity + 1;
    int kinds = 0;
    const cJSON *e;
    if ((e = cJSON_GetObjectItemCaseSensitive(o, "expect"))) {
        kinds++;
        x->expect = SCENARIO_EXPECT_BYTES;
        if (!get_hex(c, o, "expect", x->reply, sizeof x->reply, &x->reply_len))
            return false;
    }
    if ((e = cJSON_GetObjectItemCaseSensitive(o, "expect_none"))) {
        kinds++;
        x->expect = SCENARIO_EXPECT_NONE;
        if (!cJSON_IsTrue(e)) {
            size_t k = push(c, "expect_none", 0);
            fail(c, "expected true (no reply may come)");
            pop(c, k);
            return false;
        }
    }
    if (kinds > 1)
        return fail(c, "give one expectation (\"expect\", \"expect_none\", ...), not several");
    return get_number(c, o, "tolerance", 0, 1e12, "(absolute)", &x->tolerance);
}

static bool parse_modbus(ctx_t *c, const cJSON *o, scenario_xfer_t *x)
{
    static const char *const keys[] = {"request", "raw", "expect", "expect_exception",
                                       "expect_none", "expect_floats", "tolerance", "timeout",
                                       "baud", "parity", NULL};
    if (!cJSON_IsObject(o))
        return fail(c, "expected {\"request\": \"01 03 50 00 00 02\", \"expect\": ...}");
    if (!known_keys(c, o, keys) || !parse_xfer_common(c, o, x, true))
        return false;
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(o, "raw");
    if (raw && !cJSON_IsBool(raw)) {
        size_t k = push(c, "raw", 0);
        fail(c, "expected true (send the bytes as given, without a CRC) or false");
        pop(c, k);
        return false;
    }
    if (!get_hex(c, o, "request", x->request, sizeof x->request - 2, &x->request_len))
        return false;
    if (!cJSON_IsTrue(raw)) {
        uint16_t crc = crc16_modbus(x->request, x->request_len);
        x->request[x->request_len++] = (uint8_t)(crc & 0xFF);
        x->request[x->request_len++] = (uint8_t)(crc >> 8);
    }
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "expect_exception");
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "expect_floats");
    if ((ex || fl) && x->expect != SCENARIO_EXPECT_ANY)
        return fail(c, "give one expectation (\"expect\", \"expect_exception\", ...), not several");
    if (ex && fl)
        return fail(c, "give one expectation, not both \"expect_exception\" and \"expect_floats\"");
    if (ex) {
        double code = 0;
        if (!get_number(c, o, "expect_exception", 1, 11, "(Modbus exception code)", &code))
            return false;
        x->expect = SCENARIO_EXPECT_EXCEPTION;
        x->exception = (int)code;
    }
    if (fl) {
        size_t k = push(c, "expect_floats", 0);
        if (!cJSON_IsArray(fl) || cJSON_GetArraySize(fl) < 1 ||
            cJSON_GetArraySize(fl) > SCENARIO_FLOATS_MAX)
            fail(c, "expected an array of 1 to %d numbers", SCENARIO_FLOATS_MAX);
        const cJSON *it;
        int i = 0;
        cJSON_ArrayForEach(it, fl)
        {
            if (c->failed)
                break;
            size_t m = push(c, NULL, i);
            check_number(c, it, -1e30, 1e30, "", &x->floats[i]);
            pop(c, m);
            i++;
        }
        pop(c, k);
        x->n_floats = i;
        x->expect = SCENARIO_EXPECT_FLOATS;
    }
    return !c->failed;
}

static bool parse_mbus(ctx_t *c, const cJSON *o, scenario_xfer_t *x)
{
    static const char *const keys[] = {"short",   "long",          "raw",     "expect",
                                       "expect_none", "expect_record", "tolerance", "timeout",
                                       "baud",    NULL};
    if (!cJSON_IsObject(o))
        return fail(c, "expected {\"short\": \"5B FE\", \"expect_record\": ...}");
    if (!known_keys(c, o, keys) || !parse_xfer_common(c, o, x, false))
        return false;
    const char *forms[] = {"short", "long", "raw"};
    int form = -1;
    for (int i = 0; i < 3; i++)
        if (cJSON_GetObjectItemCaseSensitive(o, forms[i]))
            form = form < 0 ? i : 9;
    if (form < 0 || form == 9)
        return fail(c, "give one of \"short\" (C A), \"long\" (C A CI data) or \"raw\" (a whole "
                       "frame)");
    uint8_t body[SCENARIO_FRAME_MAX];
    size_t n = 0;
    if (!get_hex(c, o, forms[form], body, sizeof body - 6, &n))
        return false;
    size_t k = push(c, forms[form], 0);
    if (form == 0 && n != 2)
        fail(c, "a short frame's body is two bytes, C and A (EN 13757-2)");
    else if (form == 1 && (n < 3 || n > 255))
        fail(c, "a long frame's body is C, A, CI and up to 252 bytes of data");
    pop(c, k);
    if (c->failed)
        return false;
    /* Frame it as EN 13757-2 says: 10 C A CS 16, or 68 L L 68 C A CI .. CS 16. */
    uint8_t *f = x->request;
    if (form == 2) {
        memcpy(f, body, n);
        x->request_len = n;
    } else if (form == 0) {
        f[0] = 0x10;
        memcpy(f + 1, body, 2);
        f[3] = mbus_checksum(body, 2);
        f[4] = 0x16;
        x->request_len = 5;
    } else {
        f[0] = 0x68;
        f[1] = f[2] = (uint8_t)n;
        f[3] = 0x68;
        memcpy(f + 4, body, n);
        f[4 + n] = mbus_checksum(body, n);
        f[5 + n] = 0x16;
        x->request_len = n + 6;
    }
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(o, "expect_record");
    if (rec) {
        static const char *const rkeys[] = {"name", "equals", "tolerance", NULL};
        if (x->expect != SCENARIO_EXPECT_ANY)
            return fail(c, "give one expectation, not several");
        size_t m = push(c, "expect_record", 0);
        const cJSON *name = cJSON_IsObject(rec) ? cJSON_GetObjectItemCaseSensitive(rec, "name") : NULL;
        const cJSON *eq = cJSON_IsObject(rec) ? cJSON_GetObjectItemCaseSensitive(rec, "equals") : NULL;
        bool known = false;
        for (size_t i = 0; name && cJSON_IsString(name) && i < MBUS_RECORD_COUNT; i++)
            known = known || strcmp(MBUS_RECORDS[i].name, name->valuestring) == 0;
        if (!cJSON_IsObject(rec))
            fail(c, "expected {\"name\": record, \"equals\": value, \"tolerance\": t}");
        else if (known_keys(c, rec, rkeys) && !known)
            fail(c, "no record named %s in the telegram (A2.2: \"Total forward active energy\", "
                    "\"L1 voltage\", \"Grid frequency\", ...)",
                 cJSON_IsString(name) ? name->valuestring : "(missing)");
        else if (!c->failed && !eq)
            fail(c, "missing \"equals\" (the value in the record's unit: Wh, 10 mV, mA, W, ...)");
        else if (!c->failed) {
            size_t q = push(c, "equals", 0);
            check_number(c, eq, -1e15, 1e15, "", &x->floats[0]);
            pop(c, q);
            get_number(c, rec, "tolerance", 0, 1e15, "", &x->tolerance);
            snprintf(x->record, sizeof x->record, "%s", name->valuestring);
            x->expect = SCENARIO_EXPECT_RECORD;
        }
        pop(c, m);
    }
    return !c->failed;
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

static int meter_index(ctx_t *c, const cJSON *o)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "meter");
    if (!m)
        return -1;
    size_t n = push(c, "meter", 0);
    int found = -2;
    for (int k = 0; k < c->sc->n_meters && cJSON_IsString(m); k++)
        if (strcmp(c->sc->meters[k].name, m->valuestring) == 0)
            found = k;
    if (found == -2)
        fail(c, "no meter named %s in \"meters\"", cJSON_IsString(m) ? m->valuestring : "(not a string)");
    pop(c, n);
    return found;
}

static bool parse_event(ctx_t *c, const cJSON *it, uint64_t *last, scenario_grid_t *grid,
                        scenario_load_t *loads)
{
    static const char *const keys[] = {"at",     "meter", "grid",   "load",   "tariff_input",
                                       "set",    "reset", "button", "hold",   "modbus",
                                       "mbus",   "assert", NULL};
    if (!cJSON_IsObject(it))
        return fail(c, "expected an object with \"at\"");
    if (!known_keys(c, it, keys))
        return false;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "at");
    size_t a = push(c, "at", 0);
    if (!at)
        fail(c, "missing: every event needs \"at\" (a duration such as \"15m\")");
    else if (get_duration(c, at, &c->now) && c->now < *last)
        fail(c, "events must be in time order (this one is before the one above)");
    pop(c, a);
    if (c->failed)
        return false;
    *last = c->now;
    int meter = meter_index(c, it);
    if (c->failed)
        return false;

    const cJSON *g, *l, *s, *v;
    if (!get_object(c, it, "grid", &g) || !get_object(c, it, "load", &l) ||
        !get_object(c, it, "set", &s))
        return false;
    if (g) {
        size_t n = push(c, "grid", 0);
        if (meter >= 0)
            fail(c, "the grid is shared by every meter: remove \"meter\" or move the grid change "
                    "to its own event");
        else if (parse_grid(c, g, grid)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_GRID, -1);
            if (ev)
                ev->u.grid = *grid;
        }
        pop(c, n);
    }
    if (l && !c->failed) {
        size_t n = push(c, "load", 0);
        for (int k = 0; k < c->sc->n_meters && !c->failed; k++) {
            if (meter >= 0 && k != meter)
                continue;
            if (parse_load(c, l, &loads[k])) {
                scenario_event_t *ev = new_event(c, SCENARIO_EV_LOAD, k);
                if (ev)
                    ev->u.load = loads[k];
            }
        }
        pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "tariff_input");
    if (v && !c->failed) {
        size_t n = push(c, "tariff_input", 0);
        if (!cJSON_IsBool(v))
            fail(c, "expected true (230 V on terminals 10/11) or false");
        else {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_TARIFF_INPUT, meter);
            if (ev)
                ev->u.on = cJSON_IsTrue(v);
        }
        pop(c, n);
    }
    if (s && !c->failed) {
        size_t n = push(c, "set", 0);
        for (const cJSON *x = s->child; x && !c->failed; x = x->next) {
            size_t k = push(c, x->string, 0);
            int id = 0;
            while (id < SETTING_COUNT && strcmp(settings_name((setting_id_t)id), x->string) != 0)
                id++;
            if (id == SETTING_COUNT)
                fail(c, "unknown setting \"%s\"", x->string);
            else if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) ||
                     fabs(x->valuedouble) > 1e9)
                fail(c, "expected a whole number");
            else if (!settings_value_possible((setting_id_t)id, (int32_t)x->valuedouble)) {
                /* Out of range for any meter: a mistake in the file. A refusal
                 * that depends on the meter's state (the C-05 lock, a pulse
                 * width at the S0 rate) is the meter's answer, at run time. */
                int32_t lo, hi;
                settings_range((setting_id_t)id, &lo, &hi);
                fail(c, "%g is not a possible %s (%d to %d%s)", x->valuedouble, x->string, (int)lo,
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
            pop(c, k);
        }
        pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "reset");
    if (v && !c->failed) {
        static const char *const what[] = {"power_down_counter", "day_counter", NULL};
        int r = -1;
        if (get_choice(c, it, "reset", what, &r)) {
            scenario_event_t *ev = new_event(c, SCENARIO_EV_RESET, meter);
            if (ev)
                ev->u.reset = r == 0 ? ACCESS_RESET_POWER_DOWN_COUNTER : ACCESS_RESET_DAY_COUNTER;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "button");
    const cJSON *hold = cJSON_GetObjectItemCaseSensitive(it, "hold");
    if (hold && !v && !c->failed) {
        size_t n = push(c, "hold", 0);
        fail(c, "\"hold\" goes with \"button\"");
        pop(c, n);
    }
    if (v && !c->failed) {
        /* A tap is a 100 ms touch; "hold" says how long the finger stays. */
        static const char *const names[] = {"left", "middle", "right", NULL};
        int b = -1;
        uint64_t held = VTIME_SAMPLE_RATE / 10;
        if (get_choice(c, it, "button", names, &b) && hold) {
            size_t n = push(c, "hold", 0);
            get_duration(c, hold, &held);
            if (!c->failed && held == 0)
                fail(c, "a hold lasts longer than 0");
            pop(c, n);
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
        size_t n = push(c, key, 0);
        scenario_xfer_t x;
        memset(&x, 0, sizeof x);
        if (meter >= 0)
            fail(c, "a request goes to the bus, where every meter hears it: address a meter "
                    "by its ID, not with \"meter\"");
        else if (bus ? parse_mbus(c, v, &x) : parse_modbus(c, v, &x)) {
            scenario_event_t *ev = new_event(c, bus ? SCENARIO_EV_MBUS : SCENARIO_EV_MODBUS, -1);
            if (ev)
                ev->u.xfer = x;
        }
        pop(c, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(it, "assert");
    if (v && !c->failed) {
        size_t n = push(c, "assert", 0);
        if (cJSON_IsArray(v)) {
            int i = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, v)
            {
                size_t k = push(c, NULL, i++);
                parse_assert(c, x, meter);
                pop(c, k);
                if (c->failed)
                    break;
            }
        } else {
            parse_assert(c, v, meter);
        }
        pop(c, n);
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

static bool parse_root(ctx_t *c, const cJSON *root)
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
        return fail(c, "a scenario is a JSON object");
    if (!known_keys(c, root, keys))
        return false;
    static const char *const texts[] = {"name", "description"};
    for (int i = 0; i < 2; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, texts[i]);
        if (t && !cJSON_IsString(t)) {
            size_t n = push(c, texts[i], 0);
            fail(c, "expected a string");
            pop(c, n);
            return false;
        }
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name))
        snprintf(sc->name, sizeof sc->name, "%s", name->valuestring);
    double seed = 1;
    if (!get_number(c, root, "seed", 0, 9007199254740991.0, "(a whole number)", &seed))
        return false;
    sc->seed = (uint64_t)seed;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "duration");
    if (d) {
        size_t n = push(c, "duration", 0);
        get_duration(c, d, &sc->duration);
        pop(c, n);
        if (c->failed)
            return false;
    }
    const cJSON *o;
    if (!get_object(c, root, "grid", &o))
        return false;
    if (o) {
        size_t n = push(c, "grid", 0);
        parse_grid(c, o, &sc->grid);
        pop(c, n);
    }
    if (!c->failed && get_object(c, root, "load", &o) && o) {
        size_t n = push(c, "load", 0);
        parse_load(c, o, &common);
        pop(c, n);
    }
    if (c->failed)
        return false;

    /* "meter": {...} is "meters": [{...}] with one. */
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(root, "meter");
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(root, "meters");
    if (one && many)
        return fail(c, "give \"meter\" or \"meters\", not both");
    int count = many ? (cJSON_IsArray(many) ? cJSON_GetArraySize(many) : -1) : 1;
    if (count < 1 || count > SCENARIO_MAX_METERS) {
        size_t n = push(c, "meters", 0);
        fail(c, "expected an array of 1 to %d meters", SCENARIO_MAX_METERS);
        pop(c, n);
        return false;
    }
    sc->n_meters = count;
    for (int k = 0; k < count && !c->failed; k++) {
        scenario_meter_t *m = &sc->meters[k];
        snprintf(m->name, sizeof m->name, "meter%d", k + 1);
        snprintf(m->serial, sizeof m->serial, "%08d", k + 1);
        m->model = METER_MODEL_4PU;
        m->connection = CONNECTION_3P4W;
        sc->load[k] = common;
        const cJSON *mo = many ? cJSON_GetArrayItem(many, k) : one;
        size_t n = many ? push(c, "meters", 0) : push(c, "meter", 0);
        size_t n2 = many ? push(c, NULL, k) : n;
        if (mo && !cJSON_IsObject(mo))
            fail(c, "expected an object");
        else if (mo)
            parse_meter(c, mo, m, &sc->load[k]);
        else
            settings_defaults(&m->settings, (uint32_t)(k + 1));
        for (int j = 0; j < k && !c->failed; j++)
            if (strcmp(sc->meters[j].name, m->name) == 0)
                fail(c, "two meters are named \"%s\"", m->name);
        if (many)
            pop(c, n2);
        pop(c, n);
    }
    if (c->failed)
        return false;

    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(root, "timeline");
    if (tl) {
        size_t n = push(c, "timeline", 0);
        int size = cJSON_IsArray(tl) ? cJSON_GetArraySize(tl) : -1;
        if (size < 0 || size > SCENARIO_MAX_EVENTS) {
            fail(c, "expected an array of at most %d events", SCENARIO_MAX_EVENTS);
        } else {
            /* An event may expand to one entry per meter and per assertion. */
            sc->events = calloc(SCENARIO_MAX_EVENTS, sizeof *sc->events);
            if (!sc->events)
                fail(c, "out of memory");
            scenario_grid_t grid = sc->grid;
            scenario_load_t loads[SCENARIO_MAX_METERS];
            memcpy(loads, sc->load, sizeof loads);
            uint64_t last = 0;
            int i = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, tl)
            {
                if (c->failed)
                    break;
                size_t m = push(c, NULL, i++);
                parse_event(c, it, &last, &grid, loads);
                pop(c, m);
            }
            /* Button releases lie ahead of the events after them: order by
             * time, ties in file order. */
            if (!c->failed)
                qsort(sc->events, sc->n_events, sizeof *sc->events, by_time);
        }
        pop(c, n);
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

static bool parse_text(ctx_t *c)
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
    ctx_t c = {.file = path, .text = text, .len = len, .sc = sc, .err = err, .errlen = errlen,
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
    ctx_t c = {.file = sc->file,
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
    free(sc->events);
    for (size_t i = 0; i < sc->n_arrays; i++)
        free(sc->arrays[i]);
    free(sc->arrays);
    sc->events = NULL;
    sc->arrays = NULL;
    sc->n_events = sc->n_arrays = 0;
}

bool scenario_parse_duration(const char *text, uint64_t *ticks)
{
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
    const char *p = text;
    double total = 0;
    bool any = false;
    while (*p) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !(x >= 0) || !isfinite(x))
            return false;
        p = end;
        if (!*p && !any) { /* a bare number is seconds */
            total = x;
            any = true;
            break;
        }
        size_t u = 0;
        for (; u < sizeof units / sizeof units[0]; u++) {
            size_t n = strlen(units[u].unit);
            if (strncmp(p, units[u].unit, n) == 0 && !(p[n] == 's' && units[u].unit[0] == 'm' && n == 1)) {
                total += x * units[u].seconds;
                p += n;
                break;
            }
        }
        if (u == sizeof units / sizeof units[0])
            return false;
        any = true;
    }
    if (!any)
        return false;
    double t = total * VTIME_SAMPLE_RATE;
    if (t > (double)MAX_TICKS)
        return false;
    *ticks = (uint64_t)llround(t);
    return true;
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
