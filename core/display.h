/* display: the meter's LCD as a model of lit segments, and its page sequencer.
 *
 * The core never draws. It decides which segments, decimal points and icons
 * of the 879-3000's LCD are lit; a frontend (frontends/sdl, frontends/text)
 * draws exactly that. The layout of the glass (docs/display.md):
 *
 *   +--------------------------------------------------------------+
 *   | T1 T2 T3 T4   L1 L2 L3   [<-] [->]   (BT) icon1  (COM) icon2 |
 *   |                                            SET               |
 *   |  OBIS / label field: 6 small digits   8.8.8.8.8.8.           |
 *   |                                                              |
 *   |  -  8 8 8 8 8 8 . 8 8 8     kWh kvarh kW kvar kVA V A Hz      |
 *   |     main field: 9 digits (6 + 3, 6.2), a point after each     |
 *   +--------------------------------------------------------------+
 *
 * Pages, shown in this order by the automatic scroll (6.1-6.3), each for
 * settings.lcd_cycle_s seconds (A3.3 0x4010) except part 1, whose pages
 * change every 10 s (6.1):
 *
 *   part 1 (MID)     software version, serial number, CRC, and "Err XX" while
 *                    the last power-up found a 7.1 fault the meter runs on with
 *   part 2 (MID)     total (combination code, 6.6.15), 1.8.0, 2.8.0,
 *                    1.8.1 1.8.2 2.8.1 2.8.2, and once T3/T4 were activated
 *                    (A1.2) 1.8.3 1.8.4 2.8.3 2.8.4
 *   part 3 (non-MID) for Total, L1, L2, L3 (6.3): direction, trip counter,
 *                    reactive energy, power factor, quadrant, frequency
 *                    (Total only), P, S, Q, voltage (L1-L3 only), current
 *
 * The left and right buttons step one page back or forward (6.3); the menu
 * (menu.h) forwards them here with display_step() and takes over the glass
 * with display_set_menu() while the settings are open.
 *
 * Manual: 6.1-6.3, 6.6.11 (backlight), 6.6.14 (OBIS), 7.1 (error display),
 * A1.2 (T3/T4), A3.3 (LCD cycle time, screen direction).
 *
 * Known inaccuracies: the manual's pictures of the LCD are not available, so
 * the layout, the labels and the order of part 3 are a plausible design, not
 * a copy of the real glass (docs/display.md, "Decisions"). Values are
 * truncated, not rounded, to the digits shown.
 */
#ifndef METERSIM_DISPLAY_H
#define METERSIM_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "readings.h"

#define DISPLAY_MAIN_DIGITS 9 /* 6 + 3 (6.2) */
#define DISPLAY_OBIS_DIGITS 6 /* "21.7.0", "6.6.15", "totAL" */

/* Seven-segment bits, the usual lettering:
 *      a
 *    f   b
 *      g
 *    e   c
 *      d
 */
enum {
    DISPLAY_SEG_A = 1u << 0,
    DISPLAY_SEG_B = 1u << 1,
    DISPLAY_SEG_C = 1u << 2,
    DISPLAY_SEG_D = 1u << 3,
    DISPLAY_SEG_E = 1u << 4,
    DISPLAY_SEG_F = 1u << 5,
    DISPLAY_SEG_G = 1u << 6,
};

/* The icons of the glass, as bits of display_t.icons. */
typedef enum {
    DISPLAY_ICON_T1 = 1u << 0,
    DISPLAY_ICON_T2 = 1u << 1,
    DISPLAY_ICON_T3 = 1u << 2,
    DISPLAY_ICON_T4 = 1u << 3,
    DISPLAY_ICON_L1 = 1u << 4,
    DISPLAY_ICON_L2 = 1u << 5,
    DISPLAY_ICON_L3 = 1u << 6,
    DISPLAY_ICON_KWH = 1u << 7,
    DISPLAY_ICON_KVARH = 1u << 8,
    DISPLAY_ICON_KW = 1u << 9,
    DISPLAY_ICON_KVAR = 1u << 10,
    DISPLAY_ICON_KVA = 1u << 11,
    DISPLAY_ICON_V = 1u << 12,
    DISPLAY_ICON_A = 1u << 13,
    DISPLAY_ICON_HZ = 1u << 14,
    DISPLAY_ICON_BT = 1u << 15,        /* icon 1: Bluetooth on, blinking until an app connects
                                          (6.1, 6.5, docs/decisions.md) */
    DISPLAY_ICON_COMM = 1u << 16,      /* icon 2: Modbus / M-Bus traffic (6.1) */
    DISPLAY_ICON_ARROW_FWD = 1u << 17, /* "->" forward, import */
    DISPLAY_ICON_ARROW_REV = 1u << 18, /* "<-" reverse, export */
    DISPLAY_ICON_MINUS = 1u << 19,     /* sign in front of the main field */
    DISPLAY_ICON_SET = 1u << 20,       /* the settings menu is open (6.4) */
} display_icon_t;

#define DISPLAY_ICON_COUNT 21
#define DISPLAY_ICON_UNITS                                                                         \
    (DISPLAY_ICON_KWH | DISPLAY_ICON_KVARH | DISPLAY_ICON_KW | DISPLAY_ICON_KVAR |                 \
     DISPLAY_ICON_KVA | DISPLAY_ICON_V | DISPLAY_ICON_A | DISPLAY_ICON_HZ)

/* One row of seven-segment digits. `text` holds the character each digit
 * shows (' ' when dark), so that logs need not decode segments; `seg` is what
 * is lit. A decimal point belongs to the digit before it. */
typedef struct {
    char text[DISPLAY_MAIN_DIGITS + 1];
    uint8_t seg[DISPLAY_MAIN_DIGITS];
    uint16_t dp; /* bit i: the point after digit i */
} display_field_t;

/* Every page of the normal display; part 3 pages also carry a group. */
typedef enum {
    DISPLAY_PAGE_SOFTWARE, /* part 1 */
    DISPLAY_PAGE_SERIAL,
    DISPLAY_PAGE_CRC,
    DISPLAY_PAGE_TOTAL, /* part 2 */
    DISPLAY_PAGE_FWD_TOTAL,
    DISPLAY_PAGE_REV_TOTAL,
    DISPLAY_PAGE_FWD_T1,
    DISPLAY_PAGE_FWD_T2,
    DISPLAY_PAGE_REV_T1,
    DISPLAY_PAGE_REV_T2,
    DISPLAY_PAGE_FWD_T3,
    DISPLAY_PAGE_FWD_T4,
    DISPLAY_PAGE_REV_T3,
    DISPLAY_PAGE_REV_T4,
    DISPLAY_PAGE_DIRECTION, /* part 3, per group */
    DISPLAY_PAGE_TRIP,
    DISPLAY_PAGE_REACTIVE_ENERGY,
    DISPLAY_PAGE_PF,
    DISPLAY_PAGE_QUADRANT,
    DISPLAY_PAGE_FREQUENCY,
    DISPLAY_PAGE_P,
    DISPLAY_PAGE_S,
    DISPLAY_PAGE_Q,
    DISPLAY_PAGE_VOLTAGE,
    DISPLAY_PAGE_CURRENT,
    DISPLAY_PAGE_DIAGNOSTICS, /* part 1, after the CRC, while a 7.1 fault was found */
    DISPLAY_PAGE_KIND_COUNT
} display_page_kind_t;

typedef enum {
    DISPLAY_GROUP_TOTAL,
    DISPLAY_GROUP_L1,
    DISPLAY_GROUP_L2,
    DISPLAY_GROUP_L3
} display_group_t;

typedef struct {
    uint8_t kind;  /* display_page_kind_t */
    uint8_t group; /* display_group_t; DISPLAY_GROUP_TOTAL for parts 1 and 2 */
} display_page_t;

/* The longest page list: 3 + 11 + 4 x 10 = 54 (see display_pages()). */
#define DISPLAY_PAGES_MAX 56

/* What the menu puts on the glass (menu.c builds it, display draws it):
 * texts may contain '.' which light the point of the character before. */
typedef struct {
    char obis[16];
    char main[24];
    uint32_t icons;
    uint16_t blink; /* bit i: main digit i blinks (the digit being edited) */
} display_screen_t;

/* How long the backlight stays on after a touch in button mode (6.6.11;
 * the manual gives no time: docs/display.md, Decisions). */
#define DISPLAY_BACKLIGHT_BUTTON_NS (60ull * 1000000000ull)
/* Part 1 pages change every 10 s (6.1). */
#define DISPLAY_PART1_NS (10ull * 1000000000ull)
/* Blinking digits: on for the first half of every second. */
#define DISPLAY_BLINK_NS (500ull * 1000000ull)

/* The glass with and without supply (4: the meter is powered from its
 * phases): dark while off; every segment and icon lit while it boots (a lamp
 * test, docs/decisions.md); the pages and the menu once it runs. */
typedef enum { DISPLAY_POWER_ON = 0, DISPLAY_POWER_OFF, DISPLAY_POWER_BOOT } display_power_t;

typedef struct display {
    /* ---- what is lit; frontends read only these ---- */
    uint8_t power;        /* display_power_t */
    display_field_t main; /* DISPLAY_MAIN_DIGITS digits */
    display_field_t obis; /* DISPLAY_OBIS_DIGITS digits (the rest stay blank) */
    uint32_t icons;       /* display_icon_t bits */
    bool backlight;       /* the blue backlight is on (6.6.11) */
    bool rotated;         /* draw the glass turned 180 degrees (A3.3 0x4032) */
    bool error;           /* the 7.1 error display is shown */
    bool menu;            /* the menu owns the glass */
    display_page_t page;  /* the page shown (meaningful when !menu && !error) */

    /* ---- sequencer state ---- */
    uint64_t now_ns;
    uint64_t page_since_ns; /* when the page was first shown */
    uint64_t page_dwell_ns; /* how long it stays */
    uint64_t last_touch_ns; /* for the button-mode backlight */
    bool touched;
    uint8_t backlight_mode;  /* settings.backlight at the last advance */
    bool bt_waiting;         /* Bluetooth on, no app connected: icon 1 blinks */
    display_screen_t screen; /* the menu's screen while `menu` */
} display_t;

/* Starts at the first page of part 1 at time `now_ns`. */
void display_init(display_t *d, uint64_t now_ns);

/* Dark (supply off), lamp test (booting) or running. Back to running, the
 * sequence starts again at part 1 (display_init). */
void display_set_power(display_t *d, display_power_t p, uint64_t now_ns);

/* Moves the sequencer to `now_ns` (never backwards) and recomputes every lit
 * segment from `r`. Call it whenever readings may have changed or time has
 * reached display_deadline(). */
void display_advance(display_t *d, const readings_t *r, uint64_t now_ns);

/* The next instant at which the glass changes without new readings (a page
 * change, a blink, the backlight going dark); VTIME_NEVER if none. */
uint64_t display_deadline(const display_t *d);

/* A touch on any button: restarts the button-mode backlight (6.6.11).
 * Called by the menu. */
void display_touch(display_t *d, uint64_t now_ns);

/* One page forward (+1) or back (-1) by hand (6.3); the automatic scroll
 * carries on from there a full cycle later. Called by the menu. */
void display_step(display_t *d, const readings_t *r, int dir, uint64_t now_ns);

/* The menu takes the glass (`s` != NULL) or gives it back (NULL). */
void display_set_menu(display_t *d, const display_screen_t *s, uint64_t now_ns);

/* The pages of the automatic scroll for these readings, in order; returns
 * their number (at most DISPLAY_PAGES_MAX). */
int display_pages(const readings_t *r, display_page_t out[DISPLAY_PAGES_MAX]);

/* How long a page stays before the automatic scroll moves on. */
uint64_t display_page_dwell_ns(display_page_t p, const readings_t *r);

/* The seven segments that show character `c` (digits, the letters a 7-segment
 * glass can show, '-', '_', ' '); 0 for anything else. */
uint8_t display_segments(char c);

/* Writes `text` right-aligned into `f` of `n` digits; a '.' lights the point
 * of the character before it. Text too long keeps its last `n` digits. */
void display_field_set(display_field_t *f, int n, const char *text);

#endif
