/* record + recfile: what the writer puts in a recording, the reader gets
 * back exactly (docs/record.md): byte values 00..FF, times up to 2^53 ns
 * (cJSON carries numbers as doubles: exact only so far), the scenario's text
 * with its CRC-32, connections, the window's actions; and the writer's own
 * output is refused once a record is swapped or cut off. The expected
 * values are the ones the test wrote; the CRC-32 of "123456789" is the
 * standard check value CBF43926 (IEEE 802.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recfile.h"
#include "record.h"

static char dir[64], rec_path[96], scen_path[96];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_record.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(rec_path, sizeof rec_path, "%s/r.jsonl", dir);
    snprintf(scen_path, sizeof scen_path, "%s/s.json", dir);
    FILE *f = fopen(scen_path, "w");
    assert_non_null(f);
    fputs("{\"meter\": {\"model\": \"4PU\"}, \"load\": {\"current\": 5}}\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove(rec_path);
    remove(scen_path);
    rmdir(dir);
    return 0;
}

static void test_crc_check_value(void **state)
{
    (void)state;
    char crc[9];
    record_crc_text("123456789", 9, crc);
    assert_string_equal(crc, "cbf43926");
}

/* Everything written comes back, field by field. */
static void test_round_trip(void **state)
{
    (void)state;
    char err[512];
    record_flags_t fl = {.copper = true, .until_ns = 90000000000ull, .tcp_idle_ns = 5};
    record_t *r = record_open(rec_path, scen_path, &fl, err, sizeof err);
    assert_non_null(r);
    record_port_t serial, tcp, conn;
    record_endpoint(r, &serial, true, "pty:/tmp/x", "bus1", false);
    record_endpoint(r, &tcp, false, "tcp:127.0.0.1:41101", "bus2", true);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    uint64_t big = 9007199254740992ull; /* 2^53: 104 days in ns */
    record_rx(&serial, 1234567891, all, sizeof all, 9600);
    record_tx(&serial, 1234567999, all + 250, 6);
    record_connect(&tcp, &conn, 2000000000);
    record_rx(&conn, 2000000001, (const uint8_t *)"\x10\x5b\x01\x5c\x16", 5, 0);
    record_ui(r, 3000000000, 2999875000, 0, "current", 2, 12.5);
    record_disconnect(&conn, 4000000000);
    record_rx(&serial, big - 1, all, 1, 0);
    assert_true(record_close(r, big));

    recfile_t rf;
    assert_true(recfile_load(rec_path, &rf, err, sizeof err));
    assert_non_null(rf.scenario_text);
    assert_string_equal(rf.scenario_text,
                        "{\"meter\": {\"model\": \"4PU\"}, \"load\": {\"current\": 5}}\n");
    assert_true(rf.flags.copper);
    assert_false(rf.flags.fast);
    assert_int_equal(rf.flags.until_ns, 90000000000ull);
    assert_int_equal(rf.flags.tcp_idle_ns, 5);
    assert_int_equal(rf.n_eps, 2);
    assert_true(rf.eps[0].modbus);
    assert_false(rf.eps[0].tcp);
    assert_string_equal(rf.eps[0].spec, "pty:/tmp/x");
    assert_false(rf.eps[1].modbus);
    assert_true(rf.eps[1].tcp);
    assert_true(rf.eps[1].copper);
    assert_string_equal(rf.eps[1].bus, "bus2");
    assert_int_equal(rf.n, 10);
    const rec_entry_t *e = rf.e;
    assert_int_equal(e[2].type, REC_IN);
    assert_int_equal(e[2].n, 3);
    assert_int_equal(e[2].t_ns, 1234567891);
    assert_int_equal(e[2].len, 256);
    assert_memory_equal(e[2].bytes, all, 256);
    assert_int_equal(e[2].peer_bps, 9600);
    assert_int_equal(e[2].conn, -1);
    assert_int_equal(e[3].type, REC_OUT);
    assert_memory_equal(e[3].bytes, all + 250, 6);
    assert_int_equal(e[4].type, REC_CONNECT);
    assert_int_equal(e[4].ep, 1);
    assert_int_equal(e[4].conn, 0);
    assert_int_equal(e[5].type, REC_IN);
    assert_int_equal(e[5].conn, 0);
    assert_memory_equal(e[5].bytes, "\x10\x5b\x01\x5c\x16", 5);
    assert_int_equal(e[6].type, REC_UI);
    assert_string_equal(e[6].action, "current");
    assert_int_equal(e[6].arg, 2);
    assert_true(e[6].value == 12.5);
    assert_int_equal(e[6].at_ns, 2999875000);
    assert_int_equal(e[7].type, REC_CLOSE);
    assert_int_equal(e[8].t_ns, big - 1);
    assert_int_equal(e[9].type, REC_END);
    assert_int_equal(e[9].t_ns, big);
    recfile_free(&rf);
}

/* Lines of the file, to edit. */
static size_t read_lines(char lines[][1024], size_t cap)
{
    FILE *f = fopen(rec_path, "r");
    assert_non_null(f);
    size_t n = 0;
    while (n < cap && fgets(lines[n], 1024, f))
        n++;
    fclose(f);
    return n;
}

static void write_lines(char lines[][1024], const size_t *order, size_t n)
{
    FILE *f = fopen(rec_path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputs(lines[order[i]], f);
    fclose(f);
}

/* The writer's file, edited: swapped, cut. */
static void test_edited_files_are_refused(void **state)
{
    (void)state;
    char err[512];
    record_flags_t fl = {0};
    record_t *r = record_open(rec_path, NULL, &fl, err, sizeof err);
    assert_non_null(r);
    record_port_t p;
    record_endpoint(r, &p, true, "pty", "bus1", false);
    record_rx(&p, 100, (const uint8_t *)"\x01", 1, 0);
    record_rx(&p, 200, (const uint8_t *)"\x02", 1, 0);
    assert_true(record_close(r, 300));
    static char lines[8][1024];
    size_t n = read_lines(lines, 8);
    assert_int_equal(n, 5); /* header, endpoint, two inputs, end */
    recfile_t rf;
    assert_true(recfile_load(rec_path, &rf, err, sizeof err));
    assert_null(rf.scenario_path); /* the built-in scenario */
    recfile_free(&rf);

    size_t swapped[] = {0, 1, 3, 2, 4};
    write_lines(lines, swapped, 5);
    assert_false(recfile_load(rec_path, &rf, err, sizeof err));
    assert_non_null(strstr(err, "record 2: numbered 3, expected 2"));

    size_t cut[] = {0, 1, 2, 3};
    write_lines(lines, cut, 4);
    assert_false(recfile_load(rec_path, &rf, err, sizeof err));
    assert_non_null(strstr(err, "record 4: the file ends here"));

    size_t twice[] = {0, 1, 2, 3, 4, 4};
    write_lines(lines, twice, 6);
    assert_false(recfile_load(rec_path, &rf, err, sizeof err));
    assert_non_null(strstr(err, "record 5: after the \"end\" record"));
}

/* A file that cannot be created: NULL and a message naming it. */
static void test_unwritable(void **state)
{
    (void)state;
    char err[512];
    record_flags_t fl = {0};
    assert_null(record_open("/nonexistent/dir/r.jsonl", NULL, &fl, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir/r.jsonl: cannot be written"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_check_value),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_files_are_refused, setup, teardown),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
