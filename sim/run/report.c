/* report: the run's log (JSON lines) and the outcome of every assertion:
 * values, the LCD, and the answers to the scenario's requests. */
#include <math.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "mbus_records.h"
#include "modbus_map.h"
#include "run_internal.h"
#include "text/text_lcd.h"

static void print_array(FILE *f, const char *name, const double v[3], int decimals)
{
    fprintf(f, ",\"%s\":[%.*f,%.*f,%.*f]", name, decimals, v[0], decimals, v[1], decimals, v[2]);
}

/* One line of JSON with what meter k shows now. */
void report_readings(run_t *r, int k)
{
    FILE *f = r->o->log;
    readings_t x;
    meter_readings(&r->meters[k], &x);
    fprintf(f, "{\"t\":%llu", (unsigned long long)(r->tick / VTIME_SAMPLE_RATE));
    if (r->sc->n_meters > 1)
        fprintf(f, ",\"meter\":\"%s\"", r->sc->meters[k].name);
    fprintf(f, ",\"f\":%.3f", x.frequency);
    print_array(f, "U", x.voltage, 2);
    print_array(f, "I", x.current, 3);
    print_array(f, "P_kW", x.p, 4);
    print_array(f, "Q_kvar", x.q, 4);
    print_array(f, "S_kVA", x.s, 4);
    print_array(f, "PF", x.pf, 3);
    print_array(f, "U_LL", x.voltage_ll, 2);
    fprintf(f, ",\"P_total_kW\":%.4f,\"Q_total_kvar\":%.4f,\"S_total_kVA\":%.4f,\"PF_total\":%.3f",
            x.p_total, x.q_total, x.s_total, x.pf_total);
    fprintf(f, ",\"quadrant\":[%d,%d,%d],\"quadrant_total\":%d", x.quadrant[0], x.quadrant[1],
            x.quadrant[2], x.quadrant_total);
    fprintf(f, ",\"E_total_kWh\":%.6f,\"E_fwd_kWh\":%.6f,\"E_rev_kWh\":%.6f", x.active_total.total,
            x.active_forward.total, x.active_reverse.total);
    fprintf(f, ",\"Eq_fwd_kvarh\":%.6f,\"Eq_rev_kvarh\":%.6f,\"tariff\":%d",
            x.reactive_forward.total, x.reactive_reverse.total, x.tariff);
    fprintf(f, ",\"power_down_count\":%u,\"error\":%u}\n", (unsigned)x.power_down_count,
            (unsigned)x.error_code);
}

void report_result(run_t *r, const char *name, const char *failure)
{
    if (r->n_results == r->cap_results) {
        size_t cap = r->cap_results ? r->cap_results * 2 : 64;
        result_t *n = realloc(r->results, cap * sizeof *n);
        if (!n)
            return; /* the log and stderr still tell it */
        r->results = n;
        r->cap_results = cap;
    }
    result_t *x = &r->results[r->n_results++];
    snprintf(x->name, sizeof x->name, "%s", name);
    snprintf(x->failure, sizeof x->failure, "%s", failure ? failure : "");
}

/* Writes s as the inside of a JSON string. */
static void json_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
}

static void check_lcd(run_t *r, const scenario_event_t *ev, int k)
{
    const scenario_assert_t *a = &ev->u.check;
    meter_t *m = &r->meters[k];
    char text[128], when[32], name[512];
    text_lcd_line(meter_display(m), text, sizeof text);
    bool ok =
        a->kind == SCENARIO_ASSERT_LCD ? strcmp(text, a->text) == 0 : strstr(text, a->text) != NULL;
    runner_format_time(r->tick, when, sizeof when);
    snprintf(name, sizeof name, "%s %s lcd at %s", ev->path, r->sc->meters[k].name, when);
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"assert\",\"path\":\"%s\",\"meter\":\"%s\",\"lcd\":\"",
            (double)r->tick / VTIME_SAMPLE_RATE, ev->path, r->sc->meters[k].name);
    json_text(r->o->log, text);
    fprintf(r->o->log, "\",\"expected\":\"");
    json_text(r->o->log, a->text);
    fprintf(r->o->log, "\",\"ok\":%s}\n", ok ? "true" : "false");
    if (ok) {
        report_result(r, name, NULL);
        return;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s: at %s: %s LCD shows \"%s\", expected %s\"%s\"", r->sc->file,
             ev->path, when, r->sc->meters[k].name, text,
             a->kind == SCENARIO_ASSERT_LCD ? "" : "it to contain ", a->text);
    fprintf(stderr, "metersim: assertion failed: %s\n", msg);
    report_result(r, name, msg);
    r->failures++;
}

void report_check(run_t *r, const scenario_event_t *ev, int k)
{
    const scenario_assert_t *a = &ev->u.check;
    if (a->kind != SCENARIO_ASSERT_FIELD) {
        check_lcd(r, ev, k);
        return;
    }
    readings_t x;
    meter_readings(&r->meters[k], &x);
    double v = fields_value(&a->field, &x);
    bool ok = v >= a->lo && v <= a->hi;
    char when[32], expect[96], name[512];
    runner_format_time(r->tick, when, sizeof when);
    const char *sp = a->field.unit[0] ? " " : "";
    if (a->equals)
        snprintf(expect, sizeof expect, "%.12g +- %.12g%s%s", a->expect, a->tolerance, sp,
                 a->field.unit);
    else
        snprintf(expect, sizeof expect, "%.12g to %.12g%s%s", a->lo, a->hi, sp, a->field.unit);
    snprintf(name, sizeof name, "%s %s %s at %s", ev->path, r->sc->meters[k].name, a->name, when);
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"assert\",\"path\":\"%s\",\"meter\":\"%s\",\"field\":\"%s\","
            "\"value\":%.12g,\"expected\":\"%s\",\"ok\":%s}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, ev->path, r->sc->meters[k].name, a->name, v,
            expect, ok ? "true" : "false");
    if (ok) {
        report_result(r, name, NULL);
        return;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s: at %s: %s %s = %.12g%s%s, expected %s", r->sc->file,
             ev->path, when, r->sc->meters[k].name, a->name, v, sp, a->field.unit, expect);
    fprintf(stderr, "metersim: assertion failed: %s\n", msg);
    report_result(r, name, msg);
    r->failures++;
}

static void hex(char *out, size_t cap, const uint8_t *b, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%02X", i ? " " : "", b[i]);
}

/* Finds a named record in an RSP_UD and decodes its value; false when the
 * telegram does not hold it (the records stand in the order of A2.2). */
static bool mbus_record_value(const uint8_t *f, size_t n, const char *name, int64_t *value)
{
    if (n < 21 || f[0] != 0x68 || f[3] != 0x68 || f[1] != f[2] || (size_t)f[1] + 6 != n)
        return false;
    size_t p = 19, end = n - 2; /* after 68 L L 68 C A CI and the 12-byte header */
    for (size_t i = 0; i < MBUS_RECORD_COUNT && p < end; i++) {
        const mbus_record_t *rec = &MBUS_RECORDS[i];
        if (p + rec->dib_len + rec->vib_len > end || memcmp(f + p, rec->dib, rec->dib_len) ||
            memcmp(f + p + rec->dib_len, rec->vib, rec->vib_len))
            return false;
        p += rec->dib_len + rec->vib_len;
        size_t len = mbus_records_data_len(rec->dib[0]);
        if (p + len > end)
            return false;
        if (strcmp(rec->name, name) == 0) {
            if (mbus_records_dif_is_bcd(rec->dib[0]))
                return mbus_records_bcd_decode(f + p, len, value);
            uint64_t u = 0;
            for (size_t b = 0; b < len; b++)
                u |= (uint64_t)f[p + b] << (8 * b);
            if (len < 8 && (u >> (8 * len - 1)) & 1) /* two's complement of its length */
                u |= ~0ull << (8 * len);
            *value = (int64_t)u;
            return true;
        }
        p += len;
    }
    return false;
}

/* The answer time of a request is over: what did the master receive? */
void report_xfer(run_t *r, const xfer_t *p, bool modbus, const line_byte_t *got, size_t n)
{
    const scenario_event_t *ev = p->ev;
    const scenario_xfer_t *x = &ev->u.xfer;
    uint8_t bytes[BUS_FRAME_MAX * 2];
    bool line_error = false;
    if (n > sizeof bytes)
        n = sizeof bytes;
    for (size_t i = 0; i < n; i++) {
        bytes[i] = got[i].byte;
        line_error = line_error || got[i].error;
    }

    char why[512] = "";
    bool crc_ok =
        !modbus || (n >= 4 && crc16_modbus(bytes, n - 2) == (bytes[n - 2] | bytes[n - 1] << 8));
    size_t body = modbus && n >= 2 ? n - 2 : n;
    switch (x->expect) {
    case SCENARIO_EXPECT_ANY:
        break;
    case SCENARIO_EXPECT_NONE:
        if (n)
            snprintf(why, sizeof why, "a reply came, none was expected");
        break;
    case SCENARIO_EXPECT_BYTES:
        if (!n)
            snprintf(why, sizeof why, "no reply");
        else if (line_error || !crc_ok)
            snprintf(why, sizeof why, "the reply is garbled (%s)",
                     line_error ? "line errors" : "bad CRC");
        else if (body != x->reply_len || memcmp(bytes, x->reply, body))
            snprintf(why, sizeof why, "the reply differs");
        break;
    case SCENARIO_EXPECT_GARBLED: {
        /* M-Bus: a sound frame is an E5, or a long frame with its checksum. */
        bool sound = !line_error && n > 0 &&
                     (modbus ? crc_ok
                             : (n == 1 && bytes[0] == 0xE5) ||
                                   (n >= 6 && bytes[0] == 0x68 && (size_t)bytes[1] + 6 == n &&
                                    mbus_checksum(bytes + 4, n - 6) == bytes[n - 2]));
        if (!n)
            snprintf(why, sizeof why, "no reply; a collision was expected");
        else if (sound)
            snprintf(why, sizeof why, "the reply is sound; a collision was expected");
        break;
    }
    case SCENARIO_EXPECT_EXCEPTION:
        if (!n || line_error || !crc_ok || body != 3 || !(bytes[1] & 0x80) ||
            bytes[2] != x->exception)
            snprintf(why, sizeof why, "expected exception %02X", x->exception);
        break;
    case SCENARIO_EXPECT_FLOATS:
        if (!n || line_error || !crc_ok || body < 3 || bytes[1] & 0x80 || bytes[2] != body - 3 ||
            bytes[2] < 4 * x->n_floats) {
            snprintf(why, sizeof why, "expected a reply with %d Float ABCD values", x->n_floats);
        } else {
            for (int i = 0; i < x->n_floats && !why[0]; i++) {
                double v = modbus_get_float_abcd(bytes + 3 + 4 * i);
                if (!(fabs(v - x->floats[i]) <= x->tolerance))
                    snprintf(why, sizeof why, "value %d is %.9g, expected %.9g +- %.9g", i + 1, v,
                             x->floats[i], x->tolerance);
            }
        }
        break;
    case SCENARIO_EXPECT_RECORD: {
        int64_t v;
        if (line_error || !mbus_record_value(bytes, n, x->record, &v))
            snprintf(why, sizeof why, "no sound RSP_UD with the record \"%s\"", x->record);
        else if (!(fabs((double)v - x->floats[0]) <= x->tolerance))
            snprintf(why, sizeof why, "record \"%s\" is %lld, expected %.9g +- %.9g", x->record,
                     (long long)v, x->floats[0], x->tolerance);
        break;
    }
    }
    char req[3 * SCENARIO_FRAME_MAX + 1], rep[3 * BUS_FRAME_MAX * 2 + 1],
        want[3 * SCENARIO_FRAME_MAX + 1];
    hex(req, sizeof req, x->request, x->request_len);
    hex(rep, sizeof rep, bytes, n);
    hex(want, sizeof want, x->reply, x->reply_len);
    double latency =
        n ? (double)((int64_t)got[0].t_end_ns - (int64_t)line_char_ns(p->bps, p->parity) -
                     (int64_t)p->request_end_ns) /
                1e6
          : 0.0;
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"%s\",\"path\":\"%s\",\"request\":\"%s\",\"reply\":\"%s\"",
            (double)p->sent_ns / 1e9, modbus ? "modbus" : "mbus", ev->path, req, rep);
    if (n)
        fprintf(r->o->log, ",\"turnaround_ms\":%.3f", latency);
    fprintf(r->o->log, ",\"ok\":%s}\n", why[0] ? "false" : "true");

    if (x->expect == SCENARIO_EXPECT_ANY)
        return;
    char when[32], name[512];
    runner_format_time(p->sent_ns / VTIME_NS_PER_TICK, when, sizeof when);
    snprintf(name, sizeof name, "%s %s request at %s", ev->path, modbus ? "Modbus" : "M-Bus", when);
    if (!why[0]) {
        report_result(r, name, NULL);
        return;
    }
    char msg[8192];
    snprintf(msg, sizeof msg, "%s: %s: at %s: %s request %s: %s; reply \"%s\"%s%s%s", r->sc->file,
             ev->path, when, modbus ? "Modbus" : "M-Bus", req, why, rep,
             x->expect == SCENARIO_EXPECT_BYTES ? ", expected \"" : "",
             x->expect == SCENARIO_EXPECT_BYTES ? want : "",
             x->expect == SCENARIO_EXPECT_BYTES ? (modbus ? "\" + CRC" : "\"") : "");
    fprintf(stderr, "metersim: assertion failed: %s\n", msg);
    report_result(r, name, msg);
    r->failures++;
}

void report_stats(const run_t *r)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    uint64_t requests = 0, replies = 0, timeouts = 0, clients = 0, refused = 0, dropped = 0;
    for (int i = 0; i < r->ep.n_gws; i++) {
        requests += r->ep.gws[i]->stats.requests;
        replies += r->ep.gws[i]->stats.replies;
        timeouts += r->ep.gws[i]->stats.timeouts;
    }
    for (int i = 0; i < r->ep.n_tcp; i++) {
        const tcp_stats_t *t = &r->ep.tcp[i]->stats;
        clients += t->accepted;
        refused += t->refused;
        dropped += t->dropped_protocol + t->dropped_idle + t->dropped_stalled + t->dropped_slow;
    }
    uint64_t overruns = 0, unread = 0;
    for (int i = 0; i < r->ep.n_serial; i++) {
        overruns += r->ep.serial[i]->link.overruns;
        unread += r->ep.serial[i]->link.overflow;
    }
    for (int i = 0; i < r->ep.n_tcp; i++) { /* raw TCP streams are lines too */
        const tcp_server_t *s = r->ep.tcp[i];
        overruns += s->stats.overruns;
        unread += s->stats.unread_dropped;
        for (int k = 0; k < s->n_conns; k++)
            if (s->conns[k]->raw) {
                overruns += s->conns[k]->link.overruns;
                unread += s->conns[k]->link.overflow;
            }
    }
    fprintf(stderr,
            "{\"stats\":{\"meters\":%d,\"buses\":%d,\"simulated_s\":%.3f,\"wall_s\":%.3f,"
            "\"cpu_s\":%.3f,\"max_lag_ms\":%.3f,\"wakeups\":%llu,\"gateway_requests\":%llu,"
            "\"gateway_replies\":%llu,\"gateway_timeouts\":%llu,\"tcp_clients\":%llu,"
            "\"tcp_refused\":%llu,\"tcp_dropped\":%llu,\"serial_overruns\":%llu,"
            "\"serial_unread_dropped\":%llu,\"lazy\":%s}}\n",
            r->sc->n_meters, r->sc->n_buses, (double)r->tick / VTIME_SAMPLE_RATE,
            loop_wall(&r->loop), cpu, (double)r->max_lag_ns / 1e6,
            (unsigned long long)r->loop.wakeups, (unsigned long long)requests,
            (unsigned long long)replies, (unsigned long long)timeouts, (unsigned long long)clients,
            (unsigned long long)refused, (unsigned long long)dropped, (unsigned long long)overruns,
            (unsigned long long)unread, r->lazy ? "true" : "false");
}
