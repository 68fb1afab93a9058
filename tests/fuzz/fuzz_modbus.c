/* libFuzzer target for the Modbus RTU slave (core/modbus.c, core/modbus_map.c).
 *
 * Input layout: byte 0 chooses the mode (bit 0: fast), the baud code and the
 * parity; then pairs (ctl, byte): ctl bits 0-5 are the silence before the byte
 * in eighths of a character (0..63: across t1.5 and t3.5), bit 6 flags a line
 * error, bit 7 lets the host advance to the machine's deadline first.
 * Checked on every step: replies fit the ADU, carry a good CRC and the ID the
 * meter answers as; the settings stay valid; time never runs backwards.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Icore \
 *          tests/fuzz/fuzz_modbus.c core/crc.c core/modbus.c core/modbus_map.c \
 *          core/settings.c -lm -o build/fuzz/fuzz_modbus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "modbus.h"

typedef struct {
    readings_t r;
} fuzz_meter_t;

static void f_read(void *ctx, readings_t *out)
{
    *out = ((fuzz_meter_t *)ctx)->r;
}
static settings_err_t f_set(void *ctx, setting_id_t id, int32_t v)
{
    return settings_set(&((fuzz_meter_t *)ctx)->r.settings, id, v);
}
static void f_reset(void *ctx, access_reset_t what)
{
    fuzz_meter_t *m = ctx;
    if (what == ACCESS_RESET_DAY_COUNTER)
        m->r.resettable = 0;
    else
        m->r.power_down_count = 0;
}

static void check_reply(modbus_t *mb, uint8_t id_before)
{
    uint8_t buf[MODBUS_ADU_MAX];
    uint64_t ts;
    size_t n = modbus_tx(mb, buf, sizeof buf, &ts);
    if (n == 0)
        return;
    if (n < 5 || n > MODBUS_ADU_MAX || crc16_modbus(buf, n) != 0 || buf[0] == 0)
        abort();
    if (buf[0] != id_before && buf[0] != modbus_line(mb)->id)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_meter_t m;
    memset(&m, 0, sizeof m);
    settings_defaults(&m.r.settings, 13070001);
    m.r.settings.modbus_baud = (uint8_t)(1 + (data[0] >> 1) % 10);
    m.r.settings.modbus_parity = (uint8_t)(1 + (data[0] >> 5) % 3);
    m.r.voltage[0] = 230.0;
    m.r.tariff = 1;
    access_t acc = {&m, f_read, f_set, f_reset};
    modbus_desc_t d = {.fast = data[0] & 1};
    modbus_t mb;
    modbus_init(&mb, &acc, &d);

    uint64_t t = 1000;
    for (size_t i = 1; i + 1 < size; i += 2) {
        uint8_t ctl = data[i], byte = data[i + 1];
        uint8_t id = modbus_line(&mb)->id;
        if (ctl & 0x80) {
            uint64_t dl = modbus_deadline(&mb);
            if (dl != VTIME_NEVER && dl > t)
                t = dl;
            modbus_advance(&mb, t);
            check_reply(&mb, id);
        }
        t += modbus_char_ns(&mb) * (ctl & 0x3F) / 8 + modbus_char_ns(&mb);
        modbus_rx(&mb, byte, t, (ctl & 0x40) != 0);
        check_reply(&mb, id);
        if (settings_validate(&m.r.settings, NULL) != SETTINGS_OK)
            abort();
    }
    /* Let everything pending happen. */
    for (int k = 0; k < 8; k++) {
        uint64_t dl = modbus_deadline(&mb);
        if (dl == VTIME_NEVER)
            break;
        uint8_t id = modbus_line(&mb)->id;
        modbus_advance(&mb, dl);
        check_reply(&mb, id);
    }
    return 0;
}
