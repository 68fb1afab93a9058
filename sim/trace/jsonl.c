/* jsonl: one JSON object a line for every frame, pulse edge, input change,
 * LCD change and published window, with virtual time in integer ns (issue
 * 15 point 3, docs/trace.md). Objects are built with cJSON (its escaping);
 * times go in as raw integer literals, because a double would round them
 * past 2^53 ns (104 days). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

struct jsonl {
    FILE *f;
    char path[512];
    bool failed;
    /* The pulse edge is by far the most frequent record (the LED flashes at
     * 10 000 imp/kWh): printing a cJSON tree for each cost more than the
     * meter's own work (bench_trace). So each meter, signal and level has
     * its line printed once by cJSON with a marker where the time goes; an
     * edge writes the text before the marker, the time's digits, the text
     * after it. Every byte but the digits is cJSON's. */
    char **edge_tpl; /* [meter][signal][level], NULL until first used */
    int n_meters;
    char line[4096];
    hold_t *hold; /* every line, until its order is final (hold.c) */
};

jsonl_t *jsonl_open(const char *path, int n_meters, char *err, size_t errlen)
{
    jsonl_t *j = calloc(1, sizeof *j);
    if (j)
        j->edge_tpl = calloc((size_t)(n_meters > 0 ? n_meters : 1) * TRACE_METER_SIGS * 2,
                             sizeof *j->edge_tpl);
    if (j && j->edge_tpl)
        j->hold = hold_new();
    if (!j || !j->edge_tpl || !j->hold) {
        snprintf(err, errlen, "--trace-jsonl %s: out of memory", path);
        if (j) {
            free(j->edge_tpl);
            free(j->hold);
        }
        free(j);
        return NULL;
    }
    j->n_meters = n_meters;
    snprintf(j->path, sizeof j->path, "%s", path);
    j->f = fopen(path, "w");
    if (!j->f) {
        snprintf(err, errlen, "--trace-jsonl %s: cannot write it: %s", path, strerror(errno));
        free(j->edge_tpl);
        free(j->hold);
        free(j);
        return NULL;
    }
    return j;
}

const char *jsonl_path(const jsonl_t *j)
{
    return j->path;
}

/* Decimal digits of v into buf (at least 21 bytes); returns their count.
 * printf costs more than the rest of an edge's line (bench_trace). */
static int u64_digits(uint64_t v, char *buf)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

static void add_ns(cJSON *o, const char *key, uint64_t ns)
{
    char buf[24];
    u64_digits(ns, buf);
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

/* The file's writer for hold.c: one line, in its final place. */
static void write_line(void *ctx, uint64_t t_ns, const uint8_t *bytes, size_t len)
{
    jsonl_t *j = ctx;
    (void)t_ns;
    if (fwrite(bytes, 1, len, j->f) != len)
        j->failed = true;
}

/* One line (its newline included) to hold until its order is final. */
static void hold_line(jsonl_t *j, uint64_t t_ns, const char *line, size_t len)
{
    if (!hold_put(j->hold, t_ns, line, len))
        j->failed = true;
}

/* Holds the object as one line. */
static void put(jsonl_t *j, cJSON *o, uint64_t t_ns)
{
    /* Into a buffer of our own first (no allocation); a longer object (an
     * M-Bus RSP_UD's bytes) gets one from the library. */
    if (cJSON_PrintPreallocated(o, j->line, (int)sizeof j->line - 1, 0)) {
        size_t n = strlen(j->line);
        j->line[n] = '\n';
        hold_line(j, t_ns, j->line, n + 1);
        return;
    }
    char *s = cJSON_PrintUnformatted(o);
    if (!s) {
        j->failed = true;
        return;
    }
    size_t n = strlen(s);
    char *l = realloc(s, n + 2);
    if (!l) {
        free(s);
        j->failed = true;
        return;
    }
    l[n] = '\n';
    hold_line(j, t_ns, l, n + 1);
    free(l);
}

/* Holds the object as one line and frees it. */
static void emit(jsonl_t *j, cJSON *o, uint64_t t_ns)
{
    if (!o) {
        j->failed = true;
        return;
    }
    put(j, o, t_ns);
    cJSON_Delete(o);
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
    emit(j, o, t_start_ns);
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
    emit(j, o, t_ns);
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
    emit(j, o, t_ns);
}

/* The marker where an edge's time goes: a raw value cJSON prints as it is,
 * and a byte it never prints otherwise (it escapes control characters in
 * strings). */
#define TIME_MARK "\x01"

/* The line of an edge of meter k's signal at a level, printed by cJSON. */
static const char *edge_template(jsonl_t *j, int k, const char *meter, int sig, bool level)
{
    char **slot = &j->edge_tpl[((size_t)k * TRACE_METER_SIGS + (size_t)sig) * 2 + level];
    if (*slot)
        return *slot;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "type", "edge");
        cJSON_AddRawToObject(o, "t_ns", TIME_MARK);
        cJSON_AddStringToObject(o, "meter", meter ? meter : "");
        cJSON_AddStringToObject(o, "signal", trace_sig_name(sig));
        cJSON_AddNumberToObject(o, "level", level ? 1 : 0);
        *slot = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    return *slot;
}

void jsonl_edge(jsonl_t *j, int k, const char *meter, int sig, bool level, uint64_t t_ns)
{
    const char *tpl = k >= 0 && k < j->n_meters && sig >= 0 && sig < TRACE_METER_SIGS
                          ? edge_template(j, k, meter, sig, level)
                          : NULL;
    const char *mark = tpl ? strchr(tpl, TIME_MARK[0]) : NULL;
    if (!mark) {
        j->failed = true;
        return;
    }
    /* The line in our own buffer: the text before the marker, the time's
     * digits, the text after it. */
    size_t head = (size_t)(mark - tpl), tail = strlen(mark + 1);
    if (head + 21 + tail + 1 > sizeof j->line) {
        j->failed = true;
        return;
    }
    memcpy(j->line, tpl, head);
    size_t n = head + (size_t)u64_digits(t_ns, j->line + head);
    memcpy(j->line + n, mark + 1, tail);
    n += tail;
    j->line[n++] = '\n';
    hold_line(j, t_ns, j->line, n);
}

void jsonl_lcd(jsonl_t *j, const char *meter, const char *text, uint64_t t_ns)
{
    cJSON *o = start("lcd", t_ns);
    if (o) {
        cJSON_AddStringToObject(o, "meter", meter ? meter : "");
        cJSON_AddStringToObject(o, "text", text);
    }
    emit(j, o, t_ns);
}

/* A measured value in micro-units, as a JSON number ("230", "-1.5",
 * "0.899995"): exact to 1e-6 V, A, W, Hz, far below what the meter shows,
 * and written without printf, whose double formatting (and cJSON's, which
 * tries 15 and 17 digits and reads each back) cost more than the rest of
 * the trace (bench_trace). A number needs no escaping; a value that is not
 * finite, or beyond 9e12, is null. */
static cJSON *value(double x)
{
    if (!isfinite(x) || fabs(x) > 9e12)
        return cJSON_CreateNull();
    char buf[32];
    int64_t micro = llround(x * 1e6);
    int k = 0;
    if (micro < 0) {
        buf[k++] = '-';
        micro = -micro;
    }
    k += u64_digits((uint64_t)micro / 1000000u, buf + k);
    uint32_t frac = (uint32_t)((uint64_t)micro % 1000000u);
    if (frac) {
        buf[k++] = '.';
        for (uint32_t d = 100000; d && frac; d /= 10) {
            buf[k++] = (char)('0' + frac / d);
            frac %= d;
        }
        buf[k] = '\0';
    }
    return cJSON_CreateRaw(buf);
}

static void add_value(cJSON *o, const char *key, double x)
{
    cJSON *v = value(x);
    if (v)
        cJSON_AddItemToObject(o, key, v);
}

static void add_triple(cJSON *o, const char *key, const double v[3])
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return;
    for (int k = 0; k < 3; k++) {
        cJSON *x = value(v[k]);
        if (x)
            cJSON_AddItemToArray(a, x);
    }
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
        add_value(o, "p_total", v->p_total);
        add_value(o, "q_total", v->q_total);
        add_value(o, "s_total", v->s_total);
        add_value(o, "pf_total", v->pf_total);
        add_value(o, "frequency", v->frequency);
    }
    emit(j, o, t_ns);
}

void jsonl_time(jsonl_t *j, uint64_t before_ns)
{
    hold_flush(j->hold, before_ns, write_line, j);
}

bool jsonl_close(jsonl_t *j)
{
    bool oom;
    uint64_t late = hold_free(j->hold, write_line, j, &oom);
    if (oom)
        j->failed = true;
    if (late)
        fprintf(stderr,
                "metersim: --trace-jsonl %s: %llu records came later than the trace could "
                "wait and are out of order\n",
                j->path, (unsigned long long)late);
    for (size_t i = 0; i < (size_t)(j->n_meters > 0 ? j->n_meters : 1) * TRACE_METER_SIGS * 2; i++)
        cJSON_free(j->edge_tpl[i]);
    free(j->edge_tpl);
    bool ok = !j->failed;
    if (fclose(j->f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "metersim: --trace-jsonl %s: writing the trace failed\n", j->path);
    free(j);
    return ok;
}
