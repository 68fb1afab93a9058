/* jsonl: one JSON object a line for every frame, pulse edge, input change,
 * LCD change and published window, with virtual time in integer ns (issue
 * 15 point 3, docs/trace.md).
 *
 * The lines are written by hand, straight into the records held until their
 * order is final (hold.c), and leave through a buffer of our own: building
 * a cJSON tree, printing it and copying the text for each record cost more
 * than the 10 % of a sample-level run the trace may take (bench_trace,
 * docs/performance.md). The bytes are the ones cJSON printed before
 * (unformatted: no space, keys in the order below): strings escaped as its
 * print_string_ptr does, integers in decimal as its "%1.15g" gives them
 * below 1e15, times as raw integer literals (a double would round them past
 * 2^53 ns, 104 days). tests/unit/test_trace_jsonl.c holds the escaping to
 * cJSON's own. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "trace_internal.h"

/* The file is written in pieces of this size: a write every few
 * simulated seconds rather than stdio's 4 KiB at a time, in a buffer small
 * enough to stay in the cache next to the meters' own data. */
#define OUT_SIZE (64u * 1024u)

/* An edge's line around its time: the text before the digits, after them. */
typedef struct {
    char *head, *tail;
    size_t head_len, tail_len;
} edge_tpl_t;

struct jsonl {
    FILE *f;
    char path[512];
    bool failed;
    /* The pulse edge is by far the most frequent record (the LED flashes at
     * 10 000 imp/kWh): each meter, signal and level has its line written
     * once, and an edge copies it around the time's digits. */
    edge_tpl_t *edge_tpl; /* [meter][signal][level], head NULL until first used */
    int n_meters;
    char *out; /* OUT_SIZE bytes, out_n of them not yet written */
    size_t out_n;
    hold_t *hold; /* every line, until its order is final (hold.c) */
};

static size_t n_tpl(int n_meters)
{
    return (size_t)(n_meters > 0 ? n_meters : 1) * TRACE_METER_SIGS * 2;
}

jsonl_t *jsonl_open(const char *path, int n_meters, char *err, size_t errlen)
{
    jsonl_t *j = calloc(1, sizeof *j);
    if (j) {
        j->edge_tpl = calloc(n_tpl(n_meters), sizeof *j->edge_tpl);
        j->out = malloc(OUT_SIZE);
        j->hold = hold_new();
    }
    if (!j || !j->edge_tpl || !j->out || !j->hold) {
        snprintf(err, errlen, "--trace-jsonl %s: out of memory", path);
        if (j) {
            free(j->edge_tpl);
            free(j->out);
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
        free(j->out);
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

/* ---- the text, by hand ---------------------------------------------------- */

/* Each writer below puts its text at p and returns the end of it. */

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* Decimal digits of v (digits.h: an edge's line is mostly its time, and
 * digit by digit it was a third of the trace's cost, bench_trace). */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[TRACE_DIGITS_MAX];
    char *start = trace_digits(tmp + sizeof tmp, v);
    size_t n = (size_t)(tmp + sizeof tmp - start);
    memcpy(p, start, n);
    return p + n;
}

/* A JSON string as cJSON prints it: quoted; `"`, `\` and the control
 * characters with a short escape escaped so, the other bytes below 32 as
 * \u00xx (lower-case hex), every other byte as it is. At most 6 bytes a
 * byte of s, and 2. */
static char *put_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c >= 32 && *c != '"' && *c != '\\') {
            *p++ = (char)*c;
            continue;
        }
        *p++ = '\\';
        switch (*c) {
        case '"':
        case '\\':
            *p++ = (char)*c;
            break;
        case '\b':
            *p++ = 'b';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        default:
            p = LIT(p, "u00");
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p++ = '"';
    return p;
}

/* The room put_str may take for s. */
static size_t str_room(const char *s)
{
    return s ? 6 * strlen(s) + 2 : 0;
}

/* Bytes as a quoted string of lower-case hex pairs with a space between:
 * 3 bytes a byte, and 2. */
static char *put_hex(char *p, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ' ';
        *p++ = digits[bytes[i] >> 4];
        *p++ = digits[bytes[i] & 15];
    }
    *p++ = '"';
    return p;
}

/* A measured value in micro-units, as a JSON number ("230", "-1.5",
 * "0.899995"): exact to 1e-6 V, A, W, Hz, far below what the meter shows,
 * and written without printf, whose double formatting (and cJSON's, which
 * tries 15 and 17 digits and reads each back) cost more than the rest of
 * the trace (bench_trace). A value that is not finite, or beyond 9e12, is
 * null. At most 22 bytes. */
static char *put_value(char *p, double x)
{
    if (!isfinite(x) || fabs(x) > 9e12)
        return LIT(p, "null");
    int64_t micro = llround(x * 1e6);
    if (micro < 0) {
        *p++ = '-';
        micro = -micro;
    }
    p = put_u64(p, (uint64_t)micro / 1000000u);
    uint32_t frac = (uint32_t)((uint64_t)micro % 1000000u);
    if (frac) {
        *p++ = '.';
        for (uint32_t d = 100000; d && frac; d /= 10) {
            *p++ = (char)('0' + frac / d);
            frac %= d;
        }
    }
    return p;
}

/* A numeric field of a window: `,"key":` and its n values (put_value), one
 * as a number, more (a value of each phase) as an array: at most 23 n + 1
 * bytes after the key. */
static char *put_numbers(char *p, const char *key_lit, size_t key_len, const double *v, int n)
{
    memcpy(p, key_lit, key_len);
    p += key_len;
    if (n == 1)
        return put_value(p, v[0]);
    *p++ = '[';
    for (int k = 0; k < n; k++) {
        if (k)
            *p++ = ',';
        p = put_value(p, v[k]);
    }
    *p++ = ']';
    return p;
}
#define NUMBERS(p, key, v, n)                                                                      \
    put_numbers((p), ",\"" key "\":", sizeof(",\"" key "\":") - 1, (v), (n))

/* The start of every line: its type and time. */
static char *put_start(char *p, const char *type_lit, size_t type_len, uint64_t t_ns)
{
    p = LIT(p, "{\"type\":\"");
    memcpy(p, type_lit, type_len);
    p += type_len;
    p = LIT(p, "\",\"t_ns\":");
    return put_u64(p, t_ns);
}
#define START(p, type, t) put_start((p), (type), sizeof(type) - 1, (t))

/* Room for a line of at most `room` bytes among the held records; NULL
 * (the trace failed) when out of memory. */
static char *begin(jsonl_t *j, size_t room)
{
    char *p = (char *)hold_reserve(j->hold, room);
    if (!p)
        j->failed = true;
    return p;
}

/* The line from `line` to p (its newline added) held until its order is
 * final. */
static void end(jsonl_t *j, char *line, char *p, uint64_t t_ns)
{
    *p++ = '\n';
    if (!hold_commit(j->hold, t_ns, (size_t)(p - line)))
        j->failed = true;
}

/* ---- the file ------------------------------------------------------------- */

static void out_flush(jsonl_t *j)
{
    if (j->out_n && fwrite(j->out, 1, j->out_n, j->f) != j->out_n)
        j->failed = true;
    j->out_n = 0;
}

/* The file's writer for hold.c: one line, in its final place. */
static void write_line(void *ctx, uint64_t t_ns, const uint8_t *bytes, size_t len)
{
    jsonl_t *j = ctx;
    (void)t_ns;
    if (OUT_SIZE - j->out_n < len) {
        out_flush(j);
        if (len > OUT_SIZE) {
            if (fwrite(bytes, 1, len, j->f) != len)
                j->failed = true;
            return;
        }
    }
    memcpy(j->out + j->out_n, bytes, len);
    j->out_n += len;
}

/* ---- the records ---------------------------------------------------------- */

/* The room of a line's fixed text, its numbers and its short names. */
#define FIXED_ROOM 512u

static const char *line_name(meter_line_t line)
{
    return line == METER_LINE_MODBUS ? "modbus" : "mbus";
}

void jsonl_frame(jsonl_t *j, const char *bus, meter_line_t line, int dir, const char *meter,
                 const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint64_t t_end_ns,
                 uint32_t bps, line_parity_t parity)
{
    char *l = begin(j, FIXED_ROOM + str_room(bus) + str_room(meter) + 3 * n);
    if (!l)
        return;
    char *p = START(l, "frame", t_start_ns);
    p = LIT(p, ",\"t_end_ns\":");
    p = put_u64(p, t_end_ns);
    p = LIT(p, ",\"bus\":");
    p = put_str(p, bus);
    p = LIT(p, ",\"line\":");
    p = put_str(p, line_name(line));
    p = dir == 0 ? LIT(p, ",\"dir\":\"to_meter\"") : LIT(p, ",\"dir\":\"to_master\"");
    if (meter) {
        p = LIT(p, ",\"meter\":");
        p = put_str(p, meter);
    }
    p = LIT(p, ",\"bps\":");
    p = put_u64(p, bps);
    p = LIT(p, ",\"parity\":");
    p = put_str(p, parity == LINE_PARITY_NONE  ? "none"
                   : parity == LINE_PARITY_ODD ? "odd"
                                               : "even");
    p = LIT(p, ",\"bytes\":");
    p = put_hex(p, bytes, n);
    *p++ = '}';
    end(j, l, p, t_start_ns);
}

void jsonl_cut(jsonl_t *j, const char *bus, meter_line_t line, const char *meter, uint64_t t_ns)
{
    char *l = begin(j, FIXED_ROOM + str_room(bus) + str_room(meter));
    if (!l)
        return;
    char *p = START(l, "cut", t_ns);
    p = LIT(p, ",\"bus\":");
    p = put_str(p, bus);
    p = LIT(p, ",\"line\":");
    p = put_str(p, line_name(line));
    if (meter) {
        p = LIT(p, ",\"meter\":");
        p = put_str(p, meter);
    }
    *p++ = '}';
    end(j, l, p, t_ns);
}

void jsonl_mbtcp(jsonl_t *j, const char *bus, int client, bool to_gateway, const uint8_t *adu,
                 size_t n, uint64_t t_ns)
{
    char *l = begin(j, FIXED_ROOM + str_room(bus) + 3 * n);
    if (!l)
        return;
    char *p = START(l, "mbtcp", t_ns);
    p = LIT(p, ",\"bus\":");
    p = put_str(p, bus);
    p = LIT(p, ",\"client\":");
    if (client < 0) {
        *p++ = '-';
        p = put_u64(p, (uint64_t) - (int64_t)client);
    } else {
        p = put_u64(p, (uint64_t)client);
    }
    p = to_gateway ? LIT(p, ",\"dir\":\"to_gateway\"") : LIT(p, ",\"dir\":\"to_client\"");
    p = LIT(p, ",\"bytes\":");
    p = put_hex(p, adu, n);
    *p++ = '}';
    end(j, l, p, t_ns);
}

/* The line of an edge of meter k's signal at a level, around its time. */
static const edge_tpl_t *edge_template(jsonl_t *j, int k, const char *meter, int sig, bool level)
{
    edge_tpl_t *e = &j->edge_tpl[((size_t)k * TRACE_METER_SIGS + (size_t)sig) * 2 + level];
    if (e->head)
        return e;
    char *head = malloc(32), *tail = malloc(FIXED_ROOM + str_room(meter ? meter : ""));
    if (!head || !tail) {
        free(head);
        free(tail);
        return NULL;
    }
    char *p = LIT(head, "{\"type\":\"edge\",\"t_ns\":");
    e->head_len = (size_t)(p - head);
    p = LIT(tail, ",\"meter\":");
    p = put_str(p, meter ? meter : "");
    p = LIT(p, ",\"signal\":");
    p = put_str(p, trace_sig_name(sig));
    p = level ? LIT(p, ",\"level\":1}\n") : LIT(p, ",\"level\":0}\n");
    e->tail_len = (size_t)(p - tail);
    e->head = head;
    e->tail = tail;
    return e;
}

void jsonl_edge(jsonl_t *j, int k, const char *meter, int sig, bool level, uint64_t t_ns)
{
    const edge_tpl_t *e = k >= 0 && k < j->n_meters && sig >= 0 && sig < TRACE_METER_SIGS
                              ? edge_template(j, k, meter, sig, level)
                              : NULL;
    char *l = e ? begin(j, e->head_len + 20 + e->tail_len) : NULL;
    if (!l) {
        j->failed = true;
        return;
    }
    memcpy(l, e->head, e->head_len);
    char *p = put_u64(l + e->head_len, t_ns);
    memcpy(p, e->tail, e->tail_len);
    p += e->tail_len;
    if (!hold_commit(j->hold, t_ns, (size_t)(p - l)))
        j->failed = true;
}

void jsonl_lcd(jsonl_t *j, const char *meter, const char *text, uint64_t t_ns)
{
    char *l = begin(j, FIXED_ROOM + str_room(meter ? meter : "") + str_room(text));
    if (!l)
        return;
    char *p = START(l, "lcd", t_ns);
    p = LIT(p, ",\"meter\":");
    p = put_str(p, meter ? meter : "");
    p = LIT(p, ",\"text\":");
    p = put_str(p, text);
    *p++ = '}';
    end(j, l, p, t_ns);
}

void jsonl_window(jsonl_t *j, const char *meter, const metrology_values_t *v, uint64_t t_ns)
{
    /* 17 values of at most 22 bytes, their keys and the rest. */
    char *l = begin(j, 2 * FIXED_ROOM + str_room(meter ? meter : ""));
    if (!l)
        return;
    char *p = START(l, "window", t_ns);
    p = LIT(p, ",\"meter\":");
    p = put_str(p, meter ? meter : "");
    p = LIT(p, ",\"seq\":");
    p = put_u64(p, v->seq);
    p = NUMBERS(p, "u", v->u, 3);
    p = NUMBERS(p, "i", v->i, 3);
    p = NUMBERS(p, "p", v->p, 3);
    p = NUMBERS(p, "q", v->q, 3);
    p = NUMBERS(p, "p_total", &v->p_total, 1);
    p = NUMBERS(p, "q_total", &v->q_total, 1);
    p = NUMBERS(p, "s_total", &v->s_total, 1);
    p = NUMBERS(p, "pf_total", &v->pf_total, 1);
    p = NUMBERS(p, "frequency", &v->frequency, 1);
    *p++ = '}';
    end(j, l, p, t_ns);
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
    out_flush(j);
    for (size_t i = 0; i < n_tpl(j->n_meters); i++) {
        free(j->edge_tpl[i].head);
        free(j->edge_tpl[i].tail);
    }
    free(j->edge_tpl);
    free(j->out);
    bool ok = !j->failed;
    if (fclose(j->f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "metersim: --trace-jsonl %s: writing the trace failed\n", j->path);
    free(j);
    return ok;
}
