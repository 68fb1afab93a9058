/* line_ops: the one shape every byte machine on a line has.
 *
 *   host (a bus, a TCP connection)          a line machine
 *   ------------------------------          --------------
 *   ops->rx(self, byte, t_end, error) --->  frames bytes by time and content
 *   ops->deadline(self)               <---  the next instant it has work
 *   ops->advance(self, now)           --->  does the work due by now
 *   ops->tx(self, buf, cap, &t_start) <---  what it sends, and from when
 *
 * The Modbus RTU slave (modbus.h), the M-Bus slave (mbus.h) and the Modbus
 * TCP framer (modbus_tcp.h) each publish one constant table of this shape,
 * in the manner of libmodbus's modbus_backend_t, so that a host drives any
 * of them without knowing which protocol it carries.
 *
 * Times are virtual nanoseconds (vtime.h). `t_end` of a received byte is the
 * instant its stop bit ended (on a stream without a baud rate, the instant it
 * arrived); times given to one machine never go backwards.
 */
#ifndef METERSIM_LINE_OPS_H
#define METERSIM_LINE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parity codes are those of the Modbus settings (A3.2 0x4011). */
#define LINE_OPS_PARITY_EVEN 1
#define LINE_OPS_PARITY_NONE 2
#define LINE_OPS_PARITY_ODD 3

/* The UART settings a machine listens and sends with; bps 0 on a stream. */
typedef struct line_settings {
    uint32_t bps;
    uint8_t parity; /* LINE_OPS_PARITY_* */
} line_settings_t;

typedef struct line_ops {
    const char *name; /* "modbus-rtu", "mbus", "modbus-tcp": for logs */
    void (*rx)(void *self, uint8_t byte, uint64_t t_ns, bool line_error);
    /* The reply that is due, copied into buf (0: none, or cap too small),
     * with the instant its first bit starts in *t_start_ns and the UART
     * settings it leaves with in *line (a reply that acknowledges a new baud
     * rate still leaves at the old one: A2.3, A3.3). */
    size_t (*tx)(void *self, uint8_t *buf, size_t cap, uint64_t *t_start_ns, line_settings_t *line);
    uint64_t (*deadline)(const void *self); /* VTIME_NEVER: nothing to do */
    void (*advance)(void *self, uint64_t now_ns);
    void (*settings)(const void *self, line_settings_t *out);
    /* Optional (NULL: `deadline`, and never): a machine on a shared line
     * tells a host that keeps its meters at their own pace which traffic
     * is another's. `wants`: the next instant it may send, or must act on
     * what was sent to it (a frame for another slave that ends wants
     * nothing of the host). `others`: bytes[i] ending at t_end[i], heard
     * in its state now, make or continue only frames for other slaves, and
     * nothing of its own is due: the host may hand them over while the
     * meter's clock is still behind them. */
    uint64_t (*wants)(const void *self);
    bool (*others)(const void *self, const uint8_t *bytes, const uint64_t *t_end, size_t n);
} line_ops_t;

#endif
