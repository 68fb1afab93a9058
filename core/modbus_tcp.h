/* modbus_tcp: the Modbus TCP (MBAP) framer of one client connection, a byte
 * machine with time as an argument.
 *
 *   client stream            modbus_tcp_t                        gateway (host)
 *   -------------            ------------                        --------------
 *   bytes ---rx(b, t)--->  7-byte MBAP header + PDU  --request()-->  unit id -> meter
 *                          checked: protocol id 0,                   on the bus, one
 *                          2 <= length <= 254                        at a time
 *   bytes <--tx(buf)-----  header rebuilt: the         <--reply()--  the meter's PDU
 *                          request's transaction id                  (or exception())
 *                          and unit id echoed
 *
 * MBAP header (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3):
 *
 *   offset  size  field
 *        0     2  transaction id   (big-endian; echoed in the response)
 *        2     2  protocol id      (0 = Modbus; anything else: the connection is dropped)
 *        4     2  length           (bytes that follow: unit id + PDU, 2..254)
 *        6     1  unit id          (which slave behind the gateway)
 *        7     n  PDU              (function code + data, 1..253 bytes)
 *
 * A whole ADU is at most 260 bytes (7 + 253). A request is complete when
 * `length` bytes have followed the first six; several may arrive in one
 * segment, and one may arrive split anywhere (even inside the header).
 *
 * Errors close the connection (the host drops it): a protocol id other than
 * 0, a length below 2 or above 254, or a partial ADU left unfinished for
 * desc.partial_timeout_ns counted from its first byte (a client that sent
 * half a header and stalled; at exactly that instant, not one ns before).
 * The byte that reveals a bad header (the 4th: protocol id; the 6th: length)
 * is taken and checked at once, without waiting for the rest of the ADU.
 * After an error the machine takes no more bytes and hands out no more
 * requests (not even those complete before it); modbus_tcp_error() says why,
 * and rx[0 .. rx_len) keeps the offending partial ADU for the host's log.
 * reply(), exception() and tx() keep working, so a host may flush answers it
 * already has before it closes; it need not.
 *
 * Requests are kept in arrival order, at most MODBUS_TCP_PENDING of them
 * (a client may pipeline); while that many wait, rx() refuses further bytes
 * (returns false) and the host stops reading the socket, so a flooding client
 * is held back by TCP itself and never grows a backlog here.
 *
 * Replies are queued in tx[] in the order reply() is called, at most
 * MODBUS_TCP_PENDING of them; tx() hands out what is queued, up to the
 * caller's cap, and may stop inside a response (the rest goes next time).
 * The TCP framer knows nothing about meters: the gateway decides what a unit
 * id means (docs/network.md).
 *
 * Known inaccuracies: none in the framing. The function code and the unit id
 * are not judged here (a request for function 0x00 or unit 0 is handed out
 * as it came): that is the gateway's and the meter's business.
 */
#ifndef METERSIM_MODBUS_TCP_H
#define METERSIM_MODBUS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "line_ops.h"
#include "vtime.h" /* VTIME_NEVER, returned by modbus_tcp_deadline() */

#define MODBUS_TCP_HEADER_LEN 7u
#define MODBUS_TCP_PDU_MAX 253u
#define MODBUS_TCP_ADU_MAX (MODBUS_TCP_HEADER_LEN + MODBUS_TCP_PDU_MAX) /* 260 */
#define MODBUS_TCP_PENDING 16u /* requests parsed and not yet taken */
#define MODBUS_TCP_TX_MAX (MODBUS_TCP_PENDING * MODBUS_TCP_ADU_MAX)
#define MODBUS_TCP_PARTIAL_TIMEOUT_DEFAULT_NS 10000000000ull /* 10 s */

typedef enum {
    MODBUS_TCP_OK = 0,
    MODBUS_TCP_E_PROTOCOL, /* protocol id other than 0 */
    MODBUS_TCP_E_LENGTH,   /* length field below 2 or above 254 */
    MODBUS_TCP_E_STALLED,  /* a partial ADU for longer than partial_timeout_ns */
} modbus_tcp_error_t;

typedef struct modbus_tcp_desc {
    uint64_t partial_timeout_ns; /* 0: MODBUS_TCP_PARTIAL_TIMEOUT_DEFAULT_NS */
} modbus_tcp_desc_t;

typedef struct modbus_tcp_request {
    uint16_t tid; /* transaction id, to echo */
    uint8_t unit; /* unit id */
    uint8_t pdu[MODBUS_TCP_PDU_MAX];
    uint16_t pdu_len; /* >= 1: the function code at least */
    uint64_t t_ns;    /* when its last byte arrived */
} modbus_tcp_request_t;

typedef struct modbus_tcp_stats {
    uint32_t requests;   /* complete ADUs */
    uint32_t replies;    /* responses queued (exceptions included) */
    uint32_t exceptions; /* of those, function code with 0x80 set (either call) */
} modbus_tcp_stats_t;

typedef struct modbus_tcp {
    uint64_t partial_timeout_ns;
    uint8_t rx[MODBUS_TCP_ADU_MAX];
    uint16_t rx_len;
    uint64_t rx_first_ns; /* arrival of the partial ADU's first byte */

    modbus_tcp_request_t pending[MODBUS_TCP_PENDING];
    uint32_t pending_head, pending_n;

    /* Responses with bytes still in tx[], oldest first: when each was
     * queued, and how many bytes of the oldest are left (a drain may stop
     * inside one; the next ones start at tx[tx_head_left], header intact). */
    uint8_t tx[MODBUS_TCP_TX_MAX];
    uint32_t tx_len;
    uint64_t tx_t_ns[MODBUS_TCP_PENDING];
    uint32_t tx_n;
    uint32_t tx_head_left;

    modbus_tcp_error_t error;
    modbus_tcp_stats_t stats;
} modbus_tcp_t;

/* Starts an idle connection; `desc` may be NULL (defaults). */
void modbus_tcp_init(modbus_tcp_t *c, const modbus_tcp_desc_t *desc);

/* One byte from the client, arrived at t_ns. False when it was not taken:
 * MODBUS_TCP_PENDING requests wait (take some, then offer it again), or the
 * connection is in error (a partial ADU that timed out by t_ns included: what
 * was due first happens first). `line_error` is for the line_ops shape only
 * (a stream has none) and is ignored. */
bool modbus_tcp_rx(modbus_tcp_t *c, uint8_t byte, uint64_t t_ns, bool line_error);

/* Takes the oldest complete request; false when none waits. */
bool modbus_tcp_request(modbus_tcp_t *c, modbus_tcp_request_t *out);

/* Queues a response: the MBAP header with tid, protocol 0, the length, unit,
 * then the PDU (1..253 bytes). False, and nothing queued, when len is outside
 * 1..253 (pdu NULL included) or when tx[] has no room for it or already holds
 * MODBUS_TCP_PENDING responses (the host must drain with tx() first; with at
 * most MODBUS_TCP_PENDING requests answered per full drain this never happens). */
bool modbus_tcp_reply(modbus_tcp_t *c, uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t len,
                      uint64_t t_ns);

/* Queues an exception response: function code | 0x80, then the code
 * (Modbus Application Protocol V1.1b3, 7; 0x0A/0x0B are a gateway's). */
bool modbus_tcp_exception(modbus_tcp_t *c, uint16_t tid, uint8_t unit, uint8_t function,
                          uint8_t code, uint64_t t_ns);

/* The line_ops shape: the queued response bytes (up to cap; the rest stays
 * queued), *t_start_ns = when the oldest of them was queued (t_start_ns may
 * be NULL). 0 when nothing is queued or cap is 0. */
size_t modbus_tcp_tx(modbus_tcp_t *c, uint8_t *buf, size_t cap, uint64_t *t_start_ns);

/* When a partial ADU times out; VTIME_NEVER when none is partial. */
uint64_t modbus_tcp_deadline(const modbus_tcp_t *c);

/* Moves to now_ns: a partial ADU past its timeout puts the connection in
 * MODBUS_TCP_E_STALLED. */
void modbus_tcp_advance(modbus_tcp_t *c, uint64_t now_ns);

/* Why the connection must close; MODBUS_TCP_OK while it is sound. */
modbus_tcp_error_t modbus_tcp_error(const modbus_tcp_t *c);

/* A sentence for an error, for logs ("protocol id 0x0001 is not Modbus"
 * needs the value: the host adds it from the request bytes if it wants). */
const char *modbus_tcp_strerror(modbus_tcp_error_t e);

/* The table of line_ops.h: rx ignores a refused byte's return (use
 * modbus_tcp_rx directly where backpressure matters); settings are bps 0. */
extern const line_ops_t MODBUS_TCP_OPS;

/* A Modbus RTU ADU from a unit id and a PDU: address, PDU, CRC low byte
 * first (Modbus over Serial Line V1.02, 2.5.1). Returns its length (len + 3)
 * or 0 when cap is too small or len is outside 1..253 (an RTU ADU is at most
 * 256 bytes). What a gateway puts on the serial line. */
size_t modbus_tcp_to_rtu(uint8_t unit, const uint8_t *pdu, size_t len, uint8_t *out, size_t cap);

/* The PDU of an RTU reply, if it is a sound one from `unit` (4 <= n <= 256,
 * address, CRC): *pdu points into `adu`, *len its length (1..253, so that it
 * fits a TCP reply). False otherwise (garbled, another address, too short or
 * too long), *pdu and *len untouched. */
bool modbus_tcp_from_rtu(uint8_t unit, const uint8_t *adu, size_t n, const uint8_t **pdu,
                         size_t *len);

#endif
