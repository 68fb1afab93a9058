/* meter: owns every part of the meter and turns requests into changes. */
#include "meter.h"

#include <math.h>
#include <string.h>

/* Identity of the firmware the twin models (docs/decisions.md). */
#define METER_PROTOCOL_VERSION 1.0f
#define METER_SOFTWARE_VERSION 1.0f
#define METER_HARDWARE_VERSION 1.0f
#define METER_AMPS 65                 /* Imax (4) */
#define METER_MID_CHECKSUM 0x6A13u    /* MID software CRC shown in display part 1 */
#define METER_CHECKSUM2 0x0000B3C5u

static settings_err_t protocol_set(void *ctx, setting_id_t id, int32_t value);

/* The last eight digits of a serial number, as a number (A2.1). */
static uint32_t last_eight_digits(const char *serial)
{
    size_t n = strlen(serial);
    const char *p = n > 8 ? serial + n - 8 : serial;
    uint32_t v = 0;
    for (; *p; p++)
        if (*p >= '0' && *p <= '9')
            v = v * 10u + (uint32_t)(*p - '0');
    return v;
}

void meter_init(meter_t *m, const meter_desc_t *d)
{
    memset(m, 0, sizeof *m);
    m->model = d->model;
    const char *serial = d->serial ? d->serial : "00000001";
    size_t n = strlen(serial);
    if (n >= sizeof m->serial)
        serial += n - (sizeof m->serial - 1);
    memcpy(m->serial, serial, strlen(serial) + 1);
    m->connection = d->connection < CONNECTION_COUNT ? d->connection : CONNECTION_3P4W;
    if (d->settings)
        m->settings = *d->settings;
    else
        settings_defaults(&m->settings, last_eight_digits(m->serial));
    /* Every part counts time from the same origin, so that cycle ends,
     * tariff changes, pulse edges and page changes line up after a restart. */
    m->tick = d->start_tick;
    metrology_init(&m->metrology, m->connection);
    m->metrology.tick = d->start_tick;
    energy_init(&m->energy);
    pulse_init(&m->pulse, &m->settings);
    m->supply = !d->unpowered;
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
            part.p_ws[k] *= share;
            part.q_vars[k] *= share;
        }
        energy_delta_t d = {0};
        energy_add_cycle(&m->energy, &part, m->seg_tariff[i], m->settings.combination_code, &d);
        sum.active_fwd += d.active_fwd;
        sum.active_rev += d.active_rev;
        sum.reactive_fwd += d.reactive_fwd;
        sum.reactive_rev += d.reactive_rev;
        sum.led += d.led;
    }
    m->last_delta = sum;
    m->seg_tariff[0] = m->seg_tariff[m->n_seg - 1];
    m->seg_from[0] = c->end;
    m->n_seg = 1;
}

/* Pulses: the cycle's counted energy becomes S0 and LED edges inside the
 * cycle's span (pulse.h). */
static uint64_t ticks_to_ns(double ticks)
{
    return ticks > 0.0 ? (uint64_t)llround(ticks * (double)VTIME_NS_PER_TICK) : 0;
}

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
    m->tariff_input = on;
    tariff_changed(m);
}

void meter_set_supply(meter_t *m, bool on)
{
    if (m->supply && !on)
        m->power_down_count++; /* 0x4016 counts losses of supply */
    m->supply = on;
}

void meter_exec(meter_t *m, const metrology_sample_t *s, size_t n)
{
    for (size_t t = 0; t < n; t++) {
        if (metrology_step(&m->metrology, &s[t])) {
            /* A meter without supply, or stopped on a memory error (7.1),
             * registers nothing: it must never count on a reset memory. */
            if (m->supply && m->error_code == 0)
                register_cycle(m, &m->metrology.cycle);
            else
                skip_cycle(m, &m->metrology.cycle);
            pulse_cycle_done(m, &m->metrology.cycle);
        }
        m->tick++;
    }
    pulse_advance(&m->pulse, meter_now_ns(m));
    menu_advance(&m->menu, meter_now_ns(m));
}

void meter_button(meter_t *m, menu_button_t b, bool pressed)
{
    menu_button(&m->menu, b, pressed, meter_now_ns(m));
}

uint64_t meter_deadline(const meter_t *m)
{
    uint64_t t[5] = {menu_deadline(&m->menu), display_deadline(&m->display),
                     pulse_deadline(&m->pulse), modbus_deadline(&m->modbus),
                     mbus_deadline(&m->mbus)};
    uint64_t min = t[0];
    for (int i = 1; i < 5; i++)
        if (t[i] < min)
            min = t[i];
    return min;
}

void meter_advance(meter_t *m, uint64_t now_ns)
{
    pulse_advance(&m->pulse, now_ns);
    modbus_advance(&m->modbus, now_ns);
    mbus_advance(&m->mbus, now_ns);
    menu_advance(&m->menu, now_ns);
}

void meter_modbus_rx(meter_t *m, uint8_t byte, uint64_t t_ns, bool line_error)
{
    modbus_rx(&m->modbus, byte, t_ns, line_error);
}

void meter_mbus_rx(meter_t *m, uint8_t byte, uint64_t t_ns, bool line_error)
{
    mbus_rx(&m->mbus, byte, t_ns, line_error);
}

size_t meter_modbus_tx(meter_t *m, uint8_t *buf, size_t cap, uint64_t *t_start_ns)
{
    return modbus_tx(&m->modbus, buf, cap, t_start_ns);
}

size_t meter_mbus_tx(meter_t *m, uint8_t *buf, size_t cap, uint64_t *t_start_ns)
{
    return mbus_tx(&m->mbus, buf, cap, t_start_ns);
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
    memset(r, 0, sizeof *r);
    memcpy(r->serial, m->serial, sizeof r->serial);
    r->model = m->model;
    r->meter_code = m->model == METER_MODEL_4PS ? 0x1112 : 0x1111;
    r->protocol_version = METER_PROTOCOL_VERSION;
    r->software_version = METER_SOFTWARE_VERSION;
    r->hardware_version = METER_HARDWARE_VERSION;
    r->meter_amps = METER_AMPS;
    r->checksum = METER_MID_CHECKSUM;
    r->checksum2 = METER_CHECKSUM2;
    r->connection = m->connection;

    for (int k = 0; k < 3; k++) {
        r->voltage[k] = v->u[k];
        r->current[k] = v->i[k];
        r->p[k] = kilo(v->p[k]);
        r->q[k] = kilo(v->q[k]);
        r->s[k] = kilo(v->s[k]);
        r->pf[k] = v->pf[k];
        r->voltage_ll[k] = v->u_ll[k];
        r->quadrant[k] = v->quadrant[k];
        r->direction[k] = v->p[k] < 0.0 ? 'R' : 'F';
        r->voltage_avg += v->u[k] / 3.0;
        r->current_sum += v->i[k];
    }
    r->frequency = v->frequency;
    r->p_total = kilo(v->p_total);
    r->q_total = kilo(v->q_total);
    r->s_total = kilo(v->s_total);
    r->pf_total = v->pf_total;
    r->quadrant_total = v->quadrant_total;
    r->direction_total = v->p_total < 0.0 ? 'R' : 'F';

    energy_read(&m->energy, m->settings.combination_code, r);
    r->power_down_count = m->power_down_count;
    r->error_code = m->error_code;
    r->tariff = (uint8_t)meter_tariff(m);
    r->tariff_input = m->tariff_input;
    /* Icon 2 (6.1): lit while this meter has seen a frame of its own on
     * either line in the last 10 s (docs/decisions.md). */
    uint64_t now = meter_now_ns(m);
    r->comm_active = recent(modbus_last_request_ns(&m->modbus), now) ||
                     recent(m->mbus.last_frame_ns, now);
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
    m->settings = *s;
    m->n_seg = 1;
    m->seg_tariff[0] = meter_tariff(m);
    m->seg_from[0] = (double)m->tick;
    resync_lines(m);
}

static void access_read(void *ctx, readings_t *out)
{
    meter_readings(ctx, out);
}

static settings_err_t access_set(void *ctx, setting_id_t id, int32_t value)
{
    meter_t *m = ctx;
    settings_err_t err = settings_set(&m->settings, id, value);
    m->changes += err == SETTINGS_OK;
    tariff_changed(m);
    resync_lines(m);
    return err;
}

static settings_err_t protocol_set(void *ctx, setting_id_t id, int32_t value)
{
    meter_t *m = ctx;
    settings_err_t err = settings_set(&m->settings, id, value);
    m->changes += err == SETTINGS_OK;
    tariff_changed(m);
    return err;
}

static void access_reset(void *ctx, access_reset_t what)
{
    meter_t *m = ctx;
    m->changes++;
    switch (what) {
    case ACCESS_RESET_POWER_DOWN_COUNTER: m->power_down_count = 0; break;
    case ACCESS_RESET_DAY_COUNTER: energy_reset_day_counter(&m->energy); break;
    }
}

access_t meter_access(meter_t *m)
{
    return (access_t){.ctx = m, .read = access_read, .set = access_set, .reset = access_reset};
}
