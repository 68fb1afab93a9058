/* digits: an unsigned integer in decimal, by hand, for the traces' hot
 * paths (a time on every line: printf, or a division by 10 a digit, cost
 * more than the rest of a line; bench_trace, docs/performance.md). */
#ifndef METERSIM_TRACE_DIGITS_H
#define METERSIM_TRACE_DIGITS_H

#include <stdint.h>
#include <string.h>

/* The longest: UINT64_MAX has 20 digits. */
#define TRACE_DIGITS_MAX 20

/* Writes v's digits so that they end just before `end`; returns where they
 * start. Two digits at a time, in 32-bit arithmetic below 10^8. */
static inline char *trace_digits(char *end, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    while (v >= 100000000u) { /* the low 8 digits, zeros included */
        uint32_t lo = (uint32_t)(v % 100000000u);
        v /= 100000000u;
        for (int k = 0; k < 4; k++) {
            end -= 2;
            memcpy(end, pairs + 2 * (lo % 100u), 2);
            lo /= 100u;
        }
    }
    uint32_t x = (uint32_t)v;
    while (x >= 100u) {
        end -= 2;
        memcpy(end, pairs + 2 * (x % 100u), 2);
        x /= 100u;
    }
    if (x >= 10u) {
        end -= 2;
        memcpy(end, pairs + 2 * x, 2);
    } else {
        *--end = (char)('0' + x);
    }
    return end;
}

#endif
