/* wave_skip (sim/wave/waveform.c) moves the phase accumulator on by whole
 * blocks at once where they can be counted in integers (fold_blocks): the
 * result must be the bits of the folds one block at a time, as a skip of
 * one tick at a time makes them, at 50 Hz (the integer case) and at
 * frequencies where it does not apply, from any tick, over an hour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vtime.h"
#include "waveform.h"

static void compare(double hz, uint64_t lead, uint64_t n)
{
    static wave_t a, b;
    wave_desc_t d;
    wave_desc_balanced(&d, hz, 230.0, 5.0, 30.0);
    wave_init(&a, &d);
    wave_init(&b, &d);
    wave_skip(&a, (size_t)lead); /* off the block grid */
    wave_skip(&b, (size_t)lead);
    wave_desc_t e = d;
    e.frequency = hz; /* a new anchor: its phase is no longer a round number */
    e.phase[0].current = 6.0;
    wave_set(&a, &e);
    wave_set(&b, &e);
    wave_skip(&a, (size_t)n);
    for (uint64_t t = 0; t < n; t++)
        wave_skip(&b, 1);
    assert_int_equal(a.tick, b.tick);
    assert_int_equal(a.since_anchor, b.since_anchor);
    if (memcmp(&a.anchor, &b.anchor, sizeof a.anchor) != 0 ||
        memcmp(a.rotor, b.rotor, sizeof a.rotor) != 0)
        fail_msg("%g Hz, %llu + %llu ticks: anchor %.17g, one tick at a time %.17g", hz,
                 (unsigned long long)lead, (unsigned long long)n, a.anchor, b.anchor);
    metrology_phasors_t pa, pb;
    memset(&pa, 0, sizeof pa);
    memset(&pb, 0, sizeof pb);
    assert_true(wave_phasors(&a, &pa));
    assert_true(wave_phasors(&b, &pb));
    assert_memory_equal(&pa, &pb, sizeof pa);
}

static void test_50hz(void **state)
{
    (void)state;
    compare(50.0, 0, 3600u * VTIME_SAMPLE_RATE);
    compare(50.0, 1234567, 3600u * VTIME_SAMPLE_RATE + 77);
    compare(50.0, 255, 257);
}

static void test_other_frequencies(void **state)
{
    (void)state;
    compare(49.5, 99, 600u * VTIME_SAMPLE_RATE + 5);
    compare(60.0, 7, 600u * VTIME_SAMPLE_RATE);
    compare(23.0, 1000, 100000);
    compare(51.234, 3, 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_50hz),
        cmocka_unit_test(test_other_frequencies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
