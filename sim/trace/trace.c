/* trace: the fan-out from the run's hooks to the three writers (see trace.h). */
#include "trace.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text_lcd.h"
#include "trace_internal.h"

/* What trace_meter() saw of one meter last time. */
typedef struct {
    bool seen;
    bool level[TRACE_METER_SIGS]; /* inputs only: tariff, supply per phase */
    uint32_t seq;                 /* metrology windows published */
    bool lcd_seen;                /* the glass was looked at once */
    display_t glass;              /* what was lit (the fields before the sequencer's) */
    char lcd[96];
} meter_seen_t;

/* Connections of the Modbus TCP gateways, numbered in order of appearance. */
typedef struct {
    const void *client;
    int bus;
} client_t;

struct trace {
    const scenario_t *sc;
    uint64_t from, until; /* until: UINT64_MAX when open-ended */
    vcd_t *vcd;
    pcapw_t *pcap;
    jsonl_t *jsonl;
    meter_seen_t *seen;
    client_t *clients;
    int n_clients, cap_clients;
    uint64_t waiting_ns; /* trace_waiting(): VTIME_NEVER when nothing waits */
};

static const char *const sig_names[TRACE_METER_SIGS] = {
    "S0-1", "S0-2", "LED", "tariff_input", "supply_L1", "supply_L2", "supply_L3"};

const char *trace_sig_name(int sig)
{
    return sig >= 0 && sig < TRACE_METER_SIGS ? sig_names[sig] : "?";
}

bool trace_wanted(const trace_opts_t *o)
{
    return o && (o->vcd || o->pcap || o->jsonl);
}

static bool in_window(const trace_t *t, uint64_t ns)
{
    return ns >= t->from && ns <= t->until;
}

static void trace_free(trace_t *t)
{
    free(t->seen);
    free(t->clients);
    free(t);
}

trace_t *trace_open(const trace_opts_t *o, const scenario_t *sc, bool *ok, char *err, size_t errlen)
{
    *ok = true;
    if (!trace_wanted(o))
        return NULL;
    *ok = false;
    trace_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory for the traces");
        return NULL;
    }
    t->sc = sc;
    t->from = o->from_ns;
    t->until = o->until_ns ? o->until_ns : UINT64_MAX;
    t->waiting_ns = VTIME_NEVER;
    t->seen = calloc((size_t)(sc->n_meters ? sc->n_meters : 1), sizeof *t->seen);
    if (!t->seen) {
        snprintf(err, errlen, "out of memory for the traces");
        trace_free(t);
        return NULL;
    }
    if (o->vcd && !(t->vcd = vcd_open(o->vcd, sc, t->from, t->until, err, errlen)))
        goto fail;
    if (o->pcap && !(t->pcap = pcapw_open(o->pcap, err, errlen)))
        goto fail;
    if (o->jsonl && !(t->jsonl = jsonl_open(o->jsonl, sc->n_meters, err, errlen)))
        goto fail;
    *ok = true;
    return t;
fail:
    if (t->vcd)
        vcd_close(t->vcd, 0);
    if (t->pcap)
        pcapw_close(t->pcap);
    trace_free(t);
    return NULL;
}

static const char *meter_name(const trace_t *t, int k)
{
    return k >= 0 && k < t->sc->n_meters ? t->sc->meters[k].name : NULL;
}

void trace_frame(trace_t *t, int bus, meter_line_t line, int dir, int meter, const uint8_t *bytes,
                 size_t n, uint64_t t_start_ns, uint32_t bps, line_parity_t parity,
                 const uint64_t *t_end)
{
    if (!t || n == 0)
        return;
    if (t->vcd)
        vcd_frame(t->vcd, bus, line, dir, meter, bytes, n, t_start_ns, bps, parity, t_end);
    if (!in_window(t, t_start_ns))
        return;
    uint64_t end = t_end ? t_end[n - 1] : t_start_ns + n * line_char_ns(bps, parity);
    if (t->pcap)
        pcapw_frame(t->pcap, bus, line, dir, bytes, n, t_start_ns);
    if (t->jsonl)
        jsonl_frame(t->jsonl, t->sc->buses[bus].name, line, dir, meter_name(t, meter), bytes, n,
                    t_start_ns, end, bps, parity);
}

void trace_cut(trace_t *t, int bus, meter_line_t line, int meter, uint64_t t_ns)
{
    if (!t)
        return;
    if (t->vcd)
        vcd_cut(t->vcd, bus, line, meter, t_ns);
    if (t->jsonl && in_window(t, t_ns))
        jsonl_cut(t->jsonl, t->sc->buses[bus].name, line, meter_name(t, meter), t_ns);
}

/* A connection's number: its place in the order connections were first seen. */
static int client_number(trace_t *t, int bus, const void *client)
{
    for (int i = 0; i < t->n_clients; i++)
        if (t->clients[i].client == client && t->clients[i].bus == bus)
            return i;
    if (t->n_clients == t->cap_clients) {
        int cap = t->cap_clients ? 2 * t->cap_clients : 16;
        client_t *c = realloc(t->clients, (size_t)cap * sizeof *c);
        if (!c)
            return 0;
        t->clients = c;
        t->cap_clients = cap;
    }
    t->clients[t->n_clients] = (client_t){client, bus};
    return t->n_clients++;
}

void trace_mbtcp(trace_t *t, int bus, const void *client, bool to_gateway, uint16_t tid,
                 uint8_t unit, const uint8_t *pdu, size_t len, uint8_t exception, uint64_t t_ns)
{
    if (!t || !pdu || len == 0 || !in_window(t, t_ns) || !(t->pcap || t->jsonl))
        return;
    if (exception)
        len = 2;
    if (len > 253)
        len = 253; /* a Modbus PDU's most (MODBUS Application Protocol 4.1) */
    /* The ADU as it goes over TCP: MBAP header (tid, protocol 0, length of
     * unit + PDU, unit), then the PDU (Modbus Messaging on TCP/IP 3.1.3). */
    uint8_t adu[7 + 253];
    adu[0] = (uint8_t)(tid >> 8);
    adu[1] = (uint8_t)tid;
    adu[2] = adu[3] = 0;
    adu[4] = (uint8_t)((len + 1) >> 8);
    adu[5] = (uint8_t)(len + 1);
    adu[6] = unit;
    if (exception) {
        adu[7] = (uint8_t)(pdu[0] | 0x80);
        adu[8] = exception;
    } else {
        memcpy(adu + 7, pdu, len);
    }
    size_t n = 7 + len;
    int c = client_number(t, bus, client);
    if (t->pcap)
        pcapw_mbtcp(t->pcap, bus, c, to_gateway, adu, n, t_ns);
    if (t->jsonl)
        jsonl_mbtcp(t->jsonl, t->sc->buses[bus].name, c, to_gateway, adu, n, t_ns);
}

void trace_mbtcp_closed(trace_t *t, int bus, const void *client)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_clients; i++)
        if (t->clients[i].client == client && t->clients[i].bus == bus)
            t->clients[i].client = NULL; /* its number stays taken */
}

/* An input level to both writers that want it. */
static void level(trace_t *t, int k, int sig, bool on, uint64_t t_ns)
{
    if (t->vcd)
        vcd_level(t->vcd, k, sig, on, t_ns);
    if (t->jsonl && in_window(t, t_ns))
        jsonl_edge(t->jsonl, k, meter_name(t, k), sig, on, t_ns);
}

void trace_meter(trace_t *t, int k, meter_t *m, const wave_desc_t *wave)
{
    if (!t)
        return;
    meter_seen_t *s = &t->seen[k];
    uint64_t now = meter_now_ns(m);
    /* The inputs: the tariff input (10/11) and each phase's supply. */
    bool in[TRACE_METER_SIGS] = {0};
    in[TRACE_SIG_TARIFF] = meter_tariff_input(m);
    for (int p = 0; p < 3; p++)
        in[TRACE_SIG_SUPPLY_L1 + p] = wave->phase[p].voltage >= METER_SUPPLY_MIN_V;
    for (int sig = TRACE_SIG_TARIFF; sig < TRACE_METER_SIGS; sig++)
        if (!s->seen || in[sig] != s->level[sig]) {
            s->level[sig] = in[sig];
            level(t, k, sig, in[sig], now);
        }
    /* The outputs, with their exact instants (pulse.h keeps them). */
    pulse_edge_t e;
    while (meter_pulse_edge(m, &e))
        level(t, k, TRACE_SIG_S0_1 + e.output, e.level, e.t_ns);
    if (!t->jsonl) {
        s->seen = true;
        return;
    }
    const metrology_values_t *v = &m->metrology.values;
    if (s->seen && v->seq != s->seq && in_window(t, v->end_tick * VTIME_NS_PER_TICK))
        jsonl_window(t->jsonl, meter_name(t, k), v, v->end_tick * VTIME_NS_PER_TICK);
    s->seq = v->seq;
    s->seen = true;
    /* The glass is looked at on a fixed grid of virtual time (the runner
     * ends a run of samples at every point of it, trace_run_cap()): what the
     * core shows is drawn when a run of samples ends, so looking whenever the
     * host happened to stop would give each pace its own LCD records
     * (docs/decisions.md, "LCD changes on a grid"). */
    if (now % TRACE_LCD_GRID_NS != 0 || (s->lcd_seen && now <= s->glass.now_ns))
        return;
    /* The text only when something lit changed: rendering it at every look
     * would cost more than the trace (bench_trace). */
    const display_t *d = meter_display(m);
    if (s->lcd_seen && memcmp(d, &s->glass, offsetof(display_t, now_ns)) == 0) {
        s->glass.now_ns = now;
        return;
    }
    memcpy(&s->glass, d, sizeof s->glass);
    s->glass.now_ns = now; /* the last look */
    char lcd[sizeof s->lcd];
    text_lcd_line(d, lcd, sizeof lcd);
    /* Before its first samples a meter has drawn nothing yet: no change. */
    if ((s->lcd_seen ? strcmp(lcd, s->lcd) != 0 : now > 0) && in_window(t, now))
        jsonl_lcd(t->jsonl, meter_name(t, k), lcd, now);
    memcpy(s->lcd, lcd, sizeof lcd);
    s->lcd_seen = true;
}

size_t trace_run_cap(const trace_t *t, uint64_t tick, size_t n)
{
    if (!t || !t->jsonl)
        return n;
    uint64_t grid = TRACE_LCD_GRID_NS / VTIME_NS_PER_TICK;
    uint64_t left = grid - tick % grid;
    return left < n ? (size_t)left : n;
}

void trace_waiting(trace_t *t, uint64_t t_ns)
{
    if (t)
        t->waiting_ns = t_ns;
}

void trace_time(trace_t *t, uint64_t now_ns)
{
    if (t && t->waiting_ns != VTIME_NEVER && t->waiting_ns + TRACE_HOLD_NS < now_ns)
        now_ns = t->waiting_ns + TRACE_HOLD_NS;
    if (!t || now_ns <= TRACE_HOLD_NS)
        return;
    /* What lies TRACE_HOLD_NS behind the host's time is final (hold.c). */
    if (t->vcd)
        vcd_time(t->vcd, now_ns - TRACE_HOLD_NS);
    if (t->pcap)
        pcapw_time(t->pcap, now_ns - TRACE_HOLD_NS);
    if (t->jsonl)
        jsonl_time(t->jsonl, now_ns - TRACE_HOLD_NS);
}

bool trace_close(trace_t *t, uint64_t end_ns)
{
    if (!t)
        return true;
    bool ok = true;
    if (t->vcd && !vcd_close(t->vcd, end_ns < t->until ? end_ns : t->until))
        ok = false;
    if (t->pcap && !pcapw_close(t->pcap))
        ok = false;
    if (t->jsonl && !jsonl_close(t->jsonl))
        ok = false;
    trace_free(t);
    return ok;
}
