/* modbus: RTU framing in virtual time and the PDU handler (manual A3, Modbus
 * over Serial Line V1.02, Modbus Application Protocol V1.1b3). */
#include "modbus.h"

#include <string.h>

#include "crc.h"
#include "meter_assert.h"
#include "modbus_pdu.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Timers from the line settings: Modbus over Serial Line V1.02, 2.5.1.1. */
static void line_timing(modbus_t *mb)
{
    uint64_t bps = mb->line.bps;
    mb->char_ns = (mb->line.bits * VTIME_NS_PER_S + bps / 2) / bps;
    if (bps > 19200) {
        mb->t15_ns = 750000;  /* fixed 750 us */
        mb->t35_ns = 1750000; /* fixed 1.750 ms */
    } else {
        /* 1.5 and 3.5 times an 11-bit character, rounded up. */
        mb->t15_ns = (33ull * VTIME_NS_PER_S / 2 + bps - 1) / bps;
        mb->t35_ns = (77ull * VTIME_NS_PER_S / 2 + bps - 1) / bps;
    }
}

void modbus_sync(modbus_t *mb)
{
    readings_t r;
    memset(&r, 0, sizeof r);
    mb->acc.read(mb->acc.ctx, &r);
    uint32_t bps = settings_baud_code_to_bps(r.settings.modbus_baud);
    mb->line.id = r.settings.modbus_id;
    mb->line.parity = r.settings.modbus_parity;
    mb->line.bps = bps ? bps : 9600; /* a meter with an unknown code keeps the default */
    mb->line.bits = mb->line.parity == MODBUS_PARITY_NONE ? 10 : 11;
    line_timing(mb);
    mb->sync_pending = false;
}

void modbus_init(modbus_t *mb, const access_t *acc, const modbus_desc_t *desc)
{
    METER_ASSERT(mb && acc && acc->read && acc->set && acc->reset);
    memset(mb, 0, sizeof *mb);
    mb->acc = *acc;
    if (desc)
        mb->desc = *desc;
    if (mb->desc.turnaround_ns == 0)
        mb->desc.turnaround_ns = MODBUS_TURNAROUND_DEFAULT_NS;
    if (mb->desc.fast_flush_ns == 0)
        mb->desc.fast_flush_ns = MODBUS_FAST_FLUSH_DEFAULT_NS;
    mb->last_request_ns = VTIME_NEVER;
    modbus_sync(mb);
}

/* ---- replies ------------------------------------------------------------ */

/* Queues the ADU in mb->tx[0 .. len) (address and PDU filled in) with its CRC. */
static void queue_reply(modbus_t *mb, uint16_t len, uint64_t t_end)
{
    uint16_t crc = crc16_modbus(mb->tx, len);
    mb->tx[len] = (uint8_t)crc; /* CRC low byte first (2.5.1.2) */
    mb->tx[len + 1] = (uint8_t)(crc >> 8);
    mb->tx_len = (uint16_t)(len + 2);
    mb->tx_pending = true;
    mb->tx_line = mb->line; /* A3.3: the echo leaves with the settings it was asked with */
    if (mb->desc.fast) {
        mb->tx_start_ns = t_end;
        mb->busy_until_ns = t_end;
    } else {
        uint64_t delay = mb->desc.turnaround_ns > mb->t35_ns ? mb->desc.turnaround_ns : mb->t35_ns;
        mb->tx_start_ns = t_end + delay;
        mb->busy_until_ns = mb->tx_start_ns + mb->tx_len * mb->char_ns;
    }
    mb->stats.replies++;
}

/* Handles one frame with a good CRC; t_end is when its last byte ended. The
 * PDU between address and CRC goes to the one PDU handler (modbus_pdu.h). */
static void handle_frame(modbus_t *mb, const uint8_t *f, uint16_t len, uint64_t t_end)
{
    uint8_t addr = f[0];
    bool broadcast = addr == 0;
    uint64_t t_proc = mb->desc.fast ? t_end : t_end + mb->t35_ns;

    mb->stats.frames++;
    if (!broadcast && addr != mb->line.id)
        return; /* another slave's frame, or a reply on the bus */
    mb->stats.requests++;
    mb->last_request_ns = t_end;

    modbus_pdu_result_t res;
    modbus_pdu_handle(&mb->acc, f + 1, (size_t)(len - 3), broadcast, mb->tx + 1, &res);
    if (res.malformed) {
        mb->stats.short_frames++;
        return;
    }
    if (res.wrote) {
        /* New ID / baud / parity take effect once the reply is out (A3.3). */
        mb->sync_pending = true;
        mb->sync_ns = t_proc;
    }
    if (broadcast) {
        mb->busy_until_ns = t_proc; /* carried out, never answered (Serial Line 2.1) */
        return;
    }
    if (res.len == 0)
        return;
    mb->tx[0] = addr;
    mb->stats.exceptions += res.exception;
    queue_reply(mb, (uint16_t)(res.len + 1), t_end);
    if (res.wrote)
        mb->sync_ns = mb->busy_until_ns;
}

/* ---- wire-time framing --------------------------------------------------- */

/* The frame in rx[] has seen t3.5 of silence: check it and handle it. */
static void end_frame(modbus_t *mb)
{
    uint16_t len = mb->rx_len;
    bool bad = mb->rx_bad;
    mb->rx_len = 0;
    mb->rx_bad = false;
    if (bad)
        return; /* already counted */
    if (len < 4) {
        mb->stats.short_frames++;
        return;
    }
    if (crc16_modbus(mb->rx, len) != 0) {
        mb->stats.crc_errors++;
        return;
    }
    handle_frame(mb, mb->rx, len, mb->rx_last_ns);
}

static void apply_due(modbus_t *mb, uint64_t t)
{
    if (mb->sync_pending && t >= mb->sync_ns)
        modbus_sync(mb);
}

static void rx_wire(modbus_t *mb, uint8_t byte, uint64_t t, bool line_error)
{
    uint64_t t_begin = t > mb->char_ns ? t - mb->char_ns : 0;
    /* Whatever fell due before this byte began happens first. */
    if (mb->rx_len > 0 && t_begin >= mb->rx_last_ns + mb->t35_ns)
        end_frame(mb);
    apply_due(mb, t_begin);
    if (t_begin < mb->busy_until_ns) {
        mb->stats.busy_drops++;
        return;
    }
    if (mb->rx_len > 0 && !mb->rx_bad && t_begin > mb->rx_last_ns + mb->t15_ns) {
        mb->rx_bad = true; /* 2.5.1.1: a gap over t1.5 makes the frame incomplete */
        mb->stats.gap_errors++;
    }
    if (line_error) {
        mb->stats.line_errors++;
        mb->rx_bad = true;
    }
    if (mb->rx_len < MODBUS_ADU_MAX) {
        mb->rx[mb->rx_len++] = byte;
    } else if (!mb->rx_bad) {
        mb->rx_bad = true;
        mb->stats.overruns++;
    }
    mb->rx_last_ns = t;
}

/* ---- fast framing (expected length + CRC, as libmodbus) ------------------ */

typedef enum { SCAN_MORE, SCAN_FRAME, SCAN_BAD } scan_t;

/* Decides whether rx[0 .. len) starts with a whole frame: its length follows
 * from the function code (Application Protocol 6.x request layouts); a code
 * of unknown layout is complete at the first length whose CRC checks. */
static scan_t scan_frame(const uint8_t *b, uint16_t len, uint16_t *flen)
{
    uint32_t n;
    if (len < 2)
        return SCAN_MORE;
    switch (b[1]) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x08:
        n = 8;
        break;
    case 0x07:
    case 0x0B:
    case 0x0C:
    case 0x11:
        n = 4;
        break;
    case 0x0F:
    case 0x10:
        if (len < 7)
            return SCAN_MORE;
        n = 9u + b[6];
        break;
    case 0x16:
        n = 10;
        break;
    case 0x17:
        if (len < 11)
            return SCAN_MORE;
        n = 13u + b[10];
        break;
    default: {
        uint16_t crc = crc16_modbus(b, 3);
        for (uint16_t k = 4; k <= len; k++) {
            crc = crc16_modbus_update(crc, b + k - 1, 1);
            if (crc == 0) {
                *flen = k;
                return SCAN_FRAME;
            }
        }
        return len >= MODBUS_ADU_MAX ? SCAN_BAD : SCAN_MORE;
    }
    }
    if (len < n)
        return SCAN_MORE;
    *flen = (uint16_t)n;
    return crc16_modbus(b, n) == 0 ? SCAN_FRAME : SCAN_BAD;
}

static void rx_drop(modbus_t *mb, uint16_t n)
{
    memmove(mb->rx, mb->rx + n, mb->rx_len - n);
    mb->rx_len = (uint16_t)(mb->rx_len - n);
}

static void rx_fast(modbus_t *mb, uint8_t byte, uint64_t t, bool line_error)
{
    if (mb->rx_len > 0 && t > mb->rx_last_ns && t - mb->rx_last_ns > mb->desc.fast_flush_ns) {
        mb->rx_len = 0; /* the master gave up on that frame */
        mb->rx_bad = false;
        mb->stats.short_frames++;
    }
    apply_due(mb, t);
    if (line_error) {
        mb->stats.line_errors++;
        mb->rx_bad = true;
    }
    if (mb->rx_len == MODBUS_ADU_MAX)
        rx_drop(mb, 1);
    mb->rx[mb->rx_len++] = byte;
    mb->rx_last_ns = t;
    for (;;) {
        uint16_t flen = 0;
        scan_t s = scan_frame(mb->rx, mb->rx_len, &flen);
        if (s == SCAN_MORE) {
            /* The head may be garbage that claims a long frame: a whole good
             * frame further on means the head was not one. */
            uint16_t k = 1, klen = 0;
            while (k + 4 <= mb->rx_len &&
                   scan_frame(mb->rx + k, (uint16_t)(mb->rx_len - k), &klen) != SCAN_FRAME)
                k++;
            if (k + 4 > mb->rx_len)
                break;
            mb->stats.crc_errors++;
            mb->rx_bad = false;
            rx_drop(mb, k);
            continue;
        }
        if (s == SCAN_BAD) {
            mb->stats.crc_errors++;
            mb->rx_bad = false;
            rx_drop(mb, 1); /* resynchronise one byte further on */
            continue;
        }
        if (!mb->rx_bad) {
            uint8_t frame[MODBUS_ADU_MAX];
            memcpy(frame, mb->rx, flen);
            rx_drop(mb, flen);
            handle_frame(mb, frame, flen, t);
        } else {
            rx_drop(mb, flen);
        }
        mb->rx_bad = false;
    }
}

/* ---- public ---------------------------------------------------------------- */

void modbus_rx(modbus_t *mb, uint8_t byte, uint64_t t_ns, bool line_error)
{
    METER_ASSERT(mb);
    if (t_ns > mb->now_ns)
        mb->now_ns = t_ns;
    if (mb->desc.fast)
        rx_fast(mb, byte, t_ns, line_error);
    else
        rx_wire(mb, byte, t_ns, line_error);
}

uint64_t modbus_deadline(const modbus_t *mb)
{
    uint64_t d = VTIME_NEVER;
    if (mb->rx_len > 0)
        d = mb->rx_last_ns + (mb->desc.fast ? mb->desc.fast_flush_ns + 1 : mb->t35_ns);
    if (mb->tx_pending && mb->tx_start_ns > mb->now_ns)
        d = min_u64(d, mb->tx_start_ns);
    if (mb->sync_pending)
        d = min_u64(d, mb->sync_ns);
    return d;
}

void modbus_advance(modbus_t *mb, uint64_t now_ns)
{
    if (now_ns > mb->now_ns)
        mb->now_ns = now_ns;
    now_ns = mb->now_ns;
    if (mb->rx_len > 0) {
        if (!mb->desc.fast && now_ns >= mb->rx_last_ns + mb->t35_ns) {
            end_frame(mb);
        } else if (mb->desc.fast && now_ns - mb->rx_last_ns > mb->desc.fast_flush_ns) {
            mb->rx_len = 0;
            mb->rx_bad = false;
            mb->stats.short_frames++;
        }
    }
    apply_due(mb, now_ns);
}

size_t modbus_tx(modbus_t *mb, uint8_t *buf, size_t cap, uint64_t *t_start_ns)
{
    if (!mb->tx_pending || mb->now_ns < mb->tx_start_ns || cap < mb->tx_len)
        return 0;
    memcpy(buf, mb->tx, mb->tx_len);
    if (t_start_ns)
        *t_start_ns = mb->tx_start_ns;
    mb->tx_pending = false;
    if (mb->desc.fast)
        apply_due(mb, mb->now_ns);
    return mb->tx_len;
}

const modbus_line_t *modbus_line(const modbus_t *mb)
{
    return &mb->line;
}

uint64_t modbus_char_ns(const modbus_t *mb)
{
    return mb->char_ns;
}

uint64_t modbus_last_request_ns(const modbus_t *mb)
{
    return mb->last_request_ns;
}

const modbus_stats_t *modbus_stats(const modbus_t *mb)
{
    return &mb->stats;
}

/* ---- the line_ops.h table ------------------------------------------------ */

static void ops_rx(void *self, uint8_t byte, uint64_t t_ns, bool line_error)
{
    modbus_rx(self, byte, t_ns, line_error);
}

static size_t ops_tx(void *self, uint8_t *buf, size_t cap, uint64_t *t_start_ns,
                     line_settings_t *line)
{
    modbus_t *mb = self;
    modbus_line_t l = mb->tx_line;
    size_t n = modbus_tx(mb, buf, cap, t_start_ns);
    if (n && line)
        *line = (line_settings_t){.bps = l.bps, .parity = l.parity};
    return n;
}

static uint64_t ops_deadline(const void *self)
{
    return modbus_deadline(self);
}

static void ops_advance(void *self, uint64_t now_ns)
{
    modbus_advance(self, now_ns);
}

static void ops_settings(const void *self, line_settings_t *out)
{
    const modbus_line_t *l = modbus_line(self);
    *out = (line_settings_t){.bps = l->bps, .parity = l->parity};
}

/* A frame's address is its first byte (Serial Line 2.3); the slave hears
 * every frame, and one for another address only counts it (handle_frame). A
 * reply, a settings change or a busy line of its own: never another's. */
static bool only_others(const modbus_t *mb)
{
    return !mb->desc.fast && !mb->tx_pending && !mb->sync_pending;
}

static uint64_t ops_wants(const void *self)
{
    const modbus_t *mb = self;
    if (only_others(mb) && mb->rx_len > 0 && mb->rx[0] != 0 && mb->rx[0] != mb->line.id)
        return VTIME_NEVER; /* the end of another's frame: counted whenever */
    /* A reply waits for the host from its start on, even once the line's
     * clock has passed it (bytes heard in the turnaround move the clock, and
     * the line then has nothing due of its own): else it went onto the bus
     * only with the next frame's, a request or more late. */
    uint64_t d = modbus_deadline(mb);
    return mb->tx_pending && mb->tx_start_ns < d ? mb->tx_start_ns : d;
}

static bool ops_others(const void *self, const uint8_t *bytes, const uint64_t *t_end, size_t n)
{
    const modbus_t *mb = self;
    if (!only_others(mb) || n == 0)
        return false;
    bool open = mb->rx_len > 0;
    uint8_t addr = open ? mb->rx[0] : 0;
    uint64_t last = mb->rx_last_ns;
    for (size_t i = 0; i < n; i++) {
        /* as rx_wire() frames them */
        uint64_t t_begin = t_end[i] > mb->char_ns ? t_end[i] - mb->char_ns : 0;
        if (t_begin < mb->busy_until_ns)
            return false;
        if (!open || t_begin >= last + mb->t35_ns)
            addr = bytes[i];
        open = true;
        if (addr == 0 || addr == mb->line.id)
            return false;
        last = t_end[i];
    }
    return true;
}

const line_ops_t MODBUS_RTU_OPS = {
    .name = "modbus-rtu",
    .rx = ops_rx,
    .tx = ops_tx,
    .deadline = ops_deadline,
    .advance = ops_advance,
    .settings = ops_settings,
    .wants = ops_wants,
    .others = ops_others,
};
