/* gateway: a Modbus TCP to RTU gateway in front of one bus, as an RS-485
 * gateway behaves (docs/network.md).
 *
 *   TCP clients (each a modbus_tcp_t framer)        the bus's Modbus line
 *   ----------------------------------------        ---------------------
 *   request queue per client --round robin--> RTU frame (unit id = address,
 *                                              PDU, CRC) at the line's baud
 *                                              rate, one exchange at a time
 *   MBAP reply (tid, unit echoed) <----------- the meter's RTU reply, or
 *                                              0x0B after the timeout
 *
 *   unit id    what the gateway does
 *   0          a broadcast: carried out on the bus, never answered (Serial Line 2.1)
 *   1..247     sent on the bus; the meter with that ID answers, or after the
 *              response timeout (no first byte; a garbled reply counts as none)
 *              the client gets exception 0x0B, gateway target device failed
 *              to respond
 *   248..255   not an RTU address: exception 0x0A, gateway path unavailable,
 *              at once, nothing on the bus (255 is what clients send to "the
 *              device itself"; a gateway has no registers of its own)
 *
 * Requests of all clients go over the bus one at a time, each taking its wire
 * time and the meter's turnaround; clients are taken in turn (round robin),
 * so no client can starve another. With wire time off (--fast) the meters
 * answer at once and so does the gateway, 0x0B included.
 */
#ifndef METERSIM_GATEWAY_H
#define METERSIM_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus.h"
#include "modbus_tcp.h"
#include "record.h"

#define GATEWAY_TIMEOUT_DEFAULT_NS (200ull * VTIME_NS_PER_MS)
#define GATEWAY_BROADCAST_DELAY_NS (100ull * VTIME_NS_PER_MS) /* Serial Line 2.4.1 */

/* One TCP client as the gateway sees it. */
typedef struct gateway_client {
    modbus_tcp_t framer;
    bool in_flight; /* its request is on the bus */
    bool overflow;  /* a response found no room: the client stopped reading */
    void (*replied)(struct gateway_client *c); /* a response is queued in framer */
    void *ctx;
    const record_port_t *rec; /* its connection on --record (NULL: none) */
} gateway_client_t;

typedef struct gateway_stats {
    uint64_t requests, replies, timeouts, unreachable, broadcasts, garbled;
} gateway_stats_t;

typedef struct gateway {
    bus_t *bus;
    bool fast;
    uint64_t timeout_ns;
    const char *name; /* for the log */
    FILE *log;
    gateway_client_t **clients;
    int n_clients, cap_clients, next_client;
    /* the exchange in flight */
    bool busy;
    gateway_client_t *cur; /* NULL once its client has gone */
    modbus_tcp_request_t req;
    uint32_t bps;
    line_parity_t parity;
    uint64_t request_end_ns, deadline_ns;
    gateway_stats_t stats;
    /* --replay: a request goes on the line only when the recording says it
     * did (its "start" record, gateway_release()), not when the line is
     * free: live, a request queued behind another starts when the host next
     * looks, a little after the line became free, at an instant that only
     * the recording knows (docs/record.md). */
    bool gated;
    struct gateway_release *rel; /* the starts fed and not yet taken, in order */
    size_t rel_head, rel_n, rel_cap;
} gateway_t;

void gateway_init(gateway_t *g, bus_t *bus, bool fast, uint64_t timeout_ns, const char *name,
                  FILE *log);
void gateway_free(gateway_t *g);

/* A client comes and goes; a client that goes mid-exchange leaves the
 * exchange to finish on the bus, its reply discarded. */
bool gateway_attach(gateway_t *g, gateway_client_t *c);
void gateway_detach(gateway_t *g, gateway_client_t *c);

/* Does what is due by now_ns (the bus's replies collected up to now): ends
 * the exchange in flight when its reply is complete or its timeout has come,
 * and starts the next request when the line is quiet. */
void gateway_poll(gateway_t *g, uint64_t now_ns);

/* When gateway_poll() has work next; VTIME_NEVER if only a new request can
 * give it some. */
uint64_t gateway_deadline(const gateway_t *g);

/* The arrival of the oldest request waiting for the line (VTIME_NEVER: none):
 * it is traced when it goes on the line, stamped with that arrival. */
uint64_t gateway_oldest_waiting(const gateway_t *g);

/* --replay: connection `conn` of endpoint `ep` starts its next request at
 * t_ns (a "start" record, numbered `tag`); with g->gated, nothing starts
 * otherwise. False when out of memory. */
bool gateway_release(gateway_t *g, int ep, int conn, uint64_t t_ns, uint64_t tag);

/* --replay: true, with its tag, when the next start's instant has passed
 * before now_ns and its request could not go on the line then (the replay
 * has gone another way than the live run). */
bool gateway_overdue(const gateway_t *g, uint64_t now_ns, uint64_t *tag);

#endif
