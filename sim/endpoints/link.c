/* link: a byte stream between a client and a bus of meters (see link.h). */
#include "link.h"

#include <poll.h>
#include <string.h>

#include "record.h"

static serial_parity_t serial_parity(line_parity_t p)
{
    return p == LINE_PARITY_NONE  ? SERIAL_PARITY_NONE
           : p == LINE_PARITY_ODD ? SERIAL_PARITY_ODD
                                  : SERIAL_PARITY_EVEN;
}

/* The first meter's line settings are the port's (4.4, 4.5: the meter's UART). */
static void meter_line(const link_t *l, uint32_t *bps, line_parity_t *parity)
{
    *bps = l->bus->n_meters ? bus_meter_bps(l->bus, 0) : 9600;
    *parity = l->bus->n_meters ? bus_meter_parity(l->bus, 0) : LINE_PARITY_EVEN;
}

static void link_reset(link_t *l, const char *name, bus_t *bus, bool fast)
{
    memset(l, 0, sizeof *l);
    l->bus = bus;
    l->name = name;
    l->fast = fast;
    l->generation = bus->generation;
    l->log = stderr;
    l->rx_in_ns = VTIME_NEVER;
    meter_line(l, &l->cfg_bps, &l->cfg_parity);
}

int link_open(link_t *l, const char *name, const endpoint_spec_t *spec, bus_t *bus, bool fast,
              bool copper, char *err, size_t errlen)
{
    link_reset(l, name, bus, fast);
    serial_parity_t par = serial_parity(l->cfg_parity);
    int r;
    if (spec->kind == ENDPOINT_PTY) {
        r = serial_port_open_pty(&l->port, spec->path[0] ? spec->path : NULL, err, errlen);
        if (r == 0)
            serial_port_configure(&l->port, l->cfg_bps, par, NULL, 0);
    } else if (serial_port_is_pty_slave(spec->path)) {
        r = serial_port_open_tty(&l->port, spec->path, l->cfg_bps, par, err, errlen);
    } else {
        r = serial_port_open_device(&l->port, spec->path, l->cfg_bps, par, err, errlen);
    }
    if (r)
        return -1;
    /* A device is copper; a pty only when asked (Linux keeps no parity on a
     * pty, and clients set different things there). */
    bus->copper = l->port.kind == SERIAL_PORT_DEVICE || copper;
    return 0;
}

void link_attach_socket(link_t *l, const char *name, int fd, const char *peer, bus_t *bus,
                        bool fast)
{
    link_reset(l, name, bus, fast);
    serial_port_adopt_socket(&l->port, fd, peer);
}

int link_fd(const link_t *l)
{
    return serial_port_fd(&l->port);
}

/* The pause that ends a client's burst: LINK_QUIET_CHARS characters at its
 * rate, at least LINK_QUIET_MIN_NS. */
static uint64_t quiet_ns(uint64_t char_ns)
{
    uint64_t q = LINK_QUIET_CHARS * char_ns;
    return q < LINK_QUIET_MIN_NS ? LINK_QUIET_MIN_NS : q;
}

/* True when the client's bytes wait to be read: it has not paused. */
static bool input_waiting(const link_t *l)
{
    struct pollfd p = {.fd = serial_port_fd(&l->port), .events = POLLIN};
    return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The burst that overran is over: told once, with its count. */
static void overrun_end(link_t *l)
{
    if (!l->overrun)
        return;
    l->overrun = false;
    if (l->log)
        fprintf(l->log,
                "metersim: %s %s: receiver overrun: %llu bytes dropped in %.3f s (the client "
                "sent faster than %u bit/s); the frame they hit is lost\n",
                l->name, serial_port_path(&l->port), (unsigned long long)l->overrun_burst,
                (double)(l->rx_in_ns - l->overrun_start_ns) / 1e9, (unsigned)l->master_bps);
    l->overrun_burst = 0;
}

static void stall_end(link_t *l);

void link_report(link_t *l)
{
    overrun_end(l);
    stall_end(l);
}

long link_receive(link_t *l, uint64_t now_ns, FILE *log)
{
    uint8_t buf[512];
    long n = serial_port_read(&l->port, buf, sizeof buf);
    if (n <= 0)
        return n;
    if (l->rec) /* --record: as read, at the instant that stamps it (issue 15) */
        record_rx(l->rec, now_ns, buf, (size_t)n, serial_port_peer_baud(&l->port));
    if (log)
        l->log = log;
    uint32_t bps;
    line_parity_t parity;
    meter_line(l, &bps, &parity);
    /* On copper a client at another baud rate is heard as such. */
    uint32_t peer = l->bus->copper ? serial_port_peer_baud(&l->port) : 0;
    if (peer && peer != bps) {
        if (peer != l->warned_bps && l->log)
            fprintf(l->log,
                    "metersim: %s: the client sends at %u bit/s, the meter listens at %u: "
                    "it cannot decode the frames (--copper)\n",
                    l->name, (unsigned)peer, (unsigned)bps);
        l->warned_bps = peer;
        bps = peer;
    }
    l->master_bps = bps;
    l->master_parity = parity;
    uint64_t ch = line_char_ns(bps, parity);
    if (l->fast) {
        /* Wire time off: the frame is complete the moment it arrived (no
         * baud rate, so no overrun). */
        uint64_t ends[512];
        for (long i = 0; i < n; i++)
            ends[i] = now_ns;
        bus_send(l->bus, buf, (size_t)n, now_ns, bps, parity, ends);
        l->rx_end_ns = now_ns;
        l->rx_in_ns = now_ns;
        /* The meters have answered already (as the gateway does): a reply
         * due at once has no deadline in the future for the host to run
         * the meters to and collect it at, so it would never leave. */
        bus_collect(l->bus);
        return n;
    }
    uint64_t start = now_ns > l->rx_end_ns ? now_ns : l->rx_end_ns;
    l->rx_quiet_ns = quiet_ns(ch);
    /* The client paused (a read that emptied the port after a quiet spell):
     * a burst that overran ends, and what comes now is a new frame, after as
     * much silence on the line as the client kept. */
    bool paused = l->rx_in_ns == VTIME_NEVER ||
                  (now_ns >= l->rx_in_ns + l->rx_quiet_ns && (size_t)n < sizeof buf);
    if (paused) {
        overrun_end(l);
        if (l->rx_in_ns != VTIME_NEVER && l->rx_end_ns + l->rx_quiet_ns > start)
            start = l->rx_end_ns + l->rx_quiet_ns;
    }
    l->rx_in_ns = now_ns;
    if (l->overrun) {
        l->overrun_burst += (uint64_t)n;
        l->overruns += (uint64_t)n;
        return n;
    }
    /* The line may run ahead of now by LINK_RX_BURST characters at most. */
    uint64_t limit = now_ns + LINK_RX_BURST * ch;
    size_t take = start >= limit ? 0 : (size_t)((limit - start) / ch);
    if (take > (size_t)n)
        take = (size_t)n;
    if (take)
        bus_send(l->bus, buf, take, start, bps, parity, NULL);
    l->rx_end_ns = start + (uint64_t)take * ch;
    if (take < (size_t)n) {
        /* Overrun: the first lost character is flagged where it would have
         * ended (its frame is lost); the rest of the burst is dropped. */
        l->rx_end_ns += ch;
        bus_overrun(l->bus, l->rx_end_ns);
        l->overrun = true;
        l->overrun_start_ns = now_ns;
        l->overrun_burst = (uint64_t)n - take;
        l->overruns += (uint64_t)n - take;
        l->overrun_bursts++;
    }
    return n;
}

/* A stall (the client does not read) is told when it starts dropping and
 * when it ends, with the count. */
static void stall_end(link_t *l)
{
    if (l->stalled && l->log)
        fprintf(l->log, "metersim: %s %s: %llu reply bytes the client did not read were dropped\n",
                l->name, serial_port_path(&l->port),
                (unsigned long long)(l->overflow - l->stall_from));
    l->stalled = false;
    l->stall_from = l->overflow;
}

/* The line settings the master listens with. */
static void listen_line(const link_t *l, uint32_t *bps, line_parity_t *parity)
{
    *bps = l->master_bps;
    *parity = l->master_parity;
    if (!*bps)
        meter_line(l, bps, parity);
}

/* The exchange this port was streaming ended before its turn (another
 * master, the gateway, took the replies at the same wake): the rest of them
 * still goes to its master, whose side of the wire heard every byte, and
 * live and in a --replay alike, whatever the order of the wake's work. An
 * exchange it heard nothing of (with --fast a gateway's is over within one
 * call) stays unheard, as before. */
static void stream_rest(link_t *l)
{
    const bus_t *b = l->bus;
    if (l->generation + 1 != b->generation || !b->n_prev || !l->streamed)
        return;
    line_byte_t got[BUS_FRAME_MAX * 2];
    uint32_t bps;
    line_parity_t parity;
    listen_line(l, &bps, &parity);
    size_t n = bus_peek_prev(b, bps, parity, got, sizeof got / sizeof got[0]);
    while (l->streamed < n && l->out_len < LINK_OUT_MAX)
        l->out[l->out_len++] = got[l->streamed++].byte;
}

uint64_t link_transmit(link_t *l, uint64_t now_ns)
{
    bus_t *b = l->bus;
    uint64_t next = VTIME_NEVER;
    l->out_len = l->out_done = 0;
    if (l->generation != b->generation) {
        stream_rest(l);
        l->generation = b->generation;
        l->streamed = 0;
    }
    if (b->n_replies) {
        line_byte_t got[LINK_OUT_MAX];
        uint32_t bps;
        line_parity_t parity;
        listen_line(l, &bps, &parity);
        size_t n = bus_peek(b, bps, parity, got, LINK_OUT_MAX);
        /* Every character whose stop bit has ended (all of them at once
         * without wire time). */
        while (l->streamed < n && l->out_len < LINK_OUT_MAX &&
               (l->fast || got[l->streamed].t_end_ns <= now_ns)) {
            l->out[l->out_len++] = got[l->streamed].byte;
            l->streamed++;
        }
        if (l->streamed < n)
            next = got[l->streamed].t_end_ns;
    }
    if (l->out_len && l->stalled) {
        l->overflow += l->out_len; /* still full: not even tried until POLLOUT */
    } else if (l->out_len) {
        long w = serial_port_write(&l->port, l->out, l->out_len);
        l->out_done = w > 0 ? (size_t)w : 0;
        record_tx(l->rec, now_ns, l->out, l->out_done); /* --record: what the master got */
        if (l->out_done < l->out_len) {
            /* The client's side is full: it does not read. What it does not
             * take is lost, as in a master's UART that overruns. */
            l->overflow += l->out_len - l->out_done;
            if (!l->stalled && l->log)
                fprintf(l->log,
                        "metersim: %s %s: the client does not read its replies: what its "
                        "side of the port does not take is dropped\n",
                        l->name, serial_port_path(&l->port));
            l->stalled = true;
        }
    }
    l->out_len = l->out_done = 0;
    /* Stalled: no wake per character into a full pipe. POLLOUT ends the
     * stall (link_writable()); the end of a reply (the host wakes then to
     * clear the line) drops the rest. */
    if (l->stalled)
        next = VTIME_NEVER;
    /* A client that overran and has paused: the burst is over. */
    if (l->overrun) {
        uint64_t quiet = l->rx_in_ns + l->rx_quiet_ns;
        if (now_ns >= quiet && !input_waiting(l))
            overrun_end(l);
        else if (quiet > now_ns && quiet < next)
            next = quiet;
    }
    /* The meter's new ID, baud rate or parity reach the physical port after
     * its reply has gone (A3.3). */
    uint32_t bps;
    line_parity_t parity;
    meter_line(l, &bps, &parity);
    if ((bps != l->cfg_bps || parity != l->cfg_parity) && !b->n_replies) {
        char err[256];
        if (serial_port_configure(&l->port, bps, serial_parity(parity), err, sizeof err) == 0) {
            l->cfg_bps = bps;
            l->cfg_parity = parity;
        }
    }
    return next;
}

uint64_t link_writable(link_t *l, uint64_t now_ns)
{
    stall_end(l);
    return link_transmit(l, now_ns);
}

bool link_blocked(const link_t *l)
{
    return l->stalled;
}

void link_close(link_t *l)
{
    link_report(l);
    serial_port_close(&l->port);
}
