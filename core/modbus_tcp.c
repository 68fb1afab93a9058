/* modbus_tcp: the MBAP framer of one Modbus TCP connection (Modbus Messaging
 * on TCP/IP Implementation Guide V1.0b, 3.1.3) and the RTU wrapping a gateway
 * needs (Modbus over Serial Line V1.02, 2.5.1). */
#include "modbus_tcp.h"

#include <string.h>

#include "crc.h"
#include "vtime.h"

/* Offsets in the MBAP header (Implementation Guide 3.1.3). */
#define MBAP_TID 0u
#define MBAP_PROTOCOL 2u
#define MBAP_LENGTH 4u
#define MBAP_UNIT 6u
/* The length field counts the unit id and the PDU: 1 + 1..253. */
#define MBAP_LENGTH_MIN 2u
#define MBAP_LENGTH_MAX (1u + MODBUS_TCP_PDU_MAX)
/* An RTU ADU: address, PDU, CRC (Serial Line 2.5.1), at most 256 bytes. */
#define RTU_OVERHEAD 3u

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* a + b without wrapping past VTIME_NEVER: a timeout of "forever" stays forever. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > VTIME_NEVER - b ? VTIME_NEVER : a + b;
}

void modbus_tcp_init(modbus_tcp_t *c, const modbus_tcp_desc_t *desc)
{
    memset(c, 0, sizeof *c);
    c->partial_timeout_ns = desc ? desc->partial_timeout_ns : 0;
    if (c->partial_timeout_ns == 0)
        c->partial_timeout_ns = MODBUS_TCP_PARTIAL_TIMEOUT_DEFAULT_NS;
    c->error = MODBUS_TCP_OK;
}

/* The ADU in rx[] is whole: it joins the queue of requests, in arrival order. */
static void rx_complete(modbus_tcp_t *c, uint64_t t_ns)
{
    uint32_t slot = (c->pending_head + c->pending_n) % MODBUS_TCP_PENDING;
    modbus_tcp_request_t *r = &c->pending[slot];
    r->tid = get16(c->rx + MBAP_TID);
    r->unit = c->rx[MBAP_UNIT];
    r->pdu_len = (uint16_t)(c->rx_len - MODBUS_TCP_HEADER_LEN);
    memcpy(r->pdu, c->rx + MODBUS_TCP_HEADER_LEN, r->pdu_len);
    r->t_ns = t_ns;
    c->pending_n++;
    c->stats.requests++;
    c->rx_len = 0;
}

/* Judges the header as soon as each field is whole, so that a bad one closes
 * the connection at once instead of waiting for bytes that a confused client
 * may never send; then counts the ADU's bytes to its end. Several ADUs may
 * share one segment and one may be split anywhere: only the count matters. */
bool modbus_tcp_rx(modbus_tcp_t *c, uint8_t byte, uint64_t t_ns, bool line_error)
{
    (void)line_error; /* a TCP stream has no parity or framing errors */
    modbus_tcp_advance(c, t_ns);
    if (c->error != MODBUS_TCP_OK || c->pending_n == MODBUS_TCP_PENDING)
        return false;
    if (c->rx_len == 0)
        c->rx_first_ns = t_ns;
    c->rx[c->rx_len++] = byte;

    if (c->rx_len == MBAP_PROTOCOL + 2 && get16(c->rx + MBAP_PROTOCOL) != 0) {
        /* 3.1.3: protocol identifier 0 = Modbus; a server cannot know where
         * anything else ends, so the stream is lost. */
        c->error = MODBUS_TCP_E_PROTOCOL;
    } else if (c->rx_len == MBAP_LENGTH + 2) {
        uint16_t len = get16(c->rx + MBAP_LENGTH);
        if (len < MBAP_LENGTH_MIN || len > MBAP_LENGTH_MAX)
            c->error = MODBUS_TCP_E_LENGTH; /* no unit + function, or past 260 bytes */
    } else if (c->rx_len > MODBUS_TCP_HEADER_LEN - 1 &&
               c->rx_len == MBAP_LENGTH + 2 + get16(c->rx + MBAP_LENGTH)) {
        rx_complete(c, t_ns);
    }
    return true;
}

bool modbus_tcp_request(modbus_tcp_t *c, modbus_tcp_request_t *out)
{
    if (c->error != MODBUS_TCP_OK || c->pending_n == 0)
        return false;
    *out = c->pending[c->pending_head];
    c->pending_head = (c->pending_head + 1) % MODBUS_TCP_PENDING;
    c->pending_n--;
    return true;
}

/* The response header rebuilds the request's: same transaction id (so that a
 * pipelining client can match it), protocol 0, length of unit + PDU, same
 * unit id (Implementation Guide 3.1.3, "copied by the server from the
 * received request"). */
bool modbus_tcp_reply(modbus_tcp_t *c, uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t len,
                      uint64_t t_ns)
{
    if (pdu == NULL || len < 1 || len > MODBUS_TCP_PDU_MAX)
        return false;
    size_t adu = MODBUS_TCP_HEADER_LEN + len;
    if (c->tx_n == MODBUS_TCP_PENDING || c->tx_len + adu > MODBUS_TCP_TX_MAX)
        return false;
    uint8_t *p = c->tx + c->tx_len;
    put16(p + MBAP_TID, tid);
    put16(p + MBAP_PROTOCOL, 0);
    put16(p + MBAP_LENGTH, (uint16_t)(1 + len));
    p[MBAP_UNIT] = unit;
    memcpy(p + MODBUS_TCP_HEADER_LEN, pdu, len);
    if (c->tx_n == 0)
        c->tx_head_left = (uint32_t)adu;
    c->tx_t_ns[c->tx_n++] = t_ns;
    c->tx_len += (uint32_t)adu;
    c->stats.replies++;
    if (pdu[0] & 0x80)
        c->stats.exceptions++;
    return true;
}

/* Application Protocol V1.1b3, 7: the function code with its top bit set,
 * then one byte of exception code (0x0A gateway path unavailable, 0x0B
 * gateway target device failed to respond, among the others). */
bool modbus_tcp_exception(modbus_tcp_t *c, uint16_t tid, uint8_t unit, uint8_t function,
                          uint8_t code, uint64_t t_ns)
{
    uint8_t pdu[2] = {(uint8_t)(function | 0x80), code};
    return modbus_tcp_reply(c, tid, unit, pdu, sizeof pdu, t_ns);
}

/* Hands out the oldest bytes first and forgets the queue time of every
 * response whose last byte went out, so that *t_start_ns is always the time
 * of the response the next byte belongs to. */
size_t modbus_tcp_tx(modbus_tcp_t *c, uint8_t *buf, size_t cap, uint64_t *t_start_ns)
{
    if (c->tx_len == 0 || cap == 0)
        return 0;
    uint32_t n = cap < c->tx_len ? (uint32_t)cap : c->tx_len;
    memcpy(buf, c->tx, n);
    if (t_start_ns)
        *t_start_ns = c->tx_t_ns[0];

    uint32_t off = 0, done = 0; /* bytes consumed; responses finished */
    while (done < c->tx_n && n - off >= c->tx_head_left) {
        off += c->tx_head_left;
        done++;
        c->tx_head_left =
            done < c->tx_n ? MODBUS_TCP_HEADER_LEN - 1 + get16(c->tx + off + MBAP_LENGTH) : 0;
    }
    c->tx_head_left -= n - off;
    if (done > 0) {
        c->tx_n -= done;
        memmove(c->tx_t_ns, c->tx_t_ns + done, c->tx_n * sizeof c->tx_t_ns[0]);
    }
    c->tx_len -= n;
    memmove(c->tx, c->tx + n, c->tx_len);
    return n;
}

uint64_t modbus_tcp_deadline(const modbus_tcp_t *c)
{
    if (c->error != MODBUS_TCP_OK || c->rx_len == 0)
        return VTIME_NEVER;
    return add_sat(c->rx_first_ns, c->partial_timeout_ns);
}

/* A client that sent part of an ADU and went quiet would otherwise hold the
 * connection (and a gateway slot) forever; a whole request is small enough
 * to arrive well within the timeout on any working link. */
void modbus_tcp_advance(modbus_tcp_t *c, uint64_t now_ns)
{
    uint64_t due = modbus_tcp_deadline(c);
    if (due != VTIME_NEVER && now_ns >= due)
        c->error = MODBUS_TCP_E_STALLED;
}

modbus_tcp_error_t modbus_tcp_error(const modbus_tcp_t *c)
{
    return c->error;
}

const char *modbus_tcp_strerror(modbus_tcp_error_t e)
{
    switch (e) {
    case MODBUS_TCP_OK:
        return "no error";
    case MODBUS_TCP_E_PROTOCOL:
        return "MBAP protocol id is not 0 (not Modbus)";
    case MODBUS_TCP_E_LENGTH:
        return "MBAP length field outside 2..254";
    case MODBUS_TCP_E_STALLED:
        return "partial Modbus TCP request not finished within the timeout";
    }
    return "unknown Modbus TCP error";
}

/* ---- line_ops ---------------------------------------------------------- */

static void ops_rx(void *self, uint8_t byte, uint64_t t_ns, bool line_error)
{
    (void)modbus_tcp_rx(self, byte, t_ns, line_error);
}

static size_t ops_tx(void *self, uint8_t *buf, size_t cap, uint64_t *t_start_ns,
                     line_settings_t *line)
{
    size_t n = modbus_tcp_tx(self, buf, cap, t_start_ns);
    if (n && line)
        *line = (line_settings_t){.bps = 0, .parity = LINE_OPS_PARITY_NONE};
    return n;
}

static uint64_t ops_deadline(const void *self)
{
    return modbus_tcp_deadline(self);
}

static void ops_advance(void *self, uint64_t now_ns)
{
    modbus_tcp_advance(self, now_ns);
}

/* A stream has no baud rate or parity: bps 0 tells the host not to pace it. */
static void ops_settings(const void *self, line_settings_t *out)
{
    (void)self;
    out->bps = 0;
    out->parity = LINE_OPS_PARITY_NONE;
}

const line_ops_t MODBUS_TCP_OPS = {
    .name = "modbus-tcp",
    .rx = ops_rx,
    .tx = ops_tx,
    .deadline = ops_deadline,
    .advance = ops_advance,
    .settings = ops_settings,
};

/* ---- RTU wrapping (what a gateway puts on the serial line) --------------- */

size_t modbus_tcp_to_rtu(uint8_t unit, const uint8_t *pdu, size_t len, uint8_t *out, size_t cap)
{
    if (pdu == NULL || len < 1 || len > MODBUS_TCP_PDU_MAX || cap < len + RTU_OVERHEAD)
        return 0;
    memmove(out + 1, pdu, len); /* memmove: the PDU may already sit in out[] */
    out[0] = unit;
    uint16_t crc = crc16_modbus(out, len + 1);
    out[len + 1] = (uint8_t)crc; /* low byte first (Serial Line 2.5.1.2) */
    out[len + 2] = (uint8_t)(crc >> 8);
    return len + RTU_OVERHEAD;
}

bool modbus_tcp_from_rtu(uint8_t unit, const uint8_t *adu, size_t n, const uint8_t **pdu,
                         size_t *len)
{
    if (adu == NULL || n < 1 + RTU_OVERHEAD || n > MODBUS_TCP_PDU_MAX + RTU_OVERHEAD)
        return false;
    if (adu[0] != unit)
        return false;
    uint16_t crc = crc16_modbus(adu, n - 2);
    if (adu[n - 2] != (uint8_t)crc || adu[n - 1] != (uint8_t)(crc >> 8))
        return false;
    *pdu = adu + 1;
    *len = n - RTU_OVERHEAD;
    return true;
}
