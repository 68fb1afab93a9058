/* text_lcd: the LCD model (core/display.h) printed as text.
 *
 * Two forms of the same glass:
 *
 *   one line, for logs and scenario assertions (runs of blanks collapse to one):
 *       1.8.1 000123.456 kWh T1 ->
 *       21.7.0 -1.500 kW L1 T2 <- BT COMM
 *       Err 41
 *   tokens in this order: OBIS/label field, '-' and the main field, unit,
 *   phases, tariffs, arrows, BT, COMM, SET; dark fields and icons are left out.
 *
 *   several lines, for terminals: the lit icons, the small field, the main
 *   field drawn as seven segments in three rows, the unit, the backlight and
 *   the orientation.
 *
 * Both only read the display_t; they compute nothing about the meter.
 */
#ifndef METERSIM_TEXT_LCD_H
#define METERSIM_TEXT_LCD_H

#include <stddef.h>

#include "display.h"

/* The one-line form; returns the length it would have (as snprintf). */
size_t text_lcd_line(const display_t *d, char *buf, size_t cap);

/* The multi-line form, each line ended by '\n'; returns the length it would have. */
size_t text_lcd_render(const display_t *d, char *buf, size_t cap);

/* The name of one icon as the text forms print it ("kWh", "T1", "->"). */
const char *text_lcd_icon_name(display_icon_t icon);

#endif
