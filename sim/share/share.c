/* share: the shared folder, found relative to the executable (share.h). */
#include "share.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir, with its library folder and schema file at the given places inside. */
static bool try_dir(share_t *s, const char *dir, const char *scen, const char *schema)
{
    int a = snprintf(s->scenarios, sizeof s->scenarios, "%s/%s", dir, scen);
    int b = snprintf(s->schema, sizeof s->schema, "%s/%s", dir, schema);
    int c = snprintf(s->dir, sizeof s->dir, "%s", dir);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof s->scenarios ||
        (size_t)b >= sizeof s->schema || (size_t)c >= sizeof s->dir)
        return false;
    return is_dir(s->scenarios) && is_file(s->schema);
}

/* Appends "\n  PATH (what is missing)" to the list of paths searched. */
static void searched(char *err, size_t cap, const share_t *s)
{
    size_t n = strlen(err);
    const char *why = !is_dir(s->dir)         ? "no such folder"
                      : !is_dir(s->scenarios) ? "no scenarios/ in it"
                                              : "no scenario.schema.json in it";
    if (n < cap)
        snprintf(err + n, cap - n, "\n  %s (%s)", s->dir, why);
}

bool share_find(share_t *out, char *err, size_t errcap)
{
    share_t s;
    const char *env = getenv("METERSIM_SHARE_DIR");
    if (env && *env) {
        if (try_dir(&s, env, "scenarios", "scenario.schema.json")) {
            *out = s;
            return true;
        }
        snprintf(err, errcap,
                 "the shared files (scenario library and schema) are not where "
                 "METERSIM_SHARE_DIR says; searched:");
        searched(err, errcap, &s);
        return false;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(err, errcap,
                 "the shared files cannot be found: /proc/self/exe cannot be read (is /proc "
                 "mounted?); set METERSIM_SHARE_DIR to the folder that holds scenarios/ "
                 "and scenario.schema.json");
        return false;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* EXE_DIR/..: the kernel's path has no symlinks, so cutting the last
     * component is the parent folder. */
    char up[PATH_MAX];
    char *cut = strrchr(exe, '/');
    snprintf(up, sizeof up, "%.*s", cut ? (int)(cut - exe) : 0, exe);
    if (!up[0])
        snprintf(up, sizeof up, "/");
    char installed[PATH_MAX + 32];
    snprintf(installed, sizeof installed, "%s%sshare/metersim", up,
             up[strlen(up) - 1] == '/' ? "" : "/");
    snprintf(err, errcap,
             "the shared files (scenario library and schema) are missing; is metersim "
             "installed whole (make install)? Searched:");
    if (try_dir(&s, installed, "scenarios", "scenario.schema.json")) {
        *out = s;
        return true;
    }
    searched(err, errcap, &s);
    if (try_dir(&s, up, "scenarios", "docs/scenario.schema.json")) {
        *out = s;
        return true;
    }
    searched(err, errcap, &s);
    size_t len = strlen(err);
    if (len < errcap)
        snprintf(err + len, errcap - len,
                 "\n(or set METERSIM_SHARE_DIR to a folder that holds scenarios/ and "
                 "scenario.schema.json)");
    return false;
}

bool share_is_library_name(const char *name)
{
    return name && *name && !strchr(name, '/') && access(name, F_OK) != 0;
}

bool share_scenario(const share_t *s, const char *name, char *out, size_t cap, char *err,
                    size_t errcap)
{
    size_t len = strlen(name);
    bool ext = len > 5 && strcmp(name + len - 5, ".json") == 0;
    int w = snprintf(out, cap, "%s/%s%s", s->scenarios, name, ext ? "" : ".json");
    if (w < 0 || (size_t)w >= cap) {
        snprintf(err, errcap, "scenario %s: the name is too long", name);
        return false;
    }
    if (!is_file(out)) {
        snprintf(err, errcap,
                 "scenario %s: no such file here, and no %s%s in the scenario library %s "
                 "(metersim --list-scenarios)",
                 name, name, ext ? "" : ".json", s->scenarios);
        return false;
    }
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool share_list(const share_t *s, char *err, size_t errcap)
{
    DIR *d = opendir(s->scenarios);
    if (!d) {
        snprintf(err, errcap, "the scenario library %s cannot be read", s->scenarios);
        return false;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof names / sizeof names[0]) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 && e->d_name[0] != '.') {
            names[n] = strndup(e->d_name, len - 5);
            if (names[n])
                n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", names[i]);
        free(names[i]);
    }
    return true;
}
