/* A libmodbus master against the CT-operated variant through an outage
 * (issue 12; tests/interop/lib.sh, SCENARIO_CT), one stage per run:
 *
 *   modbus_ct PORT OP SECONDARY PRIMARY U
 *
 *   write   the manual's A3.3 command 01 10 401F 0002 04 9995 0005 with
 *           modbus_write_registers() (FC 16), then 0x4002 (1113: 2PCT),
 *           0x400C (primary/5 as BCD: 1999) and 0x401F read back;
 *   values  U, I, P, S, PF of a window after the write: primary values,
 *           I = SECONDARY x PRIMARY / 5, P = S = U x I at PF 1 (A3.2);
 *   down    during the outage: the read times out (ETIMEDOUT);
 *   up      after the boot: the first read answers, 0x4016 = 1 power-down.
 *
 * PORT: the twin's pty, 9600 8E1 (A3.1), ID 1. PRIMARY is the decimal the
 * write carries as BCD digits (9995 -> 0x9995). Prints "ok - ..." /
 * "not ok - ..." lines and exits 0.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf(cond ? "ok - " : "not ok - ");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* Decimal digits as BCD nibbles (A3.3's "9995" is the word 0x9995). */
static uint16_t bcd(unsigned v)
{
    uint16_t out = 0;
    for (int shift = 0; v; shift += 4, v /= 10)
        out |= (uint16_t)((v % 10) << shift);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: modbus_ct PORT write|values|down|up SECONDARY PRIMARY U\n");
        return 2;
    }
    const char *op = argv[2];
    double i2 = atof(argv[3]), u = atof(argv[5]);
    unsigned primary = (unsigned)atoi(argv[4]);
    modbus_t *ctx = modbus_new_rtu(argv[1], 9600, 'E', 8, 1); /* A3.1 factory settings */
    if (!ctx || modbus_set_slave(ctx, 1) < 0 || modbus_connect(ctx) < 0) {
        check(0, "libmodbus opens %s: %s", argv[1], modbus_strerror(errno));
        return 0;
    }
    modbus_set_response_timeout(ctx, 0, 500000);
    uint16_t w[64];
    if (strcmp(op, "write") == 0) {
        /* Bad input first (docs/modbus.md decision 6): ratios the 2PCT does
         * not take are exception 03, ILLEGAL DATA VALUE, and change nothing. */
        static const uint16_t bad[][2] = {
            {0x9996, 5}, /* above 9995 */
            {0x0000, 5}, /* 0/5 */
            {0x0007, 5}, /* not a multiple of 5 */
            {0x0100, 1}, /* a secondary other than 5 */
            {0x03E8, 5}, /* 1000 in binary, not BCD digits */
        };
        int refused = 0;
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            errno = 0;
            int rc = modbus_write_registers(ctx, 0x401F, 2, bad[k]);
            if (rc < 0 && errno == EMBXILVAL)
                refused++;
            else
                printf("# 0x401F = %04X %04X: %s\n", bad[k][0], bad[k][1],
                       rc < 0 ? modbus_strerror(errno) : "accepted");
        }
        int same = modbus_read_registers(ctx, 0x401F, 2, w) == 2 && w[0] == 5 && w[1] == 5;
        check(refused == 5 && same,
              "9996/5, 0/5, 7/5, 100/1 and 03E8/5 refused with exception 03 (%d of 5); "
              "0x401F still reads %04X %04X (5/5)",
              refused, w[0], w[1]);
        const uint16_t ratio[2] = {bcd(primary), 5};
        int rc = modbus_write_registers(ctx, 0x401F, 2, ratio);
        check(rc == 2,
              "libmodbus writes 0x401F = %04X %04X (A3.3: 01 10 401F 0002 04 9995 0005): %s",
              ratio[0], ratio[1], rc == 2 ? "done" : modbus_strerror(errno));
        int ok = modbus_read_registers(ctx, 0x4002, 1, w) == 1 && w[0] == 0x1113;
        uint16_t code = w[0];
        ok = ok && modbus_read_registers(ctx, 0x400C, 1, w) == 1 && w[0] == bcd(primary / 5);
        uint16_t r400c = w[0];
        ok = ok && modbus_read_registers(ctx, 0x401F, 2, w) == 2 && w[0] == ratio[0] && w[1] == 5;
        check(ok,
              "read back: 0x4002 %04X (1113, 2PCT), 0x400C %04X (primary/5 = %u as BCD), 0x401F "
              "%04X %04X",
              code, r400c, primary / 5, w[0], w[1]);
    } else if (strcmp(op, "values") == 0) {
        int rc = modbus_read_registers(ctx, 0x5000, 0x32, w);
        double I = i2 * primary / 5.0, P = u * I / 1000.0; /* A, kW per phase at PF 1 */
        if (rc != 0x32) {
            check(0, "libmodbus reads 0x5000 x50: %s", modbus_strerror(errno));
        } else {
            double f[25];
            for (int k = 0; k < 25; k++)
                f[k] = modbus_get_float_abcd(&w[2 * k]); /* A3.2: Float ABCD */
            /* 0x5002 U L1, 0x5008 f, 0x500C I L1, 0x5012 P, 0x5014 P L1, 0x5022 S, 0x502A PF */
            int ok = fabs(f[1] - u) <= 0.01 && fabs(f[4] - 50) <= 0.001 &&
                     fabs(f[6] - I) <= I * 1e-5 && fabs(f[7] - I) <= I * 1e-5 &&
                     fabs(f[8] - I) <= I * 1e-5 && fabs(f[9] - 3 * P) <= 3 * P * 1e-5 &&
                     fabs(f[10] - P) <= P * 1e-5 && fabs(f[17] - 3 * P) <= 3 * P * 1e-5 &&
                     fabs(f[21] - 1) <= 0.001;
            check(ok,
                  "libmodbus reads primary values: U %.2f V, I %.3f A (want %.0f = %g A x %u/5), P "
                  "%.3f kW "
                  "(want %.2f), L1 %.3f kW, S %.3f kVA, PF %.3f",
                  f[1], f[6], I, i2, primary, f[9], 3 * P, f[10], f[17], f[21]);
        }
    } else if (strcmp(op, "down") == 0) {
        int rc = modbus_read_registers(ctx, 0x4016, 1, w);
        int err = errno;
        check(rc < 0 && err == ETIMEDOUT, "a read during the outage times out (%s)",
              rc < 0 ? modbus_strerror(err) : "it answered");
    } else if (strcmp(op, "up") == 0) {
        int rc = modbus_read_registers(ctx, 0x4016, 1, w);
        check(rc == 1 && w[0] == 1,
              "the first read after the boot answers: 0x4016 = %d power-down (%s)",
              rc == 1 ? w[0] : -1, rc == 1 ? "1 expected" : modbus_strerror(errno));
    }
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
