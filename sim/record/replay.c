/* replay: a recording fed again through the line machines (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtime.h"

/* What the recording says endpoint k's master got, in one stream. */
typedef struct {
    uint8_t *bytes;
    size_t len, got;
    size_t *rec_at;  /* for each "out" record of k: its first byte's offset */
    uint64_t *rec_n; /* ... and its number */
    size_t n_rec;
} want_t;

struct replay {
    const recfile_t *rf;
    int n;
    int *fd_run, *fd_peer;
    want_t *want;
    size_t next_in, next_ui;
    loop_t *loop;
    endpoints_t *eps;
    loop_ep_t ep; /* a time endpoint: the next input's instant */
    uint64_t t_end;
    uint64_t written_ns; /* the instant of the round whose replies are read next */
    uint64_t extra;      /* bytes sent after the recording's end (not compared) */
    bool differ;
    char msg[600];
};

static uint64_t record_of(const want_t *w, size_t at)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n_rec && w->rec_at[i] <= at; i++)
        n = w->rec_n[i];
    return n;
}

replay_t *replay_new(const recfile_t *rf, char *err, size_t errlen)
{
    replay_t *p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->rf = rf;
    p->n = rf->n_eps;
    p->fd_run = calloc((size_t)(p->n ? p->n : 1), sizeof *p->fd_run);
    p->fd_peer = calloc((size_t)(p->n ? p->n : 1), sizeof *p->fd_peer);
    p->want = calloc((size_t)(p->n ? p->n : 1), sizeof *p->want);
    if (!p->fd_run || !p->fd_peer || !p->want)
        goto oom;
    p->t_end = rf->n ? rf->e[rf->n - 1].t_ns : 0;
    for (int k = 0; k < p->n; k++) {
        int sv[2];
        /* Packets keep each recorded read whole, as the port delivered it. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
            snprintf(err, errlen, "--replay: a socket pair for endpoint %d: %s", k,
                     strerror(errno));
            for (int j = 0; j < k; j++) {
                close(p->fd_run[j]);
                close(p->fd_peer[j]);
            }
            free(p->fd_run);
            free(p->fd_peer);
            free(p->want);
            free(p);
            return NULL;
        }
        p->fd_run[k] = sv[0];
        p->fd_peer[k] = sv[1];
    }
    for (size_t i = 0; i < rf->n; i++) {
        const rec_entry_t *e = &rf->e[i];
        if (e->type != REC_OUT)
            continue;
        want_t *w = &p->want[e->ep];
        uint8_t *b = realloc(w->bytes, w->len + e->len);
        size_t *at = realloc(w->rec_at, (w->n_rec + 1) * sizeof *at);
        uint64_t *rn = at ? realloc(w->rec_n, (w->n_rec + 1) * sizeof *rn) : NULL;
        if (b)
            w->bytes = b;
        if (at)
            w->rec_at = at;
        if (rn)
            w->rec_n = rn;
        if (!b || !at || !rn)
            goto oom;
        memcpy(w->bytes + w->len, e->bytes, e->len);
        w->rec_at[w->n_rec] = w->len;
        w->rec_n[w->n_rec++] = e->n;
        w->len += e->len;
    }
    return p;
oom:
    snprintf(err, errlen, "--replay: out of memory");
    return NULL; /* the process exits: nothing to free that matters */
}

const recfile_t *replay_file(const replay_t *p)
{
    return p->rf;
}

int replay_fd(const replay_t *p, int k)
{
    return p->fd_run[k];
}

/* The next instant the recording has an input or an action. */
static void set_deadline(replay_t *p)
{
    const recfile_t *rf = p->rf;
    while (p->next_in < rf->n && rf->e[p->next_in].type != REC_IN)
        p->next_in++;
    while (p->next_ui < rf->n && rf->e[p->next_ui].type != REC_UI)
        p->next_ui++;
    uint64_t d = VTIME_NEVER;
    if (p->next_in < rf->n)
        d = rf->e[p->next_in].t_ns;
    if (p->next_ui < rf->n && rf->e[p->next_ui].t_ns < d)
        d = rf->e[p->next_ui].t_ns;
    p->ep.deadline_ns = d;
}

/* loop.h's before_poll: the inputs of this instant go into their sockets,
 * to be read in this round and stamped with it, as live. */
static void compare(replay_t *p, int k);

static void before_poll(loop_t *l, void *ctx)
{
    replay_t *p = ctx;
    const recfile_t *rf = p->rf;
    /* The runner writes replies after a round (serve(), at that round's
     * instant): they are read here, before the clock moves on. */
    for (int k = 0; k < p->n; k++)
        compare(p, k);
    p->written_ns = l->manual_ns;
    set_deadline(p);
    while (p->next_in < rf->n && rf->e[p->next_in].t_ns <= l->manual_ns) {
        const rec_entry_t *e = &rf->e[p->next_in++];
        if (e->ep < p->eps->n_serial)
            p->eps->serial[e->ep]->link.port.peer_baud = e->peer_bps;
        if (send(p->fd_peer[e->ep], e->bytes, e->len, 0) != (ssize_t)e->len && !p->differ) {
            p->differ = true;
            snprintf(p->msg, sizeof p->msg, "record %llu: its input could not be fed: %s",
                     (unsigned long long)e->n, strerror(errno));
        }
        set_deadline(p);
    }
}

void replay_attach(replay_t *p, loop_t *loop, endpoints_t *ep)
{
    p->loop = loop;
    p->eps = ep;
    loop->manual = true;
    loop->manual_ns = 0;
    loop->before_poll = before_poll;
    loop->before_poll_ctx = p;
    p->ep = (loop_ep_t){.fd = -1, .deadline_ns = VTIME_NEVER, .slot = -1};
    set_deadline(p);
    loop_add(loop, &p->ep);
}

/* What endpoint k sent since the last round, against the recording. */
static void compare(replay_t *p, int k)
{
    want_t *w = &p->want[k];
    uint8_t buf[4096];
    ssize_t n;
    while ((n = recv(p->fd_peer[k], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (p->written_ns > p->t_end) {
                p->extra++; /* the live run had stopped: not compared */
                continue;
            }
            if (p->differ)
                continue;
            if (w->got >= w->len) {
                p->differ = true;
                snprintf(p->msg, sizeof p->msg,
                         "endpoint %d: the replay sent 0x%02x at t_ns %llu after the last reply "
                         "byte of the recording (record %llu): expected nothing more",
                         k, buf[i], (unsigned long long)p->written_ns,
                         (unsigned long long)record_of(w, w->len ? w->len - 1 : 0));
            } else if (w->bytes[w->got] != buf[i]) {
                uint64_t rn = record_of(w, w->got);
                size_t first = 0;
                for (size_t j = 0; j < w->n_rec; j++)
                    if (w->rec_n[j] == rn)
                        first = w->rec_at[j];
                p->differ = true;
                snprintf(p->msg, sizeof p->msg,
                         "record %llu (out, endpoint %d): byte %zu of it is 0x%02x in the "
                         "replay, expected 0x%02x as recorded",
                         (unsigned long long)rn, k, w->got - first, buf[i], w->bytes[w->got]);
            }
            w->got++;
        }
    }
}

void replay_round(replay_t *p, runner_t *r, volatile int *stop)
{
    const recfile_t *rf = p->rf;
    /* A person's action of this instant, after its round's input (live, the
     * window is looked at after the round that woke the loop). */
    while (p->next_ui < rf->n && rf->e[p->next_ui].t_ns <= p->loop->manual_ns) {
        const rec_entry_t *e = &rf->e[p->next_ui++];
        if (e->meter >= runner_scenario(r)->n_meters) {
            if (!p->differ)
                snprintf(p->msg, sizeof p->msg, "record %llu: meter %d, expected 0 to %d",
                         (unsigned long long)e->n, e->meter, runner_scenario(r)->n_meters - 1);
            p->differ = true;
        } else if (strcmp(e->action, "button") == 0) {
            runner_button(r, e->meter, (menu_button_t)e->arg, e->value != 0);
        } else if (strcmp(e->action, "tariff_input") == 0) {
            runner_set_tariff_input(r, e->meter, e->value != 0);
        } else if (strcmp(e->action, "supply") == 0) {
            runner_set_supply(r, e->meter, e->value != 0);
        } else if (strcmp(e->action, "current") == 0) {
            runner_set_current(r, e->meter, e->arg, e->value);
        } else if (strcmp(e->action, "export") == 0) {
            runner_set_export(r, e->meter, e->arg, e->value != 0);
        }
        while (p->next_ui < rf->n && rf->e[p->next_ui].type != REC_UI)
            p->next_ui++;
    }
    set_deadline(p);
    if (p->differ)
        *stop = 1;
}

int replay_finish(replay_t *p)
{
    for (int k = 0; k < p->n && !p->differ; k++) {
        compare(p, k);
        want_t *w = &p->want[k];
        if (!p->differ && w->got < w->len) {
            p->differ = true;
            snprintf(p->msg, sizeof p->msg,
                     "record %llu (out, endpoint %d): the replay ended after %zu of the %zu reply "
                     "bytes of endpoint %d: expected the rest",
                     (unsigned long long)record_of(w, w->got), k, w->got, w->len, k);
        }
    }
    int status = p->differ ? 1 : 0;
    if (p->differ) {
        fprintf(stderr, "metersim: --replay: the replies differ: %s\n", p->msg);
    } else {
        size_t bytes = 0;
        for (int k = 0; k < p->n; k++)
            bytes += p->want[k].len;
        fprintf(stderr,
                "metersim: --replay: %zu records, %zu reply bytes on %d endpoint%s: identical\n",
                p->rf->n, bytes, p->n, p->n == 1 ? "" : "s");
    }
    for (int k = 0; k < p->n; k++) {
        close(p->fd_peer[k]);
        free(p->want[k].bytes);
        free(p->want[k].rec_at);
        free(p->want[k].rec_n);
    }
    free(p->fd_run);
    free(p->fd_peer);
    free(p->want);
    free(p);
    return status;
}
