/* Tests of the VCD trace through trace.h (issue 15): the levels the file gives
 * a wire at every instant are those of the UART bit streams computed here
 * from the bytes (start 0, data LSB first, even parity, stop 1, edge j at
 * t0 + round(j * 1e9 / baud)); two replies that overlap give their wired AND;
 * a reply cut by a loss of supply stops there; a frame whose characters have
 * their own end times starts each one a character before; the window keeps
 * only its own changes and starts with the levels in force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"

#define BAUD 9600u
#define NS 1000000000ull

/* One transmission as this test computes it. */
typedef struct {
    const uint8_t *bytes;
    size_t n;
    uint64_t t0;
    const uint64_t *starts; /* each character's start; NULL: back to back */
    uint64_t cut;           /* no bits from here on; UINT64_MAX: none */
} tx_t;

static unsigned bit_of(uint8_t byte, unsigned b)
{
    if (b == 0)
        return 0;
    if (b <= 8)
        return (byte >> (b - 1)) & 1u;
    if (b == 9) {
        unsigned ones = 0;
        for (int i = 0; i < 8; i++)
            ones += (byte >> i) & 1u;
        return ones & 1u; /* even parity */
    }
    return 1;
}

static uint64_t edge_time(const tx_t *x, size_t j)
{
    if (x->starts)
        return x->starts[j / 11] + ((j % 11) * NS + BAUD / 2) / BAUD;
    return x->t0 + (j * NS + BAUD / 2) / BAUD;
}

/* The level one transmission drives at t: the bit whose boundary came last
 * (a stop bit, or before the first start bit, is 1: the line's idle level). */
static unsigned level_at(const tx_t *x, uint64_t t)
{
    if (t >= x->cut)
        return 1;
    for (size_t j = x->n * 11; j-- > 0;)
        if (edge_time(x, j) <= t)
            return bit_of(x->bytes[j / 11], (unsigned)(j % 11));
    return 1;
}

static unsigned wire_at(const tx_t *x, int n, uint64_t t)
{
    for (int k = 0; k < n; k++)
        if (!level_at(&x[k], t))
            return 0;
    return 1;
}

/* The changes of one signal read back from the file: times and levels,
 * the first entry the level at $dumpvars. */
typedef struct {
    uint64_t t[4096];
    int v[4096];
    int n;
} changes_t;

static void read_signal(const char *path, const char *name, changes_t *c)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256], id[16] = "";
    uint64_t now = 0;
    c->n = 0;
    while (fgets(line, sizeof line, f)) {
        char ref[128], code[16];
        if (sscanf(line, "$var wire 1 %15s %127s $end", code, ref) == 2 && strcmp(ref, name) == 0)
            strcpy(id, code);
        else if (line[0] == '#')
            now = strtoull(line + 1, NULL, 10);
        else if ((line[0] == '0' || line[0] == '1') && id[0]) {
            line[strcspn(line, "\n")] = '\0';
            if (strcmp(line + 1, id) == 0 && c->n < 4096) {
                c->t[c->n] = now;
                c->v[c->n++] = line[0] - '0';
            }
        }
    }
    fclose(f);
    assert_true(id[0] != '\0');
}

static unsigned file_level(const changes_t *c, uint64_t t)
{
    int v = c->v[0];
    for (int i = 0; i < c->n && c->t[i] <= t; i++)
        v = c->v[i];
    return (unsigned)v;
}

/* Every instant where either side might change: each computed edge, each
 * written change, and just before each. */
static void compare(const changes_t *c, const tx_t *x, int n, uint64_t from, uint64_t until)
{
    for (int k = 0; k < n; k++)
        for (size_t j = 0; j <= x[k].n * 11; j++) {
            uint64_t t = j < x[k].n * 11 ? edge_time(&x[k], j)
                                         : edge_time(&x[k], j - 1) + (NS + BAUD / 2) / BAUD;
            if (t < from || t > until)
                continue;
            assert_int_equal(file_level(c, t), wire_at(x, n, t));
            if (t > from)
                assert_int_equal(file_level(c, t - 1), wire_at(x, n, t - 1));
        }
    for (int i = 1; i < c->n; i++) {
        assert_true(c->t[i] >= from && c->t[i] <= until);
        assert_int_equal((unsigned)c->v[i], wire_at(x, n, c->t[i]));
        assert_int_not_equal(c->v[i], c->v[i - 1]); /* a change, not a repeat */
    }
}

typedef struct {
    scenario_t sc;
    scenario_bus_t bus;
    scenario_meter_t meters[2];
    char path[64];
} fixture_t;

static trace_t *open_vcd(fixture_t *fx, uint64_t from, uint64_t until)
{
    memset(fx, 0, sizeof *fx);
    strcpy(fx->bus.name, "b");
    strcpy(fx->meters[0].name, "m1");
    strcpy(fx->meters[1].name, "m2");
    fx->sc.buses = &fx->bus;
    fx->sc.n_buses = 1;
    fx->sc.meters = fx->meters;
    fx->sc.n_meters = 2;
    snprintf(fx->path, sizeof fx->path, "/tmp/test_trace_vcd.%d.vcd", (int)getpid());
    trace_opts_t o = {.vcd = fx->path, .from_ns = from, .until_ns = until};
    bool ok;
    char err[256];
    trace_t *t = trace_open(&o, &fx->sc, &ok, err, sizeof err);
    assert_true(ok);
    assert_non_null(t);
    return t;
}

static void test_one_frame_bits(void **state)
{
    (void)state;
    fixture_t fx;
    trace_t *t = open_vcd(&fx, 0, 0);
    const uint8_t req[] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x06, 0x75, 0x08, 0xFF, 0x00};
    tx_t x = {req, sizeof req, 2 * NS, NULL, UINT64_MAX};
    trace_frame(t, 0, METER_LINE_MODBUS, TRACE_TO_METER, -1, req, sizeof req, x.t0, BAUD,
                LINE_PARITY_EVEN, NULL);
    trace_time(t, 3 * NS);
    assert_true(trace_close(t, 4 * NS));
    changes_t *c = calloc(1, sizeof *c);
    read_signal(fx.path, "b_modbus_to_meter", c);
    assert_int_equal(c->v[0], 1); /* idle high */
    compare(c, &x, 1, 0, 4 * NS);
    read_signal(fx.path, "b_modbus_to_master", c);
    assert_int_equal(c->n, 1); /* the other direction never moved */
    free(c);
    unlink(fx.path);
}

static void test_overlapping_replies_and(void **state)
{
    (void)state;
    fixture_t fx;
    trace_t *t = open_vcd(&fx, 0, 0);
    const uint8_t a[] = {0x01, 0x03, 0x02, 0x00, 0x0A, 0x38, 0x43};
    const uint8_t b[] = {0x01, 0x03, 0x02, 0x55, 0xF0, 0x11, 0x22};
    /* b starts 3.3 bit times after a: the bits of the two mix. */
    tx_t x[2] = {{a, sizeof a, NS, NULL, UINT64_MAX}, {b, sizeof b, NS + 343750, NULL, UINT64_MAX}};
    trace_frame(t, 0, METER_LINE_MODBUS, TRACE_TO_MASTER, 1, b, sizeof b, x[1].t0, BAUD,
                LINE_PARITY_EVEN, NULL);
    trace_frame(t, 0, METER_LINE_MODBUS, TRACE_TO_MASTER, 0, a, sizeof a, x[0].t0, BAUD,
                LINE_PARITY_EVEN, NULL);
    /* Meter 1 loses its supply in the middle of its fourth character. */
    x[1].cut = x[1].t0 + 3 * 1145833 + 500000;
    trace_cut(t, 0, METER_LINE_MODBUS, 1, x[1].cut);
    assert_true(trace_close(t, 2 * NS));
    changes_t *c = calloc(1, sizeof *c);
    read_signal(fx.path, "b_modbus_to_master", c);
    compare(c, x, 2, 0, 2 * NS);
    free(c);
    unlink(fx.path);
}

static void test_characters_at_their_own_times(void **state)
{
    (void)state;
    fixture_t fx;
    trace_t *t = open_vcd(&fx, 0, 0);
    const uint8_t req[] = {0x10, 0x5B, 0x01, 0x5C, 0x16};
    const uint32_t mbaud = 2400;
    uint64_t ch = (11 * NS + mbaud / 2) / mbaud, ends[5], starts[5];
    for (int i = 0; i < 5; i++) { /* a pause of 1.5 ms after the second character */
        starts[i] = NS + (uint64_t)i * ch + (i >= 2 ? 1500000u : 0u);
        ends[i] = starts[i] + ch;
    }
    trace_frame(t, 0, METER_LINE_MBUS, TRACE_TO_METER, -1, req, 5, starts[0], mbaud,
                LINE_PARITY_EVEN, ends);
    assert_true(trace_close(t, 2 * NS));
    changes_t *c = calloc(1, sizeof *c);
    read_signal(fx.path, "b_mbus_to_meter", c);
    /* At 2400 bit/s: each change where the computed stream of that
     * character changes, the stream started at its own start. */
    for (int i = 0; i < 5; i++)
        for (unsigned b = 0; b < 11; b++) {
            uint64_t at = starts[i] + (b * NS + mbaud / 2) / mbaud;
            assert_int_equal(file_level(c, at), bit_of(req[i], b));
        }
    assert_int_equal(file_level(c, starts[2] - 1), 1); /* the pause: idle */
    free(c);
    unlink(fx.path);
}

static void test_window(void **state)
{
    (void)state;
    fixture_t fx;
    trace_t *t = open_vcd(&fx, 2 * NS + 3000000, 2 * NS + 6000000);
    const uint8_t req[] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x06, 0x75, 0x08};
    tx_t x = {req, sizeof req, 2 * NS, NULL, UINT64_MAX};
    trace_frame(t, 0, METER_LINE_MODBUS, TRACE_TO_METER, -1, req, sizeof req, x.t0, BAUD,
                LINE_PARITY_EVEN, NULL);
    assert_true(trace_close(t, 3 * NS));
    changes_t *c = calloc(1, sizeof *c);
    read_signal(fx.path, "b_modbus_to_meter", c);
    /* The first level is the wire's at the window's start, then only its changes. */
    assert_int_equal((unsigned)c->v[0], wire_at(&x, 1, 2 * NS + 3000000));
    compare(c, &x, 1, 2 * NS + 3000000, 2 * NS + 6000000);
    FILE *f = fopen(fx.path, "r");
    char line[256];
    uint64_t last = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] == '#')
            last = strtoull(line + 1, NULL, 10);
    fclose(f);
    assert_true(last == 2 * NS + 6000000); /* it ends at --trace-until */
    free(c);
    unlink(fx.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_frame_bits),
        cmocka_unit_test(test_overlapping_replies_and),
        cmocka_unit_test(test_characters_at_their_own_times),
        cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
