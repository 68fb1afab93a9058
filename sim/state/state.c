/* state: the meters' memory files of a run (see state.h). */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double total_kwh(const meter_t *m)
{
    readings_t r;
    meter_readings(m, &r);
    return r.active_total.total;
}

void state_init(state_t *s, const char *path)
{
    s->path = path;
    s->failed = false;
    s->n = 0;
    s->m = NULL;
}

static void state_path(const state_t *s, const scenario_t *sc, int k, char *buf, size_t cap)
{
    if (sc->n_meters > 1)
        snprintf(buf, cap, "%s.%s", s->path, sc->meters[k].name);
    else
        snprintf(buf, cap, "%s", s->path);
}

int state_load_all(state_t *s, const scenario_t *sc, meter_t *meters)
{
    if (!s->path)
        return 0;
    s->m = calloc((size_t)sc->n_meters, sizeof *s->m);
    if (!s->m)
        return 3;
    for (int k = 0; k < sc->n_meters; k++)
        s->m[k].file.fd = -1;
    s->n = sc->n_meters;
    for (int k = 0; k < sc->n_meters; k++) {
        char path[600], msg[1024];
        state_path(s, sc, k, path, sizeof path);
        statefile_status_t st = statefile_open(&s->m[k].file, path, &meters[k], msg, sizeof msg);
        if (msg[0])
            fprintf(stderr, "metersim: %s\n", msg);
        if (st == STATEFILE_REFUSED || st == STATEFILE_BUSY)
            return 2;
        meter_saved(&meters[k]); /* what was just loaded is on disk */
        s->m[k].durable_ns = meter_now_ns(&meters[k]);
        s->m[k].durable_kwh = total_kwh(&meters[k]);
    }
    return 0;
}

bool state_start(state_t *s, const scenario_t *sc, meter_t *meters)
{
    (void)sc;
    for (int k = 0; k < s->n; k++) {
        state_meter_t *sm = &s->m[k];
        if (meter_error(&meters[k]))
            continue; /* stopped on its memory (7.1): the file stays as it is */
        char err[2048];
        if (!statefile_map(&sm->file, &meters[k], err, sizeof err)) {
            fprintf(stderr, "metersim: %s; nothing ran\n", err);
            return false;
        }
        /* Loading was a power-up: a kill before it counts as a power-down
         * (nvm_load), and that count must be on the disk before anything
         * else happens, or the next kill would count it again. */
        statefile_write(&sm->file, &meters[k]);
        if (!statefile_sync(&sm->file, err, sizeof err)) {
            fprintf(stderr, "metersim: %s; nothing ran\n", err);
            return false;
        }
        sm->mapped = true;
        sm->gen = meter_memory_generation(&meters[k]);
    }
    return true;
}

/* "HH:MM:SS.mmm" of meter time. */
static void fmt_time(uint64_t ns, char *buf, size_t cap)
{
    uint64_t ms = ns / 1000000u, s = ms / 1000;
    snprintf(buf, cap, "%02llu:%02llu:%02llu.%03llu", (unsigned long long)(s / 3600),
             (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60),
             (unsigned long long)(ms % 1000));
}

/* What a failed save leaves unsaved, in words. */
static void give_up(state_t *s, state_meter_t *sm, const meter_t *m)
{
    char since[32];
    fmt_time(sm->durable_ns, since, sizeof since);
    fprintf(stderr,
            "metersim: %s; stopping after %d tries in %.0f s. Not saved: the meter's memory "
            "since %s of simulated time (the last save that reached the disk, at %.6f kWh of "
            "total active energy; %.6f kWh now), with every setting and counter changed since "
            "then\n",
            sm->why, sm->tries, STATE_GRACE_S, since, sm->durable_kwh, total_kwh(m));
    s->failed = true;
}

/* Makes meter k's file durable; a file gone from its path is put back. */
static bool sync_now(state_meter_t *sm, const meter_t *m)
{
    bool ok = statefile_sync(&sm->file, sm->why, sizeof sm->why);
    if (!ok && sm->file.gone && statefile_restore(&sm->file, m, sm->why, sizeof sm->why) &&
        statefile_sync(&sm->file, sm->why, sizeof sm->why)) {
        fprintf(stderr, "metersim: state file %s was gone: put back, whole\n", sm->file.path);
        ok = true;
    }
    if (ok) {
        sm->durable_ns = meter_now_ns(m);
        sm->durable_kwh = total_kwh(m);
    }
    return ok;
}

static void copy_if_changed(state_meter_t *sm, const meter_t *m)
{
    uint32_t g = meter_memory_generation(m);
    if (g != sm->gen) {
        statefile_write(&sm->file, m);
        sm->gen = g;
    }
}

/* A durable save of meter k: now, or, while failing, at the next retry. */
static bool durable(state_t *s, state_meter_t *sm, const meter_t *m)
{
    double now = wall_now();
    if (sm->failing) {
        if (now - sm->last_try < STATE_RETRY_S)
            goto grace;
        sm->last_try = now;
        sm->tries++;
        if (sync_now(sm, m)) {
            sm->failing = false;
            fprintf(stderr, "metersim: state file %s: saved again\n", sm->file.path);
            return true;
        }
        goto grace;
    }
    if (sync_now(sm, m))
        return true;
    sm->failing = true;
    sm->tries = 1;
    sm->failing_since = sm->last_try = now;
    fprintf(stderr, "metersim: %s; retrying for %.0f s\n", sm->why, STATE_GRACE_S);
grace:
    if (now - sm->failing_since < STATE_GRACE_S)
        return true;
    if (!s->failed)
        give_up(s, sm, m);
    return false;
}

bool state_step(state_t *s, const scenario_t *sc, meter_t *meters, bool copy)
{
    (void)sc;
    bool ok = true;
    for (int k = 0; k < s->n; k++) {
        state_meter_t *sm = &s->m[k];
        meter_t *m = &meters[k];
        if (!sm->mapped || meter_error(m))
            continue;
        bool due = meter_save_due(m);
        if (copy || due)
            copy_if_changed(sm, m);
        if (due || sm->failing) {
            meter_saved(m);
            ok &= durable(s, sm, m);
        }
    }
    return ok;
}

void state_save(state_t *s, const scenario_t *sc, meter_t *meters, int k)
{
    (void)sc;
    if (k >= s->n)
        return;
    state_meter_t *sm = &s->m[k];
    meter_t *m = &meters[k];
    meter_saved(m);
    if (!sm->mapped || meter_error(m))
        return;
    copy_if_changed(sm, m);
    durable(s, sm, m);
}

void state_finish(state_t *s, const scenario_t *sc, meter_t *meters)
{
    (void)sc;
    for (int k = 0; k < s->n; k++) {
        state_meter_t *sm = &s->m[k];
        meter_t *m = &meters[k];
        meter_saved(m);
        if (!sm->mapped || meter_error(m))
            continue;
        copy_if_changed(sm, m);
        if (!sync_now(sm, m) && !s->failed)
            give_up(s, sm, m);
    }
}

void state_close(state_t *s)
{
    for (int k = 0; k < s->n; k++)
        statefile_close(&s->m[k].file);
    free(s->m);
    s->m = NULL;
    s->n = 0;
}
