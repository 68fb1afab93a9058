/* check: validate scenarios without running them (check.h). */
#include "check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "share.h"

#define CHECK_INVALID 2

int check_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--check") == 0)
            return 1;
    return 0;
}

/* One file: true when valid. Every error is printed, each on its own line,
 * as the loader words it (the same text a run prints, without the
 * "metersim: " in front, so an editor can jump to FILE:LINE:COL). */
static bool check_one(const char *file, const scenario_opts_t *so)
{
    /* Room for SCENARIO_MAX_ERRORS messages and the count of the others. */
    size_t cap = (SCENARIO_MAX_ERRORS + 2) * 1024;
    char *err = malloc(cap);
    if (!err) {
        fprintf(stderr, "metersim: --check %s: out of memory\n", file);
        return false;
    }
    err[0] = '\0';
    /* A library name, as --scenario takes one (share.h). */
    char path[SHARE_PATH_MAX];
    share_t sh;
    if (share_is_library_name(file)) {
        if (!share_find(&sh, err, cap) || !share_scenario(&sh, file, path, sizeof path, err, cap)) {
            fprintf(stderr, "metersim: --check %s: %s\n", file, err);
            free(err);
            return false;
        }
        file = path;
    }
    scenario_t sc;
    bool ok = scenario_load_opts(file, so, &sc, err, cap);
    if (ok) {
        size_t n_events = sc.n_events;
        printf("%s: ok: %d meter%s on %d bus%s, %zu event%s\n", file, sc.n_meters,
               sc.n_meters == 1 ? "" : "s", sc.n_buses, sc.n_buses == 1 ? "" : "es", n_events,
               n_events == 1 ? "" : "s");
        scenario_free(&sc);
    } else {
        fprintf(stderr, "%s\n", err);
    }
    free(err);
    return ok;
}

int check_main(int argc, char **argv)
{
    scenario_opts_t so = {.all_errors = true};
    const char **files = calloc((size_t)argc, sizeof *files);
    int n = 0;
    if (!files) {
        fprintf(stderr, "metersim: --check: out of memory\n");
        return CHECK_INVALID;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--check") == 0) {
            continue;
        } else if (strcmp(a, "--allow-outside-paths") == 0) {
            so.allow_outside_paths = true;
        } else if (strcmp(a, "--scenario") == 0 && i + 1 < argc) {
            files[n++] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr,
                    "metersim: --check %s: --check takes scenario files (and "
                    "--allow-outside-paths) and runs nothing (see --help)\n",
                    a);
            free(files);
            return CHECK_INVALID;
        } else {
            files[n++] = a;
        }
    }
    if (n == 0) {
        fprintf(stderr, "metersim: --check needs one or more scenario files (see --help)\n");
        free(files);
        return CHECK_INVALID;
    }
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += !check_one(files[i], &so);
    fflush(stdout);
    if (bad && n > 1)
        fprintf(stderr, "metersim: --check: %d of %d scenarios invalid\n", bad, n);
    free(files);
    return bad ? CHECK_INVALID : 0;
}
