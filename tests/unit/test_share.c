/* share: finding the shared folder (sim/share/share.h, issue 17). A folder
 * counts only with both the library and the schema; METERSIM_SHARE_DIR is
 * searched alone when set; without a shared folder the message names every
 * path searched. The test's own executable lives in build/tests/, where
 * there is neither build/share/metersim nor build/scenarios: both must be
 * named. Library names: no '/', no such file here, ".json" optional. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "share.h"

static char dir[64];

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{}\n", f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    char p[128];
    snprintf(dir, sizeof dir, "/tmp/test_share.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/scenarios", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/scenarios/b-second.json", dir);
    touch(p);
    snprintf(p, sizeof p, "%s/scenarios/a-first.json", dir);
    touch(p);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("METERSIM_SHARE_DIR");
    return 0;
}

/* Without the schema the folder does not count, and the message says so. */
static void test_override_needs_schema(void **state)
{
    (void)state;
    share_t s;
    char err[2048];
    setenv("METERSIM_SHARE_DIR", dir, 1);
    assert_false(share_find(&s, err, sizeof err));
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "no scenario.schema.json in it"));
    assert_non_null(strstr(err, "METERSIM_SHARE_DIR"));
}

static void test_override_found(void **state)
{
    (void)state;
    char p[128], want[160], got[SHARE_PATH_MAX], err[2048];
    snprintf(p, sizeof p, "%s/scenario.schema.json", dir);
    touch(p);
    setenv("METERSIM_SHARE_DIR", dir, 1);
    share_t s;
    assert_true(share_find(&s, err, sizeof err));
    assert_string_equal(s.schema, p);
    snprintf(want, sizeof want, "%s/scenarios", dir);
    assert_string_equal(s.scenarios, want);
    /* A name with and without .json; an unknown one names the library. */
    snprintf(want, sizeof want, "%s/scenarios/a-first.json", dir);
    assert_true(share_scenario(&s, "a-first", got, sizeof got, err, sizeof err));
    assert_string_equal(got, want);
    assert_true(share_scenario(&s, "a-first.json", got, sizeof got, err, sizeof err));
    assert_string_equal(got, want);
    assert_false(share_scenario(&s, "c-none", got, sizeof got, err, sizeof err));
    assert_non_null(strstr(err, "c-none.json"));
    assert_non_null(strstr(err, s.scenarios));
    remove(p);
}

/* The override alone: a wrong one is an error, not a fall back. */
static void test_override_missing(void **state)
{
    (void)state;
    share_t s;
    char err[2048];
    setenv("METERSIM_SHARE_DIR", "/nonexistent/metersim-share", 1);
    assert_false(share_find(&s, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/metersim-share (no such folder)"));
    assert_null(strstr(err, "share/metersim ("));
}

/* From build/tests/test_share: build/share/metersim, then build/. */
static void test_searched_from_exe(void **state)
{
    (void)state;
    unsetenv("METERSIM_SHARE_DIR");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0'; /* build/tests */
    *strrchr(exe, '/') = '\0'; /* build */
    char installed[PATH_MAX + 64], source[PATH_MAX + 64];
    snprintf(installed, sizeof installed, "\n  %s/share/metersim (no such folder)", exe);
    snprintf(source, sizeof source, "\n  %s (no scenarios/ in it)", exe);
    share_t s;
    char err[4 * SHARE_PATH_MAX];
    assert_false(share_find(&s, err, sizeof err));
    assert_non_null(strstr(err, installed));
    assert_non_null(strstr(err, source));
    assert_true(strstr(err, installed) < strstr(err, source)); /* in search order */
}

static void test_library_name(void **state)
{
    (void)state;
    assert_true(share_is_library_name("office-day"));
    assert_true(share_is_library_name("no-such-file.json"));
    assert_false(share_is_library_name("./office-day"));
    assert_false(share_is_library_name("scenarios/office-day.json"));
    assert_false(share_is_library_name(""));
    assert_false(share_is_library_name(NULL));
    assert_false(share_is_library_name("Makefile")); /* a file here wins */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_override_needs_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_override_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_override_missing, setup, teardown),
        cmocka_unit_test(test_searched_from_exe),
        cmocka_unit_test(test_library_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
