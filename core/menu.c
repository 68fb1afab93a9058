/* menu: button edges to settings changes (manual 6.4-6.6.15); the tree and
 * the timeouts are drawn in menu.h and explained in docs/display.md. */
#include "menu.h"
#include "meter_assert.h"

#include <string.h>

#include "internal.h"
#include "vtime.h"

typedef struct {
    int32_t value;
    const char *text;
} choice_t;

/* ITEM_SHOW: shown, not changed with the buttons: the power-down counter
 * (6.6.12 lists no reset) and the combination code (6.6.15: "adjustable via
 * Modbus, M-bus & Bluetooth"). */
typedef enum { ITEM_DIGITS, ITEM_CHOICE, ITEM_RESET, ITEM_SHOW, ITEM_END } item_kind_t;

typedef struct {
    const char *section; /* the manual's section, shown in the small field */
    const char *name;    /* shown left of the value when both fit */
    item_kind_t kind;
    setting_id_t setting;
    uint8_t digits; /* ITEM_DIGITS */
    const choice_t *choices;
    uint8_t nchoices;
    access_reset_t reset; /* ITEM_RESET */
    uint32_t icons;
} item_t;

#define N(a) (uint8_t)(sizeof a / sizeof a[0])

static const choice_t tariffs[] = {{1, "1"}, {2, "2"}, {3, "3"}, {4, "4"}};
/* 6.6.3, in imp/kWh x 100 as settings.h stores them. */
static const choice_t s0_rates[] = {
    {1000000, "10000"}, {200000, "2000"}, {100000, "1000"}, {10000, "100"},
    {1000, "10"},       {100, "1"},       {10, "0.1"},      {1, "0.01"},
};
static const choice_t pulse_types[] = {{1, "Act-rEAct"}, {2, "For-rEv"}};
/* 6.6.7 lists "56.700": the register map (A3.2 0x4004) says 57600. */
static const choice_t modbus_bauds[] = {
    {1, "300"},  {2, "600"},   {3, "1200"},  {4, "2400"},  {5, "4800"},
    {6, "9600"}, {7, "19200"}, {8, "38400"}, {9, "57600"}, {10, "115200"},
};
static const choice_t parities[] = {{1, "EvEn"}, {2, "nonE"}, {3, "odd"}};
static const choice_t mbus_bauds[] = {{300, "300"},   {600, "600"},   {1200, "1200"},
                                      {2400, "2400"}, {4800, "4800"}, {9600, "9600"}};
static const choice_t backlights[] = {{1, "on"}, {0, "oFF"}, {2, "button"}};
static const choice_t on_off[] = {{0, "oFF"}, {1, "on"}};
static const choice_t codes[] = {{1, "C-01"}, {2, "C-02"}, {3, "C-03"}, {4, "C-04"}, {5, "C-05"}};
static const choice_t no_yes[] = {{0, "no"}, {1, "YES"}};

static const item_t items[] = {
    {"6.6.1", "PASS", ITEM_DIGITS, SETTING_PASSWORD, 4, NULL, 0, 0, 0},
    {"6.6.2", "tAr", ITEM_CHOICE, SETTING_TARIFF, 0, tariffs, N(tariffs), 0, 0},
    {"6.6.3", "S0", ITEM_CHOICE, SETTING_S0_RATE, 0, s0_rates, N(s0_rates), 0, 0},
    {"6.6.4", "tYPE", ITEM_CHOICE, SETTING_PULSE_TYPE, 0, pulse_types, N(pulse_types), 0, 0},
    {"6.6.5", "PuL", ITEM_DIGITS, SETTING_PULSE_WIDTH, 2, NULL, 0, 0, 0},
    {"6.6.6", "Id", ITEM_DIGITS, SETTING_MODBUS_ID, 3, NULL, 0, 0, 0},
    {"6.6.7", "bd", ITEM_CHOICE, SETTING_MODBUS_BAUD, 0, modbus_bauds, N(modbus_bauds), 0, 0},
    {"6.6.8", "PAr", ITEM_CHOICE, SETTING_MODBUS_PARITY, 0, parities, N(parities), 0, 0},
    {"6.6.9", "Id", ITEM_DIGITS, SETTING_MBUS_ID, 3, NULL, 0, 0, 0},
    {"6.6.10", "bd", ITEM_CHOICE, SETTING_MBUS_BAUD, 0, mbus_bauds, N(mbus_bauds), 0, 0},
    {"6.6.11", "bL", ITEM_CHOICE, SETTING_BACKLIGHT, 0, backlights, N(backlights), 0, 0},
    {"6.6.12", "Pd", ITEM_SHOW, SETTING_COUNT, 0, NULL, 0, ACCESS_RESET_POWER_DOWN_COUNTER, 0},
    {"6.6.13", "triP", ITEM_RESET, SETTING_COUNT, 0, no_yes, N(no_yes), ACCESS_RESET_DAY_COUNTER,
     DISPLAY_ICON_KWH},
    {"6.6.14", "obiS", ITEM_CHOICE, SETTING_OBIS, 0, on_off, N(on_off), 0, 0},
    {"6.6.15", "CodE", ITEM_SHOW, SETTING_COMBINATION_CODE, 0, codes, N(codes), 0, 0},
    {"", "End", ITEM_END, SETTING_COUNT, 0, NULL, 0, 0, 0},
};
#define ITEM_COUNT ((int)(sizeof items / sizeof items[0]))

int menu_item_count(void)
{
    return ITEM_COUNT;
}

const char *menu_item_section(int i)
{
    return i >= 0 && i < ITEM_COUNT ? items[i].section : "";
}

/* ------------------------------------------------------------------------ */
/* Screens                                                                   */

/* Characters a text takes on the glass ('.' rides on the one before). */
static int visible_len(const char *s)
{
    int n = 0;
    for (int i = 0; s[i]; i++)
        if (!(s[i] == '.' && i > 0 && s[i - 1] != '.'))
            n++;
    return n;
}

/* "name   value" right-aligned in the main field; the name is left out when
 * both do not fit with a space between. */
static void compose(char *out, size_t cap, const char *name, const char *value)
{
    int nl = visible_len(name), vl = visible_len(value);
    out[0] = '\0';
    if (nl + 1 + vl <= DISPLAY_MAIN_DIGITS && nl > 0) {
        size_t p = strlen(name);
        memcpy(out, name, p);
        for (int k = nl + vl; k < DISPLAY_MAIN_DIGITS && p + 1 < cap; k++)
            out[p++] = ' ';
        out[p] = '\0';
    }
    size_t p = strlen(out), vlen = strlen(value);
    if (p + vlen < cap)
        memcpy(out + p, value, vlen + 1);
}

static int choice_index(const item_t *it, int32_t v)
{
    for (int k = 0; k < it->nchoices; k++)
        if (it->choices[k].value == v)
            return k;
    return -1;
}

static int32_t digits_value(const menu_t *m, int n)
{
    int32_t v = 0;
    for (int k = 0; k < n; k++)
        v = v * 10 + m->digits[k];
    return v;
}

static void digits_from(menu_t *m, int32_t v, int n)
{
    for (int k = n - 1; k >= 0; k--) {
        m->digits[k] = (uint8_t)(v % 10);
        v /= 10;
    }
}

static void digits_text(const menu_t *m, int n, char *out)
{
    for (int k = 0; k < n; k++)
        out[k] = (char)('0' + m->digits[k]);
    out[n] = '\0';
}

/* What item `it` shows as its value when not being edited. */
static void item_value(const item_t *it, const readings_t *r, char *out)
{
    switch (it->kind) {
    case ITEM_DIGITS: {
        int32_t v = settings_get(&r->settings, it->setting);
        if (it->setting == SETTING_PASSWORD) {
            memcpy(out, "----", 5); /* never shown before it is entered */
            return;
        }
        core_fmt_u(out, (uint64_t)(v < 0 ? 0 : v), it->digits);
        return;
    }
    case ITEM_CHOICE: {
        int k = choice_index(it, settings_get(&r->settings, it->setting));
        if (k >= 0)
            memcpy(out, it->choices[k].text, strlen(it->choices[k].text) + 1);
        else
            core_fmt_u(out, (uint64_t)settings_get(&r->settings, it->setting), 1);
        return;
    }
    case ITEM_RESET:
        core_fmt_fixed(out, r->resettable, 3, 6, 1000000); /* 6 + 3, as 6.2 */
        return;
    case ITEM_SHOW:
        if (it->choices) {
            int k = choice_index(it, settings_get(&r->settings, it->setting));
            if (k >= 0) {
                memcpy(out, it->choices[k].text, strlen(it->choices[k].text) + 1);
                return;
            }
            core_fmt_u(out, (uint64_t)settings_get(&r->settings, it->setting), 1);
        } else {
            core_fmt_u(out, r->power_down_count, 1);
        }
        return;
    case ITEM_END:
        out[0] = '\0';
        return;
    }
}

static void show(menu_t *m, const readings_t *r)
{
    display_screen_t s;
    memset(&s, 0, sizeof s);
    s.icons = DISPLAY_ICON_SET;
    char value[32];
    switch (m->state) {
    case MENU_NORMAL:
        if (m->display->menu) /* only on leaving: the page keeps its time otherwise */
            display_set_menu(m->display, NULL, m->now_ns);
        return;
    case MENU_TOP:
        if (m->top == MENU_TOP_BLUETOOTH) {
            memcpy(s.obis, "6.5", 4);
            compose(s.main, sizeof s.main, "bt", r->settings.bluetooth ? "on" : "oFF");
            s.icons |= DISPLAY_ICON_BT;
        } else if (m->top == MENU_TOP_SETTINGS) {
            memcpy(s.obis, "6.6", 4);
            memcpy(s.main, "SEt", 4);
        } else {
            memcpy(s.main, "End", 4);
        }
        break;
    case MENU_PASSWORD:
        memcpy(s.obis, "PASS", 5);
        digits_text(m, 4, s.main);
        s.blink = (uint16_t)(1u << (DISPLAY_MAIN_DIGITS - 4 + m->cursor));
        break;
    case MENU_LIST:
    case MENU_EDIT: {
        const item_t *it = &items[m->item];
        memcpy(s.obis, it->section, strlen(it->section) + 1);
        s.icons |= it->icons;
        if (m->state == MENU_LIST) {
            item_value(it, r, value);
        } else if (it->kind == ITEM_DIGITS) {
            digits_text(m, it->digits, value);
            s.blink = (uint16_t)(1u << (DISPLAY_MAIN_DIGITS - it->digits + m->cursor));
        } else {
            const char *t = it->choices[m->choice].text;
            memcpy(value, t, strlen(t) + 1);
            int vl = visible_len(value);
            s.blink = (uint16_t)(((1u << vl) - 1) << (DISPLAY_MAIN_DIGITS - vl));
        }
        if (it->kind == ITEM_RESET && m->state == MENU_LIST &&
            it->reset == ACCESS_RESET_DAY_COUNTER)
            memcpy(s.main, value, strlen(value) + 1); /* 9 digits: no room for a name */
        else
            compose(s.main, sizeof s.main, it->name, value);
        if (it->setting == SETTING_TARIFF) {
            int t = m->state == MENU_EDIT ? it->choices[m->choice].value : r->settings.tariff;
            s.icons |= DISPLAY_ICON_T1 << (t - 1);
        }
        break;
    }
    case MENU_MESSAGE:
        memcpy(s.main, m->message, strlen(m->message) + 1);
        break;
    }
    display_set_menu(m->display, &s, m->now_ns);
}

/* ------------------------------------------------------------------------ */
/* State machine                                                             */

void menu_init(menu_t *m, const access_t *access, display_t *display, uint64_t now_ns)
{
    memset(m, 0, sizeof *m);
    m->access = *access;
    m->display = display;
    m->now_ns = now_ns;
    m->state = MENU_NORMAL;
}

bool menu_active(const menu_t *m)
{
    return m->state != MENU_NORMAL;
}

static void message(menu_t *m, const char *text, menu_state_t after)
{
    size_t n = strlen(text);
    if (n >= sizeof m->message)
        n = sizeof m->message - 1;
    memcpy(m->message, text, n);
    m->message[n] = '\0';
    m->message_until_ns = m->now_ns + MENU_MESSAGE_NS;
    m->after_message = after;
    m->state = MENU_MESSAGE;
}

static const char *refusal(settings_err_t e)
{
    switch (e) {
    case SETTINGS_E_LOCKED:
        return "Err LoC"; /* 6.6.15: C-05 is for good */
    case SETTINGS_E_CONFLICT:
        return "Err ConF";
    default:
        return "Err rAnGE";
    }
}

static void apply(menu_t *m, const item_t *it, int32_t value)
{
    settings_err_t e = m->access.set(m->access.ctx, it->setting, value);
    if (e == SETTINGS_OK)
        m->state = MENU_LIST;
    else
        message(m, refusal(e), MENU_LIST);
}

static void open_item(menu_t *m, const readings_t *r)
{
    const item_t *it = &items[m->item];
    switch (it->kind) {
    case ITEM_END:
        m->state = MENU_NORMAL;
        return;
    case ITEM_DIGITS:
        digits_from(m, settings_get(&r->settings, it->setting), it->digits);
        m->cursor = 0;
        break;
    case ITEM_CHOICE: {
        int k = choice_index(it, settings_get(&r->settings, it->setting));
        m->choice = (uint8_t)(k < 0 ? 0 : k);
        break;
    }
    case ITEM_RESET:
        m->choice = 0; /* "no" first: a stray touch must not reset */
        break;
    case ITEM_SHOW:
        return; /* nothing to edit: the list stays */
    }
    m->state = MENU_EDIT;
}

static uint8_t wrap_step(int v, int dir, int n)
{
    return (uint8_t)((v + (dir > 0 ? 1 : n - 1)) % n);
}

/* A press of `b` while the menu is open. */
static void menu_press(menu_t *m, menu_button_t b, const readings_t *r)
{
    int dir = b == MENU_LEFT ? -1 : b == MENU_RIGHT ? 1 : 0;
    switch (m->state) {
    case MENU_NORMAL:
        break;
    case MENU_MESSAGE:
        m->state = m->after_message; /* a touch dismisses it, nothing more */
        break;
    case MENU_TOP:
        if (dir) {
            m->top = wrap_step(m->top, dir, MENU_TOP_COUNT);
        } else if (m->top == MENU_TOP_BLUETOOTH) {
            /* 6.5: the middle button switches Bluetooth; no password (the
             * manual puts 6.5 before the password of 6.6). */
            m->access.set(m->access.ctx, SETTING_BLUETOOTH, r->settings.bluetooth ? 0 : 1);
        } else if (m->top == MENU_TOP_SETTINGS) {
            memset(m->digits, 0, sizeof m->digits);
            m->cursor = 0;
            m->state = MENU_PASSWORD;
        } else {
            m->state = MENU_NORMAL;
        }
        break;
    case MENU_PASSWORD:
        if (dir) {
            m->digits[m->cursor] = wrap_step(m->digits[m->cursor], dir, 10);
        } else if (++m->cursor == 4) {
            if (digits_value(m, 4) == r->settings.password) {
                m->item = 0;
                m->state = MENU_LIST;
            } else {
                message(m, "Err PASS", MENU_TOP);
            }
        }
        break;
    case MENU_LIST:
        if (dir)
            m->item = wrap_step(m->item, dir, ITEM_COUNT);
        else
            open_item(m, r);
        break;
    case MENU_EDIT: {
        const item_t *it = &items[m->item];
        if (it->kind == ITEM_DIGITS) {
            if (dir)
                m->digits[m->cursor] = wrap_step(m->digits[m->cursor], dir, 10);
            else if (++m->cursor == it->digits)
                apply(m, it, digits_value(m, it->digits));
        } else if (dir) {
            m->choice = wrap_step(m->choice, dir, it->nchoices);
        } else if (it->kind == ITEM_RESET) {
            if (it->choices[m->choice].value)
                m->access.reset(m->access.ctx, it->reset);
            m->state = MENU_LIST;
        } else {
            apply(m, it, it->choices[m->choice].value);
        }
        break;
    }
    }
}

/* The timers, without redrawing. */
static void run_timers(menu_t *m, uint64_t now, const readings_t *r)
{
    if (now > m->now_ns)
        m->now_ns = now;
    if (m->state == MENU_NORMAL) {
        if (m->hold_armed && m->held[MENU_MIDDLE] && now - m->middle_since_ns >= MENU_HOLD_NS) {
            m->hold_armed = false;
            m->last_edge_ns = m->middle_since_ns + MENU_HOLD_NS;
            if (r->error_code == 0) { /* 7.1: the meter stopped */
                m->top = MENU_TOP_BLUETOOTH;
                m->state = MENU_TOP;
            }
        }
        return;
    }
    if (m->state == MENU_MESSAGE && now >= m->message_until_ns)
        m->state = m->after_message;
    if (m->state != MENU_NORMAL && now - m->last_edge_ns >= MENU_IDLE_NS)
        m->state = MENU_NORMAL; /* an unfinished edit is dropped */
}

void menu_advance(menu_t *m, uint64_t now_ns)
{
    if (now_ns < m->now_ns)
        now_ns = m->now_ns;
    readings_t r;
    m->access.read(m->access.ctx, &r);
    menu_state_t before = m->state;
    run_timers(m, now_ns, &r);
    if (m->state != before)
        show(m, &r);
    display_advance(m->display, &r, m->now_ns);
}

void menu_button(menu_t *m, menu_button_t b, bool pressed, uint64_t t_ns)
{
    METER_ASSERT(m);
    if ((unsigned)b >= MENU_BUTTON_COUNT)
        return;
    if (t_ns < m->now_ns)
        t_ns = m->now_ns;
    readings_t r;
    m->access.read(m->access.ctx, &r);
    run_timers(m, t_ns, &r); /* a hold that ran out before this edge counts first */

    if (m->held[b] == pressed) { /* not an edge (a repeated report): nothing */
        show(m, &r);
        display_advance(m->display, &r, m->now_ns);
        return;
    }
    m->held[b] = pressed;
    m->last_edge_ns = t_ns;
    if (pressed)
        display_touch(m->display, t_ns); /* 6.6.11 button mode */

    if (m->state == MENU_NORMAL) {
        if (b == MENU_MIDDLE) {
            m->hold_armed = pressed;
            m->middle_since_ns = t_ns;
        } else if (pressed && r.error_code == 0) {
            display_step(m->display, &r, b == MENU_LEFT ? -1 : 1, t_ns); /* 6.3 */
        }
    } else if (pressed) {
        menu_press(m, b, &r);
        m->access.read(m->access.ctx, &r); /* the change just made shows at once */
    }
    show(m, &r);
    display_advance(m->display, &r, m->now_ns);
}

uint64_t menu_deadline(const menu_t *m)
{
    if (m->state == MENU_NORMAL)
        return (m->hold_armed && m->held[MENU_MIDDLE]) ? m->middle_since_ns + MENU_HOLD_NS
                                                       : VTIME_NEVER;
    uint64_t idle = m->last_edge_ns + MENU_IDLE_NS;
    if (m->state == MENU_MESSAGE && m->message_until_ns < idle)
        return m->message_until_ns;
    return idle;
}
