/* The Modbus TCP benchmark's client: a libmodbus TCP client reading 2
 * registers (0x5002, U L1 as Float ABCD) from unit 1, one request at a time,
 * as fast as the server answers. Prints the requests per second and the
 * latency percentiles of every request (clock_gettime around
 * modbus_read_registers), and checks every value read.
 *
 *   tcp_client HOST PORT SECONDS MAX_REQUESTS [UNIT]
 *
 * Before measuring it connects (retrying for up to 5 s: a server may still be
 * starting) and reads until the value is right (up to 5 s: the twin's
 * measurement registers read 0 until its first 1 s window is out). Then every
 * reply must be 230 V within 0.5 V (the benchmark's scenario: 230 V, 10 A,
 * PF 1); a wrong value counts as an error.
 *
 * Output, one line:
 *   "requests N seconds S rps R p50_us A p99_us B max_us C errors E value V"
 * V is the first float read in the measurement (Float ABCD). Exit status 0 only when at
 * least one request was measured, none failed and every value was right.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WANT_V 230.0
#define WANT_TOL 0.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Float ABCD (high word first, each word big-endian as libmodbus hands it
 * over), decoded here with shifts and memcpy: libmodbus's own float helpers
 * changed byte orders between 3.1.6 and 3.1.8 (stephane/libmodbus#611, #665). */
static float get_float_abcd(const uint16_t *w)
{
    uint32_t u = (uint32_t)w[0] << 16 | w[1];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int right(const uint16_t *r)
{
    return fabs(get_float_abcd(r) - WANT_V) <= WANT_TOL;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s HOST PORT SECONDS MAX_REQUESTS [UNIT]\n", argv[0]);
        return 2;
    }
    double secs = atof(argv[3]);
    long max = atol(argv[4]);
    int unit = argc > 5 ? atoi(argv[5]) : 1;
    if (max < 1 || secs <= 0) {
        fprintf(stderr, "tcp_client: SECONDS and MAX_REQUESTS must be positive\n");
        return 2;
    }
    modbus_t *ctx = modbus_new_tcp(argv[1], atoi(argv[2]));
    if (!ctx) {
        fprintf(stderr, "tcp_client: %s\n", modbus_strerror(errno));
        return 1;
    }
    int connected = 0;
    for (double t0 = now(); !connected && now() - t0 < 5;) {
        connected = modbus_connect(ctx) == 0;
        if (!connected)
            nap_ms(20);
    }
    if (!connected) {
        fprintf(stderr, "tcp_client: connect %s:%s: %s\n", argv[1], argv[2],
                modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }
    modbus_set_slave(ctx, unit);
    modbus_set_response_timeout(ctx, 1, 0);
    double *lat = malloc((size_t)max * sizeof *lat);
    if (!lat)
        return 1;
    uint16_t r[2] = {0, 0}, first[2] = {0, 0};

    /* Warm-up: until one read gives the right value. */
    int warm = 0, got = 0;
    for (double t0 = now(); !warm && now() - t0 < 5;) {
        int k = modbus_read_registers(ctx, 0x5002, 2, r);
        got |= k == 2;
        warm = k == 2 && right(r);
        if (!warm)
            nap_ms(20);
    }
    if (!warm) {
        if (got)
            fprintf(stderr, "tcp_client: 0x5002 reads %g, not %g V within %g\n", get_float_abcd(r),
                    WANT_V, WANT_TOL);
        else
            fprintf(stderr, "tcp_client: no reply to 03 0x5002 x2 from unit %d: %s\n", unit,
                    modbus_strerror(errno));
        free(lat);
        modbus_close(ctx);
        modbus_free(ctx);
        return 1;
    }

    long n = 0, errors = 0, wrong = 0;
    double start = now(), t = start;
    while (n < max && t - start < secs) {
        double t0 = now();
        int k = modbus_read_registers(ctx, 0x5002, 2, r);
        t = now();
        if (k != 2) {
            if (errors++ == 0)
                fprintf(stderr, "tcp_client: request %ld: %s\n", n + errors,
                        modbus_strerror(errno));
            modbus_flush(ctx);
            continue;
        }
        if (n == 0) {
            first[0] = r[0];
            first[1] = r[1];
        }
        if (!right(r)) {
            if (wrong++ == 0)
                fprintf(stderr, "tcp_client: request %ld read %g V\n", n + errors + 1,
                        get_float_abcd(r));
            errors++;
            continue;
        }
        lat[n++] = t - t0;
    }
    double span = t - start;
    if (errors)
        fprintf(stderr, "tcp_client: %ld of %ld requests failed (%ld of them read a wrong value)\n",
                errors, n + errors, wrong);
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("requests %ld seconds %.3f rps %.0f p50_us %.1f p99_us %.1f max_us %.1f errors %ld "
           "value %g\n",
           n, span, span > 0 ? n / span : 0, n ? lat[n / 2] * 1e6 : 0,
           n ? lat[(size_t)(n * 0.99)] * 1e6 : 0, n ? lat[n - 1] * 1e6 : 0, errors,
           get_float_abcd(first));
    free(lat);
    modbus_close(ctx);
    modbus_free(ctx);
    return n > 0 && errors == 0 && fabs(get_float_abcd(first) - WANT_V) <= WANT_TOL ? 0 : 1;
}
