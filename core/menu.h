/* menu: the three capacitive buttons and the settings menu (manual 6.4-6.6.15).
 *
 * Buttons come in as edges with their virtual time; the menu decides what
 * they mean, changes settings only through access->set / access->reset (so
 * the settings module alone decides validity) and puts its screens on the
 * display (display_set_menu). The menu tree (docs/display.md):
 *
 *   normal display: << one page back, >> one page on (6.3)
 *        |  middle held 3 s (6.4)
 *        v
 *   TOP  [bt on/oFF] <-> [SEt] <-> [End]          (<< >> move, middle acts)
 *          |middle       |middle     |middle -> normal display
 *          toggle BT     v
 *          (6.5)      PASSWORD  four digits, << -1  >> +1  middle next digit
 *                        |  == settings.password      |  wrong: "Err PASS", TOP
 *                        v
 *   LIST 6.6.1 PASS  6.6.2 tAr  6.6.3 S0  6.6.4 tYPE  6.6.5 PuL  6.6.6 Id
 *        6.6.7 bd  6.6.8 PAr  6.6.9 Id  6.6.10 bd  6.6.11 bL  6.6.12 Pd
 *        6.6.13 triP  6.6.14 obiS  6.6.15 CodE  End      (<< >> move, wraps)
 *          |middle
 *          v
 *   EDIT digits: << -1  >> +1  middle confirms the digit, after the last
 *                the value goes to access->set
 *        list:   << >> choose   middle -> access->set / access->reset
 *          | SETTINGS_OK: back to LIST   | refused: "Err LoC" / "Err rAnGE" /
 *                                        | "Err ConF" for 2 s, then LIST
 *
 * 30 s without a touch anywhere in the menu returns to the normal display and
 * drops an unfinished edit. While the 7.1 error display is up the buttons do
 * nothing but wake the backlight.
 *
 * Known inaccuracies: the manual's pictures of the menu are not available;
 * the labels, the top level and the timeouts are a design (docs/display.md).
 * Holding a button does not auto-repeat.
 */
#ifndef METERSIM_MENU_H
#define METERSIM_MENU_H

#include <stdbool.h>
#include <stdint.h>

#include "access.h"
#include "display.h"

typedef enum { MENU_LEFT, MENU_MIDDLE, MENU_RIGHT, MENU_BUTTON_COUNT } menu_button_t;

typedef enum {
    MENU_NORMAL,   /* the normal display; the menu is closed */
    MENU_TOP,      /* Bluetooth / settings / end (6.4, 6.5) */
    MENU_PASSWORD, /* entering the password (6.6) */
    MENU_LIST,     /* choosing a setting (6.6.1-6.6.15) */
    MENU_EDIT,     /* changing one */
    MENU_MESSAGE,  /* a refusal shown for MENU_MESSAGE_NS */
} menu_state_t;

#define MENU_HOLD_NS (3ull * 1000000000ull)    /* 6.4: hold middle > 3 s */
#define MENU_IDLE_NS (30ull * 1000000000ull)   /* back to normal without a touch */
#define MENU_MESSAGE_NS (2ull * 1000000000ull) /* how long a refusal stays */
#define MENU_DIGITS_MAX 4

/* The entries of the top level and of the settings list. */
enum { MENU_TOP_BLUETOOTH, MENU_TOP_SETTINGS, MENU_TOP_END, MENU_TOP_COUNT };

typedef struct menu {
    access_t access;
    display_t *display;

    menu_state_t state;
    uint64_t now_ns;
    bool held[MENU_BUTTON_COUNT];
    uint64_t middle_since_ns; /* when the middle button went down */
    bool hold_armed;          /* a hold in the normal display may open the menu */
    uint64_t last_edge_ns;    /* for the idle timeout */

    uint8_t top;  /* MENU_TOP_* */
    uint8_t item; /* index in the settings list */
    uint8_t digits[MENU_DIGITS_MAX];
    uint8_t cursor; /* digit being edited */
    uint8_t choice; /* index of the choice being shown */
    char message[16];
    uint64_t message_until_ns;
    menu_state_t after_message;
} menu_t;

/* The menu reads and changes the meter through `access` (copied) and draws on
 * `display` (kept; it must outlive the menu). */
void menu_init(menu_t *m, const access_t *access, display_t *display, uint64_t now_ns);

/* One edge of one button at `t_ns` (not before the last call). The display is
 * advanced to `t_ns` with fresh readings before this returns. */
void menu_button(menu_t *m, menu_button_t b, bool pressed, uint64_t t_ns);

/* Moves the menu's timers to `now_ns`: the 3 s hold, the idle timeout, the end
 * of a message. */
void menu_advance(menu_t *m, uint64_t now_ns);

/* The next instant menu_advance() has something to do; VTIME_NEVER if none. */
uint64_t menu_deadline(const menu_t *m);

/* The menu owns the glass. */
bool menu_active(const menu_t *m);

/* Number of entries in the settings list (the 15 settings of 6.6 and End). */
int menu_item_count(void);

/* The manual section of settings-list entry `i` ("6.6.6"), "" for End. */
const char *menu_item_section(int i);

#endif
