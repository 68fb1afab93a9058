/* junit: the assertions' outcomes as JUnit XML, the form CI systems read. */
#include <errno.h>
#include <string.h>

#include "run_internal.h"

static void xml_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

bool junit_write(const run_t *r, const char *path, double seconds)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "metersim: --junit %s: %s\n", path, strerror(errno));
        return false;
    }
    const char *suite = r->sc->name[0] ? r->sc->name : r->sc->file;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    fprintf(f, "  <testsuite name=\"");
    xml_escaped(f, suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n", r->n_results,
            r->failures, seconds);
    for (size_t i = 0; i < r->n_results; i++) {
        fprintf(f, "    <testcase classname=\"");
        xml_escaped(f, r->sc->file);
        fprintf(f, "\" name=\"");
        xml_escaped(f, r->results[i].name);
        if (r->results[i].failure[0]) {
            fprintf(f, "\">\n      <failure message=\"");
            xml_escaped(f, r->results[i].failure);
            fprintf(f, "\"/>\n    </testcase>\n");
        } else {
            fprintf(f, "\"/>\n");
        }
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "metersim: --junit %s: write failed\n", path);
    return ok;
}
