/* trace: what the run did, in virtual time, for tools people already use
 * (issue 15, docs/trace.md).
 *
 *   bus_send / bus_collect ---frame------+
 *   gateway (Modbus TCP) ----mbtcp-------+--> trace_t --> vcd.c   --trace-vcd   (bit level)
 *   runner: advance_meter --meter--------+            --> pcap.c  --trace-pcap  (libpcap)
 *            (pulse edges, LCD, windows,  |            --> jsonl.c --trace-jsonl (JSON)
 *             tariff input, supply)       |
 *   runner: advance_to ------time--------+  (the VCD writes what can no longer change)
 *
 * Every hook takes a NULL trace and then does nothing, so a hook is one line
 * at its call site. Only events inside the --trace-from/--trace-until window
 * reach the files; the files are streamed, never held in memory whole: each
 * keeps only the last TRACE_HOLD_NS (500 ms) of its records, to write them
 * in an order that does not depend on the pace (the VCD by time, the JSONL
 * and the pcap by time, then by their bytes; hold.c). The same scenario and
 * the same inputs give the same bytes at any speed, and a --replay gives the
 * live run's traces (issue 15; docs/trace.md, "Same bytes at any pace").
 *
 * Every stamp is an instant of virtual time that does not depend on when the
 * host looked: a frame's first bit, a pulse edge's own instant, a window's
 * end, the LCD on a grid of TRACE_LCD_GRID_NS (the glass is looked at there,
 * the runner ends a run of samples on every point of it), a Modbus TCP
 * response 3.5 characters after the meter's reply ended on the line.
 *
 * Known inaccuracies: an LCD change is stamped with the next point of the
 * grid (at most 100 ms late); a reply cut short by a loss of supply stays
 * whole in the pcap and the JSONL (a "cut" record follows in the JSONL; the
 * VCD stops its bits); a record that comes later than TRACE_HOLD_NS behind
 * the host's time is written out of order (told on standard error).
 */
#ifndef METERSIM_TRACE_H
#define METERSIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "line.h"
#include "meter.h"
#include "scenario.h"
#include "waveform.h"

typedef struct trace_opts {
    const char *vcd, *pcap, *jsonl; /* NULL: that trace is off */
    uint64_t from_ns;               /* the window: from ... */
    uint64_t until_ns;              /* ... until (0: the end of the run) */
} trace_opts_t;

typedef struct trace trace_t;

/* A frame's direction on a line. */
enum { TRACE_TO_METER = 0, TRACE_TO_MASTER = 1 };

/* True when any trace is asked for. */
bool trace_wanted(const trace_opts_t *o);

/* Opens every file asked for (each must be writable: the run has not
 * started). NULL with *ok false and the reason in err (naming the file);
 * NULL with *ok true when no trace is asked for. */
trace_t *trace_open(const trace_opts_t *o, const scenario_t *sc, bool *ok, char *err,
                    size_t errlen);

/* Bytes going onto a line: the master's (TRACE_TO_METER; meter -1) or meter
 * k's reply (TRACE_TO_MASTER, k its index in the scenario). The first
 * character starts at t_start_ns; the rest follow back to back, or character
 * i ends at t_end[i] when given. */
void trace_frame(trace_t *t, int bus, meter_line_t line, int dir, int meter, const uint8_t *bytes,
                 size_t n, uint64_t t_start_ns, uint32_t bps, line_parity_t parity,
                 const uint64_t *t_end);

/* Meter k stopped sending at t_ns on a line (its supply went): the rest of
 * its reply never goes out. */
void trace_cut(trace_t *t, int bus, meter_line_t line, int meter, uint64_t t_ns);

/* A Modbus TCP request or response between a client (any pointer that
 * stays the same for one connection) and the gateway of a bus: transaction
 * `tid`, `unit`, the PDU; a response with `exception` set is that exception
 * to function pdu[0]. Nothing without a PDU (a broadcast gets no response). */
void trace_mbtcp(trace_t *t, int bus, const void *client, bool to_gateway, uint16_t tid,
                 uint8_t unit, const uint8_t *pdu, size_t len, uint8_t exception, uint64_t t_ns);

/* The client's connection closed: a new one at the same pointer is another
 * connection, with a number of its own. */
void trace_mbtcp_closed(trace_t *t, int bus, const void *client);

/* Meter k as it is now (meter_now_ns), with `wave` the phases it is fed:
 * inputs that changed are stamped now; the pulse edges it made, its
 * published windows and a changed LCD are taken. */
void trace_meter(trace_t *t, int k, meter_t *m, const wave_desc_t *wave);

/* The grid the LCD is looked at on (100 ms: a blink of the menu, 500 ms,
 * shows; docs/decisions.md, "LCD changes on a grid"). */
#define TRACE_LCD_GRID_NS (100ull * 1000000ull)

/* How many of n samples from `tick` on meter_exec() may take in one go: while
 * the LCD is traced, a run of samples ends on every point of its grid. */
size_t trace_run_cap(const trace_t *t, uint64_t tick, size_t n);

/* Virtual time has reached now_ns everywhere: what lies well before it is
 * final and written out. */
void trace_time(trace_t *t, uint64_t now_ns);

/* A line stamped t_ns may still come (a Modbus TCP request waiting for the
 * line is traced when it goes on it, stamped with its arrival, which may be
 * more than the hold ago): nothing from t_ns on is written yet.
 * VTIME_NEVER: nothing waits. */
void trace_waiting(trace_t *t, uint64_t t_ns);

/* Writes what is left up to end_ns and closes every file; false (told on
 * standard error, naming the file) when one could not be written. */
bool trace_close(trace_t *t, uint64_t end_ns);

#endif
