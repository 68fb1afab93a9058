/* record: writing a recording (see record.h, docs/record.md). */
#include "record.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"

struct record {
    FILE *f;
    uint64_t n; /* records written after the header */
    int n_ep;
    bool failed;
};

void record_crc_text(const char *text, size_t n, char out[9])
{
    snprintf(out, 9, "%08x", (unsigned)crc32_ieee((const uint8_t *)text, n));
}

/* The whole file as a string (NULL on error). */
char *record_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* A whole number written as digits: cJSON prints a double with 15
 * significant digits when that reads back within its tolerance, which
 * loses nanoseconds past 1e15 ns (11.6 days). Exact up to 2^53, where the
 * reader (a double again) stops (docs/record.md). */
static void add_uint(cJSON *o, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, buf);
}

/* One line of JSON; the object is freed. */
static void emit(record_t *r, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s || fputs(s, r->f) == EOF || fputc('\n', r->f) == EOF)
        r->failed = true;
    free(s);
}

/* A numbered record at t_ns, of `type`. */
static cJSON *begin(record_t *r, uint64_t t_ns, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    add_uint(o, "n", ++r->n);
    add_uint(o, "t_ns", t_ns);
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

static void add_hex(cJSON *o, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *h = malloc(2 * n + 1);
    if (!h)
        return;
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = digits[b[i] >> 4];
        h[2 * i + 1] = digits[b[i] & 15];
    }
    h[2 * n] = '\0';
    cJSON_AddStringToObject(o, "hex", h);
    free(h);
}

record_t *record_open(const char *path, const char *scenario_path, const record_flags_t *fl,
                      char *err, size_t errlen)
{
    size_t len = 0;
    char *text = NULL;
    if (scenario_path && !(text = record_slurp(scenario_path, &len))) {
        snprintf(err, errlen, "--record: cannot read the scenario %s again: %s", scenario_path,
                 strerror(errno));
        return NULL;
    }
    record_t *r = calloc(1, sizeof *r);
    if (!r || !(r->f = fopen(path, "w"))) {
        snprintf(err, errlen, "--record %s: cannot be written: %s", path, strerror(errno));
        free(r);
        free(text);
        return NULL;
    }
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "format", RECORD_FORMAT);
    cJSON_AddNumberToObject(h, "version", RECORD_VERSION);
    cJSON_AddStringToObject(h, "metersim", RECORD_METERSIM_VERSION);
    cJSON *sc = cJSON_AddObjectToObject(h, "scenario");
    if (text) {
        char abs[4096], crc[9];
        cJSON_AddStringToObject(sc, "path", realpath(scenario_path, abs) ? abs : scenario_path);
        record_crc_text(text, len, crc);
        cJSON_AddStringToObject(sc, "crc32", crc);
        cJSON_AddStringToObject(sc, "text", text);
    } else {
        cJSON_AddNullToObject(sc, "path"); /* the built-in office load */
    }
    cJSON *f = cJSON_AddObjectToObject(h, "flags");
    cJSON_AddBoolToObject(f, "fast", fl->fast);
    cJSON_AddBoolToObject(f, "copper", fl->copper);
    cJSON_AddBoolToObject(f, "allow_outside_paths", fl->allow_outside_paths);
    cJSON_AddStringToObject(f, "fidelity", fl->closed_form ? "auto" : "sample");
    add_uint(f, "until_ns", fl->until_ns);
    add_uint(f, "tcp_idle_ns", fl->tcp_idle_ns);
    add_uint(f, "gateway_timeout_ns", fl->gateway_timeout_ns);
    emit(r, h);
    free(text);
    if (r->failed || fflush(r->f) != 0) {
        snprintf(err, errlen, "--record %s: cannot be written: %s", path, strerror(errno));
        fclose(r->f);
        free(r);
        return NULL;
    }
    return r;
}

void record_endpoint(record_t *r, record_port_t *port, bool modbus, const char *spec,
                     const char *bus, bool copper)
{
    port->rec = r;
    port->ep = r ? r->n_ep++ : -1;
    port->conn = -1;
    port->next_conn = 0;
    if (!r)
        return;
    cJSON *o = begin(r, 0, "endpoint");
    cJSON_AddNumberToObject(o, "ep", port->ep);
    cJSON_AddStringToObject(o, "line", modbus ? "modbus" : "mbus");
    cJSON_AddStringToObject(o, "spec", spec);
    cJSON_AddStringToObject(o, "bus", bus);
    cJSON_AddBoolToObject(o, "copper", copper);
    emit(r, o);
}

/* "ep", and "conn" for a connection. */
static void add_port(cJSON *o, const record_port_t *p)
{
    cJSON_AddNumberToObject(o, "ep", p->ep);
    if (p->conn >= 0)
        cJSON_AddNumberToObject(o, "conn", p->conn);
}

void record_connect(record_port_t *srv, record_port_t *conn, uint64_t t_ns)
{
    *conn = (record_port_t){.rec = srv->rec, .ep = srv->ep, .conn = srv->next_conn++};
    if (!srv->rec)
        return;
    cJSON *o = begin(srv->rec, t_ns, "connect");
    add_port(o, conn);
    emit(srv->rec, o);
}

void record_start(const record_port_t *conn, uint64_t t_ns)
{
    if (!conn->rec)
        return;
    cJSON *o = begin(conn->rec, t_ns, "start");
    add_port(o, conn);
    emit(conn->rec, o);
}

void record_disconnect(const record_port_t *conn, uint64_t t_ns)
{
    if (!conn->rec)
        return;
    cJSON *o = begin(conn->rec, t_ns, "close");
    add_port(o, conn);
    emit(conn->rec, o);
}

void record_rx(const record_port_t *p, uint64_t t_ns, const uint8_t *b, size_t n, uint32_t peer_bps)
{
    if (!p || !p->rec || !n)
        return;
    cJSON *o = begin(p->rec, t_ns, "in");
    add_port(o, p);
    add_hex(o, b, n);
    if (peer_bps)
        cJSON_AddNumberToObject(o, "peer_bps", peer_bps);
    emit(p->rec, o);
}

void record_tx(const record_port_t *p, uint64_t t_ns, const uint8_t *b, size_t n)
{
    if (!p || !p->rec || !n)
        return;
    cJSON *o = begin(p->rec, t_ns, "out");
    add_port(o, p);
    add_hex(o, b, n);
    emit(p->rec, o);
}

void record_ui(record_t *r, uint64_t t_ns, uint64_t at_ns, int meter, const char *action, int arg,
               double value)
{
    if (!r)
        return;
    cJSON *o = begin(r, t_ns, "ui");
    add_uint(o, "at_ns", at_ns);
    cJSON_AddNumberToObject(o, "meter", meter);
    cJSON_AddStringToObject(o, "action", action);
    cJSON_AddNumberToObject(o, "arg", arg);
    cJSON_AddNumberToObject(o, "value", value);
    emit(r, o);
}

bool record_close(record_t *r, uint64_t t_end_ns)
{
    if (!r)
        return true;
    emit(r, begin(r, t_end_ns, "end"));
    bool ok = !r->failed && !ferror(r->f);
    ok = fclose(r->f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "metersim: --record: writing the recording failed: %s\n", strerror(errno));
    free(r);
    return ok;
}
