/* libFuzzer target for the M-Bus slave (core/mbus.c, core/mbus_records.c).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Icore tests/fuzz/fuzz_mbus.c \
 *        core/mbus.c core/mbus_records.c core/settings.c -lm
 *
 * Input: byte 0 picks the machine's options; then a byte stream put on the
 * line back to back at the machine's baud rate, where F0 starts an escape:
 *   F0 F0        a literal F0
 *   F0 00        200 ms of silence (between frames)
 *   F0 01        the next byte arrives with a parity error
 *   F0 02 n      n * 4 bit times of silence (gap inside a frame)
 *   F0 03        the meter enters / leaves its error state
 *   F0 04 n      the menu changes the baud rate (n % 6)
 *   F0 05 i d*8  the double of record i takes the 8 bytes d (NaN, inf, huge...)
 * The host drains every reply when it is due, as a transport would.
 *
 * Checked on every step (abort = a finding): a reply is E5 or a long frame
 * with a right L, checksum and stop byte, its start is after the request's
 * end; settings always validate; the baud rate is one of A2.1's.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbus.h"
#include "vtime.h"

typedef struct {
    readings_t r;
} fake_t;

static void fake_read(void *ctx, readings_t *out)
{
    *out = ((fake_t *)ctx)->r;
}

static settings_err_t fake_set(void *ctx, setting_id_t id, int32_t value)
{
    return settings_set(&((fake_t *)ctx)->r.settings, id, value);
}

static void fake_reset(void *ctx, access_reset_t what)
{
    fake_t *f = ctx;
    if (what == ACCESS_RESET_DAY_COUNTER)
        f->r.resettable = 0;
    else
        f->r.power_down_count = 0;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_reply(const uint8_t *b, size_t n)
{
    if (n == 1) {
        check(b[0] == 0xE5);
        return;
    }
    check(n >= 9 && n <= MBUS_FRAME_MAX);
    check(b[0] == 0x68 && b[3] == 0x68 && b[1] == b[2] && n == b[1] + 6u);
    check(b[4] == 0x08 && b[6] == 0x72);
    check(b[n - 2] == mbus_checksum(b + 4, b[1]) && b[n - 1] == 0x16);
}

static int baud_ok(uint32_t b)
{
    return b == 300 || b == 600 || b == 1200 || b == 2400 || b == 4800 || b == 9600;
}

/* The host: hands every reply due by `now` over, as a serial transport would. */
static void drain(mbus_t *mb, uint64_t now, uint64_t last_rx)
{
    for (int i = 0; i < 4; i++) {
        uint64_t d = mbus_deadline(mb);
        if (d == VTIME_NEVER || d > now)
            return;
        mbus_advance(mb, d);
        uint8_t out[MBUS_FRAME_MAX];
        uint64_t ts = 0;
        size_t n = mbus_tx(mb, out, sizeof out, &ts);
        if (n) {
            check_reply(out, n);
            check(ts >= last_rx);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t rates[] = {300, 600, 1200, 2400, 4800, 9600};
    fake_t f;
    memset(&f, 0, sizeof f);
    settings_defaults(&f.r.settings, 13070001);
    f.r.software_version = 1.0f;
    f.r.tariff = 1;
    f.r.voltage[0] = 230.12;
    f.r.p[2] = -1234.567;
    f.r.active_forward.total = 123456.789;
    access_t acc = {&f, fake_read, fake_set, fake_reset};

    mbus_desc_t desc = {0};
    if (size > 0) {
        desc.strict_fcb = data[0] & 1;
        desc.reply_delay_bits = (uint16_t)(((data[0] >> 1) & 7) * 60);
        desc.gap_bits = (uint16_t)(((data[0] >> 4) & 3) * 40);
        data++;
        size--;
    }
    mbus_t mb;
    mbus_init(&mb, &acc, &desc);

    uint64_t t = VTIME_NS_PER_S, last_rx = 0;
    bool line_error = false;
    for (size_t i = 0; i < size; i++) {
        uint8_t byte = data[i];
        if (byte == 0xF0 && i + 1 < size) {
            uint8_t op = data[++i];
            switch (op) {
            case 0xF0:
                break; /* literal F0 */
            case 0x00:
                t += 200 * VTIME_NS_PER_MS;
                drain(&mb, t, last_rx);
                continue;
            case 0x01:
                line_error = true;
                continue;
            case 0x02:
                if (i + 1 < size)
                    t += mbus_bits_ns(mbus_baud(&mb), 4u * data[++i]);
                continue;
            case 0x03:
                f.r.error_code = f.r.error_code ? 0 : 1;
                continue;
            case 0x04:
                if (i + 1 < size) {
                    uint32_t b = rates[data[++i] % 6];
                    if (settings_set(&f.r.settings, SETTING_MBUS_BAUD, (int32_t)b) == SETTINGS_OK)
                        mbus_set_baud(&mb, b);
                }
                continue;
            case 0x05:
                if (i + 9 < size) {
                    const mbus_record_t *rec = &MBUS_RECORDS[data[i + 1] % MBUS_RECORD_COUNT];
                    if (rec->src == MBUS_SRC_DOUBLE)
                        memcpy((char *)&f.r + rec->offset, data + i + 2, sizeof(double));
                    i += 9;
                }
                continue;
            default:
                continue;
            }
        }
        t += mbus_bits_ns(mbus_baud(&mb), MBUS_CHAR_BITS);
        drain(&mb, t, last_rx);
        mbus_rx(&mb, byte, t, line_error);
        line_error = false;
        last_rx = t;
        setting_id_t bad;
        check(settings_validate(&f.r.settings, &bad) == SETTINGS_OK);
        check(baud_ok(mbus_baud(&mb)));
        check(mb.rx_len <= MBUS_FRAME_MAX);
    }
    drain(&mb, t + VTIME_NS_PER_S, last_rx);
    check(baud_ok(mbus_baud(&mb)));

    /* The write parser and the encoder on the raw input as well. */
    mbus_write_t w;
    (void)mbus_records_parse_write(data, size, &w);
    if (size >= 9) {
        int64_t v;
        memcpy(&v, data + 1, sizeof v);
        uint8_t out[8];
        check(mbus_records_encode(data[0], v, out) == mbus_records_data_len(data[0]));
    }
    return 0;
}
