/* line: a shared RS-485 line, as a master's UART hears it.
 *
 * Several slaves on one bus (design: "a bus of meters") each produce a reply:
 * bytes, a start time and a character time. Where replies do not overlap the
 * master receives them unchanged; where they do, it receives what a UART
 * makes of the superposed bit streams: garbled bytes, parity and framing
 * errors, as on copper (manual 4.5: RS-485, up to 60 meters a bus).
 *
 *   slave A  ~~~~|s|d0 d1 ... d7|p|S|s|d0 ...        (idle = 1, start = 0)
 *   slave B  ~~~~~~~~~|s|d0 d1 ... d7|p|S| ...
 *   line     = A AND B, bit by bit in time (a driver sending 0 wins)
 *   master   16x oversampling UART: falling edge, mid-bit samples, parity
 *            and stop checked -> bytes with their end time and an error flag
 *
 * The same decoder serves a baud-rate mismatch: a master's request at 19200
 * decoded by a meter's UART at 9600 gives what the meter would receive.
 *
 * Collision model (a decision, docs/modbus.md): RS-485 idles at the "mark"
 * (1) level held by fail-safe bias; a driver sending 0 pulls the pair to the
 * "space" level. With two drivers in opposite states real receivers see an
 * undefined, near-0 differential voltage; we resolve that to the dominant 0
 * (wired-AND), which is deterministic and gives the garbling and framing
 * errors a real collision gives. Two identical replies aligned to the
 * nanosecond therefore stay clean (physically true as well): meters with the
 * same ID on one bus should be given slightly different turnaround delays.
 *
 * Known inaccuracies: no propagation delay, no slew, no noise; a receiver
 * samples once mid-bit (no 3-sample majority vote).
 */
#ifndef METERSIM_LINE_H
#define METERSIM_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LINE_PARITY_NONE = 0, LINE_PARITY_EVEN, LINE_PARITY_ODD } line_parity_t;

/* One transmission: len bytes back to back, byte i starting at
 * t_start_ns + i * char_ns, each 1 start, 8 data (LSB first), the parity bit
 * if any, 1 stop bit, at bps bit/s. */
typedef struct line_tx {
    const uint8_t *bytes;
    size_t len;
    uint64_t t_start_ns;
    uint64_t char_ns; /* 0: computed from bps and parity */
    uint32_t bps;
    line_parity_t parity;
} line_tx_t;

/* A byte as a receiving UART delivers it. */
typedef struct line_byte {
    uint8_t byte;
    bool error;        /* parity or framing error */
    uint64_t t_end_ns; /* end of its stop bit */
} line_byte_t;

/* Bits per character: 10, or 11 with a parity bit. */
unsigned line_bits(line_parity_t parity);

/* One character's duration in ns, rounded to the nearest ns. */
uint64_t line_char_ns(uint32_t bps, line_parity_t parity);

/* True if the two transmissions are on the line at the same time. */
bool line_overlap(const line_tx_t *a, const line_tx_t *b);

/* Decodes what a UART at bps/parity receives from the transmissions tx[0..n),
 * superposed as wired-AND; returns the number of bytes written to out (at
 * most cap). */
size_t line_receive(const line_tx_t *tx, size_t n, uint32_t bps, line_parity_t parity,
                    line_byte_t *out, size_t cap);

#endif
