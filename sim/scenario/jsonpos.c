/* jsonpos: where in a JSON text a JSON path lies (see jsonpos.h).
 *
 * cJSON keeps no positions, so error messages find the place again by walking
 * the text: a small recursive scanner that builds the path of every value it
 * passes ("$.timeline[3].at") and stops at the wanted one. The text has already
 * been parsed by cJSON, so the scanner may assume it is well-formed; it still
 * never reads past the end. */
#include "jsonpos.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t len, i;
    const char *want;
    size_t best;     /* offset of the longest prefix of `want` seen */
    size_t best_len; /* its length */
    bool found;
    int depth;
} scan_t;

/* As cJSON: every byte up to the space, NUL and control characters included,
 * is white space between values. */
static void skip_ws(scan_t *c)
{
    while (c->i < c->len && (unsigned char)c->s[c->i] <= ' ')
        c->i++;
}

static void skip_string(scan_t *c)
{
    c->i++; /* opening quote */
    while (c->i < c->len && c->s[c->i] != '"') {
        if (c->s[c->i] == '\\')
            c->i++;
        c->i++;
    }
    c->i++;
}

/* Notes `path` at offset `at`: an exact match ends the walk; a prefix that
 * ends at a path boundary is remembered as the nearest place. */
static void visit(scan_t *c, const char *path, size_t at)
{
    size_t n = strlen(path);
    if (strcmp(path, c->want) == 0) {
        c->best = at;
        c->found = true;
    } else if (n > c->best_len && strncmp(path, c->want, n) == 0 &&
               (c->want[n] == '.' || c->want[n] == '[')) {
        c->best = at;
        c->best_len = n;
    }
}

static void scan_value(scan_t *c, char *path, size_t cap);

static void scan_object(scan_t *c, char *path, size_t cap)
{
    size_t base = strlen(path);
    c->i++; /* { */
    for (;;) {
        skip_ws(c);
        if (c->i >= c->len || c->s[c->i] == '}') {
            c->i++;
            return;
        }
        if (c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->s[c->i] != '"')
            return; /* not well-formed: stop */
        size_t k0 = c->i + 1;
        skip_string(c);
        size_t k1 = c->i - 1;
        snprintf(path + base, cap - base, ".%.*s", (int)(k1 - k0), c->s + k0);
        skip_ws(c);
        if (c->i < c->len && c->s[c->i] == ':')
            c->i++;
        size_t before = c->i;
        scan_value(c, path, cap);
        if (c->found)
            return;
        if (c->i == before)
            c->i++; /* never stand still, whatever the text holds */
        path[base] = '\0';
    }
}

static void scan_array(scan_t *c, char *path, size_t cap)
{
    size_t base = strlen(path);
    int index = 0;
    c->i++; /* [ */
    for (;;) {
        skip_ws(c);
        if (c->i >= c->len || c->s[c->i] == ']') {
            c->i++;
            return;
        }
        if (c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        snprintf(path + base, cap - base, "[%d]", index++);
        size_t before = c->i;
        scan_value(c, path, cap);
        if (c->found)
            return;
        if (c->i == before)
            c->i++; /* never stand still, whatever the text holds */
        path[base] = '\0';
    }
}

static void scan_value(scan_t *c, char *path, size_t cap)
{
    skip_ws(c);
    if (c->i >= c->len)
        return;
    visit(c, path, c->i);
    if (c->found)
        return;
    if (++c->depth > 200) /* cJSON's own nesting limit is lower */
        return;
    switch (c->s[c->i]) {
    case '{':
        scan_object(c, path, cap);
        break;
    case '[':
        scan_array(c, path, cap);
        break;
    case '"':
        skip_string(c);
        break;
    default:
        /* A number or a literal: up to a delimiter or white space (a NUL
         * byte would match strchr's terminator, so it is tested apart). */
        while (c->i < c->len && (unsigned char)c->s[c->i] > ' ' && !strchr(",]}", c->s[c->i]))
            c->i++;
        break;
    }
    c->depth--;
}

bool jsonpos_find(const char *text, size_t len, const char *path, int *line, int *col)
{
    scan_t c = {.s = text, .len = len, .want = path};
    char buf[512] = "$";
    scan_value(&c, buf, sizeof buf);
    jsonpos_line_col(text, c.best, line, col);
    return c.found;
}

void jsonpos_line_col(const char *text, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}
