/* recfile: reading and checking a recording (see recfile.h). */
#include "recfile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(char *err, size_t errlen, const char *path, uint64_t n, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (n == 0)
        snprintf(err, errlen, "%s: record 0 (the header): %s", path, what);
    else
        snprintf(err, errlen, "%s: record %llu: %s", path, (unsigned long long)n, what);
    return false;
}

/* A whole number in [0, 2^53] (what cJSON carries exactly). */
static bool get_uint(const cJSON *o, const char *key, uint64_t *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0) || x->valuedouble > 9007199254740992.0 ||
        floor(x->valuedouble) != x->valuedouble)
        return false;
    *v = (uint64_t)x->valuedouble;
    return true;
}

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool get_hex(const cJSON *o, rec_entry_t *e)
{
    const char *h = get_str(o, "hex");
    size_t n = h ? strlen(h) : 0;
    if (!h || n == 0 || n % 2)
        return false;
    e->bytes = malloc(n / 2);
    if (!e->bytes)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        if (a < 0 || b < 0)
            return false;
        e->bytes[i] = (uint8_t)(a << 4 | b);
    }
    e->len = n / 2;
    return true;
}

static bool header(const cJSON *h, recfile_t *rf, const char *path, char *err, size_t errlen)
{
    const char *fmt = get_str(h, "format");
    if (!fmt || strcmp(fmt, RECORD_FORMAT) != 0)
        return fail(err, errlen, path, 0,
                    "format %s%s%s, expected \"%s\" (not a metersim recording)", fmt ? "\"" : "",
                    fmt ? fmt : "missing", fmt ? "\"" : "", RECORD_FORMAT);
    uint64_t v;
    if (!get_uint(h, "version", &v))
        return fail(err, errlen, path, 0, "no version, expected \"version\": %d", RECORD_VERSION);
    if (v < 1 || v > RECORD_VERSION)
        return fail(err, errlen, path, 0,
                    "version %llu, expected 1 to %d (this metersim reads versions 1 to %d)",
                    (unsigned long long)v, RECORD_VERSION, RECORD_VERSION);
    rf->version = (int)v;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(h, "scenario");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(h, "flags");
    if (!cJSON_IsObject(sc) || !cJSON_IsObject(f))
        return fail(err, errlen, path, 0, "expected the objects \"scenario\" and \"flags\"");
    const char *sp = get_str(sc, "path");
    if (sp) {
        const char *text = get_str(sc, "text"), *crc = get_str(sc, "crc32");
        char want[9];
        if (!text || !crc)
            return fail(err, errlen, path, 0, "expected the scenario's \"text\" and \"crc32\"");
        record_crc_text(text, strlen(text), want);
        if (strcmp(want, crc) != 0)
            return fail(err, errlen, path, 0,
                        "the scenario's text has CRC-32 %s, expected %s as recorded (edited)", want,
                        crc);
        rf->scenario_path = strdup(sp);
        rf->scenario_text = strdup(text);
    }
    const cJSON *b;
    rf->flags.fast = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "fast"));
    rf->flags.copper = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "copper"));
    b = cJSON_GetObjectItemCaseSensitive(f, "allow_outside_paths");
    rf->flags.allow_outside_paths = cJSON_IsTrue(b);
    b = cJSON_GetObjectItemCaseSensitive(f, "fidelity");
    if (b && !(cJSON_IsString(b) &&
               (strcmp(b->valuestring, "auto") == 0 || strcmp(b->valuestring, "sample") == 0)))
        return fail(err, errlen, path, 0, "flags.fidelity: expected \"sample\" or \"auto\"");
    rf->flags.closed_form = b && strcmp(b->valuestring, "auto") == 0;
    if (!get_uint(f, "until_ns", &rf->flags.until_ns) ||
        !get_uint(f, "tcp_idle_ns", &rf->flags.tcp_idle_ns) ||
        !get_uint(f, "gateway_timeout_ns", &rf->flags.gateway_timeout_ns))
        return fail(err, errlen, path, 0,
                    "expected the flags until_ns, tcp_idle_ns, gateway_timeout_ns (whole ns)");
    return true;
}

/* One record after the header, checked against what came before. */
static bool entry(const cJSON *o, recfile_t *rf, uint64_t want_n, uint64_t last_t, const char *path,
                  char *err, size_t errlen)
{
    rec_entry_t *e = &rf->e[rf->n];
    memset(e, 0, sizeof *e);
    if (!get_uint(o, "n", &e->n))
        return fail(err, errlen, path, want_n, "no record number, expected \"n\": %llu",
                    (unsigned long long)want_n);
    if (e->n != want_n)
        return fail(err, errlen, path, want_n,
                    "numbered %llu, expected %llu (records out of order, missing or edited)",
                    (unsigned long long)e->n, (unsigned long long)want_n);
    if (!get_uint(o, "t_ns", &e->t_ns))
        return fail(err, errlen, path, want_n, "no time, expected \"t_ns\" in whole ns");
    const char *type = get_str(o, "type");
    static const char *const names[] = {"endpoint", "in",      "out",   "ui",
                                        "end",      "connect", "close", "start"};
    const int n_names = rf->version >= 2 ? 8 : 7;
    int k = 0;
    while (type && k < n_names && strcmp(type, names[k]) != 0)
        k++;
    if (!type || k == n_names)
        return fail(err, errlen, path, want_n,
                    "type %s, expected \"endpoint\", \"in\", \"out\", \"connect\", "
                    "\"close\", %s\"ui\" or \"end\"",
                    type ? type : "missing", rf->version >= 2 ? "\"start\", " : "");
    e->type = (rec_type_t)k;
    /* Replies and starts are stamped when the host wrote or started them,
     * which may be after a wake whose inputs are recorded later. */
    if (e->t_ns < last_t && e->type != REC_OUT && e->type != REC_START)
        return fail(err, errlen, path, want_n,
                    "t_ns %llu is before the previous input's %llu, expected times that never "
                    "go back (records out of order)",
                    (unsigned long long)e->t_ns, (unsigned long long)last_t);
    uint64_t ep = 0;
    if (e->type == REC_ENDPOINT) {
        const char *line = get_str(o, "line"), *spec = get_str(o, "spec"), *bus = get_str(o, "bus");
        if (rf->n && rf->e[rf->n - 1].type != REC_ENDPOINT)
            return fail(err, errlen, path, want_n,
                        "an endpoint after the run began, expected every endpoint first");
        if (!get_uint(o, "ep", &ep) || ep != (uint64_t)rf->n_eps)
            return fail(err, errlen, path, want_n, "expected endpoint number %d", rf->n_eps);
        if (!line || (strcmp(line, "modbus") && strcmp(line, "mbus")) || !spec || !bus ||
            strlen(spec) >= sizeof rf->eps[0].spec || strlen(bus) >= sizeof rf->eps[0].bus)
            return fail(err, errlen, path, want_n,
                        "expected \"line\" (\"modbus\" or \"mbus\"), \"spec\" and \"bus\"");
        rec_endpoint_t *d = &rf->eps[rf->n_eps];
        memset(d, 0, sizeof *d);
        d->modbus = strcmp(line, "modbus") == 0;
        endpoint_spec_t sp;
        char why[256];
        if (!endpoint_spec_parse(spec, d->modbus, &sp, why, sizeof why))
            return fail(err, errlen, path, want_n, "spec \"%s\": %s", spec, why);
        d->tcp = endpoint_spec_is_tcp(&sp);
        d->mbap = sp.kind == ENDPOINT_MODBUS_TCP;
        rf->n_eps++;
        d->copper = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "copper"));
        snprintf(d->spec, sizeof d->spec, "%s", spec);
        snprintf(d->bus, sizeof d->bus, "%s", bus);
    } else if (e->type == REC_IN || e->type == REC_OUT || e->type == REC_CONNECT ||
               e->type == REC_CLOSE || e->type == REC_START) {
        if (!get_uint(o, "ep", &ep) || ep >= (uint64_t)rf->n_eps)
            return fail(
                err, errlen, path, want_n, "endpoint %s, expected one declared before (0 to %d)",
                cJSON_GetObjectItemCaseSensitive(o, "ep") ? "unknown" : "missing", rf->n_eps - 1);
        e->ep = (int)ep;
        rec_endpoint_t *d = &rf->eps[ep];
        uint64_t conn = 0;
        bool has = cJSON_GetObjectItemCaseSensitive(o, "conn") != NULL;
        if (e->type == REC_START && !d->mbap)
            return fail(err, errlen, path, want_n,
                        "a start on endpoint %d, expected a Modbus TCP endpoint (only its "
                        "gateway queues requests)",
                        e->ep);
        if (!d->tcp && (has || e->type == REC_CONNECT || e->type == REC_CLOSE))
            return fail(err, errlen, path, want_n,
                        "a connection on endpoint %d, a serial one: expected no \"conn\"", e->ep);
        bool connect = e->type == REC_CONNECT;
        if (d->tcp && !get_uint(o, "conn", &conn))
            return fail(err, errlen, path, want_n,
                        "no connection on TCP endpoint %d, expected \"conn\"", e->ep);
        if (d->tcp && connect && conn != (uint64_t)d->n_conns)
            return fail(err, errlen, path, want_n, "connection %llu, expected %d (the next)",
                        (unsigned long long)conn, d->n_conns);
        if (d->tcp && !connect && conn >= (uint64_t)d->n_conns) {
            if (d->n_conns == 0)
                return fail(err, errlen, path, want_n,
                            "connection %llu of TCP endpoint %d, expected a \"connect\" first",
                            (unsigned long long)conn, e->ep);
            return fail(err, errlen, path, want_n,
                        "connection %llu of TCP endpoint %d, expected one connected before "
                        "(0 to %d)",
                        (unsigned long long)conn, e->ep, d->n_conns - 1);
        }
        e->conn = d->tcp ? (int)conn : -1;
        if (connect)
            d->n_conns++;
        if (connect || e->type == REC_CLOSE || e->type == REC_START) {
            rf->n++;
            return true;
        }
        if (!get_hex(o, e))
            return fail(err, errlen, path, want_n,
                        "expected \"hex\": the bytes, two hex digits each");
        uint64_t peer = 0;
        if (cJSON_GetObjectItemCaseSensitive(o, "peer_bps") && !get_uint(o, "peer_bps", &peer))
            return fail(err, errlen, path, want_n, "expected \"peer_bps\" in bit/s");
        e->peer_bps = (uint32_t)peer;
    } else if (e->type == REC_UI) {
        const char *a = get_str(o, "action");
        uint64_t m, arg;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
        if (!a || strlen(a) >= sizeof e->action || !get_uint(o, "meter", &m) ||
            !get_uint(o, "at_ns", &e->at_ns) || !get_uint(o, "arg", &arg) || arg > 255 ||
            !cJSON_IsNumber(v))
            return fail(err, errlen, path, want_n,
                        "expected \"action\", \"meter\", \"at_ns\", \"arg\" (0 to 255) and "
                        "\"value\"");
        snprintf(e->action, sizeof e->action, "%s", a);
        e->meter = (int)m;
        e->arg = (int)arg;
        e->value = v->valuedouble;
    }
    rf->n++;
    return true;
}

bool recfile_load(const char *path, recfile_t *rf, char *err, size_t errlen)
{
    memset(rf, 0, sizeof *rf);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot be read: %s", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0, cap_e = 0;
    ssize_t len;
    uint64_t n = 0, last_t = 0;
    bool ok = true, ended = false;
    while (ok && (len = getline(&line, &cap, f)) != -1) {
        if (ended) {
            ok = fail(err, errlen, path, n, "after the \"end\" record, expected nothing");
            break;
        }
        if (len == 0 || line[len - 1] != '\n') {
            ok = fail(err, errlen, path, n,
                      "the line does not end: the file is truncated (expected a whole record "
                      "ending in a newline)");
            break;
        }
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            ok = fail(err, errlen, path, n, "not a JSON object: damaged or truncated");
            break;
        }
        if (n == 0) {
            ok = header(o, rf, path, err, errlen);
        } else {
            if (rf->n == cap_e) {
                size_t nc = cap_e ? 2 * cap_e : 256;
                void *ne = realloc(rf->e, nc * sizeof *rf->e);
                void *np = realloc(rf->eps, nc * sizeof *rf->eps);
                if (ne)
                    rf->e = ne;
                if (np)
                    rf->eps = np;
                if (!ne || !np) {
                    cJSON_Delete(o);
                    ok = fail(err, errlen, path, n, "out of memory");
                    break;
                }
                cap_e = nc;
            }
            ok = entry(o, rf, n, last_t, path, err, errlen);
            if (!ok) {
                free(rf->e[rf->n].bytes); /* a record refused half-read */
            } else if (rf->e[rf->n - 1].type != REC_OUT && rf->e[rf->n - 1].type != REC_START) {
                /* Replies and starts are stamped when made, after the wake
                 * that stamps the input read in the same round: only the
                 * inputs' times must never go back (docs/record.md). */
                last_t = rf->e[rf->n - 1].t_ns;
                ended = rf->e[rf->n - 1].type == REC_END;
            }
        }
        cJSON_Delete(o);
        n++;
    }
    free(line);
    if (ok && ferror(f))
        ok = fail(err, errlen, path, n, "cannot be read: %s", strerror(errno));
    fclose(f);
    if (ok && n == 0)
        ok = fail(err, errlen, path, 0, "the file is empty, expected a header");
    else if (ok && !ended)
        ok = fail(err, errlen, path, n,
                  "the file ends here, expected more records and then \"end\": truncated");
    if (!ok)
        recfile_free(rf);
    return ok;
}

void recfile_free(recfile_t *rf)
{
    for (size_t i = 0; i < rf->n; i++)
        free(rf->e[i].bytes);
    free(rf->e);
    free(rf->eps);
    free(rf->scenario_path);
    free(rf->scenario_text);
    memset(rf, 0, sizeof *rf);
}
