/* endpoints: every way into the buses of a run, opened from the command line
 * and the scenario, served by the event loop (loop.h).
 *
 *   --modbus/--mbus SPEC, "buses[].modbus/mbus"
 *        pty, pty:PATH, DEVICE ------> link (link.h)          --+
 *        rtu-over-tcp:, mbus tcp: ---> tcp_server: raw links  --+--> bus_t of that line
 *        Modbus tcp: ----------------> tcp_server: MBAP ------> gateway (gateway.h) --+
 *
 * The runner calls endpoints_service() after every wake of the loop: replies
 * are streamed, gateways start and end their exchanges.
 */
#ifndef METERSIM_ENDPOINTS_H
#define METERSIM_ENDPOINTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bus.h"
#include "endpoint_spec.h"
#include "gateway.h"
#include "link.h"
#include "loop.h"
#include "record.h"
#include "tcp.h"

/* One endpoint to open: which bus (by its bus_t of the right line), which spec. */
typedef struct endpoint_req {
    bus_t *bus;
    const char *bus_name;
    meter_line_t line;
    endpoint_spec_t spec;
    uint64_t gateway_timeout_ns; /* 0: the default */
    /* --replay: nothing is opened. A serial endpoint is replay_fd, a socket
       standing for the recorded port, its line copper or not as recorded; a
       TCP endpoint has no listener (its connections come from the recording). */
    bool replay;
    int replay_fd;
    bool replay_copper;
} endpoint_req_t;

typedef struct endpoint_opts {
    bool fast, copper;
    uint64_t tcp_idle_ns; /* 0: the default */
    FILE *log;
    struct record *rec; /* --record FILE (NULL: none) */
} endpoint_opts_t;

typedef struct serial_ep {
    loop_ep_t ep;
    link_t link;
    struct endpoints *owner;
    record_port_t rec; /* --record */
} serial_ep_t;

typedef struct endpoints {
    loop_t *loop;
    endpoint_opts_t o;
    serial_ep_t **serial;
    int n_serial;
    tcp_server_t **tcp;
    int n_tcp;
    gateway_t **gws; /* one per bus with a Modbus TCP endpoint */
    int n_gws;
    bool failed; /* a port failed while running (exit status 3) */
} endpoints_t;

/* Opens every endpoint; on failure closes those opened, and says which one
 * and why in err. */
int endpoints_open(endpoints_t *e, loop_t *loop, const endpoint_req_t *reqs, int n,
                   const endpoint_opts_t *o, char *err, size_t errlen);

/* Streams due replies, runs the gateways, feeds waiting input. Returns the
 * next instant it has work (VTIME_NEVER: only input can give it some). */
uint64_t endpoints_service(endpoints_t *e, uint64_t now_ns);

/* True when any endpoint exists. */
bool endpoints_any(const endpoints_t *e);

void endpoints_close(endpoints_t *e);

/* The arrival of the oldest Modbus TCP request still waiting at a gateway
 * (VTIME_NEVER: none); the traces hold their lines from then on. */
uint64_t endpoints_oldest_waiting(const endpoints_t *e);

#endif
