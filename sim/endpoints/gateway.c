/* gateway: Modbus TCP requests onto an RTU bus, one at a time (see gateway.h). */
#include "gateway.h"

#include <stdlib.h>
#include <string.h>

#include "trace.h"

struct gateway_release {
    int ep, conn;
    uint64_t t_ns, tag;
};

void gateway_init(gateway_t *g, bus_t *bus, bool fast, uint64_t timeout_ns, const char *name,
                  FILE *log)
{
    memset(g, 0, sizeof *g);
    g->bus = bus;
    g->fast = fast;
    g->timeout_ns = timeout_ns ? timeout_ns : GATEWAY_TIMEOUT_DEFAULT_NS;
    g->name = name;
    g->log = log;
}

void gateway_free(gateway_t *g)
{
    if (g->busy)
        g->bus->hold--;
    free(g->clients);
    free(g->rel);
    g->rel = NULL;
    g->clients = NULL;
    g->n_clients = g->cap_clients = 0;
}

bool gateway_attach(gateway_t *g, gateway_client_t *c)
{
    if (g->n_clients == g->cap_clients) {
        int cap = g->cap_clients ? 2 * g->cap_clients : 16;
        gateway_client_t **n = realloc(g->clients, (size_t)cap * sizeof *n);
        if (!n)
            return false;
        g->clients = n;
        g->cap_clients = cap;
    }
    g->clients[g->n_clients++] = c;
    c->in_flight = false;
    c->overflow = false;
    return true;
}

void gateway_detach(gateway_t *g, gateway_client_t *c)
{
    trace_mbtcp_closed(g->bus->trace, g->bus->trace_bus, c);
    for (int i = 0; i < g->n_clients; i++) {
        if (g->clients[i] != c)
            continue;
        memmove(g->clients + i, g->clients + i + 1,
                (size_t)(g->n_clients - i - 1) * sizeof *g->clients);
        g->n_clients--;
        if (g->next_client > i)
            g->next_client--;
        break;
    }
    if (g->cur == c)
        g->cur = NULL; /* the exchange finishes on the bus; nobody hears its reply */
}

/* The line is ours again; the client gets its response, which the traces
 * stamp `at_ns`: the instant the gateway could answer, known in virtual time
 * (the end of the reply on the line, the timeout), not the later instant the
 * host came round to it, which depends on the pace (issue 15: the same
 * traces live and in a --replay; docs/trace.md). */
static void respond(gateway_t *g, const uint8_t *pdu, size_t len, uint8_t exception,
                    uint64_t now_ns, uint64_t at_ns)
{
    g->busy = false;
    g->bus->hold--;
    gateway_client_t *c = g->cur;
    g->cur = NULL;
    if (!c)
        return;
    c->in_flight = false;
    trace_mbtcp(g->bus->trace, g->bus->trace_bus, c, false, g->req.tid, g->req.unit,
                exception ? g->req.pdu : pdu, exception ? 1 : len, exception, at_ns);
    bool ok = true;
    if (exception)
        ok = modbus_tcp_exception(&c->framer, g->req.tid, g->req.unit, g->req.pdu[0], exception,
                                  now_ns);
    else if (pdu)
        ok = modbus_tcp_reply(&c->framer, g->req.tid, g->req.unit, pdu, len, now_ns);
    c->overflow = c->overflow || !ok;
    if (c->replied)
        c->replied(c);
}

/* 3.5 characters at the master's settings: the end of a reply frame. */
static uint64_t t35(const gateway_t *g)
{
    return line_char_ns(g->bps, g->parity) * 7 / 2;
}

/* Ends the exchange in flight if its time has come; true when it ended. */
static bool finish(gateway_t *g, uint64_t now)
{
    bus_t *b = g->bus;
    if (g->req.unit == 0) { /* a broadcast: the meters' time to carry it out */
        if (now < g->deadline_ns)
            return false;
        bus_clear(b);
        respond(g, NULL, 0, 0, now, g->deadline_ns);
        return true;
    }
    if (b->n_replies) {
        if (!g->fast && now < b->busy_until_ns + t35(g))
            return false; /* the reply is still on the line */
        line_byte_t got[BUS_FRAME_MAX * 2];
        uint8_t bytes[BUS_FRAME_MAX * 2];
        size_t n = bus_take(b, g->bps, g->parity, got, sizeof got / sizeof got[0]);
        bool err = false;
        for (size_t i = 0; i < n; i++) {
            bytes[i] = got[i].byte;
            err = err || got[i].error;
        }
        const uint8_t *pdu;
        size_t len;
        if (!err && modbus_tcp_from_rtu(g->req.unit, bytes, n, &pdu, &len) && len >= 1 &&
            len <= MODBUS_TCP_PDU_MAX) {
            g->stats.replies++;
            /* A reply is whole 3.5 characters after its last (Modbus over
             * Serial Line 2.5.1.1); with wire time off, at once. */
            respond(g, pdu, len, 0, now, g->fast ? now : b->busy_until_ns + t35(g));
            return true;
        }
        g->stats.garbled++; /* a collision or noise: as if nobody answered */
    }
    if (!g->fast && now < g->deadline_ns)
        return false;
    if (!g->fast && b->busy_until_ns > now)
        return false; /* a reply under way is received to its end */
    g->stats.timeouts++;
    uint64_t at = g->deadline_ns > b->busy_until_ns ? g->deadline_ns : b->busy_until_ns;
    respond(g, NULL, 0, 0x0B, now, g->fast ? now : at); /* target device failed to respond */
    return true;
}

/* The next client in turn with a request waiting; NULL if none. */
static gateway_client_t *next_request(gateway_t *g, modbus_tcp_request_t *req)
{
    for (int k = 0; k < g->n_clients; k++) {
        int i = (g->next_client + k) % g->n_clients;
        gateway_client_t *c = g->clients[i];
        if (c->in_flight || c->overflow || !modbus_tcp_request(&c->framer, req))
            continue;
        g->next_client = (i + 1) % g->n_clients;
        return c;
    }
    return NULL;
}

/* --replay: the client the recording started next, if its request is here. */
static gateway_client_t *released_request(gateway_t *g, uint64_t now, modbus_tcp_request_t *req)
{
    if (g->rel_head == g->rel_n || g->rel[g->rel_head].t_ns > now)
        return NULL;
    const struct gateway_release *r = &g->rel[g->rel_head];
    for (int i = 0; i < g->n_clients; i++) {
        gateway_client_t *c = g->clients[i];
        if (c->rec && c->rec->ep == r->ep && c->rec->conn == r->conn && !c->in_flight &&
            !c->overflow && modbus_tcp_request(&c->framer, req)) {
            if (++g->rel_head == g->rel_n)
                g->rel_head = g->rel_n = 0;
            return c;
        }
    }
    return NULL;
}

/* Starts the next request when the line is quiet; true when one was taken. */
static bool start_next(gateway_t *g, uint64_t now)
{
    bus_t *b = g->bus;
    if (g->busy || b->n_replies || b->hold || (!g->fast && now < b->busy_until_ns))
        return false;
    gateway_client_t *c = g->gated ? released_request(g, now, &g->req) : next_request(g, &g->req);
    if (!c)
        return false;
    if (c->rec)
        record_start(c->rec, now); /* --record: when it went on the line */
    g->stats.requests++;
    trace_mbtcp(b->trace, b->trace_bus, c, true, g->req.tid, g->req.unit, g->req.pdu,
                g->req.pdu_len, 0, g->req.t_ns);
    g->cur = c;
    g->busy = true;
    b->hold++;
    c->in_flight = true;
    if (g->req.unit > 247) {
        g->stats.unreachable++;
        respond(g, NULL, 0, 0x0A, now, now); /* gateway path unavailable */
        return true;
    }
    uint8_t adu[MODBUS_TCP_PDU_MAX + 3];
    size_t n = modbus_tcp_to_rtu(g->req.unit, g->req.pdu, g->req.pdu_len, adu, sizeof adu);
    /* The gateway's UART runs at the line's settings (the first meter's). */
    g->bps = b->n_meters ? bus_meter_bps(b, 0) : 9600;
    g->parity = b->n_meters ? bus_meter_parity(b, 0) : LINE_PARITY_EVEN;
    if (g->fast) {
        uint64_t ends[MODBUS_TCP_PDU_MAX + 3];
        for (size_t i = 0; i < n; i++)
            ends[i] = now;
        bus_send(b, adu, n, now, g->bps, g->parity, ends);
        g->request_end_ns = now;
        bus_collect(b); /* wire time off: the meters have answered already */
    } else {
        bus_send(b, adu, n, now, g->bps, g->parity, NULL);
        g->request_end_ns = now + n * line_char_ns(g->bps, g->parity);
    }
    if (g->req.unit == 0) {
        g->stats.broadcasts++;
        g->deadline_ns = g->request_end_ns + (g->fast ? 0 : GATEWAY_BROADCAST_DELAY_NS);
    } else {
        g->deadline_ns = g->request_end_ns + g->timeout_ns;
    }
    return true;
}

void gateway_poll(gateway_t *g, uint64_t now_ns)
{
    for (;;) {
        if (g->busy && !finish(g, now_ns))
            return;
        if (!start_next(g, now_ns))
            return;
    }
}

uint64_t gateway_deadline(const gateway_t *g)
{
    const bus_t *b = g->bus;
    if (g->busy) {
        if (b->n_replies && g->req.unit != 0) {
            uint64_t end = b->busy_until_ns + t35(g);
            return end < g->deadline_ns ? end : g->deadline_ns;
        }
        uint64_t d = g->deadline_ns;
        return b->busy_until_ns > d ? b->busy_until_ns : d;
    }
    if (b->hold || b->n_replies)
        return VTIME_NEVER; /* another master's exchange, or input, wakes the host */
    if (g->gated) {         /* --replay: the recording's next "start", once the line is quiet */
        if (g->rel_head == g->rel_n)
            return VTIME_NEVER;
        uint64_t t = g->rel[g->rel_head].t_ns;
        return !g->fast && b->busy_until_ns > t ? b->busy_until_ns : t;
    }
    if (g->fast)
        return VTIME_NEVER;
    for (int i = 0; i < g->n_clients; i++)
        if (g->clients[i]->framer.pending_n && !g->clients[i]->in_flight)
            return b->busy_until_ns; /* as soon as the line is quiet */
    return VTIME_NEVER;
}

bool gateway_release(gateway_t *g, int ep, int conn, uint64_t t_ns, uint64_t tag)
{
    if (g->rel_n == g->rel_cap) {
        size_t cap = g->rel_cap ? 2 * g->rel_cap : 16;
        struct gateway_release *n = realloc(g->rel, cap * sizeof *n);
        if (!n)
            return false;
        g->rel = n;
        g->rel_cap = cap;
    }
    g->rel[g->rel_n++] = (struct gateway_release){.ep = ep, .conn = conn, .t_ns = t_ns, .tag = tag};
    return true;
}

bool gateway_overdue(const gateway_t *g, uint64_t now_ns, uint64_t *tag)
{
    if (g->rel_head == g->rel_n || g->rel[g->rel_head].t_ns >= now_ns)
        return false;
    *tag = g->rel[g->rel_head].tag;
    return true;
}

uint64_t gateway_oldest_waiting(const gateway_t *g)
{
    uint64_t t = VTIME_NEVER;
    for (int i = 0; i < g->n_clients; i++) {
        const modbus_tcp_t *f = &g->clients[i]->framer;
        if (f->pending_n && f->pending[f->pending_head].t_ns < t)
            t = f->pending[f->pending_head].t_ns;
    }
    return t;
}
