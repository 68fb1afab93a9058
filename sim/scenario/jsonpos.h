/* jsonpos: the line and column of a JSON path in a JSON text, for messages
 * such as "office.json:14:9: $.timeline[2].load.L1.current: -3 is out of range". */
#ifndef METERSIM_JSONPOS_H
#define METERSIM_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

/* Finds `path` ("$.a.b[2]") in `text`: the value's position, or for a key
 * that is not there the nearest enclosing value's. True when found exactly. */
bool jsonpos_find(const char *text, size_t len, const char *path, int *line, int *col);

/* Line and column (both from 1) of a byte offset. */
void jsonpos_line_col(const char *text, size_t offset, int *line, int *col);

#endif
