/* libFuzzer target for the Modbus TCP (MBAP) framer (core/modbus_tcp.c).
 *
 * The input is a host's life with one client: byte 0 picks the partial
 * timeout, then each op byte says what happens next:
 *
 *   op >> 5   what the host does
 *   0..2      receives (op & 0x1F) + 1 bytes from the client (next in the
 *             input) into its socket buffer, then offers the whole buffer to
 *             the framer byte by byte, `step` ns apart; refused bytes stay
 *             in the buffer, as they would in the kernel's
 *   3         time passes: t += dt(next byte); step = dt(next byte)
 *   4         takes up to (op & 0x1F) + 1 requests, and answers each as the
 *             next byte says: not at all; an echo that went over the serial
 *             line (to_rtu, maybe one byte garbled, from_rtu; garbled: an
 *             exception 0x0B instead); an exception; or a PDU of any length
 *             1..253, which is also handed to from_rtu as if it were an ADU
 *   5         drains tx with a cap from op & 0x1F (0..30, or everything)
 *   6         advances by dt(next byte); odd op: to the deadline if later
 *   7         advances to one ns before the deadline, then to it
 *
 * A model built here from the Implementation Guide's rules (3.1.3) runs
 * alongside and every step is checked against it, abort() on a difference:
 * which bytes are taken (backpressure at MODBUS_TCP_PENDING, nothing after an
 * error), the error and when it happens (the 4th or 6th byte, or exactly at
 * the partial timeout), the deadline, every request taken (1 <= pdu_len <=
 * 253, the bytes and times of the stream, in order, and none after an
 * error), whether reply() has room, and the tx stream: a sequence of
 * well-formed MBAP ADUs (protocol 0, length 2..254) equal to the replies
 * queued, in order, each drain's start time that of its first byte's reply;
 * the RTU round trip gives the PDU back, a garbled byte is always caught,
 * and any ADU from_rtu accepts has a CRC that checks bit by bit.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Icore \
 *          tests/fuzz/fuzz_modbus_tcp.c core/crc.c core/modbus_tcp.c \
 *          -o build/fuzz/fuzz_modbus_tcp
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_tcp.h"
#include "vtime.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

typedef struct {
    uint16_t tid;
    uint8_t unit;
    uint16_t len;
    uint8_t pdu[MODBUS_TCP_PDU_MAX];
    uint64_t t;
} adu_t;

/* The model: the client's stream as the spec frames it, and what the framer
 * owes the host. */
typedef struct {
    const uint8_t *in;
    size_t in_n, in_pos;

    uint64_t timeout, t, step;
    modbus_tcp_error_t err;

    uint8_t sock[4096]; /* the host's socket buffer: received, not yet taken */
    size_t sock_n;

    uint8_t part[MODBUS_TCP_ADU_MAX]; /* the ADU being received */
    size_t part_n;
    uint64_t part_first;

    adu_t req[MODBUS_TCP_PENDING]; /* complete, not yet taken, oldest first */
    size_t req_n;
    uint64_t last_req_t;

    adu_t rsp[MODBUS_TCP_PENDING]; /* queued replies, oldest first */
    size_t rsp_n, rsp_bytes;
    uint8_t out[MODBUS_TCP_ADU_MAX]; /* the tx stream: the ADU being parsed */
    size_t out_n;
} model_t;

static uint8_t next(model_t *m)
{
    return m->in_pos < m->in_n ? m->in[m->in_pos++] : 0;
}

/* 0..63 ns, us, ms or s-ish: small and huge steps alike; 0xFF: half of all
 * time, so that the end of time (and deadlines that saturate) is reached. */
static uint64_t dt(uint8_t b)
{
    if (b == 0xFF)
        return VTIME_NEVER / 2;
    return (uint64_t)(b & 0x3F) << (10 * (b >> 6));
}

/* CRC-16/MODBUS bit by bit (Serial Line V1.02, 6.2.2), apart from crc.c. */
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

/* Whatever from_rtu accepts is a sound ADU from `unit`. */
static void check_from_rtu(uint8_t unit, const uint8_t *adu, size_t n)
{
    const uint8_t *p = NULL;
    size_t len = 0;
    if (!modbus_tcp_from_rtu(unit, adu, n, &p, &len)) {
        CHECK(p == NULL && len == 0);
        return;
    }
    CHECK(n >= 4 && n <= MODBUS_TCP_PDU_MAX + 3 && adu[0] == unit);
    CHECK(p == adu + 1 && len == n - 3);
    uint16_t crc = crc_bitwise(adu, n - 2);
    CHECK(adu[n - 2] == (crc & 0xFF) && adu[n - 1] == crc >> 8);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > VTIME_NEVER - b ? VTIME_NEVER : a + b;
}

/* Time never reaches VTIME_NEVER itself: that means "no deadline". */
static void time_to(model_t *m, uint64_t t)
{
    if (t > VTIME_NEVER - 1)
        t = VTIME_NEVER - 1;
    if (t > m->t)
        m->t = t;
}

static uint64_t model_deadline(const model_t *m)
{
    if (m->err != MODBUS_TCP_OK || m->part_n == 0)
        return VTIME_NEVER;
    return add_sat(m->part_first, m->timeout);
}

static void model_advance(model_t *m, uint64_t t)
{
    uint64_t d = model_deadline(m);
    if (d != VTIME_NEVER && t >= d)
        m->err = MODBUS_TCP_E_STALLED;
}

static void check_state(const model_t *m, const modbus_tcp_t *c)
{
    CHECK(modbus_tcp_error(c) == m->err);
    const char *why = modbus_tcp_strerror(modbus_tcp_error(c));
    CHECK(why != NULL && why[0] != '\0');
    CHECK(modbus_tcp_deadline(c) == model_deadline(m));
    CHECK(MODBUS_TCP_OPS.deadline(c) == model_deadline(m));
}

/* The model takes a byte the framer took, by 3.1.3's rules. */
static void model_byte(model_t *m, uint8_t b, uint64_t t)
{
    if (m->part_n == 0)
        m->part_first = t;
    m->part[m->part_n++] = b;
    if (m->part_n == 4 && (m->part[2] | m->part[3]) != 0) {
        m->err = MODBUS_TCP_E_PROTOCOL;
        return;
    }
    if (m->part_n < 6)
        return;
    size_t len = (size_t)m->part[4] << 8 | m->part[5];
    if (len < 2 || len > 254) {
        m->err = MODBUS_TCP_E_LENGTH;
        return;
    }
    if (m->part_n < 6 + len)
        return;
    CHECK(m->req_n < MODBUS_TCP_PENDING);
    adu_t *r = &m->req[m->req_n++];
    r->tid = (uint16_t)(m->part[0] << 8 | m->part[1]);
    r->unit = m->part[6];
    r->len = (uint16_t)(len - 1);
    memcpy(r->pdu, m->part + 7, r->len);
    r->t = t;
    m->part_n = 0;
}

static void offer(model_t *m, modbus_tcp_t *c)
{
    size_t k = 0;
    while (k < m->sock_n) {
        uint64_t t = m->t;
        model_advance(m, t); /* what was due before the byte happens first */
        bool want = m->err == MODBUS_TCP_OK && m->req_n < MODBUS_TCP_PENDING;
        bool took = modbus_tcp_rx(c, m->sock[k], t, (m->sock[k] & 1) != 0);
        CHECK(took == want);
        if (!took) {
            CHECK(modbus_tcp_error(c) == m->err);
            break;
        }
        model_byte(m, m->sock[k], t);
        check_state(m, c);
        k++;
        time_to(m, add_sat(m->t, m->step));
    }
    memmove(m->sock, m->sock + k, m->sock_n - k);
    m->sock_n -= k;
}

/* Queues a reply in both; the framer must refuse exactly when it is full. */
static void answer(model_t *m, modbus_tcp_t *c, const adu_t *rq, uint8_t how)
{
    adu_t a = {.tid = rq->tid, .unit = rq->unit, .t = m->t};
    bool ok;
    switch (how & 3) {
    case 0:
        return;
    case 1: {
        /* A gateway's path: the PDU to the serial line and back. */
        uint8_t rtu[MODBUS_TCP_PDU_MAX + 3];
        unsigned sel = (how >> 2) & 7; /* 7: one byte short of room; 5, 6: garbled */
        size_t cap = sel == 7 ? rq->len + 2u : sizeof rtu;
        size_t n = modbus_tcp_to_rtu(rq->unit, rq->pdu, rq->len, rtu, cap);
        CHECK(n == (sel == 7 ? 0 : rq->len + 3u));
        if (n == 0)
            return;
        CHECK(rtu[0] == rq->unit && memcmp(rtu + 1, rq->pdu, rq->len) == 0);
        check_from_rtu(rq->unit, rtu, n);
        bool garble = sel == 5 || sel == 6;
        if (garble)
            rtu[next(m) % n] ^= (uint8_t)(next(m) | 1);
        const uint8_t *p = NULL;
        size_t len = 0;
        bool back = modbus_tcp_from_rtu(rq->unit, rtu, n, &p, &len);
        CHECK(back == !garble); /* CRC-16 catches every error within 16 bits */
        if (back) {
            CHECK(len == rq->len && memcmp(p, rq->pdu, len) == 0);
            a.len = (uint16_t)len;
            memcpy(a.pdu, p, len);
            ok = modbus_tcp_reply(c, a.tid, a.unit, a.pdu, a.len, a.t);
        } else {
            a.len = 2;
            a.pdu[0] = (uint8_t)(rq->pdu[0] | 0x80);
            a.pdu[1] = 0x0B; /* gateway target device failed to respond */
            ok = modbus_tcp_exception(c, a.tid, a.unit, rq->pdu[0], 0x0B, a.t);
        }
        break;
    }
    case 2:
        a.len = 2;
        a.pdu[0] = (uint8_t)(rq->pdu[0] | 0x80);
        a.pdu[1] = (uint8_t)(how >> 2);
        ok = modbus_tcp_exception(c, a.tid, a.unit, rq->pdu[0], a.pdu[1], a.t);
        break;
    default:
        a.len = (uint16_t)(1 + next(m) % MODBUS_TCP_PDU_MAX);
        for (size_t i = 0; i < a.len; i++)
            a.pdu[i] = m->in_pos < m->in_n ? next(m) : (uint8_t)(how + i * 13);
        check_from_rtu(a.pdu[0], a.pdu, a.len);
        check_from_rtu(rq->unit, a.pdu, a.len);
        ok = modbus_tcp_reply(c, a.tid, a.unit, a.pdu, a.len, a.t);
        break;
    }
    bool room = m->rsp_n < MODBUS_TCP_PENDING &&
                m->rsp_bytes + MODBUS_TCP_HEADER_LEN + a.len <= MODBUS_TCP_TX_MAX;
    CHECK(ok == room);
    if (ok) {
        m->rsp[m->rsp_n++] = a;
        m->rsp_bytes += MODBUS_TCP_HEADER_LEN + a.len;
    }
}

static void take(model_t *m, modbus_tcp_t *c, unsigned k)
{
    for (unsigned i = 0; i < k; i++) {
        modbus_tcp_request_t r;
        memset(&r, 0xEE, sizeof r);
        bool got = modbus_tcp_request(c, &r);
        CHECK(got == (m->err == MODBUS_TCP_OK && m->req_n > 0));
        if (!got)
            return;
        const adu_t *w = &m->req[0];
        CHECK(r.pdu_len >= 1 && r.pdu_len <= MODBUS_TCP_PDU_MAX);
        CHECK(r.tid == w->tid && r.unit == w->unit && r.pdu_len == w->len);
        CHECK(memcmp(r.pdu, w->pdu, r.pdu_len) == 0);
        CHECK(r.t_ns == w->t && r.t_ns <= m->t && r.t_ns >= m->last_req_t);
        m->last_req_t = r.t_ns;
        adu_t rq = *w;
        m->req_n--;
        memmove(m->req, m->req + 1, m->req_n * sizeof m->req[0]);
        answer(m, c, &rq, next(m));
    }
}

/* Parses what tx() handed out as an MBAP stream and matches it, ADU by ADU,
 * against the replies queued. */
static void drain(model_t *m, modbus_tcp_t *c, size_t cap)
{
    uint8_t buf[MODBUS_TCP_TX_MAX + 16];
    uint64_t ts = 0xDEADBEEF;
    memset(buf, 0xEE, sizeof buf);
    size_t n = MODBUS_TCP_OPS.tx(c, buf, cap, &ts, NULL);
    size_t left = m->rsp_bytes - (m->rsp_n ? m->out_n : 0);
    CHECK(n == (cap < left ? cap : left));
    CHECK(buf[n] == 0xEE); /* nothing past what was reported */
    if (n == 0)
        return;
    CHECK(ts == m->rsp[0].t);
    for (size_t i = 0; i < n; i++) {
        CHECK(m->rsp_n > 0);
        m->out[m->out_n++] = buf[i];
        if (m->out_n == 4)
            CHECK(m->out[2] == 0 && m->out[3] == 0);
        if (m->out_n < 6)
            continue;
        size_t len = (size_t)m->out[4] << 8 | m->out[5];
        CHECK(len >= 2 && len <= 254);
        if (m->out_n < 6 + len)
            continue;
        const adu_t *a = &m->rsp[0];
        CHECK((m->out[0] << 8 | m->out[1]) == a->tid && m->out[6] == a->unit);
        CHECK(len - 1 == a->len && memcmp(m->out + 7, a->pdu, a->len) == 0);
        m->rsp_bytes -= m->out_n;
        m->out_n = 0;
        m->rsp_n--;
        memmove(m->rsp, m->rsp + 1, m->rsp_n * sizeof m->rsp[0]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t timeouts[8] = {
        0,
        1,
        1000,
        VTIME_NS_PER_MS,
        100 * VTIME_NS_PER_MS,
        VTIME_NS_PER_S,
        UINT64_MAX,
        UINT64_MAX / 2,
    };
    if (size < 1)
        return 0;
    /* Bad arguments are refused, not taken in. */
    {
        modbus_tcp_t z;
        modbus_tcp_init(&z, NULL);
        uint8_t big[MODBUS_TCP_PDU_MAX + 1] = {0x03};
        CHECK(!modbus_tcp_reply(&z, 1, 1, big, 0, 0));
        CHECK(!modbus_tcp_reply(&z, 1, 1, big, sizeof big, 0));
        CHECK(!modbus_tcp_reply(&z, 1, 1, NULL, 1, 0));
        CHECK(modbus_tcp_to_rtu(1, big, sizeof big, big, sizeof big) == 0);
        CHECK(z.tx_len == 0 && z.stats.replies == 0);
    }
    model_t *m = calloc(1, sizeof *m);
    modbus_tcp_t *c = malloc(sizeof *c);
    if (!m || !c)
        abort();
    memset(c, 0xA5, sizeof *c); /* init must not rely on zeroed memory */
    m->in = data;
    m->in_n = size;
    m->in_pos = 1;
    modbus_tcp_desc_t d = {.partial_timeout_ns = timeouts[data[0] & 7]};
    modbus_tcp_init(c, (data[0] & 8) ? NULL : &d);
    m->timeout = (data[0] & 8) || d.partial_timeout_ns == 0 ? MODBUS_TCP_PARTIAL_TIMEOUT_DEFAULT_NS
                                                            : d.partial_timeout_ns;
    m->t = (uint64_t)(data[0] >> 4) << 20;
    m->step = 0;
    line_settings_t ls = {1, 0};
    MODBUS_TCP_OPS.settings(c, &ls);
    CHECK(ls.bps == 0 && ls.parity == LINE_OPS_PARITY_NONE);
    check_state(m, c);

    while (m->in_pos < m->in_n) {
        uint8_t op = next(m);
        switch (op >> 5) {
        case 0:
        case 1:
        case 2: {
            size_t k = (size_t)(op & 0x1F) + 1;
            for (size_t i = 0; i < k && m->sock_n < sizeof m->sock; i++)
                m->sock[m->sock_n++] = next(m);
            offer(m, c);
            break;
        }
        case 3:
            time_to(m, add_sat(m->t, dt(next(m))));
            m->step = dt(next(m));
            break;
        case 4:
            take(m, c, (op & 0x1Fu) + 1);
            break;
        case 5:
            drain(m, c, (op & 0x1F) == 0x1F ? MODBUS_TCP_TX_MAX : (size_t)(op & 0x1F));
            break;
        case 6: {
            time_to(m, add_sat(m->t, dt(next(m))));
            uint64_t dl = modbus_tcp_deadline(c);
            if ((op & 1) && dl != VTIME_NEVER)
                time_to(m, dl);
            model_advance(m, m->t);
            MODBUS_TCP_OPS.advance(c, m->t);
            break;
        }
        default: {
            uint64_t dl = modbus_tcp_deadline(c);
            if (dl == VTIME_NEVER || dl > VTIME_NEVER - 1 || dl <= m->t)
                break;
            time_to(m, dl - 1);
            model_advance(m, m->t);
            modbus_tcp_advance(c, m->t);
            CHECK(modbus_tcp_error(c) == MODBUS_TCP_OK);
            check_state(m, c);
            time_to(m, dl);
            model_advance(m, m->t);
            modbus_tcp_advance(c, m->t);
            CHECK(modbus_tcp_error(c) == MODBUS_TCP_E_STALLED);
            break;
        }
        }
        check_state(m, c);
        CHECK(c->stats.replies >= c->stats.exceptions);
    }
    /* Everything queued comes out whole. */
    drain(m, c, MODBUS_TCP_TX_MAX);
    CHECK(m->rsp_n == 0 && m->out_n == 0);
    CHECK(modbus_tcp_tx(c, (uint8_t[1]){0}, 1, NULL) == 0);
    free(c);
    free(m);
    return 0;
}
