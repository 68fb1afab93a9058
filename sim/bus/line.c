/* line: wired-AND superposition of UART bit streams and a 16x oversampling receiver. */
#include "line.h"

#define NS_PER_S 1000000000ull

unsigned line_bits(line_parity_t parity)
{
    return parity == LINE_PARITY_NONE ? 10u : 11u;
}

uint64_t line_char_ns(uint32_t bps, line_parity_t parity)
{
    return (line_bits(parity) * NS_PER_S + bps / 2) / bps;
}

static uint64_t tx_char_ns(const line_tx_t *t)
{
    return t->char_ns ? t->char_ns : line_char_ns(t->bps, t->parity);
}

static uint64_t tx_end(const line_tx_t *t)
{
    return t->t_start_ns + t->len * tx_char_ns(t);
}

bool line_overlap(const line_tx_t *a, const line_tx_t *b)
{
    return a->len && b->len && a->t_start_ns < tx_end(b) && b->t_start_ns < tx_end(a);
}

static unsigned parity_bit(uint8_t byte, line_parity_t parity)
{
    unsigned ones = 0;
    for (int i = 0; i < 8; i++)
        ones += (byte >> i) & 1u;
    return parity == LINE_PARITY_EVEN ? (ones & 1u) : !(ones & 1u);
}

/* The level one transmitter drives at time t (1 when it is not driving). */
static unsigned tx_level(const line_tx_t *t, uint64_t when)
{
    uint64_t cn = tx_char_ns(t);
    if (when < t->t_start_ns || when >= t->t_start_ns + t->len * cn)
        return 1;
    uint64_t dt = when - t->t_start_ns;
    size_t i = (size_t)(dt / cn);
    uint64_t bit = (dt % cn) * t->bps / NS_PER_S;
    uint8_t byte = t->bytes[i];
    if (bit == 0)
        return 0; /* start */
    if (bit <= 8)
        return (byte >> (bit - 1)) & 1u;
    if (bit == 9 && t->parity != LINE_PARITY_NONE)
        return parity_bit(byte, t->parity);
    return 1; /* stop, and any rounding left over */
}

static unsigned line_level(const line_tx_t *tx, size_t n, uint64_t when)
{
    for (size_t k = 0; k < n; k++)
        if (!tx_level(&tx[k], when))
            return 0;
    return 1;
}

/* The first instant >= when at which some transmitter is driving, or UINT64_MAX. */
static uint64_t next_activity(const line_tx_t *tx, size_t n, uint64_t when)
{
    uint64_t best = UINT64_MAX;
    for (size_t k = 0; k < n; k++) {
        if (!tx[k].len || tx_end(&tx[k]) <= when)
            continue;
        uint64_t s = tx[k].t_start_ns > when ? tx[k].t_start_ns : when;
        if (s < best)
            best = s;
    }
    return best;
}

size_t line_receive(const line_tx_t *tx, size_t n, uint32_t bps, line_parity_t parity,
                    line_byte_t *out, size_t cap)
{
    size_t got = 0;
    unsigned nbits = line_bits(parity);
    /* Sample instant j after t0: t0 + j / (16 bps) seconds, in exact integers. */
    const uint64_t div = 16ull * bps;
#define SAMPLE(t0, j) ((t0) + ((uint64_t)(j)*NS_PER_S) / div)
    uint64_t t = next_activity(tx, n, 0);
    bool need_idle = false; /* after a framing error, wait for the line to return to 1 */
    while (t != UINT64_MAX && got < cap) {
        /* Hunt for the falling edge of a start bit, sample by sample. */
        uint64_t j = 0, t0 = t;
        for (;;) {
            uint64_t s = SAMPLE(t0, j);
            if (next_activity(tx, n, s) == UINT64_MAX) {
                t = UINT64_MAX;
                break;
            }
            if (next_activity(tx, n, s) > s) { /* idle gap: jump over it */
                t0 = next_activity(tx, n, s);
                j = 0;
                need_idle = false;
                continue;
            }
            unsigned lv = line_level(tx, n, s);
            if (need_idle) {
                need_idle = lv == 0;
            } else if (lv == 0) {
                t = s;
                break;
            }
            j++;
        }
        if (t == UINT64_MAX)
            break;
        /* Mid-start check, then each bit in its middle. */
        if (line_level(tx, n, SAMPLE(t, 7)) != 0) {
            t = SAMPLE(t, 8); /* a glitch, not a start bit */
            continue;
        }
        uint8_t byte = 0;
        for (unsigned b = 0; b < 8; b++)
            byte |= (uint8_t)(line_level(tx, n, SAMPLE(t, 7 + 16 * (1 + b))) << b);
        bool err = false;
        if (parity != LINE_PARITY_NONE &&
            line_level(tx, n, SAMPLE(t, 7 + 16 * 9)) != parity_bit(byte, parity))
            err = true;
        uint64_t t_stop = SAMPLE(t, 7 + 16 * (nbits - 1));
        if (line_level(tx, n, t_stop) == 0) {
            err = true; /* framing error */
            need_idle = true;
        }
        out[got].byte = byte;
        out[got].error = err;
        out[got].t_end_ns = t + (nbits * NS_PER_S) / bps;
        got++;
        t = t_stop; /* hunt again from the middle of the stop bit */
    }
#undef SAMPLE
    return got;
}
