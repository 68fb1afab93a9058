/* profile: values of time-varying scenario quantities (see profile.h). */
#include "profile.h"

#include <math.h>

#include "vtime.h"

profile_t profile_const(double v)
{
    return (profile_t){.kind = PROFILE_CONST, .value = v};
}

/* Linear interpolation between the points around x; the ends hold. */
static double interpolate(const double *t, const double *v, size_t n, double x)
{
    if (x <= t[0])
        return v[0];
    if (x >= t[n - 1])
        return v[n - 1];
    size_t lo = 0, hi = n - 1; /* t[lo] <= x < t[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double span = t[hi] - t[lo];
    return span > 0 ? v[lo] + (v[hi] - v[lo]) * (x - t[lo]) / span : v[hi];
}

double profile_at(const profile_t *s, uint64_t tick)
{
    double since = tick >= s->start_tick ? (double)(tick - s->start_tick) / VTIME_SAMPLE_RATE : 0.0;
    switch (s->kind) {
    case PROFILE_CONST:
        return s->value;
    case PROFILE_STEPS: {
        double v = s->v[0];
        for (size_t i = 0; i < s->n && s->t[i] <= since; i++)
            v = s->v[i];
        return v;
    }
    case PROFILE_RAMP: /* points: (0, from), (over, to) */
    case PROFILE_SERIES:
        return interpolate(s->t, s->v, s->n, since);
    case PROFILE_DAILY: {
        double day = 86400.0;
        double x = (double)(tick % (86400ull * VTIME_SAMPLE_RATE)) / VTIME_SAMPLE_RATE;
        /* Before the first point and after the last, join the last point to
         * the first one of the next day. */
        if (x < s->t[0] || x >= s->t[s->n - 1]) {
            double t0 = s->t[s->n - 1], t1 = s->t[0] + day;
            double xx = x < s->t[0] ? x + day : x;
            return t1 > t0 ? s->v[s->n - 1] + (s->v[0] - s->v[s->n - 1]) * (xx - t0) / (t1 - t0)
                           : s->v[0];
        }
        return interpolate(s->t, s->v, s->n, x);
    }
    }
    return 0.0;
}

/* `tick` plus the ticks to a point `sec` seconds ahead, rounded down (at
 * least one). */
static uint64_t ahead(uint64_t tick, double sec)
{
    double t = floor(sec * VTIME_SAMPLE_RATE);
    if (!(t >= 1.0))
        return tick + 1;
    if (t >= 1e18)
        return UINT64_MAX;
    return tick + (uint64_t)t;
}

/* Points (t[i], v[i]), x inside [t[0], t[n-1]): the end of the flat segment
 * around x, as seconds after x; -1 when the segment is sloped. */
static double flat_left(const double *t, const double *v, size_t n, double x)
{
    size_t lo = 0, hi = n - 1; /* t[lo] <= x < t[hi], as interpolate() finds them */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return v[lo] == v[hi] ? t[hi] - x : -1.0;
}

uint64_t profile_next_change(const profile_t *s, uint64_t tick)
{
    if (s->kind == PROFILE_CONST)
        return UINT64_MAX;
    if (s->kind != PROFILE_DAILY && tick < s->start_tick)
        return s->start_tick; /* held at the first value until it starts */
    double since =
        (double)(tick - (s->kind == PROFILE_DAILY ? 0 : s->start_tick)) / VTIME_SAMPLE_RATE;
    switch (s->kind) {
    case PROFILE_STEPS:
        for (size_t i = 0; i < s->n; i++)
            if (s->t[i] > since)
                return ahead(tick, s->t[i] - since);
        return UINT64_MAX;
    case PROFILE_RAMP:
    case PROFILE_SERIES: {
        if (since >= s->t[s->n - 1])
            return UINT64_MAX;
        if (since < s->t[0])
            return ahead(tick, s->t[0] - since);
        double left = flat_left(s->t, s->v, s->n, since);
        return left < 0.0 ? tick + 1 : ahead(tick, left);
    }
    case PROFILE_DAILY: {
        double day = 86400.0;
        double x = (double)(tick % (86400ull * VTIME_SAMPLE_RATE)) / VTIME_SAMPLE_RATE;
        if (x < s->t[0] || x >= s->t[s->n - 1]) {
            /* The night's segment: the last point to the first of the next day. */
            if (s->v[s->n - 1] != s->v[0] && s->t[0] + day > s->t[s->n - 1])
                return tick + 1;
            return ahead(tick, x < s->t[0] ? s->t[0] - x : s->t[0] + day - x);
        }
        double left = flat_left(s->t, s->v, s->n, x);
        return left < 0.0 ? tick + 1 : ahead(tick, left);
    }
    default:
        return tick + 1;
    }
}
