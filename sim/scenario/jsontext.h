/* jsontext: what cJSON lets pass and a scenario must not (docs/scenario.md,
 * "What is refused"): a key twice in one object, a NUL character escaped into
 * a string (\u0000, which would cut the string short), and the form in which
 * each number was written, so that a field meant to be an integer can refuse
 * 2.5, 1.0 and 1e3 (docs/decisions.md, integers in scenarios).
 *
 * cJSON keeps neither positions nor the text of numbers, so the text is walked
 * once beside the parsed tree (same order, same values). */
#ifndef METERSIM_JSONTEXT_H
#define METERSIM_JSONTEXT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const cJSON **inexact; /* number nodes written with a fraction or an exponent, sorted */
    size_t n, cap;
} jsontext_t;

/* Walks `text` (parsed by cJSON into `root`). False on the first problem,
 * with its byte offset, its JSON path ("$.meters[0].seed") and what is wrong. */
bool jsontext_check(const char *text, size_t len, const cJSON *root, jsontext_t *jt, size_t *off,
                    char *path, size_t pathcap, char *msg, size_t msglen);

/* The number `node` was written with a fraction or an exponent ("1.0", "1e3"). */
bool jsontext_inexact(const jsontext_t *jt, const cJSON *node);

void jsontext_free(jsontext_t *jt);

#endif
