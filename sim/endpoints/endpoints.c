/* endpoints: opening and serving the ways into the buses (see endpoints.h). */
#include "endpoints.h"

#include <stdlib.h>
#include <string.h>

static void serial_readable(loop_t *l, loop_ep_t *ep)
{
    serial_ep_t *s = ep->ctx;
    /* Stamped with the instant the loop woke, not after the meters' catch-up. */
    if (link_receive(&s->link, loop_woke(l), s->owner->o.log) < 0) {
        fprintf(stderr, "metersim: %s %s: the port failed; it is no longer served\n", s->link.name,
                serial_port_path(&s->link.port));
        s->owner->failed = true;
        loop_remove(l, ep);
    }
}

static void serial_writable(loop_t *l, loop_ep_t *ep)
{
    serial_ep_t *s = ep->ctx;
    link_writable(&s->link, loop_now(l));
    ep->want_write = link_blocked(&s->link);
}

static gateway_t *gateway_of(endpoints_t *e, const endpoint_req_t *r)
{
    for (int i = 0; i < e->n_gws; i++)
        if (e->gws[i]->bus == r->bus)
            return e->gws[i];
    gateway_t *g = calloc(1, sizeof *g);
    void *n = realloc(e->gws, (size_t)(e->n_gws + 1) * sizeof *e->gws);
    if (!g || !n) {
        free(g);
        return NULL;
    }
    e->gws = n;
    e->gws[e->n_gws++] = g;
    gateway_init(g, r->bus, e->o.fast, r->gateway_timeout_ns, r->bus_name, e->o.log);
    return g;
}

static int open_one(endpoints_t *e, const endpoint_req_t *r, char *err, size_t errlen)
{
    const char *line = r->line == METER_LINE_MODBUS ? "modbus" : "mbus";
    if (endpoint_spec_is_tcp(&r->spec)) {
        gateway_t *gw = NULL;
        if (r->spec.kind == ENDPOINT_MODBUS_TCP && !(gw = gateway_of(e, r))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        tcp_server_t *srv = calloc(1, sizeof *srv);
        void *n = realloc(e->tcp, (size_t)(e->n_tcp + 1) * sizeof *e->tcp);
        if (!srv || !n) {
            free(srv);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        e->tcp = n;
        if (r->replay) { /* its connections come from the recording */
            tcp_server_open_replay(srv, e->loop, &r->spec, line, r->bus, gw, e->o.fast,
                                   e->o.tcp_idle_ns, e->o.log);
        } else if (tcp_server_open(srv, e->loop, &r->spec, line, r->bus, gw, e->o.fast,
                                   e->o.tcp_idle_ns, e->o.log, err, errlen)) {
            free(srv);
            return -1;
        }
        if (e->o.rec) {
            char spec[300];
            endpoint_spec_format(&r->spec, r->line == METER_LINE_MODBUS, spec, sizeof spec);
            record_endpoint(e->o.rec, &srv->rec, r->line == METER_LINE_MODBUS, spec, r->bus_name,
                            r->bus->copper);
        }
        e->tcp[e->n_tcp++] = srv;
        fprintf(stderr, "metersim: %s on %s (%s)\n",
                r->spec.kind == ENDPOINT_MODBUS_TCP     ? "Modbus TCP"
                : r->spec.kind == ENDPOINT_RTU_OVER_TCP ? "Modbus RTU over TCP"
                                                        : "M-Bus over TCP",
                srv->name + strlen(line) + 1, r->bus_name);
        return 0;
    }
    serial_ep_t *s = calloc(1, sizeof *s);
    void *n = realloc(e->serial, (size_t)(e->n_serial + 1) * sizeof *e->serial);
    if (!s || !n) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->serial = n;
    if (r->replay) {
        link_attach_socket(&s->link, line, r->replay_fd, "replay", r->bus, e->o.fast);
        r->bus->copper = r->replay_copper;
    } else if (link_open(&s->link, line, &r->spec, r->bus, e->o.fast, e->o.copper, err, errlen)) {
        free(s);
        return -1;
    }
    if (e->o.rec) {
        char spec[300];
        endpoint_spec_format(&r->spec, r->line == METER_LINE_MODBUS, spec, sizeof spec);
        record_endpoint(e->o.rec, &s->rec, r->line == METER_LINE_MODBUS, spec, r->bus_name,
                        r->bus->copper);
        s->link.rec = &s->rec;
    }
    s->owner = e;
    s->ep = (loop_ep_t){.fd = link_fd(&s->link),
                        .want_read = true,
                        .deadline_ns = VTIME_NEVER,
                        .on_readable = serial_readable,
                        .on_writable = serial_writable,
                        .ctx = s,
                        .slot = -1};
    if (!loop_add(e->loop, &s->ep)) {
        link_close(&s->link);
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->serial[e->n_serial++] = s;
    fprintf(stderr, "metersim: %s on %s (%s)\n",
            r->line == METER_LINE_MODBUS ? "Modbus RTU" : "M-Bus", serial_port_path(&s->link.port),
            r->bus_name);
    return 0;
}

int endpoints_open(endpoints_t *e, loop_t *loop, const endpoint_req_t *reqs, int n,
                   const endpoint_opts_t *o, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->loop = loop;
    e->o = *o;
    for (int i = 0; i < n; i++) {
        char why[512];
        if (open_one(e, &reqs[i], why, sizeof why)) {
            char spec[300];
            endpoint_spec_format(&reqs[i].spec, reqs[i].line == METER_LINE_MODBUS, spec,
                                 sizeof spec);
            snprintf(err, errlen, "--%s %s: %s",
                     reqs[i].line == METER_LINE_MODBUS ? "modbus" : "mbus", spec, why);
            endpoints_close(e);
            return -1;
        }
    }
    return 0;
}

bool endpoints_any(const endpoints_t *e)
{
    return e->n_serial + e->n_tcp > 0;
}

uint64_t endpoints_service(endpoints_t *e, uint64_t now_ns)
{
    uint64_t next = VTIME_NEVER;
    for (int i = 0; i < e->n_serial; i++) {
        serial_ep_t *s = e->serial[i];
        uint64_t t = link_transmit(&s->link, now_ns);
        s->ep.want_write = link_blocked(&s->link);
        if (t < next)
            next = t;
    }
    for (int i = 0; i < e->n_gws; i++)
        gateway_poll(e->gws[i], now_ns);
    for (int i = 0; i < e->n_tcp; i++) {
        uint64_t t = tcp_server_service(e->tcp[i], now_ns);
        if (t < next)
            next = t;
    }
    for (int i = 0; i < e->n_gws; i++) { /* input fed above may hold new requests */
        gateway_poll(e->gws[i], now_ns);
        uint64_t t = gateway_deadline(e->gws[i]);
        if (t < next)
            next = t;
    }
    return next;
}

void endpoints_close(endpoints_t *e)
{
    for (int i = 0; i < e->n_tcp; i++) {
        tcp_server_close(e->tcp[i]);
        free(e->tcp[i]);
    }
    for (int i = 0; i < e->n_serial; i++) {
        loop_remove(e->loop, &e->serial[i]->ep);
        link_close(&e->serial[i]->link);
        free(e->serial[i]);
    }
    for (int i = 0; i < e->n_gws; i++) {
        gateway_free(e->gws[i]);
        free(e->gws[i]);
    }
    free(e->tcp);
    free(e->serial);
    free(e->gws);
    e->tcp = NULL;
    e->serial = NULL;
    e->gws = NULL;
    e->n_tcp = e->n_serial = e->n_gws = 0;
}

uint64_t endpoints_oldest_waiting(const endpoints_t *e)
{
    uint64_t t = VTIME_NEVER;
    for (int i = 0; i < e->n_gws; i++) {
        uint64_t g = gateway_oldest_waiting(e->gws[i]);
        if (g < t)
            t = g;
    }
    return t;
}
