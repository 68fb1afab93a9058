/* text_lcd: the LCD as text (see text_lcd.h). */
#include "text/text_lcd.h"

#include <string.h>

/* A growing string that never overflows and still counts what it would hold. */
typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void put(out_t *o, const char *s)
{
    for (; *s; s++) {
        if (o->len + 1 < o->cap)
            o->buf[o->len] = *s;
        o->len++;
    }
    if (o->cap)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

static void putc_(out_t *o, char c)
{
    char s[2] = {c, '\0'};
    put(o, s);
}

/* The icons in the order the one-line form prints them. */
static const struct {
    uint32_t bit;
    const char *name;
} icon_names[] = {
    {DISPLAY_ICON_KWH, "kWh"},      {DISPLAY_ICON_KVARH, "kvarh"},  {DISPLAY_ICON_KW, "kW"},
    {DISPLAY_ICON_KVAR, "kvar"},    {DISPLAY_ICON_KVA, "kVA"},      {DISPLAY_ICON_V, "V"},
    {DISPLAY_ICON_A, "A"},          {DISPLAY_ICON_HZ, "Hz"},        {DISPLAY_ICON_L1, "L1"},
    {DISPLAY_ICON_L2, "L2"},        {DISPLAY_ICON_L3, "L3"},        {DISPLAY_ICON_T1, "T1"},
    {DISPLAY_ICON_T2, "T2"},        {DISPLAY_ICON_T3, "T3"},        {DISPLAY_ICON_T4, "T4"},
    {DISPLAY_ICON_ARROW_REV, "<-"}, {DISPLAY_ICON_ARROW_FWD, "->"}, {DISPLAY_ICON_BT, "BT"},
    {DISPLAY_ICON_COMM, "COMM"},    {DISPLAY_ICON_SET, "SET"},      {DISPLAY_ICON_MINUS, "-"},
};
#define ICON_NAMES (sizeof icon_names / sizeof icon_names[0])

const char *text_lcd_icon_name(display_icon_t icon)
{
    for (size_t i = 0; i < ICON_NAMES; i++)
        if (icon_names[i].bit == (uint32_t)icon)
            return icon_names[i].name;
    return "?";
}

/* A field as text with its points, blanks collapsed and trimmed. */
static void field_text(const display_field_t *f, int n, char *out, size_t cap)
{
    size_t k = 0;
    for (int i = 0; i < n && k + 3 < cap; i++) {
        char c = f->seg[i] ? f->text[i] : ' ';
        if (c == ' ' && (k == 0 || out[k - 1] == ' ')) {
            if (f->dp & (1u << i))
                out[k++] = '.';
            continue;
        }
        out[k++] = c;
        if (f->dp & (1u << i))
            out[k++] = '.';
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
}

size_t text_lcd_line(const display_t *d, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    char t[32];
    field_text(&d->obis, DISPLAY_OBIS_DIGITS, t, sizeof t);
    if (t[0])
        put(&o, t);
    field_text(&d->main, DISPLAY_MAIN_DIGITS, t, sizeof t);
    if (t[0]) {
        if (o.len)
            putc_(&o, ' ');
        if (d->icons & DISPLAY_ICON_MINUS)
            putc_(&o, '-');
        put(&o, t);
    }
    for (size_t i = 0; i < ICON_NAMES; i++) {
        if (icon_names[i].bit == DISPLAY_ICON_MINUS || !(d->icons & icon_names[i].bit))
            continue;
        if (o.len)
            putc_(&o, ' ');
        put(&o, icon_names[i].name);
    }
    return o.len;
}

/* The three text rows of one seven-segment digit, 4 columns each:
 *    _
 *   |_|
 *   |_|.
 */
static void digit_rows(uint8_t s, bool dp, char r0[5], char r1[5], char r2[5])
{
    memcpy(r0, "    ", 5);
    memcpy(r1, "    ", 5);
    memcpy(r2, "    ", 5);
    if (s & DISPLAY_SEG_A)
        r0[1] = '_';
    if (s & DISPLAY_SEG_F)
        r1[0] = '|';
    if (s & DISPLAY_SEG_G)
        r1[1] = '_';
    if (s & DISPLAY_SEG_B)
        r1[2] = '|';
    if (s & DISPLAY_SEG_E)
        r2[0] = '|';
    if (s & DISPLAY_SEG_D)
        r2[1] = '_';
    if (s & DISPLAY_SEG_C)
        r2[2] = '|';
    if (dp)
        r2[3] = '.';
}

size_t text_lcd_render(const display_t *d, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    put(&o, "icons:");
    for (size_t i = 0; i < ICON_NAMES; i++)
        if ((d->icons & icon_names[i].bit) && icon_names[i].bit != DISPLAY_ICON_MINUS &&
            !(icon_names[i].bit & DISPLAY_ICON_UNITS)) {
            putc_(&o, ' ');
            put(&o, icon_names[i].name);
        }
    put(&o, "\nfield: ");
    char t[32];
    field_text(&d->obis, DISPLAY_OBIS_DIGITS, t, sizeof t);
    put(&o, t);
    putc_(&o, '\n');

    char rows[3][DISPLAY_MAIN_DIGITS * 4 + 16];
    for (int k = 0; k < 3; k++) {
        rows[k][0] = ' ';
        rows[k][1] = (k == 1 && (d->icons & DISPLAY_ICON_MINUS)) ? '-' : ' ';
        rows[k][2] = ' ';
        rows[k][3] = '\0';
    }
    for (int i = 0; i < DISPLAY_MAIN_DIGITS; i++) {
        char r0[5], r1[5], r2[5];
        digit_rows(d->main.seg[i], d->main.dp & (1u << i), r0, r1, r2);
        strcat(rows[0], r0);
        strcat(rows[1], r1);
        strcat(rows[2], r2);
    }
    for (int k = 0; k < 3; k++) {
        put(&o, rows[k]);
        if (k == 1)
            for (size_t i = 0; i < ICON_NAMES; i++)
                if (d->icons & icon_names[i].bit & DISPLAY_ICON_UNITS) {
                    putc_(&o, ' ');
                    put(&o, icon_names[i].name);
                }
        putc_(&o, '\n');
    }
    put(&o, d->backlight ? "backlight on" : "backlight off");
    if (d->rotated)
        put(&o, ", turned 180 degrees");
    putc_(&o, '\n');
    return o.len;
}
