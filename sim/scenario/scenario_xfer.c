/* scenario_xfer: the scenario as Modbus and M-Bus master (docs/scenario.md). */
#include "scenario_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crc.h"
#include "mbus_records.h"
/* The common part of a master's transaction: timeout, line settings and the
 * simple expectations. */
static bool scn_parse_xfer_common(scn_ctx_t *c, const cJSON *o, scenario_xfer_t *x, bool modbus)
{
    static const char *const parities[] = {"even", "none", "odd", NULL};
    double baud = 0;
    int parity = -1;
    x->timeout_ns = VTIME_NS_PER_S; /* a master's usual answer timeout */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "timeout");
    if (t) {
        uint64_t ticks;
        size_t k = scn_push(c, "timeout", 0);
        if (scn_get_duration(c, t, &ticks) && (ticks == 0 || ticks > 60ull * VTIME_SAMPLE_RATE))
            scn_fail(c, "a timeout lies between 1 tick and 60 s");
        x->timeout_ns = ticks * VTIME_NS_PER_TICK;
        scn_pop(c, k);
        if (c->failed)
            return false;
    }
    if (!scn_get_int(c, o, "baud", 300, 115200, "bit/s", &baud) ||
        (modbus && !scn_get_choice(c, o, "parity", parities, &parity)))
        return false;
    if (baud && (modbus ? settings_bps_to_baud_code((uint32_t)baud) == 0
                        : (baud != 300 && baud != 600 && baud != 1200 && baud != 2400 &&
                           baud != 4800 && baud != 9600))) {
        size_t k = scn_push(c, "baud", 0);
        scn_fail(c, "%g is not a baud rate of the meter (%s)", baud,
                 modbus ? "300 to 115200, 4.5 and A3.1" : "300 to 9600, 4.4");
        scn_pop(c, k);
        return false;
    }
    x->bps = (uint32_t)baud;
    x->parity = parity + 1;
    int kinds = 0;
    const cJSON *e;
    if ((e = cJSON_GetObjectItemCaseSensitive(o, "expect"))) {
        kinds++;
        x->expect = SCENARIO_EXPECT_BYTES;
        if (!scn_get_hex(c, o, "expect", x->reply, sizeof x->reply, &x->reply_len))
            return false;
    }
    static const struct {
        const char *key, *meaning;
        scenario_expect_t kind;
    } flags[] = {
        {"expect_none", "no reply may come", SCENARIO_EXPECT_NONE},
        {"expect_garbled", "replies collide: what comes is garbled", SCENARIO_EXPECT_GARBLED}};
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        if (!(e = cJSON_GetObjectItemCaseSensitive(o, flags[f].key)))
            continue;
        kinds++;
        x->expect = flags[f].kind;
        if (!cJSON_IsTrue(e)) {
            size_t k = scn_push(c, flags[f].key, 0);
            scn_fail(c, "expected true (%s)", flags[f].meaning);
            scn_pop(c, k);
            return false;
        }
    }
    if (kinds > 1)
        return scn_fail(c, "give one expectation (\"expect\", \"expect_none\", ...), not several");
    return scn_get_number(c, o, "tolerance", 0, 1e12, "(absolute)", &x->tolerance);
}

bool scn_parse_modbus(scn_ctx_t *c, const cJSON *o, scenario_xfer_t *x)
{
    static const char *const keys[] = {"request",       "raw",
                                       "expect",        "expect_exception",
                                       "expect_none",   "expect_garbled",
                                       "expect_floats", "tolerance",
                                       "timeout",       "baud",
                                       "parity",        NULL};
    if (!cJSON_IsObject(o))
        return scn_fail(c, "expected {\"request\": \"01 03 50 00 00 02\", \"expect\": ...}");
    if (!scn_known_keys(c, o, keys) || !scn_parse_xfer_common(c, o, x, true))
        return false;
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(o, "raw");
    if (raw && !cJSON_IsBool(raw)) {
        size_t k = scn_push(c, "raw", 0);
        scn_fail(c, "expected true (send the bytes as given, without a CRC) or false");
        scn_pop(c, k);
        return false;
    }
    if (!scn_get_hex(c, o, "request", x->request, sizeof x->request - 2, &x->request_len))
        return false;
    if (!cJSON_IsTrue(raw)) {
        uint16_t crc = crc16_modbus(x->request, x->request_len);
        x->request[x->request_len++] = (uint8_t)(crc & 0xFF);
        x->request[x->request_len++] = (uint8_t)(crc >> 8);
    }
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "expect_exception");
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "expect_floats");
    if ((ex || fl) && x->expect != SCENARIO_EXPECT_ANY)
        return scn_fail(
            c, "give one expectation (\"expect\", \"expect_exception\", ...), not several");
    if (ex && fl)
        return scn_fail(
            c, "give one expectation, not both \"expect_exception\" and \"expect_floats\"");
    if (ex) {
        double code = 0;
        if (!scn_get_int(c, o, "expect_exception", 1, 11, "(Modbus exception code)", &code))
            return false;
        x->expect = SCENARIO_EXPECT_EXCEPTION;
        x->exception = (int)code;
    }
    if (fl) {
        size_t k = scn_push(c, "expect_floats", 0);
        if (!cJSON_IsArray(fl) || cJSON_GetArraySize(fl) < 1 ||
            cJSON_GetArraySize(fl) > SCENARIO_FLOATS_MAX)
            scn_fail(c, "expected an array of 1 to %d numbers", SCENARIO_FLOATS_MAX);
        const cJSON *it;
        int i = 0;
        cJSON_ArrayForEach(it, fl)
        {
            if (c->failed)
                break;
            size_t m = scn_push(c, NULL, i);
            scn_check_number(c, it, -1e30, 1e30, "", &x->floats[i]);
            scn_pop(c, m);
            i++;
        }
        scn_pop(c, k);
        x->n_floats = i;
        x->expect = SCENARIO_EXPECT_FLOATS;
    }
    return !c->failed;
}

bool scn_parse_mbus(scn_ctx_t *c, const cJSON *o, scenario_xfer_t *x)
{
    static const char *const keys[] = {
        "short",         "long",      "raw",     "expect", "expect_none", "expect_garbled",
        "expect_record", "tolerance", "timeout", "baud",   NULL};
    if (!cJSON_IsObject(o))
        return scn_fail(c, "expected {\"short\": \"5B FE\", \"expect_record\": ...}");
    if (!scn_known_keys(c, o, keys) || !scn_parse_xfer_common(c, o, x, false))
        return false;
    const char *forms[] = {"short", "long", "raw"};
    int form = -1;
    for (int i = 0; i < 3; i++)
        if (cJSON_GetObjectItemCaseSensitive(o, forms[i]))
            form = form < 0 ? i : 9;
    if (form < 0 || form == 9)
        return scn_fail(c,
                        "give one of \"short\" (C A), \"long\" (C A CI data) or \"raw\" (a whole "
                        "frame)");
    uint8_t body[SCENARIO_FRAME_MAX];
    size_t n = 0;
    if (!scn_get_hex(c, o, forms[form], body, sizeof body - 6, &n))
        return false;
    size_t k = scn_push(c, forms[form], 0);
    if (form == 0 && n != 2)
        scn_fail(c, "a short frame's body is two bytes, C and A (EN 13757-2)");
    else if (form == 1 && (n < 3 || n > 255))
        scn_fail(c, "a long frame's body is C, A, CI and up to 252 bytes of data");
    scn_pop(c, k);
    if (c->failed)
        return false;
    /* Frame it as EN 13757-2 says: 10 C A CS 16, or 68 L L 68 C A CI .. CS 16. */
    uint8_t *f = x->request;
    if (form == 2) {
        memcpy(f, body, n);
        x->request_len = n;
    } else if (form == 0) {
        f[0] = 0x10;
        memcpy(f + 1, body, 2);
        f[3] = mbus_checksum(body, 2);
        f[4] = 0x16;
        x->request_len = 5;
    } else {
        f[0] = 0x68;
        f[1] = f[2] = (uint8_t)n;
        f[3] = 0x68;
        memcpy(f + 4, body, n);
        f[4 + n] = mbus_checksum(body, n);
        f[5 + n] = 0x16;
        x->request_len = n + 6;
    }
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(o, "expect_record");
    if (rec) {
        static const char *const rkeys[] = {"name", "equals", "tolerance", NULL};
        if (x->expect != SCENARIO_EXPECT_ANY)
            return scn_fail(c, "give one expectation, not several");
        size_t m = scn_push(c, "expect_record", 0);
        const cJSON *name =
            cJSON_IsObject(rec) ? cJSON_GetObjectItemCaseSensitive(rec, "name") : NULL;
        const cJSON *eq =
            cJSON_IsObject(rec) ? cJSON_GetObjectItemCaseSensitive(rec, "equals") : NULL;
        bool known = false;
        for (size_t i = 0; name && cJSON_IsString(name) && i < MBUS_RECORD_COUNT; i++)
            known = known || strcmp(MBUS_RECORDS[i].name, name->valuestring) == 0;
        if (!cJSON_IsObject(rec))
            scn_fail(c, "expected {\"name\": record, \"equals\": value, \"tolerance\": t}");
        else if (scn_known_keys(c, rec, rkeys) && !known)
            scn_fail(c,
                     "no record named %s in the telegram (A2.2: \"Total forward active energy\", "
                     "\"L1 voltage\", \"Grid frequency\", ...)",
                     cJSON_IsString(name) ? name->valuestring : "(missing)");
        else if (!c->failed && !eq)
            scn_fail(c,
                     "missing \"equals\" (the value in the record's unit: Wh, 10 mV, mA, W, ...)");
        else if (!c->failed) {
            size_t q = scn_push(c, "equals", 0);
            scn_check_number(c, eq, -1e15, 1e15, "", &x->floats[0]);
            scn_pop(c, q);
            scn_get_number(c, rec, "tolerance", 0, 1e15, "", &x->tolerance);
            snprintf(x->record, sizeof x->record, "%s", name->valuestring);
            x->expect = SCENARIO_EXPECT_RECORD;
        }
        scn_pop(c, m);
    }
    return !c->failed;
}
