/* pcap: every frame of the run in one capture file, written with libpcap's
 * dump API (issue 15 point 2, docs/trace.md).
 *
 * A pcap file has one link type, and the run has three kinds of traffic;
 * the link type that carries all three, and that tshark dissects without a
 * plugin, is LINKTYPE_WIRESHARK_UPPER_PDU (252): each packet starts with
 * tags that name the dissector for its bytes, then the bytes as on the wire.
 *
 *   tags                                         bytes
 *   proto "mbrtu",  ports 10000+bus <-> 502      Modbus RTU ADU, CRC as sent
 *   proto "mbtcp",  ports 20000+client <-> 502   Modbus/TCP ADU (MBAP + PDU)
 *   table "tcp.port" = 2405, ports 10000+bus     M-Bus FT1.2 frame (E5, short,
 *                                  <-> 2405      control, long), checksum as sent
 *
 * The ports are what tell a request from a response (the meter and the
 * gateway are port 502, as a server is; tshark's Modbus dissectors classify
 * by them); the addresses are 127.0.0.1. Timestamps are virtual time in
 * nanoseconds (a nanosecond-resolution pcap). tshark 4.0 has no M-Bus
 * dissector: its IEC 60870-5-101 dissector reads the FT1.2 link layer the two
 * share (start, length, C, A, checksum, stop) when told to by
 * `-d tcp.port==2405,iec60870_101`; what follows the address it reads as an
 * IEC 101 ASDU, which M-Bus data is not (docs/trace.md). */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

#ifndef DLT_WIRESHARK_UPPER_PDU
#define DLT_WIRESHARK_UPPER_PDU 252
#endif

/* Wireshark's exported-PDU tags (epan/exported_pdu.h). */
enum {
    EXP_END = 0,
    EXP_PROTO_NAME = 12,
    EXP_TABLE_NAME = 14,
    EXP_IPV4_SRC = 20,
    EXP_IPV4_DST = 21,
    EXP_PORT_TYPE = 24,
    EXP_SRC_PORT = 25,
    EXP_DST_PORT = 26,
    EXP_TABLE_VALUE = 32,
};
#define EXP_PT_TCP 2u

#define PCAPW_SERVER_PORT 502u /* Modbus (RTU meters and the TCP gateway) */
#define PCAPW_MBUS_PORT 2405u  /* M-Bus meters: the -d value in docs/trace.md */
#define PCAPW_BUS_PORT 10000u  /* a bus's master: 10000 + its index */
#define PCAPW_CLIENT_PORT 20000u
#define PCAPW_SNAPLEN 65535

struct pcapw {
    pcap_t *dead;
    pcap_dumper_t *dump;
    char path[512];
    hold_t *hold; /* every packet, until its order is final (hold.c) */
    bool failed;
};

pcapw_t *pcapw_open(const char *path, char *err, size_t errlen)
{
    pcapw_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "--trace-pcap %s: out of memory", path);
        return NULL;
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    p->hold = hold_new();
    if (!p->hold) {
        snprintf(err, errlen, "--trace-pcap %s: out of memory", path);
        free(p);
        return NULL;
    }
    p->dead = pcap_open_dead_with_tstamp_precision(DLT_WIRESHARK_UPPER_PDU, PCAPW_SNAPLEN,
                                                   PCAP_TSTAMP_PRECISION_NANO);
    if (p->dead)
        p->dump = pcap_dump_open(p->dead, path);
    if (!p->dump) {
        snprintf(err, errlen, "--trace-pcap %s: cannot write it: %s", path,
                 p->dead ? pcap_geterr(p->dead) : "libpcap failed");
        if (p->dead)
            pcap_close(p->dead);
        free(p->hold);
        free(p);
        return NULL;
    }
    return p;
}

const char *pcapw_path(const pcapw_t *p)
{
    return p->path;
}

/* One tag: type and length big-endian, the value padded to 4 bytes (the
 * length counts the padding). */
static size_t put_tag(uint8_t *b, size_t at, uint16_t type, const void *v, size_t n)
{
    size_t padded = (n + 3) & ~(size_t)3;
    b[at] = (uint8_t)(type >> 8);
    b[at + 1] = (uint8_t)type;
    b[at + 2] = (uint8_t)(padded >> 8);
    b[at + 3] = (uint8_t)padded;
    memset(b + at + 4, 0, padded);
    if (n)
        memcpy(b + at + 4, v, n);
    return at + 4 + padded;
}

static size_t put_u32(uint8_t *b, size_t at, uint16_t type, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return put_tag(b, at, type, be, 4);
}

/* Writes one packet: the tags for its dissector and ports, then the bytes. */
static void write_packet(pcapw_t *p, const char *proto, const char *table, uint32_t value,
                         uint32_t sport, uint32_t dport, const uint8_t *bytes, size_t n,
                         uint64_t t_ns)
{
    uint8_t buf[160 + 1024];
    if (n > 1024)
        n = 1024; /* longer than any frame the lines carry */
    static const uint8_t lo[4] = {127, 0, 0, 1};
    size_t at = 0;
    if (proto) {
        at = put_tag(buf, at, EXP_PROTO_NAME, proto, strlen(proto));
    } else {
        at = put_tag(buf, at, EXP_TABLE_NAME, table, strlen(table));
        at = put_u32(buf, at, EXP_TABLE_VALUE, value);
    }
    at = put_u32(buf, at, EXP_PORT_TYPE, EXP_PT_TCP);
    at = put_tag(buf, at, EXP_IPV4_SRC, lo, 4);
    at = put_tag(buf, at, EXP_IPV4_DST, lo, 4);
    at = put_u32(buf, at, EXP_SRC_PORT, sport);
    at = put_u32(buf, at, EXP_DST_PORT, dport);
    at = put_tag(buf, at, EXP_END, NULL, 0);
    memcpy(buf + at, bytes, n);
    if (!hold_put(p->hold, t_ns, buf, at + n))
        p->failed = true;
}

/* The file's writer for hold.c: one packet, in its final place. */
static void dump_packet(void *ctx, uint64_t t_ns, const uint8_t *buf, size_t len)
{
    pcapw_t *p = ctx;
    struct pcap_pkthdr h = {0};
    h.ts.tv_sec = (time_t)(t_ns / 1000000000ull);
    h.ts.tv_usec = (suseconds_t)(t_ns % 1000000000ull); /* nanoseconds in a nano file */
    h.caplen = h.len = (bpf_u_int32)len;
    pcap_dump((u_char *)p->dump, &h, buf);
}

void pcapw_frame(pcapw_t *p, int bus, meter_line_t line, int dir, const uint8_t *bytes, size_t n,
                 uint64_t t_ns)
{
    uint32_t master = PCAPW_BUS_PORT + (uint32_t)bus % 10000u;
    uint32_t meter = line == METER_LINE_MODBUS ? PCAPW_SERVER_PORT : PCAPW_MBUS_PORT;
    uint32_t sport = dir == 0 ? master : meter, dport = dir == 0 ? meter : master;
    if (line == METER_LINE_MODBUS)
        write_packet(p, "mbrtu", NULL, 0, sport, dport, bytes, n, t_ns);
    else
        write_packet(p, NULL, "tcp.port", PCAPW_MBUS_PORT, sport, dport, bytes, n, t_ns);
}

void pcapw_mbtcp(pcapw_t *p, int bus, int client, bool to_gateway, const uint8_t *adu, size_t n,
                 uint64_t t_ns)
{
    (void)bus;
    uint32_t c = PCAPW_CLIENT_PORT + (uint32_t)client % 40000u;
    write_packet(p, "mbtcp", NULL, 0, to_gateway ? c : PCAPW_SERVER_PORT,
                 to_gateway ? PCAPW_SERVER_PORT : c, adu, n, t_ns);
}

void pcapw_time(pcapw_t *p, uint64_t before_ns)
{
    hold_flush(p->hold, before_ns, dump_packet, p);
}

bool pcapw_close(pcapw_t *p)
{
    bool oom;
    uint64_t late = hold_free(p->hold, dump_packet, p, &oom);
    if (late)
        fprintf(stderr,
                "metersim: --trace-pcap %s: %llu packets came later than the trace could wait "
                "and are out of order\n",
                p->path, (unsigned long long)late);
    FILE *f = pcap_dump_file(p->dump);
    bool ok = !oom && !p->failed && pcap_dump_flush(p->dump) == 0 && !ferror(f);
    pcap_dump_close(p->dump);
    pcap_close(p->dead);
    if (!ok)
        fprintf(stderr, "metersim: --trace-pcap %s: writing the trace failed\n", p->path);
    free(p);
    return ok;
}
