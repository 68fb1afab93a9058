/* libFuzzer target for the scenario loader (sim/scenario/, docs/scenario.md).
 *
 * Each input is written as a scenario file into a folder of its own (made
 * once per process) and loaded with scenario_load(): the whole path a user's
 * file takes, opening, the JSON, every field, the timeline, templates. A CSV
 * profile may name "p.csv" in that folder: the harness writes one there, so
 * the CSV reader is reached too.
 * Checked: a load either succeeds with a scenario whose counts lie within the
 * documented bounds, or fails with a message that names the file; never a
 * crash, a leak or undefined behaviour (ASan, UBSan, LeakSanitizer).
 *
 * Build: see tests/fuzz/test_fuzz_scenario.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

static char dir[64];
static char file[96];

static char csv[96];

/* The folder goes when the fuzzer ends (libFuzzer exits through exit()). */
static void cleanup(void)
{
    unlink(file);
    unlink(csv);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", "/tmp/fuzz_scenario.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(file, sizeof file, "%s/s.json", dir);
    snprintf(csv, sizeof csv, "%s/p.csv", dir);
    atexit(cleanup);
    FILE *f = fopen(csv, "w");
    if (!f)
        abort();
    fputs("time,L1,L2\n0,1.5,230\n1m,2.5,231\n2m,3,229\n", f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    FILE *f = fopen(file, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    scenario_t sc;
    char err[1024] = "";
    if (scenario_load(file, &sc, err, sizeof err)) {
        if (sc.n_meters < 1 || sc.n_meters > SCENARIO_MAX_METERS || sc.n_buses < 1 ||
            sc.n_buses > SCENARIO_MAX_BUSES || sc.n_events > SCENARIO_MAX_EVENTS)
            abort();
        scenario_free(&sc);
    } else if (!err[0] || !strstr(err, "s.json")) {
        abort(); /* every refusal names the file */
    }
    return 0;
}
