/* Tests of the M-Bus slave machine: frames, addressing, FCB, selection, the
 * writes of A2.3 byte for byte, and timing in virtual time (EN 13757-2).
 *
 * The meter behind the machine is a small fake access_t holding a readings_t
 * whose settings are changed only through settings_set(). Times are computed
 * here from the line's physics: a character is 11 bits (8E1, A2.1), one bit
 * lasts 1e9 / baud ns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mbus.h"
#include "vtime.h"

typedef struct {
    readings_t r;
    int resets[2];
    int sets;
    access_t acc;
    mbus_t mb;
    uint64_t t;       /* end of the last byte put on the line */
    uint64_t t_start; /* start of the last reply taken */
} fx_t;

static void fake_read(void *ctx, readings_t *out)
{
    *out = ((fx_t *)ctx)->r;
}

static settings_err_t fake_set(void *ctx, setting_id_t id, int32_t value)
{
    fx_t *f = ctx;
    f->sets++;
    return settings_set(&f->r.settings, id, value);
}

static void fake_reset(void *ctx, access_reset_t what)
{
    ((fx_t *)ctx)->resets[what]++;
}

static fx_t *fx_new(const mbus_desc_t *desc)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    settings_defaults(&f->r.settings, 13070001); /* A2.3 selection example */
    f->r.software_version = 1.0f;
    f->r.tariff = 1;
    f->acc = (access_t){f, fake_read, fake_set, fake_reset};
    mbus_init(&f->mb, &f->acc, desc);
    f->t = VTIME_NS_PER_S;
    return f;
}

static uint64_t bits(uint32_t baud, uint64_t n)
{
    return n * 1000000000ull / baud;
}

/* Puts bytes on the line back to back after `idle_ns` of silence. */
static void send_after(fx_t *f, uint64_t idle_ns, const uint8_t *p, size_t n)
{
    f->t += idle_ns;
    for (size_t i = 0; i < n; i++) {
        f->t += bits(mbus_baud(&f->mb), 11);
        mbus_rx(&f->mb, p[i], f->t, false);
    }
}

static void send(fx_t *f, const uint8_t *p, size_t n)
{
    send_after(f, 100 * VTIME_NS_PER_MS, p, n);
}

/* Takes the reply the machine schedules next (0 bytes if none). */
static size_t reply(fx_t *f, uint8_t *out)
{
    uint64_t d = mbus_deadline(&f->mb);
    if (d == VTIME_NEVER)
        return 0;
    mbus_advance(&f->mb, d);
    size_t n = mbus_tx(&f->mb, out, MBUS_FRAME_MAX, &f->t_start);
    if (n)
        assert_int_equal(f->t_start, d);
    return n;
}

static size_t short_frame(uint8_t *b, uint8_t c, uint8_t a)
{
    b[0] = 0x10;
    b[1] = c;
    b[2] = a;
    b[3] = (uint8_t)(c + a);
    b[4] = 0x16;
    return 5;
}

/* Completes a frame written as in the manual up to the data: appends CS
 * (sum of C..data) and 16. */
static size_t finish(uint8_t *b, size_t n)
{
    unsigned cs = 0;
    for (size_t i = 4; i < n; i++)
        cs += b[i];
    b[n] = (uint8_t)cs;
    b[n + 1] = 0x16;
    return n + 2;
}

static size_t long_frame(uint8_t *b, uint8_t c, uint8_t a, uint8_t ci, const uint8_t *d, size_t n)
{
    b[0] = 0x68;
    b[1] = b[2] = (uint8_t)(n + 3);
    b[3] = 0x68;
    b[4] = c;
    b[5] = a;
    b[6] = ci;
    if (n)
        memcpy(b + 7, d, n);
    return finish(b, 7 + n);
}

/* Sends REQ_UD2 (C) to `a` and returns the reply's length. */
static size_t req_ud2(fx_t *f, uint8_t c, uint8_t a, uint8_t *out)
{
    uint8_t b[5];
    send(f, b, short_frame(b, c, a));
    return reply(f, out);
}

static void set(fx_t *f, setting_id_t id, int32_t v)
{
    assert_int_equal(settings_set(&f->r.settings, id, v), SETTINGS_OK);
}

static bool is_ack(size_t n, const uint8_t *b)
{
    return n == 1 && b[0] == 0xE5;
}

/* A telegram whose L, checksum and stop byte are right; returns its access number. */
static uint8_t check_telegram(size_t n, const uint8_t *b, uint8_t addr)
{
    assert_true(n > 6);
    assert_int_equal(b[0], 0x68);
    assert_int_equal(b[1], b[2]);
    assert_int_equal(b[3], 0x68);
    assert_int_equal(n, b[1] + 6u);
    assert_int_equal(b[4], 0x08);
    assert_int_equal(b[5], addr);
    assert_int_equal(b[6], 0x72);
    unsigned cs = 0;
    for (size_t i = 4; i < n - 2; i++)
        cs += b[i];
    assert_int_equal(b[n - 2], cs & 0xFF);
    assert_int_equal(b[n - 1], 0x16);
    return b[7 + 8];
}

static void test_req_ud2_reads_the_telegram(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t out[MBUS_FRAME_MAX];
    size_t n = req_ud2(f, 0x5B, 0x00, out); /* default address 00 (A2.1) */
    check_telegram(n, out, 0x00);
    /* identification = secondary address 13070001, man CD 25, ver 01, medium 02 */
    assert_memory_equal(out + 7, ((uint8_t[]){0x01, 0x00, 0x07, 0x13, 0xCD, 0x25, 0x01, 0x02}), 8);
    assert_int_equal(out[7 + 9], 0x00);                        /* status OK */
    assert_memory_equal(out + 7 + 10, ((uint8_t[]){0, 0}), 2); /* signature */
    assert_int_equal(f->mb.frames_ok, 1);
    free(f);
}

static void test_reply_timing(void **state)
{
    (void)state;
    uint8_t b[5], out[MBUS_FRAME_MAX];
    fx_t *f = fx_new(NULL);
    send(f, b, short_frame(b, 0x40, 0x00));
    /* not due before 33 bit times: nothing to take yet */
    mbus_advance(&f->mb, f->t + bits(2400, 33) - 1);
    assert_int_equal(mbus_tx(&f->mb, out, sizeof out, NULL), 0);
    uint64_t end = f->t;
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->t_start - end, 13750000); /* 33 bits at 2400 bit/s */
    free(f);

    /* The delay is clamped to EN 13757-2's window: 11 .. 330 bit times. */
    const struct {
        uint16_t ask;
        uint64_t want_bits;
    } cases[] = {{11, 11}, {5, 11}, {1000, 330}, {100, 100}};
    for (size_t i = 0; i < 4; i++) {
        f = fx_new(&(mbus_desc_t){.reply_delay_bits = cases[i].ask});
        send(f, b, short_frame(b, 0x40, 0x00));
        end = f->t;
        assert_true(is_ack(reply(f, out), out));
        assert_int_equal(f->t_start - end, bits(2400, cases[i].want_bits));
        free(f);
    }
    /* at 9600 bit/s */
    f = fx_new(NULL);
    set(f, SETTING_MBUS_BAUD, 9600);
    mbus_set_baud(&f->mb, 9600);
    send(f, b, short_frame(b, 0x40, 0x00));
    end = f->t;
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->t_start - end, bits(9600, 33));
    free(f);
}

static void test_primary_addresses(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t out[MBUS_FRAME_MAX];
    for (int a = 0; a <= 250; a++) {
        set(f, SETTING_MBUS_ID, a);
        check_telegram(req_ud2(f, (a & 1) ? 0x5B : 0x7B, (uint8_t)a, out), out, (uint8_t)a);
        assert_int_equal(req_ud2(f, 0x5B, (uint8_t)((a + 1) % 251), out), 0);
    }
    set(f, SETTING_MBUS_ID, 5);
    assert_int_equal(req_ud2(f, 0x7B, 251, out), 0);
    assert_int_equal(req_ud2(f, 0x7B, 252, out), 0);
    assert_int_equal(req_ud2(f, 0x7B, 253, out), 0);    /* not selected */
    check_telegram(req_ud2(f, 0x5B, 254, out), out, 5); /* every meter answers */
    assert_int_equal(req_ud2(f, 0x7B, 255, out), 0);    /* never answered */
    free(f);
}

static void test_bad_frames_get_silence(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t out[MBUS_FRAME_MAX], b[MBUS_FRAME_MAX];
    const uint8_t bad_cs[] = {0x10, 0x5B, 0x00, 0x5C, 0x16};
    const uint8_t bad_stop[] = {0x10, 0x5B, 0x00, 0x5B, 0x17};
    const uint8_t bad_l[] = {0x68, 0x03, 0x04, 0x68, 0x53, 0x00, 0xBD, 0x10, 0x16};
    const uint8_t bad_start2[] = {0x68, 0x03, 0x03, 0x69, 0x53, 0x00, 0xBD, 0x10, 0x16};
    const uint8_t short_l[] = {0x68, 0x02, 0x02, 0x68, 0x53, 0x00, 0x53, 0x16};
    const uint8_t bad_long_cs[] = {0x68, 0x03, 0x03, 0x68, 0x53, 0x00, 0xBD, 0x11, 0x16};
    const uint8_t bad_long_stop[] = {0x68, 0x03, 0x03, 0x68, 0x53, 0x00, 0xBD, 0x10, 0x00};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {
        {bad_cs, 5},  {bad_stop, 5},    {bad_l, 9},         {bad_start2, 9},
        {short_l, 8}, {bad_long_cs, 9}, {bad_long_stop, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        send(f, cases[i].p, cases[i].n);
        assert_int_equal(reply(f, out), 0);
        /* and the next good frame is answered */
        check_telegram(req_ud2(f, (i & 1) ? 0x5B : 0x7B, 0x00, out), out, 0x00);
    }
    assert_int_equal(f->r.settings.mbus_baud, 2400); /* no bad frame changed anything */
    assert_int_equal(f->sets, 0);
    assert_true(f->mb.frames_bad >= 7);
    /* a frame from a slave (C = 08, RSP_UD) is never a request */
    send(f, b, long_frame(b, 0x08, 0x00, 0x72, (const uint8_t[]){0}, 1));
    assert_int_equal(reply(f, out), 0);
    /* a short frame with SND_UD, a long frame with REQ_UD2: not valid */
    send(f, b, short_frame(b, 0x53, 0x00));
    assert_int_equal(reply(f, out), 0);
    send(f, b, long_frame(b, 0x5B, 0x00, 0x72, (const uint8_t[]){0}, 1));
    assert_int_equal(reply(f, out), 0);
    free(f);
}

static void test_line_errors_and_gaps(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[5], out[MBUS_FRAME_MAX];
    short_frame(b, 0x40, 0x00);
    /* a parity error on the third character: the frame is dropped */
    send(f, b, 2);
    f->t += bits(2400, 11);
    mbus_rx(&f->mb, b[2], f->t, true);
    send_after(f, 0, b + 3, 2);
    assert_int_equal(reply(f, out), 0);

    /* an idle of exactly 33 bit times between characters is still one frame */
    send(f, b, 2);
    send_after(f, bits(2400, 33), b + 2, 3);
    assert_true(is_ack(reply(f, out), out));
    /* 34 bit times aborts it (docs/mbus.md) */
    send(f, b, 2);
    send_after(f, bits(2400, 34), b + 2, 3);
    assert_int_equal(reply(f, out), 0);
    /* a longer gap setting tolerates it */
    free(f);
    f = fx_new(&(mbus_desc_t){.gap_bits = 200});
    send(f, b, 2);
    send_after(f, bits(2400, 150), b + 2, 3);
    assert_true(is_ack(reply(f, out), out));
    /* noise between frames (E5 of another slave, junk) is ignored */
    const uint8_t junk[] = {0xE5, 0x00, 0xFF, 0x16};
    send(f, junk, sizeof junk);
    send_after(f, 0, b, 5);
    assert_true(is_ack(reply(f, out), out));
    free(f);
}

static void test_snd_nke(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[5], out[MBUS_FRAME_MAX];
    set(f, SETTING_MBUS_ID, 1);
    send(f, b, short_frame(b, 0x40, 0x01)); /* A2.3: 10 40 01 -> E5 */
    assert_true(is_ack(reply(f, out), out));
    send(f, b, short_frame(b, 0x40, 0xFE));
    assert_true(is_ack(reply(f, out), out));
    send(f, b, short_frame(b, 0x40, 0xFF));
    assert_int_equal(reply(f, out), 0);
    send(f, b, short_frame(b, 0x40, 0x02));
    assert_int_equal(reply(f, out), 0);
    free(f);
}

static void test_fcb_repeat(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t first[MBUS_FRAME_MAX], out[MBUS_FRAME_MAX], b[5];
    size_t n = req_ud2(f, 0x7B, 0x00, first);
    assert_int_equal(check_telegram(n, first, 0), 0);
    f->r.voltage[0] = 231.0; /* the meter moves on... */
    /* ...but a repeat (same FCB, FCV set) gets the previous telegram again */
    assert_int_equal(req_ud2(f, 0x7B, 0x00, out), n);
    assert_memory_equal(out, first, n);
    /* toggled FCB: a new telegram, access number + 1 */
    assert_int_equal(check_telegram(req_ud2(f, 0x5B, 0x00, out), out, 0), 1);
    assert_int_equal(check_telegram(req_ud2(f, 0x5B, 0x00, out), out, 0), 1);
    /* FCV clear (C 4B): never a repeat */
    assert_int_equal(check_telegram(req_ud2(f, 0x4B, 0x00, out), out, 0), 2);
    assert_int_equal(check_telegram(req_ud2(f, 0x4B, 0x00, out), out, 0), 3);
    /* the same FCB long after (a master polling with a fixed C, as libmbus
     * does): outside the retry window, a new reading (docs/mbus.md) */
    assert_int_equal(check_telegram(req_ud2(f, 0x7B, 0x00, out), out, 0), 4);
    f->t += 10 * VTIME_NS_PER_S;
    assert_int_equal(check_telegram(req_ud2(f, 0x7B, 0x00, out), out, 0), 5);
    /* SND_NKE resets the FCB: the same C right after is a new request */
    send(f, b, short_frame(b, 0x40, 0x00));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(check_telegram(req_ud2(f, 0x7B, 0x00, out), out, 0), 6);
    /* a different frame with the same FCB is not a repeat: a write acts */
    uint8_t w[16];
    size_t k = long_frame(w, 0x73, 0x00, 0x51, (const uint8_t[]){0x09, 0x7C, 0x01, 0x54, 0x02}, 5);
    send(f, w, k);
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.tariff, 2);
    /* a repeated write is acknowledged again and not applied twice */
    int sets = f->sets;
    send(f, w, k);
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->sets, sets);
    free(f);

    /* strict EN 13757-2: a repeat however late */
    f = fx_new(&(mbus_desc_t){.strict_fcb = true});
    n = req_ud2(f, 0x7B, 0x00, first);
    f->t += 10 * VTIME_NS_PER_S;
    assert_int_equal(req_ud2(f, 0x7B, 0x00, out), n);
    assert_memory_equal(out, first, n);
    free(f);
}

static void test_access_number_wraps(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t out[MBUS_FRAME_MAX];
    for (int i = 0; i < 258; i++) {
        uint8_t acc = check_telegram(req_ud2(f, (i & 1) ? 0x5B : 0x7B, 0x00, out), out, 0);
        assert_int_equal(acc, i % 256); /* 255 -> 0 (A2.2) */
    }
    free(f);
}

static void test_status_in_error_state(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t out[MBUS_FRAME_MAX];
    size_t n = req_ud2(f, 0x7B, 0x00, out);
    check_telegram(n, out, 0);
    assert_int_equal(out[7 + 9], 0x00);
    f->r.error_code = 0x01;
    n = req_ud2(f, 0x5B, 0x00, out);
    check_telegram(n, out, 0);
    assert_int_equal(out[7 + 9], 0x02);
    free(f);
}

static size_t select_frame(uint8_t *b, const uint8_t sel[8])
{
    /* A2.3: 68 0B 0B 68 53 FD 52 aa aa aa aa bb bb cc dd CS 16 */
    const uint8_t head[] = {0x68, 0x0B, 0x0B, 0x68, 0x53, 0xFD, 0x52};
    memcpy(b, head, sizeof head);
    memcpy(b + sizeof head, sel, 8);
    return finish(b, sizeof head + 8);
}

static void test_secondary_selection(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[32], out[MBUS_FRAME_MAX];
    set(f, SETTING_MBUS_ID, 7);
    /* the manual's example: 01 00 07 13 CD 25 01 02 = 13070001 */
    send(f, b, select_frame(b, (const uint8_t[]){0x01, 0x00, 0x07, 0x13, 0xCD, 0x25, 0x01, 0x02}));
    assert_true(is_ack(reply(f, out), out));
    check_telegram(req_ud2(f, 0x7B, 0xFD, out), out, 7);
    /* non-matching selection: silence, and deselected */
    send(f, b, select_frame(b, (const uint8_t[]){0x02, 0x00, 0x07, 0x13, 0xCD, 0x25, 0x01, 0x02}));
    assert_int_equal(reply(f, out), 0);
    assert_int_equal(req_ud2(f, 0x5B, 0xFD, out), 0);
    /* wildcards: F nibbles in the ID, FF bytes elsewhere */
    const uint8_t match[][8] = {
        {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
        {0xF1, 0xFF, 0xFF, 0x1F, 0xCD, 0x25, 0xFF, 0x02},
        {0x01, 0x00, 0x07, 0x13, 0xFF, 0xFF, 0x01, 0xFF},
        {0xFF, 0xFF, 0xFF, 0xFF, 0xCD, 0x25, 0x01, 0x02},
    };
    const uint8_t miss[][8] = {
        {0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, /* last digit 2 */
        {0xFF, 0xFF, 0xFF, 0x2F, 0xFF, 0xFF, 0xFF, 0xFF}, /* first digit 2 */
        {0xFF, 0xFF, 0xFF, 0xFF, 0xCE, 0x25, 0xFF, 0xFF}, /* manufacturer */
        {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0xFF}, /* version */
        {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x03}, /* medium */
    };
    for (size_t i = 0; i < 4; i++) {
        send(f, b, select_frame(b, match[i]));
        assert_true(is_ack(reply(f, out), out));
        check_telegram(req_ud2(f, (i & 1) ? 0x5B : 0x7B, 0xFD, out), out, 7);
    }
    for (size_t i = 0; i < 5; i++) {
        send(f, b, select_frame(b, match[0]));
        assert_true(is_ack(reply(f, out), out));
        send(f, b, select_frame(b, miss[i]));
        assert_int_equal(reply(f, out), 0);
        assert_int_equal(req_ud2(f, (i & 1) ? 0x5B : 0x7B, 0xFD, out), 0);
    }
    /* SND_NKE to FD deselects (A2.3: "to primary or secondary address") */
    send(f, b, select_frame(b, match[0]));
    assert_true(is_ack(reply(f, out), out));
    send(f, b, short_frame(b, 0x40, 0xFD));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(req_ud2(f, 0x7B, 0xFD, out), 0);
    /* a changed secondary address is what selection matches */
    set(f, SETTING_MBUS_SECONDARY, 45230115);
    send(f, b, select_frame(b, (const uint8_t[]){0x15, 0x01, 0x23, 0x45, 0xCD, 0x25, 0x01, 0x02}));
    assert_true(is_ack(reply(f, out), out));
    /* a selection frame of another length matches nothing and deselects */
    uint8_t odd[32];
    size_t k = long_frame(odd, 0x53, 0xFD, 0x52,
                          (const uint8_t[]){0x15, 0x01, 0x23, 0x45, 0xCD, 0x25, 0x01}, 7);
    send(f, odd, k);
    assert_int_equal(reply(f, out), 0);
    assert_int_equal(req_ud2(f, 0x5B, 0xFD, out), 0);
    free(f);
}

/* A2.3, row by row, as printed (address 01); CS and 16 appended. */
static size_t manual_write(uint8_t *b, const uint8_t *p, size_t n)
{
    memcpy(b, p, n);
    return finish(b, n);
}

static void test_baud_rate_write(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[16], out[MBUS_FRAME_MAX];
    set(f, SETTING_MBUS_ID, 1);
    /* 68 03 03 68 53 01 BD: 9600 */
    send(f, b, manual_write(b, (const uint8_t[]){0x68, 0x03, 0x03, 0x68, 0x53, 0x01, 0xBD}, 7));
    uint64_t end = f->t;
    assert_int_equal(f->r.settings.mbus_baud, 9600);
    assert_int_equal(mbus_baud(&f->mb), 2400);
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->t_start, end + bits(2400, 33));
    /* the E5 leaves at 2400; the new rate once its stop bit is over */
    uint64_t e5_end = f->t_start + bits(2400, 11);
    assert_int_equal(mbus_deadline(&f->mb), e5_end);
    mbus_advance(&f->mb, e5_end - 1);
    assert_int_equal(mbus_baud(&f->mb), 2400);
    mbus_advance(&f->mb, e5_end);
    assert_int_equal(mbus_baud(&f->mb), 9600);
    f->t = e5_end;
    /* the manual's own row: 68 03 03 68 53 01 BB -> E5, back to 2400 */
    send(f, b, manual_write(b, (const uint8_t[]){0x68, 0x03, 0x03, 0x68, 0x73, 0x01, 0xBB}, 7));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(mbus_baud(&f->mb), 9600);
    mbus_advance(&f->mb, f->t_start + bits(9600, 11));
    assert_int_equal(mbus_baud(&f->mb), 2400);
    /* every code B8..BD */
    const uint32_t rates[] = {300, 600, 1200, 2400, 4800, 9600};
    for (int i = 0; i < 6; i++) {
        uint32_t old = mbus_baud(&f->mb);
        send(f, b,
             manual_write(b,
                          (const uint8_t[]){0x68, 0x03, 0x03, 0x68, (i & 1) ? 0x53 : 0x73, 0x01,
                                            (uint8_t)(0xB8 + i)},
                          7));
        assert_true(is_ack(reply(f, out), out));
        mbus_advance(&f->mb, f->t_start + bits(old, 11));
        assert_int_equal(mbus_baud(&f->mb), rates[i]);
        assert_int_equal(f->r.settings.mbus_baud, rates[i]);
        f->t = f->t_start + bits(old, 11);
    }
    /* B7, BE: no such rate in A2.3: silence */
    send(f, b, manual_write(b, (const uint8_t[]){0x68, 0x03, 0x03, 0x68, 0x53, 0x01, 0xBE}, 7));
    assert_int_equal(reply(f, out), 0);
    send(f, b, manual_write(b, (const uint8_t[]){0x68, 0x03, 0x03, 0x68, 0x73, 0x01, 0xB7}, 7));
    assert_int_equal(reply(f, out), 0);
    assert_int_equal(mbus_baud(&f->mb), 9600);
    /* a baud change from the menu */
    mbus_set_baud(&f->mb, 1200);
    assert_int_equal(mbus_baud(&f->mb), 1200);
    free(f);
}

static void test_writes_of_a23(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[32], out[MBUS_FRAME_MAX];
    set(f, SETTING_MBUS_ID, 1);

    /* Primary address: 68 06 06 68 53 01 51 01 7A 01 -> E5 (new id 01); use 02 */
    send(f, b,
         manual_write(
             b, (const uint8_t[]){0x68, 0x06, 0x06, 0x68, 0x53, 0x01, 0x51, 0x01, 0x7A, 0x02}, 10));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.mbus_id, 2);
    send(f, b,
         manual_write(
             b, (const uint8_t[]){0x68, 0x06, 0x06, 0x68, 0x73, 0x02, 0x51, 0x01, 0x7A, 0x01}, 10));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.mbus_id, 1);

    /* Secondary address: 68 09 09 68 53 01 51 0C 79 15 01 23 45 */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x09, 0x09, 0x68, 0x53, 0x01, 0x51, 0x0C, 0x79, 0x15,
                                        0x01, 0x23, 0x45},
                      13));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.mbus_secondary, 45230115);
    /* "same as read": the header carries the same four bytes */
    size_t n = req_ud2(f, 0x7B, 0x01, out);
    check_telegram(n, out, 1);
    assert_memory_equal(out + 7, ((uint8_t[]){0x15, 0x01, 0x23, 0x45}), 4);

    /* Tariff: 68 08 08 68 53 01 51 09 7C 01 54 02 */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x08, 0x08, 0x68, 0x53, 0x01, 0x51, 0x09, 0x7C, 0x01,
                                        0x54, 0x02},
                      12));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.tariff, 2);

    /* S0 rate: 68 0A 0A 68 53 01 51 0C FD 3A 00 00 01 00 -> 100 imp/kWh */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x0A, 0x0A, 0x68, 0x73, 0x01, 0x51, 0x0C, 0xFD, 0x3A,
                                        0x00, 0x00, 0x01, 0x00},
                      14));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.s0_rate_x100, 10000);

    /* Resettable kWh: 68 09 09 68 53 01 51 0C 04 00 00 00 00 */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x09, 0x09, 0x68, 0x53, 0x01, 0x51, 0x0C, 0x04, 0x00,
                                        0x00, 0x00, 0x00},
                      13));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->resets[ACCESS_RESET_DAY_COUNTER], 1);

    /* Power-down counter: 68 08 08 68 53 01 51 0A FD 60 00 00 */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x08, 0x08, 0x68, 0x73, 0x01, 0x51, 0x0A, 0xFD, 0x60,
                                        0x00, 0x00},
                      12));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->resets[ACCESS_RESET_POWER_DOWN_COUNTER], 1);

    /* Combined code: 68 07 07 68 53 01 51 09 FD 3A 05 (C-05 locks it, 6.6.15) */
    send(f, b,
         manual_write(
             b, (const uint8_t[]){0x68, 0x07, 0x07, 0x68, 0x53, 0x01, 0x51, 0x09, 0xFD, 0x3A, 0x05},
             11));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.combination_code, 5);

    /* to 254: written and answered; to 255: written, not answered */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x08, 0x08, 0x68, 0x73, 0xFE, 0x51, 0x09, 0x7C, 0x01,
                                        0x54, 0x03},
                      12));
    assert_true(is_ack(reply(f, out), out));
    assert_int_equal(f->r.settings.tariff, 3);
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x08, 0x08, 0x68, 0x53, 0xFF, 0x51, 0x09, 0x7C, 0x01,
                                        0x54, 0x04},
                      12));
    assert_int_equal(reply(f, out), 0);
    assert_int_equal(f->r.settings.tariff, 4);
    /* to another address: nothing */
    send(f, b,
         manual_write(b,
                      (const uint8_t[]){0x68, 0x08, 0x08, 0x68, 0x73, 0x05, 0x51, 0x09, 0x7C, 0x01,
                                        0x54, 0x01},
                      12));
    assert_int_equal(reply(f, out), 0);
    assert_int_equal(f->r.settings.tariff, 4);
    free(f);
}

static void test_invalid_writes_get_silence(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[32], out[MBUS_FRAME_MAX];
    set(f, SETTING_MBUS_ID, 1);
    settings_t before = f->r.settings;
    const struct {
        uint8_t d[8];
        size_t n;
    } bad[] = {
        {{0x01, 0x7A, 0xFB}, 3},                         /* primary 251 */
        {{0x01, 0x7A, 0xFF}, 3},                         /* primary 255 */
        {{0x0C, 0x79, 0x15, 0x01, 0x23, 0x4A}, 6},       /* secondary: not BCD */
        {{0x09, 0x7C, 0x01, 0x54, 0x05}, 5},             /* tariff 5 */
        {{0x09, 0x7C, 0x01, 0x54, 0x00}, 5},             /* tariff 0 */
        {{0x09, 0xFD, 0x3A, 0x06}, 4},                   /* combined code 6 */
        {{0x0C, 0xFD, 0x3A, 0x00, 0x00, 0x05, 0x00}, 7}, /* S0 rate 500: not in the list */
        {{0x0C, 0xFD, 0x3A, 0x00, 0x00, 0x01}, 6},       /* S0 rate, 3 bytes */
        {{0x01, 0x7B, 0x01}, 3},                         /* no such record */
        {{0x01, 0x7A, 0x02, 0x01, 0x7A, 0x03}, 6},       /* two records */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        send(f, b, long_frame(b, (i & 1) ? 0x53 : 0x73, 0x01, 0x51, bad[i].d, bad[i].n));
        assert_int_equal(reply(f, out), 0);
        assert_memory_equal(&f->r.settings, &before, sizeof before);
    }
    /* C-05 cannot be left (6.6.15): 5 is written, then 1 is refused */
    send(f, b, long_frame(b, 0x53, 0x01, 0x51, (const uint8_t[]){0x09, 0xFD, 0x3A, 0x05}, 4));
    assert_true(is_ack(reply(f, out), out));
    send(f, b, long_frame(b, 0x73, 0x01, 0x51, (const uint8_t[]){0x09, 0xFD, 0x3A, 0x01}, 4));
    assert_int_equal(reply(f, out), 0);
    assert_int_equal(f->r.settings.combination_code, 5);
    /* unknown CI: silence */
    send(f, b, long_frame(b, 0x53, 0x01, 0x55, (const uint8_t[]){0x00}, 1));
    assert_int_equal(reply(f, out), 0);
    free(f);
}

static void test_other_requests(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    uint8_t b[16], out[MBUS_FRAME_MAX];
    /* REQ_UD1: no class-1 data, E5 */
    send(f, b, short_frame(b, 0x5A, 0x00));
    assert_true(is_ack(reply(f, out), out));
    /* application reset (CI 50), with and without a subcode: E5 */
    send(f, b, long_frame(b, 0x73, 0x00, 0x50, NULL, 0));
    assert_true(is_ack(reply(f, out), out));
    send(f, b, long_frame(b, 0x53, 0x00, 0x50, (const uint8_t[]){0x10}, 1));
    assert_true(is_ack(reply(f, out), out));
    /* no reply is ever taken twice */
    assert_int_equal(reply(f, out), 0);
    /* a too small buffer gets nothing and the reply stays */
    send(f, b, short_frame(b, 0x5B, 0x00));
    mbus_advance(&f->mb, mbus_deadline(&f->mb));
    assert_int_equal(mbus_tx(&f->mb, out, 10, NULL), 0);
    assert_true(mbus_tx(&f->mb, out, sizeof out, NULL) > 10);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_ud2_reads_the_telegram),
        cmocka_unit_test(test_reply_timing),
        cmocka_unit_test(test_primary_addresses),
        cmocka_unit_test(test_bad_frames_get_silence),
        cmocka_unit_test(test_line_errors_and_gaps),
        cmocka_unit_test(test_snd_nke),
        cmocka_unit_test(test_fcb_repeat),
        cmocka_unit_test(test_access_number_wraps),
        cmocka_unit_test(test_status_in_error_state),
        cmocka_unit_test(test_secondary_selection),
        cmocka_unit_test(test_baud_rate_write),
        cmocka_unit_test(test_writes_of_a23),
        cmocka_unit_test(test_invalid_writes_get_silence),
        cmocka_unit_test(test_other_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
