/* modbus: the meter's Modbus RTU slave, a byte machine with time as an argument.
 *
 *   host                          modbus_t                           meter
 *   ----                          --------                           -----
 *   modbus_rx(byte, t_end) --> frame assembly --(t3.5 of silence)--> PDU:
 *                              t1.5 gap / CRC / parity: drop          03/04 read  --> access->read
 *   modbus_deadline()  <----   next instant something is due          06/16 write -->
 * access->set/reset modbus_advance(now) ---->  ends frames, applies new line settings
 *   modbus_tx(buf) <---------  reply bytes + start time  <-- turnaround delay
 *
 * Timeline of one request at 9600 8E1 (char = 11 bits = 1.146 ms):
 *
 *   request bytes     silence t3.5      turnaround             reply bytes
 *   |b0|b1|..|b7|-----4.01 ms-----|.........|=10 ms from b7|r0|r1|...|rN|
 *                     frame ends here     reply starts here    new ID/baud/
 *                     (processed)                              parity active
 *
 * Two modes (modbus_desc_t.fast):
 *  - wire time (default): frames are delimited by silence as in Modbus over
 *    Serial Line V1.02, 2.5.1.1: a frame ends after 3.5 character times of
 *    silence (fixed 1.75 ms above 19200 bit/s); a gap of more than 1.5
 *    characters (750 us above 19200) inside a frame, a bad CRC or a byte with
 *    a line error (parity, framing) drops the frame silently. The reply starts
 *    `turnaround_ns` after the end of the request (never before t3.5) and its
 *    bytes follow back to back at the active baud rate.
 *  - fast (wire-time emulation off): a request is complete as soon as the
 *    length its function code implies has arrived and its CRC is good (as
 *    libmodbus parses), and it is answered at once; a bad CRC discards one
 *    byte and parsing resumes at the next, so the stream resynchronises.
 *
 * The active ID, baud rate and parity are read from access->read() at init,
 * by modbus_sync(), and after the machine's own writes once their reply has
 * been sent (A3.3: the echo still goes out with the old settings).
 *
 * Manual: 4.5, A3.1-A3.3 (registers in modbus_map.h). Protocol: Modbus
 * Application Protocol V1.1b3 (functions 03, 04, 06, 16; exceptions 01-04).
 *
 * Known inaccuracies: the character time on the wire is 1+8+parity+1 bits (11,
 * or 10 with no parity: A3.1 fixes one stop bit), while the t1.5/t3.5 timers
 * count 11-bit characters as the serial-line spec defines them. Bytes that
 * start while the meter is processing or answering (until its reply's last
 * bit) are ignored, as a half-duplex RS-485 transceiver would. The real
 * meter's turnaround is not documented; the default is a plausible 10 ms.
 */
#ifndef METERSIM_MODBUS_H
#define METERSIM_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "line_ops.h"
#include "modbus_map.h"
#include "vtime.h"

#define MODBUS_ADU_MAX 256u /* Modbus over Serial Line V1.02, 2.5.1: 256 bytes */
#define MODBUS_TURNAROUND_DEFAULT_NS (10ull * VTIME_NS_PER_MS)
#define MODBUS_FAST_FLUSH_DEFAULT_NS (100ull * VTIME_NS_PER_MS)

typedef struct modbus_desc {
    /* Wire-time emulation off: length + CRC framing, immediate answers. */
    bool fast;
    /* End of the request's last byte to start of the reply's first byte
     * (wire-time mode); never shorter than t3.5. 0: the default, 10 ms. */
    uint64_t turnaround_ns;
    /* Fast mode: a partial frame with no byte for this long is discarded
     * (a master that stopped mid-frame). 0: the default, 100 ms. */
    uint64_t fast_flush_ns;
} modbus_desc_t;

/* Parity codes are those of the settings (A3.2 0x4011). */
#define MODBUS_PARITY_EVEN 1
#define MODBUS_PARITY_NONE 2
#define MODBUS_PARITY_ODD 3

/* The line settings in force, for the host to configure a port with. */
typedef struct modbus_line {
    uint8_t id;     /* 1..247 */
    uint8_t parity; /* MODBUS_PARITY_* */
    uint8_t bits;   /* bits per character on the wire: 11, or 10 with no parity */
    uint32_t bps;   /* bit/s */
} modbus_line_t;

/* Counters of what the machine saw, for logs and tests (why a frame was dropped). */
typedef struct modbus_stats {
    uint32_t frames;     /* frames with a good CRC, for any address */
    uint32_t requests;   /* of those, for this meter or broadcast */
    uint32_t replies;    /* replies queued (exceptions included) */
    uint32_t exceptions; /* exception replies */
    uint32_t crc_errors;
    uint32_t gap_errors;   /* more than t1.5 of silence inside a frame */
    uint32_t line_errors;  /* bytes received with a parity or framing error */
    uint32_t short_frames; /* fewer than 4 bytes, or a length its function does not have */
    uint32_t overruns;     /* frames longer than 256 bytes */
    uint32_t busy_drops;   /* bytes that arrived while the meter was answering */
} modbus_stats_t;

typedef struct modbus {
    access_t acc;
    modbus_desc_t desc;
    modbus_line_t line;
    uint64_t char_ns; /* one character on the wire */
    uint64_t t15_ns, t35_ns;

    uint8_t rx[MODBUS_ADU_MAX];
    uint16_t rx_len;
    bool rx_bad;         /* the frame being received is to be dropped */
    uint64_t rx_last_ns; /* end of the last byte received */

    uint8_t tx[MODBUS_ADU_MAX];
    uint16_t tx_len;
    bool tx_pending;
    uint64_t tx_start_ns;
    modbus_line_t tx_line;  /* the settings the reply leaves with */
    uint64_t busy_until_ns; /* bytes starting before this are not heard */

    bool sync_pending; /* re-read ID/baud/parity at sync_ns */
    uint64_t sync_ns;

    uint64_t now_ns;
    uint64_t last_request_ns; /* VTIME_NEVER until a request for this meter */
    modbus_stats_t stats;
} modbus_t;

/* Prepares `mb` for the meter behind `acc` (copied); zero fields of `desc`
 * (may be NULL) take their defaults. Reads the active line settings. */
void modbus_init(modbus_t *mb, const access_t *acc, const modbus_desc_t *desc);

/* Re-reads ID, baud rate and parity from the meter now (call after a change
 * made elsewhere: the menu, a scenario). */
void modbus_sync(modbus_t *mb);

/* One received byte; t_ns is when its last (stop) bit ended; line_error marks
 * a parity or framing error (or a byte sent at another baud rate). Times must
 * not go backwards. */
void modbus_rx(modbus_t *mb, uint8_t byte, uint64_t t_ns, bool line_error);

/* The next instant at which modbus_advance() has something to do (a frame to
 * end, a reply to become due, settings to apply); VTIME_NEVER if none. A
 * reply already due waits for modbus_tx() and is not a deadline. */
uint64_t modbus_deadline(const modbus_t *mb);

/* Moves the machine's time to now_ns, doing everything due until then. */
void modbus_advance(modbus_t *mb, uint64_t now_ns);

/* The reply that is due (its start time reached), copied into buf; returns
 * its length (0: nothing, or cap too small; keep cap >= MODBUS_ADU_MAX) and
 * sets *t_start_ns to when its first byte starts; byte i starts at
 * *t_start_ns + i * modbus_char_ns(). In fast mode, settings written by the
 * request take effect when its reply is handed out. */
size_t modbus_tx(modbus_t *mb, uint8_t *buf, size_t cap, uint64_t *t_start_ns);

/* The line settings in force (they change only at the instants above). */
const modbus_line_t *modbus_line(const modbus_t *mb);

/* One character on the wire at the active settings, in ns. */
uint64_t modbus_char_ns(const modbus_t *mb);

/* When the last request for this meter (or broadcast) ended; VTIME_NEVER if none
 * (the meter's "communication" icon, 6.1). */
uint64_t modbus_last_request_ns(const modbus_t *mb);

const modbus_stats_t *modbus_stats(const modbus_t *mb);

/* The line_ops.h table of the RTU slave (self: a modbus_t). */
extern const line_ops_t MODBUS_RTU_OPS;

#endif
