/* The non-volatile image (manual 7.1): an exact round trip of every register
 * and remainder, main copy bad -> backup, both bad -> the meter stops with the
 * 7.1 error byte, bad contents refused, unknown version, truncation, and the
 * power-down counter. Offsets and field order come from the layout in nvm.h
 * and docs/state.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "meter.h"
#include "crc32.h"
#include "nvm.h"
#include "waveform.h"

static metrology_sample_t buf[8000];

static void run(meter_t *m, wave_t *w, uint64_t seconds)
{
    for (uint64_t s = 0; s < seconds; s++) {
        wave_fill(w, buf, 8000);
        meter_exec(m, buf, 8000);
    }
}

/* A meter with a history: import on every phase at PF 0.8 inductive, the
 * tariff input on for part of it, then export, settings changed. */
static void busy_meter(meter_t *m)
{
    meter_init(m, &(meter_desc_t){.serial = "13070042"});
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 7.3, wave_lag_from_pf(0.8, 0, 0));
    wave_t w;
    wave_init(&w, &d);
    run(m, &w, 4);
    meter_set_tariff_input(m, true);
    run(m, &w, 3);
    meter_set_tariff_input(m, false);
    d.phase[1].lag_deg = wave_lag_from_pf(0.6, 1, 1);
    wave_set(&w, &d);
    run(m, &w, 3);
    assert_int_equal(meter_set(m, SETTING_MODBUS_ID, 17), SETTINGS_OK);
    assert_int_equal(meter_set(m, SETTING_COMBINATION_CODE, 3), SETTINGS_OK);
    meter_preset_power_down_count(m, 0x01020304u);
}

static void assert_same_memory(const meter_t *a, const meter_t *b)
{
    /* Every integer register and every remainder, exactly. */
    assert_memory_equal(a->energy.total, b->energy.total, sizeof a->energy.total);
    assert_memory_equal(a->energy.forward, b->energy.forward, sizeof a->energy.forward);
    assert_memory_equal(a->energy.reverse, b->energy.reverse, sizeof a->energy.reverse);
    assert_memory_equal(a->energy.quadrant, b->energy.quadrant, sizeof a->energy.quadrant);
    assert_memory_equal(a->energy.resettable, b->energy.resettable, sizeof a->energy.resettable);
    for (int x = 0; x < 2; x++)
        for (int y = 0; y < 2; y++) {
            for (int k = 0; k < 3; k++)
                assert_true(a->energy.rem_phase[x][y][k] == b->energy.rem_phase[x][y][k]);
            assert_true(a->energy.rem_net[x][y] == b->energy.rem_net[x][y]);
        }
    for (int id = 0; id < SETTING_COUNT; id++)
        assert_int_equal(settings_get(&a->settings, id), settings_get(&b->settings, id));
    assert_int_equal(a->settings.t34_activated, b->settings.t34_activated);
}

static uint8_t image[NVM_IMAGE_LEN + 16];

static void store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites an integer area's CRC after a test changed its contents. */
static void reseal(uint8_t *img, size_t area)
{
    store_le32(img + area + NVM_INT_LEN, crc32_ieee(img + area, NVM_INT_LEN));
}

static void test_crc32_check_value(void **state)
{
    (void)state;
    /* The check value of CRC-32/ISO-HDLC (IEEE 802.3). */
    assert_int_equal(crc32_ieee((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

static void test_round_trip_exact(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    /* The history is not trivial: registers in several places, remainders. */
    assert_true(a.energy.forward[0].slot[ENERGY_T1 + 1] > 0);
    assert_true(a.energy.reverse[0].slot[ENERGY_L1 + 1] > 0);
    assert_true(a.energy.quadrant[1][0] > 0);
    assert_true(a.energy.rem_phase[0][0][0] > 0.0);

    size_t n = nvm_save(&a, image, sizeof image);
    assert_int_equal(n, NVM_IMAGE_LEN);
    /* Little-endian, field by field: version, then the counter of the main copy. */
    assert_int_equal(image[0], NVM_VERSION);
    assert_int_equal(image[1], 0);
    assert_int_equal(image[NVM_MAIN_OFFSET + 0], 0x04);
    assert_int_equal(image[NVM_MAIN_OFFSET + 3], 0x01);
    /* The backup is the same bytes as the main copy. */
    assert_memory_equal(image + NVM_MAIN_OFFSET, image + NVM_BACKUP_OFFSET, NVM_INT_LEN + 4);

    meter_init(&b, &(meter_desc_t){.serial = "13070042"});
    uint8_t err = 0xFF;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK);
    assert_int_equal(err, 0);
    assert_same_memory(&a, &b);
    /* Saved while powered: the restart counts the loss of supply it never saw. */
    assert_int_equal(b.power_down_count, a.power_down_count + 1);
    assert_int_equal(b.error_code, 0);

    /* Saved at a power-down: no second count. */
    meter_set_supply(&a, false);
    assert_int_equal(a.power_down_count, 0x01020305u);
    nvm_save(&a, image, sizeof image);
    meter_init(&b, &(meter_desc_t){.serial = "13070042"});
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK);
    assert_int_equal(b.power_down_count, 0x01020305u);
    assert_true(b.supply); /* as meter_init left it: the host decides */
}

static void test_too_small_buffer(void **state)
{
    (void)state;
    static meter_t a;
    meter_init(&a, &(meter_desc_t){0});
    assert_int_equal(nvm_save(&a, image, NVM_IMAGE_LEN - 1), 0);
}

static void test_main_bad_backup_used(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    image[NVM_MAIN_OFFSET + 40] ^= 0x01; /* one bit of a register */
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK_BACKUP);
    assert_int_equal(err, 0x40); /* 7.1 bit6: data error in the main area */
    assert_same_memory(&a, &b);
    assert_int_equal(b.error_code, 0); /* the meter runs on */
}

static void test_backup_bad_main_used(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    image[NVM_BACKUP_OFFSET + NVM_INT_LEN + 2] ^= 0x80; /* its CRC */
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK);
    assert_int_equal(err, 0x20); /* 7.1 bit5: data error in the backup area */
    assert_same_memory(&a, &b);
}

static void test_mantissa_bad(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    image[NVM_MANT_OFFSET + 5] ^= 0x10;
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK);
    assert_int_equal(err, 0x10); /* 7.1 bit4: data error in the mantissa area */
    assert_memory_equal(a.energy.forward, b.energy.forward, sizeof a.energy.forward);
    assert_true(b.energy.rem_phase[0][0][0] == 0.0); /* less than 1 uWh lost */
}

static void test_both_bad_meter_stops(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    image[NVM_MAIN_OFFSET + 100] ^= 0xFF;
    image[NVM_BACKUP_OFFSET + 200] ^= 0xFF;
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_STOPPED);
    assert_int_equal(err, 0x61); /* bit0 both wrong, bit5 backup, bit6 main */
    assert_int_equal(b.error_code, 0x61);
    readings_t r;
    meter_readings(&b, &r);
    assert_int_equal(r.error_code, 0x61);

    /* A stopped meter registers nothing, whatever it measures. */
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 20.0, 0.0);
    wave_t w;
    wave_init(&w, &d);
    run(&b, &w, 3);
    meter_readings(&b, &r);
    assert_true(r.active_forward.total == 0.0);
    assert_true(r.voltage[0] > 200.0); /* it does see the grid */
}

static void test_settings_out_of_range_refused(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    /* Modbus ID: after count (4), flags (1), bluetooth (1), password (2),
     * tariff (1), S0 rate (4), pulse type (1), pulse width (1): byte 15.
     * 0 is outside 1..247 (6.6.6); the CRC is made good again. */
    size_t at = 15;
    assert_int_equal(image[NVM_MAIN_OFFSET + at], 17);
    image[NVM_MAIN_OFFSET + at] = 0;
    reseal(image, NVM_MAIN_OFFSET);
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK_BACKUP);
    assert_int_equal(err, 0x40);
    assert_int_equal(b.settings.modbus_id, 17);

    /* The same in the backup: nothing left to trust. */
    image[NVM_BACKUP_OFFSET + at] = 0;
    reseal(image, NVM_BACKUP_OFFSET);
    meter_init(&b, &(meter_desc_t){0});
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_STOPPED);
    assert_int_equal(err, 0x61);
    assert_int_equal(b.settings.modbus_id, 1); /* the bad value never got in */

    /* A register beyond the 6+3 digits (6.2), in a well-sealed copy. */
    n = nvm_save(&a, image, sizeof image);
    size_t reg0 = 4 + 1 + NVM_SETTINGS_LEN;
    for (int i = 0; i < 8; i++)
        image[NVM_MAIN_OFFSET + reg0 + i] = 0x7F;
    reseal(image, NVM_MAIN_OFFSET);
    meter_init(&b, &(meter_desc_t){0});
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_OK_BACKUP);
    assert_same_memory(&a, &b);
}

static void test_unknown_version_and_format(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err;
    image[0] = 3;
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_E_VERSION);
    assert_int_equal(b.power_down_count, 0);
    assert_int_equal(b.error_code, 0);
    image[0] = NVM_VERSION;
    image[4] ^= 1; /* an integer area length that does not fit version 1 */
    assert_int_equal(nvm_load(&b, image, n, &err), NVM_E_FORMAT);
    image[4] ^= 1;
    assert_int_equal(nvm_load(&b, image, NVM_HEADER_LEN - 1, &err), NVM_E_FORMAT);
    assert_true(b.energy.forward[0].slot[0] == 0);
}

/* A version-1 image (docs/state.md: the settings without the CT primary,
 * 27 bytes) still loads: everything as saved, the CT ratio 5/5. Built here
 * from a version-2 image by the documented layouts. */
static void test_version1_image_loads(void **state)
{
    (void)state;
    static meter_t a, b;
    static uint8_t v1[NVM_IMAGE_LEN];
    busy_meter(&a);
    size_t n = nvm_save(&a, image, sizeof image);
    assert_int_equal(n, NVM_IMAGE_LEN);
    const size_t set_end = 4 + 1 + NVM_SETTINGS_LEN_V1; /* where the CT primary sits */
    size_t o = 0;
    memcpy(v1, image, NVM_HEADER_LEN);
    v1[0] = 1;
    store_le32(v1 + 4, NVM_INT_LEN_V1);
    o = NVM_HEADER_LEN;
    for (int copy = 0; copy < 2; copy++) {
        size_t from = copy ? NVM_BACKUP_OFFSET : NVM_MAIN_OFFSET;
        memcpy(v1 + o, image + from, set_end);
        memcpy(v1 + o + set_end, image + from + set_end + 2, NVM_INT_LEN - set_end - 2);
        store_le32(v1 + o + NVM_INT_LEN_V1, crc32_ieee(v1 + o, NVM_INT_LEN_V1));
        o += NVM_INT_LEN_V1 + 4;
    }
    memcpy(v1 + o, image + NVM_MANT_OFFSET, NVM_MANT_LEN + 4);
    o += NVM_MANT_LEN + 4;
    meter_init(&b, &(meter_desc_t){0});
    uint8_t err = 0xFF;
    assert_int_equal(nvm_load(&b, v1, o, &err), NVM_OK);
    assert_int_equal(err, 0);
    assert_int_equal(b.settings.ct_primary, 5);
    assert_true(b.energy.forward[0].slot[ENERGY_T1 + 1] == a.energy.forward[0].slot[ENERGY_T1 + 1]);
    assert_int_equal(b.settings.modbus_id, a.settings.modbus_id);
}

static void test_truncated_image(void **state)
{
    (void)state;
    static meter_t a, b;
    busy_meter(&a);
    nvm_save(&a, image, sizeof image);
    uint8_t err;
    /* The mantissa area is missing: registers load, remainders are zero. */
    meter_init(&b, &(meter_desc_t){0});
    assert_int_equal(nvm_load(&b, image, NVM_MANT_OFFSET, &err), NVM_OK);
    assert_int_equal(err, 0x10);
    /* The backup is cut short too. */
    meter_init(&b, &(meter_desc_t){0});
    assert_int_equal(nvm_load(&b, image, NVM_BACKUP_OFFSET + 10, &err), NVM_OK);
    assert_int_equal(err, 0x30);
    /* Only the header is left. */
    meter_init(&b, &(meter_desc_t){0});
    assert_int_equal(nvm_load(&b, image, NVM_HEADER_LEN + 5, &err), NVM_STOPPED);
    assert_int_equal(err, 0x71);
}

static void test_power_down_counter(void **state)
{
    (void)state;
    static meter_t m;
    meter_init(&m, &(meter_desc_t){0});
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    wave_t w;
    wave_init(&w, &d);
    run(&m, &w, 2);
    readings_t r;
    meter_readings(&m, &r);
    double before = r.active_forward.total;
    assert_true(before > 0.0);

    meter_set_supply(&m, false);
    meter_set_supply(&m, false); /* still off: not a new loss */
    assert_int_equal(m.power_down_count, 1);
    run(&m, &w, 2); /* without supply: nothing registered */
    meter_readings(&m, &r);
    assert_true(r.active_forward.total == before);
    assert_int_equal(r.power_down_count, 1);

    meter_set_supply(&m, true);
    run(&m, &w, 2);
    meter_set_supply(&m, false);
    meter_readings(&m, &r);
    assert_int_equal(r.power_down_count, 2);
    assert_true(r.active_forward.total > before);

    /* 0x4016 / M-Bus reset through the access table. */
    access_t acc = meter_access(&m);
    acc.reset(acc.ctx, ACCESS_RESET_POWER_DOWN_COUNTER);
    acc.read(acc.ctx, &r);
    assert_int_equal(r.power_down_count, 0);

    /* A meter created without supply has lost nothing yet. */
    meter_init(&m, &(meter_desc_t){.unpowered = true});
    meter_set_supply(&m, false);
    assert_int_equal(m.power_down_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_round_trip_exact),
        cmocka_unit_test(test_too_small_buffer),
        cmocka_unit_test(test_main_bad_backup_used),
        cmocka_unit_test(test_backup_bad_main_used),
        cmocka_unit_test(test_mantissa_bad),
        cmocka_unit_test(test_both_bad_meter_stops),
        cmocka_unit_test(test_settings_out_of_range_refused),
        cmocka_unit_test(test_unknown_version_and_format),
        cmocka_unit_test(test_version1_image_loads),
        cmocka_unit_test(test_truncated_image),
        cmocka_unit_test(test_power_down_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
