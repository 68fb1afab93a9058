/* The benchmark's client: a libmodbus RTU master reading 2 registers (0x5002,
 * U L1 as Float ABCD) from slave 1, one request at a time, as fast as the
 * server answers. Prints the requests per second and the latency
 * percentiles of every request (clock_gettime around modbus_read_registers).
 *
 *   client PORT BAUD SECONDS MAX_REQUESTS [PARITY]
 *
 * Output, one line: "requests N seconds S rps R p50_us A p99_us B max_us C errors E"
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
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
    uint16_t r[2];
    long n = 0, errors = 0;
    /* One warm-up request: the server may still be starting. */
    for (int i = 0; i < 50 && modbus_read_registers(ctx, 0x5002, 2, r) != 2; i++)
        modbus_flush(ctx);
    double start = now(), t = start;
    while (n < max && t - start < secs) {
        double t0 = now();
        int k = modbus_read_registers(ctx, 0x5002, 2, r);
        t = now();
        if (k != 2) {
            errors++;
            modbus_flush(ctx);
            continue;
        }
        lat[n++] = t - t0;
    }
    double span = t - start;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("requests %ld seconds %.3f rps %.0f p50_us %.1f p99_us %.1f max_us %.1f errors %ld "
           "value %g\n",
           n, span, n / span, n ? lat[n / 2] * 1e6 : 0, n ? lat[(size_t)(n * 0.99)] * 1e6 : 0,
           n ? lat[n - 1] * 1e6 : 0, errors, modbus_get_float_abcd(r));
    free(lat);
    modbus_close(ctx);
    modbus_free(ctx);
    return n ? 0 : 1;
}
