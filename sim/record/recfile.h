/* recfile: reading a recording (record.h, docs/record.md) back, checked.
 *
 * A recording is refused whole, before anything runs, when it is not what
 * the writer makes: another format or version, a record that is not JSON
 * (a truncated line), a record number that is not the next one, a time that
 * goes back, an endpoint that was not declared, no "end" record (the file
 * was cut short). The message names the record number and what was
 * expected there (issue 15, "Bad input"); --replay and --record-to-scenario
 * then exit with status 2.
 */
#ifndef METERSIM_RECFILE_H
#define METERSIM_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint_spec.h"
#include "record.h"

typedef enum {
    REC_ENDPOINT,
    REC_IN,
    REC_OUT,
    REC_UI,
    REC_END,
    REC_CONNECT,
    REC_CLOSE,
    REC_START
} rec_type_t;

typedef struct rec_entry {
    uint64_t n, t_ns;
    rec_type_t type;
    int ep;            /* in, out, endpoint, connect, close */
    int conn;          /* a TCP connection of ep; -1: the endpoint itself (serial) */
    uint8_t *bytes;    /* in, out */
    size_t len;        /* in, out */
    uint32_t peer_bps; /* in */
    int meter, arg;    /* ui */
    double value;      /* ui */
    uint64_t at_ns;    /* ui: the meter's own time when it took effect */
    char action[16];   /* ui */
} rec_entry_t;

typedef struct rec_endpoint {
    bool modbus, copper;
    bool tcp;    /* a TCP endpoint: its input comes by connections */
    bool mbap;   /* ... of Modbus TCP (MBAP frames through a gateway) */
    int n_conns; /* connections declared ("connect") */
    char spec[300];
    char bus[32];
} rec_endpoint_t;

typedef struct recfile {
    int version;         /* 1: before "start" records (a replay does not wait for them) */
    char *scenario_path; /* NULL: the built-in scenario */
    char *scenario_text;
    record_flags_t flags;
    rec_endpoint_t *eps;
    int n_eps;
    rec_entry_t *e; /* every record after the header, the "end" last */
    size_t n;
} recfile_t;

/* Reads and checks FILE. False with "FILE: record N: ..., expected ..." in
 * err. */
bool recfile_load(const char *path, recfile_t *rf, char *err, size_t errlen);

void recfile_free(recfile_t *rf);

#endif
