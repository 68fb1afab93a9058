/* duration: "250ms", "15m", "1h30m", "7d" or seconds, as ticks (see duration.h). */
#include "duration.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtime.h"

bool duration_parse(const char *text, uint64_t *ticks)
{
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
    const char *p = text;
    double total = 0;
    bool any = false;
    while (*p) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !(x >= 0) || !isfinite(x))
            return false;
        p = end;
        if (!*p && !any) { /* a bare number is seconds */
            total = x;
            any = true;
            break;
        }
        size_t u = 0;
        for (; u < sizeof units / sizeof units[0]; u++) {
            size_t n = strlen(units[u].unit);
            if (strncmp(p, units[u].unit, n) == 0 &&
                !(p[n] == 's' && units[u].unit[0] == 'm' && n == 1)) {
                total += x * units[u].seconds;
                p += n;
                break;
            }
        }
        if (u == sizeof units / sizeof units[0])
            return false;
        any = true;
    }
    if (!any)
        return false;
    double t = total * VTIME_SAMPLE_RATE;
    if (t > (double)DURATION_MAX_TICKS)
        return false;
    *ticks = (uint64_t)llround(t);
    return true;
}
