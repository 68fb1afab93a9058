/* trace_internal: the three writers behind trace.h (not for other modules).
 *
 *   vcd.c    bit-level Value Change Dump: serial lines, S0, LED, inputs
 *   pcap.c   libpcap dump file: Modbus RTU, Modbus/TCP, M-Bus frames
 *   jsonl.c  one JSON object a line, written by hand (cJSON's bytes)
 *
 * trace.c keeps the window: vcd.c gets every event (it needs the levels
 * before the window opens) and the window; the others only what falls in it.
 */
#ifndef METERSIM_TRACE_INTERNAL_H
#define METERSIM_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "line.h"
#include "meter.h"
#include "scenario.h"

/* A meter's signals on the VCD, in this order. */
enum {
    TRACE_SIG_S0_1 = 0,
    TRACE_SIG_S0_2,
    TRACE_SIG_LED,
    TRACE_SIG_TARIFF,
    TRACE_SIG_SUPPLY_L1,
    TRACE_SIG_SUPPLY_L2,
    TRACE_SIG_SUPPLY_L3,
    TRACE_METER_SIGS
};

/* ---- hold.c: records held until their order is final ---- */
typedef struct hold hold_t;
typedef void (*hold_write_fn)(void *ctx, uint64_t t_ns, const uint8_t *bytes, size_t len);
hold_t *hold_new(void);
/* Keeps a copy of the record; false when out of memory (the record is lost). */
bool hold_put(hold_t *s, uint64_t t_ns, const void *bytes, size_t len);
/* Or in place: room for a record of at most `len` bytes (NULL when out of
 * memory), then the record, of `len` bytes written there, held. */
uint8_t *hold_reserve(hold_t *s, size_t len);
bool hold_commit(hold_t *s, uint64_t t_ns, size_t len);
/* Writes every record before `before_ns`, by time, then by their bytes. */
void hold_flush(hold_t *s, uint64_t before_ns, hold_write_fn write, void *ctx);
/* Writes the rest and frees it; returns how many records came after their
 * instant had been written (they went out of order), *failed when memory ran
 * out. */
uint64_t hold_free(hold_t *s, hold_write_fn write, void *ctx, bool *failed);

/* How far behind the host's time the traces hold their records to put them
 * in order: a pulse edge is known up to a mains cycle after it happened
 * (pulse.h), a reply when the meters reach the next common stop (100 ms,
 * runner.c), a Modbus TCP request waiting for the line up to a gateway
 * timeout or two (gateway.h). */
#define TRACE_HOLD_NS (500ull * VTIME_NS_PER_MS)

/* ---- vcd.c ---- */
typedef struct vcd vcd_t;
vcd_t *vcd_open(const char *path, const scenario_t *sc, uint64_t from_ns, uint64_t until_ns,
                char *err, size_t errlen);
void vcd_frame(vcd_t *v, int bus, meter_line_t line, int dir, int meter, const uint8_t *bytes,
               size_t n, uint64_t t_start_ns, uint32_t bps, line_parity_t parity,
               const uint64_t *t_end);
void vcd_cut(vcd_t *v, int bus, meter_line_t line, int meter, uint64_t t_ns);
void vcd_level(vcd_t *v, int meter, int sig, bool level, uint64_t t_ns);
void vcd_time(vcd_t *v, uint64_t now_ns);
bool vcd_close(vcd_t *v, uint64_t end_ns); /* false: a write failed */
const char *vcd_path(const vcd_t *v);

/* ---- pcap.c ---- */
typedef struct pcapw pcapw_t;
pcapw_t *pcapw_open(const char *path, char *err, size_t errlen);
void pcapw_frame(pcapw_t *p, int bus, meter_line_t line, int dir, const uint8_t *bytes, size_t n,
                 uint64_t t_ns);
void pcapw_mbtcp(pcapw_t *p, int bus, int client, bool to_gateway, const uint8_t *adu, size_t n,
                 uint64_t t_ns);
void pcapw_time(pcapw_t *p, uint64_t before_ns);
bool pcapw_close(pcapw_t *p);
const char *pcapw_path(const pcapw_t *p);

/* ---- jsonl.c ---- */
typedef struct jsonl jsonl_t;
jsonl_t *jsonl_open(const char *path, int n_meters, char *err, size_t errlen);
void jsonl_frame(jsonl_t *j, const char *bus, meter_line_t line, int dir, const char *meter,
                 const uint8_t *bytes, size_t n, uint64_t t_start_ns, uint64_t t_end_ns,
                 uint32_t bps, line_parity_t parity);
void jsonl_cut(jsonl_t *j, const char *bus, meter_line_t line, const char *meter, uint64_t t_ns);
void jsonl_mbtcp(jsonl_t *j, const char *bus, int client, bool to_gateway, const uint8_t *adu,
                 size_t n, uint64_t t_ns);
/* An edge of signal `sig` (TRACE_SIG_*) of meter k, named `meter`. */
void jsonl_edge(jsonl_t *j, int k, const char *meter, int sig, bool level, uint64_t t_ns);
void jsonl_lcd(jsonl_t *j, const char *meter, const char *text, uint64_t t_ns);
void jsonl_window(jsonl_t *j, const char *meter, const metrology_values_t *v, uint64_t t_ns);
/* Writes out the records before `before_ns`, in their final order. */
void jsonl_time(jsonl_t *j, uint64_t before_ns);
bool jsonl_close(jsonl_t *j);
const char *jsonl_path(const jsonl_t *j);

/* The name of a meter signal ("S0-1", "LED", "tariff_input", "supply_L1"). */
const char *trace_sig_name(int sig);

#endif
