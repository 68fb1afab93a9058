/* modbus_rw: a libmodbus master, over TCP or RTU, that does the reads and
 * writes named on its command line and prints what came back, one line per
 * operation, in a form the test compares across clients
 * (test_tcp_clients.sh).
 *
 *   modbus_rw tcp HOST PORT OP...      modbus_new_tcp(): Modbus TCP (MBAP)
 *   modbus_rw rtu DEVICE OP...         modbus_new_rtu(): 9600 8E1 (A3.1)
 *
 *   OP  r UNIT ADDR COUNT     FC03, COUNT registers from ADDR
 *       w UNIT ADDR VALUE     FC06
 *   (numbers in C notation: 0x4000 or 16384)
 *
 * Output per operation:
 *   "r UNIT ADDR COUNT: hhhh hhhh ..."   the registers, 4 hex digits each
 *   "w UNIT ADDR VALUE: ok"
 *   "... : exception XX"                 a Modbus exception (hex code)
 *   "... : error TEXT"                   anything else (a time-out, ...)
 * Exit status 0 unless the context could not be made or connected.
 *
 * On RTU the input is flushed (modbus_flush) before each request: the twin's
 * bus has other masters (its TCP gateway), and on a line every master hears
 * every reply, so replies to them may wait unread on the pty.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void result(const char *op, int rc)
{
    if (rc >= 0)
        return;
    if (errno > MODBUS_ENOBASE && errno <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET)
        printf("%s: exception %02X\n", op, errno - MODBUS_ENOBASE);
    else
        printf("%s: error %s\n", op, modbus_strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "tcp") != 0 && strcmp(argv[1], "rtu") != 0)) {
        fprintf(stderr, "usage: modbus_rw tcp HOST PORT OP... | modbus_rw rtu DEVICE OP...\n");
        return 2;
    }
    int rtu = strcmp(argv[1], "rtu") == 0;
    int i;
    modbus_t *ctx;
    if (rtu) {
        ctx = modbus_new_rtu(argv[2], 9600, 'E', 8, 1);
        i = 3;
    } else {
        if (argc < 4)
            return 2;
        ctx = modbus_new_tcp(argv[2], atoi(argv[3]));
        i = 4;
    }
    if (!ctx || modbus_connect(ctx) != 0) {
        fprintf(stderr, "modbus_rw: cannot connect: %s\n", modbus_strerror(errno));
        return 1;
    }
    modbus_set_response_timeout(ctx, 1, 0);
    for (; i < argc; i += 4) {
        if (i + 3 >= argc) {
            fprintf(stderr, "modbus_rw: incomplete operation at '%s'\n", argv[i]);
            break;
        }
        int unit = (int)strtol(argv[i + 1], NULL, 0);
        int addr = (int)strtol(argv[i + 2], NULL, 0);
        int arg = (int)strtol(argv[i + 3], NULL, 0);
        char op[64];
        snprintf(op, sizeof op, "%s %d 0x%04X %d", argv[i], unit, addr, arg);
        modbus_set_slave(ctx, unit);
        if (rtu)
            modbus_flush(ctx);
        if (strcmp(argv[i], "r") == 0) {
            uint16_t regs[125];
            if (arg < 1 || arg > 125) {
                printf("%s: error count\n", op);
                continue;
            }
            int rc = modbus_read_registers(ctx, addr, arg, regs);
            if (rc == arg) {
                printf("%s:", op);
                for (int k = 0; k < arg; k++)
                    printf(" %04X", regs[k]);
                printf("\n");
            } else if (rc >= 0) {
                printf("%s: error %d registers\n", op, rc);
            } else {
                result(op, rc);
            }
        } else if (strcmp(argv[i], "w") == 0) {
            int rc = modbus_write_register(ctx, addr, (uint16_t)arg);
            if (rc == 1)
                printf("%s: ok\n", op);
            else
                result(op, rc < 0 ? rc : (errno = EMBBADDATA, -1));
        } else {
            printf("%s: error unknown operation\n", op);
        }
        fflush(stdout);
    }
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
