/* fidelity_agree: the two fidelities side by side on one scenario (issue 14,
 * point 3). Runs the scenario's first meter twice, through the same core
 * and waveform the runner uses, once sample by sample (wave_fill,
 * meter_exec: --fidelity sample) and once in closed form (wave_phasors,
 * meter_exec_steady: --fidelity auto), and a third time in closed form cut
 * into calls of pseudo-random length, as a paced host cuts them. Every
 * simulated second it compares what the meters show at full precision:
 *
 *   - every energy register (readings_t's active and reactive totals,
 *     tariffs, phases, quadrants, the resettable counter), relative to the
 *     register, with a floor of REG_FLOOR_KWH;
 *   - every published value (U, I, P, Q, S, PF, f, U_LL, per phase and
 *     total), relative to itself, with a floor for values near zero: 1e-5
 *     of the phase's apparent power for P and Q, 1e-5 for PF, 1 mA, 10 mV;
 *   - the auto run against its differently cut twin: bit for bit.
 *
 * It applies the timeline's grid, load, tariff-input and supply events (the
 * rest do not touch the metrology) and looks at the profiles once a second,
 * as the runner does. Prints the largest difference of each quantity;
 * exits 1 when one is beyond the tolerance given, 2 on bad arguments.
 *
 *   fidelity_agree SCENARIO [--until DURATION] [--reg TOL] [--val TOL]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "meter.h"
#include "scenario.h"
#include "waveform.h"

#define REG_FLOOR_KWH 1e-8 /* 10 uWh: each phase register rounds to a uWh on its own */
#define CHUNK 800u

typedef struct {
    meter_t m;
    wave_t w;
    metrology_phasors_t ph;
    wave_desc_t described;
    bool ok;
    int mode; /* 0 sample, 1 auto, 2 auto in odd chunks */
    uint64_t rng;
} side_t;

static metrology_sample_t buf[CHUNK];

static void describe(side_t *s, const wave_desc_t *d, uint64_t tick, bool first)
{
    if (s->mode == 0 || (!first && memcmp(&s->described, d, sizeof *d) == 0))
        return;
    s->described = *d;
    uint64_t gen = s->ph.gen + 1;
    s->ok = wave_phasors(&s->w, &s->ph);
    s->ph.gen = gen;
    s->ph.since = tick;
}

static void advance(side_t *s, uint64_t n)
{
    while (n > 0) {
        uint64_t k = n < CHUNK ? n : CHUNK;
        if (s->mode == 2) { /* 1 .. 997 ticks, from a fixed generator */
            s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t r = 1 + (s->rng >> 33) % 997;
            if (r < k)
                k = r;
        }
        if (s->mode != 0 && s->ok) {
            meter_exec_steady(&s->m, &s->ph, (size_t)k);
            wave_skip(&s->w, (size_t)k);
        } else {
            if (s->mode != 0)
                meter_exec_steady(&s->m, NULL, 0);
            wave_fill(&s->w, buf, (size_t)k);
            meter_exec(&s->m, buf, (size_t)k);
        }
        n -= k;
    }
}

typedef struct {
    const char *name;
    double worst, at;
    double tol;
    double ratio; /* the largest difference / what is allowed */
} stat_t;

/* The noise's own spread (one sigma) of what a window shows (see the top):
 * the sample path's draw, which the closed form replaces by its mean. */
typedef struct {
    double sv, si; /* per tick, V and A (sqrt 2 x sigma_v: a conservative
                      bound for the connections that subtract two lines) */
    double energy; /* kWh, of the registers so far */
} noise_t;

static double g_k = 6.0; /* sigmas of noise a difference may reach */

static void note(stat_t *st, double a, double b, double floor_, double sigma, double t)
{
    double scale = fmax(fabs(a), fabs(b));
    double d = fabs(a - b);
    double rel = d / fmax(scale, floor_ / st->tol);
    if (rel > st->worst) {
        st->worst = rel;
        st->at = t;
    }
    double allowed = st->tol * fmax(scale, floor_ / st->tol) + g_k * sigma;
    if (d / allowed > st->ratio) {
        st->ratio = d / allowed;
        if (getenv("FA_DEBUG"))
            printf("%s at %g: %.12g vs %.12g (allowed %.3g, sigma %.3g)\n", st->name, t, a, b,
                   allowed, sigma);
    }
}

enum { S_REG, S_U, S_I, S_P, S_Q, S_S, S_PF, S_F, S_ULL, S_PT, S_QT, S_ST, S_PFT, S_N };

static void compare(stat_t *st, const readings_t *a, const readings_t *b, const noise_t *nz,
                    double t)
{
    const double rn = 1.0 / sqrt((double)METROLOGY_WINDOW_TICKS);
    double sp[3], ss[3], sp2 = 0.0, ss2 = 0.0;
    for (int k = 0; k < 3; k++) {
        double su = nz->sv * rn, si = nz->si * rn;
        sp[k] = sqrt(a->voltage[k] * a->voltage[k] * nz->si * nz->si +
                     a->current[k] * a->current[k] * nz->sv * nz->sv) *
                rn / 1000.0; /* kW */
        ss[k] = sqrt(a->current[k] * a->current[k] * su * su +
                     a->voltage[k] * a->voltage[k] * si * si) /
                1000.0;
        sp2 += sp[k] * sp[k];
        ss2 += ss[k] * ss[k];
    }
    const readings_energy_t *ea[] = {&a->active_total,     &a->active_forward,
                                     &a->active_reverse,   &a->reactive_total,
                                     &a->reactive_forward, &a->reactive_reverse};
    const readings_energy_t *eb[] = {&b->active_total,     &b->active_forward,
                                     &b->active_reverse,   &b->reactive_total,
                                     &b->reactive_forward, &b->reactive_reverse};
    for (int r = 0; r < 6; r++) {
        note(&st[S_REG], ea[r]->total, eb[r]->total, REG_FLOOR_KWH, nz->energy, t);
        for (int j = 0; j < 4; j++)
            note(&st[S_REG], ea[r]->tariff[j], eb[r]->tariff[j], REG_FLOOR_KWH, nz->energy, t);
        for (int j = 0; j < 3; j++)
            note(&st[S_REG], ea[r]->phase[j], eb[r]->phase[j], REG_FLOOR_KWH, nz->energy, t);
    }
    for (int q = 0; q < 4; q++)
        for (int j = 0; j < 5; j++)
            note(&st[S_REG], a->reactive_quadrant[q][j], b->reactive_quadrant[q][j], REG_FLOOR_KWH,
                 nz->energy, t);
    note(&st[S_REG], a->resettable, b->resettable, REG_FLOOR_KWH, nz->energy, t);
    for (int k = 0; k < 3; k++) {
        double sk = fmax(a->s[k], b->s[k]);
        double spf = sk > 0.0 ? (sp[k] + fabs(a->pf[k]) * ss[k]) / sk : 0.0;
        note(&st[S_U], a->voltage[k], b->voltage[k], 0.01 * st[S_U].tol, nz->sv * rn, t);
        note(&st[S_I], a->current[k], b->current[k], 0.001 * st[S_I].tol, nz->si * rn, t);
        note(&st[S_P], a->p[k], b->p[k], sk * st[S_P].tol + 1e-9, sp[k], t);
        note(&st[S_Q], a->q[k], b->q[k], sk * st[S_Q].tol + 1e-9, sp[k], t);
        note(&st[S_S], a->s[k], b->s[k], 1e-9, ss[k], t);
        note(&st[S_PF], a->pf[k], b->pf[k], st[S_PF].tol, spf, t);
        note(&st[S_ULL], a->voltage_ll[k], b->voltage_ll[k], 0.01 * st[S_ULL].tol, nz->sv * rn, t);
    }
    double st_ = fmax(a->s_total, b->s_total);
    double spt = sqrt(sp2), sst = sqrt(ss2) + sqrt(sp2); /* Aron: S from P and Q */
    note(&st[S_F], a->frequency, b->frequency, 1e-9, 0.0, t);
    note(&st[S_PT], a->p_total, b->p_total, st_ * st[S_PT].tol + 1e-9, spt, t);
    note(&st[S_QT], a->q_total, b->q_total, st_ * st[S_QT].tol + 1e-9, spt, t);
    note(&st[S_ST], a->s_total, b->s_total, 1e-9, sst, t);
    note(&st[S_PFT], a->pf_total, b->pf_total, st[S_PFT].tol,
         st_ > 0.0 ? (spt + fabs(a->pf_total) * sst) / st_ : 0.0, t);
}

static bool same_bits(const readings_t *a, const readings_t *b)
{
    readings_t x = *a, y = *b;
    /* Only the measured values and registers; identity strings have padding. */
    return memcmp(x.voltage, y.voltage, sizeof x.voltage) == 0 &&
           memcmp(x.current, y.current, sizeof x.current) == 0 &&
           memcmp(x.p, y.p, sizeof x.p) == 0 && memcmp(x.q, y.q, sizeof x.q) == 0 &&
           memcmp(x.voltage_ll, y.voltage_ll, sizeof x.voltage_ll) == 0 &&
           x.frequency == y.frequency && x.p_total == y.p_total && x.q_total == y.q_total &&
           x.active_total.total == y.active_total.total &&
           x.reactive_total.total == y.reactive_total.total &&
           memcmp(x.active_forward.phase, y.active_forward.phase, sizeof x.active_forward.phase) ==
               0 &&
           memcmp(x.reactive_quadrant, y.reactive_quadrant, sizeof x.reactive_quadrant) == 0 &&
           memcmp(x.pulses, y.pulses, sizeof x.pulses) == 0;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    uint64_t until = 0;
    double reg_tol = 1e-6, val_tol = 1e-5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--until") == 0 && i + 1 < argc) {
            if (!duration_parse(argv[++i], &until) || until == 0) {
                fprintf(stderr, "fidelity_agree: --until %s: expected a duration\n", argv[i]);
                return 2;
            }
        } else if ((strcmp(argv[i], "--reg") == 0 || strcmp(argv[i], "--val") == 0) &&
                   i + 1 < argc) {
            double *t = argv[i][2] == 'r' ? &reg_tol : &val_tol;
            char *end;
            *t = strtod(argv[i + 1], &end);
            if (*end || !(*t > 0)) {
                fprintf(stderr, "fidelity_agree: %s %s: expected a positive number\n", argv[i],
                        argv[i + 1]);
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--sigmas") == 0 && i + 1 < argc) {
            g_k = atof(argv[++i]);
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            fprintf(stderr, "usage: fidelity_agree SCENARIO [--until D] [--reg TOL] [--val TOL]\n");
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: fidelity_agree SCENARIO [--until D] [--reg TOL] [--val TOL]\n");
        return 2;
    }
    static scenario_t sc;
    char err[1024];
    if (!scenario_load(file, &sc, err, sizeof err)) {
        fprintf(stderr, "fidelity_agree: %s\n", err);
        return 2;
    }
    if (!until)
        until = sc.duration;
    if (!until && sc.n_events)
        until = sc.events[sc.n_events - 1].at_tick;
    const scenario_meter_t *sm = &sc.meters[0];
    scenario_grid_t grid = sc.grid;
    scenario_load_t load = sc.load[0];
    bool supply = true;
    static side_t side[3];
    for (int s = 0; s < 3; s++) {
        side_t *x = &side[s];
        x->mode = s;
        x->rng = 12345;
        wave_desc_t d;
        scenario_wave(&grid, &load, sc.seed, 0, &d);
        wave_init(&x->w, &d);
        describe(x, &d, 0, true);
        meter_desc_t md = {.model = sm->model,
                           .serial = sm->serial,
                           .connection = sm->connection,
                           .settings = &sm->settings,
                           .in_service = true};
        meter_init(&x->m, &md);
    }
    stat_t st[S_N] = {
        {"energy registers", 0, 0, reg_tol, 0},
        {"U", 0, 0, val_tol, 0},
        {"I", 0, 0, val_tol, 0},
        {"P", 0, 0, val_tol, 0},
        {"Q", 0, 0, val_tol, 0},
        {"S", 0, 0, val_tol, 0},
        {"PF", 0, 0, val_tol, 0},
        {"f", 0, 0, val_tol, 0},
        {"U_LL", 0, 0, val_tol, 0},
        {"P total", 0, 0, val_tol, 0},
        {"Q total", 0, 0, val_tol, 0},
        {"S total", 0, 0, val_tol, 0},
        {"PF total", 0, 0, val_tol, 0},
    };
    static readings_t last[2];
    noise_t nz = {0};
    double pn_max = 0.0;
    size_t next_event = 0;
    uint64_t tick = 0;
    bool twins = true;
    double twin_at = -1;
    while (tick < until) {
        bool changed = false;
        while (next_event < sc.n_events && sc.events[next_event].at_tick <= tick) {
            const scenario_event_t *ev = &sc.events[next_event++];
            if (ev->meter > 0)
                continue;
            switch (ev->kind) {
            case SCENARIO_EV_GRID:
                grid = ev->u.grid;
                changed = true;
                break;
            case SCENARIO_EV_LOAD:
                load = ev->u.load;
                changed = true;
                break;
            case SCENARIO_EV_SUPPLY:
                supply = ev->u.on;
                changed = true;
                break;
            case SCENARIO_EV_TARIFF_INPUT:
                for (int s = 0; s < 3; s++)
                    meter_set_tariff_input(&side[s].m, ev->u.on);
                break;
            default:
                break;
            }
        }
        if (changed || tick % VTIME_SAMPLE_RATE == 0) {
            wave_desc_t d;
            scenario_wave(&grid, &load, sc.seed, tick, &d);
            nz.sv = M_SQRT2 * d.noise_v;
            nz.si = d.noise_i;
            /* The variance of one tick's u*i from the noise, at the largest
             * grid so far (the RMS with harmonics below 1.2 x the fundamental). */
            double pn = 0.0;
            for (int k = 0; k < 3; k++) {
                double u = 1.2 * d.phase[k].voltage, i = 1.2 * d.phase[k].current;
                pn += u * u * nz.si * nz.si + i * i * nz.sv * nz.sv;
            }
            if (pn > pn_max)
                pn_max = pn;
            if (!supply)
                for (int p = 0; p < 3; p++)
                    d.phase[p].voltage = d.phase[p].current = 0.0;
            bool on = false;
            for (int p = 0; p < 3; p++)
                on = on || d.phase[p].voltage >= METER_SUPPLY_MIN_V;
            for (int s = 0; s < 3; s++) {
                wave_set(&side[s].w, &d);
                describe(&side[s], &d, tick, false);
                if (meter_supply(&side[s].m) != on)
                    meter_set_supply(&side[s].m, on);
            }
        }
        uint64_t stop = (tick / VTIME_SAMPLE_RATE + 1) * VTIME_SAMPLE_RATE;
        if (next_event < sc.n_events && sc.events[next_event].at_tick < stop)
            stop = sc.events[next_event].at_tick;
        if (stop > until)
            stop = until;
        for (int s = 0; s < 3; s++)
            advance(&side[s], stop - tick);
        tick = stop;
        if (tick % VTIME_SAMPLE_RATE == 0) {
            readings_t r[3];
            for (int s = 0; s < 3; s++)
                meter_readings(&side[s].m, &r[s]);
            double t = (double)tick / VTIME_SAMPLE_RATE;
            /* The registers' own noise: a random walk of the ticks so far. */
            nz.energy = sqrt(pn_max * (double)tick) / VTIME_SAMPLE_RATE / 3.6e6;
            compare(st, &r[0], &r[1], &nz, t);
            last[0] = r[0];
            last[1] = r[1];
            if (twins && !same_bits(&r[1], &r[2])) {
                twins = false;
                twin_at = t;
            }
        }
    }
    int bad = 0;
    printf("fidelity_agree %s, %.0f s: largest relative difference, sample vs auto\n", file,
           (double)until / VTIME_SAMPLE_RATE);
    for (int i = 0; i < S_N; i++) {
        bool ok = st[i].ratio <= 1.0;
        bad += !ok;
        printf("  %-18s %.3g (at %.0f s; tolerance %g + %g sigma of noise: %.2f of it)%s\n",
               st[i].name, st[i].worst, st[i].at, st[i].tol, g_k, st[i].ratio,
               ok ? "" : "  FAILED");
    }
    /* The registers at the end, where the noise's random walk is smallest
     * against them. */
    stat_t end = {"registers at the end", 0, 0, reg_tol, 0};
    const readings_energy_t *ea[] = {&last[0].active_total, &last[0].active_forward,
                                     &last[0].reactive_total, &last[0].reactive_forward};
    const readings_energy_t *eb[] = {&last[1].active_total, &last[1].active_forward,
                                     &last[1].reactive_total, &last[1].reactive_forward};
    for (int r = 0; r < 4; r++) {
        note(&end, ea[r]->total, eb[r]->total, REG_FLOOR_KWH, 0.0, 0);
        for (int j = 0; j < 4; j++)
            note(&end, ea[r]->tariff[j], eb[r]->tariff[j], REG_FLOOR_KWH, 0.0, 0);
        for (int j = 0; j < 3; j++)
            note(&end, ea[r]->phase[j], eb[r]->phase[j], REG_FLOOR_KWH, 0.0, 0);
    }
    printf("  %-18s %.3g (active and reactive, totals, tariffs, phases; %.6f vs %.6f kWh)\n",
           end.name, end.worst, last[0].active_total.total, last[1].active_total.total);
    printf("  auto in odd chunks: %s", twins ? "bit-identical\n" : "DIFFERS");
    if (!twins)
        printf(" (first at %.0f s)\n", twin_at);
    scenario_free(&sc);
    return bad || !twins ? 1 : 0;
}
