/* static_files: the page, from the arrays embedded at build time
 * (web_assets.h), with the content type of each file's extension. */
#include <stdio.h>
#include <string.h>

#include "http_internal.h"
#include "web_assets.h"

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

enum MHD_Result static_serve(struct MHD_Connection *c, const char *url, const char *cookie,
                             bool *found)
{
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    *found = false;
    for (size_t i = 0; i < WEB_ASSET_COUNT; i++) {
        const web_asset_t *a = &WEB_ASSETS[i];
        if (strcmp(a->path, url) != 0)
            continue;
        *found = true;
        struct MHD_Response *r =
            MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(url));
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        /* Nothing from outside (issue 16): the page loads only its own files. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                                "connect-src 'self'");
        if (cookie) { /* --http-token given as ?token=: the page's calls carry it on */
            char v[320];
            snprintf(v, sizeof v, "metersim_token=%s; Path=/; HttpOnly; SameSite=Strict", cookie);
            MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, v);
        }
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    return MHD_NO;
}
