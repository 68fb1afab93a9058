/* http_internal: what the parts of the HTTP service share (not for other
 * modules).
 *
 *   http.c           the daemon, the loop endpoint, tokens, bodies, replies
 *   api.c            the routes under /api/
 *   sse.c            server-sent events (/api/events)
 *   static_files.c   the embedded page (/)
 *   readings_json.c  the meter as JSON
 */
#ifndef METERSIM_HTTP_INTERNAL_H
#define METERSIM_HTTP_INTERNAL_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/select.h>

#include "http.h"
#include "loop.h"
#include "meter.h"

#define HTTP_SSE_MAX 32             /* event-stream clients at once */
#define HTTP_SSE_BUF (256u * 1024u) /* a client this far behind is dropped */
#define HTTP_RELEASES_MAX 16        /* button presses waiting for their release */
#define HTTP_CONNECTIONS_MAX 128    /* connections at once (MHD's limit) */
#define HTTP_IDLE_S 30              /* an idle keep-alive connection is closed */
#define HTTP_POLL_NS 2000000u       /* --speed max: the sockets every 2 ms of wall time */

/* One event-stream client. */
typedef struct {
    struct http *h;
    struct MHD_Connection *conn;
    int meter; /* -1: every meter */
    char *buf;
    size_t len, off;
    bool used, suspended, dead;
} http_sse_t;

/* The lit part of a display_t, to see a change of the glass. */
typedef struct {
    uint8_t power;
    display_field_t main, obis;
    uint32_t icons;
    bool backlight, rotated, error, menu;
} http_glass_t;

/* Per meter, what the event streams last sent. */
typedef struct {
    http_glass_t glass;
    uint64_t second;
    uint64_t pulses[3];
    bool level[3];
    bool seen;
} http_watch_t;

/* A press whose release is due at `at_ns` of meter `meter`'s time. */
typedef struct {
    int meter;
    menu_button_t button;
    uint64_t at_ns;
} http_release_t;

struct http {
    struct MHD_Daemon *d;
    char host[64];
    uint16_t port;
    char token[256]; /* "": none needed */
    runner_service_t hook;
    runner_t *run; /* while attached */
    loop_t *loop;
    int listen_fd;        /* ours: MHD gets its clients from take_clients() */
    loop_ep_t listener;   /* listen_fd in the loop */
    bool shedding;        /* out of descriptors: a burst of refusals is logged once */
    loop_ep_t timer;      /* MHD's timeout and the buttons' releases (fd -1) */
    loop_ep_t *fds;       /* [FD_SETSIZE]: an endpoint per descriptor MHD watches */
    int max_fd;           /* the highest registered, -1: none */
    uint64_t ran_wake;    /* the loop's wake at which MHD last ran */
    uint64_t polled_wall; /* --speed max: when the sockets were last looked at */
    http_sse_t sse[HTTP_SSE_MAX];
    int n_sse;
    http_watch_t *watch; /* per meter, while attached */
    http_release_t rel[HTTP_RELEASES_MAX];
    int n_rel;
    uint64_t requests;
};

/* A request's state across libmicrohttpd's calls: its body. */
typedef struct {
    char *body;
    size_t len;
    bool too_big;
    bool started;
} http_req_t;

/* Replies (they free `body`). */
enum MHD_Result http_reply_json(struct MHD_Connection *c, unsigned status, cJSON *body);
enum MHD_Result http_reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* api.c: a request under /api/ (the body complete). */
enum MHD_Result api_handle(http_t *h, struct MHD_Connection *c, const char *method, const char *url,
                           const char *body, size_t len);

/* sse.c */
enum MHD_Result sse_open(http_t *h, struct MHD_Connection *c, int meter);
void sse_step(http_t *h);
void sse_close_all(http_t *h);

/* static_files.c: a file of the page (*found false: none by that path);
 * `cookie`: a token to hand the browser as a cookie, or NULL. */
enum MHD_Result static_serve(struct MHD_Connection *c, const char *url, const char *cookie,
                             bool *found);

/* http.c: schedules a button's release. False when too many wait. */
bool http_release_later(http_t *h, int meter, menu_button_t b, uint64_t at_ns);

#endif
