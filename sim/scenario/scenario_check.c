/* scenario_check: checked reading of a scenario's JSON (see scenario_internal.h). */
#include "scenario_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "jsonpos.h"

bool scn_fail(scn_ctx_t *c, const char *fmt, ...)
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
    c->failed = true;
    c->n_errors++;
    if (!c->collect) {
        snprintf(c->err, c->errlen, "%s:%d:%d: %s: %s", c->file, line, col, path, msg);
        return false;
    }
    if (c->n_errors > SCN_MAX_ERRORS || c->err_used + 1 >= c->errlen)
        return false;
    int w = snprintf(c->err + c->err_used, c->errlen - c->err_used, "%s%s:%d:%d: %s: %s",
                     c->err_used ? "\n" : "", c->file, line, col, path, msg);
    if (w > 0)
        c->err_used +=
            (size_t)w < c->errlen - c->err_used ? (size_t)w : c->errlen - c->err_used - 1;
    return false;
}

bool scn_go_on(scn_ctx_t *c)
{
    if (!c->failed)
        return true;
    if (!c->collect)
        return false;
    c->failed = false;
    return true;
}

/* Appends ".key" or "[i]" to the path; scn_pop() restores it. */
size_t scn_push(scn_ctx_t *c, const char *key, int index)
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

void scn_pop(scn_ctx_t *c, size_t n)
{
    c->path[n] = '\0';
}

/* Keeps an array alive as long as the scenario. */
double *scn_keep(scn_ctx_t *c, size_t n)
{
    /* The list doubles when its length reaches a power of two: a fleet keeps
     * tens of thousands of arrays. */
    size_t n_now = c->sc->n_arrays;
    if ((n_now & (n_now - 1)) == 0) {
        size_t cap = n_now < 4 ? 8 : 2 * n_now;
        double **list = realloc(c->sc->arrays, cap * sizeof *list);
        if (!list)
            return NULL;
        c->sc->arrays = list;
    }
    double **list = c->sc->arrays;
    double *a = calloc(n ? n : 1, sizeof *a);
    if (a)
        list[c->sc->n_arrays++] = a;
    return a;
}

/* Refuses keys the format does not know, so a typo never passes silently. */
bool scn_known_keys(scn_ctx_t *c, const cJSON *obj, const char *const *keys)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (const char *const *k = keys; *k; k++)
            ok = ok || strcmp(it->string, *k) == 0;
        if (!ok) {
            size_t n = scn_push(c, it->string, 0);
            char list[384] = "";
            for (const char *const *k = keys; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         k == keys ? "" : ", ", *k);
            scn_fail(c, "unknown key \"%s\" (known here: %s)", it->string, list);
            scn_pop(c, n);
            return false;
        }
    }
    return true;
}

bool scn_check_number(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                      double *out)
{
    if (!cJSON_IsNumber(v))
        return scn_fail(c, "expected a number (%s)", unit);
    if (!(v->valuedouble >= min && v->valuedouble <= max))
        return scn_fail(c, "%g is out of range; allowed %g to %g %s", v->valuedouble, min, max,
                        unit);
    *out = v->valuedouble;
    return true;
}

bool scn_check_int(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                   double *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        jsontext_inexact(&c->jt, v))
        return scn_fail(c, "expected an integer, written as digits alone (2.5, 1.0 and 1e3 are "
                           "refused)");
    return scn_check_number(c, v, min, max, unit, out);
}

bool scn_get_int(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                 const char *unit, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = scn_push(c, key, 0);
    bool ok = scn_check_int(c, v, min, max, unit, out);
    scn_pop(c, n);
    return ok;
}

bool scn_get_number(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                    const char *unit, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = scn_push(c, key, 0);
    bool ok = scn_check_number(c, v, min, max, unit, out);
    scn_pop(c, n);
    return ok;
}

bool scn_get_choice(scn_ctx_t *c, const cJSON *obj, const char *key, const char *const *names,
                    int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return true;
    size_t n = scn_push(c, key, 0);
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
        scn_fail(c, "%s is not one of %s", shown ? shown : "value", list);
        free(shown);
    }
    scn_pop(c, n);
    return ok;
}

bool scn_get_object(scn_ctx_t *c, const cJSON *obj, const char *key, const cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v)
        return true;
    if (!cJSON_IsObject(v)) {
        size_t n = scn_push(c, key, 0);
        scn_fail(c, "expected an object");
        scn_pop(c, n);
        return false;
    }
    *out = v;
    return true;
}

bool scn_get_duration(scn_ctx_t *c, const cJSON *v, uint64_t *ticks)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
        v->valuedouble * VTIME_SAMPLE_RATE <= (double)DURATION_MAX_TICKS) {
        *ticks = (uint64_t)llround(v->valuedouble * VTIME_SAMPLE_RATE);
        return true;
    }
    if (cJSON_IsString(v) && duration_parse(v->valuestring, ticks))
        return true;
    return scn_fail(c, "expected a duration such as \"250ms\", \"15m\", \"24h\", \"7d\", \"1h30m\" "
                       "(at most 100 years)");
}

/* "01 03 50 00" or "01035000": bytes in hexadecimal; false on anything else. */
static bool scn_parse_hex(const char *text, uint8_t *out, size_t cap, size_t *n)
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

bool scn_get_hex(scn_ctx_t *c, const cJSON *o, const char *key, uint8_t *out, size_t cap, size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    size_t k = scn_push(c, key, 0);
    if (!cJSON_IsString(v) || !scn_parse_hex(v->valuestring, out, cap, n))
        scn_fail(c, "expected bytes in hexadecimal, e.g. \"01 03 50 00 00 02\" (1 to %zu bytes)",
                 cap);
    scn_pop(c, k);
    return !c->failed;
}

/* Meter names, in an open-addressing table (FNV-1a, linear probing): a fleet
 * of 10 000 meters checks its names and resolves events' "meter" in linear
 * time. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int scn_name_find(const scn_ctx_t *c, const char *name)
{
    if (!c->names)
        return -1;
    for (uint32_t i = name_hash(name) & (SCN_NAMES_CAP - 1);; i = (i + 1) & (SCN_NAMES_CAP - 1)) {
        int k = c->names[i] - 1;
        if (k < 0)
            return -1;
        if (strcmp(c->sc->meters[k].name, name) == 0)
            return k;
    }
}

bool scn_name_add(scn_ctx_t *c, const char *name, int index, int *other)
{
    uint32_t i = name_hash(name) & (SCN_NAMES_CAP - 1);
    for (; c->names[i]; i = (i + 1) & (SCN_NAMES_CAP - 1)) {
        if (strcmp(c->sc->meters[c->names[i] - 1].name, name) == 0) {
            *other = c->names[i] - 1;
            return false;
        }
    }
    c->names[i] = index + 1;
    return true;
}

static bool wildcard_host(const char *h)
{
    return strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

/* Why two endpoints cannot both be opened, or NULL when they can: one TCP
 * port (a wildcard address takes the port on every address; port 0 is any
 * free one), or one path (a pty's symlink, a device). */
static const char *endpoint_clash(const endpoint_spec_t *a, const endpoint_spec_t *b)
{
    if (endpoint_spec_is_tcp(a) && endpoint_spec_is_tcp(b))
        return a->port && a->port == b->port &&
                       (strcasecmp(a->host, b->host) == 0 || wildcard_host(a->host) ||
                        wildcard_host(b->host))
                   ? "two endpoints cannot listen on one TCP port"
                   : NULL;
    if (!endpoint_spec_is_tcp(a) && !endpoint_spec_is_tcp(b) && a->path[0] &&
        strcmp(a->path, b->path) == 0)
        return a->kind == ENDPOINT_DEVICE && b->kind == ENDPOINT_DEVICE
                   ? "two endpoints cannot open one device"
                   : "two endpoints cannot use one path";
    return NULL;
}

/* One endpoint string: parsed, then compared with every endpoint before it. */
static bool add_endpoint(scn_ctx_t *c, const cJSON *v, bool modbus, int b)
{
    scenario_bus_t *bus = &c->sc->buses[b];
    endpoint_spec_t e;
    char err[384];
    if (!cJSON_IsString(v))
        return scn_fail(c,
                        "expected an endpoint: \"pty\", \"pty:PATH\", a device, "
                        "\"tcp:[HOST:]PORT\"%s",
                        modbus ? " or \"rtu-over-tcp:[HOST:]PORT\"" : "");
    if (!endpoint_spec_parse(v->valuestring, modbus, &e, err, sizeof err))
        return scn_fail(c, "%s", err);
    for (int j = 0; j <= b; j++) {
        for (int l = 0; l < 2; l++) {
            const scenario_bus_t *o = &c->sc->buses[j];
            const endpoint_spec_t *list = l ? o->mbus : o->modbus;
            int n = l ? o->n_mbus : o->n_modbus;
            for (int i = 0; i < n; i++) {
                const char *why = endpoint_clash(&e, &list[i]);
                if (why) {
                    char was[400];
                    endpoint_spec_format(&list[i], l == 0, was, sizeof was);
                    return scn_fail(c, "\"%s\": bus \"%s\" has \"%s\" already (in \"%s\"): %s",
                                    v->valuestring, o->name, was, l ? "mbus" : "modbus", why);
                }
            }
        }
    }
    if (modbus)
        bus->modbus[bus->n_modbus++] = e;
    else
        bus->mbus[bus->n_mbus++] = e;
    return true;
}

bool scn_get_endpoints(scn_ctx_t *c, const cJSON *bus, const char *key, int b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(bus, key);
    if (!v)
        return true;
    bool modbus = strcmp(key, "modbus") == 0;
    size_t n = scn_push(c, key, 0);
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) > SCENARIO_MAX_ENDPOINTS)
            scn_fail(c, "at most %d endpoints per bus and protocol", SCENARIO_MAX_ENDPOINTS);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            if (c->failed)
                break;
            size_t m = scn_push(c, NULL, i++);
            add_endpoint(c, it, modbus, b);
            scn_pop(c, m);
        }
    } else if (cJSON_IsString(v)) {
        add_endpoint(c, v, modbus, b);
    } else {
        scn_fail(c, "expected an endpoint string or an array of at most %d",
                 SCENARIO_MAX_ENDPOINTS);
    }
    scn_pop(c, n);
    return !c->failed;
}
