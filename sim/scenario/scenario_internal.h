/* scenario_internal: what the parts of the scenario reader share.
 *
 *   scenario.c          the format's top level, meters, grid, load, timeline
 *   scenario_check.c    checked reading of JSON values, with the path and the
 *                       file:line:col of every mistake
 *   scenario_profile.c  time-varying quantities: steps, ramps, daily, CSV;
 *                       a fleet's per-meter variation ("vary")
 *   scenario_xfer.c     the scenario as Modbus and M-Bus master
 *   scenario_timeline.c the timeline, event by event
 *
 * Not for other modules: they use scenario.h.
 */
#ifndef METERSIM_SCENARIO_INTERNAL_H
#define METERSIM_SCENARIO_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "jsontext.h"
#include "scenario.h"

typedef struct {
    const char *file;
    const char *text;
    size_t len;
    char dir[256];      /* the scenario's folder, for relative CSV paths */
    char root[4096];    /* ... resolved (realpath): CSV files must lie under it */
    bool allow_outside; /* --allow-outside-paths */
    scenario_t *sc;
    char *err;
    size_t errlen;
    /* --check: every error found, one a line in err, not only the first;
     * the reader goes on after a bad part where the parts after it do not
     * depend on it (scn_go_on). */
    bool collect;
    int n_errors;    /* errors found; those past SCN_MAX_ERRORS only counted */
    size_t err_used; /* bytes of err in use */
    char path[256];
    bool failed;
    uint64_t now;   /* the time of the event being parsed */
    ino_t self_ino; /* the scenario file, so a CSV cannot be the file itself */
    dev_t self_dev;
    size_t events_cap; /* sc->events grows as the timeline expands */
    size_t meters_cap; /* sc->meters and sc->load grow as meters are read */
    int *names;        /* meter names: an open-addressing table of index + 1 */
    double *vary_hi;   /* per meter: the largest factor "vary" may draw; 0: none */
    size_t scaled;     /* profile values copied by "vary", against SCN_MAX_SCALED */
    /* Profiles already read for the event being parsed: a load change for
     * every meter reads each profile (and its CSV file) once. */
    struct scn_cached {
        const cJSON *node;
        uint64_t now;
        double min, max;
        profile_t p;
    } cache[16];
    int n_cache;
    jsontext_t jt; /* how each number was written, for the integer fields */
} scn_ctx_t;

/* The table of meter names is sized for every meter a scenario may hold. */
#define SCN_NAMES_CAP 32768
/* At most this many profile values copied to scale currents per meter. */
#define SCN_MAX_SCALED (1u << 25)

/* Opens a scenario or CSV file without blocking; refuses anything but a
 * regular file of at most SCENARIO_MAX_BYTES, saying why in `why` (never
 * with the file's content). scenario_open.c */
FILE *scn_open_file(const char *path, struct stat *st, char *why, size_t whylen);
/* Resolves `path` (realpath) into `real`; false, saying why, when it cannot
 * be resolved or lies outside c->root (unless c->allow_outside). */
bool scn_resolve_inside(const scn_ctx_t *c, const char *path, char *real, size_t cap, char *why,
                        size_t whylen);

/* Sets the error (the first one only) with file:line:col and the path; when
 * collecting (c->collect), appends it as a line of its own. */
bool scn_fail(scn_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* At a point where the reader can go on after an error in the part before
 * it: true when it may (no error, or collecting: the error is kept and the
 * reader goes on), false when it must stop. */
bool scn_go_on(scn_ctx_t *c);
#define SCN_MAX_ERRORS SCENARIO_MAX_ERRORS
/* Appends ".key" (or "[index]" when key is NULL) to the path; pop() restores it. */
size_t scn_push(scn_ctx_t *c, const char *key, int index);
void scn_pop(scn_ctx_t *c, size_t n);
/* An array that lives as long as the scenario. */
double *scn_keep(scn_ctx_t *c, size_t n);
/* Refuses keys the format does not know, so a typo never passes silently. */
bool scn_known_keys(scn_ctx_t *c, const cJSON *obj, const char *const *keys);
bool scn_check_number(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                      double *out);
/* A number meant as an integer: written as one (digits, no fraction, no
 * exponent: 2.5, 1.0 and 1e3 are refused; docs/decisions.md), within range. */
bool scn_check_int(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                   double *out);
bool scn_get_int(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                 const char *unit, double *out);
/* Each get_ leaves *out alone when the key is absent, and is false on an error. */
bool scn_get_number(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                    const char *unit, double *out);
bool scn_get_choice(scn_ctx_t *c, const cJSON *obj, const char *key, const char *const *names,
                    int *out);
bool scn_get_object(scn_ctx_t *c, const cJSON *obj, const char *key, const cJSON **out);
bool scn_get_duration(scn_ctx_t *c, const cJSON *v, uint64_t *ticks);
bool scn_get_hex(scn_ctx_t *c, const cJSON *o, const char *key, uint8_t *out, size_t cap,
                 size_t *n);

/* A number, or a profile {"steps"|"ramp"|"daily"|"csv"} starting at c->now. */
bool scn_parse_profile(scn_ctx_t *c, const cJSON *v, double min, double max, const char *unit,
                       profile_t *out);

/* The same under `key` of `obj`; *out is left alone when the key is absent. */
bool scn_get_profile(scn_ctx_t *c, const cJSON *obj, const char *key, double min, double max,
                     const char *unit, profile_t *out);

/* A template's "vary": {"current": [lo, hi], "pf": [lo, hi]}. */
typedef struct {
    bool current, pf;
    double lo, hi;       /* the factor on the meters' currents */
    double pf_lo, pf_hi; /* their power factor */
} scn_vary_t;

bool scn_parse_vary(scn_ctx_t *c, const cJSON *v, scn_vary_t *out);
/* A current times up to `hi` stays within Imax (refused otherwise, naming
 * `who` and the phase): a fleet's validity never depends on the seed. */
bool scn_check_scaled(scn_ctx_t *c, const profile_t *current, int phase, double hi,
                      const char *who);
/* Every current of `load` times `hi` within the Imax of `model` (variant.h):
 * a 2PCT takes 6 A at its terminals, a direct meter 65 A. `who` starts the
 * message (a meter's name in a timeline event, or ""). */
bool scn_check_imax(scn_ctx_t *c, meter_model_t model, const scenario_load_t *load, double hi,
                    const char *who);
/* Meter k (its load `base` before "vary") gets its factor and pf. */
bool scn_apply_vary(scn_ctx_t *c, const scn_vary_t *v, const scenario_load_t *base, int k);
/* A load change `change` read into meter k's `load`: the currents it sets
 * scaled by the meter's factor. */
bool scn_vary_load_change(scn_ctx_t *c, const cJSON *change, int k, scenario_load_t *load);

/* The profile's largest value (a bound on what it ever gives). */
double scn_profile_max(const profile_t *p);
/* Multiplies the profile's values by `f` into a copy kept with the scenario. */
bool scn_scale_profile(scn_ctx_t *c, profile_t *p, double f);
/* Draw `i` of the scenario's splitmix64 stream, uniform in [0, 1) (docs/scenario.md). */
double scn_draw(uint64_t seed, uint64_t i);

/* Meter names: the index of the meter named `name`, or -1; add() is false when
 * the name is taken (its holder in *other). */
int scn_name_find(const scn_ctx_t *c, const char *name);
bool scn_name_add(scn_ctx_t *c, const char *name, int index, int *other);

/* "modbus" or "mbus" of bus `b`: one endpoint string or an array of them,
 * each parsed by endpoint_spec_parse and unlike every endpoint before it. */
bool scn_get_endpoints(scn_ctx_t *c, const cJSON *bus, const char *key, int b);

/* A master's request and its expectation (docs/scenario.md). */
bool scn_parse_modbus(scn_ctx_t *c, const cJSON *o, scenario_xfer_t *x);
bool scn_parse_mbus(scn_ctx_t *c, const cJSON *o, scenario_xfer_t *x);

/* The grid and a load (scenario.c), for the top level and for events. */
bool scn_parse_grid(scn_ctx_t *c, const cJSON *g, scenario_grid_t *grid);
bool scn_parse_load(scn_ctx_t *c, const cJSON *l, scenario_load_t *load);

/* One timeline entry (scenario_timeline.c); `grid` and `loads` are what is in
 * force so far, updated by the entry. */
bool scn_parse_event(scn_ctx_t *c, const cJSON *it, uint64_t *last, scenario_grid_t *grid,
                     scenario_load_t *loads);
/* qsort order of events: time, then file order. */
int scn_by_time(const void *a, const void *b);

#endif
