/* http: the twin's local web service (--http [HOST:]PORT, docs/http.md).
 *
 *   browser / curl --TCP--> libmicrohttpd (external select mode)
 *                              |  its descriptors endpoints of the run's loop (loop.h):
 *                              |  readable -> MHD_run(); its timeout -> deadline
 *                              v
 *        /           the page, embedded at build time (static_files.c)
 *        /api/...    the JSON API (api.c) --> runner.h's live controls
 *        /api/events server-sent events (sse.c), pushed at each step of the run
 *
 * No thread and no blocking call: libmicrohttpd is driven from the loop the
 * Modbus endpoints use (select mode, level-triggered: libmicrohttpd 0.9.75's
 * epoll mode misses a client's close that arrives with its last bytes), so a slow browser never
 * holds the twin back. Loopback by default; another address needs a token (--http-token) that every
 * request presents (docs/http.md, "Safety"). Request bodies are bounded (HTTP_BODY_MAX: 413
 * beyond).
 */
#ifndef METERSIM_HTTP_H
#define METERSIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runner.h"

#define HTTP_BODY_MAX (64u * 1024u)

typedef struct http http_t;

typedef struct {
    const char *spec;  /* [HOST:]PORT as given to --http */
    const char *token; /* --http-token, or NULL */
} http_opts_t;

/* Parses the spec and listens. NULL with a message in err (the caller exits
 * with status 2): a bad spec, a port that cannot be bound, or an address
 * other than loopback without a token. */
http_t *http_open(const http_opts_t *o, char *err, size_t errlen);

/* The runner's hook (runner_opts_t.service). */
const runner_service_t *http_service(http_t *h);

/* The port listened on (the one chosen for port 0). */
uint16_t http_port(const http_t *h);

void http_close(http_t *h);

#endif
