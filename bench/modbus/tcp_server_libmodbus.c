/* The Modbus TCP baseline server: a minimal Modbus TCP server written on
 * libmodbus, serving the twin's measurement block 0x5000-0x5037 (3 x 230 V x
 * 10 A at PF 1, Float ABCD, the same words as server_libmodbus.c) on
 * 127.0.0.1:PORT. modbus_tcp_listen + modbus_tcp_accept, then
 * modbus_receive() + modbus_reply(), as libmodbus's own examples do. It
 * answers every unit id (libmodbus's TCP backend does not filter on it).
 *
 * The floats are encoded here (shifts and memcpy), not with libmodbus's
 * modbus_set_float_abcd(): in Debian's 3.1.6 that one writes 230.0 as
 * 6643 0000 (bytes swapped in each word; stephane/libmodbus#611).
 *
 * One client at a time: when a client goes, it accepts the next (a probe
 * that only connects and closes is one such client).
 *
 *   tcp_server_libmodbus PORT
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
    if (!ctx) {
        fprintf(stderr, "tcp_server_libmodbus: %s\n", modbus_strerror(errno));
        return 1;
    }
    int listener = modbus_tcp_listen(ctx, 1);
    if (listener < 0) {
        fprintf(stderr, "tcp_server_libmodbus: listen on 127.0.0.1:%s: %s\n", argv[1],
                modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }
    modbus_mapping_t *map = modbus_mapping_new_start_address(0, 0, 0, 0, 0x5000, 0x38, 0, 0);
    if (!map)
        return 1;
    /* clang-format off */
    const float v[28] = {230, 230, 230, 230, 50, 30, 10, 10, 10, 6.9f, 2.3f, 2.3f, 2.3f, 0,
                         0,   0,   0,   6.9f, 2.3f, 2.3f, 2.3f, 1, 1, 1, 1,
                         (float)(230 * sqrt(3.0)), (float)(230 * sqrt(3.0)), (float)(230 * sqrt(3.0))};
    /* clang-format on */
    for (int i = 0; i < 28; i++)
        set_float_abcd(v[i], &map->tab_registers[2 * i]);
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        int s = modbus_tcp_accept(ctx, &listener);
        if (s < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "tcp_server_libmodbus: accept: %s\n", modbus_strerror(errno));
            break;
        }
        for (;;) {
            int n = modbus_receive(ctx, q);
            if (n > 0)
                modbus_reply(ctx, q, n, map);
            else if (n == -1 && errno != EMBBADDATA)
                break; /* the client closed (or sent something unframeable) */
        }
        close(s);
        modbus_set_socket(ctx, -1);
    }
    modbus_mapping_free(map);
    close(listener);
    modbus_free(ctx);
    return 1;
}
