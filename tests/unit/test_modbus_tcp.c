/* Tests of the Modbus TCP (MBAP) framer: the header of Modbus Messaging on
 * TCP/IP Implementation Guide V1.0b, 3.1.3, exceptions of Modbus Application
 * Protocol V1.1b3, 7, and the RTU wrapping of Modbus over Serial Line V1.02,
 * 2.5.1. Expected bytes are written out here from those documents, and CRCs
 * computed here bit by bit, never taken from the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "modbus_tcp.h"
#include "vtime.h"

#define MS 1000000ull
#define S 1000000000ull

/* ---- helpers ---- */

/* CRC-16/MODBUS, bit by bit (Serial Line V1.02, Appendix B 6.2.2): register
 * 0xFFFF, each byte XORed into its low end, eight shifts right with 0xA001
 * XORed in whenever a 1 falls out. */
static uint16_t crc_bitwise(const uint8_t *d, size_t n)
{
    uint16_t c = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA001) : (uint16_t)(c >> 1);
    }
    return c;
}

/* Builds an MBAP ADU (3.1.3) in out: returns its length. */
static size_t mbap(uint8_t *out, uint16_t tid, uint16_t proto, uint8_t unit, const uint8_t *pdu,
                   size_t len)
{
    out[0] = (uint8_t)(tid >> 8);
    out[1] = (uint8_t)tid;
    out[2] = (uint8_t)(proto >> 8);
    out[3] = (uint8_t)proto;
    out[4] = (uint8_t)((len + 1) >> 8);
    out[5] = (uint8_t)(len + 1);
    out[6] = unit;
    memcpy(out + 7, pdu, len);
    return 7 + len;
}

/* Offers bytes all at time t; returns how many were taken. */
static size_t feed(modbus_tcp_t *c, const uint8_t *b, size_t n, uint64_t t)
{
    size_t k = 0;
    while (k < n && modbus_tcp_rx(c, b[k], t, false))
        k++;
    return k;
}

/* Application Protocol V1.1b3, 6.3: "Read Holding Registers", registers
 * 108-110: request 03 00 6B 00 03, response 03 06 02 2B 00 00 00 64. */
static const uint8_t READ_REQ[] = {0x03, 0x00, 0x6B, 0x00, 0x03};
static const uint8_t READ_RSP[] = {0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64};

/* ---- receiving ---- */

static void test_init_defaults(void **state)
{
    (void)state;
    modbus_tcp_t c;
    modbus_tcp_init(&c, NULL);
    assert_int_equal(c.partial_timeout_ns, 10 * S);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
    assert_int_equal(modbus_tcp_deadline(&c), VTIME_NEVER);
    modbus_tcp_request_t r;
    assert_false(modbus_tcp_request(&c, &r));
    uint8_t buf[16];
    uint64_t ts = 7;
    assert_int_equal(modbus_tcp_tx(&c, buf, sizeof buf, &ts), 0);
    assert_int_equal(ts, 7);

    modbus_tcp_desc_t d = {.partial_timeout_ns = 0};
    modbus_tcp_init(&c, &d);
    assert_int_equal(c.partial_timeout_ns, 10 * S);
    d.partial_timeout_ns = 3 * MS;
    modbus_tcp_init(&c, &d);
    assert_int_equal(c.partial_timeout_ns, 3 * MS);
}

static void check_read_req(const modbus_tcp_request_t *r, uint64_t t)
{
    assert_int_equal(r->tid, 0x1234);
    assert_int_equal(r->unit, 0x11);
    assert_int_equal(r->pdu_len, sizeof READ_REQ);
    assert_memory_equal(r->pdu, READ_REQ, sizeof READ_REQ);
    assert_int_equal(r->t_ns, t);
}

/* TCP keeps no message boundaries: a request split anywhere, even inside the
 * header, is the same request, complete with its last byte and not before. */
static void test_split_at_every_boundary(void **state)
{
    (void)state;
    uint8_t adu[MODBUS_TCP_ADU_MAX];
    size_t n = mbap(adu, 0x1234, 0, 0x11, READ_REQ, sizeof READ_REQ);
    assert_int_equal(n, 12);
    for (size_t k = 0; k <= n; k++) {
        modbus_tcp_t c;
        modbus_tcp_request_t r;
        modbus_tcp_init(&c, NULL);
        assert_int_equal(feed(&c, adu, k, 100), k);
        if (k < n)
            assert_false(modbus_tcp_request(&c, &r));
        assert_int_equal(feed(&c, adu + k, n - k, 200), n - k);
        assert_true(modbus_tcp_request(&c, &r));
        check_read_req(&r, k < n ? 200 : 100);
        assert_false(modbus_tcp_request(&c, &r));
        assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
        assert_int_equal(modbus_tcp_deadline(&c), VTIME_NEVER);
        assert_int_equal(c.stats.requests, 1);
    }
    /* And split at every boundary at once: one byte per segment. */
    modbus_tcp_t c;
    modbus_tcp_request_t r;
    modbus_tcp_init(&c, NULL);
    for (size_t i = 0; i < n; i++) {
        assert_false(modbus_tcp_request(&c, &r));
        assert_true(modbus_tcp_rx(&c, adu[i], 1000 + i, false));
    }
    assert_true(modbus_tcp_request(&c, &r));
    check_read_req(&r, 1000 + n - 1);
}

/* A pipelining client may put several requests in one segment. */
static void test_several_in_one_segment(void **state)
{
    (void)state;
    uint8_t seg[3 * MODBUS_TCP_ADU_MAX];
    const uint8_t p1[] = {0x01, 0x00, 0x13, 0x00, 0x13}; /* 6.1 */
    const uint8_t p2[] = {0x06, 0x00, 0x01, 0x00, 0x03}; /* 6.6 */
    const uint8_t p3[] = {0x07};                         /* 6.7, a 1-byte PDU */
    for (int count = 2; count <= 3; count++) {
        size_t n = mbap(seg, 1, 0, 0x01, p1, sizeof p1);
        n += mbap(seg + n, 2, 0, 0x02, p2, sizeof p2);
        if (count == 3)
            n += mbap(seg + n, 3, 0, 0xFF, p3, sizeof p3);
        modbus_tcp_t c;
        modbus_tcp_request_t r;
        modbus_tcp_init(&c, NULL);
        assert_int_equal(feed(&c, seg, n, 5 * MS), n);
        assert_true(modbus_tcp_request(&c, &r));
        assert_int_equal(r.tid, 1);
        assert_int_equal(r.unit, 0x01);
        assert_int_equal(r.pdu_len, sizeof p1);
        assert_memory_equal(r.pdu, p1, sizeof p1);
        assert_true(modbus_tcp_request(&c, &r));
        assert_int_equal(r.tid, 2);
        assert_int_equal(r.unit, 0x02);
        assert_int_equal(r.pdu_len, sizeof p2);
        assert_memory_equal(r.pdu, p2, sizeof p2);
        if (count == 3) {
            assert_true(modbus_tcp_request(&c, &r));
            assert_int_equal(r.tid, 3);
            assert_int_equal(r.unit, 0xFF);
            assert_int_equal(r.pdu_len, 1);
            assert_int_equal(r.pdu[0], 0x07);
        }
        assert_false(modbus_tcp_request(&c, &r));
        assert_int_equal(c.stats.requests, (uint32_t)count);
    }
}

/* The bounds of the length field (3.1.3): 2 (unit + function code) and 254
 * (unit + a 253-byte PDU, a 260-byte ADU) are Modbus. */
static void test_length_bounds_accepted(void **state)
{
    (void)state;
    uint8_t pdu[MODBUS_TCP_PDU_MAX], adu[MODBUS_TCP_ADU_MAX];
    for (size_t i = 0; i < sizeof pdu; i++)
        pdu[i] = (uint8_t)(i * 7 + 1);
    const size_t lens[] = {1, MODBUS_TCP_PDU_MAX};
    for (size_t k = 0; k < 2; k++) {
        modbus_tcp_t c;
        modbus_tcp_request_t r;
        modbus_tcp_init(&c, NULL);
        size_t n = mbap(adu, 0xFFFF, 0, 0, pdu, lens[k]);
        assert_int_equal(feed(&c, adu, n, 1), n);
        assert_true(modbus_tcp_request(&c, &r));
        assert_int_equal(r.tid, 0xFFFF);
        assert_int_equal(r.pdu_len, lens[k]);
        assert_memory_equal(r.pdu, pdu, lens[k]);
    }
}

/* Lengths 0, 1 (no function code), 255 and 65535 (past 260 bytes) are not
 * Modbus: the 6th byte, which completes the field, is the last one taken. */
static void test_bad_length(void **state)
{
    (void)state;
    const uint16_t bad[] = {0, 1, 255, 65535};
    for (size_t k = 0; k < 4; k++) {
        uint8_t b[16] = {
            0x00, 0x07, 0x00, 0x00, (uint8_t)(bad[k] >> 8), (uint8_t)bad[k], 0x01, 0x03,
            0x00, 0x00, 0x00, 0x01};
        modbus_tcp_t c;
        modbus_tcp_request_t r;
        modbus_tcp_init(&c, NULL);
        assert_int_equal(feed(&c, b, 5, 10), 5);
        assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
        assert_true(modbus_tcp_rx(&c, b[5], 11, false));
        assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_LENGTH);
        assert_int_equal(feed(&c, b + 6, sizeof b - 6, 12), 0);
        assert_false(modbus_tcp_request(&c, &r));
        assert_int_equal(modbus_tcp_deadline(&c), VTIME_NEVER);
        assert_int_equal(c.rx_len, 6); /* kept for the host's log */
        assert_int_equal(c.stats.requests, 0);
        /* A later advance does not turn it into another error. */
        modbus_tcp_advance(&c, VTIME_NEVER);
        assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_LENGTH);
    }
}

/* Protocol identifier 0 is Modbus (3.1.3); anything else, either byte. */
static void test_bad_protocol(void **state)
{
    (void)state;
    const uint16_t bad[] = {0x0001, 0x0100, 0xFFFF};
    for (size_t k = 0; k < 3; k++) {
        uint8_t b[12] = {0x00, 0x01, (uint8_t)(bad[k] >> 8), (uint8_t)bad[k], 0x00, 0x06, 0x11};
        memcpy(b + 7, READ_REQ, sizeof READ_REQ);
        modbus_tcp_t c;
        modbus_tcp_request_t r;
        modbus_tcp_init(&c, NULL);
        assert_int_equal(feed(&c, b, 3, 0), 3);
        assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
        assert_int_equal(feed(&c, b + 3, sizeof b - 3, 0), 1);
        assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_PROTOCOL);
        assert_false(modbus_tcp_request(&c, &r));
    }
}

/* Requests complete before an error are not handed out after it. */
static void test_error_withholds_complete_requests(void **state)
{
    (void)state;
    uint8_t seg[64];
    size_t n = mbap(seg, 9, 0, 1, READ_REQ, sizeof READ_REQ);
    n += mbap(seg + n, 10, 1, 1, READ_REQ, sizeof READ_REQ);
    modbus_tcp_t c;
    modbus_tcp_request_t r;
    modbus_tcp_init(&c, NULL);
    assert_int_equal(feed(&c, seg, n, 0), 12 + 4);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_PROTOCOL);
    assert_int_equal(c.stats.requests, 1);
    assert_false(modbus_tcp_request(&c, &r));
}

/* A partial ADU stalls exactly partial_timeout after its first byte: not
 * one nanosecond before, whatever arrives in between. */
static void test_stalled(void **state)
{
    (void)state;
    uint8_t adu[32];
    size_t n = mbap(adu, 0x0102, 0, 1, READ_REQ, sizeof READ_REQ);
    modbus_tcp_t c;
    modbus_tcp_request_t r;
    modbus_tcp_init(&c, NULL);
    uint64_t t0 = 123 * MS, to = 10 * S;
    assert_int_equal(feed(&c, adu, 3, t0), 3); /* inside the header */
    assert_int_equal(modbus_tcp_deadline(&c), t0 + to);
    assert_int_equal(feed(&c, adu + 3, 2, t0 + to - 2), 2); /* more, still partial */
    assert_int_equal(modbus_tcp_deadline(&c), t0 + to);
    modbus_tcp_advance(&c, t0 + to - 1);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
    modbus_tcp_advance(&c, t0 + to);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_STALLED);
    assert_int_equal(modbus_tcp_deadline(&c), VTIME_NEVER);
    assert_int_equal(feed(&c, adu + 5, n - 5, t0 + to), 0);
    assert_false(modbus_tcp_request(&c, &r));

    /* A byte that arrives at the deadline finds the connection stalled (what
     * was due first happens first); one a nanosecond earlier completes it. */
    modbus_tcp_desc_t d = {.partial_timeout_ns = 5 * MS};
    modbus_tcp_init(&c, &d);
    assert_int_equal(feed(&c, adu, n - 1, 0), n - 1);
    assert_false(modbus_tcp_rx(&c, adu[n - 1], 5 * MS, false));
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_STALLED);
    modbus_tcp_init(&c, &d);
    assert_int_equal(feed(&c, adu, n - 1, 0), n - 1);
    assert_true(modbus_tcp_rx(&c, adu[n - 1], 5 * MS - 1, false));
    assert_true(modbus_tcp_request(&c, &r));
    assert_int_equal(r.t_ns, 5 * MS - 1);
    /* The next ADU's timer starts at its own first byte. */
    assert_int_equal(modbus_tcp_deadline(&c), VTIME_NEVER);
    assert_true(modbus_tcp_rx(&c, 0x00, 7 * MS, false));
    assert_int_equal(modbus_tcp_deadline(&c), 12 * MS);
    modbus_tcp_advance(&c, 12 * MS - 1);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
    /* Idle (nothing partial) never stalls. */
    modbus_tcp_init(&c, &d);
    modbus_tcp_advance(&c, VTIME_NEVER - 1);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
}

/* At most MODBUS_TCP_PENDING requests wait: the next byte is refused (and
 * stays the client's, held back by TCP) until one is taken. */
static void test_pending_limit(void **state)
{
    (void)state;
    uint8_t adu[32];
    modbus_tcp_t c;
    modbus_tcp_request_t r;
    modbus_tcp_init(&c, NULL);
    assert_int_equal(MODBUS_TCP_PENDING, 16);
    for (uint16_t i = 0; i < 16; i++) {
        size_t n = mbap(adu, i, 0, 1, READ_REQ, sizeof READ_REQ);
        assert_int_equal(feed(&c, adu, n, i), n);
    }
    size_t n = mbap(adu, 16, 0, 1, READ_REQ, sizeof READ_REQ);
    assert_false(modbus_tcp_rx(&c, adu[0], 20, false));
    assert_false(modbus_tcp_rx(&c, adu[0], 21, false));
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_OK);
    assert_int_equal(modbus_tcp_deadline(&c), VTIME_NEVER);
    assert_true(modbus_tcp_request(&c, &r));
    assert_int_equal(r.tid, 0);
    assert_int_equal(feed(&c, adu, n, 22), n); /* one slot: one whole request */
    assert_false(modbus_tcp_rx(&c, 0x00, 23, false));
    for (uint16_t i = 1; i <= 16; i++) {
        assert_true(modbus_tcp_request(&c, &r));
        assert_int_equal(r.tid, i);
    }
    assert_false(modbus_tcp_request(&c, &r));
    assert_true(modbus_tcp_rx(&c, 0x00, 24, false));
}

/* ---- sending ---- */

/* The response header rebuilds the request's (3.1.3): same transaction id
 * and unit id, protocol 0, length = unit + PDU. */
static void test_reply_echoes_header(void **state)
{
    (void)state;
    modbus_tcp_t c;
    modbus_tcp_request_t r;
    uint8_t adu[32], out[64];
    modbus_tcp_init(&c, NULL);
    size_t n = mbap(adu, 0xBEEF, 0, 0x11, READ_REQ, sizeof READ_REQ);
    assert_int_equal(feed(&c, adu, n, 50), n);
    assert_true(modbus_tcp_request(&c, &r));
    assert_true(modbus_tcp_reply(&c, r.tid, r.unit, READ_RSP, sizeof READ_RSP, 60));
    const uint8_t want[] = {0xBE, 0xEF, 0x00, 0x00, 0x00, 0x09, 0x11, 0x03,
                            0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64};
    uint64_t ts = 0;
    assert_int_equal(modbus_tcp_tx(&c, out, sizeof out, &ts), sizeof want);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(ts, 60);
    assert_int_equal(modbus_tcp_tx(&c, out, sizeof out, &ts), 0);
    assert_int_equal(c.stats.replies, 1);
    assert_int_equal(c.stats.exceptions, 0);

    /* The longest PDU: length field 254, 260 bytes in all. */
    uint8_t big[MODBUS_TCP_PDU_MAX];
    memset(big, 0xA5, sizeof big);
    big[0] = 0x03;
    assert_true(modbus_tcp_reply(&c, 0x0001, 0x00, big, sizeof big, 70));
    uint8_t o2[MODBUS_TCP_ADU_MAX + 8];
    assert_int_equal(modbus_tcp_tx(&c, o2, sizeof o2, NULL), 260);
    assert_int_equal(o2[4], 0x00);
    assert_int_equal(o2[5], 0xFE);
    assert_memory_equal(o2 + 7, big, sizeof big);
}

/* Application Protocol V1.1b3, 7: function code + 0x80, then the exception
 * code; 0x0A (gateway path unavailable), 0x0B (gateway target device failed
 * to respond). */
static void test_exception_encoding(void **state)
{
    (void)state;
    modbus_tcp_t c;
    uint8_t out[64];
    modbus_tcp_init(&c, NULL);
    assert_true(modbus_tcp_exception(&c, 0x0007, 0x05, 0x03, 0x0B, 1));
    assert_true(modbus_tcp_exception(&c, 0x0008, 0x06, 0x10, 0x0A, 2));
    assert_true(modbus_tcp_exception(&c, 0x0009, 0x07, 0x2B, 0x01, 3));
    const uint8_t want[] = {
        0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0x05, 0x83, 0x0B, /* */
        0x00, 0x08, 0x00, 0x00, 0x00, 0x03, 0x06, 0x90, 0x0A, /* */
        0x00, 0x09, 0x00, 0x00, 0x00, 0x03, 0x07, 0xAB, 0x01,
    };
    uint64_t ts = 0;
    assert_int_equal(modbus_tcp_tx(&c, out, sizeof out, &ts), sizeof want);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(ts, 1);
    assert_int_equal(c.stats.replies, 3);
    assert_int_equal(c.stats.exceptions, 3);
    /* A meter's own exception passed through reply() counts as one too. */
    const uint8_t ex[] = {0x84, 0x02};
    assert_true(modbus_tcp_reply(&c, 1, 1, ex, sizeof ex, 4));
    assert_int_equal(c.stats.exceptions, 4);
}

/* A drain smaller than what is queued hands out the oldest bytes and keeps
 * the rest, with the queue time of the response the next byte belongs to. */
static void test_tx_partial_drains(void **state)
{
    (void)state;
    modbus_tcp_t c;
    modbus_tcp_init(&c, NULL);
    const uint8_t p2[] = {0x06, 0x00, 0x01, 0x00, 0x03};
    assert_true(modbus_tcp_reply(&c, 0x0101, 1, READ_RSP, sizeof READ_RSP, 100));
    assert_true(modbus_tcp_reply(&c, 0x0202, 2, p2, sizeof p2, 200));
    assert_true(modbus_tcp_exception(&c, 0x0303, 3, 0x03, 0x0A, 300));
    uint8_t want[64];
    size_t n = mbap(want, 0x0101, 0, 1, READ_RSP, sizeof READ_RSP); /* 15 bytes */
    n += mbap(want + n, 0x0202, 0, 2, p2, sizeof p2);               /* 12 bytes */
    const uint8_t ex[] = {0x83, 0x0A};
    n += mbap(want + n, 0x0303, 0, 3, ex, sizeof ex); /* 9 bytes */
    assert_int_equal(n, 36);

    uint8_t out[64];
    uint64_t ts = 0;
    /* 5 (inside the first header), 10 (to the first response's end), 3, 9
     * (to the second's end), then everything. */
    assert_int_equal(modbus_tcp_tx(&c, out, 5, &ts), 5);
    assert_int_equal(ts, 100);
    assert_int_equal(modbus_tcp_tx(&c, out + 5, 10, &ts), 10);
    assert_int_equal(ts, 100);
    assert_int_equal(modbus_tcp_tx(&c, out + 15, 3, &ts), 3);
    assert_int_equal(ts, 200);
    assert_int_equal(modbus_tcp_tx(&c, out + 18, 9, &ts), 9);
    assert_int_equal(ts, 200);
    assert_int_equal(modbus_tcp_tx(&c, out + 27, 0, &ts), 0);
    assert_int_equal(modbus_tcp_tx(&c, out + 27, 64, &ts), 9);
    assert_int_equal(ts, 300);
    assert_memory_equal(out, want, n);
    assert_int_equal(modbus_tcp_tx(&c, out, 64, &ts), 0);

    /* One byte at a time: the time follows each response's first byte. */
    assert_true(modbus_tcp_reply(&c, 0x0101, 1, READ_RSP, sizeof READ_RSP, 100));
    assert_true(modbus_tcp_reply(&c, 0x0202, 2, p2, sizeof p2, 200));
    assert_true(modbus_tcp_exception(&c, 0x0303, 3, 0x03, 0x0A, 300));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(modbus_tcp_tx(&c, out + i, 1, &ts), 1);
        assert_int_equal(ts, i < 15 ? 100 : i < 27 ? 200 : 300);
    }
    assert_memory_equal(out, want, n);

    /* A drain that spans a boundary reports the older response's time; a
     * reply queued after a partial drain goes after the rest. */
    assert_true(modbus_tcp_reply(&c, 0x0101, 1, READ_RSP, sizeof READ_RSP, 100));
    assert_true(modbus_tcp_reply(&c, 0x0202, 2, p2, sizeof p2, 200));
    assert_int_equal(modbus_tcp_tx(&c, out, 20, &ts), 20);
    assert_int_equal(ts, 100);
    assert_true(modbus_tcp_exception(&c, 0x0303, 3, 0x03, 0x0A, 300));
    assert_int_equal(modbus_tcp_tx(&c, out + 20, 64, &ts), 16);
    assert_int_equal(ts, 200);
    assert_memory_equal(out, want, n);
}

/* A PDU of 0 or 254 bytes is not Modbus; the queue holds at most
 * MODBUS_TCP_PENDING responses, which always fit (16 x 260 bytes). */
static void test_reply_limits(void **state)
{
    (void)state;
    modbus_tcp_t c;
    uint8_t pdu[MODBUS_TCP_PDU_MAX + 1];
    memset(pdu, 0x03, sizeof pdu);
    modbus_tcp_init(&c, NULL);
    assert_false(modbus_tcp_reply(&c, 1, 1, pdu, 0, 0));
    assert_false(modbus_tcp_reply(&c, 1, 1, pdu, MODBUS_TCP_PDU_MAX + 1, 0));
    assert_false(modbus_tcp_reply(&c, 1, 1, NULL, 1, 0));
    assert_int_equal(c.tx_len, 0);
    for (int i = 0; i < 16; i++)
        assert_true(modbus_tcp_reply(&c, (uint16_t)i, 1, pdu, MODBUS_TCP_PDU_MAX, (uint64_t)i));
    assert_int_equal(c.tx_len, 16 * 260);
    assert_false(modbus_tcp_reply(&c, 16, 1, pdu, 1, 16));
    assert_false(modbus_tcp_exception(&c, 16, 1, 3, 4, 16));
    uint8_t out[300];
    uint64_t ts;
    assert_int_equal(modbus_tcp_tx(&c, out, 259, &ts), 259);
    assert_false(modbus_tcp_reply(&c, 16, 1, pdu, 1, 16)); /* still 16 responses */
    assert_int_equal(modbus_tcp_tx(&c, out, 1, &ts), 1);
    assert_true(modbus_tcp_reply(&c, 16, 1, pdu, 1, 16));
    assert_int_equal(c.stats.replies, 17);
}

/* After an error the host may still flush answers before it closes. */
static void test_reply_after_error(void **state)
{
    (void)state;
    modbus_tcp_t c;
    uint8_t b[4] = {0, 0, 0, 1}, out[16];
    modbus_tcp_init(&c, NULL);
    assert_int_equal(feed(&c, b, 4, 0), 4);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_PROTOCOL);
    assert_true(modbus_tcp_exception(&c, 5, 6, 3, 0x0B, 1));
    assert_int_equal(modbus_tcp_tx(&c, out, sizeof out, NULL), 9);
}

/* ---- the line_ops table ---- */

static void test_line_ops(void **state)
{
    (void)state;
    const line_ops_t *ops = &MODBUS_TCP_OPS;
    assert_string_equal(ops->name, "modbus-tcp");
    line_settings_t s = {9600, LINE_OPS_PARITY_EVEN};
    modbus_tcp_t c;
    modbus_tcp_desc_t d = {.partial_timeout_ns = 1 * MS};
    modbus_tcp_init(&c, &d);
    ops->settings(&c, &s);
    assert_int_equal(s.bps, 0);
    assert_int_equal(s.parity, LINE_OPS_PARITY_NONE);

    uint8_t adu[32], out[32];
    size_t n = mbap(adu, 0x0A0B, 0, 3, READ_REQ, sizeof READ_REQ);
    for (size_t i = 0; i < n; i++)
        ops->rx(&c, adu[i], 10 + i, i == 2); /* line_error is ignored on a stream */
    assert_int_equal(ops->deadline(&c), VTIME_NEVER);
    modbus_tcp_request_t r;
    assert_true(modbus_tcp_request(&c, &r));
    assert_int_equal(r.tid, 0x0A0B);
    assert_true(modbus_tcp_reply(&c, r.tid, r.unit, READ_RSP, sizeof READ_RSP, 99));
    uint64_t ts = 0;
    line_settings_t ls = {.bps = 1, .parity = 0};
    assert_int_equal(ops->tx(&c, out, sizeof out, &ts, &ls), 15);
    assert_int_equal(ts, 99);
    assert_int_equal(ls.bps, 0); /* a stream has no baud rate */

    ops->rx(&c, 0x00, 1000, false);
    assert_int_equal(ops->deadline(&c), 1000 + MS);
    ops->advance(&c, 1000 + MS);
    assert_int_equal(modbus_tcp_error(&c), MODBUS_TCP_E_STALLED);
}

static void test_strerror(void **state)
{
    (void)state;
    const modbus_tcp_error_t e[] = {MODBUS_TCP_OK, MODBUS_TCP_E_PROTOCOL, MODBUS_TCP_E_LENGTH,
                                    MODBUS_TCP_E_STALLED};
    for (int i = 0; i < 4; i++) {
        assert_non_null(modbus_tcp_strerror(e[i]));
        assert_true(strlen(modbus_tcp_strerror(e[i])) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(modbus_tcp_strerror(e[i]), modbus_tcp_strerror(e[j]));
    }
}

/* ---- RTU wrapping ---- */

/* The test's own CRC against the catalogue check value and the classic
 * Modicon example "11 03 00 6B 00 03" -> CRC 0x8776, sent 76 87. */
static void test_crc_reference(void **state)
{
    (void)state;
    assert_int_equal(crc_bitwise((const uint8_t *)"123456789", 9), 0x4B37);
    const uint8_t f[] = {0x11, 0x03, 0x00, 0x6B, 0x00, 0x03};
    assert_int_equal(crc_bitwise(f, sizeof f), 0x8776);
}

static void test_to_rtu(void **state)
{
    (void)state;
    uint8_t out[MODBUS_TCP_PDU_MAX + 3];
    assert_int_equal(modbus_tcp_to_rtu(0x11, READ_REQ, sizeof READ_REQ, out, sizeof out), 8);
    const uint8_t want[] = {0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87};
    assert_memory_equal(out, want, sizeof want);

    /* Every length and a spread of contents against the bitwise CRC. */
    uint8_t pdu[MODBUS_TCP_PDU_MAX];
    for (size_t len = 1; len <= MODBUS_TCP_PDU_MAX; len++) {
        for (size_t i = 0; i < len; i++)
            pdu[i] = (uint8_t)(len * 31 + i * 17);
        uint8_t unit = (uint8_t)len;
        size_t n = modbus_tcp_to_rtu(unit, pdu, len, out, len + 3);
        assert_int_equal(n, len + 3);
        assert_int_equal(out[0], unit);
        assert_memory_equal(out + 1, pdu, len);
        uint16_t c = crc_bitwise(out, len + 1);
        assert_int_equal(out[len + 1], c & 0xFF); /* low byte first */
        assert_int_equal(out[len + 2], c >> 8);
        /* ... and back. */
        const uint8_t *p = NULL;
        size_t pl = 0;
        assert_true(modbus_tcp_from_rtu(unit, out, n, &p, &pl));
        assert_ptr_equal(p, out + 1);
        assert_int_equal(pl, len);
        assert_memory_equal(p, pdu, len);
    }
    /* Too small a buffer, or a PDU that is not one. */
    assert_int_equal(modbus_tcp_to_rtu(1, READ_REQ, sizeof READ_REQ, out, 7), 0);
    assert_int_equal(modbus_tcp_to_rtu(1, READ_REQ, 0, out, sizeof out), 0);
    uint8_t big[MODBUS_TCP_PDU_MAX + 4];
    memset(big, 0, sizeof big);
    assert_int_equal(modbus_tcp_to_rtu(1, big, MODBUS_TCP_PDU_MAX + 1, big, sizeof big), 0);
}

static void test_from_rtu_rejects(void **state)
{
    (void)state;
    /* The response of 6.3 from unit 0x11, CRC computed here. */
    uint8_t f[16] = {0x11};
    memcpy(f + 1, READ_RSP, sizeof READ_RSP);
    size_t n = 1 + sizeof READ_RSP;
    uint16_t c = crc_bitwise(f, n);
    f[n] = (uint8_t)c;
    f[n + 1] = (uint8_t)(c >> 8);
    n += 2;
    const uint8_t *p = NULL;
    size_t pl = 0;
    assert_true(modbus_tcp_from_rtu(0x11, f, n, &p, &pl));
    assert_int_equal(pl, sizeof READ_RSP);
    assert_memory_equal(p, READ_RSP, sizeof READ_RSP);

    /* Another unit. */
    p = NULL;
    pl = 99;
    assert_false(modbus_tcp_from_rtu(0x12, f, n, &p, &pl));
    assert_false(modbus_tcp_from_rtu(0x00, f, n, &p, &pl));
    assert_null(p);
    assert_int_equal(pl, 99);
    /* Any single bit flipped, CRC bytes included: garbled. */
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 8; b++) {
            f[i] ^= (uint8_t)(1u << b);
            if (i != 0) /* flipping the address is "another unit" */
                assert_false(modbus_tcp_from_rtu(0x11, f, n, &p, &pl));
            f[i] ^= (uint8_t)(1u << b);
        }
    }
    /* The CRC bytes swapped (high byte first) is not Modbus. */
    uint8_t sw[16];
    memcpy(sw, f, n);
    sw[n - 2] = f[n - 1];
    sw[n - 1] = f[n - 2];
    assert_false(modbus_tcp_from_rtu(0x11, sw, n, &p, &pl));
    /* Short: below address + function + CRC, even with a matching CRC. */
    uint8_t s3[3] = {0x11};
    uint16_t c1 = crc_bitwise(s3, 1);
    s3[1] = (uint8_t)c1;
    s3[2] = (uint8_t)(c1 >> 8);
    assert_false(modbus_tcp_from_rtu(0x11, s3, 3, &p, &pl));
    for (size_t k = 0; k < 4; k++)
        assert_false(modbus_tcp_from_rtu(0x11, f, k, &p, &pl));
    /* The shortest sound one: address, function, CRC. */
    uint8_t s4[4] = {0x11, 0x83};
    uint16_t c2 = crc_bitwise(s4, 2);
    s4[2] = (uint8_t)c2;
    s4[3] = (uint8_t)(c2 >> 8);
    assert_true(modbus_tcp_from_rtu(0x11, s4, 4, &p, &pl));
    assert_int_equal(pl, 1);
    /* Longer than 256 bytes: its PDU could not go back over TCP. */
    uint8_t lg[257];
    memset(lg, 0x11, sizeof lg);
    uint16_t c3 = crc_bitwise(lg, 255);
    lg[255] = (uint8_t)c3;
    lg[256] = (uint8_t)(c3 >> 8);
    assert_false(modbus_tcp_from_rtu(0x11, lg, 257, &p, &pl));
    uint16_t c4 = crc_bitwise(lg, 254);
    lg[254] = (uint8_t)c4;
    lg[255] = (uint8_t)(c4 >> 8);
    assert_true(modbus_tcp_from_rtu(0x11, lg, 256, &p, &pl));
    assert_int_equal(pl, MODBUS_TCP_PDU_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_split_at_every_boundary),
        cmocka_unit_test(test_several_in_one_segment),
        cmocka_unit_test(test_length_bounds_accepted),
        cmocka_unit_test(test_bad_length),
        cmocka_unit_test(test_bad_protocol),
        cmocka_unit_test(test_error_withholds_complete_requests),
        cmocka_unit_test(test_stalled),
        cmocka_unit_test(test_pending_limit),
        cmocka_unit_test(test_reply_echoes_header),
        cmocka_unit_test(test_exception_encoding),
        cmocka_unit_test(test_tx_partial_drains),
        cmocka_unit_test(test_reply_limits),
        cmocka_unit_test(test_reply_after_error),
        cmocka_unit_test(test_line_ops),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_crc_reference),
        cmocka_unit_test(test_to_rtu),
        cmocka_unit_test(test_from_rtu_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
