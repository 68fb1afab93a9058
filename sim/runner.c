/* runner: the scenario's event loop, assertions, log and JUnit report. */
#define _GNU_SOURCE /* ppoll: waits to the nanosecond, where poll() rounds to whole ms */
#include "runner.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include "bus.h"
#include "crc.h"
#include "link.h"
#include "mbus_records.h"
#include "nvm.h"
#include "statefile.h"
#include "text/text_lcd.h"

#define CHUNK_TICKS 800u     /* 100 ms: pacing and progress granularity */
#define PORT_CHUNK_TICKS 8u  /* 1 ms: with a client attached, the meter runs at most this far
                                ahead of the wall clock */

typedef struct {
    char name[512];
    char failure[4096]; /* empty when it held */
} result_t;

struct runner {
    const scenario_t *sc;
    const runner_opts_t *o;
    bool supply[SCENARIO_MAX_METERS];
    meter_t *meters;
    wave_t *waves;
    scenario_grid_t grid;
    scenario_load_t loads[SCENARIO_MAX_METERS];
    metrology_sample_t buf[CHUNK_TICKS];
    uint64_t tick;
    result_t *results;
    size_t n_results, cap_results;
    int failures;
    volatile int *stop;
    double last_frame;
    uint64_t saved_at;  /* tick of the last state save */
    uint32_t saved_changes[SCENARIO_MAX_METERS]; /* meter.changes at the last save */
    bool state_failed;  /* a save failed: exit status 3 */
    bus_t bus[2];       /* [0] Modbus, [1] M-Bus */
    link_t links[2];    /* serial ports on the buses */
    bool linked[2];
    double start_wall;
    struct {            /* the scenario's request waiting for its answer, per bus */
        const scenario_event_t *ev;
        uint32_t bps;
        line_parity_t parity;
        uint64_t sent_ns, request_end_ns, timeout_ns;
    } pending[2];
};
typedef struct runner run_t;

void runner_format_time(uint64_t tick, char *buf, size_t cap)
{
    uint64_t ms = tick * 1000 / VTIME_SAMPLE_RATE;
    uint64_t s = ms / 1000, d = s / 86400;
    if (d)
        snprintf(buf, cap, "%llud %02llu:%02llu:%02llu.%03llu", (unsigned long long)d,
                 (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
                 (unsigned long long)(s % 60), (unsigned long long)(ms % 1000));
    else
        snprintf(buf, cap, "%02llu:%02llu:%02llu.%03llu", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60),
                 (unsigned long long)(ms % 1000));
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_for(double d, volatile int *stop)
{
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !*stop)
        ;
}

/* Virtual time now by the wall clock, in ns (paced runs). */
static uint64_t wall_virtual_ns(const run_t *r)
{
    double v = (wall_seconds() - r->start_wall) * r->o->speed * 1e9;
    return v > 0 ? (uint64_t)v : 0;
}

/* Serves the ports: writes what is due, reads what came. Returns true when a
 * client's bytes came in (the meters have work to do at once). */
static bool serve_ports(run_t *r, double wait_s)
{
    struct pollfd fds[2];
    int n = 0, which[2];
    uint64_t next_out = VTIME_NEVER, now = wall_virtual_ns(r);
    for (int b = 0; b < 2; b++) {
        if (!r->linked[b])
            continue;
        uint64_t t = link_transmit(&r->links[b], now);
        if (t < next_out)
            next_out = t;
        fds[n] = (struct pollfd){.fd = link_fd(&r->links[b]), .events = POLLIN};
        which[n++] = b;
    }
    if (next_out != VTIME_NEVER) {
        double until = next_out > now ? (double)(next_out - now) / 1e9 / r->o->speed : 0.0;
        if (until < wait_s)
            wait_s = until;
    }
    if (wait_s < 0)
        wait_s = 0;
    struct timespec to = {(time_t)wait_s, (long)((wait_s - floor(wait_s)) * 1e9)};
    if (ppoll(fds, (nfds_t)n, &to, NULL) <= 0)
        return false;
    bool got = false;
    for (int i = 0; i < n; i++) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (link_receive(&r->links[which[i]], wall_virtual_ns(r), stderr) > 0)
            got = true;
    }
    return got;
}

/* Waits until the wall clock has caught up with simulated time / speed,
 * giving the frontend its frames and the ports their bytes meanwhile. */
static void pace(run_t *r, double start_wall)
{
    const double frame = 1.0 / 30.0;
    double speed = r->o->speed;
    double due = speed > 0.0 ? start_wall + (double)r->tick / VTIME_SAMPLE_RATE / speed : 0.0;
    bool ports = r->linked[0] || r->linked[1];
    for (;;) {
        double now = wall_seconds();
        if (r->o->ui && now - r->last_frame >= frame) {
            r->last_frame = now;
            if (!r->o->ui->frame(r->o->ui->ctx, r))
                *r->stop = 1;
        }
        if (*r->stop || now >= due)
            return;
        double wait = due - now;
        if (r->o->ui && wait > frame)
            wait = frame;
        if (ports) {
            if (serve_ports(r, wait))
                return; /* a request came: the lines have work now */
        } else {
            sleep_for(wait, r->stop);
        }
    }
}

static void print_array(FILE *f, const char *name, const double v[3], int decimals)
{
    fprintf(f, ",\"%s\":[%.*f,%.*f,%.*f]", name, decimals, v[0], decimals, v[1], decimals, v[2]);
}

/* One line of JSON with what meter k shows now. */
static void log_readings(run_t *r, int k)
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
    fprintf(f, ",\"Eq_fwd_kvarh\":%.6f,\"Eq_rev_kvarh\":%.6f,\"tariff\":%d", x.reactive_forward.total,
            x.reactive_reverse.total, x.tariff);
    fprintf(f, ",\"power_down_count\":%u,\"error\":%u}\n", (unsigned)x.power_down_count,
            (unsigned)x.error_code);
}

static void add_result(run_t *r, const char *name, const char *failure)
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
    meter_advance(m, meter_now_ns(m));
    text_lcd_line(meter_display(m), text, sizeof text);
    bool ok = a->kind == SCENARIO_ASSERT_LCD ? strcmp(text, a->text) == 0
                                             : strstr(text, a->text) != NULL;
    runner_format_time(r->tick, when, sizeof when);
    snprintf(name, sizeof name, "%s %s lcd at %s", ev->path, r->sc->meters[k].name, when);
    fprintf(r->o->log, "{\"t\":%.3f,\"event\":\"assert\",\"path\":\"%s\",\"meter\":\"%s\",\"lcd\":\"",
            (double)r->tick / VTIME_SAMPLE_RATE, ev->path, r->sc->meters[k].name);
    json_text(r->o->log, text);
    fprintf(r->o->log, "\",\"expected\":\"");
    json_text(r->o->log, a->text);
    fprintf(r->o->log, "\",\"ok\":%s}\n", ok ? "true" : "false");
    if (ok) {
        add_result(r, name, NULL);
        return;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s: at %s: %s LCD shows \"%s\", expected %s\"%s\"", r->sc->file,
             ev->path, when, r->sc->meters[k].name, text,
             a->kind == SCENARIO_ASSERT_LCD ? "" : "it to contain ", a->text);
    fprintf(stderr, "metersim: assertion failed: %s\n", msg);
    add_result(r, name, msg);
    r->failures++;
}

static void check(run_t *r, const scenario_event_t *ev, int k)
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
        add_result(r, name, NULL);
        return;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s: at %s: %s %s = %.12g%s%s, expected %s", r->sc->file,
             ev->path, when, r->sc->meters[k].name, a->name, v, sp, a->field.unit, expect);
    fprintf(stderr, "metersim: assertion failed: %s\n", msg);
    add_result(r, name, msg);
    r->failures++;
}

/* ---- the meters' memory on disk (--state, docs/state.md) ---- */

static void state_path(const run_t *r, int k, char *buf, size_t cap)
{
    if (r->sc->n_meters > 1)
        snprintf(buf, cap, "%s.%s", r->o->state, r->sc->meters[k].name);
    else
        snprintf(buf, cap, "%s", r->o->state);
}

static void state_save(run_t *r, int k)
{
    char path[600], err[512];
    const meter_t *m = &r->meters[k];
    /* A stopped meter's file is the evidence: never replace it (7.1). */
    if (!r->o->state || m->error_code)
        return;
    state_path(r, k, path, sizeof path);
    r->saved_changes[k] = m->changes;
    if (!statefile_save(path, m, err, sizeof err)) {
        fprintf(stderr, "metersim: %s\n", err);
        r->state_failed = true;
    }
}

/* Loads every meter's state; false when a file is refused. */
static bool state_load(run_t *r)
{
    if (!r->o->state)
        return true;
    for (int k = 0; k < r->sc->n_meters; k++) {
        char path[600], msg[1024];
        state_path(r, k, path, sizeof path);
        statefile_status_t s = statefile_load(path, &r->meters[k], msg, sizeof msg);
        if (msg[0])
            fprintf(stderr, "metersim: %s\n", msg);
        if (s == STATEFILE_REFUSED)
            return false;
    }
    return true;
}

/* The meter is powered from its phases: on while any carries
 * METER_SUPPLY_MIN_V (docs/state.md). */
static bool powers_meter(const wave_desc_t *d)
{
    for (int p = 0; p < 3; p++)
        if (d->phase[p].voltage >= METER_SUPPLY_MIN_V)
            return true;
    return false;
}

/* Follows the supply the grid gives; a loss of supply is saved at once. */
static void follow_supply(run_t *r, int k, const wave_desc_t *d)
{
    bool on = powers_meter(d);
    meter_t *m = &r->meters[k];
    if (m->supply == on)
        return;
    meter_set_supply(m, on);
    fprintf(r->o->log, "{\"t\":%.3f,\"event\":\"supply\",\"meter\":\"%s\",\"on\":%s}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name, on ? "true" : "false");
    if (!on)
        state_save(r, k);
}

/* The waveform meter k sees now: the grid and its load, or nothing at all
 * while its supply is off. */
static void wave_of(const run_t *r, int k, wave_desc_t *d)
{
    scenario_wave(&r->grid, &r->loads[k], r->sc->seed + (uint64_t)k, r->tick, d);
    if (!r->supply[k])
        for (int p = 0; p < 3; p++)
            d->phase[p].voltage = d->phase[p].current = 0.0;
}

static void set_waves(run_t *r)
{
    for (int k = 0; k < r->sc->n_meters; k++) {
        wave_desc_t d;
        wave_of(r, k, &d);
        wave_set(&r->waves[k], &d);
        follow_supply(r, k, &d);
    }
}

meter_t *runner_meter(runner_t *r, int k)
{
    return &r->meters[k];
}

const scenario_t *runner_scenario(const runner_t *r)
{
    return r->sc;
}

bool runner_supply(const runner_t *r, int k)
{
    return r->supply[k];
}

void runner_set_supply(runner_t *r, int k, bool on)
{
    r->supply[k] = on;
    set_waves(r);
}

double runner_current(const runner_t *r, int k, int phase)
{
    return profile_at(&r->loads[k].phase[phase].current, r->tick);
}

void runner_set_current(runner_t *r, int k, int phase, double amps)
{
    r->loads[k].phase[phase].current = profile_const(amps < 0 ? 0 : amps > 65 ? 65 : amps);
    set_waves(r);
}

bool runner_export(const runner_t *r, int k, int phase)
{
    return r->loads[k].phase[phase].export_;
}

void runner_set_export(runner_t *r, int k, int phase, bool export_)
{
    r->loads[k].phase[phase].export_ = export_;
    set_waves(r);
}

static void hex(char *out, size_t cap, const uint8_t *b, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%02X", i ? " " : "", b[i]);
}

static double float_abcd(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
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
static void finish_xfer(run_t *r, int which)
{
    const scenario_event_t *ev = r->pending[which].ev;
    const scenario_xfer_t *x = &ev->u.xfer;
    bus_t *b = &r->bus[which];
    line_byte_t got[BUS_FRAME_MAX * 2];
    uint8_t bytes[BUS_FRAME_MAX * 2];
    size_t n = bus_take(b, r->pending[which].bps, r->pending[which].parity, got,
                        sizeof got / sizeof got[0]);
    bool line_error = false;
    for (size_t i = 0; i < n; i++) {
        bytes[i] = got[i].byte;
        line_error = line_error || got[i].error;
    }
    r->pending[which].ev = NULL;

    char why[512] = "";
    bool modbus = which == 0;
    bool crc_ok = !modbus || (n >= 4 && crc16_modbus(bytes, n - 2) == (bytes[n - 2] | bytes[n - 1] << 8));
    size_t body = modbus && n >= 2 ? n - 2 : n;
    switch (x->expect) {
    case SCENARIO_EXPECT_ANY: break;
    case SCENARIO_EXPECT_NONE:
        if (n)
            snprintf(why, sizeof why, "a reply came, none was expected");
        break;
    case SCENARIO_EXPECT_BYTES:
        if (!n)
            snprintf(why, sizeof why, "no reply");
        else if (line_error || !crc_ok)
            snprintf(why, sizeof why, "the reply is garbled (%s)", line_error ? "line errors" : "bad CRC");
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
        if (!n || line_error || !crc_ok || body < 3 || bytes[1] & 0x80 ||
            bytes[2] != body - 3 || bytes[2] < 4 * x->n_floats) {
            snprintf(why, sizeof why, "expected a reply with %d Float ABCD values", x->n_floats);
        } else {
            for (int i = 0; i < x->n_floats && !why[0]; i++) {
                double v = float_abcd(bytes + 3 + 4 * i);
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
    char req[3 * SCENARIO_FRAME_MAX + 1], rep[3 * BUS_FRAME_MAX * 2 + 1], want[3 * SCENARIO_FRAME_MAX + 1];
    hex(req, sizeof req, x->request, x->request_len);
    hex(rep, sizeof rep, bytes, n);
    hex(want, sizeof want, x->reply, x->reply_len);
    double latency = n ? (double)((int64_t)got[0].t_end_ns - (int64_t)line_char_ns(r->pending[which].bps,
                                                                                 r->pending[which].parity) -
                                  (int64_t)r->pending[which].request_end_ns) / 1e6
                       : 0.0;
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"%s\",\"path\":\"%s\",\"request\":\"%s\",\"reply\":\"%s\"",
            (double)r->pending[which].sent_ns / 1e9, modbus ? "modbus" : "mbus", ev->path, req, rep);
    if (n)
        fprintf(r->o->log, ",\"turnaround_ms\":%.3f", latency);
    fprintf(r->o->log, ",\"ok\":%s}\n", why[0] ? "false" : "true");

    if (x->expect == SCENARIO_EXPECT_ANY)
        return;
    char when[32], name[512];
    runner_format_time(r->pending[which].sent_ns / VTIME_NS_PER_TICK, when, sizeof when);
    snprintf(name, sizeof name, "%s %s request at %s", ev->path, modbus ? "Modbus" : "M-Bus", when);
    if (!why[0]) {
        add_result(r, name, NULL);
        return;
    }
    char msg[8192];
    snprintf(msg, sizeof msg, "%s: %s: at %s: %s request %s: %s; reply \"%s\"%s%s%s", r->sc->file,
             ev->path, when, modbus ? "Modbus" : "M-Bus", req, why, rep,
             x->expect == SCENARIO_EXPECT_BYTES ? ", expected \"" : "",
             x->expect == SCENARIO_EXPECT_BYTES ? want : "",
             x->expect == SCENARIO_EXPECT_BYTES ? (modbus ? "\" + CRC" : "\"") : "");
    fprintf(stderr, "metersim: assertion failed: %s\n", msg);
    add_result(r, name, msg);
    r->failures++;
}

/* What meter k is, as the scenario describes it. */
static void desc_of(const run_t *r, int k, bool powered, meter_desc_t *d)
{
    const scenario_meter_t *sm = &r->sc->meters[k];
    /* Two meters never answer at the same nanosecond: firmware and
     * crystals differ. The spread, from the serial number, is what makes
     * two meters with one address collide on a bus (docs/decisions.md);
     * a meter alone answers after exactly the set turnaround. */
    uint64_t spread = r->sc->n_meters > 1
                          ? (uint64_t)strtoull(sm->serial, NULL, 10) * 0x9E3779B97F4A7C15ull >> 40
                          : 0;
    *d = (meter_desc_t){
        .model = sm->model,
        .serial = sm->serial,
        .connection = sm->connection,
        .settings = &sm->settings,
        .unpowered = !powered,
        .modbus = {.fast = r->o->fast,
                   .turnaround_ns = sm->turnaround_ns ? sm->turnaround_ns
                                                      : 10 * VTIME_NS_PER_MS + spread % 1000 * 1000},
        .mbus = {.reply_delay_bits = (uint16_t)(33 + spread % 8)},
    };
}

static void setup_meters(run_t *r)
{
    for (int k = 0; k < r->sc->n_meters; k++) {
        const scenario_meter_t *sm = &r->sc->meters[k];
        meter_t *m = &r->meters[k];
        r->loads[k] = r->sc->load[k];
        r->supply[k] = true;
        wave_desc_t d;
        wave_of(r, k, &d);
        wave_init(&r->waves[k], &d);
        meter_desc_t md;
        desc_of(r, k, powers_meter(&d), &md);
        meter_init(m, &md);
        for (int i = 0; i < sm->n_registers; i++) {
            int64_t *reg = fields_energy_register(&sm->registers[i].field, m);
            *reg = (int64_t)llround(sm->registers[i].value * ENERGY_UWH_PER_KWH);
        }
        m->power_down_count = sm->power_down_count;
    }
}

/* A restart: the meter's memory image survives, everything else starts
 * again; a damaged copy is found at that power-up (7.1). */
static void restart_meter(run_t *r, int k, scenario_fault_t fault)
{
    meter_t *m = &r->meters[k];
    uint8_t image[NVM_IMAGE_LEN];
    size_t n = nvm_save(m, image, sizeof image);
    if (fault == SCENARIO_FAULT_CORRUPT_MAIN || fault == SCENARIO_FAULT_CORRUPT_BOTH)
        image[NVM_MAIN_OFFSET + 8] ^= 0xFF;
    if (fault == SCENARIO_FAULT_CORRUPT_BACKUP || fault == SCENARIO_FAULT_CORRUPT_BOTH)
        image[NVM_BACKUP_OFFSET + 8] ^= 0xFF;
    meter_desc_t md;
    desc_of(r, k, m->supply, &md);
    md.start_tick = m->tick; /* the host's clock goes on; the meter's parts start afresh */
    meter_init(m, &md);
    uint8_t error = 0;
    nvm_status_t st = nvm_load(m, image, n, &error);
    static const char *const names[] = {"restart", "corrupt_main", "corrupt_backup", "corrupt_both"};
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"fault\",\"meter\":\"%s\",\"fault\":\"%s\","
            "\"memory\":\"%s\",\"error\":%u}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name, names[fault],
            nvm_strstatus(st), (unsigned)error);
}

/* The master sends a request on its bus, now. */
static void send_xfer(run_t *r, const scenario_event_t *ev)
{
    int which = ev->kind == SCENARIO_EV_MBUS;
    if (r->pending[which].ev)
        finish_xfer(r, which); /* a new request ends the wait for the last */
    const scenario_xfer_t *x = &ev->u.xfer;
    bus_t *b = &r->bus[which];
    uint32_t bps = x->bps ? x->bps : bus_meter_bps(b, 0);
    line_parity_t parity = x->parity ? bus_parity_of_code((uint8_t)x->parity) : bus_meter_parity(b, 0);
    uint64_t now = r->tick * VTIME_NS_PER_TICK;
    bus_send(b, x->request, x->request_len, now, bps, parity, NULL);
    uint64_t end = now + x->request_len * line_char_ns(bps, parity);
    r->pending[which].ev = ev;
    r->pending[which].bps = bps;
    r->pending[which].parity = parity;
    r->pending[which].sent_ns = now;
    r->pending[which].request_end_ns = end;
    r->pending[which].timeout_ns = end + x->timeout_ns;
}

static void apply(run_t *r, const scenario_event_t *ev)
{
    if (ev->kind == SCENARIO_EV_MODBUS || ev->kind == SCENARIO_EV_MBUS) {
        send_xfer(r, ev);
        return;
    }
    for (int k = 0; k < r->sc->n_meters; k++) {
        if (ev->meter >= 0 && ev->meter != k)
            continue;
        meter_t *m = &r->meters[k];
        access_t acc = meter_access(m);
        switch (ev->kind) {
        case SCENARIO_EV_GRID: r->grid = ev->u.grid; break;
        case SCENARIO_EV_LOAD: r->loads[k] = ev->u.load; break;
        case SCENARIO_EV_TARIFF_INPUT:
            meter_set_tariff_input(m, ev->u.on);
            fprintf(r->o->log, "{\"t\":%.3f,\"event\":\"tariff_input\",\"meter\":\"%s\",\"on\":%s}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    ev->u.on ? "true" : "false");
            break;
        case SCENARIO_EV_SET: {
            settings_err_t e = acc.set(acc.ctx, ev->u.set.id, ev->u.set.value);
            fprintf(r->o->log,
                    "{\"t\":%.3f,\"event\":\"set\",\"meter\":\"%s\",\"setting\":\"%s\",\"value\":%d,"
                    "\"result\":\"%s\"}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    settings_name(ev->u.set.id), (int)ev->u.set.value, settings_strerror(e));
            break;
        }
        case SCENARIO_EV_RESET:
            acc.reset(acc.ctx, ev->u.reset);
            fprintf(r->o->log, "{\"t\":%.3f,\"event\":\"reset\",\"meter\":\"%s\",\"what\":\"%s\"}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    ev->u.reset == ACCESS_RESET_DAY_COUNTER ? "day_counter" : "power_down_counter");
            break;
        case SCENARIO_EV_BUTTON: {
            static const char *const names[] = {"left", "middle", "right"};
            meter_button(m, ev->u.button.button, ev->u.button.pressed);
            fprintf(r->o->log, "{\"t\":%.3f,\"event\":\"button\",\"meter\":\"%s\",\"button\":\"%s\","
                               "\"pressed\":%s}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    names[ev->u.button.button], ev->u.button.pressed ? "true" : "false");
            break;
        }
        case SCENARIO_EV_SUPPLY:
            runner_set_supply(r, k, ev->u.on);
            break;
        case SCENARIO_EV_FAULT: restart_meter(r, k, ev->u.fault); break;
        case SCENARIO_EV_ASSERT: check(r, ev, k); break;
        case SCENARIO_EV_MODBUS:
        case SCENARIO_EV_MBUS: break; /* handled above */
        }
        if (ev->kind == SCENARIO_EV_GRID)
            break; /* shared: once */
    }
    if (ev->kind == SCENARIO_EV_GRID || ev->kind == SCENARIO_EV_LOAD)
        set_waves(r);
}

static void xml_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static bool write_junit(const run_t *r, const char *path, double seconds)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "metersim: --junit %s: %s\n", path, strerror(errno));
        return false;
    }
    const char *suite = r->sc->name[0] ? r->sc->name : r->sc->file;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    fprintf(f, "  <testsuite name=\"");
    xml_escaped(f, suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n", r->n_results,
            r->failures, seconds);
    for (size_t i = 0; i < r->n_results; i++) {
        fprintf(f, "    <testcase classname=\"");
        xml_escaped(f, r->sc->file);
        fprintf(f, "\" name=\"");
        xml_escaped(f, r->results[i].name);
        if (r->results[i].failure[0]) {
            fprintf(f, "\">\n      <failure message=\"");
            xml_escaped(f, r->results[i].failure);
            fprintf(f, "\"/>\n    </testcase>\n");
        } else {
            fprintf(f, "\"/>\n");
        }
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "metersim: --junit %s: write failed\n", path);
    return ok;
}

static void show_progress(const run_t *r, uint64_t end, double start)
{
    char now[32], total[32];
    runner_format_time(r->tick, now, sizeof now);
    double elapsed = wall_seconds() - start;
    double x = elapsed > 0 ? (double)r->tick / VTIME_SAMPLE_RATE / elapsed : 0;
    if (end) {
        runner_format_time(end, total, sizeof total);
        int width = 30, done = (int)(width * (double)r->tick / (double)end);
        char bar[32];
        memset(bar, '#', (size_t)done);
        memset(bar + done, '.', (size_t)(width - done));
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %s / %s  %.0fx real time ", bar, now, total, x);
    } else {
        fprintf(stderr, "\r%s  %.0fx real time ", now, x);
    }
}

int runner_run(const scenario_t *sc, const runner_opts_t *o, volatile int *stop)
{
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return 3;
    r->sc = sc;
    r->o = o;
    r->stop = stop;
    r->meters = calloc((size_t)sc->n_meters, sizeof *r->meters);
    r->waves = calloc((size_t)sc->n_meters, sizeof *r->waves);
    if (!r->meters || !r->waves) {
        free(r->meters);
        free(r->waves);
        free(r);
        return 3;
    }
    r->grid = sc->grid;
    setup_meters(r);
    bus_init(&r->bus[0], BUS_MODBUS, r->meters, sc->n_meters, true);
    bus_init(&r->bus[1], BUS_MBUS, r->meters, sc->n_meters, true);
    if (!state_load(r)) {
        free(r->meters);
        free(r->waves);
        free(r);
        return 2;
    }

    const char *specs[2] = {o->modbus_port, o->mbus_port};
    for (int b = 0; b < 2; b++) {
        char err[512];
        if (!specs[b])
            continue;
        if (link_open(&r->links[b], b ? "mbus" : "modbus", specs[b], &r->bus[b], o->fast, o->copper,
                      err, sizeof err)) {
            fprintf(stderr, "metersim: --%s %s: %s\n", b ? "mbus" : "modbus", specs[b], err);
            for (int k = 0; k < b; k++)
                if (r->linked[k])
                    link_close(&r->links[k]);
            free(r->meters);
            free(r->waves);
            free(r);
            return 2;
        }
        r->linked[b] = true;
        fprintf(stderr, "metersim: %s on %s\n", b ? "M-Bus" : "Modbus RTU",
                serial_port_path(&r->links[b].port));
    }

    uint64_t end = o->until;
    if (!end)
        end = sc->duration;
    if (!end && sc->n_events)
        end = sc->events[sc->n_events - 1].at_tick;
    bool forever = end == 0 && sc->n_events == 0;
    bool progress = o->progress && isatty(STDERR_FILENO);
    size_t next = 0;
    double start = wall_seconds(), last_progress = 0;
    r->start_wall = start;

    for (;;) {
        while (next < sc->n_events && sc->events[next].at_tick <= r->tick)
            apply(r, &sc->events[next++]);
        /* A request sent at the end still gets its answer time. */
        bool waiting = r->pending[0].ev || r->pending[1].ev;
        if (*stop || (!forever && r->tick >= end && !waiting))
            break;
        /* Up to the next second, event or end: profiles move once a second. */
        bool ports = r->linked[0] || r->linked[1];
        uint64_t stop_at = r->tick + (ports ? PORT_CHUNK_TICKS : CHUNK_TICKS);
        uint64_t second = (r->tick / VTIME_SAMPLE_RATE + 1) * VTIME_SAMPLE_RATE;
        if (second < stop_at)
            stop_at = second;
        if (next < sc->n_events && sc->events[next].at_tick < stop_at)
            stop_at = sc->events[next].at_tick;
        if (!forever && end < stop_at && end > r->tick)
            stop_at = end;
        /* The lines' instants (a frame's end, a reply's start, an answer
         * timeout) are met to the nanosecond: samples run up to the tick they
         * fall in, then the lines are moved to the instant itself. */
        uint64_t line_at = VTIME_NEVER;
        for (int b = 0; b < 2; b++) {
            uint64_t d = bus_deadline(&r->bus[b]);
            if (r->pending[b].ev && r->pending[b].timeout_ns < d)
                d = r->pending[b].timeout_ns;
            if (d < line_at)
                line_at = d;
        }
        if (line_at != VTIME_NEVER && line_at / VTIME_NS_PER_TICK <= r->tick) {
            uint64_t now = line_at > r->tick * VTIME_NS_PER_TICK ? line_at : r->tick * VTIME_NS_PER_TICK;
            for (int b = 0; b < 2; b++) {
                bus_advance(&r->bus[b], now);
                if (r->linked[b])
                    link_transmit(&r->links[b], wall_virtual_ns(r));
                if (!r->pending[b].ev || r->pending[b].timeout_ns > now)
                    continue;
                /* The timeout is for the first byte: a reply under way is
                 * received to its end (a 244-byte RSP_UD takes 1.1 s at 2400). */
                if (r->bus[b].busy_until_ns > now)
                    r->pending[b].timeout_ns = r->bus[b].busy_until_ns;
                else
                    finish_xfer(r, b);
            }
            continue;
        }
        /* With a client attached, the meters run at most a chunk ahead of
         * the wall clock; due line instants above come first, so a complete
         * request is answered before any waiting. */
        if (ports && r->tick * VTIME_NS_PER_TICK >=
                         wall_virtual_ns(r) + PORT_CHUNK_TICKS * VTIME_NS_PER_TICK) {
            pace(r, start);
            continue;
        }
        if (line_at != VTIME_NEVER && line_at / VTIME_NS_PER_TICK < stop_at)
            stop_at = line_at / VTIME_NS_PER_TICK;
        size_t n = (size_t)(stop_at - r->tick);
        for (int k = 0; k < sc->n_meters; k++) {
            wave_fill(&r->waves[k], r->buf, n);
            meter_exec(&r->meters[k], r->buf, n);
        }
        r->tick = stop_at;
        if (r->tick % VTIME_SAMPLE_RATE == 0)
            set_waves(r);
        if (o->every && r->tick % o->every == 0) {
            for (int k = 0; k < sc->n_meters; k++)
                log_readings(r, k);
            if (o->speed > 0)
                fflush(o->log);
        }
        if (o->state && r->tick - r->saved_at >= o->save_interval) {
            r->saved_at = r->tick;
            for (int k = 0; k < sc->n_meters; k++)
                state_save(r, k);
        }
        /* A setting changed or a counter reset: the meter keeps it at once. */
        for (int k = 0; o->state && k < sc->n_meters; k++)
            if (r->meters[k].changes != r->saved_changes[k])
                state_save(r, k);
        pace(r, start);
        if (progress && wall_seconds() - last_progress > 0.25) {
            last_progress = wall_seconds();
            show_progress(r, forever ? 0 : end, start);
        }
    }
    if (progress) {
        show_progress(r, forever ? 0 : end, start);
        fputc('\n', stderr);
    }
    for (int b = 0; b < 2; b++) /* a request still waiting is judged on what came */
        if (r->pending[b].ev)
            finish_xfer(r, b);

    /* The host stops: for the meters, their supply goes, and they save. */
    for (int k = 0; k < sc->n_meters; k++) {
        meter_set_supply(&r->meters[k], false);
        state_save(r, k);
    }
    int status = r->failures ? 1 : r->state_failed ? 3 : 0;
    if (fflush(o->log) != 0 || ferror(o->log)) {
        fprintf(stderr, "metersim: writing the log failed: %s\n", strerror(errno));
        status = 3;
    }
    if (o->junit && !write_junit(r, o->junit, wall_seconds() - start))
        status = status ? status : 3;
    for (int b = 0; b < 2; b++)
        if (r->linked[b])
            link_close(&r->links[b]);
    free(r->results);
    free(r->meters);
    free(r->waves);
    free(r);
    return status;
}
