/* Tests of jsonl.c's text (issue 15 point 3, docs/trace.md): the lines are
 * written by hand, and must be the bytes cJSON prints for the same object
 * (cJSON_PrintUnformatted, the library the trace was built with before and
 * the scenario files are read with). The expected lines are built here
 * with cJSON itself: names holding every byte from 1 to 255 (quotes,
 * backslashes, control characters, UTF-8), integers, hex bytes, values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_internal.h"

/* What cJSON prints for o, with a newline; o freed. */
static char *printed(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    assert_non_null(s);
    cJSON_Delete(o);
    size_t n = strlen(s);
    char *l = malloc(n + 2);
    assert_non_null(l);
    memcpy(l, s, n);
    l[n] = '\n';
    l[n + 1] = '\0';
    cJSON_free(s);
    return l;
}

static cJSON *start(const char *type, uint64_t t_ns)
{
    cJSON *o = cJSON_CreateObject();
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)t_ns);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddRawToObject(o, "t_ns", digits);
    return o;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_lines_are_cjsons(void **state)
{
    (void)state;
    /* Every byte but NUL in a name: the bus "b" + bytes 1..127, the meter
     * bytes 128..255 and a few of the others (UTF-8 or not, cJSON copies
     * them as they are). */
    char bus[200], meter[200], text[64];
    size_t k = 0;
    bus[k++] = 'b';
    for (int c = 1; c < 128; c++)
        bus[k++] = (char)c;
    bus[k] = '\0';
    k = 0;
    for (int c = 128; c < 256; c++)
        meter[k++] = (char)c;
    meter[k++] = '"';
    meter[k++] = '\\';
    meter[k++] = '/';
    meter[k] = '\0';
    snprintf(text, sizeof text, "Sn 13070001 \"kWh\" T1\t\x7f\xc3\xa9");
    const uint8_t bytes[] = {0x01, 0x03, 0x50, 0x02, 0x00, 0x06, 0x75, 0x08, 0xff, 0xa0};

    char path[] = "/tmp/test_trace_jsonl_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char err[256];
    jsonl_t *j = jsonl_open(path, 2, err, sizeof err);
    assert_non_null(j);
    /* Distinct instants: the lines leave in the order put. */
    jsonl_frame(j, bus, METER_LINE_MODBUS, 0, NULL, bytes, sizeof bytes, 1000, 2000, 9600,
                LINE_PARITY_EVEN);
    jsonl_frame(j, bus, METER_LINE_MBUS, 1, meter, bytes, 3, 3000, 4000, 2400, LINE_PARITY_NONE);
    jsonl_frame(j, "b", METER_LINE_MODBUS, 1, "m", bytes, 1, 5000, 6000, 4294967295u,
                LINE_PARITY_ODD);
    jsonl_edge(j, 1, meter, TRACE_SIG_LED, true, 7000);
    jsonl_edge(j, 0, "m1", TRACE_SIG_SUPPLY_L3, false, 18446744073709551614ull);
    jsonl_lcd(j, meter, text, 100000000);
    jsonl_cut(j, bus, METER_LINE_MBUS, meter, 100000001);
    jsonl_cut(j, "b", METER_LINE_MODBUS, NULL, 100000002);
    jsonl_mbtcp(j, bus, 0, true, bytes, 7, 100000003);
    jsonl_mbtcp(j, "b", 12345, false, bytes, 9, 100000004);
    metrology_values_t v = {0};
    v.seq = 4000000000u;
    v.u[0] = 230, v.u[1] = 229.5, v.u[2] = -0.25;
    v.i[0] = 10, v.i[1] = 0.125, v.i[2] = 1e-6;
    v.p[0] = 2070, v.p[1] = -2070.5, v.p[2] = 0;
    v.q[0] = 1, v.q[1] = 2, v.q[2] = 3;
    v.p_total = 6210.75, v.q_total = -3000, v.s_total = 6900.5, v.pf_total = 0.9, v.frequency = 50;
    jsonl_window(j, "m1", &v, 1000000000);
    assert_true(jsonl_close(j));
    close(fd);

    /* The same objects, printed by cJSON. */
    char want[1 << 16] = "";
    char hex[3 * sizeof bytes];
    cJSON *o;
#define HEX(n)                                                                                     \
    do {                                                                                           \
        size_t at = 0;                                                                             \
        for (size_t i = 0; i < (n); i++)                                                           \
            at += (size_t)snprintf(hex + at, sizeof hex - at, i ? " %02x" : "%02x", bytes[i]);     \
    } while (0)
#define WANT(obj)                                                                                  \
    do {                                                                                           \
        char *l = printed(obj);                                                                    \
        strcat(want, l);                                                                           \
        free(l);                                                                                   \
    } while (0)
    o = start("frame", 1000);
    cJSON_AddRawToObject(o, "t_end_ns", "2000");
    cJSON_AddStringToObject(o, "bus", bus);
    cJSON_AddStringToObject(o, "line", "modbus");
    cJSON_AddStringToObject(o, "dir", "to_meter");
    cJSON_AddNumberToObject(o, "bps", 9600);
    cJSON_AddStringToObject(o, "parity", "even");
    HEX(sizeof bytes);
    cJSON_AddStringToObject(o, "bytes", hex);
    WANT(o);
    o = start("frame", 3000);
    cJSON_AddRawToObject(o, "t_end_ns", "4000");
    cJSON_AddStringToObject(o, "bus", bus);
    cJSON_AddStringToObject(o, "line", "mbus");
    cJSON_AddStringToObject(o, "dir", "to_master");
    cJSON_AddStringToObject(o, "meter", meter);
    cJSON_AddNumberToObject(o, "bps", 2400);
    cJSON_AddStringToObject(o, "parity", "none");
    HEX(3);
    cJSON_AddStringToObject(o, "bytes", hex);
    WANT(o);
    o = start("frame", 5000);
    cJSON_AddRawToObject(o, "t_end_ns", "6000");
    cJSON_AddStringToObject(o, "bus", "b");
    cJSON_AddStringToObject(o, "line", "modbus");
    cJSON_AddStringToObject(o, "dir", "to_master");
    cJSON_AddStringToObject(o, "meter", "m");
    cJSON_AddNumberToObject(o, "bps", 4294967295.0);
    cJSON_AddStringToObject(o, "parity", "odd");
    HEX(1);
    cJSON_AddStringToObject(o, "bytes", hex);
    WANT(o);
    o = start("edge", 7000);
    cJSON_AddStringToObject(o, "meter", meter);
    cJSON_AddStringToObject(o, "signal", "LED");
    cJSON_AddNumberToObject(o, "level", 1);
    WANT(o);
    o = start("lcd", 100000000);
    cJSON_AddStringToObject(o, "meter", meter);
    cJSON_AddStringToObject(o, "text", text);
    WANT(o);
    o = start("cut", 100000001);
    cJSON_AddStringToObject(o, "bus", bus);
    cJSON_AddStringToObject(o, "line", "mbus");
    cJSON_AddStringToObject(o, "meter", meter);
    WANT(o);
    o = start("cut", 100000002);
    cJSON_AddStringToObject(o, "bus", "b");
    cJSON_AddStringToObject(o, "line", "modbus");
    WANT(o);
    o = start("mbtcp", 100000003);
    cJSON_AddStringToObject(o, "bus", bus);
    cJSON_AddNumberToObject(o, "client", 0);
    cJSON_AddStringToObject(o, "dir", "to_gateway");
    HEX(7);
    cJSON_AddStringToObject(o, "bytes", hex);
    WANT(o);
    o = start("mbtcp", 100000004);
    cJSON_AddStringToObject(o, "bus", "b");
    cJSON_AddNumberToObject(o, "client", 12345);
    cJSON_AddStringToObject(o, "dir", "to_client");
    HEX(9);
    cJSON_AddStringToObject(o, "bytes", hex);
    WANT(o);
    /* Values that are exact in binary and in 6 decimals: cJSON's shortest
     * round trip and the trace's micro-units give the same text. */
    o = start("window", 1000000000);
    cJSON_AddStringToObject(o, "meter", "m1");
    cJSON_AddNumberToObject(o, "seq", 4000000000.0);
    double u[3] = {230, 229.5, -0.25}, i[3] = {10, 0.125, 0}, p[3] = {2070, -2070.5, 0},
           q[3] = {1, 2, 3};
    cJSON_AddItemToObject(o, "u", cJSON_CreateDoubleArray(u, 3));
    cJSON *ia = cJSON_CreateDoubleArray(i, 3);
    cJSON_ReplaceItemInArray(ia, 2, cJSON_CreateRaw("0.000001")); /* cJSON: 1e-06 */
    cJSON_AddItemToObject(o, "i", ia);
    cJSON_AddItemToObject(o, "p", cJSON_CreateDoubleArray(p, 3));
    cJSON_AddItemToObject(o, "q", cJSON_CreateDoubleArray(q, 3));
    cJSON_AddNumberToObject(o, "p_total", 6210.75);
    cJSON_AddNumberToObject(o, "q_total", -3000);
    cJSON_AddNumberToObject(o, "s_total", 6900.5);
    cJSON_AddNumberToObject(o, "pf_total", 0.9);
    cJSON_AddNumberToObject(o, "frequency", 50);
    WANT(o);
    /* Last in time: an edge at the largest instant written (UINT64_MAX is
     * the closing flush's bound). */
    o = start("edge", 18446744073709551614ull);
    cJSON_AddStringToObject(o, "meter", "m1");
    cJSON_AddStringToObject(o, "signal", "supply_L3");
    cJSON_AddNumberToObject(o, "level", 0);
    WANT(o);

    const char *got = read_all(path);
    unlink(path);
    assert_string_equal(got, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_cjsons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
