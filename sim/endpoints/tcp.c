/* tcp: listeners and client connections of the TCP endpoints (see tcp.h). */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_close(tcp_conn_t *c, const char *why, uint64_t *counter);
static void listener_readable(loop_t *l, loop_ep_t *ep);

/* What a server is before it listens: the same for a live one and a replay's. */
static void server_init(tcp_server_t *srv, loop_t *loop, const endpoint_spec_t *spec,
                        const char *line, bus_t *bus, gateway_t *gw, bool fast, uint64_t idle_ns,
                        FILE *log)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->spec = *spec;
    srv->line = line;
    srv->bus = bus;
    srv->gw = gw;
    srv->fast = fast;
    srv->idle_ns = idle_ns ? idle_ns : TCP_IDLE_DEFAULT_NS;
    srv->log = log;
    srv->ep.fd = -1;
    srv->ep.slot = -1;
}

void tcp_server_open_replay(tcp_server_t *srv, loop_t *loop, const endpoint_spec_t *spec,
                            const char *line, bus_t *bus, gateway_t *gw, bool fast,
                            uint64_t idle_ns, FILE *log)
{
    server_init(srv, loop, spec, line, bus, gw, fast, idle_ns, log);
    snprintf(srv->name, sizeof srv->name, "%s replay", line);
}

int tcp_server_open(tcp_server_t *srv, loop_t *loop, const endpoint_spec_t *spec, const char *line,
                    bus_t *bus, gateway_t *gw, bool fast, uint64_t idle_ns, FILE *log, char *err,
                    size_t errlen)
{
    server_init(srv, loop, spec, line, bus, gw, fast, idle_ns, log);

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)spec->port);
    int gai = getaddrinfo(spec->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "%s: %s", spec->host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s", spec->host, (unsigned)spec->port,
                 strerror(e));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        srv->spec.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                        : ((struct sockaddr_in *)&ss)->sin_port);
    char text[80];
    endpoint_spec_format(&srv->spec, true, text, sizeof text);
    snprintf(srv->name, sizeof srv->name, "%s %s", line, text);
    srv->ep.fd = fd;
    srv->ep.want_read = true;
    srv->ep.deadline_ns = VTIME_NEVER;
    srv->ep.ctx = srv;
    srv->ep.on_readable = listener_readable;
    if (!loop_add(loop, &srv->ep)) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- MBAP connections ---------------------------------------------------- */

/* Writes what is queued; false when the client takes too little (dropped). */
static bool mbap_flush(tcp_conn_t *c)
{
    for (;;) {
        if (c->out_off == c->out_len)
            c->out_off = c->out_len = 0;
        if (c->out_len < TCP_OUT_MAX) {
            uint64_t t;
            c->out_len +=
                modbus_tcp_tx(&c->gc.framer, c->out + c->out_len, TCP_OUT_MAX - c->out_len, &t);
        }
        if (c->out_off == c->out_len)
            break;
        ssize_t w = send(c->ep.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            return false;
        }
        record_tx(&c->rec, loop_now(c->srv->loop), c->out + c->out_off, (size_t)w); /* --record */
        c->out_off += (size_t)w;
    }
    c->ep.want_write = c->out_off < c->out_len;
    return !c->gc.overflow;
}

/* Offers buffered input to the framer, as far as it takes it. */
static void mbap_feed(tcp_conn_t *c, uint64_t now)
{
    while (c->in_off < c->in_len && modbus_tcp_rx(&c->gc.framer, c->in[c->in_off], now, false))
        c->in_off++;
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    /* Read more only when the framer has taken everything: a client that
     * floods waits in the kernel, held back by TCP itself. */
    c->ep.want_read = c->in_len == 0 && modbus_tcp_error(&c->gc.framer) == MODBUS_TCP_OK;
}

/* The gateway queued a response. The connection is not closed from inside
 * the gateway's round: a failed flush marks it, and the next service pass
 * closes it. */
static void mbap_replied(gateway_client_t *gc)
{
    tcp_conn_t *c = gc->ctx;
    if (!mbap_flush(c))
        c->gc.overflow = true;
}

/* ---- connections ------------------------------------------------------------ */

static void conn_deadline(tcp_conn_t *c)
{
    uint64_t d = c->last_ns + c->srv->idle_ns;
    if (!c->raw) {
        uint64_t f = modbus_tcp_deadline(&c->gc.framer);
        if (f < d)
            d = f;
    }
    c->ep.deadline_ns = d;
}

static void conn_close(tcp_conn_t *c, const char *why, uint64_t *counter)
{
    tcp_server_t *srv = c->srv;
    if (counter)
        (*counter)++;
    if (why && srv->log)
        fprintf(srv->log, "metersim: %s: client %s: closed: %s\n", srv->name, c->peer, why);
    if (counter == &srv->stats.closed_by_client) /* --record: the client's doing */
        record_disconnect(&c->rec, loop_woke(srv->loop));
    loop_remove(srv->loop, &c->ep);
    if (c->raw) {
        srv->stats.overruns += c->link.overruns;
        srv->stats.unread_dropped += c->link.overflow;
        link_close(&c->link);
    } else {
        gateway_detach(srv->gw, &c->gc);
        close(c->ep.fd);
    }
    for (int i = 0; i < srv->n_conns; i++)
        if (srv->conns[i] == c) {
            srv->conns[i] = srv->conns[--srv->n_conns];
            break;
        }
    free(c);
}

static void conn_readable(loop_t *l, loop_ep_t *ep)
{
    tcp_conn_t *c = ep->ctx;
    uint64_t now = loop_now(l);
    if (c->raw) {
        long n = link_receive(&c->link, loop_woke(l), c->srv->log);
        if (n < 0) {
            conn_close(c, NULL, &c->srv->stats.closed_by_client);
            return;
        }
        if (n > 0)
            c->last_ns = now;
        conn_deadline(c);
        return;
    }
    /* A request is stamped with the wake, as a link's bytes are (not after
     * the catch-up): its time on the line is then the same in a replay. */
    uint64_t woke = loop_woke(l);
    if (c->in_len == 0) {
        ssize_t n = recv(ep->fd, c->in, sizeof c->in, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(c, NULL, &c->srv->stats.closed_by_client);
            return;
        }
        if (n > 0) {
            c->in_len = (size_t)n;
            c->last_ns = now;
            record_rx(&c->rec, woke, c->in, (size_t)n, 0); /* --record */
        }
    }
    mbap_feed(c, woke);
    modbus_tcp_error_t e = modbus_tcp_error(&c->gc.framer);
    if (e != MODBUS_TCP_OK) {
        conn_close(c, modbus_tcp_strerror(e), &c->srv->stats.dropped_protocol);
        return;
    }
    gateway_poll(c->srv->gw, woke); /* with wire time off, the answer is there now */
    if (c->gc.overflow) {
        conn_close(c, "stopped reading its responses", &c->srv->stats.dropped_slow);
        return;
    }
    conn_deadline(c);
}

static void conn_writable(loop_t *l, loop_ep_t *ep)
{
    tcp_conn_t *c = ep->ctx;
    (void)l;
    if (c->raw) {
        link_writable(&c->link, loop_now(l));
        c->ep.want_write = link_blocked(&c->link);
        return;
    }
    if (!mbap_flush(c))
        conn_close(c, "stopped reading its responses", &c->srv->stats.dropped_slow);
}

static void conn_due(loop_t *l, loop_ep_t *ep, uint64_t now)
{
    tcp_conn_t *c = ep->ctx;
    (void)l;
    if (!c->raw) {
        modbus_tcp_advance(&c->gc.framer, now);
        if (modbus_tcp_error(&c->gc.framer) == MODBUS_TCP_E_STALLED) {
            conn_close(c, "sent part of a request and stopped", &c->srv->stats.dropped_stalled);
            return;
        }
    }
    if (now >= c->last_ns + c->srv->idle_ns && !(c->raw ? false : c->gc.in_flight)) {
        conn_close(c, "idle", &c->srv->stats.dropped_idle);
        return;
    }
    conn_deadline(c);
}

static void peer_name(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(buf, cap, "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(buf, cap, "[%s]:%u", host, port);
    }
}

/* A client the process had no descriptor for (loop_accept) was closed. */
static void refuse_no_fd(tcp_server_t *srv, int err)
{
    srv->stats.refused++;
    if (!srv->refusing && srv->log) {
        struct rlimit rl = {0};
        getrlimit(RLIMIT_NOFILE, &rl);
        fprintf(srv->log,
                "metersim: %s: a client refused: %s (this process may open %llu; "
                "raise it with ulimit -n)\n",
                srv->name, strerror(err), (unsigned long long)rl.rlim_cur);
    }
    srv->refusing = true;
}

static void listener_readable(loop_t *l, loop_ep_t *ep)
{
    tcp_server_t *srv = ep->ctx;
    for (int k = 0; k < 16; k++) { /* a few per round: other endpoints get their turn */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        bool shed;
        int fd = loop_accept(l, ep->fd, (struct sockaddr *)&ss, &sl, &shed);
        if (fd < 0 && shed) {
            refuse_no_fd(srv, errno);
            continue;
        }
        if (fd < 0)
            return;
        char peer[64];
        peer_name(&ss, peer, sizeof peer);
        tcp_server_adopt(srv, fd, peer);
    }
}

bool tcp_server_adopt(tcp_server_t *srv, int fd, const char *peer)
{
    loop_t *l = srv->loop;
    tcp_conn_t *c = srv->n_conns < TCP_MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        srv->stats.refused++;
        if (!srv->refusing && srv->log)
            fprintf(srv->log, "metersim: %s: client %s refused: %d clients already (the limit)\n",
                    srv->name, peer, TCP_MAX_CLIENTS);
        srv->refusing = true;
        close(fd);
        return false;
    }
    srv->refusing = false;
    srv->stats.accepted++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->srv = srv;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    uint64_t now = loop_now(l);
    c->last_ns = now;
    c->raw = srv->spec.kind != ENDPOINT_MODBUS_TCP;
    c->ep = (loop_ep_t){.fd = fd,
                        .want_read = true,
                        .ctx = c,
                        .slot = -1,
                        .on_readable = conn_readable,
                        .on_writable = conn_writable,
                        .on_due = conn_due};
    record_connect(&srv->rec, &c->rec, loop_woke(l)); /* --record */
    if (c->raw) {
        link_attach_socket(&c->link, srv->line, fd, c->peer, srv->bus, srv->fast);
        c->link.rec = &c->rec;
    } else {
        modbus_tcp_init(&c->gc.framer, NULL);
        c->gc.replied = mbap_replied;
        c->gc.ctx = c;
        c->gc.rec = &c->rec;
        if (!gateway_attach(srv->gw, &c->gc)) {
            close(fd);
            free(c);
            return false;
        }
    }
    if (!loop_add(l, &c->ep)) {
        if (c->raw)
            link_close(&c->link);
        else {
            gateway_detach(srv->gw, &c->gc);
            close(fd);
        }
        free(c);
        return false;
    }
    srv->conns[srv->n_conns++] = c;
    conn_deadline(c);
    return true;
}

uint64_t tcp_server_service(tcp_server_t *srv, uint64_t now_ns)
{
    uint64_t next = VTIME_NEVER;
    for (int i = 0; i < srv->n_conns; i++) {
        tcp_conn_t *c = srv->conns[i];
        if (!c->raw && c->gc.overflow) {
            conn_close(c, "stopped reading its responses", &srv->stats.dropped_slow);
            i--;
            continue;
        }
        if (c->raw) {
            uint64_t t = link_transmit(&c->link, now_ns);
            c->ep.want_write = link_blocked(&c->link);
            if (t < next)
                next = t;
        } else if (c->in_len) {
            /* The gateway took requests: room for more. With wire time off
             * it answers them at once, so feed and poll until the input
             * already read is used up or the framer stays full (the line is
             * busy); else a client that pipelines past the framer's queue
             * would wait for an unrelated wake-up (~100 ms) per batch. */
            for (;;) {
                size_t left = c->in_len - c->in_off;
                mbap_feed(c, now_ns);
                if (c->in_len == 0 || c->in_len - c->in_off == left || c->gc.overflow)
                    break;
                gateway_poll(srv->gw, now_ns);
            }
            /* A bad header behind the requests fed here closes the
             * connection as it does when conn_readable() finds it. */
            modbus_tcp_error_t e = modbus_tcp_error(&c->gc.framer);
            if (e != MODBUS_TCP_OK) {
                conn_close(c, modbus_tcp_strerror(e), &srv->stats.dropped_protocol);
                i--;
                continue;
            }
        }
    }
    return next;
}

void tcp_server_close(tcp_server_t *srv)
{
    while (srv->n_conns)
        conn_close(srv->conns[0], NULL, NULL);
    if (srv->ep.fd >= 0) {
        loop_remove(srv->loop, &srv->ep);
        close(srv->ep.fd);
        srv->ep.fd = -1;
    }
}
