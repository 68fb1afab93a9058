/* Tests of the buttons and the settings menu (manual 6.4-6.6.15; the tree
 * and timeouts of docs/display.md), against a small fake access_t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "menu.h"
#include "vtime.h"

#define S VTIME_NS_PER_S
#define MS VTIME_NS_PER_MS

typedef struct {
    settings_t settings;
    readings_t readings;
    int sets;
    int resets[2];
} fake_t;

static void fake_read(void *ctx, readings_t *out)
{
    fake_t *f = ctx;
    *out = f->readings;
    out->settings = f->settings;
}

static settings_err_t fake_set(void *ctx, setting_id_t id, int32_t value)
{
    fake_t *f = ctx;
    f->sets++;
    return settings_set(&f->settings, id, value);
}

static void fake_reset(void *ctx, access_reset_t what)
{
    fake_t *f = ctx;
    f->resets[what]++;
    if (what == ACCESS_RESET_POWER_DOWN_COUNTER)
        f->readings.power_down_count = 0;
    else
        f->readings.resettable = 0;
}

typedef struct {
    fake_t fake;
    display_t display;
    menu_t menu;
    uint64_t t;
} rig_t;

static int rig_setup(void **state)
{
    static rig_t rig;
    memset(&rig, 0, sizeof rig);
    settings_defaults(&rig.fake.settings, 12345678);
    strcpy(rig.fake.readings.serial, "12345678");
    rig.fake.readings.tariff = 1;
    rig.fake.readings.power_down_count = 7;
    access_t a = {&rig.fake, fake_read, fake_set, fake_reset};
    display_init(&rig.display, 0);
    menu_init(&rig.menu, &a, &rig.display, 0);
    rig.t = S;
    *state = &rig;
    return 0;
}

/* A touch: press, 100 ms, release, 100 ms. */
static void tap(rig_t *g, menu_button_t b)
{
    menu_button(&g->menu, b, true, g->t);
    g->t += 100 * MS;
    menu_button(&g->menu, b, false, g->t);
    g->t += 100 * MS;
}

static void taps(rig_t *g, menu_button_t b, int n)
{
    while (n-- > 0)
        tap(g, b);
}

/* Holds the middle button for 3 s (6.4) and lets go. */
static void open_menu(rig_t *g)
{
    menu_button(&g->menu, MENU_MIDDLE, true, g->t);
    g->t += MENU_HOLD_NS;
    menu_advance(&g->menu, g->t);
    menu_button(&g->menu, MENU_MIDDLE, false, g->t);
    g->t += 100 * MS;
}

/* Enters four password digits from 0000 with >> (6.6). */
static void enter_password(rig_t *g, int pw)
{
    int d[4] = {pw / 1000, pw / 100 % 10, pw / 10 % 10, pw % 10};
    for (int k = 0; k < 4; k++) {
        taps(g, MENU_RIGHT, d[k]);
        tap(g, MENU_MIDDLE);
    }
}

static void goto_item(rig_t *g, const char *section)
{
    int i = 0;
    while (i < menu_item_count() && strcmp(menu_item_section(i), section))
        i++;
    assert_true(i < menu_item_count());
    taps(g, MENU_RIGHT, i); /* the list starts at its first entry */
    assert_int_equal(g->menu.item, i);
}

/* Holds 3 s, password 0000, SEt, the whole way to the settings list. */
static void open_settings(rig_t *g, int pw)
{
    open_menu(g);
    tap(g, MENU_RIGHT); /* bt -> SEt */
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->menu.state, MENU_PASSWORD);
    enter_password(g, pw);
    assert_int_equal(g->menu.state, MENU_LIST);
}

static void test_hold_opens(void **state)
{
    rig_t *g = *state;
    /* A short press does nothing. */
    tap(g, MENU_MIDDLE);
    assert_false(menu_active(&g->menu));
    menu_button(&g->menu, MENU_MIDDLE, true, g->t);
    uint64_t down = g->t;
    assert_int_equal(menu_deadline(&g->menu), down + MENU_HOLD_NS);
    menu_advance(&g->menu, down + MENU_HOLD_NS - 1);
    assert_false(menu_active(&g->menu));
    menu_advance(&g->menu, down + MENU_HOLD_NS);
    assert_true(menu_active(&g->menu));
    assert_int_equal(g->menu.state, MENU_TOP);
    assert_true(g->display.menu);
    assert_true(g->display.icons & DISPLAY_ICON_SET);
    assert_true(g->display.icons & DISPLAY_ICON_BT); /* 6.5: the arrows point at BT */
    /* Releasing after the hold does not act. */
    menu_button(&g->menu, MENU_MIDDLE, false, down + 4 * S);
    assert_int_equal(g->menu.state, MENU_TOP);
    assert_int_equal(g->fake.sets, 0);
}

/* A hold that ran out is seen even if the release is the next call. */
static void test_hold_seen_at_release(void **state)
{
    rig_t *g = *state;
    menu_button(&g->menu, MENU_MIDDLE, true, g->t);
    menu_button(&g->menu, MENU_MIDDLE, false, g->t + MENU_HOLD_NS + S);
    assert_int_equal(g->menu.state, MENU_TOP);
}

/* The walk: hold 3 s, 0000, Modbus ID, 10, confirm. */
static void test_walk_modbus_id(void **state)
{
    rig_t *g = *state;
    open_settings(g, 0);
    goto_item(g, "6.6.6");
    assert_string_equal(g->display.obis.text, "   666"); /* "6.6.6": the manual's section */
    assert_int_equal(g->display.obis.dp, (1u << 3) | (1u << 4));
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->menu.state, MENU_EDIT);
    /* The digit being edited blinks: lit in the first half of each second. */
    uint64_t sec = (g->t / S + 1) * S;
    menu_advance(&g->menu, sec);
    assert_string_equal(g->display.main.text, "Id    001");
    assert_int_equal(display_deadline(&g->display), sec + DISPLAY_BLINK_NS);
    menu_advance(&g->menu, sec + DISPLAY_BLINK_NS);
    assert_string_equal(g->display.main.text, "Id     01");
    g->t = sec + DISPLAY_BLINK_NS + 100 * MS;
    /* 001 -> 010: keep 0, 0 -> 1, 1 -> 0. */
    tap(g, MENU_MIDDLE);
    tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    tap(g, MENU_LEFT);
    assert_int_equal(g->fake.settings.modbus_id, 1); /* nothing until confirmed */
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.settings.modbus_id, 10);
    assert_int_equal(g->menu.state, MENU_LIST);
    assert_string_equal(g->display.main.text, "Id    010");
}

static void test_wrong_password(void **state)
{
    rig_t *g = *state;
    assert_int_equal(settings_set(&g->fake.settings, SETTING_PASSWORD, 1234), SETTINGS_OK);
    open_menu(g);
    tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    uint64_t before = g->t;
    enter_password(g, 0);
    assert_int_equal(g->menu.state, MENU_MESSAGE);
    assert_string_equal(g->display.main.text, " Err PASS");
    uint64_t shown = g->t - 100 * MS * 2; /* the last middle press */
    (void)before;
    assert_int_equal(menu_deadline(&g->menu), shown + MENU_MESSAGE_NS);
    menu_advance(&g->menu, shown + MENU_MESSAGE_NS);
    assert_int_equal(g->menu.state, MENU_TOP);
    /* The right one opens the list. */
    tap(g, MENU_MIDDLE);
    enter_password(g, 1234);
    assert_int_equal(g->menu.state, MENU_LIST);
    assert_int_equal(g->fake.sets, 0);
}

/* 6.6.15: C-05 cannot be left; the refusal shows, the code stays. */
/* 6.6.15: the combination code is "adjustable via Modbus, M-bus &
 * Bluetooth", not with the buttons: the menu shows it and the middle button
 * changes nothing. */
static void test_combination_code_shown_not_edited(void **state)
{
    rig_t *g = *state;
    open_settings(g, 0);
    goto_item(g, "6.6.15");
    assert_string_equal(g->display.main.text, "CodE C-03");
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->menu.state, MENU_LIST);
    tap(g, MENU_RIGHT); /* on to the next item, not to C-04 */
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.settings.combination_code, 3);
    assert_int_equal(g->fake.sets, 0);
    assert_int_equal(settings_set(&g->fake.settings, SETTING_COMBINATION_CODE, 5), SETTINGS_OK);
    open_settings(g, 0);
    goto_item(g, "6.6.15");
    assert_string_equal(g->display.main.text, "CodE C-05");
}

static void test_idle_timeout(void **state)
{
    rig_t *g = *state;
    open_settings(g, 0);
    goto_item(g, "6.6.6");
    tap(g, MENU_MIDDLE);
    tap(g, MENU_RIGHT);
    uint64_t last = g->t - 100 * MS; /* the last release */
    assert_int_equal(menu_deadline(&g->menu), last + MENU_IDLE_NS);
    menu_advance(&g->menu, last + MENU_IDLE_NS - 1);
    assert_true(menu_active(&g->menu));
    menu_advance(&g->menu, last + MENU_IDLE_NS);
    assert_false(menu_active(&g->menu));
    assert_false(g->display.menu);
    assert_int_equal(g->fake.settings.modbus_id, 1); /* the edit was dropped */
    assert_int_equal(g->fake.sets, 0);
}

static void test_bluetooth(void **state)
{
    rig_t *g = *state;
    open_menu(g);
    assert_string_equal(g->display.main.text, "bt    oFF");
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.settings.bluetooth, 1);
    assert_string_equal(g->display.main.text, "bt     on");
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.settings.bluetooth, 0);
}

/* 6.6.12 counts the times the meter was turned off and lists no reset: the
 * menu shows the counter only. 6.6.13: the trip counter "can be set to zero
 * by the user". */
static void test_resets(void **state)
{
    rig_t *g = *state;
    open_settings(g, 0);
    goto_item(g, "6.6.12");
    assert_string_equal(g->display.main.text, "Pd      7");
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->menu.state, MENU_LIST);
    tap(g, MENU_RIGHT);
    tap(g, MENU_LEFT);
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.resets[ACCESS_RESET_POWER_DOWN_COUNTER], 0);
    assert_string_equal(g->display.main.text, "Pd      7");
    tap(g, MENU_RIGHT); /* 6.6.13 trip counter */
    tap(g, MENU_MIDDLE);
    tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.resets[ACCESS_RESET_DAY_COUNTER], 1);
}

/* Every setting of 6.6.1-6.6.14 changes through access->set. */
static void test_every_setting(void **state)
{
    rig_t *g = *state;
    open_settings(g, 0);
    /* 6.6.1 password 0000 -> 0001 */
    tap(g, MENU_MIDDLE);
    taps(g, MENU_MIDDLE, 3);
    tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->fake.settings.password, 1);
    /* 6.6.2 .. 6.6.11, 6.6.14: one step right in each list. */
    const struct {
        const char *section;
        setting_id_t id;
        int32_t want;
    } lists[] = {
        {"6.6.2", SETTING_TARIFF, 2},        {"6.6.3", SETTING_S0_RATE, 10000},
        {"6.6.4", SETTING_PULSE_TYPE, 2},    {"6.6.7", SETTING_MODBUS_BAUD, 7},
        {"6.6.8", SETTING_MODBUS_PARITY, 2}, {"6.6.10", SETTING_MBUS_BAUD, 4800},
        {"6.6.11", SETTING_BACKLIGHT, 0},    {"6.6.14", SETTING_OBIS, 1},
    };
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        while (strcmp(menu_item_section(g->menu.item), lists[k].section))
            tap(g, MENU_RIGHT);
        tap(g, MENU_MIDDLE);
        tap(g, MENU_RIGHT);
        tap(g, MENU_MIDDLE);
        assert_int_equal(settings_get(&g->fake.settings, lists[k].id), lists[k].want);
        assert_int_equal(g->menu.state, MENU_LIST);
    }
    /* 6.6.5 pulse width 30 -> 20; 6.6.9 M-Bus ID 000 -> 250 */
    while (strcmp(menu_item_section(g->menu.item), "6.6.5"))
        tap(g, MENU_LEFT);
    tap(g, MENU_MIDDLE);
    tap(g, MENU_LEFT);
    taps(g, MENU_MIDDLE, 2);
    assert_int_equal(g->fake.settings.pulse_width_ms, 20);
    while (strcmp(menu_item_section(g->menu.item), "6.6.9"))
        tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    taps(g, MENU_RIGHT, 2);
    tap(g, MENU_MIDDLE);
    taps(g, MENU_RIGHT, 5);
    taps(g, MENU_MIDDLE, 2);
    assert_int_equal(g->fake.settings.mbus_id, 250);
    /* An ID out of range is refused by the settings module: 251. */
    tap(g, MENU_MIDDLE);
    tap(g, MENU_MIDDLE);
    tap(g, MENU_MIDDLE);
    tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    assert_int_equal(g->menu.state, MENU_MESSAGE);
    assert_string_equal(g->display.main.text, "Err rAnGE");
    assert_int_equal(g->fake.settings.mbus_id, 250);
    /* End closes the menu. */
    tap(g, MENU_MIDDLE);
    while (strcmp(menu_item_section(g->menu.item), ""))
        tap(g, MENU_RIGHT);
    tap(g, MENU_MIDDLE);
    assert_false(menu_active(&g->menu));
}

/* 6.3: << and >> step the normal display; 7.1: not while the error shows. */
static void test_normal_buttons(void **state)
{
    rig_t *g = *state;
    tap(g, MENU_RIGHT);
    assert_int_equal(g->display.page.kind, DISPLAY_PAGE_SERIAL);
    tap(g, MENU_LEFT);
    assert_int_equal(g->display.page.kind, DISPLAY_PAGE_SOFTWARE);
    g->fake.readings.error_code = 0x01;
    tap(g, MENU_RIGHT);
    assert_int_equal(g->display.page.kind, DISPLAY_PAGE_SOFTWARE);
    open_menu(g);
    assert_false(menu_active(&g->menu));
    assert_true(g->display.error);
}

/* 6.6.11: a touch lights the backlight in button mode. */
static void test_touch_backlight(void **state)
{
    rig_t *g = *state;
    assert_int_equal(settings_set(&g->fake.settings, SETTING_BACKLIGHT, 2), SETTINGS_OK);
    menu_advance(&g->menu, g->t);
    assert_false(g->display.backlight);
    tap(g, MENU_RIGHT);
    assert_true(g->display.backlight);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, rig_setup)
    const struct CMUnitTest tests[] = {
        T(test_hold_opens),
        T(test_hold_seen_at_release),
        T(test_walk_modbus_id),
        T(test_wrong_password),
        T(test_combination_code_shown_not_edited),
        T(test_idle_timeout),
        T(test_bluetooth),
        T(test_resets),
        T(test_every_setting),
        T(test_normal_buttons),
        T(test_touch_backlight),
    };
    return cmocka_run_group_tests_name("menu", tests, NULL, NULL);
}
