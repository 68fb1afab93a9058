/* The baseline server: a minimal Modbus RTU slave written on libmodbus,
 * serving the twin's measurement block 0x5000-0x5037 (3 x 230 V x 10 A at
 * PF 1, Float ABCD) at ID 1, on a serial device (one end of a socat pty
 * pair). modbus_receive() + modbus_reply(), as libmodbus's own examples do.
 *
 * The floats are encoded here, not with libmodbus's modbus_set_float_abcd():
 * in Debian's 3.1.6 that one writes 230.0 as 6643 0000 (bytes swapped in each
 * word; stephane/libmodbus#611), which the client's check of every reply
 * (issue 14) caught.
 *
 *   server_libmodbus DEVICE BAUD
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Float ABCD: IEEE 754 single, most significant byte first, high word first. */
static void set_float_abcd(float f, uint16_t *w)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    w[0] = (uint16_t)(u >> 16);
    w[1] = (uint16_t)(u & 0xFFFF);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DEVICE BAUD\n", argv[0]);
        return 2;
    }
    modbus_t *ctx = modbus_new_rtu(argv[1], atoi(argv[2]), 'N', 8, 1);
    if (!ctx || modbus_connect(ctx) != 0) {
        fprintf(stderr, "server_libmodbus: %s: %s\n", argv[1], modbus_strerror(errno));
        return 1;
    }
    modbus_set_slave(ctx, 1);
    modbus_mapping_t *map = modbus_mapping_new_start_address(0, 0, 0, 0, 0x5000, 0x38, 0, 0);
    if (!map)
        return 1;
    const float v[28] = {230,
                         230,
                         230,
                         230,
                         50,
                         30,
                         10,
                         10,
                         10,
                         6.9f,
                         2.3f,
                         2.3f,
                         2.3f,
                         0,
                         0,
                         0,
                         0,
                         6.9f,
                         2.3f,
                         2.3f,
                         2.3f,
                         1,
                         1,
                         1,
                         1,
                         (float)(230 * sqrt(3.0)),
                         (float)(230 * sqrt(3.0)),
                         (float)(230 * sqrt(3.0))};
    for (int i = 0; i < 28; i++)
        set_float_abcd(v[i], &map->tab_registers[2 * i]);
    uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];
    for (;;) {
        int n = modbus_receive(ctx, q);
        if (n > 0)
            modbus_reply(ctx, q, n, map);
        else if (n == -1 && errno != EMBBADCRC && errno != ETIMEDOUT && errno != EMBBADDATA)
            break;
    }
    modbus_mapping_free(map);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
