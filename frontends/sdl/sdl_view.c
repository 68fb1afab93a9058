/* sdl_view: the meter's front and a demo panel in an SDL2 window (see
 * sdl_view.h). Everything is drawn in a logical 1000 x 640 canvas, scaled
 * to the renderer's output pixels, so HiDPI screens get sharp segments. */
#include "sdl/sdl_view.h"

#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdl/sdl_font.h"

#define CANVAS_W 1000.0f
#define CANVAS_H 640.0f

/* Where things are, in canvas units. */
typedef struct {
    float x, y, w, h;
} box_t;

static const box_t HOUSING = {20, 20, 450, 600};
static const box_t LCD = {45, 170, 400, 150};
// clang-format off
static const box_t BUTTONS[MENU_BUTTON_COUNT] = {
    {85, 350, 90, 52}, {200, 350, 90, 52}, {315, 350, 90, 52}};

/* Panel controls. */
enum {
    CTL_SUPPLY,
    CTL_TARIFF,
    CTL_MINUS1, CTL_MINUS2, CTL_MINUS3,
    CTL_PLUS1, CTL_PLUS2, CTL_PLUS3,
    CTL_REV1, CTL_REV2, CTL_REV3,
    CTL_COUNT
};
// clang-format on
// clang-format off
static const box_t CONTROLS[CTL_COUNT] = {
    [CTL_SUPPLY] = {500, 70, 220, 40},
    [CTL_TARIFF] = {740, 70, 240, 40},
    [CTL_MINUS1] = {560, 130, 40, 34}, [CTL_MINUS2] = {560, 174, 40, 34}, [CTL_MINUS3] = {560, 218, 40, 34},
    [CTL_PLUS1] = {730, 130, 40, 34},  [CTL_PLUS2] = {730, 174, 40, 34},  [CTL_PLUS3] = {730, 218, 40, 34},
    [CTL_REV1] = {790, 130, 110, 34},  [CTL_REV2] = {790, 174, 110, 34},  [CTL_REV3] = {790, 218, 110, 34},
};
// clang-format on

struct sdl_view {
    SDL_Window *win;
    SDL_Renderer *ren;
    /* canvas -> pixels */
    float ox, oy, s;
    /* 180 degrees about the LCD's centre while drawing the glass */
    bool rot;
    /* who holds each meter button: bit 0 mouse, bit 1 key, bits 2.. fingers */
    uint32_t holders[MENU_BUTTON_COUNT];
    SDL_FingerID fingers[MENU_BUTTON_COUNT];
    int mouse_button; /* the meter button the mouse holds, -1 none */
};

/* ------------------------------------------------------------------------ */
/* Primitives                                                                */

static SDL_FPoint pt(const sdl_view_t *v, float x, float y)
{
    if (v->rot) {
        x = 2 * (LCD.x + LCD.w / 2) - x;
        y = 2 * (LCD.y + LCD.h / 2) - y;
    }
    return (SDL_FPoint){v->ox + x * v->s, v->oy + y * v->s};
}

/* A convex polygon, as a triangle fan. */
static void poly(sdl_view_t *v, const float *xy, int n, SDL_Color c)
{
    SDL_Vertex vert[16];
    int idx[3 * 14];
    if (n > 16)
        n = 16;
    for (int i = 0; i < n; i++)
        vert[i] = (SDL_Vertex){pt(v, xy[2 * i], xy[2 * i + 1]), c, {0, 0}};
    int k = 0;
    for (int i = 1; i + 1 < n; i++) {
        idx[k++] = 0;
        idx[k++] = i;
        idx[k++] = i + 1;
    }
    SDL_RenderGeometry(v->ren, NULL, vert, n, idx, k);
}

static void rect(sdl_view_t *v, float x, float y, float w, float h, SDL_Color c)
{
    float xy[8] = {x, y, x + w, y, x + w, y + h, x, y + h};
    poly(v, xy, 4, c);
}

static void frame(sdl_view_t *v, box_t b, float t, SDL_Color c)
{
    rect(v, b.x, b.y, b.w, t, c);
    rect(v, b.x, b.y + b.h - t, b.w, t, c);
    rect(v, b.x, b.y, t, b.h, c);
    rect(v, b.x + b.w - t, b.y, t, b.h, c);
}

static void circle(sdl_view_t *v, float cx, float cy, float r, SDL_Color c)
{
    float xy[32];
    for (int i = 0; i < 16; i++) {
        xy[2 * i] = cx + r * cosf((float)i * 6.2831853f / 16);
        xy[2 * i + 1] = cy + r * sinf((float)i * 6.2831853f / 16);
    }
    poly(v, xy, 16, c);
}

static void line(sdl_view_t *v, float x0, float y0, float x1, float y1, float t, SDL_Color c)
{
    float dx = x1 - x0, dy = y1 - y0, l = sqrtf(dx * dx + dy * dy);
    if (l <= 0)
        return;
    float nx = -dy / l * t / 2, ny = dx / l * t / 2;
    float xy[8] = {x0 + nx, y0 + ny, x1 + nx, y1 + ny, x1 - nx, y1 - ny, x0 - nx, y0 - ny};
    poly(v, xy, 4, c);
}

/* A rectangle on whole device pixels, at least one wide and high: the font's
 * one-pixel strokes would otherwise fall between pixels at some scales (the
 * software renderer drops them, "L1" reads "Li"). */
static void cell(sdl_view_t *v, float x, float y, float w, float h, SDL_Color c)
{
    SDL_FPoint a = pt(v, x, y), b = pt(v, x + w, y + h);
    int x0 = (int)lroundf(fminf(a.x, b.x)), x1 = (int)lroundf(fmaxf(a.x, b.x));
    int y0 = (int)lroundf(fminf(a.y, b.y)), y1 = (int)lroundf(fmaxf(a.y, b.y));
    SDL_Rect r = {x0, y0, x1 > x0 ? x1 - x0 : 1, y1 > y0 ? y1 - y0 : 1};
    SDL_SetRenderDrawColor(v->ren, c.r, c.g, c.b, c.a);
    SDL_RenderFillRect(v->ren, &r);
}

/* Text in the 5x7 font, `sc` canvas units per font pixel; returns the width. */
static float text(sdl_view_t *v, float x, float y, float sc, const char *s, SDL_Color c)
{
    float x0 = x;
    for (; *s; s++, x += 6 * sc) {
        unsigned ch = (unsigned char)*s;
        if (ch < 32 || ch > 126)
            continue;
        const uint8_t *g = sdl_font_5x7[ch - 32];
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5;) {
                if (!(g[row] & (0x10 >> col))) {
                    col++;
                    continue;
                }
                int run = col;
                while (run < 5 && (g[row] & (0x10 >> run)))
                    run++;
                cell(v, x + (float)col * sc, y + (float)row * sc, (float)(run - col) * sc, sc, c);
                col = run;
            }
    }
    return x - x0 - sc;
}

static float text_width(const char *s, float sc)
{
    return (float)strlen(s) * 6 * sc - sc;
}

static void text_centered(sdl_view_t *v, box_t b, float sc, const char *s, SDL_Color c)
{
    text(v, b.x + (b.w - text_width(s, sc)) / 2, b.y + (b.h - 7 * sc) / 2, sc, s, c);
}

/* ------------------------------------------------------------------------ */
/* The LCD                                                                   */

typedef struct {
    SDL_Color bg, on, ghost;
} lcd_colors_t;

/* One hexagonal segment from (x0,y0) to (x1,y1), horizontal or vertical,
 * slanted like the glass (italic digits). */
static void segment(sdl_view_t *v, float x0, float y0, float x1, float y1, float t, float base,
                    float slant, SDL_Color c)
{
    float h = t / 2, xy[12];
    if (y0 == y1) {
        float p[12] = {x0, y0, x0 + h, y0 - h, x1 - h, y0 - h,
                       x1, y0, x1 - h, y0 + h, x0 + h, y0 + h};
        memcpy(xy, p, sizeof p);
    } else {
        float p[12] = {x0, y0, x0 + h, y0 + h, x0 + h, y1 - h,
                       x0, y1, x0 - h, y1 - h, x0 - h, y0 + h};
        memcpy(xy, p, sizeof p);
    }
    for (int i = 0; i < 6; i++)
        xy[2 * i] += (base - xy[2 * i + 1]) * slant;
    poly(v, xy, 6, c);
}

static void digit(sdl_view_t *v, float x, float y, float w, float hgt, uint8_t segs, bool dp,
                  const lcd_colors_t *col, bool draw_ghost)
{
    float t = w * 0.19f, g = t * 0.2f, sl = 0.08f, base = y + hgt;
    float x0 = x + t / 2, x1 = x + w - t / 2, y0 = y + t / 2, ym = y + hgt / 2,
          y1 = y + hgt - t / 2;
    const struct {
        uint8_t bit;
        float ax, ay, bx, by;
    } s[7] = {
        {DISPLAY_SEG_A, x0 + g, y0, x1 - g, y0}, {DISPLAY_SEG_B, x1, y0 + g, x1, ym - g},
        {DISPLAY_SEG_C, x1, ym + g, x1, y1 - g}, {DISPLAY_SEG_D, x0 + g, y1, x1 - g, y1},
        {DISPLAY_SEG_E, x0, ym + g, x0, y1 - g}, {DISPLAY_SEG_F, x0, y0 + g, x0, ym - g},
        {DISPLAY_SEG_G, x0 + g, ym, x1 - g, ym},
    };
    for (int pass = draw_ghost ? 0 : 1; pass < 2; pass++)
        for (int i = 0; i < 7; i++)
            if (pass == 0 || (segs & s[i].bit))
                segment(v, s[i].ax, s[i].ay, s[i].bx, s[i].by, t, base, sl,
                        pass ? col->on : col->ghost);
    float d = t * 1.1f;
    if (draw_ghost)
        rect(v, x + w + t * 0.35f, y + hgt - d, d, d, col->ghost);
    if (dp)
        rect(v, x + w + t * 0.35f, y + hgt - d, d, d, col->on);
}

static void field(sdl_view_t *v, const display_field_t *f, int n, float x, float y, float w,
                  float h, float pitch, const lcd_colors_t *col, bool lit)
{
    for (int i = 0; i < n; i++)
        digit(v, x + (float)i * pitch, y, w, h, lit ? f->seg[i] : 0, lit && (f->dp & (1u << i)),
              col, true);
}

/* An icon is drawn dark when lit, as a faint ghost otherwise (real glass). */
static SDL_Color icon_color(const display_t *d, uint32_t bit, const lcd_colors_t *col)
{
    return (d && (d->icons & bit)) ? col->on : col->ghost;
}

static void icon_arrow(sdl_view_t *v, float x, float y, bool right, SDL_Color c)
{
    /* a bar and a head: "->" or "<-" */
    float w = 22, h = 12;
    if (right) {
        rect(v, x, y + h / 2 - 2, w - 8, 4, c);
        float xy[6] = {x + w - 9, y, x + w, y + h / 2, x + w - 9, y + h};
        poly(v, xy, 3, c);
    } else {
        rect(v, x + 8, y + h / 2 - 2, w - 8, 4, c);
        float xy[6] = {x + 9, y, x, y + h / 2, x + 9, y + h};
        poly(v, xy, 3, c);
    }
}

static void icon_bluetooth(sdl_view_t *v, float cx, float y, SDL_Color c)
{
    float h = 18, r = 5, t = 2.2f;
    line(v, cx, y, cx, y + h, t, c);
    line(v, cx, y, cx + r, y + h / 4, t, c);
    line(v, cx + r, y + h / 4, cx - r, y + 3 * h / 4, t, c);
    line(v, cx - r, y + h / 4, cx + r, y + 3 * h / 4, t, c);
    line(v, cx + r, y + 3 * h / 4, cx, y + h, t, c);
}

static void icon_comm(sdl_view_t *v, float x, float y, SDL_Color c)
{
    /* two opposite arrows: a bus talking both ways */
    rect(v, x, y + 3, 16, 2.5f, c);
    float a[6] = {x + 14, y, x + 20, y + 4.2f, x + 14, y + 8.5f};
    poly(v, a, 3, c);
    rect(v, x + 4, y + 12, 16, 2.5f, c);
    float b[6] = {x + 6, y + 9, x, y + 13.2f, x + 6, y + 17.5f};
    poly(v, b, 3, c);
}

static void draw_lcd(sdl_view_t *v, const display_t *d)
{
    bool powered = d != NULL;
    bool light = powered && d->backlight;
    lcd_colors_t col;
    if (light) /* blue backlight: dark segments on blue */
        col = (lcd_colors_t){{84, 160, 235, 255}, {8, 22, 48, 255}, {8, 22, 48, 16}};
    else
        col = (lcd_colors_t){{70, 88, 104, 255}, {14, 20, 28, 255}, {14, 20, 28, 16}};

    /* bezel and glass (not turned) */
    rect(v, LCD.x - 8, LCD.y - 8, LCD.w + 16, LCD.h + 16, (SDL_Color){45, 48, 52, 255});
    rect(v, LCD.x, LCD.y, LCD.w, LCD.h, col.bg);
    if (light) /* a soft glow from the edges inwards */
        for (int i = 0; i < 6; i++)
            frame(v,
                  (box_t){LCD.x + (float)i * 3, LCD.y + (float)i * 3, LCD.w - (float)i * 6,
                          LCD.h - (float)i * 6},
                  3, (SDL_Color){150, 210, 255, (Uint8)(40 - i * 6)});

    v->rot = powered && d->rotated;
    float X = LCD.x, Y = LCD.y;
    /* row 1: tariffs, phases, arrows, Bluetooth (icon 1), communication (icon 2) */
    for (int i = 0; i < 4; i++) {
        char s[3] = {'T', (char)('1' + i), 0};
        SDL_Color c = icon_color(d, DISPLAY_ICON_T1 << i, &col);
        box_t b = {X + 10 + (float)i * 34, Y + 8, 30, 17};
        frame(v, b, 1.5f, c);
        text_centered(v, b, 1.6f, s, c);
    }
    for (int i = 0; i < 3; i++) {
        char s[3] = {'L', (char)('1' + i), 0};
        text(v, X + 160 + (float)i * 32, Y + 11, 1.6f, s,
             icon_color(d, DISPLAY_ICON_L1 << i, &col));
    }
    icon_arrow(v, X + 262, Y + 11, false, icon_color(d, DISPLAY_ICON_ARROW_REV, &col));
    icon_arrow(v, X + 290, Y + 11, true, icon_color(d, DISPLAY_ICON_ARROW_FWD, &col));
    icon_bluetooth(v, X + 336, Y + 8, icon_color(d, DISPLAY_ICON_BT, &col));
    icon_comm(v, X + 360, Y + 8, icon_color(d, DISPLAY_ICON_COMM, &col));

    /* row 2: the OBIS / label field and SET */
    field(v, powered ? &d->obis : NULL, DISPLAY_OBIS_DIGITS, X + 14, Y + 34, 13, 26, 19, &col,
          powered);
    text(v, X + 140, Y + 44, 1.6f, "SET", icon_color(d, DISPLAY_ICON_SET, &col));

    /* row 3: minus, the 6 + 3 digits, the units */
    rect(v, X + 8, Y + 100, 14, 5, icon_color(d, DISPLAY_ICON_MINUS, &col));
    field(v, powered ? &d->main : NULL, DISPLAY_MAIN_DIGITS, X + 30, Y + 74, 21, 60, 31, &col,
          powered);
    static const struct {
        uint32_t bit;
        const char *s;
        float x, y;
    } units[] = {
        {DISPLAY_ICON_KWH, "kWh", 308, 74}, {DISPLAY_ICON_KVARH, "kvarh", 308, 90},
        {DISPLAY_ICON_KW, "kW", 308, 106},  {DISPLAY_ICON_KVAR, "kvar", 308, 122},
        {DISPLAY_ICON_KVA, "kVA", 362, 74}, {DISPLAY_ICON_V, "V", 362, 90},
        {DISPLAY_ICON_A, "A", 362, 106},    {DISPLAY_ICON_HZ, "Hz", 362, 122},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        text(v, X + units[i].x, Y + units[i].y, 1.6f, units[i].s,
             icon_color(d, units[i].bit, &col));
    v->rot = false;
}

/* ------------------------------------------------------------------------ */
/* The meter and the panel                                                   */

static const SDL_Color INK = {40, 44, 48, 255};
static const SDL_Color ORANGE = {240, 128, 20, 255};

static void terminal(sdl_view_t *v, float x, float y, float w, const char *label)
{
    rect(v, x, y, w, w * 0.9f, (SDL_Color){70, 74, 78, 255});
    rect(v, x + w * 0.2f, y + w * 0.15f, w * 0.6f, w * 0.35f, (SDL_Color){20, 22, 24, 255});
    rect(v, x + w * 0.25f, y + w * 0.58f, w * 0.5f, w * 0.22f, ORANGE);
    text(v, x + (w - text_width(label, 1.4f)) / 2, y + w * 0.9f + 4, 1.4f, label, INK);
}

static void draw_meter(sdl_view_t *v, const display_t *lcd, const sdl_view_panel_t *p)
{
    /* housing: light grey, darker terminal blocks above and below */
    rect(v, HOUSING.x + 4, HOUSING.y + 6, HOUSING.w, HOUSING.h, (SDL_Color){0, 0, 0, 60});
    rect(v, HOUSING.x, HOUSING.y, HOUSING.w, HOUSING.h, (SDL_Color){214, 216, 214, 255});
    rect(v, HOUSING.x, HOUSING.y, HOUSING.w, 110, (SDL_Color){188, 190, 188, 255});
    rect(v, HOUSING.x, HOUSING.y + HOUSING.h - 130, HOUSING.w, 130,
         (SDL_Color){188, 190, 188, 255});
    static const char *top[] = {"L1", "L2", "L3", "N"};
    for (int i = 0; i < 4; i++)
        terminal(v, 60 + (float)i * 100, 34, 54, top[i]);
    static const char *small[] = {"4", "5", "6", "7", "8", "9", "10", "11"};
    for (int i = 0; i < 8; i++)
        terminal(v, 62 + (float)i * 47, 520, 28, small[i]);
    static const char *bottom[] = {"L1", "L2", "L3", "N"};
    for (int i = 0; i < 4; i++)
        text(v, 80 + (float)i * 100, 602, 1.4f, bottom[i], INK);

    text(v, 45, 140, 2.4f, "WAGO", (SDL_Color){20, 60, 120, 255});
    text(v, 120, 144, 1.6f, "879-3000  MID", INK);

    /* the red pulse LED */
    bool on = p && p->supply_on && p->led_on;
    circle(v, 430, 148, 8, (SDL_Color){60, 20, 20, 255});
    circle(v, 430, 148, 6, on ? (SDL_Color){255, 40, 30, 255} : (SDL_Color){110, 30, 30, 255});
    if (on)
        circle(v, 430, 148, 12, (SDL_Color){255, 60, 40, 70});
    text(v, 392, 145, 1.2f, "imp", INK);

    /* The glass is what the meter shows: dark while it has no supply. */
    draw_lcd(v, (lcd && lcd->power != DISPLAY_POWER_OFF) ? lcd : NULL);

    /* the three capacitive buttons, each with its green line (6.4) */
    static const char *sym[] = {"<<", "", ">>"};
    for (int i = 0; i < MENU_BUTTON_COUNT; i++) {
        box_t b = BUTTONS[i];
        bool held = v->holders[i] != 0;
        rect(v, b.x, b.y, b.w, b.h,
             held ? (SDL_Color){170, 176, 180, 255} : (SDL_Color){196, 199, 199, 255});
        frame(v, b, 1.5f, (SDL_Color){150, 152, 152, 255});
        rect(v, b.x + b.w - 26, b.y + b.h - 7, 20, 3, (SDL_Color){40, 170, 60, 255});
        if (i == MENU_MIDDLE)
            circle(v, b.x + b.w / 2, b.y + b.h / 2, 7, INK);
        else
            text_centered(v, b, 2.4f, sym[i], INK);
    }

    /* the two S0 outputs */
    for (int i = 0; i < 2; i++) {
        bool s0 = p && p->supply_on && p->s0_on[i];
        float x = 90 + (float)i * 150;
        circle(v, x, 440, 7, s0 ? (SDL_Color){60, 220, 80, 255} : (SDL_Color){90, 100, 90, 255});
        text(v, x + 14, 435, 1.6f, i == 0 ? "S0-1" : "S0-2", INK);
    }
    bool t2 = p && p->tariff_input;
    text(v, 330, 435, 1.6f, t2 ? "10/11: 230V" : "10/11: 0V", INK);
    text(v, 90, 470, 1.4f, "3x230/400V  65A  50Hz", INK);
}

static void button(sdl_view_t *v, box_t b, const char *label, bool active, SDL_Color on_color)
{
    rect(v, b.x, b.y, b.w, b.h, active ? on_color : (SDL_Color){72, 78, 86, 255});
    frame(v, b, 1.5f, (SDL_Color){20, 24, 28, 255});
    text_centered(v, b, 2.0f, label, (SDL_Color){245, 245, 245, 255});
}

static void draw_panel(sdl_view_t *v, const sdl_view_panel_t *p)
{
    const SDL_Color fg = {225, 230, 235, 255}, dim = {140, 150, 160, 255};
    rect(v, 485, 0, CANVAS_W - 485, CANVAS_H, (SDL_Color){34, 38, 44, 255});
    text(v, 500, 24, 2.6f, "METERSIM", fg);
    text(v, 650, 30, 1.6f, "879-3000 DIGITAL TWIN", dim);
    if (!p)
        return;
    button(v, CONTROLS[CTL_SUPPLY], p->supply_on ? "SUPPLY ON" : "SUPPLY OFF", p->supply_on,
           (SDL_Color){40, 150, 70, 255});
    button(v, CONTROLS[CTL_TARIFF], p->tariff_input ? "TARIFF IN 230V" : "TARIFF IN 0V",
           p->tariff_input, (SDL_Color){200, 120, 20, 255});
    char s[128];
    for (int i = 0; i < 3; i++) {
        float y = CONTROLS[CTL_MINUS1 + i].y;
        snprintf(s, sizeof s, "L%d", i + 1);
        text(v, 505, y + 9, 2.2f, s, fg);
        button(v, CONTROLS[CTL_MINUS1 + i], "-", false, fg);
        button(v, CONTROLS[CTL_PLUS1 + i], "+", false, fg);
        snprintf(s, sizeof s, "%5.1f A", p->load_a[i]);
        text(v, 612, y + 10, 2.0f, s, fg);
        button(v, CONTROLS[CTL_REV1 + i], p->reverse[i] ? "REVERSE" : "FORWARD", p->reverse[i],
               (SDL_Color){180, 60, 60, 255});
    }
    const readings_t *r = p->readings;
    float y = 280, sc = 1.7f, lh = 17;
    if (r && p->supply_on) {
        text(v, 500, y, sc, "            L1        L2        L3     TOTAL", dim);
        y += lh + 4;
        const struct {
            const char *name;
            const double *ph;
            double tot;
            const char *fmt;
        } rows[] = {
            {"U    V", r->voltage, r->voltage_avg, "%10.1f"},
            {"I    A", r->current, r->current_sum, "%10.3f"},
            {"P   kW", r->p, r->p_total, "%10.3f"},
            {"Q kvar", r->q, r->q_total, "%10.3f"},
            {"S  kVA", r->s, r->s_total, "%10.3f"},
            {"PF    ", r->pf, r->pf_total, "%10.3f"},
        };
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
            int n = snprintf(s, sizeof s, "%s", rows[k].name);
            for (int i = 0; i < 3 && n < (int)sizeof s; i++)
                n += snprintf(s + n, sizeof s - (size_t)n, rows[k].fmt, rows[k].ph[i]);
            if (n < (int)sizeof s)
                snprintf(s + n, sizeof s - (size_t)n, rows[k].fmt, rows[k].tot);
            text(v, 500, y, sc, s, fg);
            y += lh;
        }
        snprintf(s, sizeof s, "f  %6.2f Hz   quadrant %u   tariff T%u", r->frequency,
                 (unsigned)r->quadrant_total, (unsigned)r->tariff);
        text(v, 500, y + 6, sc, s, fg);
        y += lh + 14;
        snprintf(s, sizeof s, "kWh  total %12.3f  fwd %12.3f", r->active_total.total,
                 r->active_forward.total);
        text(v, 500, y, sc, s, fg);
        y += lh;
        snprintf(s, sizeof s, "kWh  rev   %12.3f  trip %11.3f", r->active_reverse.total,
                 r->resettable);
        text(v, 500, y, sc, s, fg);
        y += lh;
        snprintf(s, sizeof s, "fwd  T1 %.3f  T2 %.3f  T3 %.3f  T4 %.3f",
                 r->active_forward.tariff[0], r->active_forward.tariff[1],
                 r->active_forward.tariff[2], r->active_forward.tariff[3]);
        text(v, 500, y, 1.4f, s, dim);
        y += lh;
        snprintf(s, sizeof s, "kvarh %.3f   power downs %u   Modbus ID %u   M-Bus %u",
                 r->reactive_total.total, (unsigned)r->power_down_count,
                 (unsigned)r->settings.modbus_id, (unsigned)r->settings.mbus_id);
        text(v, 500, y, 1.4f, s, dim);
    } else {
        text(v, 500, y, sc, p->supply_on ? "no readings" : "supply off: the meter is dark", dim);
    }
    text(v, 500, 580, 1.4f, "keys: <- v -> buttons  P supply  T tariff", dim);
    text(v, 500, 596, 1.4f, "Q/W/E +1A  A/S/D -1A  Z/X/C reverse  Esc quit", dim);
    if (p->status)
        text(v, 500, 616, 1.4f, p->status, (SDL_Color){120, 200, 255, 255});
}

static void layout(sdl_view_t *v)
{
    int w = 0, h = 0;
    SDL_GetRendererOutputSize(v->ren, &w, &h);
    float sx = (float)w / CANVAS_W, sy = (float)h / CANVAS_H;
    v->s = sx < sy ? sx : sy;
    v->ox = ((float)w - CANVAS_W * v->s) / 2;
    v->oy = ((float)h - CANVAS_H * v->s) / 2;
}

static void render(sdl_view_t *v, const display_t *lcd, const sdl_view_panel_t *p)
{
    layout(v);
    SDL_SetRenderDrawColor(v->ren, 24, 26, 30, 255);
    SDL_RenderClear(v->ren);
    rect(v, 0, 0, 485, CANVAS_H, (SDL_Color){96, 102, 110, 255}); /* the cabinet wall */
    rect(v, 0, 300, 485, 40, (SDL_Color){160, 164, 168, 255});    /* the DIN rail */
    draw_meter(v, lcd, p);
    draw_panel(v, p);
}

/* ------------------------------------------------------------------------ */
/* Window and input                                                          */

sdl_view_t *sdl_view_open(const char *title)
{
    if (!SDL_WasInit(SDL_INIT_VIDEO) && SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
        return NULL;
    sdl_view_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->mouse_button = -1;
    v->win = SDL_CreateWindow(title ? title : "metersim", SDL_WINDOWPOS_CENTERED,
                              SDL_WINDOWPOS_CENTERED, (int)CANVAS_W, (int)CANVAS_H,
                              SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (!v->win) {
        free(v);
        return NULL;
    }
    v->ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
    if (!v->ren)
        v->ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_SOFTWARE);
    if (!v->ren) {
        SDL_DestroyWindow(v->win);
        free(v);
        return NULL;
    }
    SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
    SDL_SetWindowMinimumSize(v->win, 500, 320);
    layout(v);
    return v;
}

void sdl_view_close(sdl_view_t *v)
{
    if (!v)
        return;
    SDL_DestroyRenderer(v->ren);
    SDL_DestroyWindow(v->win);
    free(v);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

static void edge(sdl_view_input_t *in, int b, bool pressed)
{
    if (in->n_edges < SDL_VIEW_EDGES_MAX) {
        in->edges[in->n_edges].button = (menu_button_t)b;
        in->edges[in->n_edges].pressed = pressed;
        in->n_edges++;
    }
}

/* A holder takes or leaves button b; edges only when the first comes or the
 * last goes, so a key and the mouse on one button make one press. */
static void hold(sdl_view_t *v, sdl_view_input_t *in, int b, uint32_t who, bool on)
{
    uint32_t before = v->holders[b];
    v->holders[b] = on ? before | who : before & ~who;
    if (!before && v->holders[b])
        edge(in, b, true);
    else if (before && !v->holders[b])
        edge(in, b, false);
}

static bool inside(box_t b, float x, float y)
{
    return x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h;
}

/* Window points -> canvas units. */
static void to_canvas(const sdl_view_t *v, float wx, float wy, float *cx, float *cy)
{
    int ww = 1, wh = 1, ow = 1, oh = 1;
    SDL_GetWindowSize(v->win, &ww, &wh);
    SDL_GetRendererOutputSize(v->ren, &ow, &oh);
    float px = wx * (float)ow / (float)ww, py = wy * (float)oh / (float)wh;
    *cx = (px - v->ox) / v->s;
    *cy = (py - v->oy) / v->s;
}

static int meter_button_at(float x, float y)
{
    for (int i = 0; i < MENU_BUTTON_COUNT; i++)
        if (inside(BUTTONS[i], x, y))
            return i;
    return -1;
}

static void control(sdl_view_input_t *in, int c)
{
    if (c == CTL_SUPPLY)
        in->toggle_supply = true;
    else if (c == CTL_TARIFF)
        in->toggle_tariff_input = true;
    else if (c >= CTL_MINUS1 && c <= CTL_MINUS3)
        in->current_delta_a[c - CTL_MINUS1] -= 1.0;
    else if (c >= CTL_PLUS1 && c <= CTL_PLUS3)
        in->current_delta_a[c - CTL_PLUS1] += 1.0;
    else if (c >= CTL_REV1 && c <= CTL_REV3)
        in->toggle_reverse[c - CTL_REV1] = true;
}

static void press_at(sdl_view_t *v, sdl_view_input_t *in, float cx, float cy, uint32_t who,
                     SDL_FingerID fid)
{
    int b = meter_button_at(cx, cy);
    if (b >= 0) {
        if (who == 1)
            v->mouse_button = b;
        else
            v->fingers[b] = fid;
        hold(v, in, b, who, true);
        return;
    }
    for (int c = 0; c < CTL_COUNT; c++)
        if (inside(CONTROLS[c], cx, cy))
            control(in, c);
}

static int key_button(SDL_Keycode k)
{
    switch (k) {
    case SDLK_LEFT:
        return MENU_LEFT;
    case SDLK_RIGHT:
        return MENU_RIGHT;
    case SDLK_DOWN:
    case SDLK_RETURN:
    case SDLK_KP_ENTER:
    case SDLK_SPACE:
        return MENU_MIDDLE;
    default:
        return -1;
    }
}

bool sdl_view_poll(sdl_view_t *v, sdl_view_input_t *out)
{
    memset(out, 0, sizeof *out);
    SDL_Event e;
    bool any = false;
    while (SDL_PollEvent(&e)) {
        float cx, cy;
        switch (e.type) {
        case SDL_QUIT:
            out->quit = true;
            break;
        case SDL_MOUSEBUTTONDOWN:
            if (e.button.which == SDL_TOUCH_MOUSEID || e.button.button != SDL_BUTTON_LEFT)
                break;
            to_canvas(v, (float)e.button.x, (float)e.button.y, &cx, &cy);
            press_at(v, out, cx, cy, 1, 0);
            break;
        case SDL_MOUSEBUTTONUP:
            if (e.button.which == SDL_TOUCH_MOUSEID || e.button.button != SDL_BUTTON_LEFT)
                break;
            if (v->mouse_button >= 0)
                hold(v, out, v->mouse_button, 1, false);
            v->mouse_button = -1;
            break;
        case SDL_FINGERDOWN: {
            int ow = 1, oh = 1;
            SDL_GetRendererOutputSize(v->ren, &ow, &oh);
            cx = (e.tfinger.x * (float)ow - v->ox) / v->s;
            cy = (e.tfinger.y * (float)oh - v->oy) / v->s;
            press_at(v, out, cx, cy, 4, e.tfinger.fingerId);
            break;
        }
        case SDL_FINGERUP:
            for (int b = 0; b < MENU_BUTTON_COUNT; b++)
                if ((v->holders[b] & 4) && v->fingers[b] == e.tfinger.fingerId)
                    hold(v, out, b, 4, false);
            break;
        case SDL_KEYDOWN:
        case SDL_KEYUP: {
            bool down = e.type == SDL_KEYDOWN;
            int b = key_button(e.key.keysym.sym);
            if (b >= 0) {
                if (!e.key.repeat)
                    hold(v, out, b, 2, down);
                break;
            }
            if (!down || e.key.repeat)
                break;
            switch (e.key.keysym.sym) {
            case SDLK_ESCAPE:
                out->quit = true;
                break;
            case SDLK_p:
                out->toggle_supply = true;
                break;
            case SDLK_t:
                out->toggle_tariff_input = true;
                break;
            case SDLK_q:
                out->current_delta_a[0] += 1;
                break;
            case SDLK_w:
                out->current_delta_a[1] += 1;
                break;
            case SDLK_e:
                out->current_delta_a[2] += 1;
                break;
            case SDLK_a:
                out->current_delta_a[0] -= 1;
                break;
            case SDLK_s:
                out->current_delta_a[1] -= 1;
                break;
            case SDLK_d:
                out->current_delta_a[2] -= 1;
                break;
            case SDLK_z:
                out->toggle_reverse[0] = true;
                break;
            case SDLK_x:
                out->toggle_reverse[1] = true;
                break;
            case SDLK_c:
                out->toggle_reverse[2] = true;
                break;
            case SDLK_F12:
                out->screenshot = true;
                break;
            default:
                break;
            }
            break;
        }
        case SDL_WINDOWEVENT:
            if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST) /* let go of everything */
                for (int b = 0; b < MENU_BUTTON_COUNT; b++)
                    if (v->holders[b]) {
                        v->holders[b] = 1;
                        hold(v, out, b, 1, false);
                    }
            break;
        default:
            break;
        }
    }
    any = out->n_edges || out->quit || out->toggle_supply || out->toggle_tariff_input ||
          out->screenshot;
    for (int i = 0; i < 3; i++)
        any = any || out->current_delta_a[i] != 0 || out->toggle_reverse[i];
    return any;
}

void sdl_view_draw(sdl_view_t *v, const display_t *lcd, const sdl_view_panel_t *panel)
{
    render(v, lcd, panel);
    SDL_RenderPresent(v->ren);
}

bool sdl_view_screenshot(sdl_view_t *v, const display_t *lcd, const sdl_view_panel_t *panel,
                         const char *bmp_path)
{
    render(v, lcd, panel);
    int w = 0, h = 0;
    SDL_GetRendererOutputSize(v->ren, &w, &h);
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
    bool ok =
        s &&
        SDL_RenderReadPixels(v->ren, NULL, SDL_PIXELFORMAT_ARGB8888, s->pixels, s->pitch) == 0 &&
        SDL_SaveBMP(s, bmp_path) == 0;
    SDL_FreeSurface(s);
    SDL_RenderPresent(v->ren);
    return ok;
}
