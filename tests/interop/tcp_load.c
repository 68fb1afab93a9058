/* tcp_load: many Modbus TCP clients at once against one endpoint (a gateway
 * with several meters behind it), checking that every reply is the right one:
 * its transaction id, its unit id and its content match the request it
 * answers; none lost, none crossed between connections or units.
 *
 *   tcp_load [-p DEPTH] [-t TIMEOUT_MS] [-I] HOST PORT CLIENTS REQUESTS UNIT...
 *
 *   CLIENTS threads (pthreads), each with its own TCP connection, all
 *   connected before any sends (a barrier), each sending REQUESTS read
 *   requests (FC03). Request i of client c goes to unit UNIT[(c + i) % U]
 *   and reads block (i / U + c) % 4 of:
 *
 *     block  registers     expected words (unit k, docs/modbus.md A3.2)
 *       0    0x4003 x1     k                        (Modbus ID)
 *       1    0x4000 x4     0000 BCD(k) .... k       (serial, meter code, ID)
 *       2    0x4001 x3     BCD(k) .... k
 *       3    0x4000 x52    0000 BCD(k) .... k ...   (the whole 0x4000 block)
 *
 *   so every unit is read with every block. The ID register (0x4003) must
 *   hold k; the serial number (0x4000-0x4001, BCD) must be 0000000k, as in
 *   the test's scenario (serial "0000000k" for the meter with ID k); -I
 *   checks the ID only (for meters with other serial numbers).
 *
 *   -p DEPTH     requests in flight per connection (default 1: each request
 *                sent only after the previous reply; up to 16, pipelined)
 *   -t TIMEOUT   ms without a reply, while one is awaited, after which the
 *                connection's unanswered and unsent requests count as lost
 *                (default 5000)
 *
 * Transaction ids: (client & 0x3F) << 10 | (request & 0x3FF), so ids are
 * distinct among the requests in flight on a connection and say which
 * connection a request came from (for up to 64 clients).
 *
 * Each reply counts once, in the first class that fits:
 *   wrong_tid    its transaction id is none of the requests in flight (it is
 *                then taken as the reply to the oldest one)
 *   wrong_unit   its unit id is not the request's
 *   wrong_value  not a well-formed FC03 reply of the right length (an
 *                exception, a bad MBAP header), or the ID / serial words
 *                are not the unit's
 *   ok           all of it right
 * and requests never answered (time-out, connection closed or refused) are
 * lost. A reply when none is in flight (also: bytes after the last reply,
 * read until the server closes after our half-close) counts as wrong_tid
 * too, so the classes may then add up to more than requests. reordered counts ok replies that came
 * before an older request's (MBAP allows it; the twin's gateway answers in order).
 *
 * Output, one line:
 *   "requests N ok N wrong_tid N wrong_unit N wrong_value N lost N seconds S reordered N rps R"
 * with the first problems on standard error. Exit status 0 only when every
 * request got its right reply (ok = requests).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 16
#define MAX_UNITS 256
#define MAX_CLIENTS 1024
#define ADU_MAX 260
#define MAX_NOTES 20 /* problems printed per run */

typedef struct {
    uint16_t address, count;
} block_t;

static const block_t BLOCKS[] = {{0x4003, 1}, {0x4000, 4}, {0x4001, 3}, {0x4000, 0x34}};
#define N_BLOCKS (sizeof BLOCKS / sizeof BLOCKS[0])

typedef struct {
    long ok, wrong_tid, wrong_unit, wrong_value, lost, reordered;
} counts_t;

typedef struct {
    uint16_t tid;
    uint8_t unit;
    uint8_t block;
    long index;
} pending_t;

/* Shared, read-only once the threads run (but the notes counter). */
typedef struct {
    const char *host, *port;
    int clients;
    long requests;
    int units[MAX_UNITS];
    int n_units;
    int depth;
    int timeout_ms;
    int check_serial;
    pthread_barrier_t go;
    pthread_mutex_t note_lock;
    int notes;
} run_t;

typedef struct {
    run_t *run;
    int index;
    counts_t n;
} client_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A problem, on standard error: the first MAX_NOTES of a run. */
static void note(run_t *r, int client, const char *fmt, ...)
{
    pthread_mutex_lock(&r->note_lock);
    if (r->notes < MAX_NOTES) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "tcp_load: client %d: ", client);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    } else if (r->notes == MAX_NOTES) {
        fprintf(stderr, "tcp_load: (further problems not shown)\n");
    }
    r->notes++;
    pthread_mutex_unlock(&r->note_lock);
}

static uint16_t bcd(int n)
{
    uint16_t v = 0;
    for (int shift = 0; n > 0 && shift < 16; shift += 4, n /= 10)
        v |= (uint16_t)((n % 10) << shift);
    return v;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int connect_to(const char *host, const char *port, char *why, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0) {
        snprintf(why, cap, "%s:%s: %s", host, port, gai_strerror(e));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        snprintf(why, cap, "connect %s:%s: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Request i of client c: its unit, block and transaction id. */
static pending_t request_of(const run_t *r, int c, long i)
{
    pending_t p;
    p.index = i;
    p.unit = (uint8_t)r->units[(c + i) % r->n_units];
    p.block = (uint8_t)((i / r->n_units + c) % (long)N_BLOCKS);
    p.tid = (uint16_t)(((unsigned)c & 0x3Fu) << 10 | ((unsigned long)i & 0x3FFu));
    return p;
}

static size_t encode(const pending_t *p, uint8_t *out)
{
    const block_t *b = &BLOCKS[p->block];
    /* MBAP: tid, protocol 0, length 6 (unit + 5 PDU bytes), unit; PDU 03 addr count */
    out[0] = (uint8_t)(p->tid >> 8);
    out[1] = (uint8_t)p->tid;
    out[2] = 0;
    out[3] = 0;
    out[4] = 0;
    out[5] = 6;
    out[6] = p->unit;
    out[7] = 0x03;
    out[8] = (uint8_t)(b->address >> 8);
    out[9] = (uint8_t)b->address;
    out[10] = (uint8_t)(b->count >> 8);
    out[11] = (uint8_t)b->count;
    return 12;
}

/* The words of block b that must hold unit k's ID / serial, checked in a
 * reply's register data. NULL when right, else what is wrong. */
static const char *check_words(const run_t *r, const pending_t *p, const uint8_t *data, char *why,
                               size_t cap)
{
    const block_t *b = &BLOCKS[p->block];
    for (unsigned w = 0; w < b->count; w++) {
        unsigned a = b->address + w;
        uint16_t got = be16(data + 2 * w), want;
        if (a == 0x4003)
            want = p->unit;
        else if (a == 0x4000 && r->check_serial)
            want = 0;
        else if (a == 0x4001 && r->check_serial)
            want = bcd(p->unit);
        else
            continue;
        if (got != want) {
            snprintf(why, cap, "0x%04X reads 0x%04X, want 0x%04X", a, got, want);
            return why;
        }
    }
    return NULL;
}

/* One reply (a whole ADU, header checked) against the requests in flight;
 * the request it answers leaves `fly`. */
static void judge(client_t *cl, pending_t *fly, int *n_fly, const uint8_t *adu, size_t len)
{
    run_t *r = cl->run;
    uint16_t tid = be16(adu);
    uint8_t unit = adu[6];
    int k = 0;
    while (k < *n_fly && fly[k].tid != tid)
        k++;
    int tid_ok = k < *n_fly;
    if (!tid_ok)
        k = 0; /* taken as the reply to the oldest */
    pending_t p = fly[k];
    memmove(&fly[k], &fly[k + 1], (size_t)(*n_fly - k - 1) * sizeof *fly);
    (*n_fly)--;

    const block_t *b = &BLOCKS[p.block];
    char why[96];
    const char *bad = NULL;
    if (len < 9 || adu[7] != 0x03) {
        if (len >= 9 && adu[7] == 0x83)
            snprintf(why, sizeof why, "exception 0x%02X", adu[8]);
        else
            snprintf(why, sizeof why, "function 0x%02X, %zu bytes", len > 7 ? adu[7] : 0, len);
        bad = why;
    } else if (adu[8] != 2 * b->count || len != 9u + 2u * b->count) {
        snprintf(why, sizeof why, "byte count %u in %zu bytes, want %u", adu[8], len,
                 2u * b->count);
        bad = why;
    } else {
        bad = check_words(r, &p, adu + 9, why, sizeof why);
    }

    if (!tid_ok) {
        cl->n.wrong_tid++;
        note(r, cl->index,
             "reply with tid 0x%04X (unit %u): no request in flight has it; the oldest"
             " has 0x%04X",
             tid, unit, p.tid);
    } else if (unit != p.unit) {
        cl->n.wrong_unit++;
        note(r, cl->index, "request %ld (tid 0x%04X) to unit %u answered by unit %u", p.index,
             p.tid, p.unit, unit);
    } else if (bad) {
        cl->n.wrong_value++;
        note(r, cl->index, "request %ld (tid 0x%04X, unit %u, 03 0x%04X x%u): %s", p.index, p.tid,
             p.unit, b->address, b->count, bad);
    } else {
        cl->n.ok++;
        if (k > 0)
            cl->n.reordered++;
    }
}

static void *client_main(void *arg)
{
    client_t *cl = arg;
    run_t *r = cl->run;
    char why[160] = "";
    int fd = connect_to(r->host, r->port, why, sizeof why);
    pthread_barrier_wait(&r->go);
    if (fd < 0) {
        note(r, cl->index, "%s", why);
        cl->n.lost = r->requests;
        return NULL;
    }
    pending_t fly[MAX_DEPTH];
    int n_fly = 0;
    long sent = 0, answered = 0;
    uint8_t in[4 * ADU_MAX + 4096];
    size_t have = 0;
    const char *end = NULL;
    while (answered < r->requests) {
        uint8_t out[MAX_DEPTH * 12];
        size_t n_out = 0;
        while (sent < r->requests && n_fly < r->depth) {
            fly[n_fly] = request_of(r, cl->index, sent++);
            n_out += encode(&fly[n_fly++], out + n_out);
        }
        if (n_out && send_all(fd, out, n_out) != 0) {
            snprintf(why, sizeof why, "send: %s", strerror(errno));
            end = why;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int k = poll(&pfd, 1, r->timeout_ms);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0) {
            snprintf(why, sizeof why, "no reply for %d ms (%d in flight)", r->timeout_ms, n_fly);
            end = why;
            break;
        }
        ssize_t got = recv(fd, in + have, sizeof in - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf(why, sizeof why, "%s",
                     got == 0 ? "the server closed the connection" : strerror(errno));
            end = why;
            break;
        }
        have += (size_t)got;
        size_t at = 0;
        while (have - at >= 7) {
            const uint8_t *h = in + at;
            uint16_t proto = be16(h + 2), len = be16(h + 4);
            if (proto != 0 || len < 2 || len > 254) {
                snprintf(why, sizeof why, "bad MBAP header: protocol 0x%04X, length %u", proto,
                         len);
                end = why;
                break;
            }
            if (have - at < 6u + len)
                break;
            if (n_fly == 0) {
                cl->n.wrong_tid++;
                note(r, cl->index, "a reply (tid 0x%04X) with no request in flight", be16(h));
            } else {
                judge(cl, fly, &n_fly, h, 6u + len);
                answered++;
            }
            at += 6u + len;
        }
        if (end)
            break;
        memmove(in, in + at, have - at);
        have -= at;
    }
    if (end) {
        cl->n.lost += r->requests - answered;
        note(r, cl->index, "%s: %ld requests lost", end, r->requests - answered);
    } else {
        /* All answered: nothing more may come. Half-close and read to the
         * server's end of stream (500 ms at most): a byte is a reply to no
         * request. */
        shutdown(fd, SHUT_WR);
        size_t extra = have;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        while (poll(&pfd, 1, 500) > 0) {
            ssize_t got = recv(fd, in, sizeof in, 0);
            if (got <= 0)
                break;
            extra += (size_t)got;
        }
        if (extra) {
            cl->n.wrong_tid++;
            note(r, cl->index, "%zu bytes after the last reply, with no request in flight", extra);
        }
    }
    close(fd);
    return NULL;
}

static int usage(const char *me)
{
    fprintf(stderr,
            "usage: %s [-p DEPTH] [-t TIMEOUT_MS] [-I] HOST PORT CLIENTS REQUESTS UNIT...\n", me);
    return 2;
}

int main(int argc, char **argv)
{
    static run_t r = {.depth = 1, .timeout_ms = 5000, .check_serial = 1};
    int opt;
    while ((opt = getopt(argc, argv, "p:t:I")) != -1) {
        switch (opt) {
        case 'p':
            r.depth = atoi(optarg);
            break;
        case 't':
            r.timeout_ms = atoi(optarg);
            break;
        case 'I':
            r.check_serial = 0;
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (argc - optind < 5)
        return usage(argv[0]);
    r.host = argv[optind];
    r.port = argv[optind + 1];
    r.clients = atoi(argv[optind + 2]);
    r.requests = atol(argv[optind + 3]);
    for (int i = optind + 4; i < argc; i++) {
        int u = atoi(argv[i]);
        if (u < 0 || u > 255 || r.n_units == MAX_UNITS) {
            fprintf(stderr, "tcp_load: unit %s: 0-255, at most %d of them\n", argv[i], MAX_UNITS);
            return 2;
        }
        r.units[r.n_units++] = u;
    }
    if (r.clients < 1 || r.clients > MAX_CLIENTS || r.requests < 1 || r.depth < 1 ||
        r.depth > MAX_DEPTH || r.timeout_ms < 1) {
        fprintf(stderr, "tcp_load: CLIENTS 1-%d, REQUESTS >= 1, DEPTH 1-%d, TIMEOUT >= 1 ms\n",
                MAX_CLIENTS, MAX_DEPTH);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&r.note_lock, NULL);
    pthread_barrier_init(&r.go, NULL, (unsigned)r.clients + 1);
    client_t *cl = calloc((size_t)r.clients, sizeof *cl);
    pthread_t *th = calloc((size_t)r.clients, sizeof *th);
    if (!cl || !th)
        return 1;
    int started = 0;
    for (int c = 0; c < r.clients; c++) {
        cl[c] = (client_t){.run = &r, .index = c};
        if (pthread_create(&th[c], NULL, client_main, &cl[c]) != 0) {
            fprintf(stderr, "tcp_load: cannot start thread %d\n", c);
            return 1; /* the others wait at the barrier forever: end the process */
        }
        started++;
    }
    pthread_barrier_wait(&r.go);
    double t0 = now();
    counts_t sum = {0};
    for (int c = 0; c < started; c++) {
        pthread_join(th[c], NULL);
        sum.ok += cl[c].n.ok;
        sum.wrong_tid += cl[c].n.wrong_tid;
        sum.wrong_unit += cl[c].n.wrong_unit;
        sum.wrong_value += cl[c].n.wrong_value;
        sum.lost += cl[c].n.lost;
        sum.reordered += cl[c].n.reordered;
    }
    double secs = now() - t0;
    long total = (long)r.clients * r.requests;
    printf("requests %ld ok %ld wrong_tid %ld wrong_unit %ld wrong_value %ld lost %ld seconds %.3f"
           " reordered %ld rps %.0f\n",
           total, sum.ok, sum.wrong_tid, sum.wrong_unit, sum.wrong_value, sum.lost, secs,
           sum.reordered, secs > 0 ? (double)(total - sum.lost) / secs : 0.0);
    pthread_barrier_destroy(&r.go);
    pthread_mutex_destroy(&r.note_lock);
    free(cl);
    free(th);
    return sum.ok == total && sum.wrong_tid == 0 ? 0 : 1;
}
