/* profile: values of time-varying scenario quantities (see profile.h). */
#include "profile.h"

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
