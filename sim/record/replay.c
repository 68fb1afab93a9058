/* replay: a recording fed again through the line machines (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtime.h"

/* One master's side: a serial endpoint (conn -1) or a TCP connection. What
 * the recording says it got is one stream of bytes; what the replay sends it
 * is read from peer_fd and compared. */
typedef struct {
    int ep, conn;
    int peer_fd; /* ours; -1: not (or no longer) connected */
    uint8_t *bytes;
    size_t len, got;
    size_t *rec_at;  /* for each "out" record: its first byte's offset */
    uint64_t *rec_n; /* ... and its number */
    size_t n_rec;
} stream_t;

struct replay {
    const recfile_t *rf;
    int n_eps;
    int *fd_run; /* per endpoint: the runner's end (serial), -1 for TCP */
    stream_t *st;
    size_t n_st;
    size_t next_in, next_ui;
    loop_t *loop;
    endpoints_t *eps;
    tcp_server_t **srv; /* per endpoint: its server (TCP), else NULL */
    serial_ep_t **ser;  /* per endpoint: its port (serial), else NULL */
    loop_ep_t ep;       /* a time endpoint: the next input's instant */
    uint64_t t_end;
    uint64_t written_ns; /* the instant of the round whose replies are read next */
    uint64_t extra;      /* bytes sent after the recording's end (not compared) */
    unsigned late;       /* actions a meter got after its recorded time (told once) */
    bool differ;
    char msg[600];
};

static stream_t *stream_of(replay_t *p, int ep, int conn)
{
    for (size_t i = 0; i < p->n_st; i++)
        if (p->st[i].ep == ep && p->st[i].conn == conn)
            return &p->st[i];
    stream_t *ns = realloc(p->st, (p->n_st + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    p->st = ns;
    p->st[p->n_st] = (stream_t){.ep = ep, .conn = conn, .peer_fd = -1};
    return &p->st[p->n_st++];
}

static uint64_t record_of(const stream_t *w, size_t at)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n_rec && w->rec_at[i] <= at; i++)
        n = w->rec_n[i];
    return n;
}

/* "endpoint 1" or "endpoint 1, connection 0", for messages. */
static void stream_name(const stream_t *w, char *buf, size_t cap)
{
    if (w->conn < 0)
        snprintf(buf, cap, "endpoint %d", w->ep);
    else
        snprintf(buf, cap, "endpoint %d, connection %d", w->ep, w->conn);
}

replay_t *replay_new(const recfile_t *rf, char *err, size_t errlen)
{
    replay_t *p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->rf = rf;
    p->n_eps = rf->n_eps;
    size_t n = (size_t)(rf->n_eps ? rf->n_eps : 1);
    p->fd_run = calloc(n, sizeof *p->fd_run);
    p->srv = calloc(n, sizeof *p->srv);
    p->ser = calloc(n, sizeof *p->ser);
    if (!p->fd_run || !p->srv || !p->ser)
        goto oom;
    p->t_end = rf->n ? rf->e[rf->n - 1].t_ns : 0;
    for (int k = 0; k < p->n_eps; k++) {
        p->fd_run[k] = -1;
        if (rf->eps[k].tcp)
            continue; /* its connections get theirs when they come */
        int sv[2];
        stream_t *w = stream_of(p, k, -1);
        /* Packets keep each recorded read whole, as the port delivered it. */
        if (!w || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
            snprintf(err, errlen, "--replay: a socket pair for endpoint %d: %s", k,
                     strerror(errno));
            return NULL; /* the process exits */
        }
        p->fd_run[k] = sv[0];
        w->peer_fd = sv[1];
    }
    for (size_t i = 0; i < rf->n; i++) {
        const rec_entry_t *e = &rf->e[i];
        if (e->type != REC_OUT)
            continue;
        stream_t *w = stream_of(p, e->ep, e->conn);
        if (!w)
            goto oom;
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

static bool is_input(rec_type_t t)
{
    return t == REC_IN || t == REC_CONNECT || t == REC_CLOSE;
}

/* When an action is applied: at its meter's time, or at the wake it
 * followed if that came first (the meter was up to a tick ahead). */
static uint64_t ui_ns(const rec_entry_t *e)
{
    return e->at_ns < e->t_ns ? e->at_ns : e->t_ns;
}

/* The next instant the recording has an input or an action. */
static void set_deadline(replay_t *p)
{
    const recfile_t *rf = p->rf;
    while (p->next_in < rf->n && !is_input(rf->e[p->next_in].type))
        p->next_in++;
    while (p->next_ui < rf->n && rf->e[p->next_ui].type != REC_UI)
        p->next_ui++;
    uint64_t d = VTIME_NEVER;
    if (p->next_in < rf->n)
        d = rf->e[p->next_in].t_ns;
    if (p->next_ui < rf->n && ui_ns(&rf->e[p->next_ui]) < d)
        d = ui_ns(&rf->e[p->next_ui]);
    p->ep.deadline_ns = d;
}

/* What a stream was sent since the last round, against the recording. */
static void compare(replay_t *p, stream_t *w)
{
    uint8_t buf[4096];
    ssize_t n;
    char name[64];
    while (w->peer_fd >= 0 && (n = recv(w->peer_fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (p->written_ns > p->t_end) {
                p->extra++; /* the live run had stopped: not compared */
                continue;
            }
            if (p->differ)
                continue;
            stream_name(w, name, sizeof name);
            if (w->got >= w->len) {
                p->differ = true;
                snprintf(p->msg, sizeof p->msg,
                         "%s: the replay sent 0x%02x at t_ns %llu after the last reply byte of "
                         "the recording (record %llu): expected nothing more",
                         name, buf[i], (unsigned long long)p->written_ns,
                         (unsigned long long)record_of(w, w->len ? w->len - 1 : 0));
            } else if (w->bytes[w->got] != buf[i]) {
                uint64_t rn = record_of(w, w->got);
                size_t first = 0;
                for (size_t j = 0; j < w->n_rec; j++)
                    if (w->rec_n[j] == rn)
                        first = w->rec_at[j];
                p->differ = true;
                snprintf(p->msg, sizeof p->msg,
                         "record %llu (out, %s): byte %zu of it is 0x%02x in the replay, "
                         "expected 0x%02x as recorded",
                         (unsigned long long)rn, name, w->got - first, buf[i], w->bytes[w->got]);
            }
            w->got++;
        }
    }
}

static void fail_at(replay_t *p, const rec_entry_t *e, const char *what)
{
    if (!p->differ)
        snprintf(p->msg, sizeof p->msg, "record %llu: %s", (unsigned long long)e->n, what);
    p->differ = true;
}

/* One recorded input, at its instant. */
static void feed(replay_t *p, const rec_entry_t *e)
{
    stream_t *w = stream_of(p, e->ep, e->conn);
    if (!w) {
        fail_at(p, e, "out of memory");
        return;
    }
    if (e->type == REC_CONNECT) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
            fail_at(p, e, strerror(errno));
            return;
        }
        w->peer_fd = sv[1];
        if (!p->srv[e->ep] || !tcp_server_adopt(p->srv[e->ep], sv[0], "replay"))
            fail_at(p, e, "the connection was refused in the replay, accepted live");
    } else if (e->type == REC_CLOSE) {
        compare(p, w); /* what it was sent before it closed */
        if (w->peer_fd >= 0)
            close(w->peer_fd);
        w->peer_fd = -1;
    } else {
        if (p->ser[e->ep])
            p->ser[e->ep]->link.port.peer_baud = e->peer_bps;
        if (w->peer_fd < 0 || send(w->peer_fd, e->bytes, e->len, 0) != (ssize_t)e->len)
            fail_at(p, e, "its input could not be fed: the connection is closed in the replay");
    }
}

/* loop.h's before_poll: the replies of the last round are read, then the
 * inputs of this instant go into their sockets, to be read in this round
 * and stamped with it, as live. */
static void before_poll(loop_t *l, void *ctx)
{
    replay_t *p = ctx;
    const recfile_t *rf = p->rf;
    /* The runner writes replies after a round (serve(), at that round's
     * instant): they are read here, before the clock moves on. */
    for (size_t i = 0; i < p->n_st; i++)
        compare(p, &p->st[i]);
    p->written_ns = l->manual_ns;
    set_deadline(p);
    while (p->next_in < rf->n && rf->e[p->next_in].t_ns <= l->manual_ns) {
        feed(p, &rf->e[p->next_in++]);
        set_deadline(p);
    }
}

void replay_attach(replay_t *p, loop_t *loop, endpoints_t *ep)
{
    p->loop = loop;
    p->eps = ep;
    /* The endpoints were opened in the recording's order: each a port or a
     * TCP server. */
    int s = 0, t = 0;
    for (int k = 0; k < p->n_eps; k++) {
        if (p->rf->eps[k].tcp && t < ep->n_tcp)
            p->srv[k] = ep->tcp[t++];
        else if (!p->rf->eps[k].tcp && s < ep->n_serial)
            p->ser[k] = ep->serial[s++];
        if (p->srv[k])
            p->srv[k]->rec.ep = k; /* its connections' numbers, as recorded */
    }
    /* Version 2 says when each Modbus TCP request went on the line: the
     * gateways wait for that, as live they waited for the host to look.
     * Each gets its starts, in the order they were made, before the run:
     * a start is stamped when the host made it, which may be later than
     * inputs of the same wake that are recorded after it. */
    for (int i = 0; p->rf->version >= 2 && i < ep->n_gws; i++)
        ep->gws[i]->gated = true;
    for (size_t i = 0; p->rf->version >= 2 && i < p->rf->n; i++) {
        const rec_entry_t *e = &p->rf->e[i];
        if (e->type != REC_START)
            continue;
        if (!p->srv[e->ep] || !p->srv[e->ep]->gw ||
            !gateway_release(p->srv[e->ep]->gw, e->ep, e->conn, e->t_ns, e->n))
            fail_at(p, e, "its request cannot be started: no gateway for it in the replay");
    }
    loop->manual = true;
    loop->manual_ns = 0;
    loop->before_poll = before_poll;
    loop->before_poll_ctx = p;
    p->ep = (loop_ep_t){.fd = -1, .deadline_ns = VTIME_NEVER, .slot = -1};
    set_deadline(p);
    loop_add(loop, &p->ep);
}

static bool replay_control(runner_t *r, const rec_entry_t *e);

void replay_round(replay_t *p, runner_t *r, volatile int *stop)
{
    const recfile_t *rf = p->rf;
    /* A person's action of this instant, after its round's input (live, the
     * window is looked at after the round that woke the loop). */
    while (p->next_ui < rf->n && ui_ns(&rf->e[p->next_ui]) <= p->loop->manual_ns) {
        const rec_entry_t *e = &rf->e[p->next_ui++];
        if (e->meter < runner_scenario(r)->n_meters) {
            /* At the meter's own time, as live; a meter already past it
             * (moved on by its bus's traffic) takes it late. */
            runner_align_meter(r, e->meter, e->at_ns);
            if (meter_now_ns(runner_meter(r, e->meter)) != e->at_ns && !p->late++)
                fprintf(stderr,
                        "metersim: --replay: record %llu: the window's action reaches meter %d "
                        "at %llu ns, recorded at %llu ns\n",
                        (unsigned long long)e->n, e->meter,
                        (unsigned long long)meter_now_ns(runner_meter(r, e->meter)),
                        (unsigned long long)e->at_ns);
        }
        if (e->meter >= runner_scenario(r)->n_meters) {
            fail_at(p, e, "a window action on a meter the scenario does not have");
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
        } else if (!replay_control(r, e)) {
            fail_at(p, e, "an action this metersim does not know");
        }
        while (p->next_ui < rf->n && rf->e[p->next_ui].type != REC_UI)
            p->next_ui++;
    }
    /* A request the recording started by now that is not on the line: the
     * replay went another way (the line busy, or no such request). */
    for (int i = 0; i < p->eps->n_gws && !p->differ; i++) {
        uint64_t tag;
        if (gateway_overdue(p->eps->gws[i], p->loop->manual_ns, &tag)) {
            p->differ = true;
            snprintf(p->msg, sizeof p->msg,
                     "record %llu (start): its Modbus TCP request could not go on the line at "
                     "the recorded instant (the line was busy, or the request was not there)",
                     (unsigned long long)tag);
        }
    }
    set_deadline(p);
    if (p->differ)
        *stop = 1;
}

/* The HTTP service's changes (sim/run/controls.c); false: not one of them. */
static bool replay_control(runner_t *r, const rec_entry_t *e)
{
    int k = e->meter, a = e->arg;
    bool phase = a >= 0 && a < 3;
    if (strcmp(e->action, "voltage") == 0 && phase)
        runner_set_voltage(r, k, a, e->value);
    else if (strcmp(e->action, "pf") == 0 && phase)
        runner_set_pf(r, k, a, e->value);
    else if (strcmp(e->action, "frequency") == 0)
        runner_set_frequency(r, k, e->value);
    else if (strcmp(e->action, "phase_supply") == 0 && phase)
        runner_set_phase_supply(r, k, a, e->value != 0);
    else if (strcmp(e->action, "setting") == 0 && a < SETTING_COUNT)
        runner_set_setting(r, k, (setting_id_t)a, (int32_t)e->value);
    else if (strcmp(e->action, "fault") == 0 && a < METER_FAULT_COUNT)
        runner_fault(r, k, (meter_fault_t)a);
    else if (strcmp(e->action, "bluetooth") == 0)
        runner_bt_connect(r, k, e->value != 0);
    else
        return false;
    return true;
}

int replay_finish(replay_t *p)
{
    char name[64];
    for (size_t i = 0; i < p->n_st && !p->differ; i++) {
        stream_t *w = &p->st[i];
        compare(p, w);
        if (!p->differ && w->got < w->len) {
            stream_name(w, name, sizeof name);
            p->differ = true;
            snprintf(p->msg, sizeof p->msg,
                     "record %llu (out, %s): the replay ended after %zu of the %zu reply bytes "
                     "recorded there: expected the rest",
                     (unsigned long long)record_of(w, w->got), name, w->got, w->len);
        }
    }
    int status = p->differ ? 1 : 0;
    size_t bytes = 0;
    for (size_t i = 0; i < p->n_st; i++)
        bytes += p->st[i].len;
    if (p->differ)
        fprintf(stderr, "metersim: --replay: the replies differ: %s\n", p->msg);
    else
        fprintf(stderr,
                "metersim: --replay: %zu records, %zu reply bytes on %d endpoint%s: identical\n",
                p->rf->n, bytes, p->n_eps, p->n_eps == 1 ? "" : "s");
    for (size_t i = 0; i < p->n_st; i++) {
        if (p->st[i].peer_fd >= 0)
            close(p->st[i].peer_fd);
        free(p->st[i].bytes);
        free(p->st[i].rec_at);
        free(p->st[i].rec_n);
    }
    free(p->st);
    free(p->fd_run);
    free(p->srv);
    free(p->ser);
    free(p);
    return status;
}
