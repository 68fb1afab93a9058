/* runner: the simulation of a scenario, its buses and its event loop (see
 * runner.h; the fleet's stepping is in step.c, the log and assertions in
 * report.c, the JUnit report in junit.c, the state files in state/, the
 * ports in endpoints/). */
#include "runner.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvm.h"
#include "variant.h"
#include "record.h"
#include "replay.h"
#include "run_internal.h"

#define FRAME_S (1.0 / 30.0)

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

/* The meter is powered from its phases: on while any carries
 * METER_SUPPLY_MIN_V (docs/state.md). */
static bool powers_meter(const wave_desc_t *d)
{
    for (int p = 0; p < 3; p++)
        if (d->phase[p].voltage >= METER_SUPPLY_MIN_V)
            return true;
    return false;
}

/* The meters' memory into their state files, as it changed, before anything
 * they did can be seen outside (docs/state.md): at every step of a paced run
 * or one with ports; at full speed without ports only the log shows them, so
 * at its lines (the whole seconds and --every). A save that failed past its
 * grace stops the run (status 3). */
void run_mirror(run_t *r)
{
    if (!r->state.n)
        return;
    bool copy = r->paced || r->ep.n_serial || r->ep.n_tcp || r->tick % VTIME_SAMPLE_RATE == 0 ||
                (r->o->every && r->tick % r->o->every == 0) || r->tick >= r->end;
    if (!state_step(&r->state, r->sc, r->meters, copy))
        *r->stop = 1;
}

/* Meter k stops sending now: a reply under way on its lines ends here. */
static void cut_replies(run_t *r, int k)
{
    run_bus_t *b = &r->buses[r->sc->meters[k].bus];
    for (int l = 0; l < METER_LINES; l++)
        bus_cut(&b->line[l], &r->meters[k], r->tick * VTIME_NS_PER_TICK);
}

/* Follows the supply the grid gives; a loss of supply is saved at once. */
static void follow_supply(run_t *r, int k, const wave_desc_t *d)
{
    bool on = powers_meter(d);
    meter_t *m = &r->meters[k];
    if (meter_supply(m) == on)
        return;
    meter_set_supply(m, on);
    if (!on)
        cut_replies(r, k);
    fprintf(r->o->log, "{\"t\":%.3f,\"event\":\"supply\",\"meter\":\"%s\",\"on\":%s}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name, on ? "true" : "false");
    if (!on)
        state_save(&r->state, r->sc, r->meters, k); /* the meter saves as its supply fails */
}

/* The waveform meter k sees now: the grid and its load, or nothing at all
 * while its supply is off. */
static void wave_of(const run_t *r, int k, wave_desc_t *d)
{
    scenario_wave(r->own_grid[k] ? &r->grids[k] : &r->grid, &r->loads[k], r->sc->seed + (uint64_t)k,
                  r->tick, d);
    for (int p = 0; p < 3; p++)
        if (!r->supply[k] || r->phase_off[k][p])
            d->phase[p].voltage = d->phase[p].current = 0.0;
}

/* --fidelity auto: meter k's grid changed (or is new): a new description
 * from now on. An unchanged grid keeps its description, so that a steady
 * stretch runs on across the seconds at which the profiles are looked at. */
static void describe(run_t *r, int k, const wave_desc_t *d, bool first, uint64_t at)
{
    if (r->o->fidelity != RUNNER_FIDELITY_AUTO)
        return;
    if (!first && memcmp(&r->described[k], d, sizeof *d) == 0)
        return;
    r->described[k] = *d;
    metrology_phasors_t *ph = &r->phasors[k];
    uint64_t gen = ph->gen + 1;
    r->described_ok[k] = wave_phasors(&r->waves[k], ph);
    ph->gen = gen;
    ph->since = at;
}

void run_wave_at(run_t *r, int k, const wave_desc_t *d, uint64_t at)
{
    /* --fidelity auto: an unchanged grid keeps its waveform as it is
     * (wave_set() would fold the phase into a new anchor and recompute
     * the tables, a twentieth of a steady year's time); the phase runs
     * on the same at any pace, since the seconds are the same. */
    if (r->o->fidelity != RUNNER_FIDELITY_AUTO || memcmp(&r->waves[k].desc, d, sizeof *d) != 0)
        wave_set(&r->waves[k], d);
    describe(r, k, d, false, at);
}

void run_set_waves(run_t *r)
{
    for (int k = 0; k < r->sc->n_meters; k++) {
        wave_desc_t d;
        wave_of(r, k, &d);
        meter_t *m = &r->meters[k];
        if (r->lazy && meter_now_ns(m) < now_ns(r)) {
            /* A lagging meter (step.c, lazy) meets its new waveform when
             * it gets here, as it would have here; a change of supply is an
             * input, and takes it here now. */
            if (powers_meter(&d) == meter_supply(m)) {
                bool pending = r->pend_at[k] != VTIME_NEVER;
                if (memcmp(pending ? &r->pend[k] : &r->waves[k].desc, &d, sizeof d) == 0)
                    continue;
                if (pending)
                    run_advance_meter(r, k, r->pend_at[k]); /* one waits at a time */
                r->pend[k] = d;
                r->pend_at[k] = r->tick;
                continue;
            }
            run_advance_meter(r, k, r->tick);
        }
        run_wave_at(r, k, &d, r->tick);
        follow_supply(r, k, &d);
    }
}

void runner_align_meter(runner_t *r, int k, uint64_t at_ns)
{
    run_advance_meter(r, k, at_ns / VTIME_NS_PER_TICK);
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

/* Meter k's waveform alone: a person's action changes one meter, from that
 * meter's own time, and leaves the others' waveforms as they were (a
 * replay applies it at that same instant of that meter, docs/record.md). */
void run_set_wave(run_t *r, int k)
{
    wave_desc_t d;
    wave_of(r, k, &d);
    wave_set(&r->waves[k], &d);
    follow_supply(r, k, &d);
}

/* --record: a person's action on meter k, at the wake it follows and at
 * meter k's own time, where it takes effect. */
void run_record_action(run_t *r, int k, const char *action, int arg, double value)
{
    if (r->o->rec)
        record_ui(r->o->rec, loop_woke(&r->loop), meter_now_ns(&r->meters[k]), k, action, arg,
                  value);
}

static void set_supply(runner_t *r, int k, bool on)
{
    r->supply[k] = on;
    run_set_waves(r);
}

/* A person's actions (sim/ui) are inputs too: recorded at the wake they
 * follow (--record, issue 15). */
void runner_set_supply(runner_t *r, int k, bool on)
{
    run_record_action(r, k, "supply", 0, on);
    r->supply[k] = on;
    run_set_wave(r, k);
}

void runner_button(runner_t *r, int k, menu_button_t b, bool pressed)
{
    run_record_action(r, k, "button", (int)b, pressed);
    meter_button(&r->meters[k], b, pressed);
}

void runner_set_tariff_input(runner_t *r, int k, bool on)
{
    run_record_action(r, k, "tariff_input", 0, on);
    meter_set_tariff_input(&r->meters[k], on);
}

double runner_current(const runner_t *r, int k, int phase)
{
    return profile_at(&r->loads[k].phase[phase].current, r->tick);
}

void runner_set_current(runner_t *r, int k, int phase, double amps)
{
    double imax = variant_of(r->sc->meters[k].model)->imax_a;
    run_record_action(r, k, "current", phase, amps);
    r->loads[k].phase[phase].current = profile_const(amps < 0 ? 0 : amps > imax ? imax : amps);
    run_set_wave(r, k);
}

bool runner_export(const runner_t *r, int k, int phase)
{
    return r->loads[k].phase[phase].export_;
}

void runner_set_export(runner_t *r, int k, int phase, bool export_)
{
    run_record_action(r, k, "export", phase, export_);
    r->loads[k].phase[phase].export_ = export_;
    run_set_wave(r, k);
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
        .in_service = true, /* the meter was running before the scenario's time 0 */
        .modbus = {.fast = r->o->fast,
                   .turnaround_ns = sm->turnaround_ns
                                        ? sm->turnaround_ns
                                        : 10 * VTIME_NS_PER_MS + spread % 1000 * 1000},
        .mbus = {.reply_delay_bits = (uint16_t)(33 + spread % 8)},
        .save_interval_ns = r->o->state ? r->o->save_interval * VTIME_NS_PER_TICK : 0,
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
        describe(r, k, &d, true, r->tick);
        meter_desc_t md;
        desc_of(r, k, powers_meter(&d), &md);
        meter_init(m, &md);
        for (int i = 0; i < sm->n_registers; i++)
            meter_preset_register(m, (unsigned)sm->registers[i].reg,
                                  (int64_t)llround(sm->registers[i].value * ENERGY_UWH_PER_KWH));
        meter_preset_power_down_count(m, sm->power_down_count);
        meter_saved(m); /* the scenario's starting point is not a change */
    }
}

/* Each bus of the scenario: its meters, and its Modbus and M-Bus lines. */
static bool setup_buses(run_t *r)
{
    const scenario_t *sc = r->sc;
    r->buses = calloc((size_t)sc->n_buses, sizeof *r->buses);
    if (!r->buses)
        return false;
    for (int b = 0; b < sc->n_buses; b++) {
        run_bus_t *rb = &r->buses[b];
        rb->sb = &sc->buses[b];
        for (int k = 0; k < sc->n_meters; k++)
            rb->n += sc->meters[k].bus == b;
        rb->members = calloc((size_t)(rb->n ? rb->n : 1), sizeof *rb->members);
        rb->index = calloc((size_t)(rb->n ? rb->n : 1), sizeof *rb->index);
        rb->lag = calloc((size_t)(rb->n ? rb->n : 1), sizeof *rb->lag);
        if (!rb->members || !rb->index || !rb->lag)
            return false;
        int i = 0;
        for (int k = 0; k < sc->n_meters; k++)
            if (sc->meters[k].bus == b) {
                rb->index[i] = k;
                rb->members[i++] = &r->meters[k];
            }
        for (int l = 0; l < METER_LINES; l++) {
            bus_init(&rb->line[l], (meter_line_t)l, rb->members, rb->n, true);
            rb->line[l].sync = run_bus_sync_hook;
            rb->line[l].sync_ctx = r;
            bus_set_trace(&rb->line[l], r->trace, b, rb->index);
        }
    }
    return true;
}

/* A restart: the meter's memory image survives, everything else starts
 * again; a damaged copy is found at that power-up (7.1). */
void run_restart_meter(run_t *r, int k, meter_fault_t fault)
{
    meter_t *m = &r->meters[k];
    meter_desc_t md;
    desc_of(r, k, meter_supply(m), &md);
    uint8_t error = 0;
    cut_replies(r, k); /* a restart is a power cycle */
    nvm_status_t st = (nvm_status_t)meter_restart(m, &md, fault, &error);
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"fault\",\"meter\":\"%s\",\"fault\":\"%s\","
            "\"memory\":\"%s\",\"error\":%u}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name, meter_fault_name(fault),
            nvm_strstatus(st), (unsigned)error);
}

/* ---- the scenario as a master on a bus ------------------------------------- */

/* What the master's UART received is judged; the exchange is over. */
static void finish_xfer(run_t *r, run_bus_t *b, meter_line_t l)
{
    xfer_t *x = &b->xfer[l];
    line_byte_t got[BUS_FRAME_MAX * 2];
    size_t n = bus_take(&b->line[l], x->bps, x->parity, got, sizeof got / sizeof got[0]);
    b->line[l].hold--;
    xfer_t done = *x;
    x->ev = NULL;
    report_xfer(r, &done, l == METER_LINE_MODBUS, got, n);
}

/* The master sends a request on its bus, now. */
static void send_xfer(run_t *r, const scenario_event_t *ev)
{
    meter_line_t l = ev->kind == SCENARIO_EV_MBUS ? METER_LINE_MBUS : METER_LINE_MODBUS;
    run_bus_t *b = &r->buses[ev->u.xfer.bus];
    bus_t *line = &b->line[l];
    if (b->xfer[l].ev)
        finish_xfer(r, b, l); /* a new request ends the wait for the last */
    const scenario_xfer_t *x = &ev->u.xfer;
    uint32_t bps = x->bps ? x->bps : line->n_meters ? bus_meter_bps(line, 0) : 9600;
    line_parity_t parity = x->parity        ? bus_parity_of_code((uint8_t)x->parity)
                           : line->n_meters ? bus_meter_parity(line, 0)
                                            : LINE_PARITY_EVEN;
    uint64_t now = now_ns(r);
    line->hold++;
    bus_send(line, x->request, x->request_len, now, bps, parity, NULL);
    if (r->o->fast)
        bus_collect(line); /* --fast: the reply is ready at the request's end, due at once */
    uint64_t end = now + x->request_len * line_char_ns(bps, parity);
    b->xfer[l] = (xfer_t){.ev = ev,
                          .bps = bps,
                          .parity = parity,
                          .sent_ns = now,
                          .request_end_ns = end,
                          .timeout_ns = end + x->timeout_ns};
}

/* Requests whose answer time is over. The timeout is for the first byte: a
 * reply under way is received to its end (a 244-byte RSP_UD takes 1.1 s at
 * 2400). */
void run_check_xfers(run_t *r, bool all)
{
    uint64_t now = now_ns(r);
    for (int b = 0; b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++) {
            xfer_t *x = &r->buses[b].xfer[l];
            if (!x->ev || (!all && x->timeout_ns > now))
                continue;
            bus_t *line = &r->buses[b].line[l];
            if (!all && line->busy_until_ns > now)
                x->timeout_ns = line->busy_until_ns;
            else
                finish_xfer(r, &r->buses[b], (meter_line_t)l);
        }
}

bool run_xfers_waiting(const run_t *r)
{
    for (int b = 0; b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++)
            if (r->buses[b].xfer[l].ev)
                return true;
    return false;
}

void run_apply(run_t *r, const scenario_event_t *ev)
{
    if (ev->kind == SCENARIO_EV_MODBUS || ev->kind == SCENARIO_EV_MBUS) {
        send_xfer(r, ev);
        return;
    }
    /* Lazy stepping (step.c): the meters an event acts on are brought here
     * first. A grid, a load or a supply reaches a lagging meter through
     * run_set_waves(). */
    if (r->lazy && ev->kind != SCENARIO_EV_GRID && ev->kind != SCENARIO_EV_LOAD &&
        ev->kind != SCENARIO_EV_SUPPLY) {
        if (ev->meter >= 0)
            run_advance_meter(r, ev->meter, r->tick);
        else
            run_gather(r);
    }
    for (int k = 0; k < r->sc->n_meters; k++) {
        if (ev->meter >= 0 && ev->meter != k)
            continue;
        meter_t *m = &r->meters[k];
        switch (ev->kind) {
        case SCENARIO_EV_GRID:
            r->grid = ev->u.grid;
            memset(r->own_grid, 0, (size_t)r->sc->n_meters * sizeof *r->own_grid);
            break;
        case SCENARIO_EV_LOAD:
            r->loads[k] = ev->u.load;
            break;
        case SCENARIO_EV_TARIFF_INPUT:
            meter_set_tariff_input(m, ev->u.on);
            fprintf(r->o->log,
                    "{\"t\":%.3f,\"event\":\"tariff_input\",\"meter\":\"%s\",\"on\":%s}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    ev->u.on ? "true" : "false");
            break;
        case SCENARIO_EV_SET: {
            settings_err_t e = meter_set(m, ev->u.set.id, ev->u.set.value);
            fprintf(
                r->o->log,
                "{\"t\":%.3f,\"event\":\"set\",\"meter\":\"%s\",\"setting\":\"%s\",\"value\":%d,"
                "\"result\":\"%s\"}\n",
                (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                settings_name(ev->u.set.id), (int)ev->u.set.value, settings_strerror(e));
            break;
        }
        case SCENARIO_EV_RESET:
            meter_reset(m, ev->u.reset);
            fprintf(r->o->log,
                    "{\"t\":%.3f,\"event\":\"reset\",\"meter\":\"%s\",\"what\":\"%s\"}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    ev->u.reset == ACCESS_RESET_DAY_COUNTER ? "day_counter" : "power_down_counter");
            break;
        case SCENARIO_EV_BUTTON: {
            static const char *const names[] = {"left", "middle", "right"};
            meter_button(m, ev->u.button.button, ev->u.button.pressed);
            fprintf(r->o->log,
                    "{\"t\":%.3f,\"event\":\"button\",\"meter\":\"%s\",\"button\":\"%s\","
                    "\"pressed\":%s}\n",
                    (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name,
                    names[ev->u.button.button], ev->u.button.pressed ? "true" : "false");
            break;
        }
        case SCENARIO_EV_SUPPLY:
            set_supply(r, k, ev->u.on);
            break;
        case SCENARIO_EV_FAULT:
            run_restart_meter(r, k, ev->u.fault);
            break;
        case SCENARIO_EV_ASSERT:
            report_check(r, ev, k);
            break;
        case SCENARIO_EV_MODBUS:
        case SCENARIO_EV_MBUS:
            break; /* handled above */
        }
        if (ev->kind == SCENARIO_EV_GRID)
            break; /* shared: once */
    }
    if (ev->kind == SCENARIO_EV_GRID || ev->kind == SCENARIO_EV_LOAD)
        run_set_waves(r);
    /* What the meters want of their lines may have changed: a new Modbus
     * ID makes the frame a lagging meter took for another's its own, due
     * at its t3.5 (answered at full speed, never paced when the line's due
     * time stayed "never"). */
    for (int b = 0; b < r->sc->n_buses; b++)
        if (ev->meter < 0 || r->sc->meters[ev->meter].bus == b)
            for (int l = 0; l < METER_LINES; l++)
                bus_refresh(&r->buses[b].line[l]);
}

static void show_progress(const run_t *r, uint64_t end)
{
    char now[32], total[32];
    runner_format_time(r->tick, now, sizeof now);
    double elapsed = loop_wall(&r->loop);
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

/* The endpoints of the scenario's buses and of the command line. */
static int open_endpoints(run_t *r)
{
    const scenario_t *sc = r->sc;
    const runner_opts_t *o = r->o;
    int n = o->n_endpoints;
    for (int b = 0; b < sc->n_buses; b++)
        n += sc->buses[b].n_modbus + sc->buses[b].n_mbus;
    endpoint_req_t *reqs = calloc((size_t)(n ? n : 1), sizeof *reqs);
    if (!reqs)
        return 3;
    int k = 0;
    const recfile_t *rf = o->replay ? replay_file(o->replay) : NULL;
    if (rf) { /* the recording's endpoints, each a socket, instead */
        free(reqs);
        reqs = calloc((size_t)(rf->n_eps ? rf->n_eps : 1), sizeof *reqs);
        if (!reqs)
            return 3;
    }
    for (int i = 0; rf && i < rf->n_eps; i++) {
        const rec_endpoint_t *re = &rf->eps[i];
        int b = 0;
        while (b < sc->n_buses && strcmp(sc->buses[b].name, re->bus) != 0)
            b++;
        if (b == sc->n_buses) {
            fprintf(stderr,
                    "metersim: --replay: endpoint %d is on bus \"%s\", which the scenario does "
                    "not have\n",
                    i, re->bus);
            free(reqs);
            return 2;
        }
        meter_line_t l = re->modbus ? METER_LINE_MODBUS : METER_LINE_MBUS;
        reqs[k] = (endpoint_req_t){.bus = &r->buses[b].line[l],
                                   .bus_name = sc->buses[b].name,
                                   .line = l,
                                   .gateway_timeout_ns = sc->buses[b].gateway_timeout_ns
                                                             ? sc->buses[b].gateway_timeout_ns
                                                             : o->gateway_timeout_ns,
                                   .replay = true,
                                   .replay_fd = replay_fd(o->replay, i),
                                   .replay_copper = re->copper};
        char why[256]; /* checked when the recording was read */
        endpoint_spec_parse(re->spec, re->modbus, &reqs[k++].spec, why, sizeof why);
    }
    for (int b = 0; b < sc->n_buses && !o->replay; b++) {
        const scenario_bus_t *sb = &sc->buses[b];
        for (int i = 0; i < sb->n_modbus + sb->n_mbus; i++) {
            bool mb = i < sb->n_modbus;
            reqs[k++] = (endpoint_req_t){
                .bus = &r->buses[b].line[mb ? METER_LINE_MODBUS : METER_LINE_MBUS],
                .bus_name = sb->name,
                .line = mb ? METER_LINE_MODBUS : METER_LINE_MBUS,
                .spec = mb ? sb->modbus[i] : sb->mbus[i - sb->n_modbus],
                .replay_fd = -1,
                .gateway_timeout_ns =
                    sb->gateway_timeout_ns ? sb->gateway_timeout_ns : o->gateway_timeout_ns};
        }
    }
    for (int i = 0; i < o->n_endpoints && !o->replay; i++) {
        const runner_endpoint_t *e = &o->endpoints[i];
        int b = 0;
        if (e->bus[0]) {
            b = -1;
            for (int j = 0; j < sc->n_buses && b < 0; j++)
                if (strcmp(sc->buses[j].name, e->bus) == 0)
                    b = j;
            if (b < 0) {
                fprintf(stderr, "metersim: --%s %s: the scenario has no bus named \"%s\"\n",
                        e->modbus ? "modbus" : "mbus", e->text, e->bus);
                free(reqs);
                return 2;
            }
        }
        meter_line_t l = e->modbus ? METER_LINE_MODBUS : METER_LINE_MBUS;
        uint64_t gt = sc->buses[b].gateway_timeout_ns ? sc->buses[b].gateway_timeout_ns
                                                      : o->gateway_timeout_ns;
        reqs[k++] = (endpoint_req_t){.bus = &r->buses[b].line[l],
                                     .bus_name = sc->buses[b].name,
                                     .line = l,
                                     .spec = e->spec,
                                     .replay_fd = -1,
                                     .gateway_timeout_ns = gt};
    }
    endpoint_opts_t eo = {.fast = o->fast,
                          .copper = o->copper,
                          .tcp_idle_ns = o->tcp_idle_ns,
                          .log = stderr,
                          .rec = o->rec};
    char err[1024];
    int rc = endpoints_open(&r->ep, &r->loop, reqs, k, &eo, err, sizeof err);
    free(reqs);
    if (rc) {
        fprintf(stderr, "metersim: %s\n", err);
        return 2;
    }
    return 0;
}

static void run_free(run_t *r)
{
    if (r->o->service && r->service_attached)
        r->o->service->detach(r->o->service->ctx, r);
    if (r->trace)
        trace_close(r->trace, 0); /* a run that did not start: nothing in it */
    state_close(&r->state);
    endpoints_close(&r->ep);
    loop_free(&r->loop);
    if (r->buses)
        for (int b = 0; b < r->sc->n_buses; b++) {
            free(r->buses[b].members);
            free(r->buses[b].index);
            free(r->buses[b].lag);
        }
    free(r->buses);
    free(r->results);
    free(r->meters);
    free(r->waves);
    free(r->phasors);
    free(r->described);
    free(r->described_ok);
    free(r->loads);
    free(r->supply);
    free(r->grids);
    free(r->own_grid);
    free(r->phase_off);
    free(r->pend);
    free(r->pend_at);
    free(r);
}

int runner_run(const scenario_t *sc, const runner_opts_t *o, volatile int *stop)
{
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return 3;
    r->sc = sc;
    r->o = o;
    r->stop = stop;
    r->paced = o->speed > 0.0;
    loop_init(&r->loop, o->speed);
    size_t n = (size_t)sc->n_meters;
    r->meters = calloc(n, sizeof *r->meters);
    r->waves = calloc(n, sizeof *r->waves);
    r->loads = calloc(n, sizeof *r->loads);
    r->supply = calloc(n, sizeof *r->supply);
    r->phasors = calloc(n, sizeof *r->phasors);
    r->described = calloc(n, sizeof *r->described);
    r->described_ok = calloc(n, sizeof *r->described_ok);
    r->grids = calloc(n, sizeof *r->grids);
    r->own_grid = calloc(n, sizeof *r->own_grid);
    r->phase_off = calloc(n, sizeof *r->phase_off);
    r->pend = calloc(n, sizeof *r->pend);
    r->pend_at = calloc(n, sizeof *r->pend_at);
    if (!r->pend || !r->pend_at || !r->meters || !r->waves || !r->loads || !r->supply ||
        !r->phasors || !r->described || !r->described_ok || !r->grids || !r->own_grid ||
        !r->phase_off) {
        run_free(r);
        return 3;
    }
    r->grid = sc->grid;
    for (size_t k = 0; k < n; k++)
        r->pend_at[k] = VTIME_NEVER;
    bool traced;
    char terr[1024];
    r->trace = trace_open(&o->trace, sc, &traced, terr, sizeof terr);
    if (!traced) { /* before anything runs (issue 15) */
        fprintf(stderr, "metersim: %s\n", terr);
        run_free(r);
        return 3;
    }
    state_init(&r->state, o->state);
    setup_meters(r);
    if (!setup_buses(r)) {
        run_free(r);
        return 3;
    }
    int rc = state_load_all(&r->state, sc, r->meters);
    if (!rc)
        rc = open_endpoints(r);
    if (!rc && o->service) {
        if (!o->service->attach(o->service->ctx, r, &r->loop))
            rc = 2;
        r->service_attached = rc == 0;
    }
    if (!rc && !state_start(&r->state, sc, r->meters))
        rc = 3;
    if (rc) {
        run_free(r);
        return rc;
    }

    r->end = o->until;
    /* --replay: a live run without --until ended at the scenario's end,
     * before its end record was written. */
    if (o->replay && !replay_file(o->replay)->flags.until_ns && sc->duration &&
        sc->duration < r->end)
        r->end = sc->duration;
    if (!r->end)
        r->end = sc->duration;
    if (!r->end && sc->n_events)
        r->end = sc->events[sc->n_events - 1].at_tick;
    r->forever = r->end == 0 && sc->n_events == 0;
    bool progress = o->progress && isatty(STDERR_FILENO);
    double last_progress = 0, last_frame = -1;
    r->sim_ep = (loop_ep_t){.fd = -1, .deadline_ns = VTIME_NEVER, .slot = -1};
    loop_add(&r->loop, &r->sim_ep);
    r->loop.after_sleep = run_catch_up;
    r->loop.hook_ctx = r;
    if (o->replay)
        replay_attach(o->replay, &r->loop, &r->ep);

    /* Time 0 is now, with the meters set up and the ports open: a paced run
     * does not start behind the wall clock by its setup (a 10 000-meter
     * fleet's takes most of a second, which the first wakes then had to
     * catch up in bursts past the lag bound, docs/performance.md). */
    /* Lazy stepping (step.c) where only the lines look at the meters: a
     * frontend, the HTTP service, a trace or a recording looks at them in
     * between. */
    r->lazy = r->paced && o->fidelity == RUNNER_FIDELITY_AUTO && !r->trace && !o->ui &&
              !o->service && !o->rec && !o->replay;
    for (int b = 0; r->lazy && b < sc->n_buses; b++)
        r->buses[b].line[METER_LINE_MODBUS].lag = r->buses[b].lag;
    loop_start(&r->loop);
    if (r->paced)
        run_catch_up(&r->loop, r);
    for (;;) {
        if (!r->paced) {
            uint64_t target = r->forever ? r->tick + CHUNK_TICKS : r->end;
            run_advance_to(r, target);
        }
        uint64_t io_next = run_serve(r, r->paced ? loop_now(&r->loop) : now_ns(r));
        bool done = !r->forever && r->tick >= r->end && !run_xfers_waiting(r);
        if (*stop || done)
            break;
        if (!r->paced) {
            /* Headless at full speed: a request sent at the end still gets
             * its answer time. */
            if (r->tick >= r->end && run_xfers_waiting(r))
                run_advance_to(r, r->tick + 1);
        } else {
            double wall = loop_wall(&r->loop);
            if (o->ui && wall - last_frame >= FRAME_S) {
                last_frame = wall;
                if (!o->ui->frame(o->ui->ctx, r))
                    *stop = 1;
            }
            r->sim_ep.deadline_ns = run_sim_deadline(r, io_next);
            uint64_t limit = VTIME_NEVER;
            if (o->ui)
                limit = (uint64_t)((last_frame + FRAME_S) * o->speed * 1e9);
            if (!loop_once(&r->loop, limit, stop)) {
                fprintf(stderr, "metersim: waiting for the ports failed: %s\n", strerror(errno));
                r->ep.failed = true;
                break;
            }
            if (o->replay)
                replay_round(o->replay, r, stop);
        }
        if (progress && loop_wall(&r->loop) - last_progress > 0.25) {
            last_progress = loop_wall(&r->loop);
            show_progress(r, r->forever ? 0 : r->end);
        }
    }
    if (progress) {
        show_progress(r, r->forever ? 0 : r->end);
        fputc('\n', stderr);
    }
    /* A paced run that was stopped ends where its clock is: the meters and
     * the traces get there too, so they end where the recording does, and a
     * --replay (which runs to the recording's end) gives the same traces. */
    uint64_t stop_ns = r->paced ? loop_now(&r->loop) : now_ns(r);
    if (r->paced && ceil_tick(stop_ns) > r->tick && (r->forever || ceil_tick(stop_ns) <= r->end)) {
        int stopped = *r->stop;
        *r->stop = 0; /* run_advance_to() stops at once on it */
        run_advance_to(r, ceil_tick(stop_ns));
        *r->stop = stopped;
    }
    run_gather(r);            /* every meter where the run ends, for the last reads and saves */
    run_check_xfers(r, true); /* a request still waiting is judged on what came */
    if (o->stats)
        report_stats(r);

    /* The host stops: for the meters, their supply goes, and they save. */
    for (int k = 0; k < sc->n_meters; k++)
        meter_set_supply(&r->meters[k], false);
    state_finish(&r->state, sc, r->meters);
    bool recorded = record_close(o->rec, stop_ns);
    int status = r->failures ? 1 : (r->state.failed || r->ep.failed || !recorded) ? 3 : 0;
    if (fflush(o->log) != 0 || ferror(o->log)) {
        fprintf(stderr, "metersim: writing the log failed: %s\n", strerror(errno));
        status = 3;
    }
    if (o->junit && !junit_write(r, o->junit, loop_wall(&r->loop)))
        status = status ? status : 3;
    if (!trace_close(r->trace, now_ns(r)))
        status = status ? status : 3;
    r->trace = NULL;
    run_free(r);
    return status;
}
