/* controls: a run's live controls (runner.h), what the HTTP service
 * (sim/http/) changes while the run goes on: the waveform's parameters per
 * meter and phase, the settings as the menu changes them, faults, the app's
 * Bluetooth connection, a save. Each change is a timeline event: applied at
 * the meter's own time after it was brought up to now (as a master's request
 * is), written to the log and into --record. */
#include <math.h>
#include <string.h>

#include "record.h"
#include "run_internal.h"

/* A person's change is in the log at once in a run that keeps time (a
 * harness reading the log waits for it); at full speed the log's own
 * buffering stays. */
static void flush(run_t *r)
{
    if (r->paced)
        fflush(r->o->log);
}

/* The log's line for a change: {"t":..,"event":"control",...}. */
static void log_control(run_t *r, int k, const char *action, int arg, double value)
{
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"control\",\"meter\":\"%s\",\"action\":\"%s\",\"arg\":%d,"
            "\"value\":%.17g}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name, action, arg, value);
    flush(r);
}

static void control(run_t *r, int k, const char *action, int arg, double value)
{
    run_record_action(r, k, action, arg, value);
    log_control(r, k, action, arg, value);
}

int runner_meters(const runner_t *r)
{
    return r->sc->n_meters;
}

bool runner_paced(const runner_t *r)
{
    return r->paced;
}

void runner_sync(runner_t *r, int k)
{
    run_sync_meter(r, k);
}

/* Meter k's own grid, from the shared one at the first change. */
static scenario_grid_t *own_grid(run_t *r, int k)
{
    if (!r->own_grid[k]) {
        r->grids[k] = r->grid;
        r->own_grid[k] = true;
    }
    return &r->grids[k];
}

static const scenario_grid_t *grid_of(const run_t *r, int k)
{
    return r->own_grid[k] ? &r->grids[k] : &r->grid;
}

double runner_voltage(const runner_t *r, int k, int phase)
{
    return profile_at(&grid_of(r, k)->voltage[phase], r->tick);
}

void runner_set_voltage(runner_t *r, int k, int phase, double volts)
{
    control(r, k, "voltage", phase, volts);
    own_grid(r, k)->voltage[phase] = profile_const(volts);
    run_set_wave(r, k);
}

double runner_pf(const runner_t *r, int k, int phase)
{
    const scenario_phase_t *p = &r->loads[k].phase[phase];
    double pf = p->use_angle ? fabs(cos(p->angle_deg * M_PI / 180.0)) : profile_at(&p->pf, r->tick);
    return p->capacitive ? -pf : pf;
}

/* A power factor's sign says inductive (+) or capacitive (-); the direction
 * of energy stays the phase's own (docs/http.md). */
void runner_set_pf(runner_t *r, int k, int phase, double pf)
{
    control(r, k, "pf", phase, pf);
    scenario_phase_t *p = &r->loads[k].phase[phase];
    p->use_angle = false;
    p->capacitive = pf < 0;
    p->pf = profile_const(fabs(pf));
    run_set_wave(r, k);
}

double runner_frequency(const runner_t *r, int k)
{
    return profile_at(&grid_of(r, k)->frequency, r->tick);
}

void runner_set_frequency(runner_t *r, int k, double hz)
{
    control(r, k, "frequency", 0, hz);
    own_grid(r, k)->frequency = profile_const(hz);
    run_set_wave(r, k);
}

bool runner_phase_supply(const runner_t *r, int k, int phase)
{
    return !r->phase_off[k][phase];
}

void runner_set_phase_supply(runner_t *r, int k, int phase, bool on)
{
    control(r, k, "phase_supply", phase, on);
    r->phase_off[k][phase] = !on;
    run_set_wave(r, k);
}

settings_err_t runner_set_setting(runner_t *r, int k, setting_id_t id, int32_t value)
{
    settings_err_t e = meter_set(&r->meters[k], id, value);
    meter_refresh(&r->meters[k]); /* on the LCD at once */
    run_record_action(r, k, "setting", (int)id, value);
    fprintf(r->o->log,
            "{\"t\":%.3f,\"event\":\"set\",\"meter\":\"%s\",\"setting\":\"%s\",\"value\":%d,"
            "\"result\":\"%s\"}\n",
            (double)r->tick / VTIME_SAMPLE_RATE, r->sc->meters[k].name, settings_name(id),
            (int)value, settings_strerror(e));
    flush(r);
    run_mirror(r); /* in the state file at once, as the menu's changes are */
    return e;
}

void runner_fault(runner_t *r, int k, meter_fault_t fault)
{
    run_record_action(r, k, "fault", (int)fault, 0);
    run_restart_meter(r, k, fault); /* logs its "fault" event */
    flush(r);
}

bool runner_bt_connect(runner_t *r, int k, bool on)
{
    bool now = meter_bt_connect(&r->meters[k], on);
    if (now == on)
        control(r, k, "bluetooth", 0, on);
    return now;
}

bool runner_save(runner_t *r, int k)
{
    if (!r->state.n)
        return false;
    state_save(&r->state, r->sc, r->meters, k);
    log_control(r, k, "save", 0, 1);
    return !r->state.failed;
}
