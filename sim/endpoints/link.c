/* link: a byte stream between a client and a bus of meters (see link.h). */
#include "link.h"

#include <string.h>

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

long link_receive(link_t *l, uint64_t now_ns, FILE *log)
{
    uint8_t buf[512];
    long n = serial_port_read(&l->port, buf, sizeof buf);
    if (n <= 0)
        return n;
    uint32_t bps;
    line_parity_t parity;
    meter_line(l, &bps, &parity);
    /* On copper a client at another baud rate is heard as such. */
    uint32_t peer = l->bus->copper ? serial_port_peer_baud(&l->port) : 0;
    if (peer && peer != bps) {
        if (peer != l->warned_bps && log)
            fprintf(log,
                    "metersim: %s: the client sends at %u bit/s, the meter listens at %u: "
                    "it cannot decode the frames (--copper)\n",
                    l->name, (unsigned)peer, (unsigned)bps);
        l->warned_bps = peer;
        bps = peer;
    }
    l->master_bps = bps;
    l->master_parity = parity;
    uint64_t ch = line_char_ns(bps, parity);
    uint64_t start = now_ns > l->rx_end_ns ? now_ns : l->rx_end_ns;
    if (l->fast) {
        /* Wire time off: the frame is complete the moment it arrived. */
        uint64_t ends[512];
        for (long i = 0; i < n; i++)
            ends[i] = now_ns;
        bus_send(l->bus, buf, (size_t)n, now_ns, bps, parity, ends);
        l->rx_end_ns = now_ns;
        /* The meters have answered already (as the gateway does): a reply
         * due at once has no deadline in the future for the host to run
         * the meters to and collect it at, so it would never leave. */
        bus_collect(l->bus);
    } else {
        bus_send(l->bus, buf, (size_t)n, start, bps, parity, NULL);
        l->rx_end_ns = start + (uint64_t)n * ch;
    }
    return n;
}

uint64_t link_transmit(link_t *l, uint64_t now_ns)
{
    bus_t *b = l->bus;
    uint64_t next = VTIME_NEVER;
    if (l->generation != b->generation) {
        l->generation = b->generation;
        l->streamed = 0;
    }
    if (b->n_replies) {
        line_byte_t got[LINK_OUT_MAX];
        uint32_t bps = l->master_bps;
        line_parity_t parity = l->master_parity;
        if (!bps)
            meter_line(l, &bps, &parity);
        size_t n = bus_peek(b, bps, parity, got, LINK_OUT_MAX);
        if (l->out_done == l->out_len)
            l->out_len = l->out_done = 0;
        /* Queue every character whose stop bit has ended (all of them at
         * once without wire time); a client that does not read loses what
         * does not fit, as a UART's FIFO would. */
        while (l->streamed < n && (l->fast || got[l->streamed].t_end_ns <= now_ns)) {
            if (l->out_len < LINK_OUT_MAX)
                l->out[l->out_len++] = got[l->streamed].byte;
            else
                l->overflow++;
            l->streamed++;
        }
        if (l->streamed < n)
            next = got[l->streamed].t_end_ns;
    }
    if (l->out_done < l->out_len) {
        long w = serial_port_write(&l->port, l->out + l->out_done, l->out_len - l->out_done);
        if (w > 0)
            l->out_done += (size_t)w;
    }
    /* The meter's new ID, baud rate or parity reach the physical port after
     * its reply has gone (A3.3). */
    uint32_t bps;
    line_parity_t parity;
    meter_line(l, &bps, &parity);
    if ((bps != l->cfg_bps || parity != l->cfg_parity) && l->out_done == l->out_len &&
        !b->n_replies) {
        char err[256];
        if (serial_port_configure(&l->port, bps, serial_parity(parity), err, sizeof err) == 0) {
            l->cfg_bps = bps;
            l->cfg_parity = parity;
        }
    }
    return next;
}

bool link_blocked(const link_t *l)
{
    return l->out_done < l->out_len;
}

void link_close(link_t *l)
{
    serial_port_close(&l->port);
}
