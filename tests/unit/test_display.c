/* Tests of the LCD model and its page sequencer (manual 6.1-6.3, 6.6.11,
 * 6.6.14, 7.1, A1.2, A3.3; the decisions of docs/display.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "display.h"
#include "vtime.h"

#define S VTIME_NS_PER_S

static void readings_init(readings_t *r)
{
    memset(r, 0, sizeof *r);
    settings_defaults(&r->settings, 12345678);
    strcpy(r->serial, "1912345678");
    r->software_version = 1.05f;
    r->checksum = 0x1A2Bu;
    r->tariff = 1;
    r->frequency = 50.0;
    r->direction_total = 'F';
    r->direction[0] = r->direction[1] = r->direction[2] = 'F';
    r->quadrant_total = 1;
}

/* Shows page (kind, group) at `t` as the sequencer would. */
static void show_page(display_t *d, const readings_t *r, int kind, int group, uint64_t t)
{
    display_advance(d, r, t);
    d->page = (display_page_t){(uint8_t)kind, (uint8_t)group};
    d->page_since_ns = t;
    display_advance(d, r, t);
}

/* The text of a field with its points, e.g. "000123.456". */
static void field_str(const display_field_t *f, int n, char *out)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (f->text[i] != ' ' || k)
            out[k++] = f->text[i];
        if (f->dp & (1u << i))
            out[k++] = '.';
    }
    out[k] = '\0';
}

static void test_segments(void **state)
{
    (void)state;
    enum {
        A = DISPLAY_SEG_A,
        B = DISPLAY_SEG_B,
        C = DISPLAY_SEG_C,
        D = DISPLAY_SEG_D,
        E = DISPLAY_SEG_E,
        F = DISPLAY_SEG_F,
        G = DISPLAY_SEG_G
    };
    assert_int_equal(display_segments('8'), A | B | C | D | E | F | G);
    assert_int_equal(display_segments('1'), B | C);
    assert_int_equal(display_segments('0'), A | B | C | D | E | F);
    assert_int_equal(display_segments('E'), A | D | E | F | G);
    assert_int_equal(display_segments('r'), E | G);
    assert_int_equal(display_segments('-'), G);
    assert_int_equal(display_segments(' '), 0);

    display_field_t f;
    display_field_set(&f, DISPLAY_MAIN_DIGITS, "000123.456");
    assert_string_equal(f.text, "000123456");
    assert_int_equal(f.dp, 1u << 5); /* the point after the sixth digit (6 + 3, 6.2) */
    display_field_set(&f, DISPLAY_MAIN_DIGITS, "1.5");
    assert_string_equal(f.text, "       15");
    assert_int_equal(f.dp, 1u << 7);
    assert_int_equal(f.seg[0], 0);
}

/* A scripted minute at lcd_cycle_s = 4: part 1 pages each 10 s (6.1), every
 * other page lcd_cycle_s (A3.3 0x4010), in the order of docs/display.md. */
static void test_scripted_minute(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    assert_int_equal(settings_set(&r.settings, SETTING_LCD_CYCLE, 4), SETTINGS_OK);
    assert_int_equal(settings_set(&r.settings, SETTING_OBIS, 1), SETTINGS_OK);
    const uint64_t part1 = 10 * S, cycle = (uint64_t)r.settings.lcd_cycle_s * S;
    const struct {
        int kind;
        const char *small;
    } expect[] = {
        {DISPLAY_PAGE_SOFTWARE, "SoFt"},   {DISPLAY_PAGE_SERIAL, "Sn"},
        {DISPLAY_PAGE_CRC, "CrC"},         {DISPLAY_PAGE_TOTAL, "totAL"},
        {DISPLAY_PAGE_FWD_TOTAL, "1.8.0"}, {DISPLAY_PAGE_REV_TOTAL, "2.8.0"},
        {DISPLAY_PAGE_FWD_T1, "1.8.1"},    {DISPLAY_PAGE_FWD_T2, "1.8.2"},
        {DISPLAY_PAGE_REV_T1, "2.8.1"},    {DISPLAY_PAGE_REV_T2, "2.8.2"},
        {DISPLAY_PAGE_DIRECTION, "dir"},
    };
    uint64_t start[11];
    for (int i = 0; i < 11; i++)
        start[i] = i <= 3 ? (uint64_t)i * part1 : 3 * part1 + (uint64_t)(i - 3) * cycle;
    assert_true(start[10] < 60 * S);

    display_t d;
    display_init(&d, 0);
    int seen = 0;
    for (uint64_t t = 0; t <= 60 * S; t += S / 4) {
        display_advance(&d, &r, t);
        int want = 0;
        while (want + 1 < 11 && start[want + 1] <= t)
            want++;
        assert_int_equal(d.page.kind, expect[want].kind);
        assert_int_equal(d.page.group, DISPLAY_GROUP_TOTAL);
        char small[16];
        field_str(&d.obis, DISPLAY_OBIS_DIGITS, small);
        assert_string_equal(small, expect[want].small);
        if (want + 1 < 11)
            assert_int_equal(display_deadline(&d), start[want + 1]);
        if (want > seen)
            seen = want;
    }
    assert_int_equal(seen, 10);
}

static void test_part1_values(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t d;
    display_init(&d, 0);
    char s[32];
    show_page(&d, &r, DISPLAY_PAGE_SOFTWARE, 0, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "1.05");
    assert_true(d.icons & DISPLAY_ICON_KWH); /* 6.1: the MID unit */
    assert_true(d.icons & DISPLAY_ICON_T1);  /* 6.1: the actual tariff */
    show_page(&d, &r, DISPLAY_PAGE_SERIAL, 0, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "12345678"); /* the last eight digits, as Modbus 0x4000 */
    show_page(&d, &r, DISPLAY_PAGE_CRC, 0, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "1A2b");
}

/* 6.2: a 6 + 3 digit field; after 999999.999 it shows 000000.000. */
static void test_rollover(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t d;
    display_init(&d, 0);
    char s[32];
    r.active_forward.tariff[0] = 999999.999;
    show_page(&d, &r, DISPLAY_PAGE_FWD_T1, 0, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "999999.999");
    r.active_forward.tariff[0] = 1000000.0;
    display_advance(&d, &r, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "000000.000");
    r.active_forward.tariff[0] = 1000123.456;
    display_advance(&d, &r, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "000123.456");
    r.active_forward.tariff[0] = 0.0004; /* truncated, never rounded up */
    display_advance(&d, &r, 0);
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "000000.000");
    assert_true(d.icons & DISPLAY_ICON_T1);
    assert_true(d.icons & DISPLAY_ICON_ARROW_FWD);
    assert_false(d.icons & DISPLAY_ICON_MINUS);
}

static bool has_page(const readings_t *r, int kind)
{
    display_page_t p[DISPLAY_PAGES_MAX];
    int n = display_pages(r, p);
    for (int i = 0; i < n; i++)
        if (p[i].kind == kind)
            return true;
    return false;
}

/* 6.6.2, A1.2: T3/T4 join part 2 once activated, for good, right after T1/T2. */
static void test_t34(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    for (int k = DISPLAY_PAGE_FWD_T3; k <= DISPLAY_PAGE_REV_T4; k++)
        assert_false(has_page(&r, k));
    assert_int_equal(settings_set(&r.settings, SETTING_TARIFF, 3), SETTINGS_OK);
    assert_int_equal(settings_set(&r.settings, SETTING_TARIFF, 1), SETTINGS_OK);
    assert_true(r.settings.t34_activated);
    display_page_t p[DISPLAY_PAGES_MAX];
    int n = display_pages(&r, p);
    int i = 0;
    while (i < n && p[i].kind != DISPLAY_PAGE_REV_T2)
        i++;
    assert_true(i + 4 < n);
    assert_int_equal(p[i + 1].kind, DISPLAY_PAGE_FWD_T3);
    assert_int_equal(p[i + 2].kind, DISPLAY_PAGE_FWD_T4);
    assert_int_equal(p[i + 3].kind, DISPLAY_PAGE_REV_T3);
    assert_int_equal(p[i + 4].kind, DISPLAY_PAGE_REV_T4);

    /* The sequencer reaches them: 1.8.3 comes lcd_cycle_s after 2.8.2. */
    assert_int_equal(settings_set(&r.settings, SETTING_OBIS, 1), SETTINGS_OK);
    r.active_forward.tariff[2] = 42.5;
    display_t d;
    display_init(&d, 0);
    show_page(&d, &r, DISPLAY_PAGE_REV_T2, 0, 0);
    display_advance(&d, &r, (uint64_t)r.settings.lcd_cycle_s * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_FWD_T3);
    char s[32];
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, "1.8.3");
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "000042.500");
    assert_true(d.icons & DISPLAY_ICON_T3);
    assert_false(d.icons & DISPLAY_ICON_T1); /* the register's tariff, not the one in use */
}

/* 6.6.14: OBIS codes on or off; 21.7.0 + 20 per phase, +1 for reverse. */
static void test_obis(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    r.p[1] = -1.5;
    display_t d;
    display_init(&d, 0);
    char s[32];
    show_page(&d, &r, DISPLAY_PAGE_P, DISPLAY_GROUP_L2, 0);
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, ""); /* off by default, and P needs no label */
    assert_int_equal(settings_set(&r.settings, SETTING_OBIS, 1), SETTINGS_OK);
    display_advance(&d, &r, 0);
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, "42.7.0");
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "1.500");
    assert_true(d.icons & DISPLAY_ICON_MINUS);
    assert_true(d.icons & DISPLAY_ICON_ARROW_REV);
    assert_true(d.icons & DISPLAY_ICON_KW);
    assert_true(d.icons & DISPLAY_ICON_L2);
    assert_false(d.icons & (DISPLAY_ICON_L1 | DISPLAY_ICON_L3));

    r.current[2] = 12.25;
    show_page(&d, &r, DISPLAY_PAGE_CURRENT, DISPLAY_GROUP_L3, 0);
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, "71.7.0");
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "12.250");
    show_page(&d, &r, DISPLAY_PAGE_VOLTAGE, DISPLAY_GROUP_L1, 0);
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, "32.7.0");
    show_page(&d, &r, DISPLAY_PAGE_S, DISPLAY_GROUP_TOTAL, 0);
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, "9.7.0");
    show_page(&d, &r, DISPLAY_PAGE_PF, DISPLAY_GROUP_TOTAL, 0);
    field_str(&d.obis, DISPLAY_OBIS_DIGITS, s);
    assert_string_equal(s, "PF"); /* no code in 6.6.14: the label */
}

static void test_rotated(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t d;
    display_init(&d, 0);
    display_advance(&d, &r, 0);
    assert_false(d.rotated);
    assert_int_equal(settings_set(&r.settings, SETTING_SCREEN_DIRECTION, 1), SETTINGS_OK);
    display_advance(&d, &r, S);
    assert_true(d.rotated);
}

/* 7.1: "Err XX", XX the error byte in hex; the scroll does not show. */
static void test_error(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    r.error_code = 0x41;
    display_t d;
    display_init(&d, 0);
    display_advance(&d, &r, 0);
    assert_true(d.error);
    assert_string_equal(d.main.text, "   Err 41");
    assert_int_equal(d.main.seg[3],
                     DISPLAY_SEG_A | DISPLAY_SEG_D | DISPLAY_SEG_E | DISPLAY_SEG_F | DISPLAY_SEG_G);
    assert_string_equal(d.obis.text, "      ");
    r.error_code = 0xA0;
    display_advance(&d, &r, 0);
    assert_string_equal(d.main.text, "   Err A0");
    /* The meter stopped: no scrolling behind the error. */
    display_advance(&d, &r, 100 * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_SOFTWARE);
    r.error_code = 0;
    display_advance(&d, &r, 100 * S);
    assert_false(d.error);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_SOFTWARE);
    assert_int_equal(display_deadline(&d), 100 * S + DISPLAY_PART1_NS);
}

/* 6.6.11: off, always on, or on for DISPLAY_BACKLIGHT_BUTTON_NS after a touch. */
static void test_backlight(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t d;
    display_init(&d, 0);
    display_advance(&d, &r, 0);
    assert_true(d.backlight); /* default: always on */
    assert_int_equal(settings_set(&r.settings, SETTING_BACKLIGHT, 0), SETTINGS_OK);
    display_touch(&d, S);
    display_advance(&d, &r, S);
    assert_false(d.backlight);
    assert_int_equal(settings_set(&r.settings, SETTING_BACKLIGHT, 2), SETTINGS_OK);
    display_advance(&d, &r, 2 * S);
    assert_true(d.backlight);                      /* 1 s after the touch above */
    const uint64_t touch = 100 * S, hold = 60 * S; /* the documented minute */
    display_advance(&d, &r, touch - 1);
    assert_false(d.backlight);
    display_touch(&d, touch);
    display_advance(&d, &r, touch);
    assert_true(d.backlight);
    assert_true(display_deadline(&d) <= touch + hold);
    display_advance(&d, &r, touch + hold - 1);
    assert_true(d.backlight);
    display_advance(&d, &r, touch + hold);
    assert_false(d.backlight);
}

static void test_icons(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    r.tariff = 2;
    display_t d;
    display_init(&d, 0);
    show_page(&d, &r, DISPLAY_PAGE_FREQUENCY, 0, 0);
    assert_false(d.icons & (DISPLAY_ICON_BT | DISPLAY_ICON_COMM));
    assert_true(d.icons & DISPLAY_ICON_T2);
    assert_true(d.icons & DISPLAY_ICON_HZ);
    r.settings.bluetooth = 1;
    r.comm_active = true;
    display_advance(&d, &r, 0);
    assert_true(d.icons & DISPLAY_ICON_BT);
    assert_true(d.icons & DISPLAY_ICON_COMM);
    char s[32];
    field_str(&d.main, DISPLAY_MAIN_DIGITS, s);
    assert_string_equal(s, "50.00");
}

/* 6.3: the buttons step pages by hand; the scroll resumes a cycle later. */
static void test_step(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t d;
    display_init(&d, 0);
    display_step(&d, &r, +1, 3 * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_SERIAL);
    assert_int_equal(display_deadline(&d), 3 * S + DISPLAY_PART1_NS);
    display_step(&d, &r, -1, 4 * S);
    display_step(&d, &r, -1, 5 * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_CURRENT); /* wraps to the end */
    assert_int_equal(d.page.group, DISPLAY_GROUP_L3);
    display_advance(&d, &r, 5 * S + (uint64_t)r.settings.lcd_cycle_s * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_SOFTWARE);
}

/* 6.3: part 3 is browsed by group, "Total - L1 - L2 - L3": a press moves to
 * the next group (the same quantity there), not to the next page. */
static void test_step_part3_by_group(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t d;
    display_init(&d, 0);
    show_page(&d, &r, DISPLAY_PAGE_P, DISPLAY_GROUP_TOTAL, S);
    display_step(&d, &r, +1, 2 * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_P);
    assert_int_equal(d.page.group, DISPLAY_GROUP_L1);
    display_step(&d, &r, +1, 3 * S);
    display_step(&d, &r, +1, 4 * S);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_P);
    assert_int_equal(d.page.group, DISPLAY_GROUP_L3);
    display_step(&d, &r, -1, 5 * S);
    assert_int_equal(d.page.group, DISPLAY_GROUP_L2);
    display_step(&d, &r, +1, 6 * S);
    display_step(&d, &r, +1, 7 * S); /* past L3: on to part 1 */
    assert_int_equal(d.page.kind, DISPLAY_PAGE_SOFTWARE);
    /* Frequency is shown in the Total group only: L1's first page instead. */
    show_page(&d, &r, DISPLAY_PAGE_FREQUENCY, DISPLAY_GROUP_TOTAL, 8 * S);
    display_step(&d, &r, +1, 9 * S);
    assert_int_equal(d.page.group, DISPLAY_GROUP_L1);
    assert_int_equal(d.page.kind, DISPLAY_PAGE_DIRECTION);
    /* Before Total: back to part 2's last page. */
    show_page(&d, &r, DISPLAY_PAGE_Q, DISPLAY_GROUP_TOTAL, 10 * S);
    display_step(&d, &r, -1, 11 * S);
    assert_true(d.page.kind < DISPLAY_PAGE_DIRECTION && d.page.kind >= DISPLAY_PAGE_TOTAL);
}

/* A long gap (a day) lands where stepping second by second would. */
static void test_long_gap(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    display_t a, b;
    display_init(&a, 0);
    display_init(&b, 0);
    const uint64_t end = 86400 * S + 7 * S;
    for (uint64_t t = 0; t <= end; t += S)
        display_advance(&a, &r, t);
    display_advance(&b, &r, end);
    assert_int_equal(a.page.kind, b.page.kind);
    assert_int_equal(a.page.group, b.page.group);
    assert_int_equal(a.page_since_ns, b.page_since_ns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments),     cmocka_unit_test(test_scripted_minute),
        cmocka_unit_test(test_part1_values), cmocka_unit_test(test_rollover),
        cmocka_unit_test(test_t34),          cmocka_unit_test(test_obis),
        cmocka_unit_test(test_rotated),      cmocka_unit_test(test_error),
        cmocka_unit_test(test_backlight),    cmocka_unit_test(test_icons),
        cmocka_unit_test(test_step),         cmocka_unit_test(test_step_part3_by_group),
        cmocka_unit_test(test_long_gap),
    };
    return cmocka_run_group_tests_name("display", tests, NULL, NULL);
}
