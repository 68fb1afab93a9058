/* The state file (sim/state/statefile.h, docs/state.md): a new file is
 * created whole; writes alternate between the two slots with rising
 * sequence numbers, each slot's CRC sound; a broken newest slot leaves the
 * older one loaded; the file is locked, and another process is told the
 * holder's pid; a file of another variant or connection is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32.h"
#include "nvm.h"
#include "statefile.h"

#define SLOT 1388u /* docs/state.md */

static char dir[64];
static char path[128];

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t slurp(uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void new_meter(meter_t *m, meter_model_t model, connection_t conn)
{
    meter_init(m,
               &(meter_desc_t){
                   .serial = "13070001", .model = model, .connection = conn, .in_service = true});
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_statefile.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/meter.state", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void test_slots_alternate(void **state)
{
    (void)state;
    static meter_t m;
    new_meter(&m, METER_MODEL_4PU, CONNECTION_3P4W);
    statefile_t f;
    char msg[1024];
    assert_int_equal(statefile_open(&f, path, &m, msg, sizeof msg), STATEFILE_MISSING);
    assert_true(statefile_map(&f, &m, msg, sizeof msg));
    static uint8_t buf[8192];
    assert_int_equal(slurp(buf, sizeof buf), 64 + 2 * SLOT);
    assert_int_equal(get32(buf + 60), crc32_ieee(buf, 60));
    uint64_t seq[2] = {get64(buf + 64), get64(buf + 64 + SLOT)};
    for (int i = 0; i < 4; i++) {
        meter_preset_power_down_count(&m, (uint32_t)(10 + i));
        statefile_write(&f, &m);
        assert_int_equal(slurp(buf, sizeof buf), 64 + 2 * SLOT); /* the mapping is the file */
        int older = seq[0] < seq[1] ? 0 : 1;
        const uint8_t *s = buf + 64 + (size_t)older * SLOT;
        assert_int_equal(get64(s), (seq[0] > seq[1] ? seq[0] : seq[1]) + 1);
        uint32_t n = get32(s + 8);
        assert_int_equal(n, NVM_IMAGE_LEN);
        assert_int_equal(get32(s + 12 + n), crc32_ieee(s, 12 + n));
        assert_int_equal(get32(s + 12 + NVM_MAIN_OFFSET), 10 + i); /* the power-down count */
        seq[older] = get64(s);
    }
    assert_true(statefile_sync(&f, msg, sizeof msg));
    statefile_close(&f);

    /* The newest slot broken (a kill during its write): the older loads. */
    int newest = seq[0] > seq[1] ? 0 : 1;
    FILE *w = fopen(path, "r+b");
    assert_non_null(w);
    fseek(w, 64 + (long)newest * SLOT + 100, SEEK_SET);
    fputc(0xA5, w);
    fclose(w);
    static meter_t again;
    new_meter(&again, METER_MODEL_4PU, CONNECTION_3P4W);
    assert_int_equal(statefile_open(&f, path, &again, msg, sizeof msg), STATEFILE_LOADED);
    assert_string_equal(msg, "");
    /* 12 in the older slot, and the load counts the kill (supply on). */
    assert_int_equal(again.power_down_count, 12 + 1);
    statefile_close(&f);
}

static void test_lock_names_the_holder(void **state)
{
    (void)state;
    static meter_t m;
    new_meter(&m, METER_MODEL_4PU, CONNECTION_3P4W);
    statefile_t f;
    char msg[1024];
    statefile_open(&f, path, &m, msg, sizeof msg);
    assert_true(statefile_map(&f, &m, msg, sizeof msg));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Another process: refused, told this one's pid. */
        static meter_t other;
        new_meter(&other, METER_MODEL_4PU, CONNECTION_3P4W);
        statefile_t g;
        char want[256];
        snprintf(want, sizeof want, "is in use by process %ld", (long)getppid());
        _exit(statefile_open(&g, path, &other, msg, sizeof msg) == STATEFILE_BUSY &&
                      strstr(msg, want)
                  ? 0
                  : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    statefile_close(&f);
}

static void test_variant_and_connection(void **state)
{
    (void)state;
    static meter_t m;
    new_meter(&m, METER_MODEL_4PU, CONNECTION_3P4W);
    statefile_t f;
    char msg[1024];
    statefile_open(&f, path, &m, msg, sizeof msg);
    assert_true(statefile_map(&f, &m, msg, sizeof msg));
    statefile_close(&f);
    static meter_t other;
    new_meter(&other, METER_MODEL_4PS, CONNECTION_3P4W);
    assert_int_equal(statefile_open(&f, path, &other, msg, sizeof msg), STATEFILE_REFUSED);
    assert_non_null(strstr(msg, "belongs to a 4PU (879-3000) meter, not to this 4PS (879-3020)"));
    new_meter(&other, METER_MODEL_4PU, CONNECTION_1P2W);
    assert_int_equal(statefile_open(&f, path, &other, msg, sizeof msg), STATEFILE_REFUSED);
    assert_non_null(strstr(msg, "connected as 3P4W, not as 1P2W"));
    new_meter(&other, METER_MODEL_4PU, CONNECTION_3P4W);
    assert_int_equal(statefile_open(&f, path, &other, msg, sizeof msg), STATEFILE_LOADED);
    statefile_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slots_alternate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_names_the_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_variant_and_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
