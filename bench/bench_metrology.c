/* Benchmark (issue 2): simulated seconds per wall-clock second for one 3P4W
 * meter at 8 kHz, headless, every measurement on; and, in the same run, the
 * ceiling: a bare kernel that only synthesises the three phases (fundamental
 * and two harmonics) and accumulates v^2, i^2, v*i and the quarter-period-
 * delayed v*i per phase. The twin's speed is printed as a ratio of it.
 *
 * Usage: bench_metrology [simulated seconds, default 600]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "meter.h"
#include "waveform.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static wave_desc_t bench_wave(void)
{
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 25.0);
    for (int k = 0; k < 3; k++) {
        d.phase[k].vh[0] = (wave_harmonic_t){3, 2.0, 0.0};
        d.phase[k].vh[1] = (wave_harmonic_t){5, 1.0, 0.0};
        d.phase[k].ih[0] = (wave_harmonic_t){3, 20.0, 0.0};
        d.phase[k].ih[1] = (wave_harmonic_t){5, 10.0, 0.0};
        d.phase[k].n_vh = d.phase[k].n_ih = 2;
    }
    return d;
}

/* The twin: waveform synthesis + the whole meter. */
static double run_twin(uint64_t seconds, double *energy)
{
    static meter_t m;
    static metrology_sample_t buf[800];
    wave_desc_t d = bench_wave();
    wave_t w;
    wave_init(&w, &d);
    meter_init(&m, &(meter_desc_t){0});
    double t0 = now();
    for (uint64_t i = 0; i < seconds * 10; i++) {
        wave_fill(&w, buf, 800);
        meter_exec(&m, buf, 800);
    }
    double dt = now() - t0;
    readings_t r;
    meter_readings(&m, &r);
    *energy = r.active_forward.total;
    return dt;
}

/* The ceiling: rotors for 3 components per signal, a 40-tick delay line
 * (T/4 at 50 Hz), four sums per phase, nothing else. */
static double run_kernel(uint64_t seconds, double *sink)
{
    const double w1 = 2 * M_PI * 50.0 / 8000.0;
    const double orders[3] = {1, 3, 5}, va[3] = {1, 0.02, 0.01}, ia[3] = {1, 0.2, 0.1};
    double rot[3][2], step[3][2];
    for (int h = 0; h < 3; h++) {
        rot[h][0] = 1.0;
        rot[h][1] = 0.0;
        step[h][0] = cos(orders[h] * w1);
        step[h][1] = sin(orders[h] * w1);
    }
    double cv[3][3][2], ci[3][3][2]; /* [phase][component] complex amplitude */
    for (int k = 0; k < 3; k++)
        for (int h = 0; h < 3; h++) {
            double th = -2 * M_PI / 3 * k * orders[h];
            cv[k][h][0] = 325.0 * va[h] * cos(th);
            cv[k][h][1] = 325.0 * va[h] * sin(th);
            ci[k][h][0] = 14.1 * ia[h] * cos(th - 0.4);
            ci[k][h][1] = 14.1 * ia[h] * sin(th - 0.4);
        }
    double ring[3][64] = {{0}};
    double acc[3][4] = {{0}};
    unsigned pos = 0;
    double t0 = now();
    uint64_t ticks = seconds * 8000;
    for (uint64_t n = 0; n < ticks; n++) {
        for (int k = 0; k < 3; k++) {
            double v = 0, i = 0;
            for (int h = 0; h < 3; h++) {
                v += cv[k][h][0] * rot[h][1] + cv[k][h][1] * rot[h][0];
                i += ci[k][h][0] * rot[h][1] + ci[k][h][1] * rot[h][0];
            }
            double vd = ring[k][(pos - 40u) & 63u];
            ring[k][pos & 63u] = v;
            acc[k][0] += v * v;
            acc[k][1] += i * i;
            acc[k][2] += v * i;
            acc[k][3] += vd * i;
        }
        pos++;
        for (int h = 0; h < 3; h++) {
            double re = rot[h][0] * step[h][0] - rot[h][1] * step[h][1];
            rot[h][1] = rot[h][0] * step[h][1] + rot[h][1] * step[h][0];
            rot[h][0] = re;
        }
    }
    double dt = now() - t0;
    *sink = acc[0][0] + acc[1][1] + acc[2][2] + acc[0][3];
    return dt;
}

int main(int argc, char **argv)
{
    uint64_t seconds = argc > 1 ? strtoull(argv[1], NULL, 10) : 600;
    double energy, sink;
    double t_twin = run_twin(seconds, &energy);
    double t_kernel = run_kernel(seconds, &sink);
    double x_twin = seconds / t_twin, x_kernel = seconds / t_kernel;
    printf("metrology: %llu simulated s, 3P4W, 8 kHz, fundamental + 2 harmonics\n",
           (unsigned long long)seconds);
    printf("  twin (waveform + meter):  %8.3f s wall  %8.0f x real time  (%.3f kWh)\n", t_twin,
           x_twin, energy);
    printf("  bare kernel (ceiling):    %8.3f s wall  %8.0f x real time  (sink %.3g)\n", t_kernel,
           x_kernel, sink);
    printf("  twin / ceiling:           %8.3f\n", x_twin / x_kernel);
    printf("  a simulated day takes     %8.1f s\n", 86400.0 / x_twin);
    return 0;
}
