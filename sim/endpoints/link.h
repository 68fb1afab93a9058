/* link: a byte stream (a pty, a serial device, or a TCP connection of an
 * rtu-over-tcp or M-Bus-over-TCP endpoint) through which a master reaches a
 * bus of meters as if it sat on the line.
 *
 *   client (mbpoll, libmodbus, pymodbus, libmbus) <--> port <--> link <--> bus <--> meters
 *
 * Input: what the client wrote is read as soon as it arrives and given
 * virtual times: its characters follow each other at the line's baud rate
 * from the moment they arrived (a pty delivers a whole frame at once, but on
 * copper it would take its frame time).
 * Output: every master on a line hears every reply. In wire-time mode each
 * character of a reply is written the moment its stop bit ends on the
 * virtual line, so a client sees the first byte after the turnaround and the
 * last one a frame time later, as on copper (masters time out on the first
 * byte: libmbus waits 0.2 s, while a 244-byte telegram takes 280 ms at 9600);
 * with wire time off (--fast) a reply is written at once.
 */
#ifndef METERSIM_LINK_H
#define METERSIM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bus.h"
#include "endpoint_spec.h"
#include "serial_port.h"

#define LINK_OUT_MAX 4096

typedef struct link {
    serial_port_t port;
    bus_t *bus;
    const char *name;    /* "modbus" or "mbus", for messages */
    bool fast;           /* wire time off */
    uint64_t rx_end_ns;  /* the end of the last character received */
    uint32_t master_bps; /* the line settings the client uses */
    line_parity_t master_parity;
    uint32_t warned_bps; /* the mismatch last told about */
    uint8_t out[LINK_OUT_MAX];
    size_t out_len, out_done;
    size_t streamed;     /* bytes of the bus's present replies already queued */
    uint32_t generation; /* ... of this generation of them */
    uint32_t cfg_bps;    /* the device's present settings */
    line_parity_t cfg_parity;
    uint64_t overflow; /* bytes the client did not take in time (dropped) */
} link_t;

/* Opens a pty or a device for `bus`; on a pty, `copper` makes a baud-rate
 * mismatch with the client fail as on copper. */
int link_open(link_t *l, const char *name, const endpoint_spec_t *spec, bus_t *bus, bool fast,
              bool copper, char *err, size_t errlen);

/* A connected TCP socket carrying the line's raw bytes (takes the fd). */
void link_attach_socket(link_t *l, const char *name, int fd, const char *peer, bus_t *bus,
                        bool fast);

int link_fd(const link_t *l);

/* Reads what the client sent and hands it to the meters, stamped from
 * `now_ns` on. Returns the bytes read, or -1 when the port failed or the
 * client closed a socket. */
long link_receive(link_t *l, uint64_t now_ns, FILE *log);

/* Writes the reply bytes that are due by `now_ns`; returns when the next one
 * is due (VTIME_NEVER: none waiting). */
uint64_t link_transmit(link_t *l, uint64_t now_ns);

/* True while bytes wait for the client to take them. */
bool link_blocked(const link_t *l);

void link_close(link_t *l);

#endif
