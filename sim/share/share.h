/* share: where the installed program's shared files are (issue 17).
 *
 * The scenario library and the scenario format's JSON Schema ship with the
 * program. No build-folder path is compiled in: the folder is found at run
 * time, relative to the executable, so one build works from any PREFIX
 * (`make install PREFIX=... DESTDIR=...`) and from the build tree:
 *
 *   1. $METERSIM_SHARE_DIR, when set (it alone: an override that is wrong
 *      is an error, not a silent fallback)
 *   2. EXE_DIR/../share/metersim           installed: PREFIX/bin/metersim
 *   3. EXE_DIR/..  (scenarios/, docs/)     the source folder beside build/
 *
 * EXE_DIR is the folder of /proc/self/exe, symlinks resolved. A folder counts
 * when it holds both the library folder and the schema file. None found: an
 * error that names every path searched (docs/cli.md, status 2).
 */
#ifndef METERSIM_SHARE_H
#define METERSIM_SHARE_H

#include <stdbool.h>
#include <stddef.h>

#define SHARE_PATH_MAX 4096

typedef struct {
    char dir[SHARE_PATH_MAX];       /* the shared folder found */
    char scenarios[SHARE_PATH_MAX]; /* its scenario library */
    char schema[SHARE_PATH_MAX];    /* the scenario format's JSON Schema */
} share_t;

/* Finds the shared folder; false with every path searched in `err`. */
bool share_find(share_t *out, char *err, size_t errcap);

/* True for a scenario argument meant as a library name: no '/' in it and
 * no such file here ("office-day", "office-day.json"). Anything else is a
 * path, used as given. */
bool share_is_library_name(const char *name);

/* The library scenario `name` (".json" added when missing) in `out`; false
 * with why in `err` (the library not found, or no such scenario in it). */
bool share_scenario(const share_t *s, const char *name, char *out, size_t cap, char *err,
                    size_t errcap);

/* Prints the library's scenarios, one name a line, sorted; false with why
 * in `err`. */
bool share_list(const share_t *s, char *err, size_t errcap);

#endif
