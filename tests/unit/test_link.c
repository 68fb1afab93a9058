/* link: a client's bytes onto the line, at most LINK_RX_BURST characters
 * ahead of now (receiver overrun, docs/decisions.md), and replies to a
 * client that does not read. A real meter behind a socketpair; virtual time
 * is given by the test, so every instant is exact.
 *
 * Expected times from the manual: 9600 bit/s 8E1 (A3.1, the defaults) is
 * 11 bits a character; the reply starts the turnaround after the request's
 * last stop bit (A3.1 reply delay; 10 ms here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus.h"
#include "link.h"
#include "meter.h"

#define MS 1000000ull
#define CH ((11ull * 1000000000ull + 4800) / 9600) /* one 8E1 character at 9600 */
#define TURNAROUND (10 * MS)

typedef struct {
    meter_t m;
    meter_t *mp;
    bus_t bus;
    link_t link;
    int client; /* the client's end of the socketpair */
    char *logbuf;
    size_t loglen;
    FILE *log;
} fix_t;

static metrology_sample_t zeros[800];

/* bus.h's hook: the meter runs (on zero samples) up to `now_ns`. */
static void run_to(void *ctx, bus_t *b, uint64_t now_ns, const bool *lag)
{
    (void)b;
    (void)lag; /* one meter: always brought up */
    fix_t *f = ctx;
    uint64_t target = (now_ns + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK;
    uint64_t t = meter_now_ns(&f->m) / VTIME_NS_PER_TICK;
    while (t < target) {
        size_t n = target - t < 800 ? (size_t)(target - t) : 800;
        meter_exec(&f->m, zeros, n);
        t += n;
    }
}

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof *f);
    meter_init(&f->m, &(meter_desc_t){.in_service = true, .modbus = {.turnaround_ns = TURNAROUND}});
    f->mp = &f->m;
    bus_init(&f->bus, METER_LINE_MODBUS, &f->mp, 1, false);
    f->bus.sync = run_to;
    f->bus.sync_ctx = f;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    link_attach_socket(&f->link, "modbus", sv[0], "client", &f->bus, false);
    f->client = sv[1];
    f->log = open_memstream(&f->logbuf, &f->loglen);
    f->link.log = f->log;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    link_close(&f->link);
    close(f->client);
    fclose(f->log);
    free(f->logbuf);
    free(f);
    return 0;
}

static size_t request(uint8_t *f)
{
    static const uint8_t r[8] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02, 0x00, 0x00};
    memcpy(f, r, 8);
    uint16_t crc = 0xFFFF;
    for (int i = 0; i < 6; i++) {
        crc ^= f[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    f[6] = (uint8_t)(crc & 0xFF);
    f[7] = (uint8_t)(crc >> 8);
    return 8;
}

/* The client writes `n` bytes; the link reads them at `now`. */
static void client_sends(fix_t *f, const uint8_t *b, size_t n, uint64_t now)
{
    assert_int_equal(write(f->client, b, n), (ssize_t)n);
    assert_int_equal(link_receive(&f->link, now, NULL), (long)n);
}

/* Runs the meter until its reply is collected (or `until`); its start, or
 * VTIME_NEVER when none came. */
static uint64_t reply_start(fix_t *f, uint64_t until)
{
    for (;;) {
        uint64_t d = bus_deadline(&f->bus);
        if (d > until)
            return VTIME_NEVER;
        run_to(f, &f->bus, d, NULL);
        bus_collect(&f->bus);
        if (f->bus.n_replies)
            return f->bus.replies[0].t_start_ns;
    }
}

static void test_a_frame_at_once_is_on_time(void **state)
{
    fix_t *f = *state;
    uint8_t req[8];
    uint64_t t0 = 3 * MS;
    client_sends(f, req, request(req), t0);
    assert_int_equal(f->link.rx_end_ns, t0 + 8 * CH);
    assert_int_equal(reply_start(f, VTIME_NEVER), t0 + 8 * CH + TURNAROUND);
    /* The reply reaches the client as its characters end. */
    uint64_t end = t0 + 8 * CH + TURNAROUND + 9 * CH;
    assert_int_equal(link_transmit(&f->link, end - 1), end);
    link_transmit(&f->link, end);
    uint8_t got[16];
    assert_int_equal(read(f->client, got, sizeof got), 9);
    assert_int_equal(got[1], 0x03);
    assert_int_equal(f->link.overruns, 0);
}

/* Every byte of a flood beyond LINK_RX_BURST characters ahead is dropped,
 * counted, and told once when the client pauses; the meter then answers the
 * next request in its normal time. */
static void test_flood_overruns_and_the_next_request_is_answered(void **state)
{
    fix_t *f = *state;
    uint8_t junk[512];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    uint64_t now = 0;
    uint64_t sent = 0;
    for (int i = 0; i < 2000; i++) { /* 1 MB in 20 ms: ~100 000 times 9600 bit/s */
        client_sends(f, junk, sizeof junk, now);
        sent += sizeof junk;
        /* Never more than the burst (and the flagged character) ahead. */
        assert_true(f->link.rx_end_ns <= now + (LINK_RX_BURST + 1) * CH);
        now += 10000;
    }
    uint64_t carried = LINK_RX_BURST + now / CH; /* what the line could carry since t = 0 */
    assert_true(f->link.overruns >= sent - carried - 1);
    assert_true(f->link.overruns <= sent - LINK_RX_BURST);
    assert_int_equal(f->link.overrun_bursts, 1);
    assert_true(f->link.overrun);
    /* Nothing told while the burst goes on. */
    fflush(f->log);
    assert_int_equal(f->loglen, 0);
    /* The client pauses: the burst ends, told once with its count. */
    uint64_t last = now - 10000;
    link_transmit(&f->link, last + LINK_QUIET_CHARS * CH - 1);
    assert_true(f->link.overrun);
    link_transmit(&f->link, last + LINK_QUIET_CHARS * CH);
    assert_false(f->link.overrun);
    fflush(f->log);
    char want[128];
    snprintf(want, sizeof want, "modbus client: receiver overrun: %llu bytes dropped",
             (unsigned long long)f->link.overruns);
    assert_non_null(strstr(f->logbuf, want));
    /* Whatever the meter made of the garbage, it gives no reply. */
    assert_int_equal(reply_start(f, f->link.rx_end_ns + 100 * MS), VTIME_NEVER);
    /* The next request, once the line is quiet, in its normal time. */
    uint64_t t1 = f->link.rx_end_ns + 200 * MS;
    uint8_t req[8];
    client_sends(f, req, request(req), t1);
    assert_int_equal(reply_start(f, VTIME_NEVER), t1 + 8 * CH + TURNAROUND);
}

/* A request sent soon after a flood, while the flood's characters still run
 * on the line: the client's pause is kept as silence on the line, so the
 * request is a frame of its own, answered once the line has carried the
 * rest. One that would not fit in the burst is lost as well. */
static void test_a_pause_is_silence_on_the_line(void **state)
{
    fix_t *f = *state;
    uint8_t junk[300];
    memset(junk, 0x55, sizeof junk);
    client_sends(f, junk, sizeof junk, 0);
    assert_true(f->link.overrun);
    uint64_t lead_end = f->link.rx_end_ns; /* the burst and the flagged character */
    assert_int_equal(lead_end, (LINK_RX_BURST + 1) * CH);
    assert_int_equal(f->link.overruns, sizeof junk - LINK_RX_BURST);
    uint64_t q = LINK_QUIET_CHARS * CH;
    uint8_t req[8];
    /* Paused for q, but the line is still ~0.3 s ahead: no room, lost. */
    client_sends(f, req, request(req), q);
    assert_true(f->link.overrun);
    assert_int_equal(f->link.overrun_bursts, 2);
    /* Its first character, flagged, after the silence the client kept. */
    assert_int_equal(f->link.rx_end_ns, lead_end + q + CH);
    lead_end += q + CH;
    /* Paused again, once there is room: silence, then the request. */
    uint64_t t = 100 * CH;
    client_sends(f, req, request(req), t);
    assert_false(f->link.overrun);
    assert_int_equal(f->link.rx_end_ns, lead_end + q + 8 * CH);
    assert_int_equal(reply_start(f, VTIME_NEVER), lead_end + q + 8 * CH + TURNAROUND);
}

/* Bytes within the burst are never dropped, however they are split. */
static void test_a_long_frame_in_pieces_passes(void **state)
{
    fix_t *f = *state;
    uint8_t b[LINK_FRAME_MAX];
    memset(b, 0xAA, sizeof b);
    for (size_t i = 0; i < sizeof b; i += 7)
        client_sends(f, b + i, sizeof b - i < 7 ? sizeof b - i : 7, i * 1000);
    assert_int_equal(f->link.overruns, 0);
    assert_false(f->link.overrun);
}

/* A client that does not read: once its side of the port is full, what it
 * does not take is dropped, counted and told once; the link does not wake
 * per character to write into the full pipe, and POLLOUT ends the stall. */
static void test_a_client_that_does_not_read(void **state)
{
    fix_t *f = *state;
    int small = 4096;
    setsockopt(f->link.port.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    uint8_t junk[4096];
    memset(junk, 0, sizeof junk);
    while (write(f->link.port.fd, junk, sizeof junk) > 0) /* the kernel's buffer, full */
        ;
    uint64_t t = 0;
    uint64_t blocked_wakes = 0;
    for (int k = 0; k < 40; k++) {
        uint8_t req[64];
        /* A 125-register read: a 255-byte reply. */
        memcpy(req, (uint8_t[]){0x01, 0x03, 0x60, 0x00, 0x00, 0x7D}, 6);
        uint16_t crc = 0xFFFF;
        for (int i = 0; i < 6; i++) {
            crc ^= req[i];
            for (int b = 0; b < 8; b++)
                crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
        }
        req[6] = (uint8_t)crc;
        req[7] = (uint8_t)(crc >> 8);
        client_sends(f, req, 8, t);
        uint64_t s = reply_start(f, VTIME_NEVER);
        assert_int_not_equal(s, VTIME_NEVER);
        uint64_t end = s + 255 * CH;
        /* Mid-reply: stalled, so no per-character deadline. */
        uint64_t next = link_transmit(&f->link, s + 10 * CH);
        if (link_blocked(&f->link)) {
            assert_int_equal(next, VTIME_NEVER);
            blocked_wakes++;
        }
        link_transmit(&f->link, end);
        bus_clear(&f->bus);
        t = end + 20 * MS;
    }
    assert_int_equal(blocked_wakes, 40);
    assert_int_equal(f->link.overflow, 40 * 255); /* not one byte was taken */
    fflush(f->log);
    char *first = strstr(f->logbuf, "the client does not read its replies");
    assert_non_null(first);
    assert_null(strstr(first + 1, "the client does not read its replies")); /* told once */
    /* The client reads everything: POLLOUT ends the stall, told with the count. */
    char sink[65536];
    while (read(f->client, sink, sizeof sink) > 0)
        ;
    link_writable(&f->link, t);
    assert_false(link_blocked(&f->link));
    fflush(f->log);
    assert_non_null(strstr(f->logbuf, "10200 reply bytes the client did not read were dropped"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_frame_at_once_is_on_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_overruns_and_the_next_request_is_answered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_pause_is_silence_on_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_long_frame_in_pieces_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_client_that_does_not_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
