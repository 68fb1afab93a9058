/* sdl_demo: the SDL view, the display and the menu on a toy meter, without
 * the real metrology. For looking at the window and taking screenshots:
 *
 *   cc -std=c11 -D_DEFAULT_SOURCE -Icore -Ifrontends $(pkg-config --cflags sdl2) \
 *      tools/sdl_demo.c frontends/sdl/sdl_view.c frontends/text/text_lcd.c \
 *      core/display.c core/menu.c core/settings.c $(pkg-config --libs sdl2) -lm -o build/sdl_demo
 *   build/sdl_demo                      interactive
 *   build/sdl_demo --shot out.bmp [page-kind group [obis]]   one frame, then exit
 *
 * It also shows how the main loop drives the parts: button edges go to the
 * menu with their (virtual) time, the display advances with the readings.
 */
#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "display.h"
#include "menu.h"
#include "sdl/sdl_view.h"
#include "text/text_lcd.h"
#include "vtime.h"

typedef struct {
    settings_t settings;
    readings_t r;
} toy_t;

static void toy_read(void *ctx, readings_t *out)
{
    toy_t *t = ctx;
    *out = t->r;
    out->settings = t->settings;
}

static settings_err_t toy_set(void *ctx, setting_id_t id, int32_t v)
{
    toy_t *t = ctx;
    return settings_set(&t->settings, id, v);
}

static void toy_reset(void *ctx, access_reset_t what)
{
    toy_t *t = ctx;
    if (what == ACCESS_RESET_POWER_DOWN_COUNTER)
        t->r.power_down_count = 0;
    else
        t->r.resettable = 0;
}

/* Instantaneous values from the load; energy over dt seconds. */
static void toy_update(toy_t *t, const sdl_view_panel_t *p, double dt)
{
    readings_t *r = &t->r;
    const double pf = 0.95, u = 230.0;
    r->p_total = r->q_total = r->s_total = r->current_sum = 0;
    for (int i = 0; i < 3; i++) {
        double sign = p->reverse[i] ? -1.0 : 1.0;
        r->voltage[i] = p->supply_on ? u + 0.7 * i : 0;
        r->current[i] = p->supply_on ? p->load_a[i] : 0;
        r->s[i] = r->voltage[i] * r->current[i] / 1000.0;
        r->p[i] = sign * r->s[i] * pf;
        r->q[i] = r->s[i] * sqrt(1 - pf * pf);
        r->pf[i] = r->s[i] > 0 ? sign * pf : 1.0;
        r->direction[i] = sign > 0 ? 'F' : 'R';
        r->quadrant[i] = sign > 0 ? 1 : 2;
        r->p_total += r->p[i];
        r->q_total += r->q[i];
        r->s_total += r->s[i];
        r->current_sum += r->current[i];
        double e = r->p[i] * dt / 3600.0;
        if (e > 0)
            r->active_forward.phase[i] += e;
        else
            r->active_reverse.phase[i] -= e;
        r->reactive_total.phase[i] += r->q[i] * dt / 3600.0;
        r->resettable_phase[i] += fabs(e);
    }
    r->voltage_avg = (r->voltage[0] + r->voltage[1] + r->voltage[2]) / 3;
    r->frequency = p->supply_on ? 50.0 : 0;
    r->pf_total = r->s_total > 0 ? r->p_total / r->s_total : 1.0;
    r->direction_total = r->p_total >= 0 ? 'F' : 'R';
    r->quadrant_total = r->p_total >= 0 ? 1 : 2;
    double e = r->p_total * dt / 3600.0;
    int ti = (r->tariff ? r->tariff : 1) - 1;
    if (e > 0) {
        r->active_forward.total += e;
        r->active_forward.tariff[ti] += e;
    } else {
        r->active_reverse.total -= e;
        r->active_reverse.tariff[ti] -= e;
    }
    r->reactive_total.total += r->q_total * dt / 3600.0;
    r->active_total.total = r->active_forward.total + r->active_reverse.total; /* C-03 */
    r->resettable += fabs(e);
    r->settings = t->settings;
    r->tariff = p->tariff_input ? 2 : t->settings.tariff == 2 ? 1 : t->settings.tariff;
}

int main(int argc, char **argv)
{
    const char *shot = argc >= 3 && !strcmp(argv[1], "--shot") ? argv[2] : NULL;
    static toy_t toy;
    settings_defaults(&toy.settings, 19000123);
    strcpy(toy.r.serial, "19000123");
    toy.r.software_version = 1.05f;
    toy.r.checksum = 0x3F2Au;
    toy.r.tariff = 1;
    toy.r.power_down_count = 3;
    toy.r.active_forward.total = 1234.567;
    toy.r.active_forward.tariff[0] = 1000.125;
    toy.r.active_forward.tariff[1] = 234.442;
    toy.r.active_reverse.total = 12.5;
    toy.settings.bluetooth = 1;

    sdl_view_panel_t panel = {.supply_on = true,
                              .load_a = {10, 6.5, 2},
                              .readings = &toy.r,
                              .status = "demo: toy meter, real time"};
    access_t a = {&toy, toy_read, toy_set, toy_reset};
    static display_t d;
    static menu_t m;
    display_init(&d, 0);
    menu_init(&m, &a, &d, 0);

    sdl_view_t *v = sdl_view_open("metersim - WAGO 879-3000");
    if (!v) {
        fprintf(stderr, "sdl_demo: %s\n", SDL_GetError());
        return 1;
    }
    if (shot) {
        toy_update(&toy, &panel, 0);
        toy.r.comm_active = true;
        if (argc >= 5) {
            d.page = (display_page_t){(uint8_t)atoi(argv[3]), (uint8_t)atoi(argv[4])};
            if (argc >= 6)
                toy.settings.obis = (uint8_t)atoi(argv[5]);
        }
        panel.led_on = true;
        panel.s0_on[0] = true;
        const char *mode = argc >= 7 ? argv[6] : "";
        uint64_t t = 0;
        if (strstr(mode, "rot"))
            toy.settings.screen_direction = 1;
        if (strstr(mode, "dark"))
            toy.settings.backlight = 0;
        if (strstr(mode, "err"))
            toy.r.error_code = 0x41;
        if (strstr(mode, "menu")) { /* hold, SEt, 0000, to 6.6.6, open, first digit */
            static const int seq[] = {2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 1};
            menu_button(&m, MENU_MIDDLE, true, t);
            t += MENU_HOLD_NS;
            menu_advance(&m, t);
            menu_button(&m, MENU_MIDDLE, false, t);
            for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
                menu_button_t b = seq[i] == 2 ? MENU_RIGHT : MENU_MIDDLE;
                t += 100 * VTIME_NS_PER_MS;
                menu_button(&m, b, true, t);
                t += 100 * VTIME_NS_PER_MS;
                menu_button(&m, b, false, t);
            }
            t = (t / VTIME_NS_PER_S + 1) * VTIME_NS_PER_S; /* blink phase: lit */
            menu_advance(&m, t);
        }
        readings_t r;
        toy_read(&toy, &r);
        display_advance(&d, &r, t);
        char line[128];
        text_lcd_line(&d, line, sizeof line);
        printf("%s\n", line);
        bool ok = sdl_view_screenshot(v, &d, &panel, shot);
        sdl_view_close(v);
        SDL_Quit();
        return ok ? 0 : 1;
    }

    uint64_t t0 = SDL_GetTicks64(), last = 0;
    for (;;) {
        uint64_t now = (SDL_GetTicks64() - t0) * VTIME_NS_PER_MS;
        sdl_view_input_t in;
        if (sdl_view_poll(v, &in)) {
            if (in.quit)
                break;
            for (int i = 0; i < in.n_edges; i++)
                menu_button(&m, in.edges[i].button, in.edges[i].pressed, now);
            if (in.toggle_supply)
                panel.supply_on = !panel.supply_on;
            if (in.toggle_tariff_input)
                panel.tariff_input = !panel.tariff_input;
            for (int i = 0; i < 3; i++) {
                panel.load_a[i] = fmin(65, fmax(0, panel.load_a[i] + in.current_delta_a[i]));
                if (in.toggle_reverse[i])
                    panel.reverse[i] = !panel.reverse[i];
            }
            if (in.screenshot)
                sdl_view_screenshot(v, &d, &panel, "metersim.bmp");
        }
        toy_update(&toy, &panel, (double)(now - last) / 1e9);
        last = now;
        panel.led_on = fmod(toy.r.active_forward.total * 1000.0, 1.0) < 0.3 && toy.r.p_total > 0;
        menu_advance(&m, now); /* timers, then the display with fresh readings */
        sdl_view_draw(v, &d, &panel);
        SDL_Delay(16);
    }
    sdl_view_close(v);
    SDL_Quit();
    return 0;
}
