/* meter: owns every part of the meter and turns requests into changes. */
#include "meter.h"

#include <math.h>
#include <string.h>

#include "meter_assert.h"
#include "meter_internal.h"
#include "nvm.h"
#include "variant.h"

/* Identity of the firmware the twin models (docs/decisions.md). */
#define METER_PROTOCOL_VERSION 1.0f
#define METER_SOFTWARE_VERSION 1.0f
#define METER_HARDWARE_VERSION 1.0f
#define METER_MID_CHECKSUM 0x6A13u /* MID software CRC shown in display part 1 */
#define METER_CHECKSUM2 0x0000B3C5u

static settings_err_t protocol_set(void *ctx, setting_id_t id, int32_t value);

static void rearm(meter_t *m);
static void power_on(meter_t *m);

#define CHECK(m) METER_ASSERT((m) && (m)->init_mark == METER_INIT_MARK)

void meter_init(meter_t *m, const meter_desc_t *d)
{
    METER_ASSERT(m && d);
    METER_ASSERT((unsigned)d->connection < CONNECTION_COUNT);
    memset(m, 0, sizeof *m);
    m->init_mark = METER_INIT_MARK;
    m->model = d->model;
    const char *serial = d->serial ? d->serial : "00000001";
    size_t n = strlen(serial);
    if (n >= sizeof m->serial)
        serial += n - (sizeof m->serial - 1);
    memcpy(m->serial, serial, strlen(serial) + 1);
    m->connection = d->connection;
    METER_ASSERT((unsigned)d->model < METER_MODEL_COUNT);
    if (d->settings)
        m->settings = *d->settings;
    else
        settings_defaults(&m->settings, settings_serial_number(m->serial));
    m->settings.model = (uint8_t)m->model; /* what the settings accept is the model's */
    /* Every part counts time from the same origin, so that cycle ends,
     * tariff changes, pulse edges and page changes line up after a restart. */
    m->tick = d->start_tick;
    metrology_init(&m->metrology, m->connection);
    m->metrology.tick = d->start_tick;
    energy_init(&m->energy);
    pulse_init(&m->pulse, &m->settings);
    m->n_seg = 1;
    m->seg_tariff[0] = meter_tariff(m);
    m->seg_from[0] = (double)d->start_tick;
    display_init(&m->display, meter_now_ns(m));
    access_t access = meter_access(m);
    menu_init(&m->menu, &access, &m->display, meter_now_ns(m));
    m->protocol_access = access;
    m->protocol_access.set = protocol_set;
    modbus_init(&m->modbus, &m->protocol_access, &d->modbus);
    mbus_init(&m->mbus, &m->protocol_access, &d->mbus);
    m->lines[METER_LINE_MODBUS].ops = &MODBUS_RTU_OPS;
    m->lines[METER_LINE_MODBUS].self = &m->modbus;
    m->lines[METER_LINE_MBUS].ops = &MBUS_OPS;
    m->lines[METER_LINE_MBUS].self = &m->mbus;
    sched_init(&m->sched);
    m->save_interval_ns = d->save_interval_ns;
    if (m->save_interval_ns)
        sched_set(&m->sched, SCHED_SAVE, meter_now_ns(m) + m->save_interval_ns);
    /* A meter starts as it is switched on: it boots first. */
    display_set_power(&m->display, DISPLAY_POWER_OFF, meter_now_ns(m));
    if (!d->unpowered && d->in_service) {
        m->supply = true;
        display_set_power(&m->display, DISPLAY_POWER_ON, meter_now_ns(m));
    } else if (!d->unpowered) {
        power_on(m);
    }
    rearm(m);
}

/* ---- supply and boot (4: powered from the measured phases) --------------- */

/* The line machines start afresh: a frame in flight or a reply waiting is
 * lost, as in a meter whose supply went. */
static void lines_reset(meter_t *m)
{
    modbus_desc_t md = m->modbus.desc;
    mbus_desc_t bd = {.reply_delay_bits = m->mbus.reply_delay_bits,
                      .gap_bits = m->mbus.gap_bits,
                      .strict_fcb = m->mbus.strict_fcb};
    modbus_init(&m->modbus, &m->protocol_access, &md);
    mbus_init(&m->mbus, &m->protocol_access, &bd);
}

static void power_on(meter_t *m)
{
    uint64_t now = meter_now_ns(m);
    m->memory_gen++; /* the supply flag of the image */
    m->supply = true;
    m->booting = true;
    display_set_power(&m->display, DISPLAY_POWER_BOOT, now);
    sched_set(&m->sched, SCHED_BOOT, now + METER_BOOT_NS);
}

/* The boot is over at `t`: measuring starts with a fresh window, the pages
 * start at part 1, the menu is closed and the lines listen. */
static void boot_done(meter_t *m, uint64_t t)
{
    m->booting = false;
    metrology_init(&m->metrology, m->connection);
    m->metrology.tick = m->tick;
    display_set_power(&m->display, DISPLAY_POWER_ON, t);
    access_t access = meter_access(m);
    menu_init(&m->menu, &access, &m->display, t);
    lines_reset(m);
    m->n_seg = 1;
    m->seg_tariff[0] = meter_tariff(m);
    m->seg_from[0] = (double)m->tick;
}

static void power_off(meter_t *m)
{
    uint64_t now = meter_now_ns(m);
    m->power_down_count++; /* 0x4016 counts losses of supply (6.6.12) */
    m->save_due = true;    /* the meter saves as its supply fails */
    m->memory_gen++;
    m->supply = false;
    m->booting = false;
    m->bt_connected = false; /* the radio goes with the supply */
    sched_set(&m->sched, SCHED_BOOT, VTIME_NEVER);
    lines_reset(m);
    pulse_power_off(&m->pulse, now);
    display_set_power(&m->display, DISPLAY_POWER_OFF, now);
}

bool meter_running(const meter_t *m)
{
    CHECK(m);
    return m->supply && !m->booting;
}

/* ---- the event queue ---------------------------------------------------- */

static uint64_t panel_deadline(const meter_t *m)
{
    uint64_t a = menu_deadline(&m->menu), b = display_deadline(&m->display);
    return a < b ? a : b;
}

static void rearm_line(meter_t *m, meter_line_t l)
{
    sched_set(&m->sched, (sched_slot_t)(SCHED_MODBUS + l),
              m->lines[l].ops->deadline(m->lines[l].self));
}

/* Every part's next instant into its slot (the save point keeps its own). */
static void rearm(meter_t *m)
{
    sched_set(&m->sched, SCHED_PULSE, pulse_deadline(&m->pulse));
    sched_set(&m->sched, SCHED_PANEL, panel_deadline(m));
    for (int l = 0; l < METER_LINES; l++)
        rearm_line(m, (meter_line_t)l);
}

/* Services every event due at or before now_ns, in order of time, then of
 * slot priority, each at its own instant. A part must move its deadline past
 * the instant it was serviced at, or the queue would never drain. */
void meter_service(meter_t *m, uint64_t now_ns)
{
    for (;;) {
        sched_slot_t slot = sched_due(&m->sched, now_ns);
        if (slot == SCHED_SLOTS)
            return;
        uint64_t t = m->sched.due[slot], next;
        switch (slot) {
        case SCHED_BOOT:
            boot_done(m, t);
            rearm(m);
            next = VTIME_NEVER;
            break;
        case SCHED_PULSE:
            pulse_advance(&m->pulse, t);
            next = pulse_deadline(&m->pulse);
            break;
        case SCHED_MODBUS:
        case SCHED_MBUS: {
            /* A frame may change settings (a new S0 rate, LCD cycle, ID):
             * every slot is looked at again. */
            meter_line_t l = (meter_line_t)(slot - SCHED_MODBUS);
            m->lines[l].ops->advance(m->lines[l].self, t);
            rearm(m);
            METER_ASSERT(m->sched.due[slot] > t);
            continue;
        }
        case SCHED_PANEL:
            menu_advance(&m->menu, t);
            next = panel_deadline(m);
            break;
        case SCHED_SAVE:
            m->save_due = true;
            next = t + m->save_interval_ns;
            break;
        default:
            return;
        }
        METER_ASSERT(next > t);
        sched_set(&m->sched, slot, next);
    }
}

/* Notes the tariff in force from now on, if it changed. */
static void tariff_changed(meter_t *m)
{
    int t = meter_tariff(m);
    if (t == m->seg_tariff[m->n_seg - 1])
        return;
    if (m->n_seg < METER_TARIFF_SEGMENTS)
        m->n_seg++;
    m->seg_tariff[m->n_seg - 1] = t;
    m->seg_from[m->n_seg - 1] = (double)m->tick;
}

/* Hands a closed cycle to the energy registers, split by time between the
 * tariffs that were in force during it. */
static void register_cycle(meter_t *m, const metrology_cycle_t *c)
{
    double start = c->end - c->ticks;
    double k_ct = ct_factor(m);
    energy_delta_t sum = {0};
    for (int i = 0; i < m->n_seg; i++) {
        double from = m->seg_from[i] > start ? m->seg_from[i] : start;
        double to = i + 1 < m->n_seg ? m->seg_from[i + 1] : c->end;
        if (to > c->end)
            to = c->end;
        if (to <= from && m->n_seg > 1)
            continue;
        metrology_cycle_t part = *c;
        double share = m->n_seg > 1 ? (to - from) / c->ticks : 1.0;
        for (int k = 0; k < 3; k++) {
            part.p_ws[k] *= share * k_ct; /* the registers count primary energy */
            part.q_vars[k] *= share * k_ct;
        }
        energy_delta_t d = {0};
        energy_add_cycle(&m->energy, &part, m->seg_tariff[i], m->settings.combination_code, &d);
        sum.active_fwd += d.active_fwd;
        sum.active_rev += d.active_rev;
        sum.reactive_fwd += d.reactive_fwd;
        sum.reactive_rev += d.reactive_rev;
        /* The LED tests the meter itself: it flashes for the energy at its
         * terminals (docs/decisions.md, "The CT variant"). */
        sum.led += k_ct == 1.0 ? d.led : (int64_t)((double)d.led / k_ct);
    }
    m->memory_gen++; /* registers and remainders moved */
    m->last_delta = sum;
    m->seg_tariff[0] = m->seg_tariff[m->n_seg - 1];
    m->seg_from[0] = c->end;
    m->n_seg = 1;
}

/* Pulses: the cycle's counted energy becomes S0 and LED edges inside the
 * cycle's span (pulse.h). */
static void pulse_cycle_done(meter_t *m, const metrology_cycle_t *c)
{
    pulse_cycle(&m->pulse, &m->last_delta, ticks_to_ns(c->end - c->ticks), ticks_to_ns(c->end),
                &m->settings);
}

/* A cycle measured while the meter registers nothing: only the tariff
 * segments move on. */
static void skip_cycle(meter_t *m, const metrology_cycle_t *c)
{
    m->last_delta = (energy_delta_t){0};
    m->seg_tariff[0] = m->seg_tariff[m->n_seg - 1];
    m->seg_from[0] = c->end;
    m->n_seg = 1;
}

int meter_tariff(const meter_t *m)
{
    int t = m->settings.tariff;
    if (t >= 3)
        return t; /* T3/T4 hold while selected; the input is not looked at */
    return m->tariff_input ? 2 : t;
}

void meter_set_tariff_input(meter_t *m, bool on)
{
    CHECK(m);
    m->tariff_input = on;
    tariff_changed(m);
}

bool meter_tariff_input(const meter_t *m)
{
    CHECK(m);
    return m->tariff_input;
}

void meter_set_supply(meter_t *m, bool on)
{
    CHECK(m);
    if (m->supply == on)
        return;
    if (on)
        power_on(m);
    else
        power_off(m);
    rearm(m);
}

bool meter_supply(const meter_t *m)
{
    CHECK(m);
    return m->supply;
}

void meter_exec(meter_t *m, const metrology_sample_t *s, size_t n)
{
    CHECK(m);
    METER_ASSERT(s || n == 0);
    uint64_t now = meter_now_ns(m);
    size_t t = 0;
    while (t < n) {
        if (sched_next(&m->sched) <= now)
            meter_service(m, now);
        /* The ticks before the next event go to the metrology as one run
         * (docs/performance.md): the event is serviced at the start of the
         * first tick at or after its time, as one tick at a time would. */
        uint64_t next = sched_next(&m->sched);
        size_t run = n - t;
        if (next <= now) {
            run = 1;
        } else {
            uint64_t gap = next - now;
            uint64_t ticks = gap / VTIME_NS_PER_TICK + (gap % VTIME_NS_PER_TICK != 0);
            if (ticks < run)
                run = (size_t)ticks;
        }
        size_t done = metrology_exec(&m->metrology, &s[t], run);
        t += done;
        m->tick += done - 1; /* the tick that closed a cycle, if one did */
        now += (uint64_t)(done - 1) * VTIME_NS_PER_TICK;
        if (m->metrology.cycle_ready) {
            /* A meter without supply, or stopped on a memory error (7.1),
             * registers nothing: it must never count on a reset memory. */
            if (meter_running(m) && m->error_code == 0)
                register_cycle(m, &m->metrology.cycle);
            else
                skip_cycle(m, &m->metrology.cycle);
            pulse_cycle_done(m, &m->metrology.cycle);
            sched_set(&m->sched, SCHED_PULSE, pulse_deadline(&m->pulse));
        }
        m->tick++;
        now += VTIME_NS_PER_TICK;
    }
    meter_service(m, now);
    /* What a reader sees is the state at the end of the samples: pulse
     * levels and the LCD's values as of now. */
    pulse_advance(&m->pulse, now);
    menu_advance(&m->menu, now);
    rearm(m);
}

/* A closed cycle into the registers and the pulses, as meter_exec() books it. */
static void book_cycle(meter_t *m)
{
    if (meter_running(m) && m->error_code == 0)
        register_cycle(m, &m->metrology.cycle);
    else
        skip_cycle(m, &m->metrology.cycle);
    pulse_cycle_done(m, &m->metrology.cycle);
    sched_set(&m->sched, SCHED_PULSE, pulse_deadline(&m->pulse));
}

void meter_book_one_by_one(meter_t *m, bool on)
{
    CHECK(m);
    m->one_by_one = on;
}

/* meter_service() for meter_exec_steady(): the end of a boot starts the
 * metrology afresh (boot_done), which ends the cycle open in closed form and
 * empties the delay line the next one would read. */
static void service_steady(meter_t *m, uint64_t now)
{
    bool booting = m->booting;
    meter_service(m, now);
    if (booting && !m->booting) {
        m->steady.lazy = false;
        m->steady.fresh_from = m->tick;
    }
}

void meter_exec_steady(meter_t *m, const metrology_phasors_t *ph, size_t n)
{
    CHECK(m);
    metrology_steady_t *st = &m->steady;
    if (!ph) {
        METER_ASSERT(n == 0);
        if (st->lazy)
            metrology_steady_leave(st, &m->metrology);
        st->have = false;
        return;
    }
    if ((!st->have || st->ph.gen != ph->gen) &&
        !metrology_steady_carry(st, &m->metrology, ph, m->connection)) {
        if (st->lazy)
            metrology_steady_leave(st, &m->metrology);
        else if (!st->have)
            st->fresh_from = m->tick; /* a new meter, a restart, or samples until now */
        metrology_steady_describe(st, ph, m->connection, m->metrology.ref);
    }
    uint64_t end = m->tick + n;
    while (m->tick < end) {
        uint64_t now = meter_now_ns(m);
        if (st->lazy) {
            /* Nothing happens before the next crossing or event: the
             * ticks in between only move the clock. */
            uint64_t stop = st->next_c, due = sched_next(&m->sched);
            if (due != VTIME_NEVER && (due + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK < stop)
                stop = (due + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK;
            if (end < stop)
                stop = end;
            if (stop > m->tick) {
                metrology_steady_skip(&m->metrology, stop - m->tick);
                m->tick = stop;
                continue;
            }
            if (sched_next(&m->sched) <= now) {
                service_steady(m, now);
                if (!st->lazy)
                    continue; /* the boot started the metrology afresh: sample */
            }
            if (m->tick == st->next_c && !meter_book_run(m, end)) {
                metrology_steady_close(st, &m->metrology);
                book_cycle(m);
            }
            metrology_steady_skip(&m->metrology, 1);
            m->tick++;
            continue;
        }
        if (sched_next(&m->sched) <= now)
            service_steady(m, now);
        metrology_sample_t s;
        metrology_steady_sample(st, m->tick, &s);
        if (metrology_step(&m->metrology, &s)) {
            book_cycle(m);
            if (m->metrology.have_crossing) {
                if (st->ref != m->metrology.ref)
                    metrology_steady_describe(st, &st->ph, m->connection, m->metrology.ref);
                metrology_steady_enter(st, &m->metrology, m->tick);
            }
        }
        m->tick++;
    }
    uint64_t now = meter_now_ns(m);
    service_steady(m, now);
    pulse_advance(&m->pulse, now);
    menu_advance(&m->menu, now);
    rearm(m);
}

void meter_button(meter_t *m, menu_button_t b, bool pressed)
{
    CHECK(m);
    METER_ASSERT((unsigned)b < MENU_BUTTON_COUNT);
    if (!meter_running(m))
        return; /* a dark meter: its buttons do nothing */
    menu_button(&m->menu, b, pressed, meter_now_ns(m));
    rearm(m);
}

uint64_t meter_deadline(const meter_t *m)
{
    CHECK(m);
    return sched_next(&m->sched);
}

/* ---- the serial lines -------------------------------------------------- */

void meter_line_rx(meter_t *m, meter_line_t line, uint8_t byte, uint64_t t_ns, bool line_error)
{
    CHECK(m);
    METER_ASSERT((unsigned)line < METER_LINES);
    if (!meter_running(m))
        return; /* no supply, or booting: the UART hears nothing */
    m->lines[line].ops->rx(m->lines[line].self, byte, t_ns, line_error);
    rearm(m); /* a frame handled at once (--fast) may have changed settings */
}

size_t meter_line_tx(meter_t *m, meter_line_t line, uint8_t *buf, size_t cap, uint64_t *t_start_ns,
                     line_settings_t *settings)
{
    CHECK(m);
    METER_ASSERT((unsigned)line < METER_LINES && buf);
    size_t n = m->lines[line].ops->tx(m->lines[line].self, buf, cap, t_start_ns, settings);
    if (n)
        rearm_line(m, line);
    return n;
}

void meter_line_settings(const meter_t *m, meter_line_t line, line_settings_t *out)
{
    CHECK(m);
    METER_ASSERT((unsigned)line < METER_LINES && out);
    m->lines[line].ops->settings(m->lines[line].self, out);
}

uint64_t meter_line_deadline(const meter_t *m, meter_line_t line)
{
    CHECK(m);
    METER_ASSERT((unsigned)line < METER_LINES);
    return m->sched.due[SCHED_MODBUS + line];
}

uint64_t meter_line_wants(const meter_t *m, meter_line_t line)
{
    CHECK(m);
    METER_ASSERT((unsigned)line < METER_LINES);
    const line_ops_t *ops = m->lines[line].ops;
    return ops->wants ? ops->wants(m->lines[line].self) : meter_line_deadline(m, line);
}

bool meter_line_others(const meter_t *m, meter_line_t line, const uint8_t *bytes,
                       const uint64_t *t_end, size_t n)
{
    CHECK(m);
    METER_ASSERT((unsigned)line < METER_LINES && (bytes || !n) && (t_end || !n));
    const line_ops_t *ops = m->lines[line].ops;
    /* A boot ends on the meter's clock: what it hears depends on when. */
    return !m->booting && ops->others && ops->others(m->lines[line].self, bytes, t_end, n);
}

uint8_t meter_modbus_id(const meter_t *m)
{
    CHECK(m);
    return modbus_line(&m->modbus)->id;
}

bool meter_pulse_edge(meter_t *m, pulse_edge_t *e)
{
    CHECK(m);
    METER_ASSERT(e);
    return pulse_pop_edge(&m->pulse, e);
}

const display_t *meter_display(const meter_t *m)
{
    return &m->display;
}

uint64_t meter_now_ns(const meter_t *m)
{
    return m->tick * VTIME_NS_PER_TICK;
}

/* A frame seen within the last 10 s (VTIME_NEVER: never). */
static bool recent(uint64_t t, uint64_t now)
{
    return t != VTIME_NEVER && t <= now && now - t < 10 * VTIME_NS_PER_S;
}

static double kilo(double x)
{
    return x / 1000.0;
}

void meter_readings(const meter_t *m, readings_t *r)
{
    const metrology_values_t *v = &m->metrology.values;
    metrology_values_t idle;
    if (!meter_running(m)) {
        /* Off or booting, the meter measures nothing (4: powered from the
         * phases; docs/decisions.md): no window of a dead meter is shown, its
         * values read as nothing flowing, as after metrology_init(). */
        memset(&idle, 0, sizeof idle);
        for (int k = 0; k < 3; k++) {
            idle.pf[k] = 1.0;
            idle.quadrant[k] = 1;
        }
        idle.pf_total = 1.0;
        idle.quadrant_total = 1;
        v = &idle;
    }
    memset(r, 0, sizeof *r);
    memcpy(r->serial, m->serial, sizeof r->serial);
    r->model = m->model;
    const variant_t *var = variant_of(m->model);
    double k_ct = ct_factor(m);
    r->meter_code = var->meter_code;
    r->protocol_version = METER_PROTOCOL_VERSION;
    r->software_version = METER_SOFTWARE_VERSION;
    r->hardware_version = METER_HARDWARE_VERSION;
    r->meter_amps = var->imax_a;
    r->ct_primary = m->settings.ct_primary;
    r->checksum = METER_MID_CHECKSUM;
    r->checksum2 = METER_CHECKSUM2;
    r->connection = m->connection;

    for (int k = 0; k < 3; k++) {
        r->voltage[k] = v->u[k];
        r->current[k] = v->i[k] * k_ct;
        r->p[k] = kilo(v->p[k]) * k_ct;
        r->q[k] = kilo(v->q[k]) * k_ct;
        r->s[k] = kilo(v->s[k]) * k_ct;
        r->pf[k] = v->pf[k];
        r->voltage_ll[k] = v->u_ll[k];
        r->quadrant[k] = v->quadrant[k];
        r->direction[k] = v->p[k] < 0.0 ? 'R' : 'F';
        r->voltage_avg += v->u[k] / 3.0;
        r->current_sum += v->i[k] * k_ct;
    }
    r->frequency = v->frequency;
    r->p_total = kilo(v->p_total) * k_ct;
    r->q_total = kilo(v->q_total) * k_ct;
    r->s_total = kilo(v->s_total) * k_ct;
    r->pf_total = v->pf_total;
    r->quadrant_total = v->quadrant_total;
    r->direction_total = v->p_total < 0.0 ? 'R' : 'F';

    energy_read(&m->energy, r);
    r->power_down_count = m->power_down_count;
    r->error_code = m->error_code;
    r->error_flags = m->error_flags;
    r->status_word = m->error_flags; /* 0x401D: the 7.1 byte in its low byte (decisions.md) */
    r->tariff = (uint8_t)meter_tariff(m);
    r->tariff_input = m->tariff_input;
    /* Icon 2 (6.1): lit while this meter has seen a frame of its own on
     * either line in the last 10 s (docs/decisions.md). */
    uint64_t now = meter_now_ns(m);
    r->comm_active =
        recent(modbus_last_request_ns(&m->modbus), now) || recent(m->mbus.last_frame_ns, now);
    r->bt_connected = m->bt_connected;
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        r->pulses[k] = pulse_count(&m->pulse, k);
        r->pulse_level[k] = pulse_level(&m->pulse, k);
    }
    r->settings = m->settings;
}

/* Settings changed from outside a protocol (menu, scenario): the line
 * machines take the new ID, baud rate and parity at once. */
static void resync_lines(meter_t *m)
{
    modbus_sync(&m->modbus);
    if (mbus_baud(&m->mbus) != m->settings.mbus_baud)
        mbus_set_baud(&m->mbus, m->settings.mbus_baud);
}

void meter_load_settings(meter_t *m, const settings_t *s)
{
    CHECK(m);
    METER_ASSERT(s);
    m->settings = *s;
    m->settings.model = (uint8_t)m->model;
    m->memory_gen++;
    m->n_seg = 1;
    m->seg_tariff[0] = meter_tariff(m);
    m->seg_from[0] = (double)m->tick;
    resync_lines(m);
    rearm(m);
}

settings_err_t meter_set(meter_t *m, setting_id_t id, int32_t value)
{
    CHECK(m);
    settings_err_t err = settings_set(&m->settings, id, value);
    m->bt_connected = m->bt_connected && m->settings.bluetooth; /* off ends the link (6.5) */
    m->save_due |= err == SETTINGS_OK;
    m->memory_gen += err == SETTINGS_OK;
    tariff_changed(m);
    resync_lines(m);
    rearm(m);
    return err;
}

void meter_refresh(meter_t *m)
{
    CHECK(m);
    if (meter_running(m)) {
        menu_advance(&m->menu, meter_now_ns(m));
        rearm(m);
    }
}

bool meter_bt_connect(meter_t *m, bool on)
{
    CHECK(m);
    if (on && (!m->settings.bluetooth || !meter_running(m)))
        return m->bt_connected;
    m->bt_connected = on;
    meter_refresh(m); /* icon 1 at once */
    return m->bt_connected;
}

bool meter_bt_connected(const meter_t *m)
{
    CHECK(m);
    return m->bt_connected;
}

void meter_reset(meter_t *m, access_reset_t what)
{
    CHECK(m);
    m->save_due = true;
    m->memory_gen++;
    switch (what) {
    case ACCESS_RESET_POWER_DOWN_COUNTER:
        m->power_down_count = 0;
        break;
    case ACCESS_RESET_DAY_COUNTER:
        energy_reset_day_counter(&m->energy);
        break;
    default:
        METER_ASSERT(!"unknown counter");
    }
}

bool meter_preset_register(meter_t *m, unsigned reg, int64_t micro)
{
    CHECK(m);
    METER_ASSERT(reg < ENERGY_REGISTERS);
    if (micro < 0 || micro >= ENERGY_MODULUS_UWH)
        return false; /* the 6+3 digit register (6.2) */
    *energy_register(&m->energy, reg) = micro;
    m->save_due = true;
    m->memory_gen++;
    return true;
}

void meter_preset_power_down_count(meter_t *m, uint32_t count)
{
    CHECK(m);
    m->power_down_count = count;
    m->save_due = true;
    m->memory_gen++;
}

int meter_restart(meter_t *m, const meter_desc_t *d, meter_fault_t fault, uint8_t *error)
{
    CHECK(m);
    METER_ASSERT(d && error && (unsigned)fault < METER_FAULT_COUNT);
    uint8_t image[NVM_IMAGE_LEN];
    size_t n = nvm_save(m, image, sizeof image);
    /* A data error is one flipped byte of an area: its CRC no longer holds.
     * An area that "cannot be operated" reads as nothing sound either; the
     * byte then names the hardware fault instead of the data error (7.1). */
    bool main_bad = fault == METER_FAULT_CORRUPT_MAIN || fault == METER_FAULT_CORRUPT_BOTH ||
                    fault == METER_FAULT_MAIN_UNUSABLE || fault == METER_FAULT_STORAGE_UNUSABLE;
    bool backup_bad = fault == METER_FAULT_CORRUPT_BACKUP || fault == METER_FAULT_CORRUPT_BOTH ||
                      fault == METER_FAULT_BACKUP_UNUSABLE || fault == METER_FAULT_STORAGE_UNUSABLE;
    bool mant_bad = fault == METER_FAULT_CORRUPT_MANTISSA || fault == METER_FAULT_MANTISSA_UNUSABLE;
    if (main_bad)
        image[NVM_MAIN_OFFSET + 8] ^= 0xFF;
    if (backup_bad)
        image[NVM_BACKUP_OFFSET + 8] ^= 0xFF;
    if (mant_bad)
        image[NVM_MANT_OFFSET] ^= 0xFF;
    meter_desc_t again = *d;
    again.start_tick = m->tick; /* the host's clock goes on; the parts start afresh */
    again.in_service = false;   /* a power cycle: it boots */
    uint32_t gen = m->memory_gen;
    meter_init(m, &again);
    m->memory_gen = gen + 1; /* what was loaded is a change for the host */
    *error = 0;
    nvm_status_t st = nvm_load(m, image, n, error);
    uint8_t hw = 0, data = 0;
    switch (fault) {
    case METER_FAULT_MANTISSA_UNUSABLE:
        hw = 0x02, data = NVM_ERR_MANTISSA;
        break;
    case METER_FAULT_BACKUP_UNUSABLE:
        hw = 0x04, data = NVM_ERR_BACKUP_DATA;
        break;
    case METER_FAULT_MAIN_UNUSABLE:
        hw = 0x08, data = NVM_ERR_MAIN_DATA;
        break;
    case METER_FAULT_STORAGE_UNUSABLE:
        hw = 0x0C, data = NVM_ERR_MAIN_DATA | NVM_ERR_BACKUP_DATA;
        break;
    case METER_FAULT_EEPROM_INIT:
        hw = 0x80;
        break;
    default:
        break;
    }
    *error = (uint8_t)((*error & ~data) | hw);
    m->error_flags = *error;
    if (m->error_code)
        m->error_code = *error; /* stopped: the byte it shows */
    if (fault == METER_FAULT_EEPROM_INIT) {
        /* Nothing of the memory can be trusted: the meter stops (7.1). */
        m->error_code = *error;
        st = NVM_STOPPED;
    }
    return (int)st;
}

const char *meter_fault_name(meter_fault_t f)
{
    static const char *const names[METER_FAULT_COUNT] = {
        [METER_FAULT_NONE] = "restart",
        [METER_FAULT_CORRUPT_MAIN] = "corrupt_main",
        [METER_FAULT_CORRUPT_BACKUP] = "corrupt_backup",
        [METER_FAULT_CORRUPT_BOTH] = "corrupt_both",
        [METER_FAULT_CORRUPT_MANTISSA] = "corrupt_mantissa",
        [METER_FAULT_MANTISSA_UNUSABLE] = "mantissa_unusable",
        [METER_FAULT_BACKUP_UNUSABLE] = "backup_unusable",
        [METER_FAULT_MAIN_UNUSABLE] = "main_unusable",
        [METER_FAULT_STORAGE_UNUSABLE] = "storage_unusable",
        [METER_FAULT_EEPROM_INIT] = "eeprom_init",
    };
    return (unsigned)f < METER_FAULT_COUNT ? names[f] : NULL;
}

uint8_t meter_error(const meter_t *m)
{
    CHECK(m);
    return m->error_code;
}

bool meter_save_due(const meter_t *m)
{
    CHECK(m);
    return m->save_due;
}

void meter_saved(meter_t *m)
{
    CHECK(m);
    m->save_due = false;
}

uint32_t meter_memory_generation(const meter_t *m)
{
    CHECK(m);
    return m->memory_gen;
}

static void access_read(void *ctx, readings_t *out)
{
    meter_readings(ctx, out);
}

static settings_err_t access_set(void *ctx, setting_id_t id, int32_t value)
{
    return meter_set(ctx, id, value);
}

/* A protocol's own write: its machine applies a new ID, baud rate or parity
 * after its reply (A3.3), so the lines are not resynchronised here. */
static settings_err_t protocol_set(void *ctx, setting_id_t id, int32_t value)
{
    meter_t *m = ctx;
    settings_err_t err = settings_set(&m->settings, id, value);
    m->bt_connected = m->bt_connected && m->settings.bluetooth; /* off ends the link (6.5) */
    m->save_due |= err == SETTINGS_OK;
    m->memory_gen += err == SETTINGS_OK;
    tariff_changed(m);
    return err;
}

static void access_reset(void *ctx, access_reset_t what)
{
    meter_reset(ctx, what);
}

access_t meter_access(meter_t *m)
{
    CHECK(m);
    return (access_t){.ctx = m, .read = access_read, .set = access_set, .reset = access_reset};
}
