/* bus: a master, a line, and the meters on it (see bus.h). */
#include "bus.h"

#include <string.h>

void bus_init(bus_t *b, bus_kind_t kind, meter_t *meters, int n, bool copper)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->meters = meters;
    b->n_meters = n;
    b->copper = copper;
}

line_parity_t bus_parity_of_code(uint8_t code)
{
    return code == 2 ? LINE_PARITY_NONE : code == 3 ? LINE_PARITY_ODD : LINE_PARITY_EVEN;
}

uint32_t bus_meter_bps(const bus_t *b, int k)
{
    const meter_t *m = &b->meters[k];
    return b->kind == BUS_MODBUS ? modbus_line(&m->modbus)->bps : mbus_baud(&m->mbus);
}

line_parity_t bus_meter_parity(const bus_t *b, int k)
{
    /* M-Bus is always 8E1 (A2.1: "data, parity and stop bit cannot be changed"). */
    return b->kind == BUS_MODBUS ? bus_parity_of_code(modbus_line(&b->meters[k].modbus)->parity)
                                 : LINE_PARITY_EVEN;
}

static void deliver(bus_t *b, int k, uint8_t byte, uint64_t t_end, bool error)
{
    if (b->kind == BUS_MODBUS)
        meter_modbus_rx(&b->meters[k], byte, t_end, error);
    else
        meter_mbus_rx(&b->meters[k], byte, t_end, error);
}

void bus_send(bus_t *b, const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint32_t bps,
              line_parity_t parity, const uint64_t *t_end)
{
    uint64_t ch = line_char_ns(bps, parity);
    for (int k = 0; k < b->n_meters; k++) {
        bool same = bus_meter_bps(b, k) == bps && bus_meter_parity(b, k) == parity;
        if (!b->copper || same) {
            for (size_t i = 0; i < n; i++)
                deliver(b, k, bytes[i], t_end ? t_end[i] : t_start_ns + (i + 1) * ch, false);
            continue;
        }
        /* Copper: the meter's UART samples the master's bit stream at its own
         * rate and parity, and gets what a real one would. */
        line_tx_t tx = {.bytes = bytes, .len = n, .t_start_ns = t_start_ns, .bps = bps,
                        .parity = parity};
        line_byte_t got[BUS_FRAME_MAX * 4];
        size_t m = line_receive(&tx, 1, bus_meter_bps(b, k), bus_meter_parity(b, k), got,
                                sizeof got / sizeof got[0]);
        for (size_t i = 0; i < m; i++)
            deliver(b, k, got[i].byte, got[i].t_end_ns, got[i].error);
    }
}

uint64_t bus_deadline(const bus_t *b)
{
    uint64_t t = VTIME_NEVER;
    for (int k = 0; k < b->n_meters; k++) {
        const meter_t *m = &b->meters[k];
        uint64_t d = b->kind == BUS_MODBUS ? modbus_deadline(&m->modbus) : mbus_deadline(&m->mbus);
        if (d < t)
            t = d;
    }
    return t;
}

void bus_advance(bus_t *b, uint64_t now_ns)
{
    for (int k = 0; k < b->n_meters; k++) {
        meter_t *m = &b->meters[k];
        bus_reply_t rep;
        /* The line settings the reply leaves with are those before a change
         * that the reply itself acknowledges (A3.3: new ID after the reply). */
        rep.bps = bus_meter_bps(b, k);
        rep.parity = bus_meter_parity(b, k);
        if (b->kind == BUS_MODBUS)
            modbus_advance(&m->modbus, now_ns);
        else
            mbus_advance(&m->mbus, now_ns);
        rep.len = b->kind == BUS_MODBUS
                      ? meter_modbus_tx(m, rep.bytes, sizeof rep.bytes, &rep.t_start_ns)
                      : meter_mbus_tx(m, rep.bytes, sizeof rep.bytes, &rep.t_start_ns);
        if (rep.len == 0 || b->n_replies == BUS_MAX_REPLIES)
            continue;
        b->replies[b->n_replies++] = rep;
        uint64_t end = rep.t_start_ns + rep.len * line_char_ns(rep.bps, rep.parity);
        if (end > b->busy_until_ns)
            b->busy_until_ns = end;
    }
}

size_t bus_peek(const bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap)
{
    const bus_reply_t *one = &b->replies[0];
    if (b->n_replies == 1 && (!b->copper || (one->bps == bps && one->parity == parity))) {
        /* One reply at the master's settings (or no line settings at all, a
         * pty): the master receives it as sent. */
        uint64_t ch = line_char_ns(one->bps, one->parity);
        size_t n = one->len < cap ? one->len : cap;
        for (size_t i = 0; i < n; i++)
            out[i] = (line_byte_t){one->bytes[i], false, one->t_start_ns + (i + 1) * ch};
        return n;
    }
    line_tx_t tx[BUS_MAX_REPLIES];
    for (int i = 0; i < b->n_replies; i++)
        tx[i] = (line_tx_t){.bytes = b->replies[i].bytes,
                            .len = b->replies[i].len,
                            .t_start_ns = b->replies[i].t_start_ns,
                            .bps = b->replies[i].bps,
                            .parity = b->replies[i].parity};
    return b->n_replies ? line_receive(tx, (size_t)b->n_replies, bps, parity, out, cap) : 0;
}

void bus_clear(bus_t *b)
{
    b->n_replies = 0;
}

size_t bus_take(bus_t *b, uint32_t bps, line_parity_t parity, line_byte_t *out, size_t cap)
{
    size_t n = bus_peek(b, bps, parity, out, cap);
    bus_clear(b);
    return n;
}
