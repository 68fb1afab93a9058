/* jsonl: one JSON object a line for every frame, pulse edge, input change,
 * LCD change and published window, with virtual time in integer ns (issue
 * 15 point 3, docs/trace.md). Objects are built with cJSON (its escaping);
 * times go in as raw integer literals, because a double would round them
 * past 2^53 ns (104 days). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

struct jsonl {
    FILE *f;
    char path[512];
    bool failed;
};

jsonl_t *jsonl_open(const char *path, char *err, size_t errlen)
{
    jsonl_t *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "--trace-jsonl %s: out of memory", path);
        return NULL;
    }
    snprintf(j->path, sizeof j->path, "%s", path);
    j->f = fopen(path, "w");
    if (!j->f) {
        snprintf(err, errlen, "--trace-jsonl %s: cannot write it: %s", path, strerror(errno));
        free(j);
        return NULL;
    }
    return j;
}

const char *jsonl_path(const jsonl_t *j)
{
    return j->path;
}

static void add_ns(cJSON *o, const char *key, uint64_t ns)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, ns);
    cJSON_AddRawToObject(o, key, buf);
}

/* A new object with its type and time. */
static cJSON *start(const char *type, uint64_t t_ns)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "type", type);
        add_ns(o, "t_ns", t_ns);
    }
    return o;
}

/* Writes the object as one line and frees it. */
static void emit(jsonl_t *j, cJSON *o)
{
    if (!o) {
        j->failed = true;
        return;
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s || fputs(s, j->f) == EOF || fputc('\n', j->f) == EOF)
        j->failed = true;
    free(s);
}

static void add_hex(cJSON *o, const char *key, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(n * 3 + 1);
    if (!s)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[k++] = ' ';
        s[k++] = digits[bytes[i] >> 4];
        s[k++] = digits[bytes[i] & 15];
    }
    s[k] = '\0';
    cJSON_AddStringToObject(o, key, s);
    free(s);
}

static const char *line_name(meter_line_t line)
{
    return line == METER_LINE_MODBUS ? "modbus" : "mbus";
}

void jsonl_frame(jsonl_t *j, const char *bus, meter_line_t line, int dir, const char *meter,
                 const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint64_t t_end_ns,
                 uint32_t bps, line_parity_t parity)
{
    cJSON *o = start("frame", t_start_ns);
    if (o) {
        add_ns(o, "t_end_ns", t_end_ns);
        cJSON_AddStringToObject(o, "bus", bus);
        cJSON_AddStringToObject(o, "line", line_name(line));
        cJSON_AddStringToObject(o, "dir", dir == 0 ? "to_meter" : "to_master");
        if (meter)
            cJSON_AddStringToObject(o, "meter", meter);
        cJSON_AddNumberToObject(o, "bps", bps);
        cJSON_AddStringToObject(o, "parity",
                                parity == LINE_PARITY_NONE  ? "none"
                                : parity == LINE_PARITY_ODD ? "odd"
                                                            : "even");
        add_hex(o, "bytes", bytes, n);
    }
    emit(j, o);
}

void jsonl_cut(jsonl_t *j, const char *bus, meter_line_t line, const char *meter, uint64_t t_ns)
{
    cJSON *o = start("cut", t_ns);
    if (o) {
        cJSON_AddStringToObject(o, "bus", bus);
        cJSON_AddStringToObject(o, "line", line_name(line));
        if (meter)
            cJSON_AddStringToObject(o, "meter", meter);
    }
    emit(j, o);
}

void jsonl_mbtcp(jsonl_t *j, const char *bus, int client, bool to_gateway, const uint8_t *adu,
                 size_t n, uint64_t t_ns)
{
    cJSON *o = start("mbtcp", t_ns);
    if (o) {
        cJSON_AddStringToObject(o, "bus", bus);
        cJSON_AddNumberToObject(o, "client", client);
        cJSON_AddStringToObject(o, "dir", to_gateway ? "to_gateway" : "to_client");
        add_hex(o, "bytes", adu, n);
    }
    emit(j, o);
}

void jsonl_edge(jsonl_t *j, const char *meter, const char *signal, bool level, uint64_t t_ns)
{
    cJSON *o = start("edge", t_ns);
    if (o) {
        cJSON_AddStringToObject(o, "meter", meter ? meter : "");
        cJSON_AddStringToObject(o, "signal", signal);
        cJSON_AddNumberToObject(o, "level", level ? 1 : 0);
    }
    emit(j, o);
}

void jsonl_lcd(jsonl_t *j, const char *meter, const char *text, uint64_t t_ns)
{
    cJSON *o = start("lcd", t_ns);
    if (o) {
        cJSON_AddStringToObject(o, "meter", meter ? meter : "");
        cJSON_AddStringToObject(o, "text", text);
    }
    emit(j, o);
}

static void add_triple(cJSON *o, const char *key, const double v[3])
{
    cJSON *a = cJSON_CreateDoubleArray(v, 3);
    if (a)
        cJSON_AddItemToObject(o, key, a);
}

void jsonl_window(jsonl_t *j, const char *meter, const metrology_values_t *v, uint64_t t_ns)
{
    cJSON *o = start("window", t_ns);
    if (o) {
        cJSON_AddStringToObject(o, "meter", meter ? meter : "");
        cJSON_AddNumberToObject(o, "seq", v->seq);
        add_triple(o, "u", v->u);
        add_triple(o, "i", v->i);
        add_triple(o, "p", v->p);
        add_triple(o, "q", v->q);
        cJSON_AddNumberToObject(o, "p_total", v->p_total);
        cJSON_AddNumberToObject(o, "q_total", v->q_total);
        cJSON_AddNumberToObject(o, "s_total", v->s_total);
        cJSON_AddNumberToObject(o, "pf_total", v->pf_total);
        cJSON_AddNumberToObject(o, "frequency", v->frequency);
    }
    emit(j, o);
}

bool jsonl_close(jsonl_t *j)
{
    bool ok = !j->failed;
    if (fclose(j->f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "metersim: --trace-jsonl %s: writing the trace failed\n", j->path);
    free(j);
    return ok;
}
