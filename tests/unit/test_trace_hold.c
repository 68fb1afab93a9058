/* Tests of hold.c, the records the JSONL and pcap traces hold until their
 * order is final (issue 15: the same traces at any pace; docs/trace.md,
 * "Same bytes at any pace"): records put in any order leave by time, then
 * by their bytes; a flush writes only what lies before its instant; the same
 * records put in two different orders leave as the same sequence; a record
 * that comes after its instant was written is counted as late. The expected
 * order is computed here by sorting the records with qsort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

#define N 500

typedef struct {
    uint64_t t;
    char text[16];
} rec_t;

/* What the writer was given, in order. */
typedef struct {
    rec_t got[N + 8];
    int n;
} sink_t;

static void write_rec(void *ctx, uint64_t t_ns, const uint8_t *bytes, size_t len)
{
    sink_t *s = ctx;
    assert_true(s->n < N + 8);
    assert_true(len < sizeof s->got[0].text);
    s->got[s->n].t = t_ns;
    memcpy(s->got[s->n].text, bytes, len);
    s->got[s->n].text[len] = '\0';
    s->n++;
}

static int by_time_then_text(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* N records with few distinct times (many ties) and texts of both lengths. */
static void make_records(rec_t *r, unsigned seed)
{
    srand(seed);
    for (int i = 0; i < N; i++) {
        r[i].t = (uint64_t)(rand() % 40) * 1000u;
        snprintf(r[i].text, sizeof r[i].text, i % 3 ? "edge%d" : "frame%d", rand() % 7);
    }
}

static void put_all(hold_t *h, const rec_t *r, const int *order)
{
    for (int i = 0; i < N; i++)
        assert_true(hold_put(h, r[order[i]].t, r[order[i]].text, strlen(r[order[i]].text)));
}

static void test_order_is_time_then_bytes(void **state)
{
    (void)state;
    static rec_t r[N], want[N];
    static sink_t s;
    int order[N];
    make_records(r, 1);
    for (int i = 0; i < N; i++)
        order[i] = i;
    hold_t *h = hold_new();
    assert_non_null(h);
    put_all(h, r, order);
    bool failed = true;
    assert_int_equal(hold_free(h, write_rec, &s, &failed), 0);
    assert_false(failed);
    memcpy(want, r, sizeof want);
    qsort(want, N, sizeof want[0], by_time_then_text);
    assert_int_equal(s.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(s.got[i].t, want[i].t);
        assert_string_equal(s.got[i].text, want[i].text);
    }
}

static void test_any_arrival_order_same_output(void **state)
{
    (void)state;
    static rec_t r[N];
    static sink_t a, b;
    int fwd[N], rev[N];
    make_records(r, 2);
    for (int i = 0; i < N; i++) {
        fwd[i] = i;
        rev[i] = N - 1 - i;
    }
    bool failed;
    hold_t *h = hold_new();
    put_all(h, r, fwd);
    hold_free(h, write_rec, &a, &failed);
    h = hold_new();
    put_all(h, r, rev);
    hold_free(h, write_rec, &b, &failed);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.got, b.got, sizeof a.got[0] * (size_t)a.n);
}

static void test_flush_writes_only_before_and_counts_late(void **state)
{
    (void)state;
    static sink_t s;
    hold_t *h = hold_new();
    assert_true(hold_put(h, 3000, "c", 1));
    assert_true(hold_put(h, 1000, "a", 1));
    assert_true(hold_put(h, 2000, "b", 1));
    hold_flush(h, 2000, write_rec, &s); /* 1000 only: 2000 is not before 2000 */
    assert_int_equal(s.n, 1);
    assert_string_equal(s.got[0].text, "a");
    assert_true(hold_put(h, 1500, "late", 4)); /* its instant was written */
    assert_true(hold_put(h, 2500, "d", 1));
    hold_flush(h, 2600, write_rec, &s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.got[1].text, "late");
    assert_string_equal(s.got[2].text, "b");
    assert_string_equal(s.got[3].text, "d");
    bool failed;
    assert_int_equal(hold_free(h, write_rec, &s, &failed), 1);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.got[4].text, "c");
}

/* A stream much longer than the arena (records of up to 300 bytes, a
 * window of them held while time moves on, flushed every step, with some
 * arriving late inside the window): the arena is compacted and grown on the
 * way (hold.c), and what leaves is still every record, in order, bytes
 * intact. The expected sequence is the records sorted with qsort. */
#define STREAM 20000
typedef struct {
    uint64_t t;
    size_t len;
    unsigned char bytes[300];
} big_t;

static struct {
    big_t got[STREAM];
    int n;
} stream_sink;

static void write_big(void *ctx, uint64_t t_ns, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    assert_true(stream_sink.n < STREAM);
    assert_true(len <= sizeof stream_sink.got[0].bytes);
    big_t *g = &stream_sink.got[stream_sink.n++];
    g->t = t_ns;
    g->len = len;
    memcpy(g->bytes, bytes, len);
}

static int by_time_then_bytes(const void *a, const void *b)
{
    const big_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void test_long_stream_through_the_arena(void **state)
{
    (void)state;
    static big_t r[STREAM], want[STREAM];
    srand(3);
    for (int i = 0; i < STREAM; i++) {
        /* Time moves 10 a record; a tenth come up to 400 earlier. */
        uint64_t t = (uint64_t)i * 10u + 1000u;
        r[i].t = rand() % 10 == 0 ? t - (uint64_t)(rand() % 400) : t;
        r[i].len = (size_t)(rand() % 300) + 1;
        for (size_t k = 0; k < r[i].len; k++)
            r[i].bytes[k] = (unsigned char)rand();
    }
    hold_t *h = hold_new();
    assert_non_null(h);
    stream_sink.n = 0;
    for (int i = 0; i < STREAM; i++) {
        assert_true(hold_put(h, r[i].t, r[i].bytes, r[i].len));
        /* Hold the last 500 (50 records or so), but a thousand records
         * without a flush on the way: more than the first arena holds. */
        if (i % 7 == 0 && (i < 5000 || i > 6000))
            hold_flush(h, (uint64_t)i * 10u + 1000u - 500u, write_big, NULL);
    }
    bool failed = true;
    assert_int_equal(hold_free(h, write_big, NULL, &failed), 0);
    assert_false(failed);
    memcpy(want, r, sizeof want);
    qsort(want, STREAM, sizeof want[0], by_time_then_bytes);
    assert_int_equal(stream_sink.n, STREAM);
    for (int i = 0; i < STREAM; i++) {
        assert_int_equal(stream_sink.got[i].t, want[i].t);
        assert_int_equal(stream_sink.got[i].len, want[i].len);
        assert_memory_equal(stream_sink.got[i].bytes, want[i].bytes, want[i].len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_is_time_then_bytes),
        cmocka_unit_test(test_any_arrival_order_same_output),
        cmocka_unit_test(test_flush_writes_only_before_and_counts_late),
        cmocka_unit_test(test_long_stream_through_the_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
