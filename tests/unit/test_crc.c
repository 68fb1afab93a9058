/* Tests of CRC-16/MODBUS against the standard check value, frames whose CRC
 * is given in the Modbus specifications, and the spec's bitwise algorithm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crc.h"
#include "crc32.h"

/* The bit-by-bit procedure of Modbus over Serial Line V1.02, 6.2.2, written
 * independently of the table, to check every table entry. */
static uint16_t crc_bitwise(const uint8_t *d, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= d[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static void test_check_value(void **state)
{
    (void)state;
    const uint8_t s[] = "123456789";
    assert_int_equal(crc16_modbus(s, 9), 0x4B37); /* CRC-16/MODBUS catalogue check */
    assert_int_equal(crc16_modbus(s, 0), 0xFFFF);
}

static void test_known_frames(void **state)
{
    (void)state;
    /* Read holding registers 01 03 0000 000A: the frame "01 03 00 00 00 0A C5 CD"
     * is the textbook example; the CRC goes low byte first. */
    const uint8_t f1[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};
    assert_int_equal(crc16_modbus(f1, sizeof f1), 0xCDC5);
    /* A whole frame including its CRC (low, high) leaves a remainder of 0. */
    const uint8_t f2[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};
    assert_int_equal(crc16_modbus(f2, sizeof f2), 0x0000);
}

static void test_every_byte_matches_bitwise(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37u + 11u);
    for (int v = 0; v < 256; v++) {
        uint8_t b = (uint8_t)v;
        assert_int_equal(crc16_modbus(&b, 1), crc_bitwise(&b, 1));
    }
    assert_int_equal(crc16_modbus(buf, sizeof buf), crc_bitwise(buf, sizeof buf));
    /* Incremental use gives the same result as one call. */
    uint16_t c = crc16_modbus_update(CRC16_MODBUS_INIT, buf, 100);
    c = crc16_modbus_update(c, buf + 100, 200);
    assert_int_equal(c, crc_bitwise(buf, sizeof buf));
}

/* CRC-32 (crc32.h): the catalogue's check value, and slicing by 4 equal to
 * the bit-by-bit definition for every length 0..300 and every start offset
 * (the word loop and the tail). */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(crc32_ieee((const uint8_t *)"123456789", 9), 0xCBF43926u);
    static uint8_t data[304];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 4; off++)
        for (size_t n = 0; n + off <= 300; n++)
            assert_int_equal(crc32_ieee(data + off, n), crc32_bitwise(data + off, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_known_frames),
        cmocka_unit_test(test_every_byte_matches_bitwise),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
