/* web_assets: the page's files (frontends/web/), embedded at build time.
 *
 * The Makefile's rule runs mk/embed_web.sh, which writes every servable file
 * of frontends/web/ as a byte array into $(BUILD)/gen/web_assets.c: the
 * binary serves the page with nothing installed beside it (issue 16).
 */
#ifndef METERSIM_WEB_ASSETS_H
#define METERSIM_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/index.html": the URL path, from frontends/web/ */
    const unsigned char *data;
    size_t size;
} web_asset_t;

extern const web_asset_t WEB_ASSETS[];
extern const size_t WEB_ASSET_COUNT;

#endif
