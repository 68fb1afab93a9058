/* endpoint_spec: parsing the names of endpoints (see endpoint_spec.h). */
#include "endpoint_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return false;
}

/* "[HOST:]PORT", HOST possibly "[v6]". */
static bool parse_host_port(const char *s, endpoint_spec_t *out, char *err, size_t errlen)
{
    const char *port = s;
    snprintf(out->host, sizeof out->host, "127.0.0.1");
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return fail(err, errlen, "\"%s\": expected [IPv6]:PORT", s);
        size_t n = (size_t)(close - s - 1);
        if (n == 0 || n >= sizeof out->host)
            return fail(err, errlen, "\"%s\": the address is empty or too long", s);
        memcpy(out->host, s + 1, n);
        out->host[n] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon) {
            size_t n = (size_t)(colon - s);
            if (n == 0 || n >= sizeof out->host)
                return fail(err, errlen, "\"%s\": the address is empty or too long", s);
            if (memchr(s, ':', n))
                return fail(err, errlen, "\"%s\": an IPv6 address goes in brackets: [::1]:PORT", s);
            memcpy(out->host, s, n);
            out->host[n] = '\0';
            port = colon + 1;
        }
    }
    char *end;
    if (!*port || *port == '-' || *port == '+')
        return fail(err, errlen, "\"%s\": expected a port number 0-65535", s);
    unsigned long p = strtoul(port, &end, 10);
    if (*end || p > 65535)
        return fail(err, errlen, "\"%s\": expected a port number 0-65535", s);
    out->port = (uint16_t)p;
    return true;
}

bool endpoint_spec_parse(const char *spec, bool modbus, endpoint_spec_t *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return fail(err, errlen, "%sempty: expected pty, pty:PATH, a device or tcp:[HOST:]PORT",
                    "");
    if (strcmp(spec, "pty") == 0) {
        out->kind = ENDPOINT_PTY;
        return true;
    }
    if (strncmp(spec, "pty:", 4) == 0) {
        if (!spec[4] || strlen(spec + 4) >= sizeof out->path)
            return fail(err, errlen, "\"%s\": pty:PATH needs a path (at most 255 bytes)", spec);
        out->kind = ENDPOINT_PTY;
        snprintf(out->path, sizeof out->path, "%s", spec + 4);
        return true;
    }
    if (strncmp(spec, "tcp:", 4) == 0) {
        out->kind = modbus ? ENDPOINT_MODBUS_TCP : ENDPOINT_MBUS_TCP;
        return parse_host_port(spec + 4, out, err, errlen);
    }
    if (strncmp(spec, "rtu-over-tcp:", 13) == 0) {
        if (!modbus)
            return fail(err, errlen,
                        "\"%s\": rtu-over-tcp carries Modbus RTU; for M-Bus use "
                        "tcp:[HOST:]PORT",
                        spec);
        out->kind = ENDPOINT_RTU_OVER_TCP;
        return parse_host_port(spec + 13, out, err, errlen);
    }
    if (spec[0] != '/' && spec[0] != '.')
        return fail(err, errlen,
                    "\"%s\": expected pty, pty:PATH, a device path (/dev/...), tcp:[HOST:]PORT"
                    " or, for Modbus, rtu-over-tcp:[HOST:]PORT",
                    spec);
    if (strlen(spec) >= sizeof out->path)
        return fail(err, errlen, "\"%s\": the path is too long (at most 255 bytes)", spec);
    out->kind = ENDPOINT_DEVICE;
    snprintf(out->path, sizeof out->path, "%s", spec);
    return true;
}

bool endpoint_spec_is_tcp(const endpoint_spec_t *s)
{
    return s->kind == ENDPOINT_MODBUS_TCP || s->kind == ENDPOINT_RTU_OVER_TCP ||
           s->kind == ENDPOINT_MBUS_TCP;
}

void endpoint_spec_format(const endpoint_spec_t *s, bool modbus, char *buf, size_t cap)
{
    (void)modbus;
    bool v6 = strchr(s->host, ':') != NULL;
    switch (s->kind) {
    case ENDPOINT_PTY:
        snprintf(buf, cap, s->path[0] ? "pty:%s" : "pty%s", s->path);
        break;
    case ENDPOINT_DEVICE:
        snprintf(buf, cap, "%s", s->path);
        break;
    case ENDPOINT_MODBUS_TCP:
    case ENDPOINT_MBUS_TCP:
    case ENDPOINT_RTU_OVER_TCP:
        snprintf(buf, cap, "%s%s%s%s:%u",
                 s->kind == ENDPOINT_RTU_OVER_TCP ? "rtu-over-tcp:" : "tcp:", v6 ? "[" : "",
                 s->host, v6 ? "]" : "", (unsigned)s->port);
        break;
    }
}
