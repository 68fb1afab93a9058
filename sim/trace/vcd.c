/* vcd: a bit-level Value Change Dump of the run, in virtual time (issue 15
 * point 1, docs/trace.md).
 *
 *   per bus:   BUS_modbus_to_meter  BUS_modbus_to_master   (one wire a direction)
 *              BUS_mbus_to_meter    BUS_mbus_to_master
 *   per meter: METER_S0_1 METER_S0_2 METER_LED METER_tariff_input
 *              METER_supply_L1 METER_supply_L2 METER_supply_L3
 *
 * A wire idles high (mark); a character is a start bit (0), 8 data bits LSB
 * first, the parity bit if the line has one, and a stop bit (1), as line.c
 * puts it on the line. Bit edges fall on exact multiples of the bit time from
 * the frame's start, rounded to the nanosecond (the timescale):
 *
 *   edge j of a frame = t_start + round(j * 1e9 / bps)     (j = i * bits + b)
 *
 * A frame whose characters have their own end times (a port's bytes as they
 * came) starts each character at its end minus a character time. On the
 * meter-to-master wire several meters' replies superpose as a wired AND, as
 * on copper (line.h): the wire is low while any driver sends a 0.
 *
 * Frames are kept as bytes and turned into edges only as they are written,
 * so memory holds what is on the wires and the changes of the last
 * TRACE_VCD_MARGIN_NS (trace.c): those are sorted by time and written once
 * the host's time has moved past them. A change that arrives later than that
 * is written at the earliest time still open, and counted (a warning at the
 * end); none does in a run driven by the runner.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "trace_internal.h"

#define NS_PER_S 1000000000ull
#define WIRES_PER_BUS 4 /* Modbus and M-Bus, two directions each */

enum { EV_LOW = 0, EV_HIGH, EV_PULL, EV_RELEASE };

typedef struct {
    uint64_t t;
    uint32_t sig;
    uint32_t seq;
    uint8_t kind;
} vev_t;

typedef struct vtx {
    struct vtx *next;
    uint32_t sig;
    int meter;
    uint64_t t_start;
    uint32_t bps;
    line_parity_t parity;
    unsigned nbits;
    size_t n, bit;    /* bit: the next bit boundary to turn into an edge */
    bool low;         /* this driver sends a 0 after the edges so far */
    uint64_t cut;     /* no bits from here on (UINT64_MAX: none) */
    uint64_t *starts; /* each character's start; NULL: back to back */
    uint8_t bytes[];
} vtx_t;

typedef struct {
    vev_t *v;
    size_t n, cap;
} vevs_t;

/* The changes are written through a buffer of our own, by hand: a
 * character is some 20 changes, each a time and a level, and stdio's
 * fwrite per line cost more than the rest of the trace (bench_trace,
 * docs/performance.md). */
#define OUT_SIZE (64u * 1024u)
#define OUT_LINE 32u /* the longest line of the body: "#" and 20 digits, or a change */

struct vcd {
    FILE *f;
    char path[512];
    char *out; /* OUT_SIZE bytes, out_n of them not yet written */
    size_t out_n;
    char (*ids)[8];  /* each signal's identifier (ident()), ... */
    uint8_t *id_len; /* ... and its length */
    uint64_t from, until;
    int n_buses, n_meters;
    uint32_t n_sigs;
    uint8_t *shown;    /* the level written last (or the level at `from`) */
    uint8_t *level;    /* scalar signals: the level now */
    uint32_t *low;     /* wires: drivers sending 0 now */
    uint32_t *touched; /* scratch: signals changed at one instant */
    uint32_t *stamp;   /* scratch: the group a signal was last touched in */
    uint32_t group;
    vevs_t pending; /* scalar changes not written yet */
    vevs_t batch;   /* scratch: one flush's changes */
    vevs_t merge;   /* scratch: sort_batch()'s other half */
    vtx_t *txs;
    uint32_t seq;
    uint64_t floor; /* changes before this are written: nothing may fall before it */
    uint64_t last_t;
    bool started, done, failed;
    uint64_t late;
};

static bool push(vevs_t *a, vev_t e)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        vev_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return false;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = e;
    return true;
}

static uint32_t wire_sig(int bus, meter_line_t line, int dir)
{
    return (uint32_t)(bus * WIRES_PER_BUS + (int)line * 2 + dir);
}

static bool is_wire(const vcd_t *v, uint32_t sig)
{
    return sig < (uint32_t)(v->n_buses * WIRES_PER_BUS);
}

/* The VCD identifier of a signal: base 94 over the printable characters. */
static void ident(uint32_t sig, char out[8])
{
    int k = 0;
    do {
        out[k++] = (char)('!' + sig % 94);
        sig /= 94;
    } while (sig && k < 7);
    out[k] = '\0';
}

static void out_flush(vcd_t *v)
{
    if (v->out_n && fwrite(v->out, 1, v->out_n, v->f) != v->out_n)
        v->failed = true;
    v->out_n = 0;
}

/* Room for a line of the body (OUT_LINE bytes) at the end of the buffer. */
static char *out_room(vcd_t *v)
{
    if (OUT_SIZE - v->out_n < OUT_LINE)
        out_flush(v);
    return v->out + v->out_n;
}

/* Writes "#t\n". */
static void put_time(vcd_t *v, uint64_t t)
{
    char buf[2 * OUT_LINE];
    char *end = buf + 2 + TRACE_DIGITS_MAX;
    *end = '\n';
    char *start = trace_digits(end, t);
    *--start = '#';
    /* A fixed length (the line and what follows it in buf) is one copy
     * without a call; the buffer's end moves by the line alone. */
    memcpy(out_room(v), start, OUT_LINE);
    v->out_n += (size_t)(end + 1 - start);
}

/* Writes a value change: "0!" or "1!" and a newline. */
static void put_change(vcd_t *v, int level, uint32_t sig)
{
    char *p = out_room(v);
    size_t n = v->id_len[sig];
    p[0] = (char)('0' + level);
    memcpy(p + 1, v->ids[sig], 8);
    p[1 + n] = '\n';
    v->out_n += n + 2;
}

/* A name as a VCD reference: letters, digits and '_' only. */
static void put_name(FILE *f, const char *a, const char *b)
{
    for (const char *s = a; *s; s++)
        fputc((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
                  ? *s
                  : '_',
              f);
    fputc('_', f);
    fputs(b, f);
}

static void header(vcd_t *v, const scenario_t *sc)
{
    static const char *const wires[WIRES_PER_BUS] = {"modbus_to_meter", "modbus_to_master",
                                                     "mbus_to_meter", "mbus_to_master"};
    static const char *const msigs[TRACE_METER_SIGS] = {
        "S0_1", "S0_2", "LED", "tariff_input", "supply_L1", "supply_L2", "supply_L3"};
    FILE *f = v->f;
    char id[8];
    fputs("$version metersim (virtual time; docs/trace.md) $end\n$timescale 1ns $end\n"
          "$scope module metersim $end\n",
          f);
    for (int b = 0; b < v->n_buses; b++) {
        fputs("$scope module ", f);
        put_name(f, sc->buses[b].name, "bus");
        fputs(" $end\n", f);
        for (int w = 0; w < WIRES_PER_BUS; w++) {
            ident(wire_sig(b, (meter_line_t)(w / 2), w % 2), id);
            fprintf(f, "$var wire 1 %s ", id);
            put_name(f, sc->buses[b].name, wires[w]);
            fputs(" $end\n", f);
        }
        fputs("$upscope $end\n", f);
    }
    for (int k = 0; k < v->n_meters; k++) {
        fputs("$scope module ", f);
        put_name(f, sc->meters[k].name, "meter");
        fputs(" $end\n", f);
        for (int s = 0; s < TRACE_METER_SIGS; s++) {
            ident((uint32_t)(v->n_buses * WIRES_PER_BUS + k * TRACE_METER_SIGS + s), id);
            fprintf(f, "$var wire 1 %s ", id);
            put_name(f, sc->meters[k].name, msigs[s]);
            fputs(" $end\n", f);
        }
        fputs("$upscope $end\n", f);
    }
    fputs("$upscope $end\n$enddefinitions $end\n", f);
}

vcd_t *vcd_open(const char *path, const scenario_t *sc, uint64_t from_ns, uint64_t until_ns,
                char *err, size_t errlen)
{
    vcd_t *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "--trace-vcd %s: out of memory", path);
        return NULL;
    }
    snprintf(v->path, sizeof v->path, "%s", path);
    v->from = from_ns;
    v->until = until_ns;
    v->n_buses = sc->n_buses;
    v->n_meters = sc->n_meters;
    v->n_sigs = (uint32_t)(sc->n_buses * WIRES_PER_BUS + sc->n_meters * TRACE_METER_SIGS);
    v->shown = calloc(v->n_sigs, 1);
    v->level = calloc(v->n_sigs, 1);
    v->low = calloc(v->n_sigs, sizeof *v->low);
    v->touched = calloc(v->n_sigs, sizeof *v->touched);
    v->stamp = calloc(v->n_sigs, sizeof *v->stamp);
    v->ids = calloc(v->n_sigs, sizeof *v->ids);
    v->id_len = calloc(v->n_sigs, 1);
    v->out = malloc(OUT_SIZE);
    if (!v->shown || !v->level || !v->low || !v->touched || !v->stamp || !v->ids || !v->id_len ||
        !v->out) {
        snprintf(err, errlen, "--trace-vcd %s: out of memory", path);
        goto fail;
    }
    for (uint32_t s = 0; s < v->n_sigs; s++) {
        v->shown[s] = v->level[s] = is_wire(v, s); /* wires idle high, outputs low */
        ident(s, v->ids[s]);
        v->id_len[s] = (uint8_t)strlen(v->ids[s]);
    }
    v->f = fopen(path, "w");
    if (!v->f) {
        snprintf(err, errlen, "--trace-vcd %s: cannot write it: %s", path, strerror(errno));
        goto fail;
    }
    setvbuf(v->f, NULL, _IOFBF, 1 << 16);
    header(v, sc);
    return v;
fail:
    free(v->ids);
    free(v->id_len);
    free(v->out);
    free(v->shown);
    free(v->level);
    free(v->low);
    free(v->touched);
    free(v->stamp);
    free(v);
    return NULL;
}

const char *vcd_path(const vcd_t *v)
{
    return v->path;
}

/* A change at t, never before what is written already. */
static void add(vcd_t *v, vevs_t *to, uint64_t t, uint32_t sig, uint8_t kind)
{
    if (t < v->floor) {
        t = v->floor;
        v->late++;
    }
    if (!push(to, (vev_t){.t = t, .sig = sig, .seq = v->seq++, .kind = kind}))
        v->failed = true;
}

void vcd_frame(vcd_t *v, int bus, meter_line_t line, int dir, int meter, const uint8_t *bytes,
               size_t n, uint64_t t_start_ns, uint32_t bps, line_parity_t parity,
               const uint64_t *t_end)
{
    if (v->done || n == 0 || bps == 0)
        return;
    vtx_t *x = calloc(1, sizeof *x + n);
    if (!x) {
        v->failed = true;
        return;
    }
    memcpy(x->bytes, bytes, n);
    x->sig = wire_sig(bus, line, dir);
    x->meter = meter;
    x->t_start = t_start_ns;
    x->bps = bps;
    x->parity = parity;
    x->nbits = line_bits(parity);
    x->n = n;
    x->cut = UINT64_MAX;
    if (t_end) {
        /* Each character where it ended, one character time long; never
         * before the last one ended (no time on the wire: --fast). */
        uint64_t ch = (x->nbits * NS_PER_S + bps / 2) / bps;
        x->starts = malloc(n * sizeof *x->starts);
        if (!x->starts) {
            free(x);
            v->failed = true;
            return;
        }
        uint64_t prev_end = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t s = t_end[i] > ch ? t_end[i] - ch : 0;
            if (i && s < prev_end)
                s = prev_end;
            x->starts[i] = s;
            prev_end = s + ch;
        }
        x->t_start = x->starts[0];
    }
    x->next = v->txs;
    v->txs = x;
}

void vcd_cut(vcd_t *v, int bus, meter_line_t line, int meter, uint64_t t_ns)
{
    for (vtx_t *x = v->txs; x; x = x->next)
        if (x->sig == wire_sig(bus, line, 1) && x->meter == meter && x->cut > t_ns)
            x->cut = t_ns;
}

void vcd_level(vcd_t *v, int meter, int sig, bool level, uint64_t t_ns)
{
    if (v->done)
        return;
    uint32_t s = (uint32_t)(v->n_buses * WIRES_PER_BUS + meter * TRACE_METER_SIGS + sig);
    add(v, &v->pending, t_ns, s, level ? EV_HIGH : EV_LOW);
}

/* The level a transmission drives during bit b of a character. */
static bool bit_level(const vtx_t *x, uint8_t byte, unsigned b)
{
    if (b == 0)
        return false; /* start */
    if (b <= 8)
        return (byte >> (b - 1)) & 1u;
    if (b == 9 && x->parity != LINE_PARITY_NONE) {
        unsigned ones = (unsigned)__builtin_popcount(byte);
        return x->parity == LINE_PARITY_EVEN ? (ones & 1u) : !(ones & 1u);
    }
    return true; /* stop */
}

/* Turns a transmission's bits before w into changes; true when it is over.
 *
 * Bit boundary j falls at t_start + round(j * 1e9 / bps), or, when the
 * characters have their own starts, character i's start + round(b * 1e9 /
 * bps) (j = i * bits + b). The quotient is carried from one boundary to the
 * next (add 1e9 / bps, and the remainders' carry) rather than divided out
 * at each: the same integers, without a 64-bit division a bit, which cost
 * more than the rest of the VCD (bench_trace). */
static bool tx_edges(vcd_t *v, vtx_t *x, uint64_t w)
{
    size_t total = x->n * x->nbits;
    size_t i = x->bit / x->nbits;
    unsigned b = (unsigned)(x->bit % x->nbits);
    const uint64_t bps = x->bps, half = bps / 2;
    const uint64_t step_q = NS_PER_S / bps, step_r = NS_PER_S % bps;
    uint64_t base = x->t_start, num = (uint64_t)x->bit * NS_PER_S + half;
    if (x->starts && i < x->n) {
        base = x->starts[i];
        num = (uint64_t)b * NS_PER_S + half;
    }
    uint64_t q = num / bps, r = num % bps; /* round(j * 1e9 / bps) = q */
    while (x->bit < total) {
        uint64_t t = base + q;
        if (t >= w)
            return false;
        if (t >= x->cut)
            break;
        bool lv = bit_level(x, x->bytes[i], b);
        if (!lv && !x->low) {
            add(v, &v->batch, t, x->sig, EV_PULL);
            x->low = true;
        } else if (lv && x->low) {
            add(v, &v->batch, t, x->sig, EV_RELEASE);
            x->low = false;
        }
        x->bit++;
        if (++b == x->nbits) {
            b = 0;
            i++;
            if (x->starts) { /* the next character from its own start */
                if (i < x->n)
                    base = x->starts[i];
                q = 0;
                r = half;
                continue;
            }
        }
        q += step_q;
        r += step_r;
        if (r >= bps) {
            r -= bps;
            q++;
        }
    }
    if (x->bit < total && x->cut >= w)
        return false;
    if (x->low) /* cut while sending a 0: the driver lets go */
        add(v, &v->batch, x->cut, x->sig, EV_RELEASE);
    x->low = false;
    return true;
}

static bool before(const vev_t *x, const vev_t *y)
{
    return x->t != y->t ? x->t < y->t : x->seq < y->seq;
}

/* Sorts the batch by time, then by arrival (seq: every change has its own,
 * so the order is total and any sort gives the same). The batch is a few
 * runs already in order (the pending changes as they came, then each
 * transmission's edges), so runs are merged, two by two, rather than
 * qsort's general sort with a call per comparison (bench_trace). */
static void sort_batch(vcd_t *v)
{
    size_t n = v->batch.n;
    if (n < 2)
        return;
    while (v->merge.cap < n)
        if (!push(&v->merge, (vev_t){0})) {
            v->failed = true;
            return;
        }
    vev_t *a = v->batch.v, *tmp = v->merge.v;
    for (;;) {
        /* One pass: each two runs that follow each other, merged into tmp. */
        size_t runs = 0;
        for (size_t lo = 0; lo < n;) {
            size_t mid = lo + 1;
            while (mid < n && !before(&a[mid], &a[mid - 1]))
                mid++;
            size_t hi = mid;
            if (hi < n) {
                hi++;
                while (hi < n && !before(&a[hi], &a[hi - 1]))
                    hi++;
            }
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = before(&a[j], &a[i]) ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
            runs++;
            lo = hi;
        }
        vev_t *t = a;
        a = tmp;
        tmp = t;
        if (runs == 1)
            break;
    }
    /* The sorted changes are in a: it becomes the batch. */
    if (a != v->batch.v) {
        vev_t *b = v->batch.v;
        size_t cap = v->batch.cap;
        v->batch.v = v->merge.v;
        v->batch.cap = v->merge.cap;
        v->merge.v = b;
        v->merge.cap = cap;
    }
    v->merge.n = 0;
}

static bool current(const vcd_t *v, uint32_t s)
{
    return is_wire(v, s) ? v->low[s] == 0 : v->level[s];
}

static void put_text(vcd_t *v, const char *text)
{
    char *p = out_room(v);
    size_t n = strlen(text); /* shorter than OUT_LINE */
    memcpy(p, text, n);
    v->out_n += n;
}

static void dumpvars(vcd_t *v)
{
    put_time(v, v->from);
    put_text(v, "$dumpvars\n");
    for (uint32_t s = 0; s < v->n_sigs; s++)
        put_change(v, v->shown[s], s);
    put_text(v, "$end\n");
    v->started = true;
    v->last_t = v->from;
}

/* Writes every change before w, in time order. */
static void flush(vcd_t *v, uint64_t w)
{
    if (v->done || w <= v->floor)
        return;
    v->batch.n = 0;
    size_t keep = 0;
    for (size_t i = 0; i < v->pending.n; i++) {
        if (v->pending.v[i].t < w) {
            if (!push(&v->batch, v->pending.v[i]))
                v->failed = true;
        } else {
            v->pending.v[keep++] = v->pending.v[i];
        }
    }
    v->pending.n = keep;
    for (vtx_t **p = &v->txs; *p;) {
        vtx_t *x = *p;
        if (tx_edges(v, x, w)) {
            *p = x->next;
            free(x->starts);
            free(x);
        } else {
            p = &x->next;
        }
    }
    sort_batch(v);
    for (size_t i = 0; i < v->batch.n;) {
        uint64_t t = v->batch.v[i].t;
        if (t > v->until) {
            v->done = true;
            break;
        }
        if (!v->started && t > v->from)
            dumpvars(v);
        /* Every change at this instant, then what each wire shows after them. */
        size_t n_touched = 0;
        v->group++;
        for (; i < v->batch.n && v->batch.v[i].t == t; i++) {
            const vev_t *e = &v->batch.v[i];
            switch (e->kind) {
            case EV_LOW:
            case EV_HIGH:
                v->level[e->sig] = e->kind == EV_HIGH;
                break;
            case EV_PULL:
                v->low[e->sig]++;
                break;
            default:
                if (v->low[e->sig])
                    v->low[e->sig]--;
            }
            if (v->stamp[e->sig] != v->group) {
                v->stamp[e->sig] = v->group;
                v->touched[n_touched++] = e->sig;
            }
        }
        bool stamped = false;
        for (size_t k = 0; k < n_touched; k++) {
            uint32_t s = v->touched[k];
            uint8_t now = current(v, s);
            if (now == v->shown[s])
                continue;
            v->shown[s] = now;
            if (!v->started)
                continue; /* before the window: it only sets the starting level */
            if (!stamped) {
                put_time(v, t);
                stamped = true;
                v->last_t = t;
            }
            put_change(v, now, s);
        }
    }
    v->floor = w;
}

void vcd_time(vcd_t *v, uint64_t now_ns)
{
    flush(v, now_ns);
}

bool vcd_close(vcd_t *v, uint64_t end_ns)
{
    if (end_ns)
        flush(v, end_ns + 1);
    if (!v->started && end_ns >= v->from)
        dumpvars(v);
    if (v->started && end_ns > v->last_t)
        put_time(v, end_ns); /* the tail, up to the end of the run */
    if (v->late)
        fprintf(stderr,
                "metersim: --trace-vcd %s: %" PRIu64
                " changes came later than the trace could wait and were moved later\n",
                v->path, v->late);
    out_flush(v);
    bool ok = !v->failed && !ferror(v->f);
    if (fclose(v->f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "metersim: --trace-vcd %s: writing the trace failed\n", v->path);
    while (v->txs) {
        vtx_t *x = v->txs;
        v->txs = x->next;
        free(x->starts);
        free(x);
    }
    free(v->pending.v);
    free(v->batch.v);
    free(v->merge.v);
    free(v->shown);
    free(v->level);
    free(v->low);
    free(v->touched);
    free(v->stamp);
    free(v->ids);
    free(v->id_len);
    free(v->out);
    free(v);
    return ok;
}
