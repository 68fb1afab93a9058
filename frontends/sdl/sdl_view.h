/* sdl_view: the meter's front in an SDL2 window, and the controls of a demo.
 *
 *   +------------------------------+  +-------------------------------+
 *   |  terminals N L1 L2 L3 (top)  |  | SUPPLY [on]   TARIFF IN [off] |
 *   |  WAGO 879-3000  (o) LED      |  | L1 [-] 10.0 A [+] [REV]       |
 *   |  +------------------------+  |  | L2 ...          L3 ...        |
 *   |  | T1 .. L1 .. BT COM     |  |  |                               |
 *   |  |  21.7.0                |  |  | live values: U I P Q S PF ... |
 *   |  |  8 8 8 8 8 8.8 8 8  kWh|  |  | energy, tariff, counters      |
 *   |  +------------------------+  |  |                               |
 *   |    [ << ]  [  o  ]  [ >> ]   |  | status line                   |
 *   |  S0-1 (o)  S0-2 (o)          |  +-------------------------------+
 *   |  terminals 4..11 (bottom)    |
 *   +------------------------------+
 *
 * The LCD is drawn segment by segment from display_t (core/display.h) with
 * filled polygons; every text is drawn with a built-in 5x7 font made of
 * rectangles (no font files). The window scales to its size and to HiDPI
 * screens (drawing in renderer output pixels). Buttons: mouse, touch, or the
 * keys Left (<<), Down / Return / Space (middle), Right (>>); holding a key or
 * the mouse holds the button, so the caller gets press and release edges.
 * Other keys: P supply, T tariff input, Q/W/E +1 A on L1/L2/L3, A/S/D -1 A,
 * Z/X/C reverse L1/L2/L3, F12 screenshot to metersim.bmp, Esc quits.
 *
 * It computes nothing about the meter: the caller passes what to show and
 * applies what comes back from sdl_view_poll().
 */
#ifndef METERSIM_SDL_VIEW_H
#define METERSIM_SDL_VIEW_H

#include <stdbool.h>

#include "display.h"
#include "menu.h"
#include "readings.h"

typedef struct sdl_view sdl_view_t;

#define SDL_VIEW_EDGES_MAX 16

/* What happened since the last poll. */
typedef struct {
    int n_edges; /* button edges, in the order they happened */
    struct {
        menu_button_t button;
        bool pressed;
    } edges[SDL_VIEW_EDGES_MAX];
    bool quit;                 /* window closed or Esc */
    bool toggle_supply;        /* switch the supply on/off */
    bool toggle_tariff_input;  /* switch 230 V on terminals 10/11 (A1.1) */
    double current_delta_a[3]; /* change of the load current per phase, A */
    bool toggle_reverse[3];    /* flip the power flow of a phase */
    bool screenshot;           /* F12: the caller may call sdl_view_screenshot() */
} sdl_view_input_t;

/* What the panel beside the meter shows; states come from the caller. */
typedef struct {
    bool supply_on; /* off: the LCD is dark and blank */
    bool tariff_input;
    bool led_on;                /* the red pulse LED */
    bool s0_on[2];              /* S0 outputs 1 and 2 conducting */
    double load_a[3];           /* the load set per phase, A */
    bool reverse[3];            /* the phase feeds back */
    const readings_t *readings; /* live measured values; NULL hides them */
    const char *status;         /* one line at the bottom (pty path, speed); may be NULL */
} sdl_view_panel_t;

/* Opens a resizable, HiDPI-aware window; NULL on failure (SDL_GetError()). */
sdl_view_t *sdl_view_open(const char *title);

/* Collects input without waiting; true if `out` holds anything. */
bool sdl_view_poll(sdl_view_t *v, sdl_view_input_t *out);

/* Draws the meter with `lcd` (NULL: dark glass) and the panel, and presents. */
void sdl_view_draw(sdl_view_t *v, const display_t *lcd, const sdl_view_panel_t *panel);

/* Draws like sdl_view_draw() and saves the frame as a BMP; false on failure. */
bool sdl_view_screenshot(sdl_view_t *v, const display_t *lcd, const sdl_view_panel_t *panel,
                         const char *bmp_path);

void sdl_view_close(sdl_view_t *v);

#endif
