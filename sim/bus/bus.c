/* bus: a master, a line, and the meters on it (see bus.h). */
#include "bus.h"

#include <string.h>

#include "trace.h"

static void update_due(bus_t *b)
{
    uint64_t t = VTIME_NEVER;
    for (int k = 0; k < b->n_meters; k++) {
        /* A meter stepped with the others: its own next instant, and a
         * reply that waits for the host (meter_line_wants). */
        uint64_t w = meter_line_wants(b->meters[k], b->line);
        uint64_t d = b->lag ? w : meter_line_deadline(b->meters[k], b->line);
        if (w < d)
            d = w;
        if (d < t)
            t = d;
    }
    b->next_due = t;
}

void bus_init(bus_t *b, meter_line_t line, meter_t **meters, int n, bool copper)
{
    memset(b, 0, sizeof *b);
    b->line = line;
    b->meters = meters;
    b->n_meters = n;
    b->copper = copper;
    update_due(b);
}

void bus_set_trace(bus_t *b, struct trace *t, int bus, const int *meters)
{
    b->trace = t;
    b->trace_bus = bus;
    b->trace_meters = meters;
}

/* The scenario's index of meter k of the bus, for the traces. */
static int trace_index(const bus_t *b, int k)
{
    return b->trace_meters ? b->trace_meters[k] : k;
}

line_parity_t bus_parity_of_code(uint8_t code)
{
    return code == LINE_OPS_PARITY_NONE  ? LINE_PARITY_NONE
           : code == LINE_OPS_PARITY_ODD ? LINE_PARITY_ODD
                                         : LINE_PARITY_EVEN;
}

uint32_t bus_meter_bps(const bus_t *b, int k)
{
    line_settings_t s;
    meter_line_settings(b->meters[k], b->line, &s);
    return s.bps;
}

line_parity_t bus_meter_parity(const bus_t *b, int k)
{
    line_settings_t s;
    meter_line_settings(b->meters[k], b->line, &s);
    return bus_parity_of_code(s.parity);
}

void bus_send(bus_t *b, const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint32_t bps,
              line_parity_t parity, const uint64_t *t_end)
{
    uint64_t ch = line_char_ns(bps, parity);
    const bool *lag = NULL;
    if (b->lag && n <= BUS_FRAME_MAX) {
        uint64_t ends[BUS_FRAME_MAX];
        for (size_t i = 0; !t_end && i < n; i++)
            ends[i] = t_start_ns + (i + 1) * ch;
        for (int k = 0; k < b->n_meters; k++)
            b->lag[k] =
                (!b->copper || (bus_meter_bps(b, k) == bps && bus_meter_parity(b, k) == parity)) &&
                meter_line_others(b->meters[k], b->line, bytes, t_end ? t_end : ends, n);
        lag = b->lag;
    }
    if (b->sync)
        b->sync(b->sync_ctx, b, t_start_ns, lag);
    trace_frame(b->trace, b->trace_bus, b->line, TRACE_TO_METER, -1, bytes, n, t_start_ns, bps,
                parity, t_end);
    for (int k = 0; k < b->n_meters; k++) {
        meter_t *m = b->meters[k];
        bool same = bus_meter_bps(b, k) == bps && bus_meter_parity(b, k) == parity;
        if (!b->copper || same) {
            for (size_t i = 0; i < n; i++)
                meter_line_rx(m, b->line, bytes[i], t_end ? t_end[i] : t_start_ns + (i + 1) * ch,
                              false);
            continue;
        }
        /* Copper: the meter's UART samples the master's bit stream at its own
         * rate and parity, and gets what a real one would. */
        line_tx_t tx = {
            .bytes = bytes, .len = n, .t_start_ns = t_start_ns, .bps = bps, .parity = parity};
        line_byte_t got[BUS_FRAME_MAX * 4];
        size_t m_n = line_receive(&tx, 1, bus_meter_bps(b, k), bus_meter_parity(b, k), got,
                                  sizeof got / sizeof got[0]);
        for (size_t i = 0; i < m_n; i++)
            meter_line_rx(m, b->line, got[i].byte, got[i].t_end_ns, got[i].error);
    }
    update_due(b);
}

void bus_overrun(bus_t *b, uint64_t t_end_ns)
{
    if (b->sync)
        b->sync(b->sync_ctx, b, t_end_ns, NULL);
    for (int k = 0; k < b->n_meters; k++)
        meter_line_rx(b->meters[k], b->line, 0, t_end_ns, true);
    update_due(b);
}

uint64_t bus_deadline(const bus_t *b)
{
    return b->next_due;
}

void bus_refresh(bus_t *b)
{
    update_due(b);
}

/* Whether reply a starts after b (the meter's place breaks a tie). */
static bool later(const bus_reply_t *a, const bus_reply_t *b)
{
    return a->t_start_ns != b->t_start_ns ? a->t_start_ns > b->t_start_ns : a->meter > b->meter;
}

void bus_collect(bus_t *b)
{
    for (int k = 0; k < b->n_meters; k++) {
        bus_reply_t rep;
        line_settings_t s;
        rep.len =
            meter_line_tx(b->meters[k], b->line, rep.bytes, sizeof rep.bytes, &rep.t_start_ns, &s);
        if (rep.len == 0)
            continue;
        rep.bps = s.bps;
        rep.parity = bus_parity_of_code(s.parity);
        rep.meter = k;
        /* Every reply is on the wire, kept or not. */
        uint64_t end = rep.t_start_ns + rep.len * line_char_ns(rep.bps, rep.parity);
        if (end > b->busy_until_ns)
            b->busy_until_ns = end;
        int at = b->n_replies;
        if (at == BUS_MAX_REPLIES) {
            /* More than the line keeps apart: the earliest are kept,
             * whatever order they were collected in (at full speed at the
             * stops, meter by meter; paced as each falls due), so that the
             * master hears the same garbage at any pace. */
            b->replies_dropped++;
            at = 0;
            for (int i = 1; i < b->n_replies; i++)
                if (later(&b->replies[i], &b->replies[at]))
                    at = i;
            if (!later(&b->replies[at], &rep))
                continue;
        } else {
            b->n_replies++;
        }
        b->replies[at] = rep;
        trace_frame(b->trace, b->trace_bus, b->line, TRACE_TO_MASTER, trace_index(b, k), rep.bytes,
                    rep.len, rep.t_start_ns, rep.bps, rep.parity, NULL);
    }
    update_due(b);
}

static size_t peek(const bus_reply_t *replies, int n_replies, bool copper, uint32_t bps,
                   line_parity_t parity, line_byte_t *out, size_t cap)
{
    const bus_reply_t *one = &replies[0];
    if (n_replies == 1 && (!copper || (one->bps == bps && one->parity == parity))) {
        /* One reply at the master's settings (or no line settings at all, a
         * pty): the master receives it as sent. */
        uint64_t ch = line_char_ns(one->bps, one->parity);
        size_t n = one->len < cap ? one->len : cap;
        for (size_t i = 0; i < n; i++)
            out[i] = (line_byte_t){one->bytes[i], false, one->t_start_ns + (i + 1) * ch};
        return n;
    }
    line_tx_t tx[BUS_MAX_REPLIES];
    for (int i = 0; i < n_replies; i++)
        tx[i] = (line_tx_t){.bytes = replies[i].bytes,
                            .len = replies[i].len,
                            .t_start_ns = replies[i].t_start_ns,
                            .bps = replies[i].bps,
                            .parity = replies[i].parity};
    return n_replies ? line_receive(tx, (size_t)n_replies, bps, parity, out, cap) : 0;
}

size_t bus_peek(const bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap)
{
    return peek(b->replies, b->n_replies, b->copper, bps, parity, out, cap);
}

size_t bus_peek_prev(const bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out,
                     size_t cap)
{
    return peek(b->prev, b->n_prev, b->copper, bps, parity, out, cap);
}

void bus_cut(bus_t *b, const meter_t *m, uint64_t t_ns)
{
    int kept = 0;
    uint64_t busy = 0;
    bool cut = false;
    for (int i = 0; i < b->n_replies; i++) {
        bus_reply_t *r = &b->replies[i];
        uint64_t ch = line_char_ns(r->bps, r->parity);
        if (b->meters[r->meter] == m && r->t_start_ns + r->len * ch > t_ns) {
            r->len = t_ns > r->t_start_ns ? (size_t)((t_ns - r->t_start_ns) / ch) : 0;
            cut = true;
            trace_cut(b->trace, b->trace_bus, b->line, trace_index(b, r->meter), t_ns);
        }
        if (r->len == 0)
            continue; /* nothing of it went out */
        uint64_t end = r->t_start_ns + r->len * ch;
        busy = end > busy ? end : busy;
        b->replies[kept++] = *r;
    }
    b->n_replies = kept;
    if (cut) /* the line is quiet from the cut on, unless another reply goes on */
        b->busy_until_ns = busy > t_ns ? busy : t_ns;
}

void bus_clear(bus_t *b)
{
    memcpy(b->prev, b->replies, (size_t)b->n_replies * sizeof *b->replies);
    b->n_prev = b->n_replies;
    b->n_replies = 0;
    b->generation++;
}

size_t bus_take(bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap)
{
    size_t n = bus_peek(b, bps, parity, out, cap);
    bus_clear(b);
    return n;
}
