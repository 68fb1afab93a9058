/* tcp: a TCP endpoint of a bus and its client connections (docs/network.md).
 *
 *   listener (127.0.0.1 unless named) --accept--> connection, one of:
 *     Modbus TCP        MBAP framer (core/modbus_tcp.h) -> the bus's gateway
 *     RTU over TCP      raw RTU bytes, as a master on the line (link.h)
 *     M-Bus over TCP    raw M-Bus bytes, as a master on the line (link.h)
 *
 * Limits, each with its outcome (logged once, never touching another client):
 *   TCP_MAX_CLIENTS connections per endpoint; one more is accepted and
 *     closed at once (the client sees the connection close before any data)
 *   a protocol id other than 0, a length outside 2..254: the connection closes
 *   half an ADU left for 10 s (MODBUS_TCP_PARTIAL_TIMEOUT_DEFAULT_NS): closes
 *   no request for the idle timeout (--tcp-idle, default 60 s): closes
 *   a client that does not read its responses: once they no longer fit the
 *     kernel's buffer, TCP_OUT_MAX bytes of ours and the framer's queue, it
 *     is closed; a raw client loses the bytes that do not fit
 *   a client that pipelines: at most MODBUS_TCP_PENDING requests are taken
 *     from it at a time; the rest waits in the kernel (TCP flow control)
 * Every socket is non-blocking and close-on-exec; nothing a client does
 * makes the host wait.
 */
#ifndef METERSIM_TCP_H
#define METERSIM_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus.h"
#include "endpoint_spec.h"
#include "gateway.h"
#include "link.h"
#include "loop.h"
#include "record.h"

#define TCP_MAX_CLIENTS 64
#define TCP_IDLE_DEFAULT_NS (60ull * VTIME_NS_PER_S)
#define TCP_IN_MAX 4096
#define TCP_OUT_MAX 8192

typedef struct tcp_server tcp_server_t;

typedef struct tcp_conn {
    loop_ep_t ep;
    tcp_server_t *srv;
    char peer[64];
    uint64_t last_ns; /* the last request (or bytes, raw) */
    bool raw;
    link_t link;         /* raw */
    gateway_client_t gc; /* MBAP */
    uint8_t in[TCP_IN_MAX];
    size_t in_len, in_off;
    uint8_t out[TCP_OUT_MAX];
    size_t out_len, out_off;
    record_port_t rec; /* --record: its connect, bytes, replies, close */
} tcp_conn_t;

typedef struct tcp_stats {
    uint64_t accepted, refused, closed_by_client, dropped_protocol, dropped_idle, dropped_stalled,
        dropped_slow;
    uint64_t overruns, unread_dropped; /* raw connections closed: link.h's counts */
} tcp_stats_t;

struct tcp_server {
    loop_ep_t ep; /* the listener */
    loop_t *loop;
    endpoint_spec_t spec;
    char name[96];    /* "modbus tcp:127.0.0.1:5020", for the log */
    const char *line; /* "modbus" or "mbus" */
    bus_t *bus;
    gateway_t *gw; /* MBAP endpoints */
    bool fast;
    uint64_t idle_ns;
    FILE *log;
    tcp_conn_t *conns[TCP_MAX_CLIENTS];
    int n_conns;
    bool refusing; /* a burst of refusals is logged once */
    tcp_stats_t stats;
    record_port_t rec; /* --record: the endpoint (rec NULL: not recording) */
};

/* Listens as `spec` says for `bus` (and its gateway, for Modbus TCP). The
 * port actually bound is in srv->spec.port (a spec with port 0 gets one). */
int tcp_server_open(tcp_server_t *srv, loop_t *loop, const endpoint_spec_t *spec, const char *line,
                    bus_t *bus, gateway_t *gw, bool fast, uint64_t idle_ns, FILE *log, char *err,
                    size_t errlen);

/* --replay: the same endpoint without a listener; its connections are
 * adopted (tcp_server_adopt) where the recording says they came. */
void tcp_server_open_replay(tcp_server_t *srv, loop_t *loop, const endpoint_spec_t *spec,
                            const char *line, bus_t *bus, gateway_t *gw, bool fast,
                            uint64_t idle_ns, FILE *log);

/* A connected socket served as a client of srv, as if just accepted (every
 * accepted client goes through it). False when refused or out of memory
 * (the fd is closed). */
bool tcp_server_adopt(tcp_server_t *srv, int fd, const char *peer);

/* Moves every connection on: replies streamed (raw), responses written and
 * input fed (MBAP). Returns the earliest instant it has work again. */
uint64_t tcp_server_service(tcp_server_t *srv, uint64_t now_ns);

/* Closes the listener and every connection. */
void tcp_server_close(tcp_server_t *srv);

#endif
