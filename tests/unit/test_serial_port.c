/* Tests of the serial port host service on a real pseudo-terminal: the path
 * and its symlink, bytes both ways, the client's baud rate read back, and
 * clean errors for a device that does not exist. Waits use poll() on events,
 * never sleeps. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "serial_port.h"

static int wait_in(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 2000); /* an event, or fail after 2 s */
}

static void test_pty_bytes_both_ways(void **state)
{
    (void)state;
    char dir[] = "/tmp/metersim-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[300];
    snprintf(link, sizeof link, "%s/meter", dir);
    char err[256] = "";
    serial_port_t p;
    assert_int_equal(serial_port_open(&p, "pty:", 9600, SERIAL_PARITY_EVEN, err, sizeof err), 0);
    serial_port_close(&p);
    char spec[320];
    snprintf(spec, sizeof spec, "pty:%s", link);
    assert_int_equal(serial_port_open(&p, spec, 9600, SERIAL_PARITY_EVEN, err, sizeof err), 0);
    assert_int_equal(strncmp(serial_port_path(&p), "/dev/pts/", 9), 0);
    char target[256];
    ssize_t n = readlink(link, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, serial_port_path(&p));

    /* The client opens the symlink, as a user would, in raw mode at 19200. */
    int c = open(link, O_RDWR | O_NOCTTY);
    assert_true(c >= 0);
    struct termios tio;
    assert_int_equal(tcgetattr(c, &tio), 0);
    cfmakeraw(&tio);
    cfsetispeed(&tio, B19200);
    cfsetospeed(&tio, B19200);
    tio.c_cflag |= PARENB; /* asked for; a pty may drop it, nothing depends on it */
    assert_int_equal(tcsetattr(c, TCSANOW, &tio), 0);
    assert_int_equal(serial_port_peer_baud(&p), 19200);

    /* Client -> meter: every byte value, unchanged (raw mode). */
    uint8_t out[256], in[256];
    for (int i = 0; i < 256; i++)
        out[i] = (uint8_t)i;
    assert_int_equal(write(c, out, sizeof out), (ssize_t)sizeof out);
    size_t got = 0;
    while (got < sizeof in && wait_in(serial_port_fd(&p)) > 0) {
        long r = serial_port_read(&p, in + got, sizeof in - got);
        assert_true(r >= 0);
        got += (size_t)r;
    }
    assert_int_equal(got, sizeof in);
    assert_memory_equal(in, out, sizeof out);
    /* Nothing more waiting: a non-blocking read returns 0. */
    assert_int_equal(serial_port_read(&p, in, sizeof in), 0);

    /* Meter -> client. */
    const uint8_t reply[] = {0x01, 0x03, 0x04, 0x43, 0x66, 0x00, 0x00, 0x0A, 0x0D, 0x11};
    assert_int_equal(serial_port_write(&p, reply, sizeof reply), (long)sizeof reply);
    assert_int_equal(serial_port_drain(&p), 0);
    got = 0;
    while (got < sizeof reply && wait_in(c) > 0) {
        ssize_t r = read(c, in + got, sizeof in - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, sizeof reply);
    assert_memory_equal(in, reply, sizeof reply);

    /* A new line setting is recorded; the pty keeps working. */
    assert_int_equal(serial_port_configure(&p, 115200, SERIAL_PARITY_NONE, err, sizeof err), 0);
    assert_int_equal(p.baud, 115200);

    /* The client goes away: reading gives 0, not an error. */
    close(c);
    assert_int_equal(serial_port_read(&p, in, sizeof in), 0);

    serial_port_close(&p);
    struct stat st;
    assert_int_not_equal(lstat(link, &st), 0); /* the symlink is gone */
    rmdir(dir);
}

static void test_symlink_does_not_clobber_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/metersim-test-file-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    serial_port_t p;
    char err[256] = "";
    assert_int_equal(serial_port_open_pty(&p, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a symlink"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);
}

/* socat's pty pair: the twin opens a pty slave someone else made, through a
 * symlink, as a "device". libserialport cannot; termios can. */
static void test_foreign_pty_slave_opens_raw(void **state)
{
    (void)state;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    char slave[256];
    snprintf(slave, sizeof slave, "%s", ptsname(m));
    struct termios tio;
    assert_int_equal(tcgetattr(m, &tio), 0);
    cfmakeraw(&tio);
    assert_int_equal(tcsetattr(m, TCSANOW, &tio), 0);
    char dir[] = "/tmp/metersim-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[300];
    snprintf(link, sizeof link, "%s/tty", dir);
    assert_int_equal(symlink(slave, link), 0);

    assert_true(serial_port_is_pty_slave(slave));
    assert_true(serial_port_is_pty_slave(link));
    assert_false(serial_port_is_pty_slave("/dev/null"));
    assert_false(serial_port_is_pty_slave(dir));

    serial_port_t p;
    char err[256] = "";
    assert_int_equal(serial_port_open(&p, link, 19200, SERIAL_PARITY_ODD, err, sizeof err), 0);
    assert_int_equal(p.kind, SERIAL_PORT_TTY);
    assert_string_equal(serial_port_path(&p), link);
    /* Raw 8-bit at the meter's baud rate: no echo, no line editing, no
     * translation of CR/LF, no flow control, reads return what is there. */
    assert_int_equal(tcgetattr(serial_port_fd(&p), &tio), 0);
    assert_int_equal(cfgetospeed(&tio), B19200);
    assert_int_equal(cfgetispeed(&tio), B19200);
    assert_int_equal(tio.c_cflag & CSIZE, CS8);
    assert_int_equal(tio.c_cflag & (CSTOPB | CRTSCTS), 0);
    assert_int_equal(tio.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0);
    assert_int_equal(tio.c_iflag & (ICRNL | INLCR | IGNCR | ISTRIP | IXON | IXOFF), 0);
    assert_int_equal(tio.c_oflag & OPOST, 0);
    assert_int_equal(tio.c_cc[VMIN], 0);
    assert_int_equal(tio.c_cc[VTIME], 0);
    assert_int_equal(serial_port_peer_baud(&p), 19200);
    assert_int_equal(p.parity, SERIAL_PARITY_ODD);

    /* Bytes both ways, every value unchanged (0x0D, 0x11 and 0x13 included). */
    uint8_t out[256], in[256];
    for (int i = 0; i < 256; i++)
        out[i] = (uint8_t)(255 - i);
    assert_int_equal(write(m, out, sizeof out), (ssize_t)sizeof out);
    size_t got = 0;
    while (got < sizeof in && wait_in(serial_port_fd(&p)) > 0) {
        long r = serial_port_read(&p, in + got, sizeof in - got);
        assert_true(r >= 0);
        got += (size_t)r;
    }
    assert_int_equal(got, sizeof in);
    assert_memory_equal(in, out, sizeof out);
    assert_int_equal(serial_port_read(&p, in, sizeof in), 0); /* non-blocking */
    assert_int_equal(serial_port_write(&p, out, 100), 100);
    assert_int_equal(serial_port_drain(&p), 0);
    got = 0;
    while (got < 100 && wait_in(m) > 0) {
        ssize_t r = read(m, in + got, sizeof in - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, 100);
    assert_memory_equal(in, out, 100);

    /* A new baud rate reaches the terminal, again and again (glibc reports
     * EINVAL when a pty drops the parity bit; that is not a failure here);
     * an impossible rate is refused. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(serial_port_configure(&p, 4800, SERIAL_PARITY_EVEN, err, sizeof err), 0);
        assert_int_equal(serial_port_configure(&p, 9600, SERIAL_PARITY_ODD, err, sizeof err), 0);
    }
    assert_int_equal(serial_port_configure(&p, 9600, SERIAL_PARITY_EVEN, err, sizeof err), 0);
    assert_int_equal(tcgetattr(serial_port_fd(&p), &tio), 0);
    assert_int_equal(cfgetospeed(&tio), B9600);
    assert_int_equal(serial_port_peer_baud(&p), 9600);
    assert_int_equal(serial_port_configure(&p, 12345, SERIAL_PARITY_EVEN, err, sizeof err), -1);
    assert_non_null(strstr(err, "12345"));

    serial_port_close(&p);
    assert_int_equal(lstat(link, &(struct stat){0}), 0); /* not ours: left alone */
    unlink(link);
    rmdir(dir);
    close(m);
}

static void test_missing_device_is_an_error(void **state)
{
    (void)state;
    serial_port_t p;
    char err[256] = "";
    assert_int_equal(serial_port_open(&p, "/dev/metersim-no-such-port", 9600, SERIAL_PARITY_EVEN,
                                      err, sizeof err),
                     -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(serial_parity_from_code(1), SERIAL_PARITY_EVEN);
    assert_int_equal(serial_parity_from_code(2), SERIAL_PARITY_NONE);
    assert_int_equal(serial_parity_from_code(3), SERIAL_PARITY_ODD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pty_bytes_both_ways),
        cmocka_unit_test(test_symlink_does_not_clobber_a_file),
        cmocka_unit_test(test_foreign_pty_slave_opens_raw),
        cmocka_unit_test(test_missing_device_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
