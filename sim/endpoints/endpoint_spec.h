/* endpoint_spec: the ways into a bus, as the command line and scenarios name them.
 *
 *   --modbus pty                 a new pseudo-terminal (its path is printed)
 *   --modbus pty:PATH            the same, with a symlink at PATH
 *   --modbus /dev/ttyUSB0        a serial device (or another program's pty slave)
 *   --modbus tcp:[HOST:]PORT     Modbus TCP (MBAP) through the bus's gateway
 *   --modbus rtu-over-tcp:[HOST:]PORT   RTU frames on a TCP stream (transparent gateway)
 *   --mbus   pty | pty:PATH | DEVICE
 *   --mbus   tcp:[HOST:]PORT     M-Bus frames on a TCP stream (transparent gateway)
 *
 * HOST defaults to 127.0.0.1; any other address (0.0.0.0, ::, a name) must be
 * written out. IPv6 literals go in brackets: tcp:[::1]:5020. PORT 0 asks the
 * system for a free port (the host prints the one it got).
 */
#ifndef METERSIM_ENDPOINT_SPEC_H
#define METERSIM_ENDPOINT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENDPOINT_SPEC_PATH_MAX 256
#define ENDPOINT_SPEC_HOST_MAX 128

typedef enum {
    ENDPOINT_PTY,          /* path: the symlink, "" for none */
    ENDPOINT_DEVICE,       /* path: the device */
    ENDPOINT_MODBUS_TCP,   /* Modbus TCP (MBAP) */
    ENDPOINT_RTU_OVER_TCP, /* raw Modbus RTU frames on TCP */
    ENDPOINT_MBUS_TCP,     /* raw M-Bus frames on TCP */
} endpoint_kind_t;

typedef struct endpoint_spec {
    endpoint_kind_t kind;
    char path[ENDPOINT_SPEC_PATH_MAX];
    char host[ENDPOINT_SPEC_HOST_MAX]; /* TCP: the address to listen on */
    uint16_t port;                     /* TCP: 0 = any free port */
} endpoint_spec_t;

/* Parses `spec` for a Modbus (`modbus` true) or an M-Bus line. False with a
 * message naming what is wrong in err ("rtu-over-tcp is for --modbus", "port
 * 70000 is out of range (0-65535)"). */
bool endpoint_spec_parse(const char *spec, bool modbus, endpoint_spec_t *out, char *err,
                         size_t errlen);

/* True for the TCP kinds. */
bool endpoint_spec_is_tcp(const endpoint_spec_t *s);

/* "tcp:127.0.0.1:5020", "pty:/tmp/m", ... back into text, for messages. */
void endpoint_spec_format(const endpoint_spec_t *s, bool modbus, char *buf, size_t cap);

#endif
