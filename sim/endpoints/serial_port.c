/* serial_port: pty (POSIX), physical ports (libserialport) and other programs'
 * pty slaves (termios) for the Modbus line. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt */
#include "serial_port.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const struct {
    speed_t code;
    uint32_t bps;
} speeds[] = {
    {B50, 50},       {B75, 75},         {B110, 110},       {B134, 134},     {B150, 150},
    {B200, 200},     {B300, 300},       {B600, 600},       {B1200, 1200},   {B1800, 1800},
    {B2400, 2400},   {B4800, 4800},     {B9600, 9600},     {B19200, 19200}, {B38400, 38400},
    {B57600, 57600}, {B115200, 115200}, {B230400, 230400},
};

static speed_t bps_to_speed(uint32_t bps)
{
    for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].bps == bps)
            return speeds[i].code;
    return B0;
}

static uint32_t speed_to_bps(speed_t s)
{
    for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].code == s)
            return speeds[i].bps;
    return 0;
}

serial_parity_t serial_parity_from_code(uint8_t code)
{
    return code == 2 ? SERIAL_PARITY_NONE : code == 3 ? SERIAL_PARITY_ODD : SERIAL_PARITY_EVEN;
}

int serial_port_open_pty(serial_port_t *p, const char *link, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = p->slave_fd = -1;
    p->baud = 9600;
    p->parity = SERIAL_PARITY_EVEN;
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0)
        return fail(err, errlen, "posix_openpt: %s", strerror(errno));
    if (grantpt(fd) != 0 || unlockpt(fd) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "grantpt/unlockpt: %s", strerror(e));
    }
    const char *name = ptsname(fd); /* at start-up, single-threaded */
    if (!name) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "ptsname: %s", strerror(e));
    }
    snprintf(p->path, sizeof p->path, "%s", name);
    /* Our own handle on the slave: without one, the master reads EIO whenever
     * no client has the slave open. It also carries the raw line discipline. */
    int sfd = open(p->path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (sfd < 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "open %s: %s", p->path, strerror(e));
    }
    struct termios tio;
    if (tcgetattr(sfd, &tio) == 0) {
        cfmakeraw(&tio);
        cfsetispeed(&tio, B9600);
        cfsetospeed(&tio, B9600);
        tcsetattr(sfd, TCSANOW, &tio);
    }
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    p->fd = fd;
    p->slave_fd = sfd;
    p->kind = SERIAL_PORT_PTY;
    if (link && *link) {
        struct stat st;
        if (lstat(link, &st) == 0) {
            if (!S_ISLNK(st.st_mode)) {
                serial_port_close(p);
                return fail(err, errlen, "%s exists and is not a symlink: not replaced", link);
            }
            unlink(link);
        }
        if (symlink(p->path, link) != 0) {
            int e = errno;
            serial_port_close(p);
            return fail(err, errlen, "symlink %s -> %s: %s", link, p->path, strerror(e));
        }
        snprintf(p->link, sizeof p->link, "%s", link);
    }
    return 0;
}

static enum sp_parity sp_parity_of(serial_parity_t parity)
{
    return parity == SERIAL_PARITY_NONE  ? SP_PARITY_NONE
           : parity == SERIAL_PARITY_ODD ? SP_PARITY_ODD
                                         : SP_PARITY_EVEN;
}

static int sp_fail(char *err, size_t errlen, const char *what, const char *dev)
{
    char *msg = sp_last_error_message();
    fail(err, errlen, "%s %s: %s", what, dev, msg ? msg : "error");
    if (msg)
        sp_free_error_message(msg);
    return -1;
}

static int device_setup(serial_port_t *p, uint32_t baud, serial_parity_t parity, char *err,
                        size_t errlen)
{
    if (sp_set_baudrate(p->sp, (int)baud) != SP_OK || sp_set_bits(p->sp, 8) != SP_OK ||
        sp_set_parity(p->sp, sp_parity_of(parity)) != SP_OK || sp_set_stopbits(p->sp, 1) != SP_OK ||
        sp_set_flowcontrol(p->sp, SP_FLOWCONTROL_NONE) != SP_OK)
        return sp_fail(err, errlen, "configure", p->path);
    p->baud = baud;
    p->parity = parity;
    return 0;
}

int serial_port_open_device(serial_port_t *p, const char *dev, uint32_t baud,
                            serial_parity_t parity, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = p->slave_fd = -1;
    snprintf(p->path, sizeof p->path, "%s", dev);
    if (sp_get_port_by_name(dev, &p->sp) != SP_OK)
        return sp_fail(err, errlen, "find port", dev);
    if (sp_open(p->sp, SP_MODE_READ_WRITE) != SP_OK) {
        sp_fail(err, errlen, "open", dev);
        sp_free_port(p->sp);
        p->sp = NULL;
        return -1;
    }
    p->kind = SERIAL_PORT_DEVICE;
    if (device_setup(p, baud, parity, err, errlen) != 0) {
        serial_port_close(p);
        return -1;
    }
    int fd = -1;
    if (sp_get_port_handle(p->sp, &fd) != SP_OK) {
        sp_fail(err, errlen, "handle of", dev);
        serial_port_close(p);
        return -1;
    }
    p->fd = fd;
    return 0;
}

/* Unix98 pty slaves have majors 136-143 (Documentation/admin-guide/devices.txt). */
int serial_port_is_pty_slave(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
        return 0;
    if (major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143)
        return 1;
    char real[PATH_MAX];
    return realpath(path, real) && strncmp(real, "/dev/pts/", 9) == 0 &&
           strcmp(real, "/dev/pts/ptmx") != 0;
}

/* Raw 8-bit, 1 stop bit, no flow control, `baud` and `parity` (A3.1). */
static int tty_setup(serial_port_t *p, uint32_t baud, serial_parity_t parity, char *err,
                     size_t errlen)
{
    speed_t sp = bps_to_speed(baud);
    if (sp == B0)
        return fail(err, errlen, "%s: %u bit/s is not a termios speed", p->path, (unsigned)baud);
    struct termios tio;
    if (tcgetattr(p->fd, &tio) != 0)
        return fail(err, errlen, "tcgetattr %s: %s", p->path, strerror(errno));
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | CSTOPB | PARENB | PARODD | CRTSCTS);
    tio.c_cflag |= CS8 | CREAD | CLOCAL;
    if (parity != SERIAL_PARITY_NONE)
        tio.c_cflag |= PARENB | (parity == SERIAL_PARITY_ODD ? PARODD : 0);
    tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | INPCK);
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    cfsetispeed(&tio, sp);
    cfsetospeed(&tio, sp);
    /* TCSANOW: a pty has no transmitter to drain; its bytes are already with the peer. */
    if (tcsetattr(p->fd, TCSANOW, &tio) != 0) {
        /* Linux drops PARENB on a pty, and glibc's tcsetattr() reads the flags
         * back and reports EINVAL when they differ. The rest was applied: accept
         * it when all but the parity bits read back as asked. */
        int e = errno;
        struct termios got;
        tcflag_t mask = ~(tcflag_t)(PARENB | PARODD);
        if (e != EINVAL || tcgetattr(p->fd, &got) != 0 ||
            (got.c_cflag & mask) != (tio.c_cflag & mask) || got.c_iflag != tio.c_iflag ||
            got.c_lflag != tio.c_lflag || cfgetospeed(&got) != sp)
            return fail(err, errlen, "tcsetattr %s: %s", p->path, strerror(e));
    }
    p->baud = baud;
    p->parity = parity;
    return 0;
}

int serial_port_open_tty(serial_port_t *p, const char *dev, uint32_t baud, serial_parity_t parity,
                         char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = p->slave_fd = -1;
    snprintf(p->path, sizeof p->path, "%s", dev);
    int fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fail(err, errlen, "open %s: %s", dev, strerror(errno));
    if (!isatty(fd)) {
        close(fd);
        return fail(err, errlen, "%s is not a terminal", dev);
    }
    p->fd = fd;
    p->kind = SERIAL_PORT_TTY;
    if (tty_setup(p, baud, parity, err, errlen) != 0) {
        serial_port_close(p);
        return -1;
    }
    return 0;
}

int serial_port_open(serial_port_t *p, const char *spec, uint32_t baud, serial_parity_t parity,
                     char *err, size_t errlen)
{
    if (strcmp(spec, "pty") == 0)
        return serial_port_open_pty(p, NULL, err, errlen);
    if (strncmp(spec, "pty:", 4) == 0) {
        int r = serial_port_open_pty(p, spec + 4, err, errlen);
        if (r == 0)
            serial_port_configure(p, baud, parity, NULL, 0);
        return r;
    }
    if (serial_port_is_pty_slave(spec))
        return serial_port_open_tty(p, spec, baud, parity, err, errlen);
    return serial_port_open_device(p, spec, baud, parity, err, errlen);
}

int serial_port_configure(serial_port_t *p, uint32_t baud, serial_parity_t parity, char *err,
                          size_t errlen)
{
    if (p->kind == SERIAL_PORT_DEVICE) {
        sp_drain(p->sp); /* the reply leaves at the old settings (A3.3) */
        return device_setup(p, baud, parity, err, errlen);
    }
    if (p->kind == SERIAL_PORT_TTY)
        return tty_setup(p, baud, parity, err, errlen);
    p->baud = baud;
    p->parity = parity;
    return 0;
}

void serial_port_adopt_socket(serial_port_t *p, int fd, const char *name)
{
    memset(p, 0, sizeof *p);
    p->kind = SERIAL_PORT_SOCKET;
    p->fd = fd;
    p->slave_fd = -1;
    snprintf(p->path, sizeof p->path, "%s", name);
}

long serial_port_read(serial_port_t *p, uint8_t *buf, size_t cap)
{
    if (p->kind == SERIAL_PORT_SOCKET) {
        ssize_t n = recv(p->fd, buf, cap, 0);
        if (n == 0)
            return -1; /* the client closed its end */
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        return (long)n;
    }
    if (p->kind == SERIAL_PORT_DEVICE) {
        enum sp_return r = sp_nonblocking_read(p->sp, buf, cap);
        return r < 0 ? -1 : (long)r;
    }
    ssize_t n = read(p->fd, buf, cap);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == EIO) ? 0 : -1;
    return (long)n;
}

long serial_port_write(serial_port_t *p, const uint8_t *buf, size_t len)
{
    if (p->kind == SERIAL_PORT_SOCKET) {
        ssize_t n = send(p->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        return (long)n;
    }
    if (p->kind == SERIAL_PORT_DEVICE) {
        enum sp_return r = sp_nonblocking_write(p->sp, buf, len);
        return r < 0 ? -1 : (long)r;
    }
    ssize_t n = write(p->fd, buf, len);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    return (long)n;
}

int serial_port_drain(serial_port_t *p)
{
    if (p->kind == SERIAL_PORT_DEVICE)
        return sp_drain(p->sp) == SP_OK ? 0 : -1;
    return 0;
}

uint32_t serial_port_peer_baud(const serial_port_t *p)
{
    if (p->kind == SERIAL_PORT_SOCKET)
        return p->peer_baud;
    if (p->kind == SERIAL_PORT_DEVICE || p->kind == SERIAL_PORT_TTY)
        return p->baud;
    struct termios tio;
    /* The client's settings live on the slave side, which we hold open. */
    if (p->slave_fd < 0 || tcgetattr(p->slave_fd, &tio) != 0)
        return 0;
    return speed_to_bps(cfgetospeed(&tio));
}

const char *serial_port_path(const serial_port_t *p)
{
    return p->path;
}

int serial_port_fd(const serial_port_t *p)
{
    return p->fd;
}

void serial_port_close(serial_port_t *p)
{
    if (p->kind == SERIAL_PORT_DEVICE && p->sp) {
        sp_close(p->sp);
        sp_free_port(p->sp);
    } else {
        if (p->fd >= 0)
            close(p->fd);
        if (p->slave_fd >= 0)
            close(p->slave_fd);
    }
    if (p->link[0]) {
        /* Only our own link: someone may have replaced it meanwhile. */
        char target[256];
        ssize_t n = readlink(p->link, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            if (strcmp(target, p->path) == 0)
                unlink(p->link);
        }
    }
    memset(p, 0, sizeof *p);
    p->fd = p->slave_fd = -1;
}
