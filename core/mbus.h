/* mbus: the meter's M-Bus slave, a byte machine (manual 4.4, A2.1-A2.3;
 * EN 13757-2 link layer, EN 13757-3 application layer).
 *
 *   host                          mbus_t                         access_t
 *   ----                          ------                         --------
 *   mbus_rx(byte, t_end, err) --> frame hunt/collect --> frame --> read / set / reset
 *                                 (start, L, CS, 16)      |
 *   mbus_deadline() <------------ reply due at t_start <--+  (E5 or RSP_UD)
 *   mbus_advance(now)
 *   mbus_tx(buf) ---------------> reply bytes + t_start; bytes leave back to back
 *   mbus_baud() <---------------- active baud (changes after the E5 of a CI B8-BD)
 *
 * Frames (EN 13757-2, FT1.2): single character E5; short frame 10 C A CS 16;
 * control frame 68 03 03 68 C A CI CS 16; long frame 68 L L 68 C A CI data CS 16,
 * CS = sum of C..data modulo 256. A frame with a bad checksum, length, second
 * start byte or stop byte, a parity/framing error, or an idle gap inside it
 * gets no reply.
 *
 * Requests: SND_NKE (C 40) -> E5, FCB state reset, deselect. REQ_UD2 (C 5B/7B)
 * -> RSP_UD (mbus_records.h). REQ_UD1 (5A/7A) -> E5 (no class-1 data).
 * SND_UD (53/73): CI B8-BD baud rate, CI 51 one A2.3 write record, CI 52
 * secondary-address selection (A = FD), CI 50 application reset -> E5.
 *
 * Addresses: 0-250 primary (A2.1, 6.6.9); 253 (FD) the slave selected by
 * secondary address; 254 (FE) every meter, and every meter answers; 255 (FF)
 * every meter, nobody answers (writes and SND_NKE still act).
 *
 * Time: t_ns of a byte is the instant its stop bit ended. A character is 11
 * bits (8E1, A2.1). The reply starts reply_delay_bits after the end of the
 * request (EN 13757-2: at least 11 bit times, at most 330 bit times + 50 ms).
 *
 * Known inaccuracies (docs/mbus.md, "Decisions"): one telegram holds every
 * record, so multi-telegram readout (FCB toggling for "more records") never
 * happens; a FCB repeat is recognised only for a byte-identical frame (and,
 * unless desc.strict_fcb, within a retry window); the telegram is built from
 * the readings at the end of the request, not at the first reply byte.
 */
#ifndef METERSIM_MBUS_H
#define METERSIM_MBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "line_ops.h"
#include "mbus_records.h"

#define MBUS_ACK 0xE5u
#define MBUS_CHAR_BITS 11u                /* start + 8 data + even parity + stop */
#define MBUS_REPLY_DELAY_BITS_DEFAULT 33u /* 3 character times (docs/mbus.md) */
#define MBUS_REPLY_DELAY_BITS_MIN 11u     /* EN 13757-2 */
#define MBUS_REPLY_DELAY_BITS_MAX 330u    /* EN 13757-2 (its extra 50 ms unused) */
#define MBUS_GAP_BITS_DEFAULT 33u         /* idle inside a frame that aborts it */

/* Zero fields mean "default". */
typedef struct mbus_desc {
    uint16_t reply_delay_bits; /* 0: 33; clamped to 11..330 */
    uint16_t gap_bits;         /* idle bit times inside a frame that abort it; 0: 33 */
    bool strict_fcb;           /* true: a repeat is recognised however late it comes */
} mbus_desc_t;

typedef enum { MBUS_RX_HUNT, MBUS_RX_FRAME, MBUS_RX_SKIP } mbus_rx_state_t;
typedef enum { MBUS_TX_NONE, MBUS_TX_SCHEDULED, MBUS_TX_READY } mbus_tx_state_t;

typedef struct mbus {
    const access_t *acc;
    uint16_t reply_delay_bits, gap_bits;
    bool strict_fcb;
    uint32_t baud; /* active bit rate, bit/s */

    /* receiver */
    mbus_rx_state_t rx_state;
    uint8_t rx[MBUS_FRAME_MAX];
    uint16_t rx_len, rx_need;
    uint64_t rx_last_ns; /* end of the last byte seen, VTIME_NEVER before any */

    /* link and application state */
    bool selected;  /* by secondary address (CI 52), for A = FD */
    bool fcb_valid; /* a FCV=1 frame has been answered since init / SND_NKE */
    bool fcb;       /* its FCB */
    uint8_t access_no;
    uint8_t last_req[MBUS_FRAME_MAX], last_rsp[MBUS_FRAME_MAX];
    uint16_t last_req_len, last_rsp_len;
    uint64_t last_rsp_end_ns;

    /* the reply on its way */
    mbus_tx_state_t tx_state;
    uint8_t tx[MBUS_FRAME_MAX];
    uint16_t tx_len;
    uint64_t tx_start_ns;
    uint32_t tx_baud;        /* the rate the reply leaves at */
    uint32_t baud_next;      /* 0: no change pending */
    uint64_t baud_switch_ns; /* when baud_next takes over: end of the E5 */

    /* for the host: display icon 2 (6.1), traces, tests */
    uint64_t last_frame_ns; /* end of the last valid frame for this meter, VTIME_NEVER before */
    uint32_t frames_ok, frames_bad;
} mbus_t;

/* Starts the slave: idle, deselected, access number 0, at the baud rate of
 * the meter's settings (acc->read). `desc` may be NULL. */
void mbus_init(mbus_t *mb, const access_t *acc, const mbus_desc_t *desc);

/* One character from the line; t_ns = when its stop bit ended; line_error =
 * parity or framing error. A complete frame is handled at once: its effect
 * (a write) happens at t_ns, its reply is scheduled. */
void mbus_rx(mbus_t *mb, uint8_t byte, uint64_t t_ns, bool line_error);

/* The next instant at which mbus_advance() has something to do (a reply
 * start, a baud-rate change); VTIME_NEVER if none. */
uint64_t mbus_deadline(const mbus_t *mb);

/* Moves the slave's time to now_ns: a reply whose start has come becomes
 * ready for mbus_tx(); a pending baud-rate change takes effect. */
void mbus_advance(mbus_t *mb, uint64_t now_ns);

/* Hands a ready reply over: its bytes into buf and the instant its first
 * start bit begins into *t_start_ns (the scheduled time, even if the host
 * calls late). Returns the number of bytes, 0 if none is ready or cap is
 * too small (MBUS_FRAME_MAX always suffices). */
size_t mbus_tx(mbus_t *mb, uint8_t *buf, size_t cap, uint64_t *t_start_ns);

/* The bit rate the slave sends and listens at now. */
uint32_t mbus_baud(const mbus_t *mb);

/* For a change of SETTING_MBUS_BAUD made elsewhere (menu 6.6.10, scenario):
 * takes effect at once and cancels a pending change. */
void mbus_set_baud(mbus_t *mb, uint32_t bps);

/* The line_ops.h table of the M-Bus slave (self: an mbus_t); 8E1 always. */
extern const line_ops_t MBUS_OPS;

/* Duration of `bits` bit times at `baud`, in ns (floor). */
uint64_t mbus_bits_ns(uint32_t baud, uint32_t bits);

#endif
