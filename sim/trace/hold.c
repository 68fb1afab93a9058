/* hold: the JSONL's lines and the pcap's packets held back until their order
 * is final (see trace_internal.h).
 *
 * The hooks see events in the order the host happens to learn of them,
 * which depends on how it chunks the meters' samples and on when the wall
 * clock woke it: a window published at 1 s is seen after pulse edges of
 * 1.04 s in one run and before them in another. The project's rule is that
 * the same scenario gives the same bytes at any speed (issue 15: "--replay
 * ... produces byte-identical replies and traces"), so every record waits
 * here until the host's time has moved TRACE_HOLD_NS past it, and leaves in
 * the one order that depends on the records alone: by time, then by its
 * bytes (for a JSONL line, its type, then its meter or bus, ...). Memory
 * stays bounded by what happens in TRACE_HOLD_NS.
 *
 * No allocation per record (a malloc and a free per pulse edge were a fifth
 * of the JSONL trace's cost, bench_trace): the bytes go into one arena,
 * written in place by the writer (hold_reserve, hold_commit), and the
 * records into one array kept in order. Records come almost in order, so a
 * new one is placed by a search from the end that seldom moves anything; a
 * flush takes them from the front. The arena is compacted (the live bytes
 * copied to the front of a second arena) only when it is full, at most once
 * per arena's worth of records: a constant cost per byte. */
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

typedef struct {
    uint64_t t_ns;
    size_t off, len; /* in the arena */
} held_t;

struct hold {
    held_t *h; /* the records in order, h[head .. n) held */
    size_t head, n, cap;
    uint8_t *arena;   /* their bytes */
    size_t top, size; /* arena[0 .. top) used */
    size_t live;      /* bytes of the records still held */
    uint64_t written; /* everything before this instant has been written */
    uint64_t late;    /* records that came after their instant was written */
    bool failed;      /* out of memory */
};

hold_t *hold_new(void)
{
    return calloc(1, sizeof(hold_t));
}

static int cmp(const hold_t *s, const held_t *a, const held_t *b)
{
    if (a->t_ns != b->t_ns)
        return a->t_ns < b->t_ns ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(s->arena + a->off, s->arena + b->off, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* The live records' bytes, in their order, to the front of an arena of at
 * least `want` bytes (a new one when it must grow). */
static bool compact(hold_t *s, size_t want)
{
    size_t size = s->size ? s->size : 64 * 1024;
    while (size < want)
        size *= 2;
    uint8_t *to = malloc(size);
    if (!to)
        return false;
    size_t top = 0;
    for (size_t i = s->head; i < s->n; i++) {
        memcpy(to + top, s->arena + s->h[i].off, s->h[i].len);
        s->h[i].off = top;
        top += s->h[i].len;
    }
    free(s->arena);
    s->arena = to;
    s->size = size;
    s->top = top;
    return true;
}

uint8_t *hold_reserve(hold_t *s, size_t len)
{
    if (s->size - s->top < len) {
        /* Room for twice what is live and this record: the next compaction
         * is at least as many bytes away as it copies. */
        if (!compact(s, 2 * (s->live + len))) {
            s->failed = true;
            return NULL;
        }
    }
    return s->arena + s->top;
}

bool hold_commit(hold_t *s, uint64_t t_ns, size_t len)
{
    if (t_ns < s->written)
        s->late++; /* written with the next flush: out of order, and told */
    if (s->n == s->cap) {
        if (s->head > 0) { /* the flushed front makes room */
            memmove(s->h, s->h + s->head, (s->n - s->head) * sizeof *s->h);
            s->n -= s->head;
            s->head = 0;
        } else {
            size_t cap = s->cap ? 2 * s->cap : 256;
            held_t *h = realloc(s->h, cap * sizeof *h);
            if (!h) {
                s->failed = true;
                return false;
            }
            s->h = h;
            s->cap = cap;
        }
    }
    held_t x = {t_ns, s->top, len};
    s->top += len;
    s->live += len;
    size_t i = s->n;
    while (i > s->head && cmp(s, &x, &s->h[i - 1]) < 0)
        i--;
    if (i < s->n)
        memmove(s->h + i + 1, s->h + i, (s->n - i) * sizeof *s->h);
    s->h[i] = x;
    s->n++;
    return true;
}

bool hold_put(hold_t *s, uint64_t t_ns, const void *bytes, size_t len)
{
    uint8_t *to = hold_reserve(s, len);
    if (!to)
        return false;
    memcpy(to, bytes, len);
    return hold_commit(s, t_ns, len);
}

void hold_flush(hold_t *s, uint64_t before_ns, hold_write_fn write, void *ctx)
{
    while (s->head < s->n && s->h[s->head].t_ns < before_ns) {
        const held_t *x = &s->h[s->head++];
        write(ctx, x->t_ns, s->arena + x->off, x->len);
        s->live -= x->len;
    }
    if (s->head == s->n) { /* nothing held: both start over */
        s->head = s->n = 0;
        s->top = 0;
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
    free(s->arena);
    free(s);
    return late;
}
