/* hold: the JSONL's lines and the pcap's packets held back until their order
 * is final (see trace_internal.h).
 *
 * The hooks see events in the order the host happens to learn of them,
 * which depends on how it chunks the meters' samples and on when the wall
 * clock woke it: a window published at 1 s is seen after pulse edges of
 * 1.04 s in one run and before them in another. The project's rule is that
 * the same scenario gives the same bytes at any speed (issue 15: "--replay
 * ... produces byte-identical replies and traces"), so every record waits
 * here, in a binary min-heap, until the host's time has moved
 * TRACE_HOLD_NS past it, and leaves in the one order that depends on the
 * records alone: by time, then by its bytes (for a JSONL line, its type,
 * then its meter or bus, ...). Memory stays bounded by what happens in
 * TRACE_HOLD_NS. */
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

typedef struct {
    uint64_t t_ns;
    size_t len;
    uint8_t *bytes;
} held_t;

struct hold {
    held_t *h;
    size_t n, cap;
    uint64_t written; /* everything before this instant has been written */
    uint64_t late;    /* records that came after their instant was written */
    bool failed;      /* out of memory */
};

hold_t *hold_new(void)
{
    return calloc(1, sizeof(hold_t));
}

static int cmp(const held_t *a, const held_t *b)
{
    if (a->t_ns != b->t_ns)
        return a->t_ns < b->t_ns ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

bool hold_put(hold_t *s, uint64_t t_ns, const void *bytes, size_t len)
{
    if (t_ns < s->written)
        s->late++; /* written with the next flush: out of order, and told */
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        held_t *h = realloc(s->h, cap * sizeof *h);
        if (!h) {
            s->failed = true;
            return false;
        }
        s->h = h;
        s->cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        s->failed = true;
        return false;
    }
    memcpy(copy, bytes, len);
    size_t i = s->n++;
    held_t x = {t_ns, len, copy};
    while (i > 0 && cmp(&x, &s->h[(i - 1) / 2]) < 0) {
        s->h[i] = s->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->h[i] = x;
    return true;
}

/* Takes the first record off the heap. */
static held_t pop(hold_t *s)
{
    held_t top = s->h[0], last = s->h[--s->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n)
            break;
        if (c + 1 < s->n && cmp(&s->h[c + 1], &s->h[c]) < 0)
            c++;
        if (cmp(&last, &s->h[c]) <= 0)
            break;
        s->h[i] = s->h[c];
        i = c;
    }
    if (s->n)
        s->h[i] = last;
    return top;
}

void hold_flush(hold_t *s, uint64_t before_ns, hold_write_fn write, void *ctx)
{
    while (s->n && s->h[0].t_ns < before_ns) {
        held_t x = pop(s);
        write(ctx, x.t_ns, x.bytes, x.len);
        free(x.bytes);
    }
    if (before_ns > s->written)
        s->written = before_ns;
}

uint64_t hold_free(hold_t *s, hold_write_fn write, void *ctx, bool *failed)
{
    hold_flush(s, UINT64_MAX, write, ctx);
    uint64_t late = s->late;
    *failed = s->failed;
    free(s->h);
    free(s);
    return late;
}
