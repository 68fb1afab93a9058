/* The transport's floor: the least a server on a pty can do. It owns a pty
 * (posix_openpt, symlink at PATH), and answers every 8 bytes it receives at
 * once with a canned, CRC-correct reply to 01 03 5002 0002 (230.0 V as Float
 * ABCD). No parsing, no CRC check, no timing: poll(), read(), write().
 *
 *   floor PATH
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH\n", argv[0]);
        return 2;
    }
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m))
        return 1;
    const char *slave = ptsname(m);
    int keep = open(slave, O_RDWR | O_NOCTTY); /* no EIO while no client is attached */
    struct termios t;
    tcgetattr(keep, &t);
    cfmakeraw(&t);
    tcsetattr(keep, TCSANOW, &t);
    tcgetattr(m, &t);
    cfmakeraw(&t);
    tcsetattr(m, TCSANOW, &t);
    unlink(argv[1]);
    if (symlink(slave, argv[1]) != 0)
        return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    /* 01 03 04 43 66 00 00 + CRC-16/MODBUS 0xA80F, low byte first */
    static const unsigned char reply[] = {0x01, 0x03, 0x04, 0x43, 0x66, 0x00, 0x00, 0x0F, 0xA8};
    unsigned char buf[256];
    int have = 0;
    struct pollfd p = {.fd = m, .events = POLLIN};
    while (!stop) {
        if (poll(&p, 1, -1) <= 0)
            continue;
        ssize_t n = read(m, buf, sizeof buf);
        if (n <= 0)
            continue;
        for (have += (int)n; have >= 8; have -= 8)
            if (write(m, reply, sizeof reply) != (ssize_t)sizeof reply)
                break;
    }
    unlink(argv[1]);
    close(keep);
    close(m);
    return 0;
}
