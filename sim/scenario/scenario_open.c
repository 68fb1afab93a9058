/* scenario_open: how the scenario reader opens files (see scenario_internal.h).
 *
 * A scenario names files; the twin must never hang on one, read what the user
 * did not mean to give it, or show another file's content in a message
 * (issue 13, docs/scenario.md "Files"):
 *   - open with O_NONBLOCK, then fstat: a FIFO without a writer, a terminal or
 *     another device, a directory or a socket is refused at once, by kind;
 *   - a CSV profile must lie under the scenario's own folder once every
 *     symlink and ".." is resolved (realpath), unless --allow-outside-paths. */
#include "scenario_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    if (S_ISFIFO(m))
        return "a FIFO (named pipe)";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

FILE *scn_open_file(const char *path, struct stat *st, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, st) != 0) {
        snprintf(why, whylen, "cannot stat: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, whylen, "%s, not a regular file: refused", kind_of(st->st_mode));
        close(fd);
        return NULL;
    }
    if (st->st_size > (off_t)SCENARIO_MAX_BYTES) {
        snprintf(why, whylen, "%lld bytes; a scenario or CSV file is text (at most 16 MiB)",
                 (long long)st->st_size);
        close(fd);
        return NULL;
    }
    /* A regular file: back to ordinary reads. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        close(fd);
    }
    return f;
}

bool scn_resolve_inside(const scn_ctx_t *c, const char *path, char *real, size_t cap, char *why,
                        size_t whylen)
{
    char buf[PATH_MAX];
    if (!realpath(path, buf)) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        return false;
    }
    snprintf(real, cap, "%s", buf);
    if (c->allow_outside)
        return true;
    size_t n = strlen(c->root);
    bool inside = c->root[0] && strncmp(buf, c->root, n) == 0 &&
                  (buf[n] == '/' || (n == 1 && c->root[0] == '/'));
    if (!inside) {
        snprintf(why, whylen,
                 "resolves to %s, outside the scenario's folder %s: refused (a scenario reads "
                 "files beside it; give --allow-outside-paths to allow others)",
                 buf, c->root[0] ? c->root : "(none)");
        return false;
    }
    return true;
}
