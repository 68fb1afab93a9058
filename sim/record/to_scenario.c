/* to_scenario: a recording as a scenario of master steps (see to_scenario.h). */
#include "to_scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "duration.h"
#include "mbus_records.h"
#include "recfile.h"
#include "scenario.h"
#include "vtime.h"

typedef struct {
    uint64_t t_ns, last_in_ns, n; /* n: the record of its first byte */
    int ep, conn;
    int tid; /* Modbus TCP: the request's transaction id (-1: a serial line's) */
    bool answered;
    uint8_t *req, *rep;
    size_t req_len, rep_len;
} step_t;

static bool append(uint8_t **buf, size_t *len, const uint8_t *b, size_t n)
{
    uint8_t *nb = realloc(*buf, *len + n);
    if (!nb)
        return false;
    memcpy(nb + *len, b, n);
    *buf = nb;
    *len += n;
    return true;
}

/* "01 03 00 00": the scenario's hex form. */
static char *hex(const uint8_t *b, size_t n)
{
    char *s = malloc(3 * n + 1);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++)
        sprintf(s + 3 * i, i + 1 < n ? "%02X " : "%02X", b[i]);
    return s;
}

/* A tick as exact seconds ("12.345625"): a bare number is seconds. */
static void at_text(uint64_t tick, char *buf, size_t cap)
{
    snprintf(buf, cap, "%llu.%06llu", (unsigned long long)(tick / VTIME_SAMPLE_RATE),
             (unsigned long long)(tick % VTIME_SAMPLE_RATE * (1000000 / VTIME_SAMPLE_RATE)));
}

/* An event's "at" in ticks (the scenario loaded when it was recorded). */
static bool event_tick(const cJSON *ev, uint64_t *tick)
{
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(ev, "at");
    if (cJSON_IsString(at))
        return duration_parse(at->valuestring, tick);
    if (cJSON_IsNumber(at) && at->valuedouble >= 0) {
        *tick = (uint64_t)llround(at->valuedouble * VTIME_SAMPLE_RATE);
        return true;
    }
    return false;
}

/* The step's master event: the request as received, the reply as seen. */
static cJSON *step_event(const step_t *s, const rec_endpoint_t *ep, bool named_buses)
{
    cJSON *ev = cJSON_CreateObject();
    char at[48];
    at_text((s->t_ns + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK, at, sizeof at);
    cJSON_AddStringToObject(ev, "at", at);
    if (named_buses)
        cJSON_AddStringToObject(ev, "bus", ep->bus);
    cJSON *x = cJSON_AddObjectToObject(ev, ep->modbus ? "modbus" : "mbus");
    char *req = hex(s->req, s->req_len);
    if (ep->modbus) {
        cJSON_AddStringToObject(x, "request", req ? req : "");
        cJSON_AddBoolToObject(x, "raw", true);
    } else {
        cJSON_AddStringToObject(x, "raw", req ? req : "");
    }
    free(req);
    const uint8_t *r = s->rep;
    size_t n = s->rep_len;
    bool sound =
        ep->modbus ? n >= 4 && crc16_modbus(r, n - 2) == (uint16_t)(r[n - 2] | r[n - 1] << 8)
                   : (n == 1 && r[0] == 0xE5) || (n >= 6 && r[0] == 0x68 && (size_t)r[1] + 6 == n &&
                                                  mbus_checksum(r + 4, n - 6) == r[n - 2]);
    if (n == 0) {
        cJSON_AddBoolToObject(x, "expect_none", true);
    } else if (!sound) {
        cJSON_AddBoolToObject(x, "expect_garbled", true);
    } else {
        char *rep = hex(r, ep->modbus ? n - 2 : n); /* Modbus: the CRC is checked */
        cJSON_AddStringToObject(x, "expect", rep ? rep : "");
        free(rep);
    }
    return ev;
}

/* An RTU frame: unit, PDU and its CRC (what the gateway puts on the line). */
static bool rtu_frame(uint8_t **buf, size_t *len, const uint8_t *unit_pdu, size_t n)
{
    uint16_t crc = crc16_modbus(unit_pdu, n);
    uint8_t c[2] = {(uint8_t)(crc & 0xFF), (uint8_t)(crc >> 8)};
    return append(buf, len, unit_pdu, n) && append(buf, len, c, 2);
}

/* Modbus TCP: each whole MBAP request of a read (Modbus Messaging on TCP/IP
 * 1.0b, 3.1.3: transaction id, protocol 0, length, unit, PDU) is a step
 * with the RTU frame the gateway made of it. */
static bool mbap_requests(const rec_entry_t *e, step_t **st, size_t *n)
{
    const uint8_t *b = e->bytes;
    size_t len = e->len;
    while (len >= 8) {
        size_t l = (size_t)(b[4] << 8 | b[5]);
        if (l < 2 || 6 + l > len)
            break; /* split across reads: not made a step (docs/record.md) */
        step_t *ns = realloc(*st, (*n + 1) * sizeof *ns);
        if (!ns)
            return false;
        *st = ns;
        step_t *s = &ns[(*n)++];
        *s = (step_t){.t_ns = e->t_ns,
                      .last_in_ns = e->t_ns,
                      .n = e->n,
                      .ep = e->ep,
                      .conn = e->conn,
                      .tid = b[0] << 8 | b[1]};
        if (!rtu_frame(&s->req, &s->req_len, b + 6, l))
            return false;
        b += 6 + l;
        len -= 6 + l;
    }
    return true;
}

/* Modbus TCP: a response goes to the request of its connection with its
 * transaction id; the gateway's own exceptions (0x0A: no path, 0x0B: no
 * answer) mean the line carried no reply. */
static void mbap_responses(const rec_entry_t *e, step_t *st, size_t n)
{
    const uint8_t *b = e->bytes;
    size_t len = e->len;
    while (len >= 8) {
        size_t l = (size_t)(b[4] << 8 | b[5]);
        if (l < 2 || 6 + l > len)
            return;
        int tid = b[0] << 8 | b[1];
        for (size_t i = n; i-- > 0;)
            if (st[i].ep == e->ep && st[i].conn == e->conn && st[i].tid == tid && !st[i].answered) {
                st[i].answered = true;
                bool gateway = l == 3 && (b[7] & 0x80) && (b[8] == 0x0A || b[8] == 0x0B);
                if (!gateway)
                    rtu_frame(&st[i].rep, &st[i].rep_len, b + 6, l);
                break;
            }
        b += 6 + l;
        len -= 6 + l;
    }
}

/* The latest step of endpoint ep's connection conn, or of any master on
 * the line of endpoint ep when conn is -2; -1: none. */
static long latest(const recfile_t *rf, const step_t *st, size_t n, int ep, int conn)
{
    const rec_endpoint_t *me = &rf->eps[ep];
    for (size_t i = n; i-- > 0;) {
        const rec_endpoint_t *d = &rf->eps[st[i].ep];
        if (conn == -2 ? d->modbus == me->modbus && strcmp(d->bus, me->bus) == 0
                       : st[i].ep == ep && st[i].conn == conn)
            return (long)i;
    }
    return -1;
}

/* The requests of the recording, each with the reply its line carried. */
static step_t *collect_steps(const recfile_t *rf, size_t *n_steps)
{
    step_t *st = NULL;
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < rf->n && ok; i++) {
        const rec_entry_t *e = &rf->e[i];
        if (e->type == REC_IN && rf->eps[e->ep].mbap) {
            ok = mbap_requests(e, &st, &n);
        } else if (e->type == REC_OUT && rf->eps[e->ep].mbap) {
            mbap_responses(e, st, n);
        } else if (e->type == REC_IN) {
            long k = latest(rf, st, n, e->ep, e->conn);
            step_t *s = k >= 0 ? &st[k] : NULL;
            if (s && !s->rep_len && e->t_ns - s->last_in_ns < TO_SCENARIO_GAP_NS) {
                ok = append(&s->req, &s->req_len, e->bytes, e->len);
                s->last_in_ns = e->t_ns;
                continue;
            }
            step_t *ns = realloc(st, (n + 1) * sizeof *ns);
            if (!ns) {
                ok = false;
                break;
            }
            st = ns;
            st[n] = (step_t){.t_ns = e->t_ns,
                             .last_in_ns = e->t_ns,
                             .n = e->n,
                             .ep = e->ep,
                             .conn = e->conn,
                             .tid = -1};
            ok = append(&st[n].req, &st[n].req_len, e->bytes, e->len);
            n++;
        } else if (e->type == REC_OUT) {
            /* Every master on a line hears every reply: it is a step's only
             * if that step is the latest request on the line. */
            long k = latest(rf, st, n, e->ep, -2);
            if (k >= 0 && st[k].ep == e->ep && st[k].conn == e->conn)
                ok = append(&st[k].rep, &st[k].rep_len, e->bytes, e->len);
        } else if (e->type == REC_UI) {
            fprintf(stderr,
                    "metersim: --record-to-scenario: record %llu: a window action (%s) is not "
                    "made a step of the scenario; its replies may differ from then on\n",
                    (unsigned long long)e->n, e->action);
        }
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++) {
            free(st[i].req);
            free(st[i].rep);
        }
        free(st);
        return NULL;
    }
    *n_steps = n;
    return st ? st : calloc(1, sizeof *st);
}

int to_scenario(const char *recording, const char *out)
{
    recfile_t rf;
    char err[1024];
    if (!recfile_load(recording, &rf, err, sizeof err)) {
        fprintf(stderr, "metersim: --record-to-scenario: %s\n", err);
        return 2;
    }
    const char *text = rf.scenario_text ? rf.scenario_text : scenario_default_text();
    cJSON *root = cJSON_Parse(text);
    size_t n_steps = 0;
    step_t *st = collect_steps(&rf, &n_steps);
    if (!cJSON_IsObject(root) || !st) {
        fprintf(stderr, "metersim: --record-to-scenario: %s: %s\n", recording,
                st ? "the recorded scenario is not a JSON object" : "out of memory");
        cJSON_Delete(root);
        recfile_free(&rf);
        return 2;
    }
    /* The scenario is the master now: no endpoints of its own. */
    cJSON *buses = cJSON_GetObjectItemCaseSensitive(root, "buses");
    cJSON *b;
    cJSON_ArrayForEach(b, buses)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(b, "modbus");
        cJSON_DeleteItemFromObjectCaseSensitive(b, "mbus");
    }
    /* Its own events, then each step after those at or before its time. */
    cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(root, "timeline");
    cJSON *tl = cJSON_AddArrayToObject(root, "timeline");
    cJSON *ev = old ? old->child : NULL;
    int status = 0;
    for (size_t i = 0; i <= n_steps && !status; i++) {
        uint64_t tick =
            i < n_steps ? (st[i].t_ns + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK : UINT64_MAX;
        uint64_t et;
        while (ev && event_tick(ev, &et) && et <= tick) {
            cJSON *next = ev->next;
            cJSON_AddItemToArray(tl, cJSON_DetachItemViaPointer(old, ev));
            ev = next;
        }
        if (ev && !event_tick(ev, &et)) {
            fprintf(stderr,
                    "metersim: --record-to-scenario: %s: an event of the recorded "
                    "scenario has no \"at\" that can be read\n",
                    recording);
            status = 2;
        }
        if (i < n_steps)
            cJSON_AddItemToArray(tl, step_event(&st[i], &rf.eps[st[i].ep], buses != NULL));
    }
    cJSON_Delete(old);
    uint64_t end_tick = (rf.e[rf.n - 1].t_ns + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK;
    char dur[48];
    at_text(end_tick, dur, sizeof dur);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "duration");
    cJSON_AddStringToObject(root, "duration", dur);
    char desc[512];
    snprintf(desc, sizeof desc,
             "Made by metersim --record-to-scenario from %s: %zu requests of a recorded "
             "session, each expecting the reply it got then.",
             recording, n_steps);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "description");
    cJSON_AddStringToObject(root, "description", desc);
    char *json = status ? NULL : cJSON_Print(root);
    FILE *f = json ? fopen(out, "w") : NULL;
    if (!status && (!f || fputs(json, f) == EOF || fputc('\n', f) == EOF)) {
        fprintf(stderr, "metersim: --record-to-scenario: %s cannot be written: %s\n", out,
                strerror(errno));
        status = 3;
    }
    if (f && fclose(f) != 0 && !status) {
        fprintf(stderr, "metersim: --record-to-scenario: %s cannot be written: %s\n", out,
                strerror(errno));
        status = 3;
    }
    if (!status)
        fprintf(stderr, "metersim: --record-to-scenario: %zu steps written to %s\n", n_steps, out);
    if (!status && rf.flags.fast)
        fprintf(stderr,
                "metersim: --record-to-scenario: %s was recorded with --fast (a reply at once); "
                "a scenario's master keeps wire time, so its replies come later and may differ "
                "(docs/record.md)\n",
                recording);
    free(json);
    for (size_t i = 0; i < n_steps; i++) {
        free(st[i].req);
        free(st[i].rep);
    }
    free(st);
    cJSON_Delete(root);
    recfile_free(&rf);
    return status;
}
