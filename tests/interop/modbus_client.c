/* A Modbus RTU master on libmodbus, run against the twin by test_libmodbus.sh:
 * reads (03, 04), writes (06, 16 with the manual's own 400D frame), the
 * exceptions 01, 02 and 03, a broadcast (carried out, no reply), and an ID
 * change followed by a read at the new ID (A3.2, A3.3; Modbus over Serial
 * Line V1.02; Modbus Application Protocol V1.1b3).
 *
 *   modbus_client PORT T0 TL
 *
 * PORT is the twin's pty (9600 8E1, ID 1, factory settings), T0 the wall
 * time (CLOCK_REALTIME, seconds) before the twin started and TL the time its
 * port appeared: they bound the energy it can have counted. The scenario is
 * 3 x 230 V x 10 A at PF 1, 50 Hz. Expected values are computed here.
 *
 * Prints "ok - what" or "not ok - what" per check (the script numbers them)
 * and exits 0.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;

static void check(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf(cond ? "ok - " : "not ok - ");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    failures += !cond;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int near(double got, double want, double tol)
{
    return fabs(got - want) <= tol;
}

/* A raw request (address + PDU; libmodbus adds the CRC); the whole reply,
 * CRC included, in rsp. Returns its length or -1. */
static int raw(modbus_t *ctx, const uint8_t *req, int len, uint8_t *rsp)
{
    if (modbus_send_raw_request(ctx, req, len) < 0)
        return -1;
    return modbus_receive_confirmation(ctx, rsp);
}

/* CRC-16/MODBUS (Serial Line V1.02, 6.2.2), to state the expected replies. */
static uint16_t crc16(const uint8_t *p, int n)
{
    uint16_t crc = 0xFFFF;
    for (int i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* Expected reply = body + CRC (low byte first). */
static int reply_is(const uint8_t *rsp, int len, const uint8_t *body, int n)
{
    uint16_t crc = crc16(body, n);
    return len == n + 2 && memcmp(rsp, body, (size_t)n) == 0 && rsp[n] == (crc & 0xFF) &&
           rsp[n + 1] == (crc >> 8);
}

/* Nothing arrives on the line for `ms` (a broadcast has no reply). */
static int silent(modbus_t *ctx, int ms)
{
    struct pollfd p = {.fd = modbus_get_socket(ctx), .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT T0 TL\n", argv[0]);
        return 2;
    }
    double t0 = atof(argv[2]), tl = atof(argv[3]);
    modbus_t *ctx = modbus_new_rtu(argv[1], 9600, 'E', 8, 1); /* A3.1 factory settings */
    if (!ctx || modbus_connect(ctx) != 0) {
        check(0, "libmodbus opens %s: %s", argv[1], modbus_strerror(errno));
        return 1;
    }
    modbus_set_slave(ctx, 1);
    modbus_set_response_timeout(ctx, 1, 0);
    uint16_t r[125];
    uint8_t rsp[MODBUS_RTU_MAX_ADU_LENGTH];

    /* --- Reads: 03 and 04 -------------------------------------------------- */
    const double U = 230.0, I = 10.0, P = U * I / 1000.0; /* per phase, PF 1 */
    int n = modbus_read_registers(ctx, 0x5000, 0x38, r);
    check(n == 0x38, "03 reads 0x5000 x56 (%d)", n);
    if (n == 0x38) {
        float u1 = modbus_get_float_abcd(&r[2]), f = modbus_get_float_abcd(&r[8]);
        float i1 = modbus_get_float_abcd(&r[0x0C]), pt = modbus_get_float_abcd(&r[0x12]);
        float p2 = modbus_get_float_abcd(&r[0x16]), q = modbus_get_float_abcd(&r[0x1A]);
        float s3 = modbus_get_float_abcd(&r[0x28]), pf = modbus_get_float_abcd(&r[0x2A]);
        float ull = modbus_get_float_abcd(&r[0x32]);
        check(near(u1, U, 0.01) && near(f, 50.0, 0.001) && near(i1, I, 0.001),
              "U L1 %.3f V, f %.4f Hz, I L1 %.4f A (230, 50, 10)", u1, f, i1);
        check(near(pt, 3 * P, 0.0015) && near(p2, P, 0.0005) && near(q, 0, 0.0015) &&
                  near(s3, P, 0.0005) && near(pf, 1, 0.001),
              "P %.4f kW, P L2 %.4f, Q %.4f kvar, S L3 %.4f kVA, PF %.4f (6.9, 2.3, 0, 2.3, 1)", pt,
              p2, q, s3, pf);
        check(near(ull, U * sqrt(3.0), 0.02), "U L1-L2 %.3f V (230 x sqrt 3 = %.3f)", ull,
              U * sqrt(3.0));
    }
    n = modbus_read_input_registers(ctx, 0x5012, 2, r);
    check(n == 2 && near(modbus_get_float_abcd(r), 3 * P, 0.0015),
          "04 reads 0x5012 (total P) as 03 does (decision 1)");

    /* Energy: 75 registers from 0x6000 across the tariff word. */
    double tb = wall();
    n = modbus_read_registers(ctx, 0x6000, 75, r);
    double ta = wall() - (5 + 2 * 75) * 11.0 / 9600; /* values taken before the reply left */
    check(n == 75, "03 reads 0x6000 x75 (%d)", n);
    if (n == 75) {
        double pk = 3 * P, cyc = pk * 0.02 / 3600;
        double lo = pk * (tb - tl - 0.05) / 3600 - cyc, hi = pk * (ta - t0 + 0.005) / 3600 + cyc;
        double e = modbus_get_float_abcd(&r[0]), t1 = modbus_get_float_abcd(&r[2]);
        double sum = modbus_get_float_abcd(&r[6]) + modbus_get_float_abcd(&r[8]) +
                     modbus_get_float_abcd(&r[10]);
        check(e >= lo && e <= hi && t1 == e && near(sum, e, 2e-6),
              "energy %.7f kWh in [%.7f, %.7f] (6.9 kW x time), T1 = total, L1+L2+L3 = total", e,
              lo, hi);
        check(r[0x48] == 1, "0x6048 tariff 1 (%u)", r[0x48]);
    }

    /* --- 06: one register (A3.3: 01 06 4010 0025, LCD 25 s) ---------------- */
    n = modbus_write_register(ctx, 0x4010, 0x0025);
    check(n == 1, "06 writes 0x4010 = 0x0025 (LCD cycle 25 s)");
    n = modbus_read_registers(ctx, 0x4010, 1, r);
    check(n == 1 && r[0] == 0x0025, "0x4010 reads 0x%04X (0x0025)", n == 1 ? r[0] : 0);
    {
        const uint8_t req[] = {0x01, 0x06, 0x40, 0x0F, 0x00, 0x04}; /* A3.3: C-04 */
        n = raw(ctx, req, sizeof req, rsp);
        check(reply_is(rsp, n, req, sizeof req), "06 raw 01 06 400F 0004: the reply echoes it");
    }

    /* --- 16: the manual's own frame (A3.3: 01 10 400D 0002 04 41 20 00 00) --- */
    {
        const uint8_t req[] = {0x01, 0x10, 0x40, 0x0D, 0x00, 0x02, 0x04, 0x41, 0x20, 0x00, 0x00};
        const uint8_t want[] = {0x01, 0x10, 0x40, 0x0D, 0x00, 0x02};
        n = raw(ctx, req, sizeof req, rsp);
        check(reply_is(rsp, n, want, sizeof want),
              "16 raw 01 10 400D 0002 04 41200000: reply 01 10 400D 0002");
        n = modbus_read_registers(ctx, 0x400D, 2, r);
        check(n == 2 && modbus_get_float_abcd(r) == 10.0f, "0x400D reads %g imp/kWh (10)",
              n == 2 ? modbus_get_float_abcd(r) : -1.0);
    }
    {
        uint16_t zero[2] = {0, 0}; /* A3.3: 01 10 6049 0002 04 0000 0000 resets the day counter */
        n = modbus_write_registers(ctx, 0x6049, 2, zero);
        int m = modbus_read_registers(ctx, 0x6049, 2, r);
        float day = m == 2 ? modbus_get_float_abcd(r) : -1;
        /* Since the reset at most the time of one read has passed: 6.9 kW x 0.1 s. */
        check(n == 2 && m == 2 && day >= 0 && day < 6.9 * 0.1 / 3600,
              "16 resets the day counter 0x6049 (%g kWh after)", day);
    }

    /* --- Exceptions ------------------------------------------------------- */
    errno = 0;
    n = modbus_read_bits(ctx, 0, 1, (uint8_t *)r); /* 01 read coils: not a function of the meter */
    check(n == -1 && errno == EMBXILFUN, "01 (read coils): exception 01 (%s)",
          modbus_strerror(errno));
    {
        const uint8_t req[] = {0x01, 0x2B, 0x0E, 0x01, 0x00}; /* 43/14 device identification */
        const uint8_t want[] = {0x01, 0xAB, 0x01};
        n = raw(ctx, req, sizeof req, rsp);
        check(reply_is(rsp, n, want, sizeof want), "43/14 raw: reply 01 AB 01 (exception 01)");
    }
    errno = 0;
    n = modbus_read_registers(ctx, 0x4000, 53, r); /* one past 0x4033 */
    check(n == -1 && errno == EMBXILADD, "0x4000 x53: exception 02 (%s)", modbus_strerror(errno));
    errno = 0;
    n = modbus_read_registers(ctx, 0x7000, 2, r);
    check(n == -1 && errno == EMBXILADD, "0x7000: exception 02 (%s)", modbus_strerror(errno));
    errno = 0;
    n = modbus_read_registers(ctx, 0x5036, 4, r); /* spans 0x5037/0x5038: out of the block */
    check(n == -1 && errno == EMBXILADD, "0x5036 x4: exception 02 (%s)", modbus_strerror(errno));
    errno = 0;
    n = modbus_write_register(ctx, 0x5000, 1); /* a measurement is not writable */
    check(n == -1 && errno == EMBXILADD, "06 to 0x5000: exception 02 (%s)", modbus_strerror(errno));
    errno = 0;
    n = modbus_write_register(ctx, 0x4003, 248); /* A3.3: ID 1-247 */
    check(n == -1 && errno == EMBXILVAL, "06 0x4003 = 248: exception 03 (%s)",
          modbus_strerror(errno));
    errno = 0;
    n = modbus_write_register(ctx, 0x6048, 5); /* tariff 1-4 */
    check(n == -1 && errno == EMBXILVAL, "06 0x6048 = 5: exception 03 (%s)",
          modbus_strerror(errno));
    {
        const uint8_t req[] = {0x01, 0x03, 0x50, 0x00, 0x00, 0x00}; /* count 0 */
        const uint8_t want[] = {0x01, 0x83, 0x03};
        n = raw(ctx, req, sizeof req, rsp);
        check(reply_is(rsp, n, want, sizeof want), "03 count 0 raw: reply 01 83 03 (exception 03)");
        const uint8_t req2[] = {0x01, 0x03, 0x60, 0x00, 0x00, 0x7E}; /* count 126 */
        n = raw(ctx, req2, sizeof req2, rsp);
        check(reply_is(rsp, n, want, sizeof want),
              "03 count 126 raw: reply 01 83 03 (exception 03)");
    }
    n = modbus_read_registers(ctx, 0x4010, 1, r);
    check(n == 1 && r[0] == 0x0025, "refused writes changed nothing (0x4010 still 0x0025)");

    /* --- Broadcast: carried out, never answered (Serial Line 2.1) --------- */
    /* libmodbus 3.1.6 waits for a reply to a broadcast too (and times out),
     * so the frames go raw: sent, then the line is watched. A reply would
     * come within request + turnaround + reply, about 30 ms at 9600. */
    {
        const uint8_t req[] = {0x00, 0x06, 0x40, 0x10, 0x00, 0x30};
        n = modbus_send_raw_request(ctx, req, sizeof req);
        check(n == 8 && silent(ctx, 200), "broadcast 06 0x4010 = 0x0030: no reply in 200 ms");
        const uint8_t bad[] = {0x00, 0x10, 0x40, 0x10, 0x00,
                               0x01, 0x02, 0x00, 0x99}; /* LCD 99 s: 1-30 */
        n = modbus_send_raw_request(ctx, bad, sizeof bad);
        check(n == 11 && silent(ctx, 200),
              "broadcast 16 with a bad value: no reply, not even an exception");
        const uint8_t rd[] = {0x00, 0x03, 0x40, 0x10, 0x00, 0x01};
        n = modbus_send_raw_request(ctx, rd, sizeof rd);
        check(n == 8 && silent(ctx, 200), "broadcast 03: ignored, no reply");
    }
    modbus_set_slave(ctx, 1);
    n = modbus_read_registers(ctx, 0x4010, 1, r);
    check(n == 1 && r[0] == 0x0030, "the broadcast write was carried out (0x4010 = 0x%04X)",
          n == 1 ? r[0] : 0);

    /* --- ID change: the reply comes from the old ID, then the new one ------ */
    n = modbus_write_register(ctx, 0x4003, 10); /* A3.3: 01 06 4003 000A */
    check(n == 1, "06 0x4003 = 10 answered by ID 1");
    modbus_set_slave(ctx, 10);
    n = modbus_read_registers(ctx, 0x4003, 1, r);
    check(n == 1 && r[0] == 10, "read at the new ID 10: 0x4003 = %d", n == 1 ? r[0] : -1);
    n = modbus_read_registers(ctx, 0x5002, 2, r);
    check(n == 2 && near(modbus_get_float_abcd(r), U, 0.01), "read at ID 10: U L1 230 V");
    modbus_set_slave(ctx, 1);
    modbus_set_response_timeout(ctx, 0, 300000);
    errno = 0;
    n = modbus_read_registers(ctx, 0x4003, 1, r);
    check(n == -1 && errno == ETIMEDOUT, "ID 1 no longer answers (%s)", modbus_strerror(errno));
    modbus_flush(ctx);

    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
