/* The whole meter: a change made with the buttons is the change the Modbus
 * map answers to, and it survives a restart (issue 7, 6.6.6, A3.3, 7.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "crc.h"
#include "meter.h"
#include "nvm.h"
#include "waveform.h"

#define MS 1000000ull

static metrology_sample_t buf[800];

typedef struct {
    meter_t m;
    wave_t w;
} rig_t;

/* Runs the meter for `ms` milliseconds of a 230 V / 10 A grid. */
static void run_ms(rig_t *g, uint64_t ms)
{
    uint64_t ticks = ms * VTIME_SAMPLE_RATE / 1000;
    while (ticks) {
        size_t n = ticks < 800 ? (size_t)ticks : 800;
        wave_fill(&g->w, buf, n);
        meter_exec(&g->m, buf, n);
        ticks -= n;
    }
}

static void tap(rig_t *g, menu_button_t b)
{
    meter_button(&g->m, b, true);
    run_ms(g, 100);
    meter_button(&g->m, b, false);
    run_ms(g, 100);
}

static void setup_rig(rig_t *g)
{
    memset(g, 0, sizeof *g);
    meter_init(&g->m, &(meter_desc_t){.serial = "13070001"});
    wave_desc_t d;
    wave_desc_balanced(&d, 50.0, 230.0, 10.0, 0.0);
    wave_init(&g->w, &d);
    run_ms(g, 2000);
}

/* Sends a Modbus request (CRC appended) at 9600 8E1, 11 bits a character,
 * and returns the reply the meter sends within a second. */
static size_t transact(rig_t *g, const uint8_t *req, size_t n, uint8_t *rsp, size_t cap)
{
    uint8_t frame[64];
    memcpy(frame, req, n);
    uint16_t crc = crc16_modbus(req, n);
    frame[n] = (uint8_t)(crc & 0xFF);
    frame[n + 1] = (uint8_t)(crc >> 8);
    uint64_t ch = 11ull * 1000000000ull / 9600;
    uint64_t t = meter_now_ns(&g->m);
    for (size_t i = 0; i < n + 2; i++)
        meter_line_rx(&g->m, METER_LINE_MODBUS, frame[i], t + (i + 1) * ch, false);
    for (int ms = 0; ms < 1000; ms++) {
        run_ms(g, 1);
        uint64_t start;
        size_t got = meter_line_tx(&g->m, METER_LINE_MODBUS, rsp, cap, &start, NULL);
        if (got)
            return got;
    }
    return 0;
}

static void assert_reply(const uint8_t *rsp, size_t n, const uint8_t *want, size_t wn)
{
    assert_int_equal(n, wn + 2);
    assert_memory_equal(rsp, want, wn);
    uint16_t crc = crc16_modbus(rsp, wn);
    assert_int_equal(rsp[wn], crc & 0xFF);
    assert_int_equal(rsp[wn + 1], crc >> 8);
}

static void test_menu_modbus_id_then_modbus_and_restart(void **state)
{
    (void)state;
    static rig_t g, h;
    setup_rig(&g);
    /* 6.4: hold the middle button for more than 3 s. */
    meter_button(&g.m, MENU_MIDDLE, true);
    run_ms(&g, 3100);
    meter_button(&g.m, MENU_MIDDLE, false);
    run_ms(&g, 100);
    assert_true(menu_active(&g.m.menu));
    tap(&g, MENU_RIGHT); /* Bluetooth -> settings */
    tap(&g, MENU_MIDDLE);
    for (int k = 0; k < 4; k++) /* password 0000, digit by digit (6.6) */
        tap(&g, MENU_MIDDLE);
    assert_int_equal(g.m.menu.state, MENU_LIST);
    int item = 0;
    while (strcmp(menu_item_section(item), "6.6.6") != 0)
        item++;
    for (int k = 0; k < item; k++)
        tap(&g, MENU_RIGHT);
    tap(&g, MENU_MIDDLE); /* edit 001 */
    tap(&g, MENU_MIDDLE); /* hundreds stay 0 */
    tap(&g, MENU_RIGHT);  /* tens 0 -> 1 */
    tap(&g, MENU_MIDDLE);
    tap(&g, MENU_LEFT);   /* units 1 -> 0 */
    tap(&g, MENU_MIDDLE); /* confirm */
    assert_int_equal(g.m.settings.modbus_id, 10);

    /* The map answers at 10 (read 0x4003 "Modbus ID", Signed) and not at 1. */
    uint8_t rsp[256];
    const uint8_t at10[] = {0x0A, 0x03, 0x40, 0x03, 0x00, 0x01};
    const uint8_t want[] = {0x0A, 0x03, 0x02, 0x00, 0x0A};
    assert_reply(rsp, transact(&g, at10, sizeof at10, rsp, sizeof rsp), want, sizeof want);
    const uint8_t at1[] = {0x01, 0x03, 0x40, 0x03, 0x00, 0x01};
    assert_int_equal(transact(&g, at1, sizeof at1, rsp, sizeof rsp), 0);

    /* Power down, keep the memory image, power up a new meter from it. */
    meter_set_supply(&g.m, false);
    uint8_t image[4096];
    size_t n = nvm_save(&g.m, image, sizeof image);
    assert_true(n > 0);
    setup_rig(&h);
    uint8_t err = 0xFF;
    assert_int_equal(nvm_load(&h.m, image, n, &err), NVM_OK);
    assert_int_equal(err, 0);
    assert_int_equal(h.m.settings.modbus_id, 10);
    assert_reply(rsp, transact(&h, at10, sizeof at10, rsp, sizeof rsp), want, sizeof want);
    assert_int_equal(transact(&h, at1, sizeof at1, rsp, sizeof rsp), 0);
}

/* A Modbus write of the tariff (A3.3 0x6048) moves energy to T3. */
static void test_modbus_tariff_write(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g);
    uint8_t rsp[256];
    const uint8_t req[] = {0x01, 0x06, 0x60, 0x48, 0x00, 0x03};
    assert_reply(rsp, transact(&g, req, sizeof req, rsp, sizeof rsp), req, sizeof req);
    assert_int_equal(meter_tariff(&g.m), 3);
    assert_true(g.m.settings.t34_activated);
}

/* The host copies the memory image only when meter_memory_generation()
 * moved (docs/state.md): so every change of the image must move it. Each
 * step below is one way the image changes (or does not); after each, an
 * image that differs from the last one has a new generation. */
static uint8_t last_img[NVM_IMAGE_LEN];
static uint32_t last_gen;

static void expect_tracked(rig_t *g, const char *what)
{
    uint8_t img[NVM_IMAGE_LEN];
    assert_int_equal(nvm_save(&g->m, img, sizeof img), NVM_IMAGE_LEN);
    uint32_t gen = meter_memory_generation(&g->m);
    if (memcmp(img, last_img, sizeof img) != 0 && gen == last_gen)
        fail_msg("the image changed without a new generation: %s", what);
    memcpy(last_img, img, sizeof img);
    last_gen = gen;
}

static void test_memory_generation(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g);
    expect_tracked(&g, "start");
    for (int i = 0; i < 50; i++) {
        run_ms(&g, 20); /* one mains cycle: energy and remainders */
        expect_tracked(&g, "a cycle under load");
    }
    assert_int_equal(meter_set(&g.m, SETTING_COMBINATION_CODE, 5), SETTINGS_OK);
    expect_tracked(&g, "meter_set");
    meter_reset(&g.m, ACCESS_RESET_DAY_COUNTER);
    expect_tracked(&g, "day counter reset");
    meter_set_supply(&g.m, false);
    expect_tracked(&g, "supply off (power-down counter)");
    run_ms(&g, 200);
    expect_tracked(&g, "no supply");
    uint32_t gen = meter_memory_generation(&g.m);
    run_ms(&g, 200);
    assert_int_equal(meter_memory_generation(&g.m), gen); /* nothing changes, no copy */
    meter_set_supply(&g.m, true);
    expect_tracked(&g, "supply on");
    run_ms(&g, 1500);
    expect_tracked(&g, "boot and cycles");
    /* A Modbus write of the ID (06 to 0x4003), the protocol's own path. */
    uint8_t rsp[64];
    const uint8_t req[] = {0x01, 0x06, 0x40, 0x03, 0x00, 0x09};
    assert_int_not_equal(transact(&g, req, sizeof req, rsp, sizeof rsp), 0);
    expect_tracked(&g, "Modbus write of the ID");
    meter_preset_power_down_count(&g.m, 42);
    expect_tracked(&g, "power-down count preset");
    uint8_t err = 0;
    meter_restart(&g.m, &(meter_desc_t){.serial = "13070001"}, METER_FAULT_NONE, &err);
    expect_tracked(&g, "restart");
}

/* 6.5 / A4.2 and docs/decisions.md: the app connects only while Bluetooth is
 * on; icon 1 blinks (500 ms on, 500 ms off) while Bluetooth waits for an app
 * and is steady while one is connected; switching Bluetooth off or losing
 * the supply ends the connection. */
static void test_bluetooth_connection(void **state)
{
    (void)state;
    static rig_t g;
    setup_rig(&g);
    assert_false(meter_bt_connect(&g.m, true)); /* Bluetooth off: refused */
    assert_false(meter_display(&g.m)->icons & DISPLAY_ICON_BT);
    assert_int_equal(meter_set(&g.m, SETTING_BLUETOOTH, 1), SETTINGS_OK);
    int lit = 0, dark = 0;
    for (int i = 0; i < 8; i++) { /* sampled every 250 ms over 2 s: half lit */
        run_ms(&g, 250);
        if (meter_display(&g.m)->icons & DISPLAY_ICON_BT)
            lit++;
        else
            dark++;
    }
    assert_int_equal(lit, 4);
    assert_int_equal(dark, 4);
    assert_true(meter_bt_connect(&g.m, true));
    for (int i = 0; i < 8; i++) { /* steady while connected */
        assert_true(meter_display(&g.m)->icons & DISPLAY_ICON_BT);
        run_ms(&g, 250);
    }
    readings_t r;
    meter_readings(&g.m, &r);
    assert_true(r.bt_connected);
    assert_int_equal(meter_set(&g.m, SETTING_BLUETOOTH, 0), SETTINGS_OK);
    assert_false(meter_bt_connected(&g.m)); /* off ends it */
    meter_set(&g.m, SETTING_BLUETOOTH, 1);
    assert_true(meter_bt_connect(&g.m, true));
    meter_set_supply(&g.m, false);
    assert_false(meter_bt_connected(&g.m));     /* so does the supply */
    assert_false(meter_bt_connect(&g.m, true)); /* and a dark meter is not connected to */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_menu_modbus_id_then_modbus_and_restart),
        cmocka_unit_test(test_modbus_tariff_write),
        cmocka_unit_test(test_memory_generation),
        cmocka_unit_test(test_bluetooth_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
