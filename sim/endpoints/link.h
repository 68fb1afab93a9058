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
 *
 * Receiver overrun (docs/decisions.md): a pty or a socket hands over bytes
 * faster than any UART could receive them, so the virtual line may run ahead
 * of the wall clock, but only by LINK_RX_BURST characters: one longest frame
 * (a client writes a frame at once) and the UART's 16-byte FIFO. What would
 * go further is dropped as a receiver overrun: the meters' UARTs get one
 * character flagged as an error where the first lost one would have been
 * (the frame it hits is lost), and everything the client sends until it
 * pauses is dropped and counted. A pause of the client (LINK_QUIET_CHARS
 * character times, at least LINK_QUIET_MIN_NS, without input) ends the
 * burst: it is logged once with its count, and what comes next starts after
 * that much silence on the line, as a new frame. The line never lags the
 * client by more than LINK_RX_BURST characters, whatever it sends.
 *
 * A client that does not read: its side of the port (the kernel's pty or
 * socket buffer, the master's UART) fills; a character it does not take
 * when the character ends on the line is lost, as in a UART that overruns,
 * counted in `overflow` and told once per stall. While stalled the link
 * waits for POLLOUT (link_writable()) and never wakes per character to
 * write into a full pipe.
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

struct record_port;

#define LINK_OUT_MAX 4096
#define LINK_RX_FIFO 16u    /* a 16550-type UART's receive FIFO */
#define LINK_FRAME_MAX 261u /* the longest frame: M-Bus 68 L L 68 + 255 + CS 16 (RTU: 256) */
#define LINK_RX_BURST (LINK_FRAME_MAX + LINK_RX_FIFO)
#define LINK_QUIET_CHARS 4u /* a client pause: more than t3.5 (Modbus) and 33 bits (M-Bus) */
#define LINK_QUIET_MIN_NS 1750000ull /* ... and at least Modbus's fixed t3.5 above 19200 bit/s */

typedef struct link {
    serial_port_t port;
    bus_t *bus;
    const char *name;    /* "modbus" or "mbus", for messages */
    bool fast;           /* wire time off */
    uint64_t rx_end_ns;  /* the end of the last character received */
    uint32_t master_bps; /* the line settings the client uses */
    line_parity_t master_parity;
    uint32_t warned_bps;       /* the mismatch last told about */
    uint8_t out[LINK_OUT_MAX]; /* what one call writes */
    size_t out_len, out_done;
    size_t streamed;     /* bytes of the bus's present replies already queued */
    uint32_t generation; /* ... of this generation of them */
    uint32_t cfg_bps;    /* the device's present settings */
    line_parity_t cfg_parity;
    uint64_t overflow; /* reply bytes the client's side did not take (dropped) */
    FILE *log;         /* where overruns and stalls are told (stderr) */
    /* Receiver overrun: */
    uint64_t rx_in_ns;      /* when the client's last bytes came (VTIME_NEVER: never) */
    uint64_t rx_quiet_ns;   /* the pause that ends a burst, at the client's rate */
    bool overrun;           /* in a burst that overran: dropping until the client pauses */
    uint64_t overrun_burst; /* bytes dropped in this burst */
    uint64_t overrun_start_ns;
    uint64_t overruns;             /* bytes dropped, in all */
    uint64_t overrun_bursts;       /* bursts that overran */
    bool stalled;                  /* the client stopped reading and bytes were dropped (told) */
    uint64_t stall_from;           /* `overflow` when that stall began */
    const struct record_port *rec; /* --record: where its input and replies go (NULL: none) */
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

/* Writes the reply bytes that are due by `now_ns`, ends an overrun burst the
 * client has paused after; returns when it has work next (VTIME_NEVER: none). */
uint64_t link_transmit(link_t *l, uint64_t now_ns);

/* The port is writable again (POLLOUT): a stall is over; then link_transmit(). */
uint64_t link_writable(link_t *l, uint64_t now_ns);

/* True while the client does not take what it is sent: wait for POLLOUT. */
bool link_blocked(const link_t *l);

/* Tells an overrun burst still running (a closing link, the end of a run). */
void link_report(link_t *l);

/* Closes the port, after link_report(). */
void link_close(link_t *l);

#endif
