/* ui: the window or the text frontend of a paced run (see ui.h). */
#include "ui.h"

#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdl/sdl_view.h"
#include "text/text_lcd.h"

/* Turns the window's input into changes of the run, then draws. */
static bool frame_window(void *ctx, runner_t *r)
{
    ui_t *u = ctx;
    meter_t *m = runner_meter(r, 0);
    sdl_view_input_t in;
    memset(&in, 0, sizeof in);
    if (sdl_view_poll(u->view, &in)) {
        for (int i = 0; i < in.n_edges; i++)
            runner_button(r, 0, in.edges[i].button, in.edges[i].pressed);
        if (in.toggle_supply)
            runner_set_supply(r, 0, !runner_supply(r, 0));
        if (in.toggle_tariff_input)
            runner_set_tariff_input(r, 0, !meter_tariff_input(m));
        for (int p = 0; p < 3; p++) {
            if (in.current_delta_a[p] != 0.0)
                runner_set_current(r, 0, p, runner_current(r, 0, p) + in.current_delta_a[p]);
            if (in.toggle_reverse[p])
                runner_set_export(r, 0, p, !runner_export(r, 0, p));
        }
    }
    if (in.quit)
        return false;

    readings_t x;
    meter_readings(m, &x);
    sdl_view_panel_t panel = {
        .supply_on = runner_supply(r, 0),
        .tariff_input = meter_tariff_input(m),
        .readings = &x,
        .status = u->status,
    };
    /* A 2 ms LED flash or a 30 ms S0 pulse falls between two frames more
     * often than not: show an output lit when it pulsed since the last frame. */
    panel.led_on = x.pulse_level[2] || x.pulses[2] != u->last_pulses[2];
    for (int k = 0; k < 2; k++)
        panel.s0_on[k] = x.pulse_level[k] || x.pulses[k] != u->last_pulses[k];
    memcpy(u->last_pulses, x.pulses, sizeof u->last_pulses);
    for (int p = 0; p < 3; p++) {
        panel.load_a[p] = runner_current(r, 0, p);
        panel.reverse[p] = runner_export(r, 0, p);
    }
    const display_t *lcd = meter_display(m); /* dark while the meter has no supply */
    if (in.screenshot) {
        if (sdl_view_screenshot(u->view, lcd, &panel, "metersim-screenshot.bmp"))
            fprintf(stderr, "metersim: screenshot written to metersim-screenshot.bmp\n");
    } else {
        sdl_view_draw(u->view, lcd, &panel);
    }
    return true;
}

/* Prints the LCD's text whenever it changes. */
static bool frame_text(void *ctx, runner_t *r)
{
    ui_t *u = ctx;
    meter_t *m = runner_meter(r, 0);
    char text[128];
    text_lcd_line(meter_display(m), text, sizeof text);
    if (strcmp(text, u->last_lcd) != 0) {
        memcpy(u->last_lcd, text, sizeof text);
        fprintf(stderr, "LCD: %s\n", text);
    }
    return true;
}

bool ui_open_window(ui_t *u, const char *status, char *why, size_t cap)
{
    memset(u, 0, sizeof *u);
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
        snprintf(why, cap, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)");
        return false;
    }
    u->view = sdl_view_open("metersim: WAGO 879-3000 digital twin");
    if (!u->view) {
        snprintf(why, cap, "no window: %s", SDL_GetError());
        return false;
    }
    snprintf(u->status, sizeof u->status, "%s", status ? status : "");
    u->hook = (runner_ui_t){.ctx = u, .frame = frame_window};
    return true;
}

void ui_open_text(ui_t *u)
{
    memset(u, 0, sizeof *u);
    u->hook = (runner_ui_t){.ctx = u, .frame = frame_text};
}

void ui_close(ui_t *u)
{
    if (u->view)
        sdl_view_close(u->view);
    u->view = NULL;
}
