/* mbus: M-Bus slave link layer and request handling (EN 13757-2/-3, A2.1-A2.3). */
#include "mbus.h"
#include "meter_assert.h"

#include <string.h>

#include "vtime.h"

#define START_SHORT 0x10u
#define START_LONG 0x68u
#define STOP 0x16u

#define ADDR_SELECTED 0xFDu  /* 253: network layer, the selected slave */
#define ADDR_ALL_REPLY 0xFEu /* 254: every meter, every meter answers */
#define ADDR_ALL_QUIET 0xFFu /* 255: every meter, nobody answers */

/* C field (EN 13757-2): bit 6 PRM = from the master, bit 5 FCB, bit 4 FCV,
 * bits 0-3 function. */
#define C_PRM 0x40u
#define C_FCB 0x20u
#define C_FCV 0x10u
#define FN_SND_NKE 0x0u
#define FN_SND_UD 0x3u
#define FN_REQ_UD1 0xAu
#define FN_REQ_UD2 0xBu

#define CI_APP_RESET 0x50u
#define CI_DATA_SEND 0x51u
#define CI_SELECT 0x52u
#define CI_BAUD_300 0xB8u
#define CI_BAUD_9600 0xBDu

static const uint8_t ACK[1] = {MBUS_ACK};

static const uint32_t BAUD_BY_CI[] = {300, 600, 1200, 2400, 4800, 9600}; /* B8..BD, A2.3 */

uint64_t mbus_bits_ns(uint32_t baud, uint32_t bits)
{
    if (baud == 0)
        baud = 2400;
    return (uint64_t)bits * VTIME_NS_PER_S / baud;
}

void mbus_init(mbus_t *mb, const access_t *acc, const mbus_desc_t *desc)
{
    METER_ASSERT(mb && acc && acc->read && acc->set && acc->reset);
    mbus_desc_t d = desc ? *desc : (mbus_desc_t){0};
    memset(mb, 0, sizeof *mb);
    mb->acc = acc;
    mb->reply_delay_bits = d.reply_delay_bits ? d.reply_delay_bits : MBUS_REPLY_DELAY_BITS_DEFAULT;
    if (mb->reply_delay_bits < MBUS_REPLY_DELAY_BITS_MIN)
        mb->reply_delay_bits = MBUS_REPLY_DELAY_BITS_MIN;
    if (mb->reply_delay_bits > MBUS_REPLY_DELAY_BITS_MAX)
        mb->reply_delay_bits = MBUS_REPLY_DELAY_BITS_MAX;
    mb->gap_bits = d.gap_bits ? d.gap_bits : MBUS_GAP_BITS_DEFAULT;
    mb->strict_fcb = d.strict_fcb;
    readings_t r;
    acc->read(acc->ctx, &r);
    mb->baud = r.settings.mbus_baud ? r.settings.mbus_baud : 2400; /* A2.1 default */
    mb->rx_state = MBUS_RX_HUNT;
    mb->rx_last_ns = VTIME_NEVER;
    mb->tx_state = MBUS_TX_NONE;
    mb->last_frame_ns = VTIME_NEVER;
}

uint32_t mbus_baud(const mbus_t *mb)
{
    return mb->baud;
}

void mbus_set_baud(mbus_t *mb, uint32_t bps)
{
    if (bps == 0)
        return;
    mb->baud = bps;
    mb->baud_next = 0;
}

uint64_t mbus_deadline(const mbus_t *mb)
{
    uint64_t t = VTIME_NEVER;
    if (mb->tx_state == MBUS_TX_SCHEDULED)
        t = mb->tx_start_ns;
    if (mb->baud_next && mb->baud_switch_ns < t)
        t = mb->baud_switch_ns;
    return t;
}

void mbus_advance(mbus_t *mb, uint64_t now_ns)
{
    if (mb->tx_state == MBUS_TX_SCHEDULED && now_ns >= mb->tx_start_ns)
        mb->tx_state = MBUS_TX_READY;
    if (mb->baud_next && now_ns >= mb->baud_switch_ns) {
        mb->baud = mb->baud_next;
        mb->baud_next = 0;
    }
}

size_t mbus_tx(mbus_t *mb, uint8_t *buf, size_t cap, uint64_t *t_start_ns)
{
    if (mb->tx_state != MBUS_TX_READY || cap < mb->tx_len)
        return 0;
    memcpy(buf, mb->tx, mb->tx_len);
    if (t_start_ns)
        *t_start_ns = mb->tx_start_ns;
    mb->tx_state = MBUS_TX_NONE;
    return mb->tx_len;
}

/* ---- replies ---- */

/* Queues a reply to start reply_delay_bits after the request ended at t. A
 * reply still waiting is replaced: the master has already moved on. */
static void schedule(mbus_t *mb, const uint8_t *p, size_t n, uint64_t t)
{
    memcpy(mb->tx, p, n);
    mb->tx_len = (uint16_t)n;
    mb->tx_start_ns = t + mbus_bits_ns(mb->baud, mb->reply_delay_bits);
    mb->tx_baud = mb->baud; /* A2.3: "E5 (new Baud ...)": the E5 leaves at the old rate */
    mb->tx_state = MBUS_TX_SCHEDULED;
}

/* Keeps an answered FCV=1 request and its reply, for a repeat (EN 13757-2:
 * a frame with FCV set and the FCB not toggled is a retransmission and gets
 * the previous reply again). */
static void remember(mbus_t *mb, bool fcb)
{
    mb->fcb_valid = true;
    mb->fcb = fcb;
    memcpy(mb->last_req, mb->rx, mb->rx_need);
    mb->last_req_len = mb->rx_need;
    memcpy(mb->last_rsp, mb->tx, mb->tx_len);
    mb->last_rsp_len = mb->tx_len;
    mb->last_rsp_end_ns = mb->tx_start_ns + mbus_bits_ns(mb->baud, MBUS_CHAR_BITS * mb->tx_len);
}

/* A retransmission: FCV set, FCB as last time, the very same bytes and, unless
 * strict, soon enough after our reply to be the master's retry and not its
 * next poll (docs/mbus.md, Decisions: masters such as libmbus send every
 * poll with the same FCB). */
static bool is_repeat(const mbus_t *mb, bool fcb, uint64_t t)
{
    if (!mb->fcb_valid || fcb != mb->fcb || mb->last_rsp_len == 0)
        return false;
    if (mb->last_req_len != mb->rx_need || memcmp(mb->last_req, mb->rx, mb->rx_need) != 0)
        return false;
    if (mb->strict_fcb)
        return true;
    uint64_t window = 2 * (mbus_bits_ns(mb->baud, 330) + 50 * VTIME_NS_PER_MS) +
                      mbus_bits_ns(mb->baud, MBUS_CHAR_BITS * mb->rx_need);
    return t <= mb->last_rsp_end_ns || t - mb->last_rsp_end_ns <= window;
}

/* ---- requests ---- */

static bool nibble_matches(uint8_t want, uint8_t have)
{
    return want == 0xF || want == have;
}

/* CI 52 (EN 13757-3): ID (BCD, F nibbles = any digit), MAN, VER, MED (FF = any). */
static bool selection_matches(const uint8_t *sel, const readings_t *r)
{
    uint8_t hdr[MBUS_HEADER_LEN];
    mbus_records_header(r, 0, hdr);
    for (int i = 0; i < 4; i++)
        if (!nibble_matches(sel[i] >> 4, hdr[i] >> 4) ||
            !nibble_matches(sel[i] & 0xF, hdr[i] & 0xF))
            return false;
    for (int i = 4; i < 8; i++) /* MAN lo, MAN hi, VER, MED */
        if (sel[i] != 0xFF && sel[i] != hdr[i])
            return false;
    return true;
}

/* CI 51: one A2.3 record; true when it was valid and applied. */
static bool data_send(mbus_t *mb, const uint8_t *data, size_t len)
{
    mbus_write_t w;
    if (mbus_records_parse_write(data, len, &w) != MBUS_WRITE_OK)
        return false;
    if (w.kind == MBUS_WRITE_RESET) {
        mb->acc->reset(mb->acc->ctx, w.reset);
        return true;
    }
    return mb->acc->set(mb->acc->ctx, w.setting, w.value) == SETTINGS_OK;
}

/* Handles a frame whose checksum, length and stop byte are right; t = end
 * of its last byte. */
static void handle_frame(mbus_t *mb, uint64_t t)
{
    const uint8_t *f = mb->rx;
    bool is_short = f[0] == START_SHORT;
    uint8_t c = is_short ? f[1] : f[4];
    uint8_t a = is_short ? f[2] : f[5];
    const uint8_t *ud = f + 6;                /* CI, data (long/control) */
    size_t ud_len = is_short ? 0 : f[1] - 2u; /* L counts C and A too */
    uint8_t fn = c & 0x0F;
    bool fcv = (c & C_FCV) != 0, fcb = (c & C_FCB) != 0;

    if ((c & 0xC0) != C_PRM)
        return; /* a slave's frame (RSP_UD) or reserved: not a request */

    readings_t r;
    mb->acc->read(mb->acc->ctx, &r);
    uint8_t own = r.settings.mbus_id;

    /* Selection (EN 13757-3 CI 52, manual A2.3): to FD, whoever is selected. */
    if (!is_short && a == ADDR_SELECTED && fn == FN_SND_UD && ud[0] == CI_SELECT) {
        mb->selected = ud_len == 9 && selection_matches(ud + 1, &r);
        if (mb->selected) {
            mb->last_frame_ns = t;
            schedule(mb, ACK, 1, t);
        }
        return;
    }

    bool for_us = a == own || a == ADDR_ALL_REPLY || a == ADDR_ALL_QUIET ||
                  (a == ADDR_SELECTED && mb->selected);
    if (!for_us)
        return;
    bool answer = a != ADDR_ALL_QUIET;
    mb->last_frame_ns = t;

    if (fcv && fn != FN_SND_NKE && answer && is_repeat(mb, fcb, t)) {
        schedule(mb, mb->last_rsp, mb->last_rsp_len, t);
        return;
    }

    if (is_short && c == (C_PRM | FN_SND_NKE)) {
        /* SND_NKE: "resets all communication values" (A2.3). */
        mb->selected = false;
        mb->fcb_valid = false;
        if (answer)
            schedule(mb, ACK, 1, t);
        return;
    }
    if (is_short && fn == FN_REQ_UD2) {
        if (!answer)
            return;
        uint8_t tel[MBUS_FRAME_MAX];
        size_t n = mbus_records_telegram(&r, own, mb->access_no, tel, sizeof tel);
        if (n == 0)
            return;
        mb->access_no++; /* wraps 255 -> 0 (A2.2) */
        schedule(mb, tel, n, t);
        if (fcv)
            remember(mb, fcb);
        return;
    }
    if (is_short && fn == FN_REQ_UD1) {
        /* No class-1 (alarm) data: acknowledge (docs/mbus.md). */
        if (answer) {
            schedule(mb, ACK, 1, t);
            if (fcv)
                remember(mb, fcb);
        }
        return;
    }
    if (is_short || fn != FN_SND_UD)
        return;

    uint8_t ci = ud[0];
    bool ok = false;
    if (ci >= CI_BAUD_300 && ci <= CI_BAUD_9600 && ud_len == 1) {
        uint32_t bps = BAUD_BY_CI[ci - CI_BAUD_300];
        ok = mb->acc->set(mb->acc->ctx, SETTING_MBUS_BAUD, (int32_t)bps) == SETTINGS_OK;
        if (ok) {
            /* A2.3: "E5 (new Baud ...)": the E5 leaves at the old rate. */
            mb->baud_next = bps;
            mb->baud_switch_ns = t + mbus_bits_ns(mb->baud, mb->reply_delay_bits + MBUS_CHAR_BITS);
        }
    } else if (ci == CI_DATA_SEND) {
        ok = data_send(mb, ud + 1, ud_len - 1);
    } else if (ci == CI_APP_RESET && ud_len <= 2) {
        ok = true; /* nothing in this meter to reset: acknowledge */
    }
    if (!ok || !answer)
        return;
    schedule(mb, ACK, 1, t);
    if (fcv)
        remember(mb, fcb);
}

/* ---- receiver ---- */

/* Checks a complete frame's checksum and stop byte (EN 13757-2). */
static bool frame_sound(const mbus_t *mb)
{
    const uint8_t *f = mb->rx;
    size_t n = mb->rx_need;
    if (f[n - 1] != STOP)
        return false;
    if (f[0] == START_SHORT)
        return f[3] == (uint8_t)(f[1] + f[2]);
    return f[n - 2] == mbus_checksum(f + 4, f[1]);
}

static void rx_error(mbus_t *mb)
{
    mb->frames_bad++;
    mb->rx_state = MBUS_RX_SKIP;
}

void mbus_rx(mbus_t *mb, uint8_t byte, uint64_t t_ns, bool line_error)
{
    METER_ASSERT(mb);
    mbus_advance(mb, t_ns);

    /* Idle since the previous character: more than gap_bits bit times of
     * silence between two characters ends whatever was being received. */
    bool idle = true;
    if (mb->rx_last_ns != VTIME_NEVER && t_ns > mb->rx_last_ns) {
        uint64_t limit = mbus_bits_ns(mb->baud, MBUS_CHAR_BITS + mb->gap_bits);
        idle = t_ns - mb->rx_last_ns > limit;
    } else if (mb->rx_last_ns != VTIME_NEVER) {
        idle = false;
    }
    mb->rx_last_ns = t_ns;

    if (idle && mb->rx_state == MBUS_RX_FRAME)
        mb->frames_bad++; /* a frame cut short by silence: dropped */
    if (idle)
        mb->rx_state = MBUS_RX_HUNT;

    if (line_error) {
        if (mb->rx_state == MBUS_RX_FRAME)
            mb->frames_bad++;
        /* Wait for silence: the rest of a damaged frame must not be read as
         * the start of another (IEC 60870-5-1 FT1.2). */
        mb->rx_state = MBUS_RX_SKIP;
        return;
    }

    switch (mb->rx_state) {
    case MBUS_RX_SKIP:
        return;
    case MBUS_RX_HUNT:
        if (byte == START_SHORT || byte == START_LONG) {
            mb->rx[0] = byte;
            mb->rx_len = 1;
            mb->rx_need = byte == START_SHORT ? 5 : 4; /* long: known after L */
            mb->rx_state = MBUS_RX_FRAME;
        }
        return; /* anything else between frames (E5 of another slave, noise) is ignored */
    case MBUS_RX_FRAME:
        break;
    }

    mb->rx[mb->rx_len++] = byte;
    if (mb->rx[0] == START_LONG) {
        if (mb->rx_len == 2 && byte < 3) {
            rx_error(mb); /* L counts at least C, A, CI */
            return;
        }
        if (mb->rx_len == 3 && byte != mb->rx[1]) {
            rx_error(mb);
            return;
        }
        if (mb->rx_len == 4) {
            if (byte != START_LONG) {
                rx_error(mb);
                return;
            }
            mb->rx_need = (uint16_t)(mb->rx[1] + 6);
        }
    }
    if (mb->rx_len < mb->rx_need)
        return;

    mb->rx_state = MBUS_RX_HUNT;
    if (!frame_sound(mb)) {
        mb->frames_bad++;
        return;
    }
    mb->frames_ok++;
    handle_frame(mb, t_ns);
}

/* ---- the line_ops.h table ---- */

static void ops_rx(void *self, uint8_t byte, uint64_t t_ns, bool line_error)
{
    mbus_rx(self, byte, t_ns, line_error);
}

static size_t ops_tx(void *self, uint8_t *buf, size_t cap, uint64_t *t_start_ns,
                     line_settings_t *line)
{
    mbus_t *mb = self;
    uint32_t baud = mb->tx_baud;
    size_t n = mbus_tx(mb, buf, cap, t_start_ns);
    if (n && line)
        *line = (line_settings_t){.bps = baud, .parity = LINE_OPS_PARITY_EVEN};
    return n;
}

static uint64_t ops_deadline(const void *self)
{
    return mbus_deadline(self);
}

static void ops_advance(void *self, uint64_t now_ns)
{
    mbus_advance(self, now_ns);
}

/* A2.1: "data, parity and stop bit cannot be changed": 8E1. */
static void ops_settings(const void *self, line_settings_t *out)
{
    *out = (line_settings_t){.bps = mbus_baud(self), .parity = LINE_OPS_PARITY_EVEN};
}

const line_ops_t MBUS_OPS = {
    .name = "mbus",
    .rx = ops_rx,
    .tx = ops_tx,
    .deadline = ops_deadline,
    .advance = ops_advance,
    .settings = ops_settings,
};
