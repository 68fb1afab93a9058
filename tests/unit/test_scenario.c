/* Tests of the scenario reader's buses and fleets (docs/scenario.md, Buses
 * and fleets): a 10-bus, 1000-meter file of a few lines expands to the right
 * names, serials, IDs, buses and endpoints; "vary" gives each meter its own
 * load, the same on every run and from the documented formula; and every
 * mistake of a fleet is refused with its place. Scenario files are written
 * to a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonpos.h"
#include "scenario.h"

static char dir[] = "/tmp/metersim-test-scenario-XXXXXX";
static char path[300];
static char err[1024];

/* Writes `json` to the temporary folder and loads it. */
static bool load(const char *json, scenario_t *sc)
{
    snprintf(path, sizeof path, "%s/s.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    err[0] = '\0';
    return scenario_load(path, sc, err, sizeof err);
}

/* 10 buses of 100 meters, in a few lines: one line a bus. */
/* clang-format off */
static const char fleet[] =
    "{ \"seed\": 7,\n"
    "  \"load\": { \"current\": 10, \"pf\": 0.95,\n"
    "            \"L3\": { \"current\": {\"daily\": [[\"00:00\", 4], [\"12:00\", 20]]} } },\n"
    "  \"buses\": [\n"
    "    { \"name\": \"b1\", \"modbus\": \"tcp:5021\", \"mbus\": \"pty:/tmp/fleet-b1\", \"gateway_timeout\": \"250ms\",\n"
    "      \"meters\": [ { \"name\": \"b1-{n:03}\", \"count\": 100, \"serial\": \"0013070001\",\n"
    "                    \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b2\", \"modbus\": [\"tcp:5022\", \"rtu-over-tcp:6022\"], \"meters\": [ { \"name\": \"b2-{n:03}\", \"count\": 100, \"serial\": \"0013070101\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b3\", \"modbus\": \"tcp:5023\", \"meters\": [ { \"name\": \"b3-{n:03}\", \"count\": 100, \"serial\": \"0013070201\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b4\", \"modbus\": \"tcp:5024\", \"meters\": [ { \"name\": \"b4-{n:03}\", \"count\": 100, \"serial\": \"0013070301\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b5\", \"modbus\": \"tcp:5025\", \"meters\": [ { \"name\": \"b5-{n:03}\", \"count\": 100, \"serial\": \"0013070401\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b6\", \"modbus\": \"tcp:5026\", \"meters\": [ { \"name\": \"b6-{n:03}\", \"count\": 100, \"serial\": \"0013070501\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b7\", \"modbus\": \"tcp:5027\", \"meters\": [ { \"name\": \"b7-{n:03}\", \"count\": 100, \"serial\": \"0013070601\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b8\", \"modbus\": \"tcp:5028\", \"meters\": [ { \"name\": \"b8-{n:03}\", \"count\": 100, \"serial\": \"0013070701\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b9\", \"modbus\": \"tcp:5029\", \"meters\": [ { \"name\": \"b9-{n:03}\", \"count\": 100, \"serial\": \"0013070801\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] },\n"
    "    { \"name\": \"b10\", \"modbus\": \"tcp:0.0.0.0:5030\", \"mbus\": \"tcp:5130\", \"meters\": [ { \"name\": \"b10-{n:03}\", \"count\": 100, \"serial\": \"0013070901\", \"vary\": { \"current\": [0.5, 1.5], \"pf\": [0.8, 0.99] } } ] }\n"
    "  ],\n"
    "  \"timeline\": [ { \"at\": \"1h\", \"load\": { \"current\": 20 } },\n"
    "                { \"at\": \"2h\", \"bus\": \"b7\", \"modbus\": { \"request\": \"05 03 50 00 00 02\" } },\n"
    "                { \"at\": \"2h\", \"mbus\": { \"short\": \"5B 05\" } } ] }\n";
/* clang-format on */

static const uint64_t noon = 12ull * 3600 * VTIME_SAMPLE_RATE;

static void test_fleet_of_1000_meters(void **state)
{
    (void)state;
    scenario_t sc;
    assert_true(load(fleet, &sc));
    assert_int_equal(sc.n_meters, 1000);
    assert_int_equal(sc.n_buses, 10);
    for (int k = 0; k < sc.n_meters; k++) {
        const scenario_meter_t *m = &sc.meters[k];
        int b = k / 100, n = k % 100 + 1;
        char want[32];
        snprintf(want, sizeof want, "b%d-%03d", b + 1, n);
        assert_string_equal(m->name, want);
        snprintf(want, sizeof want, "%010d", 13070001 + k); /* the width of the first kept */
        assert_string_equal(m->serial, want);
        assert_int_equal(m->bus, b);
        assert_int_equal(m->settings.modbus_id, n); /* from 1 on every bus */
        assert_int_equal(m->settings.mbus_id, n);
        assert_int_equal(m->settings.mbus_secondary, 13070001 + k); /* its serial's last 8 */
    }
    char name[8];
    for (int b = 0; b < 10; b++) {
        snprintf(name, sizeof name, "b%d", b + 1);
        assert_string_equal(sc.buses[b].name, name);
    }
    /* Endpoints, as endpoint_spec_parse reads them. */
    assert_int_equal(sc.buses[0].n_modbus, 1);
    assert_int_equal(sc.buses[0].modbus[0].kind, ENDPOINT_MODBUS_TCP);
    assert_string_equal(sc.buses[0].modbus[0].host, "127.0.0.1");
    assert_int_equal(sc.buses[0].modbus[0].port, 5021);
    assert_int_equal(sc.buses[0].n_mbus, 1);
    assert_int_equal(sc.buses[0].mbus[0].kind, ENDPOINT_PTY);
    assert_string_equal(sc.buses[0].mbus[0].path, "/tmp/fleet-b1");
    assert_int_equal(sc.buses[0].gateway_timeout_ns, 250 * 1000000ull);
    assert_int_equal(sc.buses[1].n_modbus, 2);
    assert_int_equal(sc.buses[1].modbus[1].kind, ENDPOINT_RTU_OVER_TCP);
    assert_int_equal(sc.buses[1].modbus[1].port, 6022);
    assert_int_equal(sc.buses[1].n_mbus, 0);
    assert_int_equal(sc.buses[1].gateway_timeout_ns, 0);
    assert_string_equal(sc.buses[9].modbus[0].host, "0.0.0.0");
    assert_int_equal(sc.buses[9].mbus[0].kind, ENDPOINT_MBUS_TCP);
    assert_int_equal(sc.buses[9].mbus[0].port, 5130);
    /* A load change for every meter, then two requests: one on "b7", one on
     * the first bus. */
    assert_int_equal(sc.n_events, 1002);
    assert_int_equal(sc.events[1000].kind, SCENARIO_EV_MODBUS);
    assert_int_equal(sc.events[1000].u.xfer.bus, 6);
    assert_int_equal(sc.events[1001].kind, SCENARIO_EV_MBUS);
    assert_int_equal(sc.events[1001].u.xfer.bus, 0);
    scenario_free(&sc);
}

/* splitmix64 as docs/scenario.md writes it, for meter k's draws. */
static double draw(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void test_vary_follows_the_formula(void **state)
{
    (void)state;
    scenario_t sc;
    assert_true(load(fleet, &sc));
    double fmin = 2, fmax = 0;
    for (int k = 0; k < sc.n_meters; k++) {
        const scenario_meter_t *m = &sc.meters[k];
        const scenario_load_t *l = &sc.load[k];
        double f = m->vary_current, pf = m->vary_pf;
        assert_true(f >= 0.5 && f <= 1.5);
        assert_true(pf >= 0.8 && pf <= 0.99);
        assert_true(f == 0.5 + (1.5 - 0.5) * draw(7, 2 * (uint64_t)k));
        assert_true(pf == 0.8 + (0.99 - 0.8) * draw(7, 2 * (uint64_t)k + 1));
        fmin = f < fmin ? f : fmin;
        fmax = f > fmax ? f : fmax;
        /* Every phase's current scaled, whatever its profile; pf replaced. */
        assert_true(fabs(profile_at(&l->phase[0].current, 0) - 10 * f) < 1e-12);
        assert_true(fabs(profile_at(&l->phase[1].current, noon) - 10 * f) < 1e-12);
        assert_true(fabs(profile_at(&l->phase[2].current, 0) - 4 * f) < 1e-12);
        assert_true(fabs(profile_at(&l->phase[2].current, noon) - 20 * f) < 1e-12);
        for (int p = 0; p < 3; p++)
            assert_true(profile_at(&l->phase[p].pf, noon) == pf);
        /* The load change at 1 h: 20 A, times the meter's factor. */
        const scenario_event_t *ev = &sc.events[k];
        assert_int_equal(ev->kind, SCENARIO_EV_LOAD);
        assert_int_equal(ev->meter, k);
        assert_true(fabs(profile_at(&ev->u.load.phase[2].current, noon) - 20 * f) < 1e-12);
        assert_true(profile_at(&ev->u.load.phase[2].pf, noon) == pf);
    }
    /* 1000 uniform draws cover the range. */
    assert_true(fmin < 0.52 && fmax > 1.48);
    scenario_free(&sc);
}

static void test_loads_reproducible_and_seeded(void **state)
{
    (void)state;
    scenario_t a, b, c;
    assert_true(load(fleet, &a));
    assert_true(load(fleet, &b));
    char *other = strdup(fleet);
    memcpy(strstr(other, "\"seed\": 7"), "\"seed\": 8", 9);
    assert_true(load(other, &c));
    free(other);
    int differ_seed = 0, differ_meter = 0;
    for (int k = 0; k < a.n_meters; k++) {
        for (int p = 0; p < 3; p++) {
            double x = profile_at(&a.load[k].phase[p].current, noon);
            assert_true(x == profile_at(&b.load[k].phase[p].current, noon));
            assert_true(profile_at(&a.load[k].phase[p].pf, 0) ==
                        profile_at(&b.load[k].phase[p].pf, 0));
            differ_seed += x != profile_at(&c.load[k].phase[p].current, noon);
        }
        differ_meter += k > 0 && a.meters[k].vary_current != a.meters[k - 1].vary_current &&
                        a.meters[k].vary_pf != a.meters[k - 1].vary_pf;
    }
    assert_int_equal(differ_seed, 3 * a.n_meters);
    assert_int_equal(differ_meter, a.n_meters - 1);
    scenario_free(&a);
    scenario_free(&b);
    scenario_free(&c);
}

/* Without "buses": one bus "bus1" with no endpoints, names as before. */
static void test_without_buses_one_bus(void **state)
{
    (void)state;
    scenario_t sc;
    assert_true(load("{ \"meters\": [ {}, { \"name\": \"x\", \"serial\": \"42\" },"
                     "  { \"count\": 3, \"serial\": \"98\" } ] }",
                     &sc));
    assert_int_equal(sc.n_buses, 1);
    assert_string_equal(sc.buses[0].name, "bus1");
    assert_int_equal(sc.buses[0].n_modbus + sc.buses[0].n_mbus, 0);
    assert_int_equal(sc.n_meters, 5);
    static const char *const names[] = {"meter1", "x", "bus1-1", "bus1-2", "bus1-3"};
    static const char *const serials[] = {"00000001", "42", "98", "99", "100"};
    for (int k = 0; k < 5; k++) {
        assert_string_equal(sc.meters[k].name, names[k]);
        assert_string_equal(sc.meters[k].serial, serials[k]);
        assert_int_equal(sc.meters[k].bus, 0);
        assert_true(sc.meters[k].vary_current == 1.0);
        assert_true(sc.meters[k].vary_pf == -1.0);
    }
    /* A meter keeps the factory IDs; a template counts from 1. */
    assert_int_equal(sc.meters[1].settings.modbus_id, 1);
    assert_int_equal(sc.meters[1].settings.mbus_id, 0);
    assert_int_equal(sc.meters[4].settings.modbus_id, 3);
    assert_int_equal(sc.meters[4].settings.mbus_id, 3);
    scenario_free(&sc);
}

/* Two meters with one ID on one bus: miswired, allowed (they collide). */
static void test_one_id_twice_allowed(void **state)
{
    (void)state;
    scenario_t sc;
    assert_true(load(
        "{ \"buses\": [ { \"meters\": [ { \"name\": \"a{n}\", \"count\": 5 },"
        "  { \"name\": \"b{n}\", \"count\": 5, \"settings\": { \"modbus_id\": 3,"
        "    \"mbus_id\": 0 } } ] },"
        "  { \"meters\": [ { \"name\": \"c\", \"settings\": { \"modbus_id\": 1 } } ] } ],"
        "  \"timeline\": [ { \"at\": \"1s\", \"meter\": \"b2\", \"set\": { \"tariff\": 2 } } ] }",
        &sc));
    assert_int_equal(sc.n_meters, 11);
    assert_int_equal(sc.meters[5].settings.modbus_id, 3);
    assert_int_equal(sc.meters[7].settings.modbus_id, 5); /* as a5's */
    assert_int_equal(sc.meters[9].settings.mbus_id, 4);
    assert_string_equal(sc.buses[1].name, "bus2");
    assert_int_equal(sc.meters[10].bus, 1);
    assert_int_equal(sc.events[0].meter, 6); /* "meter" found across buses */
    scenario_free(&sc);
}

/* A timeline's events grow as needed, and a change that would pass the
 * limit is refused. */
static void test_ten_thousand_meters(void **state)
{
    (void)state;
    size_t cap = 1 << 16, len = 0;
    char *json = malloc(cap);
    assert_non_null(json);
    len += (size_t)snprintf(json + len, cap - len, "{ \"buses\": [");
    for (int b = 0; b < 50; b++)
        len += (size_t)snprintf(json + len, cap - len, "%s{ \"meters\": [ { \"count\": 200 } ] }",
                                b ? ", " : "");
    len += (size_t)snprintf(json + len, cap - len,
                            "], \"timeline\": [ { \"at\": \"1s\", \"load\": { \"current\": 1 } },"
                            " { \"at\": \"2s\", \"load\": { \"current\": 2 } } ] }");
    scenario_t sc;
    assert_true(load(json, &sc));
    assert_int_equal(sc.n_meters, 10000);
    assert_int_equal(sc.n_events, 20000);
    assert_string_equal(sc.meters[9999].name, "bus50-200");
    assert_int_equal(sc.meters[9999].bus, 49);
    scenario_free(&sc);
    strcpy(json + len - 3, ", { \"at\": \"3s\", \"tariff_input\": true } ] }");
    assert_false(load(json, &sc));
    assert_non_null(strstr(err, "$.timeline[2].tariff_input: more than 20000 events"));
    free(json);
}

/* Refused, with the message "FILE:LINE:COL: PATH: ...WHAT...", where LINE:COL
 * is the start of the last occurrence of `at` in the text (the bad value). */
static void refused(const char *json, const char *at, const char *where, const char *what)
{
    scenario_t sc;
    assert_false(load(json, &sc));
    const char *p = NULL;
    for (const char *q = strstr(json, at); q; q = strstr(q + 1, at))
        p = q;
    assert_non_null(p);
    int line = 1, col = 1;
    for (const char *q = json; q < p; q++) {
        col = *q == '\n' ? 1 : col + 1;
        line += *q == '\n';
    }
    char head[400];
    snprintf(head, sizeof head, "%s:%d:%d: %s: ", path, line, col, where);
    if (strncmp(err, head, strlen(head)) != 0 || !strstr(err, what))
        fail_msg("expected \"%s...%s\", got \"%s\"", head, what, err);
}

static void test_mistakes_refused(void **state)
{
    (void)state;
    refused("{\"buses\": [{\"meters\": [{\"count\": 10, \"settings\": {\"modbus_id\": 240}}]}]}",
            "240", "$.buses[0].meters[0].settings.modbus_id",
            "the template \"bus1-{n}\" of 10 meters would take Modbus IDs 240 to 249; a bus has 1 "
            "to 247");
    refused("{\"buses\": [{\"meters\": [{\"name\": \"m{n}\", \"count\": 248}]}]}", "248",
            "$.buses[0].meters[0].count",
            "the template \"m{n}\" of 248 meters would take Modbus IDs 1 to 248");
    refused("{\"buses\": [{\"meters\": [{\"count\": 5, \"settings\": {\"mbus_id\": 250}}]}]}",
            "250", "$.buses[0].meters[0].settings.mbus_id",
            "M-Bus addresses 250 to 254; a bus has 0 to 250");
    refused(
        "{\"buses\": [{\"name\": \"x\", \"meters\": [{}]}, {\"name\": \"x\", \"meters\": [{}]}]}",
        "\"x\"", "$.buses[1].name", "two buses are named \"x\"");
    refused("{\"buses\": [{\"modbus\": \"tcp:5020\", \"meters\": [{}]},\n"
            " {\"mbus\": \"tcp:127.0.0.1:5020\", \"meters\": [{}]}]}",
            "\"tcp:127", "$.buses[1].mbus", "two endpoints cannot listen on one TCP port");
    refused("{\"buses\": [{\"modbus\": [\"/dev/ttyUSB0\"], \"meters\": [{}]},\n"
            " {\"mbus\": \"/dev/ttyUSB0\", \"meters\": [{}]}]}",
            "\"/dev", "$.buses[1].mbus", "two endpoints cannot open one device");
    refused("{\"buses\": [{\"modbus\": [\"pty\", \"serial0\"], \"meters\": [{}]}]}", "\"serial0",
            "$.buses[0].modbus[1]", "\"serial0\": expected pty, pty:PATH, a device path");
    refused("{\"buses\": [{\"name\": \"a\", \"meters\": [{}]}],\n"
            " \"timeline\": [{\"at\": \"1s\", \"bus\": \"b\", \"mbus\": {\"short\": \"5B FE\"}}]}",
            "\"b\"", "$.timeline[0].bus", "no bus named \"b\" in \"buses\"");
    refused("{\"buses\": [{\"meters\": [{}]}], \"meters\": [{}]}", "{\"buses", "$",
            "give \"buses\" (each with its \"meters\") or \"meter\"/\"meters\", not both");
    refused("{\"buses\": [{\"meters\": [{}]}],\n"
            " \"timeline\": [{\"at\": \"1s\", \"meter\": \"meter1\", \"modbus\": {\"request\": "
            "\"01 03 50 00 00 02\"}}]}",
            "{\"request", "$.timeline[0].modbus", "address a meter by its ID, not with \"meter\"");
    refused("{\"meters\": [{\"count\": 3, \"name\": \"m{n:03}\", \"vary\": {\"current\": [1]}}]}",
            "[1]", "$.meters[0].vary.current", "expected [lo, hi]");
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/s.json", dir);
    unlink(path);
    return rmdir(dir);
}

/* The position scanner on text with NUL and control bytes (cJSON takes them
 * for white space): it ends, and finds what follows them. Its first version
 * stood still on a NUL byte for ever: the scenario fuzzer's first finding
 * (tests/fuzz/fuzz_scenario.c). */
static void test_jsonpos_nul_and_control_bytes(void **state)
{
    (void)state;
    static const char text[] = "{\"a\": 1,\n \"b\": [\001 2,\0\0 3, \0374], \"c\":\0 5}";
    int line = 0, col = 0;
    assert_true(jsonpos_find(text, sizeof text - 1, "$.a", &line, &col));
    assert_int_equal(line, 1);
    assert_int_equal(col, 7);
    assert_true(jsonpos_find(text, sizeof text - 1, "$.b[0]", &line, &col));
    assert_int_equal(line, 2);
    assert_int_equal(col, 10); /* after the \001, white space to cJSON */
    /* Past the NUL bytes: found (line and column count up to a NUL only). */
    assert_true(jsonpos_find(text, sizeof text - 1, "$.b[1]", &line, &col));
    assert_true(jsonpos_find(text, sizeof text - 1, "$.b[2]", &line, &col));
    assert_true(jsonpos_find(text, sizeof text - 1, "$.c", &line, &col));
    assert_false(jsonpos_find(text, sizeof text - 1, "$.d", &line, &col));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_of_1000_meters),
        cmocka_unit_test(test_vary_follows_the_formula),
        cmocka_unit_test(test_loads_reproducible_and_seeded),
        cmocka_unit_test(test_without_buses_one_bus),
        cmocka_unit_test(test_one_id_twice_allowed),
        cmocka_unit_test(test_ten_thousand_meters),
        cmocka_unit_test(test_mistakes_refused),
        cmocka_unit_test(test_jsonpos_nul_and_control_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
