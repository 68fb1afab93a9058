/* record: --record FILE, every input the twin receives, with its virtual
 * time of arrival, so that --replay gives the same bytes (issue 15, point 4;
 * the format is docs/record.md).
 *
 *   header   {format, version, metersim, scenario {path, crc32, text}, flags}
 *   endpoint one per way in, before the run: its line, spec, bus, copper
 *   connect  a client of a TCP endpoint connected; close: it closed
 *   in       bytes a master wrote, as one read got them, stamped with the
 *            loop's wake (loop_woke(): what link_receive() stamps them with)
 *   out      reply bytes as written to the master (for checking, not fed)
 *   start    a Modbus TCP request went on the line (the gateway's choice
 *            and instant: live, a request queued behind another starts
 *            when the host next looks; version 2)
 *   ui       a button, the supply, a phase's current or direction
 *   end      when the run stopped
 *
 * One JSON object per line (cJSON), numbered from 1 after the header, times
 * never going back: a reader can tell a truncated, re-ordered or foreign file
 * by its record number (recfile.h).
 *
 * The hooks are one line where input arrives (link.c) and where a reply is
 * written; each is a no-op on a NULL port, so a run without --record pays a
 * test of a pointer.
 */
#ifndef METERSIM_RECORD_H
#define METERSIM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_FORMAT "metersim-record"
#define RECORD_VERSION 2 /* 2: "start" records; 1 is read too */
#define RECORD_METERSIM_VERSION "0.1"

typedef struct record record_t;

/* One endpoint's handle on the recorder (the link keeps a pointer to it). */
typedef struct record_port {
    record_t *rec; /* NULL: not recording */
    int ep;        /* its number in the recording */
    int conn;      /* a TCP connection's number on its endpoint; -1: the endpoint itself */
    int next_conn; /* an endpoint: the number its next connection gets */
} record_port_t;

/* What changes results besides the inputs: the flags of the run. */
typedef struct record_flags {
    bool fast, copper, allow_outside_paths;
    /* --fidelity auto (the closed-form path, issue 14) rather than sample;
     * a recording without the key predates it: sample. */
    bool closed_form;
    uint64_t until_ns, tcp_idle_ns, gateway_timeout_ns; /* 0: not given */
} record_flags_t;

/* Creates FILE and writes the header: the scenario (its path, NULL for the
 * built-in one; its text is kept whole, with its CRC-32) and the flags.
 * NULL with a message in err when the file cannot be written. */
record_t *record_open(const char *path, const char *scenario_path, const record_flags_t *f,
                      char *err, size_t errlen);

/* Declares an endpoint before the run; fills `port`. */
void record_endpoint(record_t *r, record_port_t *port, bool modbus, const char *spec,
                     const char *bus, bool copper);

/* A client connected to TCP endpoint `srv` (Modbus TCP, RTU or M-Bus over
 * TCP) at t_ns; fills `conn`, numbered 0, 1, ... on that endpoint. */
void record_connect(record_port_t *srv, record_port_t *conn, uint64_t t_ns);

/* The client of `conn` closed its connection at t_ns (an input: the server's
 * own closes, idle or refused, follow from the run and are not recorded). */
void record_disconnect(const record_port_t *conn, uint64_t t_ns);

/* A master's bytes, read at t_ns (the loop's wake); peer_bps: the baud rate
 * its side of a pty was set to (0: unknown), which --copper depends on. */
void record_rx(const record_port_t *p, uint64_t t_ns, const uint8_t *b, size_t n,
               uint32_t peer_bps);

/* The gateway put the request of connection `conn` on its line at t_ns. */
void record_start(const record_port_t *conn, uint64_t t_ns);

/* Reply bytes written to the master at t_ns. */
void record_tx(const record_port_t *p, uint64_t t_ns, const uint8_t *b, size_t n);

/* A person's action in the window (sim/ui), after the wake at t_ns, taking
 * effect at at_ns, the meter's own time then: "button" (arg: 0 left, 1 middle,
 * 2 right; value: 1 pressed, 0 released), "supply" (value 1 on),
 * "tariff_input" (value 1: 230 V on 10/11), "current"
 * (arg: phase; value: A), "export" (arg: phase; value: 1 export). */
void record_ui(record_t *r, uint64_t t_ns, uint64_t at_ns, int meter, const char *action, int arg,
               double value);

/* Writes the end record and closes. False when anything could not be
 * written (the run's status is then 3). NULL is fine. */
bool record_close(record_t *r, uint64_t t_end_ns);

/* A whole file as a NUL-terminated string (NULL with errno on failure). */
char *record_slurp(const char *path, size_t *len);

/* The CRC-32 of a text, as the header writes it (8 hex digits). */
void record_crc_text(const char *text, size_t n, char out[9]);

#endif
