/* loop: endpoints, ppoll and deadlines (see loop.h). */
#define _GNU_SOURCE /* ppoll (to the nanosecond; poll() rounds to whole ms), accept4 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vtime.h"

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void loop_init(loop_t *l, double speed)
{
    memset(l, 0, sizeof *l);
    l->speed = speed;
    l->start_wall = wall_seconds();
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void loop_start(loop_t *l)
{
    l->start_wall = wall_seconds();
}

void loop_free(loop_t *l)
{
    free(l->eps);
    free(l->pfds);
    free(l->polled);
    if (l->spare_fd >= 0)
        close(l->spare_fd);
    memset(l, 0, sizeof *l);
    l->spare_fd = -1;
}

int loop_accept(loop_t *l, int lfd, struct sockaddr *sa, socklen_t *len, bool *shed)
{
    *shed = false;
    int fd = accept4(lfd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || l->spare_fd < 0)
        return fd;
    int err = errno;
    close(l->spare_fd);
    fd = accept4(lfd, sa, len, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        *shed = true;
    }
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    errno = err;
    return -1;
}

bool loop_add(loop_t *l, loop_ep_t *ep)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        loop_ep_t **eps = realloc(l->eps, cap * sizeof *eps);
        if (!eps)
            return false;
        l->eps = eps;
        l->cap = cap;
    }
    ep->slot = (int)l->n;
    l->eps[l->n++] = ep;
    return true;
}

void loop_remove(loop_t *l, loop_ep_t *ep)
{
    if (ep->slot < 0 || (size_t)ep->slot >= l->n || l->eps[ep->slot] != ep)
        return;
    l->eps[ep->slot] = NULL; /* a tombstone until the round ends */
    ep->slot = -1;
    for (size_t i = 0; i < l->pcap; i++)
        if (l->polled && l->polled[i] == ep)
            l->polled[i] = NULL;
}

/* Drops the tombstones. */
static void compact(loop_t *l)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->eps[i])
            continue;
        l->eps[k] = l->eps[i];
        l->eps[k]->slot = (int)k;
        k++;
    }
    l->n = k;
}

double loop_wall(const loop_t *l)
{
    return wall_seconds() - l->start_wall;
}

uint64_t loop_now(const loop_t *l)
{
    if (l->manual)
        return l->manual_ns;
    if (l->speed <= 0.0)
        return 0;
    double v = loop_wall(l) * l->speed * 1e9;
    return v > 0 ? (uint64_t)v : 0;
}

uint64_t loop_woke(const loop_t *l)
{
    return l->woke_ns;
}

bool loop_once(loop_t *l, uint64_t limit_ns, volatile int *stop)
{
    compact(l);
    uint64_t due = limit_ns;
    size_t nfd = 0;
    if (l->pcap < l->n) {
        struct pollfd *p = realloc(l->pfds, l->n * sizeof *p);
        if (p)
            l->pfds = p;
        loop_ep_t **q = realloc(l->polled, l->n * sizeof *q);
        if (q)
            l->polled = q;
        if (!p || !q)
            return false;
        l->pcap = l->n;
    }
    for (size_t i = 0; i < l->n; i++) {
        loop_ep_t *ep = l->eps[i];
        if (ep->deadline_ns < due)
            due = ep->deadline_ns;
        if (ep->fd >= 0 && (ep->want_read || ep->want_write)) {
            l->pfds[nfd] = (struct pollfd){
                .fd = ep->fd,
                .events = (short)((ep->want_read ? POLLIN : 0) | (ep->want_write ? POLLOUT : 0))};
            l->polled[nfd++] = ep;
        }
    }
    for (size_t i = nfd; i < l->pcap; i++)
        l->polled[i] = NULL;
    struct timespec to = {0, 0}, *top = &to;
    if (l->manual) {
        /* No sleep: time jumps to what is due (never back). */
        if (due != VTIME_NEVER && due > l->manual_ns)
            l->manual_ns = due;
        if (l->before_poll)
            l->before_poll(l, l->before_poll_ctx);
    } else if (l->speed > 0.0) {
        uint64_t now = loop_now(l);
        if (due == VTIME_NEVER) {
            top = NULL; /* nothing due: only an fd or a signal wakes us */
        } else if (due > now) {
            double s = (double)(due - now) / 1e9 / l->speed;
            to.tv_sec = (time_t)s;
            to.tv_nsec = (long)((s - floor(s)) * 1e9);
        }
    }
    int r = ppoll(l->pfds, (nfds_t)nfd, top, NULL);
    l->wakeups++;
    l->woke_ns = loop_now(l);
    if (r < 0 && errno != EINTR)
        return false;
    if (r < 0 && stop && *stop)
        return true;
    if (l->after_sleep)
        l->after_sleep(l, l->hook_ctx);
    for (size_t i = 0; r > 0 && i < nfd; i++) {
        short re = l->pfds[i].revents;
        if (!re)
            continue;
        loop_ep_t *ep = l->polled[i];
        if (ep && (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) && ep->on_readable)
            ep->on_readable(l, ep);
        ep = l->polled[i]; /* it may have gone */
        if (ep && (re & POLLOUT) && ep->on_writable)
            ep->on_writable(l, ep);
    }
    uint64_t now = loop_now(l);
    for (size_t i = 0; i < l->n; i++) {
        loop_ep_t *ep = l->eps[i];
        if (ep && ep->on_due && ep->deadline_ns <= now &&
            (l->speed > 0.0 || ep->deadline_ns != VTIME_NEVER))
            ep->on_due(l, ep, now);
    }
    return true;
}
