/* state: the meters' memory files of a run (see state.h). */
#include "state.h"

#include <stdio.h>

#include "statefile.h"

void state_init(state_t *s, const char *path)
{
    s->path = path;
    s->failed = false;
}

static void state_path(const state_t *s, const scenario_t *sc, int k, char *buf, size_t cap)
{
    if (sc->n_meters > 1)
        snprintf(buf, cap, "%s.%s", s->path, sc->meters[k].name);
    else
        snprintf(buf, cap, "%s", s->path);
}

bool state_load_all(state_t *s, const scenario_t *sc, meter_t *meters)
{
    if (!s->path)
        return true;
    for (int k = 0; k < sc->n_meters; k++) {
        char path[600], msg[1024];
        state_path(s, sc, k, path, sizeof path);
        statefile_status_t st = statefile_load(path, &meters[k], msg, sizeof msg);
        if (msg[0])
            fprintf(stderr, "metersim: %s\n", msg);
        if (st == STATEFILE_REFUSED)
            return false;
        meter_saved(&meters[k]); /* what was just loaded is on disk */
    }
    return true;
}

void state_save(state_t *s, const scenario_t *sc, meter_t *meters, int k)
{
    meter_t *m = &meters[k];
    meter_saved(m);
    if (!s->path || meter_error(m))
        return;
    char path[600], err[512];
    state_path(s, sc, k, path, sizeof path);
    if (!statefile_save(path, m, err, sizeof err)) {
        fprintf(stderr, "metersim: %s\n", err);
        s->failed = true;
    }
}

void state_save_due(state_t *s, const scenario_t *sc, meter_t *meters)
{
    for (int k = 0; k < sc->n_meters; k++)
        if (meter_save_due(&meters[k]))
            state_save(s, sc, meters, k);
}
