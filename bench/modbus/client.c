/* The benchmark's client: a libmodbus RTU master reading 2 registers (0x5002,
 * U L1 as Float ABCD) from slave 1, one request at a time, as fast as the
 * server answers. Prints the requests per second and the latency
 * percentiles of every request (clock_gettime around modbus_read_registers).
 *
 *   client PORT BAUD SECONDS MAX_REQUESTS [PARITY]
 *
 * Every reply is checked: U L1 must read 230 V within 0.5 V (every server of
 * bench_modbus.sh serves 3 x 230 V); a wrong value counts as an error.
 *
 * Output, one line:
 *   "requests N seconds S rps R p50_us A p99_us B max_us C errors E value V"
 * Exit status 0 only when at least one request was measured, none failed and
 * every value was right.
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

/* Float ABCD, decoded here: libmodbus's own float helpers changed byte
 * orders between 3.1.6 and 3.1.8 (as in tcp_client.c). */
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

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT BAUD SECONDS MAX_REQUESTS [N|E|O]\n", argv[0]);
        return 2;
    }
    double secs = atof(argv[3]);
    long max = atol(argv[4]);
    char parity = argc > 5 ? argv[5][0] : 'N';
    modbus_t *ctx = modbus_new_rtu(argv[1], atoi(argv[2]), parity, 8, 1);
    if (!ctx || modbus_connect(ctx) != 0) {
        fprintf(stderr, "client: %s: %s\n", argv[1], modbus_strerror(errno));
        return 1;
    }
    modbus_set_slave(ctx, 1);
    modbus_set_response_timeout(ctx, 1, 0);
    double *lat = malloc((size_t)max * sizeof *lat);
    if (!lat)
        return 1;
    uint16_t r[2] = {0, 0};
    long n = 0, errors = 0, wrong = 0;
    /* Warm-up: the server may still be starting, and the twin's measurement
     * registers read 0 until its first 1 s window is out. */
    int warm = 0;
    for (int i = 0; i < 250 && !warm; i++) {
        warm = modbus_read_registers(ctx, 0x5002, 2, r) == 2 && right(r);
        if (!warm) {
            modbus_flush(ctx);
            nanosleep(&(struct timespec){0, 20000000L}, NULL);
        }
    }
    if (!warm) {
        fprintf(stderr, "client: no right reply to 03 0x5002 x2 in 5 s (last read %g V)\n",
                get_float_abcd(r));
        return 1;
    }
    double start = now(), t = start;
    while (n < max && t - start < secs) {
        double t0 = now();
        int k = modbus_read_registers(ctx, 0x5002, 2, r);
        t = now();
        if (k != 2) {
            if (errors++ == 0)
                fprintf(stderr, "client: request %ld: %s\n", n + errors, modbus_strerror(errno));
            modbus_flush(ctx);
            continue;
        }
        if (!right(r)) {
            if (wrong++ == 0)
                fprintf(stderr, "client: request %ld read %g V\n", n + errors + 1,
                        get_float_abcd(r));
            errors++;
            continue;
        }
        lat[n++] = t - t0;
    }
    double span = t - start;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("requests %ld seconds %.3f rps %.0f p50_us %.1f p99_us %.1f max_us %.1f errors %ld "
           "value %g\n",
           n, span, span > 0 ? n / span : 0, n ? lat[n / 2] * 1e6 : 0,
           n ? lat[(size_t)(n * 0.99)] * 1e6 : 0, n ? lat[n - 1] * 1e6 : 0, errors,
           get_float_abcd(r));
    free(lat);
    modbus_close(ctx);
    modbus_free(ctx);
    return n > 0 && errors == 0 ? 0 : 1;
}
