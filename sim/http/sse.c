/* sse: server-sent events on /api/events (docs/http.md, "Events").
 *
 *   run step --> sse_step(): per meter watched, what changed since the last
 *                step --> "lcd" (the glass changed), "readings" (a new
 *                simulated second), "indicators" (S0-1, S0-2, LED pulsed or
 *                changed level) --> each client's buffer --> resumed
 *   libmicrohttpd --> reader(): copies the buffer out; empty: suspends the
 *                connection until the next event (no polling, no thread)
 *
 * A client whose buffer passes HTTP_SSE_BUF (it reads slower than the run
 * produces, e.g. readings of a run at full speed) is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "readings_json.h"

static void append(http_sse_t *s, const char *event, const char *data)
{
    if (s->dead)
        return;
    size_t need = strlen(event) + strlen(data) + 20;
    if (s->off == s->len)
        s->off = s->len = 0;
    if (s->len + need > HTTP_SSE_BUF) {
        s->dead = true; /* too far behind */
    } else {
        char *b = realloc(s->buf, s->len + need);
        if (!b) {
            s->dead = true;
        } else {
            s->buf = b;
            s->len +=
                (size_t)snprintf(s->buf + s->len, need, "event: %s\ndata: %s\n\n", event, data);
        }
    }
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_sse_t *s = cls;
    if (s->dead)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->off == s->len) {
        s->suspended = true; /* until the next event (append) */
        MHD_suspend_connection(s->conn);
        return 0;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void reader_free(void *cls)
{
    http_sse_t *s = cls;
    free(s->buf);
    s->h->n_sse--;
    memset(s, 0, sizeof *s);
}

/* Sends `event` about meter k to every client that follows it. */
static void broadcast(http_t *h, int k, const char *event, cJSON *data)
{
    cJSON_AddNumberToObject(data, "meter", k);
    char *text = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    if (!text)
        return;
    for (int i = 0; i < HTTP_SSE_MAX; i++)
        if (h->sse[i].used && (h->sse[i].meter < 0 || h->sse[i].meter == k))
            append(&h->sse[i], event, text);
    free(text);
}

static void glass_of(const display_t *d, http_glass_t *g)
{
    memset(g, 0, sizeof *g);
    g->power = d->power;
    g->main = d->main;
    g->obis = d->obis;
    g->icons = d->icons;
    g->backlight = d->backlight;
    g->rotated = d->rotated;
    g->error = d->error;
    g->menu = d->menu;
}

static cJSON *indicators(const readings_t *r)
{
    cJSON *o = cJSON_CreateObject();
    static const char *const names[] = {"s0_1", "s0_2", "led"};
    for (int i = 0; i < 3; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddBoolToObject(x, "on", r->pulse_level[i]);
        cJSON_AddNumberToObject(x, "pulses", (double)r->pulses[i]);
        cJSON_AddItemToObject(o, names[i], x);
    }
    return o;
}

/* What meter k shows now against what its clients last got. */
static void watch_meter(http_t *h, int k)
{
    http_watch_t *w = &h->watch[k];
    meter_t *m = runner_meter(h->run, k);
    const display_t *d = meter_display(m);
    http_glass_t g;
    glass_of(d, &g);
    if (!w->seen || memcmp(&g, &w->glass, sizeof g) != 0) {
        w->glass = g;
        broadcast(h, k, "lcd", rj_lcd(d));
    }
    uint64_t now = meter_now_ns(m);
    readings_t r;
    bool need_r = !w->seen || now / VTIME_NS_PER_S != w->second;
    meter_readings(m, &r);
    if (need_r) {
        w->second = now / VTIME_NS_PER_S;
        broadcast(h, k, "readings", rj_readings(&r, now));
    }
    bool changed = !w->seen;
    for (int i = 0; i < 3; i++)
        changed = changed || r.pulses[i] != w->pulses[i] || r.pulse_level[i] != w->level[i];
    if (changed) {
        memcpy(w->pulses, r.pulses, sizeof w->pulses);
        memcpy(w->level, r.pulse_level, sizeof w->level);
        broadcast(h, k, "indicators", indicators(&r));
    }
    w->seen = true;
}

void sse_step(http_t *h)
{
    int n = runner_meters(h->run);
    bool all = false;
    for (int i = 0; i < HTTP_SSE_MAX && !all; i++)
        all = h->sse[i].used && h->sse[i].meter < 0;
    for (int k = 0; k < n; k++) {
        bool want = all;
        for (int i = 0; i < HTTP_SSE_MAX && !want; i++)
            want = h->sse[i].used && h->sse[i].meter == k;
        if (want)
            watch_meter(h, k);
    }
}

enum MHD_Result sse_open(http_t *h, struct MHD_Connection *c, int meter)
{
    http_sse_t *s = NULL;
    for (int i = 0; i < HTTP_SSE_MAX && !s; i++)
        if (!h->sse[i].used)
            s = &h->sse[i];
    if (!s)
        return http_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "%d event streams are open already: close one", HTTP_SSE_MAX);
    *s = (http_sse_t){.h = h, .conn = c, .meter = meter, .used = true};
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, reader_free);
    if (!r) {
        memset(s, 0, sizeof *s);
        return MHD_NO;
    }
    h->n_sse++;
    /* A new client gets the present state at once: every meter it follows
     * is sent in full at the next step. */
    for (int k = 0; k < runner_meters(h->run); k++)
        if (meter < 0 || meter == k)
            h->watch[k].seen = false;
    append(s, "hello", "{\"events\":[\"lcd\",\"readings\",\"indicators\"]}");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

void sse_close_all(http_t *h)
{
    for (int i = 0; i < HTTP_SSE_MAX; i++) {
        http_sse_t *s = &h->sse[i];
        if (!s->used)
            continue;
        s->dead = true;
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
}
