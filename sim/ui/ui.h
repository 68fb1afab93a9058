/* ui: what a person sees of a paced run, and what they can do to it.
 *
 *   runner --frame (30 Hz)--> ui --+--> SDL window (frontends/sdl): the meter's
 *      ^                           |    front, buttons, supply, tariff, load
 *      +--- button edges, supply, -+--> or, without a display, the LCD's text
 *           tariff input, load          on standard error when it changes
 *
 * The window shows the first meter of the scenario.
 */
#ifndef METERSIM_UI_H
#define METERSIM_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner.h"

typedef struct ui {
    struct sdl_view *view; /* NULL: the text frontend */
    runner_ui_t hook;
    char last_lcd[128];
    uint64_t last_pulses[3];
    char status[300];
} ui_t;

/* Opens the window; false with the reason in `why` when there is no display. */
bool ui_open_window(ui_t *u, const char *status, char *why, size_t cap);

/* The text frontend: the LCD's one-line text on stderr whenever it changes. */
void ui_open_text(ui_t *u);

void ui_close(ui_t *u);

#endif
