/* Button chatter on a real meter (core/meter.h): presses shorter than one
 * sample tick (125 us, core/vtime.h), several hundred a second, at random but
 * seeded instants, for a simulated minute, while the meter measures a fixed
 * grid (sim/waveform.h).
 *
 * After every edge:
 *   - the menu is in a possible state (every index in range, the glass owned
 *     by the menu exactly while it is open, a message only over the list or
 *     the top level, no button left held once the burst is over);
 *   - a transition across the edge is one the menu tree allows (menu.h), and
 *     a release never changes anything (every action is on the press, 6.4 /
 *     docs/display.md decision 11);
 *   - a setting changed only on a middle press that confirms an edit of that
 *     very setting, or Bluetooth on the top level (6.5); the password screen
 *     let through only the password (6.6); a counter reset only on "YES"
 *     confirmed in 6.6.12 / 6.6.13.
 * Afterwards a normal walk (hold 3 s, the password, one setting) works.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "meter.h"
#include "waveform.h"

#define TICKS_PER_MS (VTIME_SAMPLE_RATE / 1000)

typedef struct {
    meter_t m;
    wave_t w;
    uint64_t rng;
    long presses;      /* press edges sent */
    long changes;      /* settings changes seen (all legitimate) */
    long opened_items; /* edits entered */
} rig_t;

static rig_t rig;

/* The manual's section of each settings-list entry and what it changes. */
static const struct {
    const char *section;
    int setting; /* setting_id_t, or -1 for a reset */
} ITEMS[] = {
    {"6.6.1", SETTING_PASSWORD},
    {"6.6.2", SETTING_TARIFF},
    {"6.6.3", SETTING_S0_RATE},
    {"6.6.4", SETTING_PULSE_TYPE},
    {"6.6.5", SETTING_PULSE_WIDTH},
    {"6.6.6", SETTING_MODBUS_ID},
    {"6.6.7", SETTING_MODBUS_BAUD},
    {"6.6.8", SETTING_MODBUS_PARITY},
    {"6.6.9", SETTING_MBUS_ID},
    {"6.6.10", SETTING_MBUS_BAUD},
    {"6.6.11", SETTING_BACKLIGHT},
    {"6.6.12", -1},
    {"6.6.13", -1},
    {"6.6.14", SETTING_OBIS},
    {"6.6.15", SETTING_COMBINATION_CODE},
};
#define N_ITEMS ((int)(sizeof ITEMS / sizeof ITEMS[0]))

static uint64_t rnd(rig_t *g)
{
    /* xorshift64*: reproducible from the seed */
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 2685821657736338717ull;
}

static uint32_t below(rig_t *g, uint32_t n)
{
    return (uint32_t)((rnd(g) >> 32) % n);
}

static void run(rig_t *g, uint64_t ticks)
{
    static metrology_sample_t buf[2000];
    while (ticks > 0) {
        size_t n = ticks < 2000 ? (size_t)ticks : 2000;
        wave_fill(&g->w, buf, n);
        meter_exec(&g->m, buf, n);
        ticks -= n;
    }
}

static void setup_meter(rig_t *g, int32_t password, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    settings_t s;
    settings_defaults(&s, 12345678);
    assert_int_equal(settings_set(&s, SETTING_PASSWORD, password), SETTINGS_OK);
    meter_init(&g->m, &(meter_desc_t){.serial = "13070001", .settings = &s});
    meter_preset_power_down_count(&g->m, 5); /* something a 6.6.12 reset would show */
    wave_desc_t wd;
    wave_desc_balanced(&wd, 50.0, 230.0, 10.0, wave_lag_from_pf(0.95, 0, 0));
    wave_init(&g->w, &wd);
    g->rng = seed;
    run(g, 2 * VTIME_SAMPLE_RATE); /* past the first measurement windows */
}

/* ------------------------------------------------------------------------ */
/* What must hold                                                            */

static void snapshot(const meter_t *m, int32_t out[SETTING_COUNT], readings_t *r)
{
    meter_readings(m, r);
    for (int id = 0; id < SETTING_COUNT; id++)
        out[id] = settings_get(&r->settings, (setting_id_t)id);
}

static int32_t digits4(const menu_t *mn)
{
    return mn->digits[0] * 1000 + mn->digits[1] * 100 + mn->digits[2] * 10 + mn->digits[3];
}

static int item_setting(int item)
{
    for (int i = 0; i < N_ITEMS; i++)
        if (strcmp(menu_item_section(item), ITEMS[i].section) == 0)
            return ITEMS[i].setting;
    return -2; /* End */
}

/* Entries edited digit by digit (docs/display.md decision 14). */
static bool is_choice_item(int item)
{
    int id = item_setting(item);
    return !(id == SETTING_PASSWORD || id == SETTING_PULSE_WIDTH || id == SETTING_MODBUS_ID ||
             id == SETTING_MBUS_ID);
}

/* A state the menu can be in (menu.h). */
static void check_possible(const meter_t *m)
{
    const menu_t *mn = &m->menu;
    const display_t *d = meter_display(m);
    assert_in_range(mn->state, MENU_NORMAL, MENU_MESSAGE);
    assert_in_range(mn->top, 0, MENU_TOP_COUNT - 1);
    assert_in_range(mn->item, 0, menu_item_count() - 1);
    /* the cursor means something only while digits are being entered */
    if (mn->state == MENU_PASSWORD ||
        (mn->state == MENU_EDIT && item_setting(mn->item) >= 0 && !is_choice_item(mn->item)))
        assert_in_range(mn->cursor, 0, MENU_DIGITS_MAX - 1);
    for (int k = 0; k < MENU_DIGITS_MAX; k++)
        assert_in_range(mn->digits[k], 0, 9);
    assert_in_range(mn->choice, 0, 9); /* the longest list: 10 Modbus baud rates */
    if (mn->state == MENU_MESSAGE) {
        assert_true(mn->after_message == MENU_TOP || mn->after_message == MENU_LIST);
        assert_memory_equal(mn->message, "Err ", 4);
    }
    assert_int_equal(d->menu, mn->state != MENU_NORMAL);
    assert_false(d->error);
    assert_in_range(d->page.kind, 0, DISPLAY_PAGE_KIND_COUNT - 1);
    assert_in_range(d->page.group, DISPLAY_GROUP_TOTAL, DISPLAY_GROUP_L3);
    for (int k = 0; k < DISPLAY_MAIN_DIGITS; k++) /* only what the glass can show */
        assert_true(d->main.text[k] == ' ' || display_segments(d->main.text[k]) != 0);
    if (mn->state != MENU_NORMAL)
        assert_true(d->icons & DISPLAY_ICON_SET);
}

/* The menu tree's transitions on a press (menu.h); timers do not run out
 * during chatter, which touches far more often than every 2 s. */
static bool allowed(menu_state_t from, menu_state_t to, menu_state_t after_message)
{
    if (from == to)
        return true;
    switch (from) {
    case MENU_NORMAL:
        return false; /* only a 3 s hold opens the menu */
    case MENU_TOP:
        return to == MENU_PASSWORD || to == MENU_NORMAL;
    case MENU_PASSWORD:
        return to == MENU_LIST || to == MENU_MESSAGE;
    case MENU_LIST:
        return to == MENU_EDIT || to == MENU_NORMAL;
    case MENU_EDIT:
        return to == MENU_LIST || to == MENU_MESSAGE;
    case MENU_MESSAGE:
        return to == after_message;
    }
    return false;
}

/* One edge, with every check around it. */
static void edge(rig_t *g, menu_button_t b, bool pressed)
{
    meter_t *m = &g->m;
    int32_t before[SETTING_COUNT], after[SETTING_COUNT];
    readings_t rb, ra;
    snapshot(m, before, &rb);
    menu_t pre = m->menu;

    meter_button(m, b, pressed);
    g->presses += pressed;

    snapshot(m, after, &ra);
    const menu_t *post = &m->menu;
    check_possible(m);
    bool middle_press = pressed && b == MENU_MIDDLE;

    if (!pressed) { /* a release does nothing but end the press */
        assert_int_equal(post->state, pre.state);
        assert_memory_equal(before, after, sizeof before);
        return;
    }
    if (!allowed(pre.state, post->state, pre.after_message))
        fail_msg("menu went from state %d to %d on a press of %d", pre.state, post->state, b);
    if (pre.state == MENU_PASSWORD && post->state == MENU_LIST) {
        assert_true(middle_press);
        assert_int_equal(pre.cursor, 3);
        assert_int_equal(digits4(&pre), before[SETTING_PASSWORD]);
    }
    if (post->state == MENU_EDIT && pre.state == MENU_LIST)
        g->opened_items++;

    /* A faster S0 rate narrows the pulse width with it (settings.c,
     * docs/decisions.md): that one follows, never leads. */
    if (before[SETTING_S0_RATE] != after[SETTING_S0_RATE] &&
        before[SETTING_PULSE_WIDTH] != after[SETTING_PULSE_WIDTH]) {
        assert_int_equal(after[SETTING_PULSE_WIDTH],
                         settings_max_pulse_width((uint32_t)after[SETTING_S0_RATE]));
        assert_true(after[SETTING_PULSE_WIDTH] < before[SETTING_PULSE_WIDTH]);
        before[SETTING_PULSE_WIDTH] = after[SETTING_PULSE_WIDTH];
    }
    int changed = -1, n_changed = 0;
    for (int id = 0; id < SETTING_COUNT; id++)
        if (before[id] != after[id]) {
            changed = id;
            n_changed++;
        }
    if (n_changed) {
        g->changes++;
        assert_int_equal(n_changed, 1);
        assert_true(middle_press);
        if (pre.state == MENU_TOP) {
            assert_int_equal(pre.top, MENU_TOP_BLUETOOTH);
            assert_int_equal(changed, SETTING_BLUETOOTH);
        } else {
            assert_int_equal(pre.state, MENU_EDIT);
            assert_int_equal(changed, item_setting(pre.item));
        }
    }
    if (ra.power_down_count < rb.power_down_count) {
        assert_true(middle_press && pre.state == MENU_EDIT && pre.choice == 1);
        assert_string_equal(menu_item_section(pre.item), "6.6.12");
    }
    if (ra.resettable < rb.resettable) {
        assert_true(middle_press && pre.state == MENU_EDIT && pre.choice == 1);
        assert_string_equal(menu_item_section(pre.item), "6.6.13");
    }
}

/* Chatter for `seconds`: every 1-50 ticks (one every 3 ms on average) a burst
 * of one to three presses, sometimes overlapping, every one released in the
 * same tick. `which` limits the buttons (bit per button). */
static void chatter(rig_t *g, double seconds, unsigned which)
{
    uint64_t end = g->m.tick + (uint64_t)(seconds * VTIME_SAMPLE_RATE);
    while (g->m.tick < end) {
        run(g, 1 + below(g, 50));
        int n = 1 + (int)below(g, 3);
        for (int k = 0; k < n; k++) {
            menu_button_t b;
            do
                b = (menu_button_t)below(g, MENU_BUTTON_COUNT);
            while (!(which & (1u << b)));
            edge(g, b, true);
            if (below(g, 4) == 0) { /* a second finger before the first lets go */
                menu_button_t c = (menu_button_t)((b + 1 + below(g, 2)) % MENU_BUTTON_COUNT);
                if (which & (1u << c)) {
                    edge(g, c, true);
                    edge(g, b, false);
                    edge(g, c, false);
                    continue;
                }
            }
            if (below(g, 8) == 0)
                edge(g, b, true); /* a bounce: the same press reported twice */
            edge(g, b, false);
        }
        for (int k = 0; k < MENU_BUTTON_COUNT; k++)
            assert_false(g->m.menu.held[k]);
    }
}

/* ------------------------------------------------------------------------ */
/* A person's walk                                                           */

static void touch(rig_t *g, menu_button_t b)
{
    edge(g, b, true);
    run(g, 100 * TICKS_PER_MS);
    edge(g, b, false);
    run(g, 100 * TICKS_PER_MS);
}

static void touches(rig_t *g, menu_button_t b, int n)
{
    for (int k = 0; k < n; k++)
        touch(g, b);
}

/* Hold the middle button 3 s (6.4): the menu opens on the top level. */
static void hold_open(rig_t *g)
{
    assert_int_equal(g->m.menu.state, MENU_NORMAL);
    meter_button(&g->m, MENU_MIDDLE, true);
    run(g, 3 * VTIME_SAMPLE_RATE);
    assert_int_equal(g->m.menu.state, MENU_TOP);
    meter_button(&g->m, MENU_MIDDLE, false);
    run(g, 100 * TICKS_PER_MS);
    assert_int_equal(g->m.menu.top, MENU_TOP_BLUETOOTH);
}

/* From the top level: >> to SEt, middle, the password digit by digit (6.6). */
static void enter_password(rig_t *g, int32_t password)
{
    touch(g, MENU_RIGHT);
    assert_int_equal(g->m.menu.top, MENU_TOP_SETTINGS);
    touch(g, MENU_MIDDLE);
    assert_int_equal(g->m.menu.state, MENU_PASSWORD);
    int d[4] = {password / 1000, password / 100 % 10, password / 10 % 10, password % 10};
    for (int k = 0; k < 4; k++) {
        touches(g, MENU_RIGHT, d[k]);
        touch(g, MENU_MIDDLE);
    }
    assert_int_equal(g->m.menu.state, MENU_LIST);
    assert_string_equal(menu_item_section(g->m.menu.item), "6.6.1");
}

/* The whole walk after the chatter: wait for the menu to time out, open it,
 * the password, change the Modbus ID (6.6.6) digit by digit, End. */
static void normal_walk(rig_t *g)
{
    run(g, (MENU_IDLE_NS / VTIME_NS_PER_S + 1) * VTIME_SAMPLE_RATE);
    assert_int_equal(g->m.menu.state, MENU_NORMAL);
    assert_false(meter_display(&g->m)->menu);

    readings_t r;
    meter_readings(&g->m, &r);
    int32_t id = r.settings.modbus_id, want = id == 42 ? 43 : 42;
    hold_open(g);
    enter_password(g, r.settings.password);
    touches(g, MENU_RIGHT, 5);
    assert_string_equal(menu_item_section(g->m.menu.item), "6.6.6");
    touch(g, MENU_MIDDLE);
    assert_int_equal(g->m.menu.state, MENU_EDIT);
    int cur[3] = {id / 100, id / 10 % 10, id % 10},
        tgt[3] = {want / 100, want / 10 % 10, want % 10};
    for (int k = 0; k < 3; k++) {
        touches(g, MENU_RIGHT, (tgt[k] - cur[k] + 10) % 10);
        touch(g, MENU_MIDDLE);
    }
    assert_int_equal(g->m.menu.state, MENU_LIST);
    meter_readings(&g->m, &r);
    assert_int_equal(r.settings.modbus_id, want);
    /* on to End (the last entry) and out */
    touches(g, MENU_RIGHT, menu_item_count() - 1 - g->m.menu.item);
    assert_string_equal(menu_item_section(g->m.menu.item), "");
    touch(g, MENU_MIDDLE);
    assert_int_equal(g->m.menu.state, MENU_NORMAL);
    assert_false(meter_display(&g->m)->menu);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */

/* A minute of chatter on the normal display: no press lasts 3 s, so the
 * menu never opens and nothing changes; the pages step (6.3). Then the walk
 * with the factory password 0000. */
static void test_chatter_normal_display(void **state)
{
    (void)state;
    rig_t *g = &rig;
    setup_meter(g, 0, 0x5eed0001u);
    readings_t r0, r1;
    int32_t s0[SETTING_COUNT], s1[SETTING_COUNT];
    snapshot(&g->m, s0, &r0);
    chatter(g, 60.0, 7u);
    snapshot(&g->m, s1, &r1);
    assert_memory_equal(s0, s1, sizeof s0);
    assert_int_equal(g->changes, 0);
    assert_true(g->presses > 100 * 60); /* hundreds a second */
    assert_int_equal(g->m.menu.state, MENU_NORMAL);
    assert_true(r1.active_forward.total > r0.active_forward.total); /* it kept measuring */
    normal_walk(g);
}

/* Chatter inside the menu: sixty rounds of 1 s; whenever the chatter has
 * left the menu (End), a person opens it again (on the top level, or the
 * settings list behind the password, 4711 at first). Whatever chatter confirms is legitimate;
 * nothing else changes (checked at every edge). Then the walk with the password as it is now
 * (chatter may have confirmed a new one). */
static void test_chatter_in_menu(void **state)
{
    (void)state;
    rig_t *g = &rig;
    setup_meter(g, 4711, 0x5eed0002u);
    for (int round = 0; round < 60; round++) {
        if (g->m.menu.state == MENU_NORMAL) {
            hold_open(g);
            if (round % 2) {
                readings_t r;
                meter_readings(&g->m, &r);
                enter_password(g, r.settings.password);
            }
        }
        chatter(g, 1.0, 7u);
    }
    assert_true(g->presses > 100 * 60);
    assert_true(g->opened_items > 0); /* the chatter did reach the edits */
    print_message("# presses %ld, settings changes %ld, edits opened %ld, tick %llu\n", g->presses,
                  g->changes, g->opened_items, (unsigned long long)g->m.tick);
    normal_walk(g);
}

/* Chatter of << and >> only, in the password screen and the list: with no
 * middle press nothing can be confirmed, so no setting changes at all. */
static void test_chatter_without_middle_changes_nothing(void **state)
{
    (void)state;
    rig_t *g = &rig;
    setup_meter(g, 0, 0x5eed0003u);
    hold_open(g);
    touch(g, MENU_RIGHT);
    touch(g, MENU_MIDDLE);
    assert_int_equal(g->m.menu.state, MENU_PASSWORD);
    chatter(g, 20.0, (1u << MENU_LEFT) | (1u << MENU_RIGHT));
    assert_int_equal(g->m.menu.state, MENU_PASSWORD);
    assert_int_equal(g->m.menu.cursor, 0);
    run(g, (MENU_IDLE_NS / VTIME_NS_PER_S + 1) * VTIME_SAMPLE_RATE);
    hold_open(g);
    enter_password(g, 0);
    chatter(g, 20.0, (1u << MENU_LEFT) | (1u << MENU_RIGHT));
    assert_int_equal(g->m.menu.state, MENU_LIST);
    assert_int_equal(g->changes, 0);
    normal_walk(g);
}

/* A button number that does not exist is ignored. */
/* The core's assertions report to cmocka here (meter_assert.h). */
void meter_assert_fail(const char *expr, const char *file, int line)
{
    mock_assert(0, expr, file, line);
}

/* A button that does not exist is a programmer's mistake: the facade's
 * assertion stops it before it reaches the menu, which stays as it was. */
static void test_unknown_button_asserts(void **state)
{
    (void)state;
    rig_t *g = &rig;
    setup_meter(g, 0, 1);
    menu_t pre = g->m.menu;
    expect_assert_failure(meter_button(&g->m, (menu_button_t)MENU_BUTTON_COUNT, true));
    expect_assert_failure(meter_button(&g->m, (menu_button_t)-1, true));
    expect_assert_failure(meter_button(&g->m, (menu_button_t)200, false));
    assert_memory_equal(&pre, &g->m.menu, sizeof pre);
    normal_walk(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatter_normal_display),
        cmocka_unit_test(test_chatter_in_menu),
        cmocka_unit_test(test_chatter_without_middle_changes_nothing),
        cmocka_unit_test(test_unknown_button_asserts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
