/* serial_port: the host's serial line to a Modbus master, a pty or a real port.
 *
 *   --modbus pty            posix_openpt(): the slave path is printed by the host
 *   --modbus pty:PATH       the same, plus a symlink PATH -> /dev/pts/N (removed on close)
 *   --modbus /dev/ttyUSB0   any device, through libserialport: 8 data bits,
 *                           1 stop bit, the meter's baud rate and parity (A3.1)
 *   --modbus /dev/pts/7     the slave end of a pty made by someone else (socat's
 *                           pty pair, a symlink to one): libserialport refuses
 *                           /dev/pts/N, so it is opened with plain termios, in
 *                           the same raw 8-bit mode with the baud rate and parity
 *
 *   master program <--> /dev/pts/N (slave) <==kernel==> master fd (ours, poll()able)
 *
 * Everything is non-blocking; serial_port_fd() is what to poll() for input.
 *
 * A pty carries no line settings of its own: whatever baud rate and parity the
 * client sets, bytes pass unchanged and at once, and Linux clears the parity
 * bits a client asks for (PARENB, CSIZE), so nothing here depends on them. The
 * baud rate the client set can be read back (serial_port_peer_baud()), which
 * lets the host emulate a baud-rate mismatch if it wants to.
 *
 * Known inaccuracies: on a pty, bytes leave as fast as the kernel moves them;
 * pacing to the baud rate is the host's choice. We keep a handle on the pty's
 * slave side open so the master never reads EIO between two clients; bytes
 * written while no client is attached wait in the kernel's buffer.
 */
#ifndef METERSIM_SERIAL_PORT_H
#define METERSIM_SERIAL_PORT_H

#include <stddef.h>
#include <stdint.h>

struct sp_port;

typedef enum {
    SERIAL_PARITY_NONE = 0,
    SERIAL_PARITY_EVEN,
    SERIAL_PARITY_ODD,
} serial_parity_t;

typedef enum {
    SERIAL_PORT_CLOSED = 0,
    SERIAL_PORT_PTY,    /* our own pty (posix_openpt) */
    SERIAL_PORT_DEVICE, /* a physical port, through libserialport */
    SERIAL_PORT_TTY,    /* another program's pty slave, through termios */
    SERIAL_PORT_SOCKET, /* a TCP connection carrying the line's bytes (rtu-over-tcp, M-Bus
                           over TCP): no line settings; its end is an error */
} serial_port_kind_t;

typedef struct serial_port {
    serial_port_kind_t kind;
    int fd;       /* pty master, or the device's handle */
    int slave_fd; /* pty: our handle on the slave side */
    struct sp_port *sp;
    char path[256]; /* the slave path of a pty, or the device path */
    char link[256]; /* the symlink made for a pty, "" if none */
    uint32_t baud;
    serial_parity_t parity;
    uint32_t peer_baud; /* a socket standing for a pty under --replay: the client's
                           baud rate as recorded (0 otherwise) */
} serial_port_t;

/* Opens what `spec` names ("pty", "pty:PATH" or a device path) with the given
 * line settings (a pty ignores them). A device path that is a pty's slave
 * (/dev/pts/N, or a symlink to one) is opened with serial_port_open_tty().
 * Returns 0, or -1 with a message in err. */
int serial_port_open(serial_port_t *p, const char *spec, uint32_t baud, serial_parity_t parity,
                     char *err, size_t errlen);

/* A new pseudo-terminal in raw mode; `link` (may be NULL) becomes a symlink to
 * its slave path (an existing symlink there is replaced, another file is not). */
int serial_port_open_pty(serial_port_t *p, const char *link, char *err, size_t errlen);

/* A physical port through libserialport: 8 data bits, 1 stop bit, no flow control. */
int serial_port_open_device(serial_port_t *p, const char *dev, uint32_t baud,
                            serial_parity_t parity, char *err, size_t errlen);

/* The slave end of a pty another program made (socat's pty pair): termios
 * raw mode, 8 data bits, 1 stop bit, no flow control, the given baud rate and
 * parity (a pty keeps the baud rate; Linux drops the parity bits). */
int serial_port_open_tty(serial_port_t *p, const char *dev, uint32_t baud, serial_parity_t parity,
                         char *err, size_t errlen);

/* A connected, non-blocking socket as a port: reads and writes go through
 * it, line settings are only recorded, a read of its end returns -1. `name`
 * (the peer's address) is what serial_port_path() gives. */
void serial_port_adopt_socket(serial_port_t *p, int fd, const char *name);

/* True when `path` (after symlinks) is a pty's slave side, which libserialport
 * cannot open. */
int serial_port_is_pty_slave(const char *path);

/* New line settings (the meter's ID/baud/parity changed): a device first lets
 * what was written leave at the old settings, then switches; a pty just
 * records them. Returns 0 or -1 with a message. */
int serial_port_configure(serial_port_t *p, uint32_t baud, serial_parity_t parity, char *err,
                          size_t errlen);

/* Non-blocking read: bytes read, 0 if none waiting, -1 on error. */
long serial_port_read(serial_port_t *p, uint8_t *buf, size_t cap);

/* Non-blocking write: bytes written (possibly fewer), -1 on error. */
long serial_port_write(serial_port_t *p, const uint8_t *buf, size_t len);

/* Waits until everything written has left (a device; a pty returns at once). */
int serial_port_drain(serial_port_t *p);

/* The baud rate the other end set: on a pty, what the client configured on the
 * slave side (0 if unknown); on a device or another program's pty, the port's
 * own setting. */
uint32_t serial_port_peer_baud(const serial_port_t *p);

/* The path a client opens (the pty slave or the device). */
const char *serial_port_path(const serial_port_t *p);

/* The descriptor to poll() for input (POLLIN). */
int serial_port_fd(const serial_port_t *p);

/* Closes the port and removes the symlink it made. */
void serial_port_close(serial_port_t *p);

/* Maps the meter's parity code (A3.2 0x4011: 1 even, 2 none, 3 odd). */
serial_parity_t serial_parity_from_code(uint8_t code);

#endif
