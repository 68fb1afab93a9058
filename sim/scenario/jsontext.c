/* jsontext: the checks on a scenario's text that cJSON does not make (see
 * jsontext.h). The walk follows the text and the tree together; should they
 * ever disagree (they cannot, for a text cJSON accepted), it stops without
 * a finding rather than guess. */
#include "jsontext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"

typedef struct {
    const char *s;
    size_t len, i;
    jsontext_t *jt;
    char *path;
    size_t cap;
    bool failed, lost;
    size_t off;
    char *msg;
    size_t msglen;
    int depth;
} walk_t;

static void fail(walk_t *w, size_t off, const char *what)
{
    if (w->failed)
        return;
    w->failed = true;
    w->off = off;
    snprintf(w->msg, w->msglen, "%s", what);
}

/* As cJSON: every byte up to the space is white space between values. */
static void skip_ws(walk_t *w)
{
    while (w->i < w->len && (unsigned char)w->s[w->i] <= ' ')
        w->i++;
}

/* Past a string starting at its quote; a \u0000 escape is refused. The
 * string's text, without its quotes, is [*from, *to). */
static void walk_string(walk_t *w, size_t *from, size_t *to)
{
    size_t start = w->i;
    w->i++;
    *from = w->i;
    while (w->i < w->len && w->s[w->i] != '"') {
        if (w->s[w->i] == '\\') {
            if (w->i + 5 < w->len && w->s[w->i + 1] == 'u' &&
                strncmp(w->s + w->i + 2, "0000", 4) == 0)
                fail(w, start, "a NUL character (\\u0000) in a string; strings are text");
            w->i++;
        }
        w->i++;
    }
    *to = w->i < w->len ? w->i : w->len;
    w->i++;
}

static bool add_inexact(walk_t *w, const cJSON *node)
{
    jsontext_t *jt = w->jt;
    if (jt->n == jt->cap) {
        size_t cap = jt->cap ? 2 * jt->cap : 64;
        const cJSON **a = realloc(jt->inexact, cap * sizeof *a);
        if (!a)
            return false;
        jt->inexact = a;
        jt->cap = cap;
    }
    jt->inexact[jt->n++] = node;
    return true;
}

static void walk_value(walk_t *w, const cJSON *node);

typedef struct {
    const char *key; /* as cJSON decoded it */
    size_t n, at;    /* its length; the offset of its opening quote */
} jkey_t;

/* By key, then by place: equal keys become neighbours, the earlier first. */
static int by_key(const void *a, const void *b)
{
    const jkey_t *x = a, *y = b;
    int r = memcmp(x->key, y->key, x->n < y->n ? x->n : y->n);
    if (r)
        return r;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

static void walk_object(walk_t *w, const cJSON *node)
{
    size_t base = strlen(w->path);
    size_t n = 0, cap = 0;
    jkey_t *keys = NULL;
    const cJSON *child = node->child;
    w->i++; /* { */
    for (;;) {
        skip_ws(w);
        if (w->i >= w->len || w->s[w->i] == '}') {
            w->i++;
            break;
        }
        if (w->s[w->i] == ',') {
            w->i++;
            continue;
        }
        if (w->s[w->i] != '"' || !child) {
            w->lost = true;
            break;
        }
        size_t at = w->i, from, to;
        walk_string(w, &from, &to);
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            jkey_t *k = realloc(keys, cap * sizeof *k);
            if (!k) {
                w->lost = true;
                break;
            }
            keys = k;
        }
        /* The key as cJSON decoded it: "se\u0065d" and "seed" are one key. */
        const char *name = child->string ? child->string : "";
        keys[n++] = (jkey_t){name, strlen(name), at};
        snprintf(w->path + base, w->cap - base, ".%.*s", (int)(to - from), w->s + from);
        skip_ws(w);
        if (w->i < w->len && w->s[w->i] == ':')
            w->i++;
        walk_value(w, child);
        if (w->failed || w->lost)
            break;
        w->path[base] = '\0';
        child = child->next;
    }
    /* A key twice: cJSON keeps both and a lookup finds only the first, so
     * the second would pass silently. Sorted, equal keys are neighbours, the
     * later one second. */
    if (!w->failed && !w->lost && n > 1) {
        qsort(keys, n, sizeof *keys, by_key);
        size_t again = n; /* the earliest second use of a key */
        for (size_t k = 1; k < n; k++)
            if (keys[k].n == keys[k - 1].n &&
                memcmp(keys[k].key, keys[k - 1].key, keys[k].n) == 0 &&
                (again == n || keys[k].at < keys[again].at))
                again = k;
        if (again < n) {
            const jkey_t *k = &keys[again];
            snprintf(w->path + base, w->cap - base, ".%.*s", (int)k->n, k->key);
            int line, col;
            jsonpos_line_col(w->s, keys[again - 1].at, &line, &col);
            char what[160];
            snprintf(what, sizeof what,
                     "the key \"%.*s\" is given twice in this object (first at line %d, column %d)",
                     (int)(k->n > 60 ? 60 : k->n), k->key, line, col);
            fail(w, k->at, what);
        }
    }
    free(keys);
}

static void walk_array(walk_t *w, const cJSON *node)
{
    size_t base = strlen(w->path);
    int index = 0;
    const cJSON *child = node->child;
    w->i++; /* [ */
    for (;;) {
        skip_ws(w);
        if (w->i >= w->len || w->s[w->i] == ']') {
            w->i++;
            return;
        }
        if (w->s[w->i] == ',') {
            w->i++;
            continue;
        }
        if (!child) {
            w->lost = true;
            return;
        }
        snprintf(w->path + base, w->cap - base, "[%d]", index++);
        walk_value(w, child);
        if (w->failed || w->lost)
            return;
        w->path[base] = '\0';
        child = child->next;
    }
}

static void walk_value(walk_t *w, const cJSON *node)
{
    skip_ws(w);
    if (w->i >= w->len || ++w->depth > 1000) {
        w->lost = true;
        return;
    }
    size_t from, to;
    char ch = w->s[w->i];
    if (ch == '{' && cJSON_IsObject(node)) {
        walk_object(w, node);
    } else if (ch == '[' && cJSON_IsArray(node)) {
        walk_array(w, node);
    } else if (ch == '"' && cJSON_IsString(node)) {
        walk_string(w, &from, &to);
    } else if (cJSON_IsNumber(node)) {
        bool inexact = false;
        while (w->i < w->len && (unsigned char)w->s[w->i] > ' ' && !strchr(",]}", w->s[w->i])) {
            inexact = inexact || strchr(".eE", w->s[w->i]);
            w->i++;
        }
        if (inexact && !add_inexact(w, node))
            w->lost = true;
    } else if (cJSON_IsBool(node) || cJSON_IsNull(node)) {
        while (w->i < w->len && w->s[w->i] >= 'a' && w->s[w->i] <= 'z')
            w->i++;
    } else {
        w->lost = true;
    }
    w->depth--;
}

static int by_ptr(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return x < y ? -1 : x > y;
}

bool jsontext_check(const char *text, size_t len, const cJSON *root, jsontext_t *jt, size_t *off,
                    char *path, size_t pathcap, char *msg, size_t msglen)
{
    memset(jt, 0, sizeof *jt);
    snprintf(path, pathcap, "$");
    walk_t w = {.s = text,
                .len = len,
                .jt = jt,
                .path = path,
                .cap = pathcap,
                .msg = msg,
                .msglen = msglen};
    walk_value(&w, root);
    if (jt->n > 1)
        qsort(jt->inexact, jt->n, sizeof *jt->inexact, by_ptr);
    *off = w.off;
    return !w.failed;
}

bool jsontext_inexact(const jsontext_t *jt, const cJSON *node)
{
    return jt->n && bsearch(&node, jt->inexact, jt->n, sizeof *jt->inexact, by_ptr) != NULL;
}

void jsontext_free(jsontext_t *jt)
{
    free(jt->inexact);
    memset(jt, 0, sizeof *jt);
}
