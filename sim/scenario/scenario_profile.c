/* scenario_profile: time-varying quantities of a scenario (profile.h, docs/scenario.md). */
#include "scenario_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "duration.h"
/* "HH:MM" or "HH:MM:SS" as seconds of the day. */
static bool scn_time_of_day(const char *s, double *seconds)
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

static bool scn_parse_csv(scn_ctx_t *c, const cJSON *o, double min, double max, const char *unit,
                          profile_t *out);
static bool scn_read_profile(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                             profile_t *out);

/* A number, or {"steps"|"ramp"|"daily"|"csv": ...} (signal.h). */
bool scn_parse_profile(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                       profile_t *out)
{
    for (int i = 0; i < c->n_cache; i++)
        if (c->cache[i].node == v && c->cache[i].now == c->now && c->cache[i].min == min &&
            c->cache[i].max == max) {
            *out = c->cache[i].p;
            return true;
        }
    if (!scn_read_profile(c, v, min, max, unit, out))
        return false;
    if (c->n_cache < (int)(sizeof c->cache / sizeof c->cache[0]))
        c->cache[c->n_cache++] =
            (struct scn_cached){.node = v, .now = c->now, .min = min, .max = max, .p = *out};
    return true;
}

static bool scn_read_profile(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                             profile_t *out)
{
    if (cJSON_IsNumber(v)) {
        double x;
        if (!scn_check_number(c, v, min, max, unit, &x))
            return false;
        *out = profile_const(x);
        return true;
    }
    if (!cJSON_IsObject(v) || !v->child)
        return scn_fail(
            c, "expected a number (%s) or a profile {\"steps\"|\"ramp\"|\"daily\"|\"csv\"}", unit);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(v, "steps");
    const cJSON *ramp = cJSON_GetObjectItemCaseSensitive(v, "ramp");
    const cJSON *daily = cJSON_GetObjectItemCaseSensitive(v, "daily");
    const cJSON *csv = cJSON_GetObjectItemCaseSensitive(v, "csv");
    if (csv)
        return scn_parse_csv(c, v, min, max, unit, out);
    static const char *const one[] = {"steps", "ramp", "daily", NULL};
    if (!scn_known_keys(c, v, one))
        return false;
    if (ramp) {
        static const char *const keys[] = {"from", "to", "over", NULL};
        size_t n = scn_push(c, "ramp", 0);
        double from = NAN, to = NAN;
        uint64_t over = 0;
        const cJSON *ov =
            cJSON_IsObject(ramp) ? cJSON_GetObjectItemCaseSensitive(ramp, "over") : NULL;
        if (!cJSON_IsObject(ramp))
            scn_fail(c, "expected {\"from\", \"to\", \"over\"}");
        else if (scn_known_keys(c, ramp, keys) &&
                 scn_get_number(c, ramp, "from", min, max, unit, &from) &&
                 scn_get_number(c, ramp, "to", min, max, unit, &to)) {
            if (isnan(from) || isnan(to) || !ov)
                scn_fail(c, "a ramp needs \"from\", \"to\" and \"over\"");
            else {
                size_t m = scn_push(c, "over", 0);
                scn_get_duration(c, ov, &over);
                scn_pop(c, m);
            }
        }
        scn_pop(c, n);
        if (c->failed)
            return false;
        double *a = scn_keep(c, 4);
        if (!a)
            return scn_fail(c, "out of memory");
        a[0] = 0.0;
        a[1] = (double)over / VTIME_SAMPLE_RATE;
        a[2] = from;
        a[3] = to;
        *out = (profile_t){.kind = PROFILE_RAMP, .t = a, .v = a + 2, .n = 2, .start_tick = c->now};
        return true;
    }
    const cJSON *list = steps ? steps : daily;
    size_t n = scn_push(c, steps ? "steps" : "daily", 0);
    int count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (count < 1 || count > 100000) {
        scn_fail(c, steps ? "expected an array of [duration, value] pairs"
                          : "expected an array of [\"HH:MM\", value] pairs");
        scn_pop(c, n);
        return false;
    }
    double *a = scn_keep(c, 2 * (size_t)count);
    if (!a) {
        scn_pop(c, n);
        return scn_fail(c, "out of memory");
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        size_t m = scn_push(c, NULL, i);
        const cJSON *t = cJSON_GetArrayItem(it, 0), *val = cJSON_GetArrayItem(it, 1);
        uint64_t ticks = 0;
        double tod = 0;
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2)
            scn_fail(c, steps ? "expected [duration, value]" : "expected [\"HH:MM\", value]");
        else if (steps ? scn_get_duration(c, t, &ticks)
                       : (cJSON_IsString(t) && scn_time_of_day(t->valuestring, &tod)) ||
                             scn_fail(c, "expected a time of day \"HH:MM\" or \"HH:MM:SS\"")) {
            a[i] = steps ? (double)ticks / VTIME_SAMPLE_RATE : tod;
            size_t k = scn_push(c, NULL, 1);
            scn_check_number(c, val, min, max, unit, &a[count + i]);
            scn_pop(c, k);
            if (!c->failed && i > 0 && a[i] <= a[i - 1])
                scn_fail(c, "times must increase");
        }
        scn_pop(c, m);
        if (c->failed)
            break;
        i++;
    }
    scn_pop(c, n);
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
static bool scn_parse_csv(scn_ctx_t *c, const cJSON *o, double min, double max, const char *unit,
                          profile_t *out)
{
    static const char *const keys[] = {"csv", "column", "period", NULL};
    if (!scn_known_keys(c, o, keys))
        return false;
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(o, "csv");
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(o, "column");
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(o, "period");
    size_t n = scn_push(c, "csv", 0);
    if (!cJSON_IsString(file) || !file->valuestring[0]) {
        scn_fail(c, "expected the name of a CSV file");
        scn_pop(c, n);
        return false;
    }
    char path[512];
    if (file->valuestring[0] == '/')
        snprintf(path, sizeof path, "%s", file->valuestring);
    else
        snprintf(path, sizeof path, "%s%s", c->dir, file->valuestring);
    scn_pop(c, n);
    if (cJSON_IsNumber(col)) {
        size_t m = scn_push(c, "column", 0);
        double x;
        scn_check_int(c, col, 1, 1e6, "(a column, from 1)", &x);
        scn_pop(c, m);
        if (c->failed)
            return false;
    }
    uint64_t period = VTIME_SAMPLE_RATE * 60;
    if (per) {
        size_t m = scn_push(c, "period", 0);
        scn_get_duration(c, per, &period);
        scn_pop(c, m);
        if (c->failed)
            return false;
    }
    n = scn_push(c, "csv", 0);
    /* Only files beside the scenario, opened without blocking; a message
     * names the file and never shows what it holds (scenario_open.c). */
    char real[PATH_MAX], why[PATH_MAX + 200];
    struct stat st;
    FILE *f = NULL;
    if (!scn_resolve_inside(c, path, real, sizeof real, why, sizeof why) ||
        !(f = scn_open_file(real, &st, why, sizeof why))) {
        scn_fail(c, "%s: %s", path, why);
    } else if (c->text && c->self_ino && st.st_ino == c->self_ino && st.st_dev == c->self_dev) {
        scn_fail(c, "%s is this scenario itself, not a CSV file", path);
    }
    if (c->failed) {
        if (f)
            fclose(f);
        scn_pop(c, n);
        return false;
    }
    char line[4096];
    int value_col = -1, time_col = -1, lineno = 1;
    size_t rows = 0, cap = 0;
    double *t = NULL, *v = NULL;
    if (!fgets(line, sizeof line, f)) {
        scn_fail(c, "%s is empty: it needs a header line naming its columns", path);
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
            scn_fail(c, "%s has no column %s%s%s", path, cJSON_IsString(col) ? "\"" : "",
                     cJSON_IsString(col) ? col->valuestring
                                         : "(give \"column\": a name or a number)",
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
                scn_fail(c, "out of memory reading %s", path);
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
                    scn_fail(c, "%s:%d: column %d is not a number", path, lineno, k + 1);
                else if (!(x >= min && x <= max))
                    scn_fail(c, "%s:%d: column %d is out of range; allowed %g to %g %s", path,
                             lineno, k + 1, min, max, unit);
                v[rows] = x;
                got_v = true;
            } else if (k == time_col) {
                uint64_t ticks;
                if (!duration_parse(tok, &ticks))
                    scn_fail(c, "%s:%d: column %d (time) is not a duration", path, lineno, k + 1);
                t[rows] = (double)ticks / VTIME_SAMPLE_RATE;
                got_t = true;
            }
        }
        if (!c->failed && (!got_v || !got_t))
            scn_fail(c, "%s:%d: the row has no value in column %d", path, lineno,
                     (got_v ? time_col : value_col) + 1);
        if (!c->failed && time_col < 0)
            t[rows] = (double)(rows * period) / VTIME_SAMPLE_RATE;
        if (!c->failed && rows > 0 && t[rows] <= t[rows - 1])
            scn_fail(c, "%s:%d: times must increase", path, lineno);
        rows++;
    }
    fclose(f);
    if (!c->failed && rows == 0)
        scn_fail(c, "%s has no rows of data", path);
    double *a = c->failed ? NULL : scn_keep(c, 2 * rows);
    if (!c->failed && !a)
        scn_fail(c, "out of memory");
    if (a) {
        memcpy(a, t, rows * sizeof *t);
        memcpy(a + rows, v, rows * sizeof *v);
        *out = (profile_t){
            .kind = PROFILE_SERIES, .t = a, .v = a + rows, .n = rows, .start_tick = c->now};
    }
    free(t);
    free(v);
    scn_pop(c, n);
    return !c->failed;
}

bool scn_get_profile(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                     const char *unit, profile_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = scn_push(c, key, 0);
    bool ok = scn_parse_profile(c, v, min, max, unit, out);
    scn_pop(c, n);
    return ok;
}

double scn_profile_max(const profile_t *p)
{
    if (p->kind == PROFILE_CONST)
        return p->value;
    double m = p->v[0];
    for (size_t i = 1; i < p->n; i++)
        m = p->v[i] > m ? p->v[i] : m;
    return m;
}

/* A profile's values times `f`. The times stay shared with the original; the
 * values are a new array, as a profile_t has no scale of its own. */
bool scn_scale_profile(scn_ctx_t *c, profile_t *p, double f)
{
    if (p->kind == PROFILE_CONST) {
        p->value *= f;
        return true;
    }
    if (p->n > SCN_MAX_SCALED - c->scaled)
        return scn_fail(c,
                        "\"vary\" scales a copy of each current profile for every meter: more "
                        "than %u values in all; give the fleet shorter profiles",
                        (unsigned)SCN_MAX_SCALED);
    double *v = scn_keep(c, p->n);
    if (!v)
        return scn_fail(c, "out of memory");
    c->scaled += p->n;
    for (size_t i = 0; i < p->n; i++)
        v[i] = p->v[i] * f;
    p->v = v;
    return true;
}

/* splitmix64 (Steele, Lea, Flood 2014): draw i of the stream whose state
 * starts at `seed` is mix(seed + (i + 1) * gamma); its top 53 bits make a
 * double in [0, 1). Portable: integer arithmetic modulo 2^64, one exact
 * scaling. */
double scn_draw(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static const char *const vary_phase[] = {"L1", "L2", "L3"};

bool scn_parse_vary(scn_ctx_t *c, const cJSON *v, scn_vary_t *out)
{
    static const char *const keys[] = {"current", "pf", NULL};
    static const char *const unit[] = {"(a factor on the load's current)", "(|cos phi|)"};
    if (!cJSON_IsObject(v))
        return scn_fail(c, "expected {\"current\": [lo, hi], \"pf\": [lo, hi]}");
    if (!scn_known_keys(c, v, keys))
        return false;
    for (int i = 0; i < 2 && !c->failed; i++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, keys[i]);
        if (!r)
            continue;
        double x[2] = {0, 0};
        size_t n = scn_push(c, keys[i], 0);
        if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 2)
            scn_fail(c, "expected [lo, hi]: each meter's value is drawn uniformly between them");
        for (int j = 0; j < 2 && !c->failed; j++) {
            size_t m = scn_push(c, NULL, j);
            scn_check_number(c, cJSON_GetArrayItem(r, j), 0, i ? 1 : 10, unit[i], &x[j]);
            scn_pop(c, m);
        }
        if (!c->failed && x[0] > x[1])
            scn_fail(c, "lo %g is above hi %g", x[0], x[1]);
        scn_pop(c, n);
        if (i) {
            out->pf = true;
            out->pf_lo = x[0];
            out->pf_hi = x[1];
        } else {
            out->current = true;
            out->lo = x[0];
            out->hi = x[1];
        }
    }
    return !c->failed;
}

bool scn_check_scaled(scn_ctx_t *c, const profile_t *current, int phase, double hi, const char *who)
{
    double top = scn_profile_max(current);
    if (top * hi > 65)
        return scn_fail(c,
                        "%s%s's current, up to %g A, times a factor of up to %g (\"vary\") "
                        "reaches %g A; allowed 0 to 65 A (Imax, manual 4)",
                        who, vary_phase[phase], top, hi, top * hi);
    return true;
}

/* The currents of the phases in `mask` times f. Phases whose values were one
 * array in `orig` (one profile for all three) share one scaled copy. */
static bool scale_currents(scn_ctx_t *c, scenario_load_t *l, const scenario_load_t *orig,
                           unsigned mask, double f)
{
    for (int p = 0; p < 3; p++) {
        if (!(mask & 1u << p))
            continue;
        profile_t *cur = &l->phase[p].current;
        int same = -1;
        for (int q = 0; q < p && cur->kind != PROFILE_CONST; q++)
            if ((mask & 1u << q) && orig->phase[q].current.kind != PROFILE_CONST &&
                orig->phase[q].current.v == orig->phase[p].current.v)
                same = q;
        if (same >= 0)
            cur->v = l->phase[same].current.v;
        else if (!scn_scale_profile(c, cur, f))
            return false;
    }
    return true;
}

/* Meter k's draws from the scenario's stream: 2k for the factor on its
 * currents, 2k + 1 for its power factor (docs/scenario.md). */
bool scn_apply_vary(scn_ctx_t *c, const scn_vary_t *v, const scenario_load_t *base, int k)
{
    scenario_meter_t *m = &c->sc->meters[k];
    scenario_load_t *l = &c->sc->load[k];
    if (v->current) {
        double f = v->lo + (v->hi - v->lo) * scn_draw(c->sc->seed, 2 * (uint64_t)k);
        f = f > v->hi ? v->hi : f;
        m->vary_current = f;
        c->vary_hi[k] = v->hi;
        if (!scale_currents(c, l, base, 7, f))
            return false;
    }
    if (v->pf) {
        double pf = v->pf_lo + (v->pf_hi - v->pf_lo) * scn_draw(c->sc->seed, 2 * (uint64_t)k + 1);
        pf = pf > v->pf_hi ? v->pf_hi : pf;
        m->vary_pf = pf;
        for (int p = 0; p < 3; p++) {
            l->phase[p].pf = profile_const(pf);
            l->phase[p].use_angle = false;
        }
    }
    return true;
}

bool scn_vary_load_change(scn_ctx_t *c, const cJSON *change, int k, scenario_load_t *load)
{
    unsigned mask = 0;
    for (int p = 0; p < 3; p++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(change, vary_phase[p]);
        if (cJSON_GetObjectItemCaseSensitive(change, "current") ||
            (cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, "current")))
            mask |= 1u << p;
    }
    char who[64];
    snprintf(who, sizeof who, "meter \"%.31s\": ", c->sc->meters[k].name);
    for (int p = 0; p < 3; p++)
        if ((mask & 1u << p) &&
            !scn_check_scaled(c, &load->phase[p].current, p, c->vary_hi[k], who))
            return false;
    /* ... and within the variant's own Imax (a 2PCT: 6 A), the phases it changes. */
    scenario_load_t changed = *load;
    for (int p = 0; p < 3; p++)
        if (!(mask & 1u << p))
            changed.phase[p].current = profile_const(0);
    if (!scn_check_imax(c, c->sc->meters[k].model, &changed, c->vary_hi[k], who))
        return false;
    scenario_load_t orig = *load;
    return scale_currents(c, load, &orig, mask, c->sc->meters[k].vary_current);
}
