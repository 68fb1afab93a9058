/* metersim: the host process. Runs a scenario through a meter and shows
 * what the meter measures (docs/cli.md).
 *
 * Exit status: 0 the run ended as asked; 1 an assertion failed; 2 the command
 * line or the scenario is invalid (nothing ran); 3 an I/O error while running.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meter.h"
#include "scenario.h"
#include "statefile.h"
#include "waveform.h"

#define EXIT_INVALID 2
#define CHUNK_TICKS 800u /* 100 ms: the pacing and event granularity of the host loop */
#define STATE_SAVE_INTERVAL_TICKS (60ull * VTIME_SAMPLE_RATE) /* --state default: 60 s */

static const char usage[] =
    "Usage: metersim [OPTIONS]\n"
    "A digital twin of the WAGO 879-3000 (4PU) / 879-3020 (4PS) energy meter.\n"
    "\n"
    "  --scenario FILE     run the scenario in FILE (JSON, docs/scenario.md);\n"
    "                      without it, a built-in office load on a 3P4W supply\n"
    "  --until DURATION    stop after this much simulated time (\"250ms\", \"90s\",\n"
    "                      \"15m\", \"24h\", \"7d\"; a bare number is seconds);\n"
    "                      without it, run until stopped (Ctrl-C)\n"
    "  --headless          no window; run as fast as the CPU allows unless --speed\n"
    "  --speed N|max       pace: N times real time, or max (default: 1, or max\n"
    "                      with --headless); the pace never changes the results\n"
    "  --state FILE        keep the meter's memory (energy, settings, counters) in\n"
    "                      FILE: loaded at start, written atomically every\n"
    "                      --save-interval of simulated time, at each power-down\n"
    "                      and on exit; a crash loses at most one interval.\n"
    "                      A file that is not a metersim state file, or of an\n"
    "                      unknown version, is refused (status 2) and left as it is\n"
    "  --save-interval D   how often --state is written, in simulated time\n"
    "                      (default 60s; docs/state.md)\n"
    "  --help              this text\n"
    "  --version           the program's version\n"
    "\n"
    "Output: one JSON object per simulated second on standard output (the\n"
    "fields are listed in docs/cli.md).\n"
    "\n"
    "Exit status: 0 done; 1 an assertion failed; 2 invalid command line or\n"
    "scenario (nothing ran); 3 an I/O error while running.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    const char *scenario;
    uint64_t until; /* ticks; 0: no end */
    int headless;
    double speed;   /* 0: as fast as possible */
    const char *state;      /* --state FILE, or NULL */
    uint64_t save_interval; /* ticks */
} options_t;

static bool state_option(const char *a, const char *val, options_t *o);
static bool grid_powers_meter(const wave_desc_t *w);

static int parse_args(int argc, char **argv, options_t *o)
{
    int speed_given = 0;
    memset(o, 0, sizeof *o);
    o->speed = 1.0;
    o->save_interval = STATE_SAVE_INTERVAL_TICKS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            puts("metersim 0.1");
            exit(0);
        } else if (strcmp(a, "--headless") == 0) {
            o->headless = 1;
        } else if (strcmp(a, "--scenario") == 0 || strcmp(a, "--until") == 0 ||
                   strcmp(a, "--speed") == 0 || strcmp(a, "--state") == 0 ||
                   strcmp(a, "--save-interval") == 0) {
            if (!val) {
                fprintf(stderr, "metersim: %s needs a value (see --help)\n", a);
                return EXIT_INVALID;
            }
            i++;
            if (strcmp(a, "--scenario") == 0) {
                o->scenario = val;
            } else if (strcmp(a, "--state") == 0 || strcmp(a, "--save-interval") == 0) {
                if (!state_option(a, val, o))
                    return EXIT_INVALID;
            } else if (strcmp(a, "--until") == 0) {
                if (!scenario_parse_duration(val, &o->until) || o->until == 0) {
                    fprintf(stderr,
                            "metersim: --until %s: expected a duration such as \"90s\", \"15m\", "
                            "\"24h\", \"7d\" (more than 0, at most 100 years)\n",
                            val);
                    return EXIT_INVALID;
                }
            } else {
                char *end;
                double s = strtod(val, &end);
                speed_given = 1;
                if (strcmp(val, "max") == 0) {
                    o->speed = 0.0;
                } else if (*end || !(s > 0.0) || !isfinite(s)) {
                    fprintf(stderr, "metersim: --speed %s: expected a positive number or max\n",
                            val);
                    return EXIT_INVALID;
                } else {
                    o->speed = s;
                }
            }
        } else {
            fprintf(stderr, "metersim: unknown option %s (see --help)\n", a);
            return EXIT_INVALID;
        }
    }
    if (o->headless && !speed_given)
        o->speed = 0.0;
    return 0;
}

static void print_array(const char *name, const double v[3], int decimals)
{
    printf(",\"%s\":[%.*f,%.*f,%.*f]", name, decimals, v[0], decimals, v[1], decimals, v[2]);
}

/* One line of JSON with what the meter shows at this second. */
static void print_line(const meter_t *m)
{
    readings_t r;
    meter_readings(m, &r);
    printf("{\"t\":%llu,\"f\":%.3f", (unsigned long long)(m->tick / VTIME_SAMPLE_RATE),
           r.frequency);
    print_array("U", r.voltage, 2);
    print_array("I", r.current, 3);
    print_array("P_kW", r.p, 4);
    print_array("Q_kvar", r.q, 4);
    print_array("S_kVA", r.s, 4);
    print_array("PF", r.pf, 3);
    print_array("U_LL", r.voltage_ll, 2);
    printf(",\"P_total_kW\":%.4f,\"Q_total_kvar\":%.4f,\"S_total_kVA\":%.4f,\"PF_total\":%.3f",
           r.p_total, r.q_total, r.s_total, r.pf_total);
    printf(",\"quadrant\":[%d,%d,%d],\"quadrant_total\":%d", r.quadrant[0], r.quadrant[1],
           r.quadrant[2], r.quadrant_total);
    printf(",\"E_total_kWh\":%.6f,\"E_fwd_kWh\":%.6f,\"E_rev_kWh\":%.6f", r.active_total.total,
           r.active_forward.total, r.active_reverse.total);
    printf(",\"Eq_fwd_kvarh\":%.6f,\"Eq_rev_kvarh\":%.6f,\"tariff\":%d",
           r.reactive_forward.total, r.reactive_reverse.total, r.tariff);
    printf(",\"power_down_count\":%u,\"error\":%u}\n", (unsigned)r.power_down_count,
           (unsigned)r.error_code);
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sleeps until the wall clock has caught up with simulated time / speed. */
static void pace(double start_wall, uint64_t ticks, double speed)
{
    if (speed <= 0.0)
        return;
    double due = start_wall + (double)ticks / VTIME_SAMPLE_RATE / speed;
    double now = wall_seconds();
    if (due > now) {
        double d = due - now;
        struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop_requested)
            ;
    }
}

/* ---- --state: the meter's memory on disk (docs/state.md) ---------------- */

static uint64_t state_saved_at; /* tick of the last save */
static int state_failed;        /* a save failed: exit status 3 at the end */

static bool state_option(const char *a, const char *val, options_t *o)
{
    if (strcmp(a, "--state") == 0) {
        o->state = val;
        return true;
    }
    if (!scenario_parse_duration(val, &o->save_interval) || o->save_interval == 0) {
        fprintf(stderr, "metersim: --save-interval %s: expected a duration such as \"60s\" "
                        "(more than 0)\n", val);
        return false;
    }
    return true;
}

/* The meter is powered from its phases: on while any carries METER_SUPPLY_MIN_V. */
static bool grid_powers_meter(const wave_desc_t *w)
{
    for (int k = 0; k < 3; k++)
        if (w->phase[k].voltage >= METER_SUPPLY_MIN_V)
            return true;
    return false;
}

static void state_save(const meter_t *m, const options_t *o)
{
    char err[512];
    state_saved_at = m->tick;
    /* A stopped meter's file is the evidence: never replace it (7.1). */
    if (!o->state || m->error_code)
        return;
    if (!statefile_save(o->state, m, err, sizeof err)) {
        fprintf(stderr, "metersim: %s\n", err);
        state_failed = 1;
    }
}

/* Loads the state file; 0, or the exit status when it is refused. */
static int state_start(meter_t *m, const options_t *o)
{
    if (!o->state)
        return 0;
    char msg[1024];
    statefile_status_t s = statefile_load(o->state, m, msg, sizeof msg);
    if (msg[0])
        fprintf(stderr, "metersim: %s\n", msg);
    return s == STATEFILE_REFUSED ? EXIT_INVALID : 0;
}

/* A scenario event changed the grid: the supply may have come or gone. */
static void state_supply(meter_t *m, const wave_desc_t *w, const options_t *o)
{
    bool on = grid_powers_meter(w);
    if (m->supply && !on) {
        meter_set_supply(m, false);
        state_save(m, o); /* the meter saves at every power-down */
    } else if (!m->supply && on) {
        meter_set_supply(m, true);
    }
}

static void state_tick(const meter_t *m, uint64_t t, const options_t *o)
{
    if (o->state && t - state_saved_at >= o->save_interval)
        state_save(m, o);
}

/* The host stops: for the meter, its supply goes. */
static void state_end(meter_t *m, const options_t *o)
{
    meter_set_supply(m, false);
    if (o->state)
        state_save(m, o);
}

/* ---- end of --state ----------------------------------------------------- */

static int run(const scenario_t *sc, const options_t *o)
{
    static meter_t meter;
    static metrology_sample_t buf[CHUNK_TICKS];
    wave_t wave;
    meter_init(&meter, &(meter_desc_t){
                           .model = sc->model,
                           .serial = sc->serial,
                           .connection = sc->connection,
                           .unpowered = !grid_powers_meter(&sc->wave),
                       });
    wave_init(&wave, &sc->wave);
    int rc = state_start(&meter, o);
    if (rc)
        return rc;
    size_t next_event = 0;
    uint64_t t = 0;
    double start = wall_seconds();

    while (!stop_requested && (o->until == 0 || t < o->until)) {
        while (next_event < sc->n_events && sc->events[next_event].at_tick <= t) {
            const scenario_event_t *ev = &sc->events[next_event++];
            if (ev->set_wave) {
                wave_set(&wave, &ev->wave);
                state_supply(&meter, &ev->wave, o);
            }
            if (ev->tariff_input >= 0)
                meter_set_tariff_input(&meter, ev->tariff_input);
        }
        /* Up to the next second, event, or end, whichever is first. */
        uint64_t end = t + CHUNK_TICKS;
        uint64_t second = (t / VTIME_SAMPLE_RATE + 1) * VTIME_SAMPLE_RATE;
        if (second < end)
            end = second;
        if (next_event < sc->n_events && sc->events[next_event].at_tick < end)
            end = sc->events[next_event].at_tick;
        if (o->until && o->until < end)
            end = o->until;
        size_t n = (size_t)(end - t);
        wave_fill(&wave, buf, n);
        meter_exec(&meter, buf, n);
        t = end;
        if (t % VTIME_SAMPLE_RATE == 0) {
            print_line(&meter);
            if (o->speed > 0.0)
                fflush(stdout);
        }
        state_tick(&meter, t, o);
        pace(start, t, o->speed);
    }
    state_end(&meter, o);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "metersim: writing the output failed: %s\n", strerror(errno));
        return 3;
    }
    return state_failed ? 3 : 0;
}

int main(int argc, char **argv)
{
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;

    scenario_t sc;
    char err[1024];
    bool ok = o.scenario ? scenario_load(o.scenario, &sc, err, sizeof err)
                         : scenario_default(&sc, err, sizeof err);
    if (!ok) {
        fprintf(stderr, "metersim: %s\n", err);
        return EXIT_INVALID;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!o.headless)
        fprintf(stderr, "metersim: %s%s; no window yet, printing one line per simulated "
                        "second (Ctrl-C stops)\n",
                sc.name[0] ? "scenario " : "", sc.name);
    rc = run(&sc, &o);
    scenario_free(&sc);
    return rc;
}
