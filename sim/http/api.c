/* api: the routes under /api/ (docs/http.md, docs/openapi.json).
 *
 *   GET  /api/meters                     the list
 *   GET  /api/meters/{id}                the app's device page (A4.3)
 *   GET  /api/meters/{id}/readings       A4.4's rows, as a Modbus read now
 *   GET  /api/meters/{id}/registers      ?address=N&count=M, through the map
 *   GET  /api/meters/{id}/lcd            the glass: text and segments
 *   GET  /api/meters/{id}/settings       every setting of the menu, ranges
 *   PUT  /api/meters/{id}/settings       behind the meter's password (6.6.1)
 *   POST /api/meters/{id}/connect        the app's Bluetooth link (6.5, A4.2)
 *   POST /api/meters/{id}/disconnect
 *   GET  /api/meters/{id}/physics        the waveform's parameters in force
 *   POST /api/meters/{id}/physics        ... changed (any subset)
 *   POST /api/meters/{id}/buttons        press or hold a touch button (6.4)
 *   POST /api/meters/{id}/faults         a fault of docs/scenario.md
 *   POST /api/meters/{id}/save           the state file, now
 *   GET  /api/events                     server-sent events (sse.c)
 *
 * Every change goes through runner.h's live controls: it is applied at the
 * meter's time now, logged and recorded (--record). Bad input: 400 naming
 * what is wrong; out of range: 422 naming the field and its range; unknown
 * meter or route: 404; wrong password: 403; Bluetooth off: 409.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "modbus_map.h"
#include "readings_json.h"
#include "scenario.h"
#include "variant.h"

#define VOLTAGE_MAX 276.0 /* Un + 20 % (manual 4), as scenarios take it */
#define FREQ_MIN 45.0     /* as scenarios take it (docs/scenario.md) */
#define FREQ_MAX 65.0
#define BUTTON_MS_MAX 60000
#define PRESS_MS 100 /* a click */
#define HOLD_MS 3500 /* longer than the 3 s that open the menu (6.4) */

typedef enum MHD_Result res_t;

static bool is_get(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static res_t not_allowed(struct MHD_Connection *c, const char *method, const char *url,
                         const char *allow)
{
    return http_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: allowed: %s", method, url,
                            allow);
}

/* The body as a JSON object; NULL with the reply queued in *ret. */
static cJSON *body_object(struct MHD_Connection *c, const char *body, size_t len, res_t *ret)
{
    if (len == 0) {
        *ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "the request needs a JSON object body");
        return NULL;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!o) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        *ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad JSON at byte %zu of the body: %.20s",
                                at, at < len ? body + at : "(end)");
        return NULL;
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        *ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

/* A key of `o` that is not in `keys`: 400 naming it. */
static bool only_keys(struct MHD_Connection *c, const cJSON *o, const char *const *keys,
                      const char *what, res_t *ret)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        bool ok = false;
        for (int i = 0; keys[i] && !ok; i++)
            ok = strcmp(it->string, keys[i]) == 0;
        if (!ok) {
            char list[256] = "";
            for (int i = 0; keys[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         keys[i]);
            *ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "%s: unknown key \"%s\"; known: %s",
                                    what, it->string, list);
            return false;
        }
    }
    return true;
}

/* ---- meters ------------------------------------------------------------- */

/* {id}: the meter's place in the scenario (0, 1, ...) or its name. */
static int find_meter(http_t *h, const char *id, size_t n)
{
    const scenario_t *sc = runner_scenario(h->run);
    bool digits = n > 0 && n < 8;
    for (size_t i = 0; i < n && digits; i++)
        digits = isdigit((unsigned char)id[i]);
    if (digits) {
        int k = atoi(id);
        return k < sc->n_meters ? k : -1;
    }
    for (int k = 0; k < sc->n_meters; k++)
        if (strlen(sc->meters[k].name) == n && strncmp(sc->meters[k].name, id, n) == 0)
            return k;
    return -1;
}

static cJSON *meter_summary(http_t *h, int k)
{
    const scenario_t *sc = runner_scenario(h->run);
    meter_t *m = runner_meter(h->run, k);
    readings_t r;
    meter_readings(m, &r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", k);
    cJSON_AddStringToObject(o, "name", sc->meters[k].name);
    cJSON_AddStringToObject(o, "variant", rj_variant(r.model));
    cJSON_AddStringToObject(o, "serial", r.serial);
    cJSON_AddNumberToObject(o, "modbus_id", r.settings.modbus_id);
    cJSON_AddNumberToObject(o, "mbus_address", r.settings.mbus_id);
    cJSON_AddBoolToObject(o, "bluetooth", r.settings.bluetooth != 0);
    cJSON_AddBoolToObject(o, "connected", r.bt_connected);
    cJSON_AddStringToObject(o, "bus", sc->buses[sc->meters[k].bus].name);
    return o;
}

static res_t get_meters(http_t *h, struct MHD_Connection *c)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
    for (int k = 0; k < runner_meters(h->run); k++)
        cJSON_AddItemToArray(a, meter_summary(h, k));
    cJSON_AddItemToObject(o, "meters", a);
    return http_reply_json(c, MHD_HTTP_OK, o);
}

/* A4.3: "the meter type, serial number, software version and checksums". */
static res_t get_device(http_t *h, struct MHD_Connection *c, int k)
{
    static const char *const conns[] = {"3P4W", "3P3W_ARON", "3P3W_DELTA", "1P2W"};
    meter_t *m = runner_meter(h->run, k);
    readings_t r;
    meter_readings(m, &r);
    const variant_t *v = variant_of(r.model);
    cJSON *o = meter_summary(h, k);
    char buf[32];
    cJSON_AddStringToObject(o, "article", v->article);
    snprintf(buf, sizeof buf, "%04X", r.meter_code);
    cJSON_AddStringToObject(o, "meter_code", buf);
    cJSON_AddNumberToObject(o, "imax_a", r.meter_amps);
    cJSON_AddStringToObject(o, "connection", r.connection < 4 ? conns[r.connection] : "?");
    cJSON *fw = cJSON_CreateObject();
    snprintf(buf, sizeof buf, "%.2f", r.software_version);
    cJSON_AddStringToObject(fw, "software", buf);
    snprintf(buf, sizeof buf, "%.2f", r.hardware_version);
    cJSON_AddStringToObject(fw, "hardware", buf);
    snprintf(buf, sizeof buf, "%.2f", r.protocol_version);
    cJSON_AddStringToObject(fw, "protocol", buf);
    cJSON_AddItemToObject(o, "firmware", fw);
    cJSON *ck = cJSON_CreateObject();
    snprintf(buf, sizeof buf, "%04X", (unsigned)r.checksum);
    cJSON_AddStringToObject(ck, "mid_crc", buf); /* display part 1, 0x401B */
    snprintf(buf, sizeof buf, "%08X", (unsigned)r.checksum2);
    cJSON_AddStringToObject(ck, "checksum2", buf); /* 0x4023 */
    cJSON_AddItemToObject(o, "checksums", ck);
    cJSON_AddBoolToObject(o, "supply", meter_supply(m));
    cJSON_AddBoolToObject(o, "running", meter_running(m));
    cJSON_AddNumberToObject(o, "error", r.error_flags);
    cJSON_AddBoolToObject(o, "stopped", r.error_code != 0); /* 7.1: only Err XX */
    cJSON_AddNumberToObject(o, "tariff", r.tariff);
    cJSON_AddNumberToObject(o, "power_down_count", r.power_down_count);
    cJSON_AddItemToObject(o, "settings", rj_settings(&r.settings));
    return http_reply_json(c, MHD_HTTP_OK, o);
}

static res_t get_readings(http_t *h, struct MHD_Connection *c, int k)
{
    runner_sync(h->run, k);
    meter_t *m = runner_meter(h->run, k);
    readings_t r;
    meter_readings(m, &r);
    return http_reply_json(c, MHD_HTTP_OK, rj_readings(&r, meter_now_ns(m)));
}

/* A query number (decimal or 0x hex); false when absent or not a number. */
static bool query_num(struct MHD_Connection *c, const char *key, long *out, bool *present)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    *present = v != NULL;
    if (!v)
        return false;
    char *end;
    *out = strtol(v, &end, 0);
    return *v && !*end;
}

/* Function 03/04 of A3: the same registers, the same exceptions. */
static res_t get_registers(http_t *h, struct MHD_Connection *c, int k)
{
    long addr, count = 1;
    bool has;
    if (!query_num(c, "address", &addr, &has) || addr < 0 || addr > 0xFFFF)
        return http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                "address: %s; expected a register address from 0 to 65535 (0x "
                                "for hex)",
                                has ? "not a number in range" : "missing");
    if (!query_num(c, "count", &count, &has) && has)
        return http_reply_error(c, MHD_HTTP_BAD_REQUEST, "count: not a number");
    cJSON *o;
    if (count < 1 || count > (long)MODBUS_MAP_READ_MAX) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error",
                                "count: out of range; allowed 1 to 125 (Modbus "
                                "exception 03, illegal data value)");
        cJSON_AddNumberToObject(o, "exception", MODBUS_EX_ILLEGAL_VALUE);
        return http_reply_json(c, MHD_HTTP_BAD_REQUEST, o);
    }
    runner_sync(h->run, k);
    readings_t r;
    meter_readings(runner_meter(h->run, k), &r);
    uint8_t bytes[2 * MODBUS_MAP_READ_MAX];
    modbus_ex_t ex = modbus_map_read(&r, (uint16_t)addr, (uint16_t)count, bytes);
    if (ex != MODBUS_EX_NONE) {
        o = cJSON_CreateObject();
        char msg[160];
        snprintf(msg, sizeof msg,
                 "registers 0x%04lX to 0x%04lX: Modbus exception %02d (illegal data address): "
                 "not within one block of A3.2",
                 addr, addr + count - 1, (int)ex);
        cJSON_AddStringToObject(o, "error", msg);
        cJSON_AddNumberToObject(o, "exception", ex);
        return http_reply_json(c, MHD_HTTP_BAD_REQUEST, o);
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "address", addr);
    cJSON_AddNumberToObject(o, "count", count);
    cJSON *w = cJSON_CreateArray();
    for (long i = 0; i < count; i++)
        cJSON_AddItemToArray(w, cJSON_CreateNumber(bytes[2 * i] << 8 | bytes[2 * i + 1]));
    cJSON_AddItemToObject(o, "words", w);
    return http_reply_json(c, MHD_HTTP_OK, o);
}

static res_t get_lcd(http_t *h, struct MHD_Connection *c, int k)
{
    runner_sync(h->run, k);
    return http_reply_json(c, MHD_HTTP_OK, rj_lcd(meter_display(runner_meter(h->run, k))));
}

/* ---- settings (6.6, A4.6) ---------------------------------------------- */

static cJSON *settings_reply(const meter_t *m)
{
    readings_t r;
    meter_readings(m, &r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "settings", rj_settings(&r.settings));
    cJSON *rg = cJSON_CreateObject();
    for (int id = 0; id < SETTING_COUNT; id++) {
        if (id == SETTING_PASSWORD)
            continue;
        int32_t lo, hi;
        settings_range((setting_id_t)id, &lo, &hi);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "min", lo);
        cJSON_AddNumberToObject(x, "max", hi);
        cJSON_AddItemToObject(rg, settings_name((setting_id_t)id), x);
    }
    cJSON *s0 = cJSON_CreateArray();
    for (int i = 0; i < SETTINGS_S0_RATE_COUNT; i++)
        cJSON_AddItemToArray(s0, cJSON_CreateNumber(SETTINGS_S0_RATES[i]));
    cJSON_AddItemToObject(cJSON_GetObjectItem(rg, "s0_rate"), "values", s0);
    cJSON_AddItemToObject(o, "ranges", rg);
    return o;
}

static int setting_by_name(const char *name)
{
    for (int id = 0; id < SETTING_COUNT; id++)
        if (strcmp(settings_name((setting_id_t)id), name) == 0)
            return id;
    return -1;
}

/* The menu's password (6.6.1): "0000" or 0; -1 if it is neither. */
static int password_of(const cJSON *p)
{
    if (cJSON_IsNumber(p))
        return p->valuedouble >= 0 && p->valuedouble <= 9999 &&
                       p->valuedouble == floor(p->valuedouble)
                   ? (int)p->valuedouble
                   : -1;
    if (!cJSON_IsString(p))
        return -1;
    size_t n = strlen(p->valuestring);
    if (n < 1 || n > 4)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p->valuestring[i]))
            return -1;
    return atoi(p->valuestring);
}

static res_t put_settings(http_t *h, struct MHD_Connection *c, int k, const char *body, size_t len)
{
    res_t ret;
    cJSON *o = body_object(c, body, len, &ret);
    if (!o)
        return ret;
    static const char *const keys[] = {"password", "settings", NULL};
    if (!only_keys(c, o, keys, "body", &ret))
        goto out;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "settings");
    if (!cJSON_IsObject(s) || !s->child) {
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                               "settings: expected an object of one or more settings by name");
        goto out;
    }
    int32_t want[SETTING_COUNT];
    bool given[SETTING_COUNT] = {false};
    for (const cJSON *it = s->child; it; it = it->next) {
        int id = setting_by_name(it->string);
        if (id == SETTING_PASSWORD) {
            ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                   "settings.password: the password can only be changed with "
                                   "the buttons (6.6.1)");
            goto out;
        }
        if (id < 0) {
            ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                   "settings.%s: no such setting (GET .../settings lists them)",
                                   it->string);
            goto out;
        }
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
            fabs(it->valuedouble) > 2147483647.0) {
            ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "settings.%s: expected an integer",
                                   it->string);
            goto out;
        }
        want[id] = (int32_t)it->valuedouble;
        given[id] = true;
    }
    const cJSON *pw = cJSON_GetObjectItemCaseSensitive(o, "password");
    if (!pw) {
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                               "password: missing; settings are saved only with the meter's "
                               "password (6.6.1, default \"0000\")");
        goto out;
    }
    meter_t *m = runner_meter(h->run, k);
    if (password_of(pw) != (int)m->settings.password) {
        ret = http_reply_error(c, MHD_HTTP_FORBIDDEN, "wrong password: nothing changed");
        goto out;
    }
    /* All or nothing: every value is tried on a copy, in the menu's order
     * (the S0 rate before the pulse width it limits), before any is set. */
    settings_t trial = m->settings;
    for (int id = 0; id < SETTING_COUNT; id++) {
        if (!given[id])
            continue;
        settings_err_t e = settings_set(&trial, (setting_id_t)id, want[id]);
        if (e != SETTINGS_OK) {
            int32_t lo, hi;
            settings_range((setting_id_t)id, &lo, &hi);
            char extra[160] = "";
            if (id == SETTING_S0_RATE)
                snprintf(extra, sizeof extra,
                         " (imp/kWh x 100: 1000000, 200000, 100000, 10000, 1000, 100, 10, 1)");
            else if (id == SETTING_PULSE_WIDTH)
                snprintf(extra, sizeof extra, " (at this S0 rate at most %u ms, 6.6.5)",
                         (unsigned)settings_max_pulse_width(trial.s0_rate_x100));
            else if (id == SETTING_MBUS_BAUD)
                snprintf(extra, sizeof extra, " (300, 600, 1200, 2400, 4800, 9600)");
            ret = http_reply_error(c, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                   "settings.%s: %d: %s; allowed %d to %d%s: nothing changed",
                                   settings_name((setting_id_t)id), (int)want[id],
                                   settings_strerror(e), (int)lo, (int)hi, extra);
            goto out;
        }
    }
    runner_sync(h->run, k);
    for (int id = 0; id < SETTING_COUNT; id++)
        if (given[id])
            runner_set_setting(h->run, k, (setting_id_t)id, want[id]);
    ret = http_reply_json(c, MHD_HTTP_OK, settings_reply(m));
out:
    cJSON_Delete(o);
    return ret;
}

/* ---- Bluetooth (6.5, A4.2) -------------------------------------------- */

static res_t post_connect(http_t *h, struct MHD_Connection *c, int k, bool on)
{
    meter_t *m = runner_meter(h->run, k);
    runner_sync(h->run, k);
    if (on && !m->settings.bluetooth)
        return http_reply_error(c, MHD_HTTP_CONFLICT, "Bluetooth is off in the meter's menu");
    if (on && !meter_running(m))
        return http_reply_error(c, MHD_HTTP_CONFLICT, "the meter is not running (no supply)");
    runner_bt_connect(h->run, k, on);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "connected", meter_bt_connected(m));
    return http_reply_json(c, MHD_HTTP_OK, o);
}

/* ---- physics ------------------------------------------------------------ */

static cJSON *physics_reply(http_t *h, int k)
{
    runner_t *r = h->run;
    cJSON *o = cJSON_CreateObject();
    cJSON *v = cJSON_CreateArray(), *i = cJSON_CreateArray(), *pf = cJSON_CreateArray(),
          *sup = cJSON_CreateArray();
    int exports = 0;
    for (int p = 0; p < 3; p++) {
        cJSON_AddItemToArray(v, cJSON_CreateNumber(runner_voltage(r, k, p)));
        cJSON_AddItemToArray(i, cJSON_CreateNumber(runner_current(r, k, p)));
        cJSON_AddItemToArray(pf, cJSON_CreateNumber(runner_pf(r, k, p)));
        cJSON_AddItemToArray(sup,
                             cJSON_CreateBool(runner_supply(r, k) && runner_phase_supply(r, k, p)));
        exports += runner_export(r, k, p);
    }
    cJSON_AddItemToObject(o, "voltage", v);
    cJSON_AddItemToObject(o, "current", i);
    cJSON_AddItemToObject(o, "pf", pf);
    cJSON_AddNumberToObject(o, "frequency", runner_frequency(r, k));
    cJSON_AddItemToObject(o, "supply", sup);
    cJSON_AddBoolToObject(o, "tariff_input", meter_tariff_input(runner_meter(r, k)));
    cJSON_AddStringToObject(o, "direction",
                            exports == 0   ? "import"
                            : exports == 3 ? "export"
                                           : "mixed");
    return o;
}

/* A per-phase array of 3 numbers in [lo, hi] (null: unchanged). */
static bool phase_numbers(struct MHD_Connection *c, const cJSON *a, const char *key, double lo,
                          double hi, const char *unit, double out[3], bool set[3], res_t *ret)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3) {
        *ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                "%s: expected an array of 3 numbers (L1, L2, L3; null: unchanged)",
                                key);
        return false;
    }
    for (int p = 0; p < 3; p++) {
        const cJSON *x = cJSON_GetArrayItem(a, p);
        set[p] = !cJSON_IsNull(x);
        if (!set[p])
            continue;
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            *ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "%s[%d]: expected a number", key, p);
            return false;
        }
        if (x->valuedouble < lo || x->valuedouble > hi) {
            *ret = http_reply_error(c, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                    "%s[%d]: %g is out of range; allowed %g to %g%s", key, p,
                                    x->valuedouble, lo, hi, unit);
            return false;
        }
        out[p] = x->valuedouble;
    }
    return true;
}

static res_t post_physics(http_t *h, struct MHD_Connection *c, int k, const char *body, size_t len)
{
    res_t ret;
    cJSON *o = body_object(c, body, len, &ret);
    if (!o)
        return ret;
    static const char *const keys[] = {"voltage", "current",      "pf",        "frequency",
                                       "supply",  "tariff_input", "direction", NULL};
    if (!only_keys(c, o, keys, "body", &ret))
        goto out;
    double v[3], cur[3], pf[3], hz = 0;
    bool vs[3] = {false}, cs[3] = {false}, ps[3] = {false}, sup[3], ss[3] = {false};
    const cJSON *x;
    double imax = variant_of(runner_scenario(h->run)->meters[k].model)->imax_a;
    char unit[64];
    if ((x = cJSON_GetObjectItemCaseSensitive(o, "voltage")) &&
        !phase_numbers(c, x, "voltage", 0, VOLTAGE_MAX, " V (0 to Un + 20 %, manual 4)", v, vs,
                       &ret))
        goto out;
    snprintf(unit, sizeof unit, " A (0 to Imax, manual 4)");
    if ((x = cJSON_GetObjectItemCaseSensitive(o, "current")) &&
        !phase_numbers(c, x, "current", 0, imax, unit, cur, cs, &ret))
        goto out;
    if ((x = cJSON_GetObjectItemCaseSensitive(o, "pf")) &&
        !phase_numbers(c, x, "pf", -1, 1, " (cos phi; negative: capacitive)", pf, ps, &ret))
        goto out;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "frequency");
    if (f) {
        if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble)) {
            ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "frequency: expected a number (Hz)");
            goto out;
        }
        hz = f->valuedouble;
        if (hz < FREQ_MIN || hz > FREQ_MAX) {
            ret = http_reply_error(c, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                   "frequency: %g is out of range; allowed %g to %g Hz", hz,
                                   FREQ_MIN, FREQ_MAX);
            goto out;
        }
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(o, "supply"))) {
        if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 3) {
            ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                   "supply: expected an array of 3 booleans (L1, L2, L3)");
            goto out;
        }
        for (int p = 0; p < 3; p++) {
            const cJSON *b = cJSON_GetArrayItem(x, p);
            if (cJSON_IsNull(b))
                continue;
            if (!cJSON_IsBool(b)) {
                ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                                       "supply[%d]: expected true or "
                                       "false",
                                       p);
                goto out;
            }
            ss[p] = true;
            sup[p] = cJSON_IsTrue(b);
        }
    }
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(o, "tariff_input");
    if (ti && !cJSON_IsBool(ti)) {
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "tariff_input: expected true or false");
        goto out;
    }
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(o, "direction");
    if (dir && (!cJSON_IsString(dir) || (strcmp(dir->valuestring, "import") != 0 &&
                                         strcmp(dir->valuestring, "export") != 0))) {
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                               "direction: expected \"import\" or \"export\"");
        goto out;
    }
    /* All valid: applied together, at the meter's time now. */
    runner_t *r = h->run;
    runner_sync(r, k);
    for (int p = 0; p < 3; p++) {
        if (vs[p])
            runner_set_voltage(r, k, p, v[p]);
        if (cs[p])
            runner_set_current(r, k, p, cur[p]);
        if (ps[p])
            runner_set_pf(r, k, p, pf[p]);
        if (ss[p])
            runner_set_phase_supply(r, k, p, sup[p]);
        if (dir)
            runner_set_export(r, k, p, strcmp(dir->valuestring, "export") == 0);
    }
    if (f)
        runner_set_frequency(r, k, hz);
    if (ti)
        runner_set_tariff_input(r, k, cJSON_IsTrue(ti));
    ret = http_reply_json(c, MHD_HTTP_OK, physics_reply(h, k));
out:
    cJSON_Delete(o);
    return ret;
}

/* ---- buttons (6.4) ------------------------------------------------------ */

static res_t post_buttons(http_t *h, struct MHD_Connection *c, int k, const char *body, size_t len)
{
    static const char *const names[] = {"left", "middle", "right"};
    res_t ret;
    cJSON *o = body_object(c, body, len, &ret);
    if (!o)
        return ret;
    static const char *const keys[] = {"button", "action", "ms", NULL};
    if (!only_keys(c, o, keys, "body", &ret))
        goto out;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "button");
    int bi = -1;
    for (int i = 0; i < 3 && cJSON_IsString(b); i++)
        if (strcmp(b->valuestring, names[i]) == 0)
            bi = i;
    if (bi < 0) {
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                               "button: expected \"left\", \"middle\" or \"right\"");
        goto out;
    }
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "action");
    const char *act = cJSON_IsString(a) ? a->valuestring : a ? "" : "press";
    bool hold = strcmp(act, "hold") == 0, down = strcmp(act, "down") == 0,
         up = strcmp(act, "up") == 0;
    if (!hold && !down && !up && strcmp(act, "press") != 0) {
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST,
                               "action: expected \"press\", \"hold\", \"down\" or \"up\"");
        goto out;
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "ms");
    double dur = hold ? HOLD_MS : PRESS_MS;
    if (ms) {
        if (!cJSON_IsNumber(ms)) {
            ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "ms: expected a number");
            goto out;
        }
        if (ms->valuedouble < 1 || ms->valuedouble > BUTTON_MS_MAX) {
            ret = http_reply_error(c, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                   "ms: %g is out of range; allowed 1 to %d", ms->valuedouble,
                                   BUTTON_MS_MAX);
            goto out;
        }
        dur = ms->valuedouble;
    }
    for (int i = 0; i < h->n_rel; i++)
        if (h->rel[i].meter == k && (int)h->rel[i].button == bi && !up) {
            ret = http_reply_error(c, MHD_HTTP_CONFLICT, "button %s is pressed already", names[bi]);
            goto out;
        }
    runner_sync(h->run, k);
    meter_t *m = runner_meter(h->run, k);
    uint64_t now = meter_now_ns(m), rel = VTIME_NEVER;
    if (up) {
        for (int i = 0; i < h->n_rel; i++)
            if (h->rel[i].meter == k && (int)h->rel[i].button == bi)
                h->rel[i] = h->rel[--h->n_rel];
        runner_button(h->run, k, (menu_button_t)bi, false);
    } else {
        if (!down) {
            rel = now + (uint64_t)llround(dur * 1e6);
            if (!http_release_later(h, k, (menu_button_t)bi, rel)) {
                ret = http_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                       "too many buttons held at once");
                goto out;
            }
        }
        runner_button(h->run, k, (menu_button_t)bi, true);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "button", names[bi]);
    cJSON_AddStringToObject(r, "action", act);
    cJSON_AddNumberToObject(r, "t_ns", (double)now);
    if (rel != VTIME_NEVER)
        cJSON_AddNumberToObject(r, "release_ns", (double)rel);
    ret = http_reply_json(c, MHD_HTTP_OK, r);
out:
    cJSON_Delete(o);
    return ret;
}

/* ---- faults, save ------------------------------------------------------- */

static res_t post_faults(http_t *h, struct MHD_Connection *c, int k, const char *body, size_t len)
{
    res_t ret;
    cJSON *o = body_object(c, body, len, &ret);
    if (!o)
        return ret;
    static const char *const keys[] = {"fault", NULL};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "fault");
    int which = -1;
    for (int i = 0; i < METER_FAULT_COUNT && cJSON_IsString(f); i++)
        if (strcmp(meter_fault_name((meter_fault_t)i), f->valuestring) == 0)
            which = i;
    if (!only_keys(c, o, keys, "body", &ret))
        goto out;
    if (which < 0) {
        char list[512] = "";
        for (int i = 0; i < METER_FAULT_COUNT; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     meter_fault_name((meter_fault_t)i));
        ret = http_reply_error(c, MHD_HTTP_BAD_REQUEST, "fault: expected one of %s", list);
        goto out;
    }
    runner_sync(h->run, k);
    runner_fault(h->run, k, (meter_fault_t)which);
    const meter_t *m = runner_meter(h->run, k);
    readings_t mr;
    meter_readings(m, &mr);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "fault", meter_fault_name((meter_fault_t)which));
    /* What the power-up found (7.1), as GET .../{id} and 0x401D give it; the
     * meter boots on for METER_BOOT_NS, or stays stopped. */
    cJSON_AddNumberToObject(r, "error", mr.error_flags);
    cJSON_AddBoolToObject(r, "stopped", mr.error_code != 0);
    cJSON_AddBoolToObject(r, "running", meter_running(m));
    ret = http_reply_json(c, MHD_HTTP_OK, r);
out:
    cJSON_Delete(o);
    return ret;
}

static res_t post_save(http_t *h, struct MHD_Connection *c, int k)
{
    runner_sync(h->run, k);
    if (!runner_save(h->run, k))
        return http_reply_error(c, MHD_HTTP_CONFLICT,
                                "no state file to save to (start metersim with --state FILE), "
                                "or the save failed");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "saved", true);
    return http_reply_json(c, MHD_HTTP_OK, r);
}

/* ---- dispatch ----------------------------------------------------------- */

static res_t meter_route(http_t *h, struct MHD_Connection *c, const char *method, const char *url,
                         int k, const char *what, const char *body, size_t len)
{
    bool get = is_get(method), post = strcmp(method, "POST") == 0;
    if (!*what)
        return get ? get_device(h, c, k) : not_allowed(c, method, url, "GET");
    if (strcmp(what, "readings") == 0)
        return get ? get_readings(h, c, k) : not_allowed(c, method, url, "GET");
    if (strcmp(what, "registers") == 0)
        return get ? get_registers(h, c, k) : not_allowed(c, method, url, "GET");
    if (strcmp(what, "lcd") == 0)
        return get ? get_lcd(h, c, k) : not_allowed(c, method, url, "GET");
    if (strcmp(what, "settings") == 0) {
        if (get)
            return http_reply_json(c, MHD_HTTP_OK, settings_reply(runner_meter(h->run, k)));
        if (strcmp(method, "PUT") == 0 || post)
            return put_settings(h, c, k, body, len);
        return not_allowed(c, method, url, "GET, PUT");
    }
    if (strcmp(what, "physics") == 0) {
        if (get)
            return http_reply_json(c, MHD_HTTP_OK, physics_reply(h, k));
        return post ? post_physics(h, c, k, body, len) : not_allowed(c, method, url, "GET, POST");
    }
    if (!post) {
        if (strcmp(what, "connect") == 0 || strcmp(what, "disconnect") == 0 ||
            strcmp(what, "buttons") == 0 || strcmp(what, "faults") == 0 ||
            strcmp(what, "save") == 0)
            return not_allowed(c, method, url, "POST");
    } else if (strcmp(what, "connect") == 0 || strcmp(what, "disconnect") == 0) {
        return post_connect(h, c, k, what[0] == 'c');
    } else if (strcmp(what, "buttons") == 0) {
        return post_buttons(h, c, k, body, len);
    } else if (strcmp(what, "faults") == 0) {
        return post_faults(h, c, k, body, len);
    } else if (strcmp(what, "save") == 0) {
        return post_save(h, c, k);
    }
    return http_reply_error(c, MHD_HTTP_NOT_FOUND, "%s: no such route (docs/http.md)", url);
}

res_t api_handle(http_t *h, struct MHD_Connection *c, const char *method, const char *url,
                 const char *body, size_t len)
{
    if (strcmp(url, "/api/meters") == 0 || strcmp(url, "/api/meters/") == 0)
        return is_get(method) ? get_meters(h, c) : not_allowed(c, method, url, "GET");
    if (strcmp(url, "/api/events") == 0) {
        if (!is_get(method))
            return not_allowed(c, method, url, "GET");
        const char *m = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "meter");
        int k = -1;
        if (m && (k = find_meter(h, m, strlen(m))) < 0)
            return http_reply_error(c, MHD_HTTP_NOT_FOUND,
                                    "meter %s: no such meter (the run has %d: 0 to %d)", m,
                                    runner_meters(h->run), runner_meters(h->run) - 1);
        return sse_open(h, c, k);
    }
    if (strncmp(url, "/api/meters/", 12) == 0) {
        const char *id = url + 12, *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        int k = find_meter(h, id, n);
        if (k < 0)
            return http_reply_error(c, MHD_HTTP_NOT_FOUND,
                                    "meter %.*s: no such meter (the run has %d: 0 to %d, or "
                                    "their names)",
                                    (int)n, id, runner_meters(h->run), runner_meters(h->run) - 1);
        const char *what = slash ? slash + 1 : "";
        return meter_route(h, c, method, url, k, what, body, len);
    }
    return http_reply_error(c, MHD_HTTP_NOT_FOUND, "%s: no such route (docs/http.md)", url);
}
