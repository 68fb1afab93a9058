/* bus: one serial line (Modbus RS-485 or M-Bus) shared by a master and the
 * meters on it.
 *
 *   master (scenario, port, gateway) --bus_send()--> every meter on the line
 *          ^                                              |  meter_exec() makes the
 *          +--- bus_take(): what the master's UART        |  replies, at their times
 *               decodes of the replies, garbled where     |
 *               they overlapped (sim/line.c)   <--bus_collect()
 *
 * The bus knows no protocol: it reaches each meter's line machine through the
 * facade (meter_line_rx/tx/settings: the operations table of core/line_ops.h),
 * by the meter_line_t it was made for.
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

typedef struct {
    uint8_t bytes[BUS_FRAME_MAX];
    size_t len;
    uint64_t t_start_ns;
    uint32_t bps;
    line_parity_t parity;
    int meter; /* its sender: an index into bus_t.meters */
} bus_reply_t;

typedef struct bus {
    meter_line_t line;
    meter_t **meters; /* the meters on this line (not owned) */
    int n_meters;
    bool copper;
    bus_reply_t replies[BUS_MAX_REPLIES];
    int n_replies;
    uint32_t replies_dropped; /* more than BUS_MAX_REPLIES at once: garbage anyway */
    uint64_t busy_until_ns;   /* end of the last collected reply's last bit */
    uint64_t next_due;        /* earliest line deadline among the meters */
    /* Every master on the line hears every reply: the collected replies stay
     * until the exchange is over. A master waiting for its own answer (the
     * scenario, a gateway) holds the bus and clears it; otherwise the ports
     * clear it once the line is quiet. Each clear starts a new generation. */
    int hold;
    uint32_t generation;
    /* The replies of the generation cleared last: a port that had not yet
     * streamed all of them to its master (the gateway took them at the
     * wake before the port's turn) still sends the rest, as a master on the
     * wire hears every byte. */
    bus_reply_t prev[BUS_MAX_REPLIES];
    int n_prev;
    /* Called before a master's bytes go onto the line: the host brings the
     * meters up to `now_ns` first (NULL: they are there already), all of
     * them, or those with lag[k] false when `lag` is given. */
    void (*sync)(void *ctx, struct bus *b, uint64_t now_ns, const bool *lag);
    void *sync_ctx;
    /* A host that lets meters lag (one flag per meter; NULL: none does):
     * bus_send() leaves behind the meters the bytes cannot concern
     * (meter_line_others), and the line's due time is what the meters
     * want of it (meter_line_wants). */
    bool *lag;
    /* Traces (sim/trace/trace.h; NULL: none): this bus's index in the
     * scenario, and the scenario's index of each of `meters`. */
    struct trace *trace;
    int trace_bus;
    const int *trace_meters;
} bus_t;

void bus_init(bus_t *b, meter_line_t line, meter_t **meters, int n, bool copper);

/* Frames on this line go to trace `t` as bus `bus`, meter k as the
 * scenario's meter meters[k] (bus_init() leaves the trace off). */
void bus_set_trace(bus_t *b, struct trace *t, int bus, const int *meters);

/* The line settings meter k listens with now. */
uint32_t bus_meter_bps(const bus_t *b, int k);
line_parity_t bus_meter_parity(const bus_t *b, int k);

/* The master sends `n` bytes at bps/parity, the first starting at t_start_ns,
 * back to back (or each ending at `t_end[i]` when given). */
void bus_send(bus_t *b, const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint32_t bps,
              line_parity_t parity, const uint64_t *t_end);

/* A character the master sent, lost to a receiver overrun, would have ended
 * at t_end_ns: every meter's UART flags it as an error there (the frame it
 * belongs to is lost). */
void bus_overrun(bus_t *b, uint64_t t_end_ns);

/* The earliest instant a meter's line machine has work (its reply becomes
 * due): the host runs the meters to it, then collects. */
uint64_t bus_deadline(const bus_t *b);
/* The meters' line work changed outside the line (a setting from the
 * scenario, a button, a restart): bus_deadline() anew. A meter that lags
 * with another slave's frame wants nothing of the host (`lag`), until its
 * ID becomes that frame's address before its t3.5 runs out. */
void bus_refresh(bus_t *b);

/* Collects the replies the meters have ready (after meter_exec() has covered
 * their time). */
void bus_collect(bus_t *b);

/* Meter m lost its supply (or restarts) at t_ns: what it was sending ends
 * there. Characters whose stop bit had ended stay on the line; the one under
 * way and the rest are never sent (manual 4: the meter is powered from its
 * phases; docs/decisions.md "Supply and boot"). */
void bus_cut(bus_t *b, const meter_t *m, uint64_t t_ns);

/* What a master's UART at bps/parity receives of the replies collected so
 * far, each byte with the end of its stop bit. A reply that starts later can
 * only change bytes that end after it starts. Returns the number of bytes. */
size_t bus_peek(const bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap);

/* bus_peek() of the generation before this one (bus_t.prev). */
size_t bus_peek_prev(const bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out,
                     size_t cap);

/* Forgets the collected replies (the exchange is over); a new generation. */
void bus_clear(bus_t *b);

/* bus_peek(), then bus_clear(). */
size_t bus_take(bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap);

/* A line_settings_t parity (line_ops.h: 1 even, 2 none, 3 odd) as a line parity. */
line_parity_t bus_parity_of_code(uint8_t code);

#endif
