/* display: pages, formats and segments of the LCD (manual 6.1-6.3, 6.6.11,
 * 6.6.14, 7.1, A1.2, A3.3). The layout and every choice the manual leaves
 * open are in docs/display.md. */
#include "display.h"

#include <math.h>
#include <string.h>

#include "energy.h"
#include "internal.h"
#include "vtime.h"

/* ------------------------------------------------------------------------ */
/* Characters and fields                                                     */

/* One line per glyph, as a font table reads. */
// clang-format off
uint8_t display_segments(char c)
{
    enum { A = DISPLAY_SEG_A, B = DISPLAY_SEG_B, C = DISPLAY_SEG_C, D = DISPLAY_SEG_D,
           E = DISPLAY_SEG_E, F = DISPLAY_SEG_F, G = DISPLAY_SEG_G };
    switch (c) {
    case '0': case 'O': return A | B | C | D | E | F;
    case '1': return B | C;
    case '2': case 'Z': case 'z': return A | B | D | E | G;
    case '3': return A | B | C | D | G;
    case '4': return B | C | F | G;
    case '5': case 'S': case 's': return A | C | D | F | G;
    case '6': return A | C | D | E | F | G;
    case '7': return A | B | C;
    case '8': return A | B | C | D | E | F | G;
    case '9': return A | B | C | D | F | G;
    case 'A': case 'a': return A | B | C | E | F | G;
    case 'b': case 'B': return C | D | E | F | G;
    case 'C': return A | D | E | F;
    case 'c': return D | E | G;
    case 'd': case 'D': return B | C | D | E | G;
    case 'E': case 'e': return A | D | E | F | G;
    case 'F': case 'f': return A | E | F | G;
    case 'G': case 'g': return A | C | D | E | F;
    case 'H': return B | C | E | F | G;
    case 'h': return C | E | F | G;
    case 'I': return E | F;
    case 'i': return E;
    case 'J': case 'j': return B | C | D | E;
    case 'L': case 'l': return D | E | F;
    case 'n': case 'N': return C | E | G;
    case 'o': return C | D | E | G;
    case 'P': case 'p': return A | B | E | F | G;
    case 'q': case 'Q': return A | B | C | F | G;
    case 'r': case 'R': return E | G;
    case 't': case 'T': return D | E | F | G;
    case 'U': return B | C | D | E | F;
    case 'u': case 'v': case 'V': return C | D | E;
    case 'y': case 'Y': return B | C | D | F | G;
    case '-': return G;
    case '_': return D;
    default: return 0;
    }
}
// clang-format on

void display_field_set(display_field_t *f, int n, const char *text)
{
    /* Parse into characters with their points, then right-align. */
    char ch[32];
    uint32_t pt = 0;
    int len = 0;
    for (const char *p = text; *p && len < 32; p++) {
        if (*p == '.' && len > 0 && !(pt & (1u << (len - 1))))
            pt |= 1u << (len - 1);
        else
            ch[len++] = *p;
    }
    memset(f, 0, sizeof *f);
    memset(f->text, ' ', (size_t)n);
    f->text[n] = '\0';
    int skip = len > n ? len - n : 0; /* too long: keep the last n */
    int off = n - (len - skip);
    for (int i = skip; i < len; i++) {
        int pos = off + i - skip;
        f->text[pos] = ch[i];
        f->seg[pos] = display_segments(ch[i]);
        if (pt & (1u << i))
            f->dp |= (uint16_t)(1u << pos);
    }
}

/* ------------------------------------------------------------------------ */
/* Number formats (no stdio in the core)                                     */

/* Appends the decimal digits of v, at least `min` of them. */
char *core_fmt_u(char *p, uint64_t v, int min)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < min);
    while (n)
        *p++ = tmp[--n];
    *p = '\0';
    return p;
}

static const uint64_t pow10_table[] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 1000000000};

/* |v| truncated to `dec` decimals, at least `min_int` integer digits; the
 * integer part wraps at `wrap` (0: never). The tiny bias keeps 123.456 from
 * showing as 123.455 when the double is a hair below it. */
void core_fmt_fixed(char *out, double v, int dec, int min_int, uint64_t wrap)
{
    double a = fabs(v);
    if (!(a < 1e15)) /* NaN or absurd: show dashes rather than garbage */
        a = 0;
    uint64_t scaled = (uint64_t)floor(a * (double)pow10_table[dec] + 1e-6);
    uint64_t ip = scaled / pow10_table[dec], fp = scaled % pow10_table[dec];
    if (wrap)
        ip %= wrap;
    char *p = core_fmt_u(out, ip, min_int);
    if (dec > 0) {
        *p++ = '.';
        core_fmt_u(p, fp, dec);
    }
}

/* Energy in the 6 + 3 digit field: 999999.999 is followed by 000000.000 (6.2). */
static void fmt_energy(char *out, double kwh)
{
    core_fmt_fixed(out, kwh, 3, 6, 1000000);
}

static void fmt_hex(char *out, uint32_t v, int min)
{
    static const char hex[] = "0123456789AbCdEF";
    char tmp[9];
    int n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v || n < min);
    while (n)
        *out++ = tmp[--n];
    *out = '\0';
}

/* ------------------------------------------------------------------------ */
/* Pages                                                                    */

int display_pages(const readings_t *r, display_page_t out[DISPLAY_PAGES_MAX])
{
    static const uint8_t part12[] = {
        DISPLAY_PAGE_SOFTWARE,  DISPLAY_PAGE_SERIAL,    DISPLAY_PAGE_CRC,    DISPLAY_PAGE_TOTAL,
        DISPLAY_PAGE_FWD_TOTAL, DISPLAY_PAGE_REV_TOTAL, DISPLAY_PAGE_FWD_T1, DISPLAY_PAGE_FWD_T2,
        DISPLAY_PAGE_REV_T1,    DISPLAY_PAGE_REV_T2,    DISPLAY_PAGE_FWD_T3, DISPLAY_PAGE_FWD_T4,
        DISPLAY_PAGE_REV_T3,    DISPLAY_PAGE_REV_T4,
    };
    /* Part 3 in the order 6.3 lists the quantities. */
    static const uint8_t part3[] = {
        DISPLAY_PAGE_DIRECTION, DISPLAY_PAGE_TRIP,     DISPLAY_PAGE_REACTIVE_ENERGY,
        DISPLAY_PAGE_PF,        DISPLAY_PAGE_QUADRANT, DISPLAY_PAGE_FREQUENCY,
        DISPLAY_PAGE_P,         DISPLAY_PAGE_S,        DISPLAY_PAGE_Q,
        DISPLAY_PAGE_VOLTAGE,   DISPLAY_PAGE_CURRENT,
    };
    int n = 0;
    for (size_t i = 0; i < sizeof part12; i++) {
        if (part12[i] >= DISPLAY_PAGE_FWD_T3 && !r->settings.t34_activated)
            continue; /* A1.2: T3/T4 join the scroll once activated */
        out[n++] = (display_page_t){part12[i], DISPLAY_GROUP_TOTAL};
        /* 7.1: a fault the meter runs on (a copy replaced by the other, an
         * area it cannot operate) is shown as its Err code among part 1. */
        if (part12[i] == DISPLAY_PAGE_CRC && r->error_flags && !r->error_code)
            out[n++] = (display_page_t){DISPLAY_PAGE_DIAGNOSTICS, DISPLAY_GROUP_TOTAL};
    }
    for (int g = DISPLAY_GROUP_TOTAL; g <= DISPLAY_GROUP_L3; g++)
        for (size_t i = 0; i < sizeof part3; i++) {
            /* One grid frequency; voltages only per phase (the OBIS list of 6.6.14). */
            if (part3[i] == DISPLAY_PAGE_FREQUENCY && g != DISPLAY_GROUP_TOTAL)
                continue;
            if (part3[i] == DISPLAY_PAGE_VOLTAGE && g == DISPLAY_GROUP_TOTAL)
                continue;
            out[n++] = (display_page_t){part3[i], (uint8_t)g};
        }
    return n;
}

uint64_t display_page_dwell_ns(display_page_t p, const readings_t *r)
{
    if (p.kind <= DISPLAY_PAGE_CRC || p.kind == DISPLAY_PAGE_DIAGNOSTICS)
        return DISPLAY_PART1_NS; /* 6.1: "scrolling every 10 seconds" */
    uint8_t s = r->settings.lcd_cycle_s;
    if (s < 1)
        s = 1; /* an invalid 0 must not stop time */
    return (uint64_t)s * VTIME_NS_PER_S;
}

/* What one page puts on the glass. */
typedef struct {
    char obis[16];
    char label[16];
    char value[24];
    uint32_t icons;
    bool negative;
    int tariff; /* 0: show the tariff in use; 1..4: this register's tariff */
} page_view_t;

static const uint32_t group_icons[4] = {
    DISPLAY_ICON_L1 | DISPLAY_ICON_L2 | DISPLAY_ICON_L3,
    DISPLAY_ICON_L1,
    DISPLAY_ICON_L2,
    DISPLAY_ICON_L3,
};

/* An OBIS code "c.7.0" (6.6.14). */
static void obis_instant(char *out, int c)
{
    char *p = core_fmt_u(out, (uint64_t)c, 1);
    memcpy(p, ".7.0", 5);
}

static void obis_energy(char *out, int c, int t)
{
    out[0] = (char)('0' + c);
    out[1] = '.';
    out[2] = '8';
    out[3] = '.';
    out[4] = (char)('0' + t);
    out[5] = '\0';
}

static void set_signed(page_view_t *v, double x, int dec)
{
    v->negative = x < 0 && floor(fabs(x) * (double)pow10_table[dec] + 1e-6) > 0;
    core_fmt_fixed(v->value, x, dec, 1, 0);
}

static void page_view(page_view_t *v, display_page_t pg, const readings_t *r)
{
    memset(v, 0, sizeof *v);
    int g = pg.group, ph = g - 1;
    bool tot = g == DISPLAY_GROUP_TOTAL;
    switch ((display_page_kind_t)pg.kind) {
    case DISPLAY_PAGE_SOFTWARE:
        memcpy(v->label, "SoFt", 5);
        /* A float register (0x4007): round, or 1.05f would show as 1.04. */
        core_fmt_fixed(v->value, floor((double)r->software_version * 100.0 + 0.5) / 100.0, 2, 1, 0);
        v->icons = DISPLAY_ICON_KWH; /* 6.1: the MID unit */
        return;
    case DISPLAY_PAGE_SERIAL: {
        memcpy(v->label, "Sn", 3);
        const char *s = settings_serial_tail(r->serial); /* as Modbus 0x4000 */
        memcpy(v->value, s, strlen(s) + 1);
        v->icons = DISPLAY_ICON_KWH;
        return;
    }
    case DISPLAY_PAGE_CRC:
        memcpy(v->label, "CrC", 4);
        fmt_hex(v->value, r->checksum, 4);
        v->icons = DISPLAY_ICON_KWH;
        return;
    case DISPLAY_PAGE_TOTAL:
        memcpy(v->label, "totAL", 6);
        fmt_energy(v->value, r->active_total.total);
        v->negative = r->active_total.total < 0;
        v->icons = DISPLAY_ICON_KWH;
        return;
    case DISPLAY_PAGE_FWD_TOTAL:
    case DISPLAY_PAGE_REV_TOTAL:
    case DISPLAY_PAGE_FWD_T1:
    case DISPLAY_PAGE_FWD_T2:
    case DISPLAY_PAGE_REV_T1:
    case DISPLAY_PAGE_REV_T2:
    case DISPLAY_PAGE_FWD_T3:
    case DISPLAY_PAGE_FWD_T4:
    case DISPLAY_PAGE_REV_T3:
    case DISPLAY_PAGE_REV_T4: {
        static const struct {
            uint8_t fwd, t;
        } m[] = {
            [DISPLAY_PAGE_FWD_TOTAL] = {1, 0}, [DISPLAY_PAGE_REV_TOTAL] = {0, 0},
            [DISPLAY_PAGE_FWD_T1] = {1, 1},    [DISPLAY_PAGE_FWD_T2] = {1, 2},
            [DISPLAY_PAGE_REV_T1] = {0, 1},    [DISPLAY_PAGE_REV_T2] = {0, 2},
            [DISPLAY_PAGE_FWD_T3] = {1, 3},    [DISPLAY_PAGE_FWD_T4] = {1, 4},
            [DISPLAY_PAGE_REV_T3] = {0, 3},    [DISPLAY_PAGE_REV_T4] = {0, 4},
        };
        const readings_energy_t *e = m[pg.kind].fwd ? &r->active_forward : &r->active_reverse;
        double kwh = m[pg.kind].t ? e->tariff[m[pg.kind].t - 1] : e->total;
        obis_energy(v->obis, m[pg.kind].fwd ? 1 : 2, m[pg.kind].t);
        fmt_energy(v->value, kwh);
        /* 6.6.15, "LCD reading": reverse shows negative, except under C-03. */
        v->negative =
            m[pg.kind].fwd ? kwh < 0 : energy_lcd_sign(r->settings.combination_code) * kwh < 0;
        v->tariff = m[pg.kind].t;
        v->icons =
            DISPLAY_ICON_KWH | (m[pg.kind].fwd ? DISPLAY_ICON_ARROW_FWD : DISPLAY_ICON_ARROW_REV);
        return;
    }
    case DISPLAY_PAGE_DIAGNOSTICS:
        memcpy(v->value, "Err ", 5);
        fmt_hex(v->value + 4, r->error_flags, 2);
        return;
    case DISPLAY_PAGE_DIRECTION: {
        char dir = tot ? r->direction_total : r->direction[ph];
        memcpy(v->label, "dir", 4);
        memcpy(v->value, dir == 'R' ? "rEv" : "For", 4);
        v->icons = group_icons[g] | (dir == 'R' ? DISPLAY_ICON_ARROW_REV : DISPLAY_ICON_ARROW_FWD);
        return;
    }
    case DISPLAY_PAGE_TRIP: {
        double kwh = tot ? r->resettable : r->resettable_phase[ph];
        memcpy(v->label, "triP", 5);
        fmt_energy(v->value, kwh);
        v->negative = kwh < 0;
        v->icons = group_icons[g] | DISPLAY_ICON_KWH;
        return;
    }
    case DISPLAY_PAGE_REACTIVE_ENERGY: {
        double kvarh = tot ? r->reactive_total.total : r->reactive_total.phase[ph];
        memcpy(v->label, "rEAct", 6);
        fmt_energy(v->value, kvarh);
        v->negative = kvarh < 0;
        v->icons = group_icons[g] | DISPLAY_ICON_KVARH;
        return;
    }
    case DISPLAY_PAGE_PF:
        memcpy(v->label, "PF", 3);
        set_signed(v, tot ? r->pf_total : r->pf[ph], 3);
        v->icons = group_icons[g];
        return;
    case DISPLAY_PAGE_QUADRANT: {
        uint8_t q = tot ? r->quadrant_total : r->quadrant[ph];
        memcpy(v->label, "quAd", 5);
        core_fmt_u(v->value, q, 1);
        v->icons = group_icons[g];
        return;
    }
    case DISPLAY_PAGE_FREQUENCY:
        core_fmt_fixed(v->value, r->frequency, 2, 1, 0);
        v->icons = DISPLAY_ICON_HZ;
        return;
    case DISPLAY_PAGE_P:
    case DISPLAY_PAGE_Q: {
        bool p = pg.kind == DISPLAY_PAGE_P;
        double x = p ? (tot ? r->p_total : r->p[ph]) : (tot ? r->q_total : r->q[ph]);
        set_signed(v, x, 3);
        /* 6.6.14: 1.7.0 forward, 2.7.0 reverse; +20 per phase. */
        obis_instant(v->obis, (p ? 1 : 3) + 20 * g + (v->negative ? 1 : 0));
        v->icons = group_icons[g] | (p ? DISPLAY_ICON_KW : DISPLAY_ICON_KVAR) |
                   (v->negative ? DISPLAY_ICON_ARROW_REV : DISPLAY_ICON_ARROW_FWD);
        return;
    }
    case DISPLAY_PAGE_S:
        core_fmt_fixed(v->value, tot ? r->s_total : r->s[ph], 3, 1, 0);
        obis_instant(v->obis, 9 + 20 * g);
        v->icons = group_icons[g] | DISPLAY_ICON_KVA;
        return;
    case DISPLAY_PAGE_VOLTAGE:
        core_fmt_fixed(v->value, tot ? r->voltage_avg : r->voltage[ph], 1, 1, 0);
        if (!tot)
            obis_instant(v->obis, 12 + 20 * g);
        v->icons = group_icons[g] | DISPLAY_ICON_V;
        return;
    case DISPLAY_PAGE_CURRENT:
        core_fmt_fixed(v->value, tot ? r->current_sum : r->current[ph], 3, 1, 0);
        obis_instant(v->obis, 11 + 20 * g);
        v->icons = group_icons[g] | DISPLAY_ICON_A;
        return;
    case DISPLAY_PAGE_KIND_COUNT:
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Sequencer                                                                 */

void display_init(display_t *d, uint64_t now_ns)
{
    memset(d, 0, sizeof *d);
    d->now_ns = now_ns;
    d->page_since_ns = now_ns;
    d->page_dwell_ns = DISPLAY_PART1_NS;
    d->page = (display_page_t){DISPLAY_PAGE_SOFTWARE, DISPLAY_GROUP_TOTAL};
    d->backlight_mode = 1;
    display_field_set(&d->main, DISPLAY_MAIN_DIGITS, "");
    display_field_set(&d->obis, DISPLAY_OBIS_DIGITS, "");
}

static int page_index(const display_page_t *pages, int n, display_page_t p)
{
    for (int i = 0; i < n; i++)
        if (pages[i].kind == p.kind && pages[i].group == p.group)
            return i;
    return -1;
}

/* Moves the automatic scroll to `now`. */
static void scroll_to(display_t *d, const readings_t *r, uint64_t now)
{
    display_page_t pages[DISPLAY_PAGES_MAX];
    int n = display_pages(r, pages);
    int i = page_index(pages, n, d->page);
    if (i < 0) {
        i = 0;
        d->page = pages[0];
        d->page_since_ns = now;
    }
    /* Skip whole cycles at once, so a long gap costs no time. */
    uint64_t cycle = 0;
    for (int k = 0; k < n; k++)
        cycle += display_page_dwell_ns(pages[k], r);
    if (now - d->page_since_ns > 2 * cycle)
        d->page_since_ns += (now - d->page_since_ns - cycle) / cycle * cycle;
    for (;;) {
        uint64_t dwell = display_page_dwell_ns(d->page, r);
        if (now - d->page_since_ns < dwell) {
            d->page_dwell_ns = dwell;
            break;
        }
        d->page_since_ns += dwell;
        i = (i + 1) % n;
        d->page = pages[i];
    }
}

static bool backlight_on(const display_t *d, uint64_t now)
{
    switch (d->backlight_mode) {
    case 0:
        return false;
    case 2:
        return d->touched && now - d->last_touch_ns < DISPLAY_BACKLIGHT_BUTTON_NS;
    default:
        return true;
    }
}

static void render_page(display_t *d, const readings_t *r)
{
    page_view_t v;
    page_view(&v, d->page, r);
    /* 6.6.14: with OBIS codes on, the code where the manual lists one,
     * else the page's label; with them off, the label. */
    const char *small = (r->settings.obis && v.obis[0]) ? v.obis : v.label;
    display_field_set(&d->obis, DISPLAY_OBIS_DIGITS, small);
    display_field_set(&d->main, DISPLAY_MAIN_DIGITS, v.value);
    d->icons |= v.icons;
    if (v.negative)
        d->icons |= DISPLAY_ICON_MINUS;
    int t = v.tariff ? v.tariff : r->tariff;
    if (t >= 1 && t <= 4)
        d->icons |= DISPLAY_ICON_T1 << (t - 1);
}

static void render_menu(display_t *d, uint64_t now)
{
    display_field_set(&d->obis, DISPLAY_OBIS_DIGITS, d->screen.obis);
    display_field_set(&d->main, DISPLAY_MAIN_DIGITS, d->screen.main);
    d->icons |= d->screen.icons;
    if ((now / DISPLAY_BLINK_NS) % 2) /* second half of the second: blinking digits dark */
        for (int i = 0; i < DISPLAY_MAIN_DIGITS; i++)
            if (d->screen.blink & (1u << i)) {
                d->main.seg[i] = 0;
                d->main.text[i] = ' ';
                d->main.dp &= (uint16_t) ~(1u << i);
            }
}

void display_set_power(display_t *d, display_power_t p, uint64_t now_ns)
{
    if (p == DISPLAY_POWER_ON && d->power != DISPLAY_POWER_ON)
        display_init(d, now_ns); /* the pages start again, as at power-up */
    d->power = (uint8_t)p;
    d->now_ns = now_ns > d->now_ns ? now_ns : d->now_ns;
}

/* Without supply nothing is lit; while booting everything is. */
static void power_glass(display_t *d)
{
    bool on = d->power == DISPLAY_POWER_BOOT;
    char all[DISPLAY_MAIN_DIGITS + 1];
    memset(all, on ? '8' : ' ', DISPLAY_MAIN_DIGITS);
    all[DISPLAY_MAIN_DIGITS] = '\0';
    display_field_set(&d->main, DISPLAY_MAIN_DIGITS, on ? all : "");
    display_field_set(&d->obis, DISPLAY_OBIS_DIGITS,
                      on ? all + DISPLAY_MAIN_DIGITS - DISPLAY_OBIS_DIGITS : "");
    d->main.dp = on ? (uint16_t)((1u << DISPLAY_MAIN_DIGITS) - 1u) : 0;
    d->obis.dp = on ? (uint16_t)((1u << DISPLAY_OBIS_DIGITS) - 1u) : 0;
    d->icons = on ? (1u << DISPLAY_ICON_COUNT) - 1u : 0;
    d->backlight = on;
    d->error = false;
    d->menu = false;
}

void display_advance(display_t *d, const readings_t *r, uint64_t now_ns)
{
    if (now_ns < d->now_ns)
        now_ns = d->now_ns; /* time never runs backwards */
    d->now_ns = now_ns;
    if (d->power != DISPLAY_POWER_ON) {
        power_glass(d);
        return;
    }
    d->backlight_mode = r->settings.backlight;
    d->rotated = r->settings.screen_direction == 1;
    d->backlight = backlight_on(d, now_ns);
    d->icons = 0;
    d->error = r->error_code != 0;
    if (d->menu || d->error)
        d->page_since_ns = now_ns; /* the scroll waits: menu open, or meter stopped (7.1) */
    else
        scroll_to(d, r, now_ns);

    if (d->error) {
        /* 7.1: the meter stops and shows "Err XX", XX the error byte in hex. */
        char txt[8] = "Err ";
        fmt_hex(txt + 4, r->error_code, 2);
        display_field_set(&d->obis, DISPLAY_OBIS_DIGITS, "");
        display_field_set(&d->main, DISPLAY_MAIN_DIGITS, txt);
        return;
    }
    /* 6.1 / 6.5: icon 1 while Bluetooth is on, steady while an app is
     * connected and blinking while it waits for one (docs/decisions.md);
     * icon 2 while a bus talks to us. */
    d->bt_waiting = r->settings.bluetooth && !r->bt_connected;
    if (r->bt_connected || (d->bt_waiting && (now_ns / DISPLAY_BLINK_NS) % 2 == 0))
        d->icons |= DISPLAY_ICON_BT;
    if (r->comm_active)
        d->icons |= DISPLAY_ICON_COMM;
    if (d->menu)
        render_menu(d, now_ns);
    else
        render_page(d, r);
}

uint64_t display_deadline(const display_t *d)
{
    if (d->power != DISPLAY_POWER_ON)
        return VTIME_NEVER; /* the meter's boot ends it (meter.c) */
    uint64_t t = VTIME_NEVER;
    if (d->backlight_mode == 2 && d->touched &&
        d->now_ns - d->last_touch_ns < DISPLAY_BACKLIGHT_BUTTON_NS)
        t = d->last_touch_ns + DISPLAY_BACKLIGHT_BUTTON_NS;
    if (d->error)
        return t;
    uint64_t next;
    if (d->menu)
        next =
            d->screen.blink ? (d->now_ns / DISPLAY_BLINK_NS + 1) * DISPLAY_BLINK_NS : VTIME_NEVER;
    else
        next = d->page_since_ns + d->page_dwell_ns;
    if (d->bt_waiting) { /* icon 1 blinks */
        uint64_t b = (d->now_ns / DISPLAY_BLINK_NS + 1) * DISPLAY_BLINK_NS;
        next = b < next ? b : next;
    }
    return next < t ? next : t;
}

void display_touch(display_t *d, uint64_t now_ns)
{
    d->touched = true;
    d->last_touch_ns = now_ns;
}

static bool is_part3(uint8_t kind)
{
    return kind >= DISPLAY_PAGE_DIRECTION && kind != DISPLAY_PAGE_DIAGNOSTICS;
}

/* The page a button press leads to from pages[i]. In parts 1 and 2 one page
 * on or back; in part 3 one group on or back, Total - L1 - L2 - L3 (6.3), to
 * the same quantity where that group shows it (else the group's first page);
 * past L3 the sequence goes on at part 1, before Total back to part 2. */
static int step_index(const display_page_t *pages, int n, int i, int dir)
{
    if (!is_part3(pages[i].kind))
        return (i + (dir < 0 ? n - 1 : 1)) % n;
    int g = pages[i].group + (dir < 0 ? -1 : 1);
    int first3 = 0;
    while (first3 < n && !is_part3(pages[first3].kind))
        first3++;
    if (g > DISPLAY_GROUP_L3)
        return 0;
    if (g < DISPLAY_GROUP_TOTAL)
        return first3 > 0 ? first3 - 1 : n - 1;
    int any = -1;
    for (int k = first3; k < n; k++) {
        if (pages[k].group != g)
            continue;
        if (pages[k].kind == pages[i].kind)
            return k;
        if (any < 0)
            any = k;
    }
    return any >= 0 ? any : i;
}

void display_step(display_t *d, const readings_t *r, int dir, uint64_t now_ns)
{
    display_advance(d, r, now_ns);
    display_page_t pages[DISPLAY_PAGES_MAX];
    int n = display_pages(r, pages);
    int i = page_index(pages, n, d->page);
    i = i < 0 ? 0 : step_index(pages, n, i, dir);
    d->page = pages[i];
    d->page_since_ns = d->now_ns;
    display_advance(d, r, d->now_ns);
}

void display_set_menu(display_t *d, const display_screen_t *s, uint64_t now_ns)
{
    if (now_ns > d->now_ns)
        d->now_ns = now_ns;
    if (s) {
        d->screen = *s;
        d->menu = true;
    } else {
        d->menu = false;
        d->page_since_ns = d->now_ns; /* a fresh full cycle for the page */
    }
}
