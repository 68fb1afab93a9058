/* screenshot: deterministic pictures of the SDL window (frontends/sdl), for
 * tests/sdl/test_screenshots.sh, which builds and runs it:
 *
 *   SDL_VIDEODRIVER=offscreen build/tests/sdl_screenshot OUTDIR
 *
 * writes OUTDIR/normal.bmp, menu.bmp, error.bmp and dark.bmp and prints one
 * line per picture: "NAME: <the LCD's text form>" (text_lcd_line()).
 *
 *   normal  a real meter (core/meter.h) on a fixed balanced grid (230 V,
 *           10 A, PF 0.95 inductive, no noise: sim/waveform.h) at 45 s of
 *           virtual time: page 1.8.0 (forward total, docs/display.md)
 *   menu    the same meter after the middle button held 3 s (6.4), >> to
 *           SEt, the password 0000 (6.6) and five >>: list entry 6.6.6
 *           (Modbus ID)
 *   error   a second meter loaded from the first one's memory image with
 *           both integer copies corrupted (core/nvm.h, 7.1): "Err 61"
 *   dark    the first meter without supply: blank glass
 *
 * Nothing depends on the wall clock: virtual time only, a fixed status line,
 * no pulse LED. Each state is also checked here (page, menu, error byte):
 * a picture of the wrong state exits 1 before anything is compared.
 */
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter.h"
#include "nvm.h"
#include "sdl/sdl_view.h"
#include "text/text_lcd.h"
#include "waveform.h"

#define CURRENT_A 10.0
#define STATUS "screenshot test: fixed waveform, virtual time"

static wave_t wave_a, wave_b;

/* Runs `m` for `ticks` samples of `w`. */
static void run(meter_t *m, wave_t *w, uint64_t ticks)
{
    static metrology_sample_t buf[4000];
    while (ticks > 0) {
        size_t n = ticks < 4000 ? (size_t)ticks : 4000;
        wave_fill(w, buf, n);
        meter_exec(m, buf, n);
        ticks -= n;
    }
}

static uint64_t ms(uint64_t v)
{
    return v * VTIME_SAMPLE_RATE / 1000;
}

/* One touch: press, 100 ms, release, 200 ms. */
static void touch(meter_t *m, wave_t *w, menu_button_t b)
{
    meter_button(m, b, true);
    run(m, w, ms(100));
    meter_button(m, b, false);
    run(m, w, ms(200));
}

static int failures;

static void expect(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "screenshot: not in the expected state: %s\n", what);
        failures++;
    }
}

static bool shot(sdl_view_t *v, const char *dir, const char *name, const meter_t *m, bool supply)
{
    readings_t r;
    meter_readings(m, &r);
    sdl_view_panel_t panel = {
        .supply_on = supply,
        .tariff_input = meter_tariff_input(m),
        .led_on = false, /* a 2 ms flash: whether it shows would be luck */
        .load_a = {CURRENT_A, CURRENT_A, CURRENT_A},
        .readings = supply ? &r : NULL,
        .status = STATUS,
    };
    const display_t *lcd = supply ? meter_display(m) : NULL;
    char path[1024], text[128];
    snprintf(path, sizeof path, "%s/%s.bmp", dir, name);
    text_lcd_line(meter_display(m), text, sizeof text);
    printf("%s: %s\n", name, supply ? text : "(no supply)");
    if (!sdl_view_screenshot(v, lcd, &panel, path)) {
        fprintf(stderr, "screenshot: %s: %s\n", path, SDL_GetError());
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];

    wave_desc_t wd;
    wave_desc_balanced(&wd, 50.0, 230.0, CURRENT_A, wave_lag_from_pf(0.95, 0, 0));
    wave_init(&wave_a, &wd);
    wave_init(&wave_b, &wd);

    static meter_t a, b;
    meter_init(&a, &(meter_desc_t){.serial = "13070001"});

    /* Normal display: part 1 (0-30 s), total (30-40 s), 1.8.0 (40-50 s). */
    run(&a, &wave_a, 45ull * VTIME_SAMPLE_RATE);
    const display_t *d = meter_display(&a);
    expect(!d->menu && !d->error && d->page.kind == DISPLAY_PAGE_FWD_TOTAL, "normal: page 1.8.0");

    sdl_view_t *v = sdl_view_open("metersim screenshot test");
    if (!v) {
        fprintf(stderr, "screenshot: no window: %s\n", SDL_GetError());
        return 3;
    }
    bool ok = shot(v, dir, "normal", &a, true);

    /* Settings menu: hold the middle button 3 s (6.4), >> to SEt, 0000. */
    meter_button(&a, MENU_MIDDLE, true);
    run(&a, &wave_a, 3ull * VTIME_SAMPLE_RATE);
    expect(a.menu.state == MENU_TOP, "menu opens after a 3 s hold");
    meter_button(&a, MENU_MIDDLE, false);
    run(&a, &wave_a, ms(200));
    touch(&a, &wave_a, MENU_RIGHT);
    touch(&a, &wave_a, MENU_MIDDLE);
    expect(a.menu.state == MENU_PASSWORD, "password entry");
    for (int k = 0; k < 4; k++)
        touch(&a, &wave_a, MENU_MIDDLE);
    expect(a.menu.state == MENU_LIST, "settings list after 0000");
    for (int k = 0; k < 5; k++)
        touch(&a, &wave_a, MENU_RIGHT);
    expect(a.menu.state == MENU_LIST && strcmp(menu_item_section(a.menu.item), "6.6.6") == 0,
           "list entry 6.6.6");
    ok = shot(v, dir, "menu", &a, true) && ok;

    /* Error display: both integer copies of the memory bad (7.1). */
    uint8_t image[NVM_IMAGE_LEN], err = 0;
    size_t n = nvm_save(&a, image, sizeof image);
    image[NVM_MAIN_OFFSET + 5] ^= 0xFF;
    image[NVM_BACKUP_OFFSET + 5] ^= 0xFF;
    meter_init(&b, &(meter_desc_t){.serial = "13070002"});
    nvm_status_t st = nvm_load(&b, image, n, &err);
    expect(st == NVM_STOPPED &&
               b.error_code == (NVM_ERR_MAIN_DATA | NVM_ERR_BACKUP_DATA | NVM_ERR_BOTH),
           "corrupted image stops the meter with error byte 0x61");
    run(&b, &wave_b, 5ull * VTIME_SAMPLE_RATE);
    expect(meter_display(&b)->error, "error display");
    ok = shot(v, dir, "error", &b, true) && ok;

    /* No supply: the glass is blank. */
    ok = shot(v, dir, "dark", &a, false) && ok;

    sdl_view_close(v);
    SDL_Quit();
    if (!ok)
        return 3;
    return failures ? 1 : 0;
}
