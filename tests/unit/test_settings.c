/* Tests of the settings module against the manual's ranges (6.6.x, A3.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settings.h"

static void test_defaults_are_the_manuals(void **state)
{
    (void)state;
    settings_t s;
    settings_defaults(&s, 13070001);
    assert_int_equal(s.modbus_id, 1);                                 /* 6.6.6 */
    assert_int_equal(settings_baud_code_to_bps(s.modbus_baud), 9600); /* 6.6.7 */
    assert_int_equal(s.modbus_parity, 1);                             /* even, 6.6.8 */
    assert_int_equal(s.mbus_id, 0);                                   /* 6.6.9 */
    assert_int_equal(s.mbus_baud, 2400);                              /* 6.6.10 */
    assert_int_equal(s.s0_rate_x100, 100000);                         /* 1000 imp/kWh, 6.6.3 */
    assert_int_equal(s.pulse_width_ms, 30);                           /* 6.6.5 */
    assert_int_equal(s.pulse_type, 1);                                /* 6.6.4 */
    assert_int_equal(s.tariff, 1);                                    /* 6.6.2 */
    assert_int_equal(s.password, 0);                                  /* 6.6.1 */
    assert_int_equal(s.obis, 0);                                      /* 6.6.14 */
    assert_int_equal(s.mbus_secondary, 13070001);                     /* A2.1 */
    assert_int_equal(settings_validate(&s, NULL), SETTINGS_OK);
}

static void test_ranges_refuse_and_change_nothing(void **state)
{
    (void)state;
    settings_t s, before;
    settings_defaults(&s, 1);
    before = s;
    assert_int_equal(settings_set(&s, SETTING_MODBUS_ID, 0), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_MODBUS_ID, 248), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_TARIFF, 5), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_S0_RATE, 50000), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_MBUS_BAUD, 19200), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_MBUS_ID, 251), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_LCD_CYCLE, 31), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 1), SETTINGS_E_RANGE);
    assert_int_equal(settings_set(&s, SETTING_COUNT, 1), SETTINGS_E_UNKNOWN);
    assert_memory_equal(&s, &before, sizeof s);
    assert_int_equal(settings_set(&s, SETTING_MODBUS_ID, 247), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_MBUS_ID, 250), SETTINGS_OK);
}

static void test_c05_locks(void **state)
{
    (void)state;
    settings_t s;
    settings_defaults(&s, 1);
    for (int c = 1; c <= 5; c++)
        assert_int_equal(settings_set(&s, SETTING_COMBINATION_CODE, c), SETTINGS_OK);
    for (int c = 1; c <= 4; c++)
        assert_int_equal(settings_set(&s, SETTING_COMBINATION_CODE, c), SETTINGS_E_LOCKED);
    assert_int_equal(s.combination_code, 5);
    assert_int_equal(settings_set(&s, SETTING_COMBINATION_CODE, 5), SETTINGS_OK);
    assert_int_equal(settings_validate(&s, NULL), SETTINGS_OK);
}

static void test_t34_activation_is_permanent(void **state)
{
    (void)state;
    settings_t s;
    settings_defaults(&s, 1);
    assert_false(s.t34_activated);
    settings_set(&s, SETTING_TARIFF, 2);
    assert_false(s.t34_activated);
    settings_set(&s, SETTING_TARIFF, 4);
    settings_set(&s, SETTING_TARIFF, 1);
    assert_true(s.t34_activated);
}

/* The widest pulse is half the shortest period at 3 x 276 V x 65 A, computed
 * here from the formula, for every rate. */
static void test_pulse_width_limit(void **state)
{
    (void)state;
    const double pmax_kw = 3 * 276.0 * 65.0 / 1000.0;
    for (int k = 0; k < SETTINGS_S0_RATE_COUNT; k++) {
        double rate = SETTINGS_S0_RATES[k] / 100.0;
        double half_ms = 3600e3 / (pmax_kw * rate) / 2;
        int expect = half_ms >= 99 ? 99 : (int)half_ms;
        assert_int_equal(settings_max_pulse_width(SETTINGS_S0_RATES[k]), expect);
    }
    settings_t s;
    settings_defaults(&s, 1);
    assert_int_equal(settings_set(&s, SETTING_S0_RATE, 1000000), SETTINGS_OK);
    assert_int_equal(s.pulse_width_ms, 3); /* 6.69 ms period at 10 000 imp/kWh */
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 4), SETTINGS_E_CONFLICT);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 2), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_S0_RATE, 100000), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 33), SETTINGS_OK);
    assert_int_equal(settings_set(&s, SETTING_PULSE_WIDTH, 34), SETTINGS_E_CONFLICT);
}

static void test_baud_codes(void **state)
{
    (void)state;
    const uint32_t bps[] = {300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
    for (int c = 1; c <= 10; c++) {
        assert_int_equal(settings_baud_code_to_bps((uint8_t)c), bps[c - 1]); /* A3.2 0x4004 */
        assert_int_equal(settings_bps_to_baud_code(bps[c - 1]), c);
    }
    assert_int_equal(settings_baud_code_to_bps(11), 0);
    assert_int_equal(settings_bps_to_baud_code(56700), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_manuals),
        cmocka_unit_test(test_ranges_refuse_and_change_nothing),
        cmocka_unit_test(test_c05_locks),
        cmocka_unit_test(test_t34_activation_is_permanent),
        cmocka_unit_test(test_pulse_width_limit),
        cmocka_unit_test(test_baud_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
