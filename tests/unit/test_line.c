/* Tests of the shared-line model: clean transmissions pass unchanged; aligned
 * collisions give the AND of the bytes (wired-AND, computed here); shifted
 * collisions and baud-rate mismatches garble. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "line.h"

static unsigned even_parity(uint8_t b)
{
    unsigned ones = 0;
    for (int i = 0; i < 8; i++)
        ones += (b >> i) & 1u;
    return ones & 1u;
}

static void test_char_time(void **state)
{
    (void)state;
    assert_int_equal(line_char_ns(9600, LINE_PARITY_EVEN), 1145833); /* 11 / 9600 s */
    assert_int_equal(line_char_ns(9600, LINE_PARITY_NONE), 1041667); /* 10 / 9600 s */
    assert_int_equal(line_bits(LINE_PARITY_ODD), 11);
}

static void test_single_transmission_is_clean(void **state)
{
    (void)state;
    const line_parity_t par[] = {LINE_PARITY_EVEN, LINE_PARITY_NONE, LINE_PARITY_ODD};
    const uint32_t rates[] = {300, 9600, 115200};
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    line_byte_t rx[300];
    for (int p = 0; p < 3; p++) {
        for (int r = 0; r < 3; r++) {
            line_tx_t tx = {bytes, 256, 12345, 0, rates[r], par[p]};
            size_t n = line_receive(&tx, 1, rates[r], par[p], rx, 300);
            assert_int_equal(n, 256);
            uint64_t cn = line_char_ns(rates[r], par[p]);
            uint64_t tol = 1000000000ull / (16ull * rates[r]) + 1; /* one sample */
            for (int i = 0; i < 256; i++) {
                assert_int_equal(rx[i].byte, i);
                assert_false(rx[i].error);
                uint64_t want = 12345 + (uint64_t)(i + 1) * cn;
                assert_true(rx[i].t_end_ns + tol >= want && rx[i].t_end_ns <= want + tol);
            }
        }
    }
}

static void test_separate_replies_pass(void **state)
{
    (void)state;
    const uint8_t a[] = {0x01, 0x03, 0x02, 0x00, 0x0A}, b[] = {0x02, 0x03, 0x02, 0x00, 0x0B};
    uint64_t cn = line_char_ns(9600, LINE_PARITY_EVEN);
    line_tx_t tx[2] = {
        {b, sizeof b, 100 * cn, 0, 9600, LINE_PARITY_EVEN}, /* later one first: order by time */
        {a, sizeof a, 0, 0, 9600, LINE_PARITY_EVEN},
    };
    assert_false(line_overlap(&tx[0], &tx[1]));
    line_byte_t rx[16];
    assert_int_equal(line_receive(tx, 2, 9600, LINE_PARITY_EVEN, rx, 16), 10);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rx[i].byte, a[i]);
        assert_int_equal(rx[5 + i].byte, b[i]);
        assert_false(rx[i].error || rx[5 + i].error);
    }
}

/* Two meters with the same ID start at the same instant with different data:
 * every character is the AND of both (start and stop bits agree), and its
 * parity bit the AND of both parity bits. */
static void test_aligned_collision_is_wired_and(void **state)
{
    (void)state;
    const uint8_t a[] = {0x01, 0x03, 0x04, 0x43, 0x66, 0x00, 0x00, 0x5A, 0xC3};
    const uint8_t b[] = {0x01, 0x03, 0x04, 0x43, 0x65, 0x80, 0x00, 0x3B, 0x17};
    line_tx_t tx[2] = {{a, 9, 5000, 0, 9600, LINE_PARITY_EVEN},
                       {b, 9, 5000, 0, 9600, LINE_PARITY_EVEN}};
    assert_true(line_overlap(&tx[0], &tx[1]));
    line_byte_t rx[16];
    assert_int_equal(line_receive(tx, 2, 9600, LINE_PARITY_EVEN, rx, 16), 9);
    int garbled = 0;
    for (int i = 0; i < 9; i++) {
        uint8_t w = a[i] & b[i];
        unsigned p = even_parity(a[i]) & even_parity(b[i]);
        assert_int_equal(rx[i].byte, w);
        assert_int_equal(rx[i].error, p != even_parity(w));
        garbled += rx[i].byte != a[i] || rx[i].error;
    }
    assert_true(garbled >= 3); /* bytes 4, 7 and 8 differ */
    /* Identical replies aligned to the nanosecond are indistinguishable from one. */
    line_tx_t same[2] = {{a, 9, 5000, 0, 9600, LINE_PARITY_EVEN},
                         {a, 9, 5000, 0, 9600, LINE_PARITY_EVEN}};
    assert_int_equal(line_receive(same, 2, 9600, LINE_PARITY_EVEN, rx, 16), 9);
    for (int i = 0; i < 9; i++)
        assert_true(rx[i].byte == a[i] && !rx[i].error);
}

static void test_shifted_collision_garbles(void **state)
{
    (void)state;
    const uint8_t a[] = {0x01, 0x06, 0x40, 0x03, 0x00, 0x0A, 0xEC, 0x0D};
    uint64_t bit = 1000000000ull / 9600;
    /* The same echo from two meters, the second 3.5 bits later. */
    line_tx_t tx[2] = {{a, 8, 0, 0, 9600, LINE_PARITY_EVEN},
                       {a, 8, 7 * bit / 2, 0, 9600, LINE_PARITY_EVEN}};
    line_byte_t rx[32];
    size_t n = line_receive(tx, 2, 9600, LINE_PARITY_EVEN, rx, 32);
    int ok = n == 8;
    for (size_t i = 0; ok && i < n; i++)
        ok = rx[i].byte == a[i] && !rx[i].error;
    assert_false(ok); /* the master does not get a valid frame */
}

static void test_baud_mismatch_garbles(void **state)
{
    (void)state;
    const uint8_t req[] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x02, 0x74, 0xCB};
    line_tx_t tx = {req, 8, 0, 0, 19200, LINE_PARITY_EVEN};
    line_byte_t rx[32];
    size_t n = line_receive(&tx, 1, 9600, LINE_PARITY_EVEN, rx, 32);
    int same = n == 8;
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        errors += rx[i].error;
        if (i < 8 && rx[i].byte != req[i])
            same = 0;
    }
    assert_false(same);
    assert_true(errors > 0);
    /* And the right rate decodes it. */
    assert_int_equal(line_receive(&tx, 1, 19200, LINE_PARITY_EVEN, rx, 32), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(rx[i].byte, req[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_char_time),
        cmocka_unit_test(test_single_transmission_is_clean),
        cmocka_unit_test(test_separate_replies_pass),
        cmocka_unit_test(test_aligned_collision_is_wired_and),
        cmocka_unit_test(test_shifted_collision_garbles),
        cmocka_unit_test(test_baud_mismatch_garbles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
