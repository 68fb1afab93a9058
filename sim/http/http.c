/* http: the daemon, its place in the event loop, tokens, bodies and replies
 * (see http.h). */
#define _GNU_SOURCE /* accept4-style SOCK_NONBLOCK | SOCK_CLOEXEC on socket() */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

enum MHD_Result http_reply_json(struct MHD_Connection *c, unsigned status, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddNumberToObject(o, "status", status);
    return http_reply_json(c, status, o);
}

/* ---- tokens ------------------------------------------------------------- */

/* Compares in time independent of where they differ. */
static bool same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* The token of a request: "Authorization: Bearer T", "?token=T" (links, the
 * page's first load, EventSource) or the cookie the page got then. */
static bool token_ok(const http_t *h, struct MHD_Connection *c, bool *from_query)
{
    *from_query = false;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (a && strncmp(a, "Bearer ", 7) == 0 && same(a + 7, h->token))
        return true;
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (q && same(q, h->token)) {
        *from_query = true;
        return true;
    }
    const char *k = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "metersim_token");
    return k && same(k, h->token);
}

/* ---- requests ----------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    http_t *h = cls;
    http_req_t *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        h->requests++;
        /* A declared body over the bound is refused before it is read. */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
            q->too_big = true;
            return http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                    "request body of %s bytes: at most %u are taken", cl,
                                    HTTP_BODY_MAX);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!q->too_big && q->len + *upload_size <= HTTP_BODY_MAX) {
            char *b = realloc(q->body, q->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            q->body = b;
            memcpy(q->body + q->len, upload_data, *upload_size);
            q->len += *upload_size;
            q->body[q->len] = '\0';
        } else {
            q->too_big = true; /* read on and dropped, then refused */
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big)
        return http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                "request body over %u bytes: refused", HTTP_BODY_MAX);
    bool from_query = false;
    if (h->token[0] && !token_ok(h, c, &from_query))
        return http_reply_error(c, MHD_HTTP_UNAUTHORIZED,
                                "a token is needed: send \"Authorization: Bearer TOKEN\" or "
                                "?token=TOKEN (--http-token)");
    if (strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0) {
        if (!h->run)
            return http_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the run has ended");
        return api_handle(h, c, method, url, q->body ? q->body : "", q->len);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return http_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: the page takes GET", method,
                                url);
    bool found = false;
    enum MHD_Result r = static_serve(c, url, from_query ? h->token : NULL, &found);
    if (!found)
        return http_reply_error(c, MHD_HTTP_NOT_FOUND, "%s: no such file or route", url);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    http_req_t *q = *con_cls;
    if (q) {
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

/* ---- the loop ---------------------------------------------------------- */

/* The next instant MHD or a button's release needs the loop. */
static void set_deadline(http_t *h)
{
    if (!h->loop)
        return;
    uint64_t d = VTIME_NEVER;
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
        double speed = h->loop->speed > 0 ? h->loop->speed : 1.0;
        d = loop_now(h->loop) + (uint64_t)((double)ms * 1e6 * speed);
    }
    for (int i = 0; i < h->n_rel; i++)
        if (h->rel[i].at_ns < d)
            d = h->rel[i].at_ns;
    h->timer.deadline_ns = d;
}

static void mhd_io(loop_t *l, loop_ep_t *ep);

/* The loop watches exactly the descriptors MHD wants, for what it wants
 * (MHD_get_fdset2: level-triggered, so a request and the end of its
 * connection arriving together are both seen). */
static void sync_fds(http_t *h)
{
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    MHD_socket max = -1;
    if (MHD_get_fdset2(h->d, &rs, &ws, &es, &max, FD_SETSIZE) != MHD_YES)
        max = -1;
    int top = max > h->max_fd ? max : h->max_fd;
    h->max_fd = -1;
    for (int fd = 0; fd <= top; fd++) {
        loop_ep_t *ep = &h->fds[fd];
        bool r = fd <= max && FD_ISSET(fd, &rs), w = fd <= max && FD_ISSET(fd, &ws);
        if (!r && !w) {
            if (ep->slot >= 0)
                loop_remove(h->loop, ep);
            continue;
        }
        if (ep->slot < 0) {
            *ep = (loop_ep_t){.fd = fd,
                              .deadline_ns = VTIME_NEVER,
                              .on_readable = mhd_io,
                              .on_writable = mhd_io,
                              .ctx = h,
                              .slot = -1};
            if (!loop_add(h->loop, ep))
                continue; /* out of memory: MHD's timeout still runs it */
        }
        ep->want_read = r;
        ep->want_write = w;
        h->max_fd = fd;
    }
}

/* New clients, taken by the loop's accept (MHD has no listening socket): out
 * of descriptors, a client is closed at once rather than left queued with
 * the listener readable (loop_accept). A few per round, as the TCP
 * endpoints do. MHD closes a client it cannot take (its connection limit, a
 * descriptor past FD_SETSIZE). */
static void take_clients(http_t *h)
{
    for (int k = 0; k < 16; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        bool shed;
        int fd = loop_accept(h->loop, h->listen_fd, (struct sockaddr *)&ss, &sl, &shed);
        if (fd < 0 && shed) {
            if (!h->shedding)
                fprintf(stderr, "metersim: http: a client refused: %s (raise ulimit -n)\n",
                        strerror(errno));
            h->shedding = true;
            continue;
        }
        if (fd < 0)
            return;
        h->shedding = false;
        MHD_add_connection(h->d, fd, (const struct sockaddr *)&ss, sl);
    }
}

/* MHD's round: everything ready (it selects itself, with no wait), then
 * the loop's view of its descriptors and its deadline. */
static void mhd_round(http_t *h)
{
    take_clients(h);
    MHD_run(h->d);
    h->ran_wake = h->loop->wakeups;
    sync_fds(h);
    set_deadline(h);
}

/* Releases whose time has come, each at its meter's exact instant where the
 * meter has not passed it yet (a paced run). */
static void releases(http_t *h)
{
    for (int i = 0; i < h->n_rel;) {
        http_release_t *e = &h->rel[i];
        meter_t *m = runner_meter(h->run, e->meter);
        bool due =
            runner_paced(h->run) ? loop_now(h->loop) >= e->at_ns : meter_now_ns(m) >= e->at_ns;
        if (!due) {
            i++;
            continue;
        }
        runner_align_meter(h->run, e->meter, e->at_ns);
        runner_button(h->run, e->meter, e->button, false);
        h->rel[i] = h->rel[--h->n_rel];
    }
}

bool http_release_later(http_t *h, int meter, menu_button_t b, uint64_t at_ns)
{
    if (h->n_rel == HTTP_RELEASES_MAX)
        return false;
    h->rel[h->n_rel++] = (http_release_t){.meter = meter, .button = b, .at_ns = at_ns};
    set_deadline(h);
    return true;
}

/* A descriptor of MHD's is ready: one round per wake serves them all. */
static void mhd_io(loop_t *l, loop_ep_t *ep)
{
    http_t *h = ep->ctx;
    if (h->ran_wake != l->wakeups)
        mhd_round(h);
}

static void mhd_due(loop_t *l, loop_ep_t *ep, uint64_t now_ns)
{
    (void)l;
    (void)now_ns;
    http_t *h = ep->ctx;
    if (h->run)
        releases(h);
    mhd_round(h);
}

/* ---- the runner's hook ------------------------------------------------- */

static bool attach(void *ctx, runner_t *r, loop_t *l)
{
    http_t *h = ctx;
    h->watch = calloc((size_t)runner_meters(r), sizeof *h->watch);
    if (!h->watch) {
        fprintf(stderr, "metersim: --http: out of memory\n");
        return false;
    }
    h->run = r;
    h->loop = l;
    h->timer =
        (loop_ep_t){.fd = -1, .deadline_ns = VTIME_NEVER, .on_due = mhd_due, .ctx = h, .slot = -1};
    h->listener = (loop_ep_t){.fd = h->listen_fd,
                              .want_read = true,
                              .deadline_ns = VTIME_NEVER,
                              .on_readable = mhd_io,
                              .ctx = h,
                              .slot = -1};
    if (!loop_add(l, &h->timer) || !loop_add(l, &h->listener)) {
        loop_remove(l, &h->timer);
        fprintf(stderr, "metersim: --http: cannot join the event loop\n");
        h->run = NULL;
        return false;
    }
    mhd_round(h);
    return true;
}

/* The run moved: due releases, the event streams; at full speed (no loop
 * sleeps) the sockets are served here too. */
static void step(void *ctx, runner_t *r)
{
    http_t *h = ctx;
    (void)r;
    if (h->n_rel)
        releases(h);
    if (h->n_sse)
        sse_step(h);
    if (h->n_sse) {
        mhd_round(h);
    } else if (!runner_paced(h->run)) {
        /* At full speed nothing sleeps in the loop: the sockets are looked at
         * here, every HTTP_POLL_NS of wall time at most (a client waits that
         * long at worst; the run is not slowed by a syscall per step). */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wall = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        if (wall - h->polled_wall >= HTTP_POLL_NS) {
            h->polled_wall = wall;
            mhd_round(h);
        }
    }
}

static void detach(void *ctx, runner_t *r)
{
    http_t *h = ctx;
    (void)r;
    sse_close_all(h);
    MHD_run(h->d);
    for (int fd = 0; fd <= h->max_fd; fd++)
        loop_remove(h->loop, &h->fds[fd]);
    loop_remove(h->loop, &h->timer);
    loop_remove(h->loop, &h->listener);
    h->run = NULL;
    h->loop = NULL;
    h->n_rel = 0;
    free(h->watch);
    h->watch = NULL;
}

const runner_service_t *http_service(http_t *h)
{
    return &h->hook;
}

uint16_t http_port(const http_t *h)
{
    return h->port;
}

/* ---- opening ----------------------------------------------------------- */

/* [HOST:]PORT, HOST an IPv4 address, a name or [IPv6]. */
static bool parse_spec(const char *spec, char *host, size_t hcap, unsigned *port, char *err,
                       size_t errlen)
{
    const char *p = spec;
    snprintf(host, hcap, "127.0.0.1");
    if (*spec == '[') {
        const char *e = strchr(spec, ']');
        if (!e || e[1] != ':' || (size_t)(e - spec - 1) >= hcap) {
            snprintf(err, errlen, "--http %s: expected [IPV6]:PORT", spec);
            return false;
        }
        snprintf(host, hcap, "%.*s", (int)(e - spec - 1), spec + 1);
        p = e + 2;
    } else if (strchr(spec, ':')) {
        const char *e = strrchr(spec, ':');
        if (e == spec || (size_t)(e - spec) >= hcap) {
            snprintf(err, errlen, "--http %s: expected [HOST:]PORT", spec);
            return false;
        }
        snprintf(host, hcap, "%.*s", (int)(e - spec), spec);
        p = e + 1;
    }
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (!*p || *end || v > 65535) {
        snprintf(err, errlen, "--http %s: the port must be a number from 0 to 65535", spec);
        return false;
    }
    *port = (unsigned)v;
    return true;
}

static bool loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

http_t *http_open(const http_opts_t *o, char *err, size_t errlen)
{
    char host[64];
    unsigned port;
    if (!parse_spec(o->spec, host, sizeof host, &port, err, errlen))
        return NULL;
    if (o->token && (!o->token[0] || strlen(o->token) >= 256)) {
        snprintf(err, errlen, "--http-token: 1 to 255 characters");
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--http %s: %s: %s", o->spec, host, gai_strerror(gai));
        return NULL;
    }
    /* Safety (issue 16): anything but loopback needs a token. */
    if (!loopback(res->ai_addr) && !o->token) {
        freeaddrinfo(res);
        snprintf(err, errlen,
                 "--http %s: %s is not a loopback address: give --http-token TOKEN, which every "
                 "request must then present (docs/http.md)",
                 o->spec, host);
        return NULL;
    }
    int fd =
        socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1, e = 0;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        snprintf(err, errlen, "--http %s: cannot listen on %s port %u: %s", o->spec, host, port,
                 strerror(e));
        return NULL;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    http_t *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        snprintf(err, errlen, "--http: out of memory");
        return NULL;
    }
    snprintf(h->host, sizeof h->host, "%s", host);
    h->port = (uint16_t)port;
    if (o->token)
        snprintf(h->token, sizeof h->token, "%s", o->token);
    h->fds = calloc(FD_SETSIZE, sizeof *h->fds);
    if (!h->fds) {
        close(fd);
        free(h);
        snprintf(err, errlen, "--http: out of memory");
        return NULL;
    }
    for (int i = 0; i < FD_SETSIZE; i++)
        h->fds[i].slot = -1;
    h->max_fd = -1;
    h->listen_fd = fd;
    h->d = MHD_start_daemon(
        MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, h,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_IDLE_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    if (!h->d) {
        close(fd);
        free(h->fds);
        free(h);
        snprintf(err, errlen, "--http %s: libmicrohttpd could not start", o->spec);
        return NULL;
    }
    h->hook = (runner_service_t){.ctx = h, .attach = attach, .step = step, .detach = detach};
    return h;
}

void http_close(http_t *h)
{
    if (!h)
        return;
    if (h->run)
        detach(h, h->run);
    MHD_stop_daemon(h->d);
    close(h->listen_fd);
    free(h->fds);
    free(h);
}
