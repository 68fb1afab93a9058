/* Tests of the text frontend: the one-line form scenario assertions compare,
 * and the multi-line form for terminals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "display.h"
#include "text/text_lcd.h"

static void readings_init(readings_t *r)
{
    memset(r, 0, sizeof *r);
    settings_defaults(&r->settings, 12345678);
    strcpy(r->serial, "12345678");
    r->tariff = 1;
    r->direction_total = 'F';
}

static void show_page(display_t *d, const readings_t *r, int kind, int group)
{
    display_init(d, 0);
    d->page = (display_page_t){(uint8_t)kind, (uint8_t)group};
    display_advance(d, r, 0);
}

static void test_line_energy(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    settings_set(&r.settings, SETTING_OBIS, 1);
    r.active_forward.tariff[0] = 123.456;
    display_t d;
    show_page(&d, &r, DISPLAY_PAGE_FWD_T1, 0);
    char line[128];
    size_t n = text_lcd_line(&d, line, sizeof line);
    assert_string_equal(line, "1.8.1 000123.456 kWh T1 ->");
    assert_int_equal(n, strlen(line));
}

static void test_line_power(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    settings_set(&r.settings, SETTING_OBIS, 1);
    r.p[0] = -1.5;
    r.tariff = 2;
    r.settings.bluetooth = 1;
    r.comm_active = true;
    display_t d;
    show_page(&d, &r, DISPLAY_PAGE_P, DISPLAY_GROUP_L1);
    char line[128];
    text_lcd_line(&d, line, sizeof line);
    assert_string_equal(line, "22.7.0 -1.500 kW L1 T2 <- BT COMM");
}

static void test_line_error_and_truncation(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    r.error_code = 0x5A;
    display_t d;
    show_page(&d, &r, DISPLAY_PAGE_SOFTWARE, 0);
    char line[128];
    text_lcd_line(&d, line, sizeof line);
    assert_string_equal(line, "Err 5A");
    /* A short buffer is cut, NUL-terminated, and the full length returned. */
    char small[4];
    assert_int_equal(text_lcd_line(&d, small, sizeof small), 6);
    assert_string_equal(small, "Err");
}

static void test_render(void **state)
{
    (void)state;
    readings_t r;
    readings_init(&r);
    r.active_forward.tariff[1] = 8.5;
    r.tariff = 2;
    settings_set(&r.settings, SETTING_SCREEN_DIRECTION, 1);
    display_t d;
    show_page(&d, &r, DISPLAY_PAGE_FWD_T2, 0);
    char buf[1024];
    size_t n = text_lcd_render(&d, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    /* Six lines: icons, field, three segment rows, backlight. */
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 6);
    assert_non_null(strstr(buf, "icons: T2 ->"));
    assert_non_null(strstr(buf, " kWh"));
    assert_non_null(strstr(buf, "turned 180 degrees"));
    /* The last digit is a 0 (segments a b c d e f): "|_|" in the bottom row,
     * and the sixth digit carries the point: "|_|." */
    const char *row3 = buf;
    for (int k = 0; k < 4; k++) /* the fifth line */
        row3 = strchr(row3, '\n') + 1;
    assert_memory_equal(row3 + 3 + 8 * 4, "|_|", 3);
    assert_memory_equal(row3 + 3 + 5 * 4, "|_|.", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_energy),
        cmocka_unit_test(test_line_power),
        cmocka_unit_test(test_line_error_and_truncation),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests_name("text_lcd", tests, NULL, NULL);
}
