/* bus: one serial line (Modbus RS-485 or M-Bus) between a master and the
 * meters of a scenario.
 *
 *   master (scenario or port) --bus_send()--> every meter's line machine
 *          ^                                        |
 *          +--- bus_take(): what the master's UART  | replies, each with its
 *               decodes of the replies, garbled     | start time and baud rate
 *               where they overlapped (sim/line.c) <+
 *
 * On "copper" (scenarios, physical ports, or --copper on a pty) a meter whose
 * baud rate or parity differs from the master's decodes what a real UART would
 * (framing and parity errors), so it stays silent; on a pty without --copper
 * the bytes reach it as sent, because a pty carries no line settings.
 */
#ifndef METERSIM_BUS_H
#define METERSIM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "line.h"
#include "meter.h"

#define BUS_MAX_REPLIES 32
#define BUS_FRAME_MAX 300

typedef enum { BUS_MODBUS, BUS_MBUS } bus_kind_t;

typedef struct {
    uint8_t bytes[BUS_FRAME_MAX];
    size_t len;
    uint64_t t_start_ns;
    uint32_t bps;
    line_parity_t parity;
} bus_reply_t;

typedef struct bus {
    bus_kind_t kind;
    meter_t *meters;
    int n_meters;
    bool copper;
    bus_reply_t replies[BUS_MAX_REPLIES];
    int n_replies;
    uint64_t busy_until_ns; /* end of the last reply's last bit */
} bus_t;

void bus_init(bus_t *b, bus_kind_t kind, meter_t *meters, int n, bool copper);

/* The line settings meter k listens with now. */
uint32_t bus_meter_bps(const bus_t *b, int k);
line_parity_t bus_meter_parity(const bus_t *b, int k);

/* The master sends `n` bytes at bps/parity, the first starting at t_start_ns,
 * back to back (or each ending at `t_end[i]` when given). */
void bus_send(bus_t *b, const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint32_t bps,
              line_parity_t parity, const uint64_t *t_end);

/* The earliest instant a meter's line machine has something to do. */
uint64_t bus_deadline(const bus_t *b);

/* Moves every meter's line machine to `now_ns` and collects the replies due. */
void bus_advance(bus_t *b, uint64_t now_ns);

/* What a master's UART at bps/parity receives of the replies collected so
 * far, each byte with the end of its stop bit. A reply that starts later can
 * only change bytes that end after it starts. Returns the number of bytes. */
size_t bus_peek(const bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap);

/* Forgets the collected replies (the exchange is over). */
void bus_clear(bus_t *b);

/* bus_peek(), then bus_clear(). */
size_t bus_take(bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap);

/* Modbus RTU parity code (settings: 1 even, 2 none, 3 odd) as a line parity. */
line_parity_t bus_parity_of_code(uint8_t code);

#endif
