/* loop: one event loop over registered endpoints, in the manner of Redis's ae.
 *
 *   endpoint = { fd, want_read/want_write, deadline, on_readable, on_writable, on_due }
 *
 *   loop_once():  timeout = earliest deadline - now (virtual time, paced)
 *                 ppoll(every fd that wants something, timeout)     <- sleeps here
 *                 after_sleep hook (the host catches its meters up to now)
 *                 on_readable / on_writable of the fds that are ready
 *                 on_due of every endpoint whose deadline has come
 *
 * The loop knows nothing of protocols, buses or how many endpoints there are:
 * a pty, a serial device, a TCP listener and each of its connections, the
 * simulation itself (a time-only endpoint, fd -1) are all endpoints. It never
 * wakes on a fixed tick: it sleeps until the first fd event or the earliest
 * deadline, to the nanosecond (ppoll), so wire-time emulation keeps its
 * precision.
 *
 * Time: deadlines are virtual nanoseconds. With a pace (speed > 0) virtual
 * time runs at `speed` times the wall clock from loop_init(); with speed 0
 * the loop never sleeps (a poll with zero timeout serves the fds).
 *
 * An endpoint may remove itself, or another, from inside a callback; the
 * loop does not touch a removed endpoint again.
 */
#ifndef METERSIM_LOOP_H
#define METERSIM_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

typedef struct loop loop_t;
typedef struct loop_ep loop_ep_t;

struct loop_ep {
    int fd; /* -1: time only */
    bool want_read, want_write;
    uint64_t deadline_ns; /* VTIME_NEVER: none */
    void (*on_readable)(loop_t *l, loop_ep_t *ep);
    void (*on_writable)(loop_t *l, loop_ep_t *ep);
    void (*on_due)(loop_t *l, loop_ep_t *ep, uint64_t now_ns);
    void *ctx;
    int slot; /* the loop's: index while registered, -1 otherwise */
};

struct loop {
    loop_ep_t **eps;
    size_t n, cap;
    struct pollfd *pfds;
    loop_ep_t **polled; /* which endpoint each pfds[i] belongs to */
    size_t pcap;
    double speed;
    double start_wall;
    void (*after_sleep)(loop_t *l, void *ctx);
    void *hook_ctx;
    uint64_t wakeups; /* for tests and measurements */
    uint64_t woke_ns; /* loop_now() when the last sleep ended */
    /* A clock of its own (--replay, sim/record/): virtual time is
     * `manual_ns`, which loop_once() moves to the earliest deadline instead
     * of sleeping; before_poll() then puts the input due at that instant in
     * the fds, so it is read as if it had woken the loop (issue 15). */
    bool manual;
    uint64_t manual_ns;
    void (*before_poll)(loop_t *l, void *ctx);
    void *before_poll_ctx;
    int spare_fd; /* held for loop_accept() to give up; -1: none */
};

/* An empty loop paced at `speed` (0: not paced). */
void loop_init(loop_t *l, double speed);
void loop_free(loop_t *l);
/* Virtual time 0 is now: the wall clock (and the pace) counts from here, as
 * from loop_init(). Before any round of the loop, so no input is stamped
 * with the old origin. */
void loop_start(loop_t *l);

/* Registers an endpoint (fd >= 0 or a time endpoint); false when out of memory. */
bool loop_add(loop_t *l, loop_ep_t *ep);
/* Unregisters it (harmless if it is not registered). */
void loop_remove(loop_t *l, loop_ep_t *ep);

/* Virtual time now, by the wall clock and the pace. */
uint64_t loop_now(const loop_t *l);

/* Virtual time when the last sleep ended: input that woke the loop arrived
 * then, however long the host took to catch its meters up before reading it. */
uint64_t loop_woke(const loop_t *l);

/* The wall-clock seconds since loop_init(). */
double loop_wall(const loop_t *l);

/* accept4() on the listener `lfd`, non-blocking and close-on-exec. Out of
 * descriptors (EMFILE, ENFILE), a pending connection would keep the
 * listener readable and the loop spinning on it: the spare descriptor is
 * given up for as long as it takes to accept that connection and close it,
 * so the client sees its connection closed instead of hanging (libuv does
 * the same), and *shed is set. Otherwise -1 with errno (EAGAIN: none
 * pending). */
int loop_accept(loop_t *l, int lfd, struct sockaddr *sa, socklen_t *len, bool *shed);

/* One round: sleeps until an fd is ready, the earliest deadline comes, or
 * `limit_ns` (virtual; VTIME_NEVER: no limit), then dispatches. `stop` is
 * looked at after a signal interrupts the sleep. Returns false when ppoll
 * failed for another reason than a signal. */
bool loop_once(loop_t *l, uint64_t limit_ns, volatile int *stop);

#endif
