/* energy: a meter from libmetercore, driven by a host of your own.
 *
 * The smallest harness that links the same meter model as metersim: it
 * computes a balanced three-phase grid itself (the same sine waves the twin
 * synthesises, waveform.h), feeds them through the facade (core/meter.h) at
 * 8 kHz, and prints the energy the meter registered. Build it against an
 * installed library:
 *
 *   cc -o energy examples/energy.c $(pkg-config --cflags --libs metercore) -lm
 *   ./energy 60 230 10      # seconds, volts, amps (PF 1): 6.9 kW for 60 s
 *
 * Output, one line:  seconds volts amps P_kW E_total_kWh
 * E_total_kWh is the active energy register (0x6000, A3.2). A meter adds a
 * mains cycle's energy when the cycle closes, so the register lags P*t by
 * the cycle in progress, at most one period (20 ms at 50 Hz).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <metercore/meter.h>

#define FREQUENCY_HZ 50.0
#define PI 3.14159265358979323846 /* strict C11 has no PI */
#define SQRT2 1.41421356237309504880
#define BLOCK 800 /* samples a call: 100 ms; the result does not depend on it */

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 60.0;
    double volts = argc > 2 ? atof(argv[2]) : 230.0;
    double amps = argc > 3 ? atof(argv[3]) : 10.0;
    if (!(seconds > 0.0) || !(volts > 0.0) || !(amps >= 0.0) || seconds > 1e6) {
        fprintf(stderr, "usage: energy [SECONDS [VOLTS [AMPS]]] (positive numbers)\n");
        return 2;
    }

    /* Zero fields are defaults: a 4PU on 3P4W with factory settings. In
     * service at time 0, as a scenario's meter is (no boot). */
    static meter_t m; /* large: not on the stack */
    meter_init(&m, &(meter_desc_t){.serial = "13070001", .in_service = true});

    /* Phases at 0, -120, +120 degrees; current in phase with voltage (PF 1). */
    const double position[3] = {0.0, -2.0 * PI / 3.0, 2.0 * PI / 3.0};
    uint64_t total = (uint64_t)llround(seconds * VTIME_SAMPLE_RATE);
    metrology_sample_t s[BLOCK];
    for (uint64_t tick = 0; tick < total;) {
        size_t n = total - tick < BLOCK ? (size_t)(total - tick) : BLOCK;
        for (size_t k = 0; k < n; k++) {
            double a = 2.0 * PI * FREQUENCY_HZ * (double)(tick + k) / VTIME_SAMPLE_RATE;
            for (int p = 0; p < 3; p++) {
                s[k].v[p] = SQRT2 * volts * sin(a + position[p]);
                s[k].i[p] = SQRT2 * amps * sin(a + position[p]);
            }
        }
        meter_exec(&m, s, n);
        tick += n;
    }

    readings_t r;
    meter_readings(&m, &r);
    printf("%g %g %g %.6f %.9f\n", seconds, volts, amps, r.p_total, r.active_total.total);
    return 0;
}
