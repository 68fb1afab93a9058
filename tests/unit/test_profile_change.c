/* profile_next_change (sim/scenario/profile.h): a host that samples a
 * profile only at the ticks it names sees every value it would see sampling
 * it at every second (the quiet auto runs of sim/run/runner.c stop only
 * there). Checked against profile_at() itself, second by second, for every
 * kind of profile, and the stretches it names must be long where the
 * profile is flat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "profile.h"
#include "vtime.h"

#define SR VTIME_SAMPLE_RATE

/* Walks `seconds` of the profile from `from`: wherever the named tick lies
 * beyond a second, that second's value is the value at the start. Returns
 * the seconds skipped in all. */
static uint64_t walk(const profile_t *p, uint64_t from, uint64_t seconds)
{
    uint64_t skipped = 0;
    for (uint64_t s = from; s < from + seconds; s++) {
        uint64_t tick = s * SR, next = profile_next_change(p, tick);
        assert_true(next > tick);
        double v = profile_at(p, tick);
        for (uint64_t u = s + 1; u < from + seconds && u * SR < next; u++) {
            if (profile_at(p, u * SR) != v)
                fail_msg("kind %d: second %llu says no change before tick %llu, but second %llu "
                         "reads %.17g, not %.17g",
                         (int)p->kind, (unsigned long long)s, (unsigned long long)next,
                         (unsigned long long)u, profile_at(p, u * SR), v);
            skipped++;
        }
        /* Go on from where a host would stop next (every 7th start looked
         * at from the very next second as well). */
        if (s % 7 != 0)
            while (s + 1 < from + seconds && (s + 1) * SR < next)
                s++;
    }
    return skipped;
}

static void test_const(void **state)
{
    (void)state;
    profile_t p = profile_const(3.5);
    assert_int_equal(profile_next_change(&p, 12345), UINT64_MAX);
}

static void test_steps(void **state)
{
    (void)state;
    double t[] = {0, 10, 25.5, 40}, v[] = {1, 2, 2, 0};
    profile_t p = {.kind = PROFILE_STEPS, .t = t, .v = v, .n = 4, .start_tick = 3 * SR};
    assert_true(walk(&p, 0, 60) > 40);
    assert_int_equal(profile_next_change(&p, 50 * SR), UINT64_MAX);
}

static void test_ramp_and_series(void **state)
{
    (void)state;
    double t[] = {0, 100}, v[] = {0, 10};
    profile_t p = {.kind = PROFILE_RAMP, .t = t, .v = v, .n = 2, .start_tick = 20 * SR};
    walk(&p, 0, 200);
    assert_int_equal(profile_next_change(&p, 30 * SR), 30 * SR + 1); /* on the slope */
    double ts[] = {0, 5, 60, 61, 90}, vs[] = {1, 1, 1, 4, 4};
    profile_t q = {.kind = PROFILE_SERIES, .t = ts, .v = vs, .n = 5, .start_tick = 0};
    assert_true(walk(&q, 0, 120) > 80);
}

static void test_daily(void **state)
{
    (void)state;
    /* The household's L3 (tools/gen_year.py): flat most of the day. */
    double t[] = {0, 23400, 25200, 27000, 43200, 44100, 46800, 47700, 64800, 65700, 68400, 69300};
    double v[] = {0.2, 0.2, 2.0, 0.2, 0.2, 6.0, 6.0, 0.2, 0.2, 8.0, 8.0, 0.2};
    profile_t p = {.kind = PROFILE_DAILY, .t = t, .v = v, .n = 12};
    uint64_t skipped = walk(&p, 86400 - 3600, 2 * 86400);
    assert_true(skipped > 2 * 70000); /* all but the ramps' seconds */
    /* A night segment that moves (last point to the first of the next day). */
    double t2[] = {3600, 72000}, v2[] = {1, 2};
    profile_t q = {.kind = PROFILE_DAILY, .t = t2, .v = v2, .n = 2};
    walk(&q, 0, 86400 + 7200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_const),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_ramp_and_series),
        cmocka_unit_test(test_daily),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
