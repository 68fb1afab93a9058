/* The fleet benchmark's master: one Modbus TCP connection per bus, each
 * polling every meter of its bus in turn (FC03 0x4003, the meter's Modbus ID,
 * A3.2), one request at a time, for a number of seconds. A reply is right
 * when its transaction id, unit id and the ID it reads all match the unit
 * asked; anything else (an exception such as 0x0B, a wrong value, a lost
 * request) counts as bad.
 *
 *   poll HOST BASE_PORT BUSES METERS_PER_BUS SECONDS
 *
 * Bus b listens on BASE_PORT + b; its meters have IDs 1..METERS_PER_BUS.
 * Output, one line: "requests N ok N bad N cycles C seconds S"; status 0
 * when nothing was bad and every meter was read at least once.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BUSES 64

typedef struct {
    int fd;
    int unit; /* asked now */
    uint16_t tid;
    uint8_t in[64];
    size_t in_len;
    long cycles; /* full rounds over the bus's meters */
} conn_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int send_request(conn_t *c)
{
    uint8_t q[12] = {(uint8_t)(c->tid >> 8),
                     (uint8_t)c->tid,
                     0,
                     0,
                     0,
                     6,
                     (uint8_t)c->unit,
                     0x03,
                     0x40,
                     0x03,
                     0x00,
                     0x01};
    return send(c->fd, q, sizeof q, 0) == (ssize_t)sizeof q ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST BASE_PORT BUSES METERS_PER_BUS SECONDS\n", argv[0]);
        return 2;
    }
    int buses = atoi(argv[3]), per = atoi(argv[4]);
    double secs = atof(argv[5]);
    if (buses < 1 || buses > MAX_BUSES || per < 1 || per > 247)
        return 2;
    conn_t c[MAX_BUSES];
    for (int b = 0; b < buses; b++) {
        memset(&c[b], 0, sizeof c[b]);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)(atoi(argv[2]) + b))};
        inet_pton(AF_INET, argv[1], &a.sin_addr);
        c[b].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(c[b].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c[b].fd, (struct sockaddr *)&a, sizeof a) != 0) {
            fprintf(stderr, "poll: bus %d: connect: %s\n", b, strerror(errno));
            return 1;
        }
        c[b].unit = 1;
        c[b].tid = (uint16_t)(b << 10);
        if (send_request(&c[b]))
            return 1;
    }
    long requests = 0, ok = 0, bad = 0;
    double t0 = now(), end = t0 + secs;
    struct pollfd p[MAX_BUSES];
    while (now() < end) {
        for (int b = 0; b < buses; b++)
            p[b] = (struct pollfd){.fd = c[b].fd, .events = POLLIN};
        int r = poll(p, (nfds_t)buses, 100);
        if (r < 0 && errno != EINTR)
            return 1;
        for (int b = 0; b < buses && r > 0; b++) {
            if (!(p[b].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            conn_t *k = &c[b];
            ssize_t n = recv(k->fd, k->in + k->in_len, sizeof k->in - k->in_len, 0);
            if (n <= 0) {
                fprintf(stderr, "poll: bus %d: the connection closed\n", b);
                return 1;
            }
            k->in_len += (size_t)n;
            if (k->in_len < 7 || k->in_len < 6u + (size_t)(k->in[4] << 8 | k->in[5]))
                continue;
            size_t len = 6u + (size_t)(k->in[4] << 8 | k->in[5]);
            uint16_t tid = (uint16_t)(k->in[0] << 8 | k->in[1]);
            int good = len == 11 && tid == k->tid && k->in[6] == k->unit && k->in[7] == 0x03 &&
                       k->in[8] == 2 && (k->in[9] << 8 | k->in[10]) == k->unit;
            requests++;
            if (good) {
                ok++;
            } else {
                bad++;
                if (bad <= 5)
                    fprintf(stderr,
                            "poll: bus %d unit %d: bad reply (%zu bytes, function 0x%02X)\n", b,
                            k->unit, len, k->in[7]);
            }
            memmove(k->in, k->in + len, k->in_len - len);
            k->in_len -= len;
            if (++k->unit > per) {
                k->unit = 1;
                k->cycles++;
            }
            k->tid = (uint16_t)((b << 10) | ((k->tid + 1) & 0x3FF));
            if (send_request(k))
                return 1;
        }
    }
    long cycles = c[0].cycles;
    for (int b = 1; b < buses; b++)
        if (c[b].cycles < cycles)
            cycles = c[b].cycles;
    printf("requests %ld ok %ld bad %ld cycles %ld seconds %.3f\n", requests, ok, bad, cycles,
           now() - t0);
    return bad == 0 && cycles >= 1 ? 0 : 1;
}
