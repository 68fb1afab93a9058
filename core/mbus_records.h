/* mbus_records: the M-Bus data the meter sends and accepts (manual A2.2, A2.3).
 *
 * The RSP_UD telegram (EN 13757-2 long frame, EN 13757-3 variable data):
 *
 *   68 L L 68 | 08 A 72 | ID ID ID ID  CD 25  VER 02  ACC ST  00 00 | records... | CS 16
 *   start      C  A  CI  fixed header (12 bytes, A2.2 "Header")       A2.2 rows    (CS = sum of
 * C..last record)
 *
 * Every record is DIF [DIFE..] VIF [VIFE..] DATA. The list of records is a
 * const table (MBUS_RECORDS), in the manual's order, with the manual's
 * DIF/DIFE/VIF/VIFE bytes and, per row, which readings_t field feeds it and
 * the factor from readings units (kWh, V, A, kW, Hz) to the record's unit
 * (Wh, 10 mV, mA, W, mHz). One encoder turns a value into data bytes as the
 * DIF's low nibble says (EN 13757-3, data field coding):
 *
 *   1/2/3/4/6/7 -> 8/16/24/32/48/64-bit binary integer, little-endian, two's complement
 *   9/A/B/C/E   -> 2/4/6/8/12-digit BCD, least significant byte first,
 *                  negative: the most significant nibble is F
 *
 * The write records of A2.3 are a second table (MBUS_WRITES): a pattern of
 * DIF/VIF bytes, the data length and coding, and the setting or counter it
 * changes. Validity is decided by the settings module (through access_t).
 *
 * Known inaccuracies / decisions (docs/mbus.md, "Decisions"):
 * - The "CT rate (only for CT version)" row is not sent: the 4PU/4PS have no
 *   CT (settings.h) and the row's bytes are garbled (DIF 0A = 2 bytes, 3 shown).
 * - The "Total forward active energy" row is garbled; it is sent as DIF 04,
 *   VIF 03 (32-bit, Wh), the pattern of the rows around it.
 * - Values are rounded to the nearest unit (half away from zero) and
 *   saturate at the record's range instead of wrapping.
 */
#ifndef METERSIM_MBUS_RECORDS_H
#define METERSIM_MBUS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "readings.h"
#include "settings.h"

/* A2.2 header: manufacturer "CD 25" (low byte first), medium 02 = electricity. */
#define MBUS_MANUFACTURER 0x25CDu
#define MBUS_MEDIUM_ELECTRICITY 0x02u
#define MBUS_CI_RSP_UD 0x72u /* variable data, long header (EN 13757-3) */
#define MBUS_C_RSP_UD 0x08u
#define MBUS_HEADER_LEN 12u     /* ID(4) MAN(2) VER MED ACC ST SIG(2) */
#define MBUS_STATUS_OK 0x00u    /* A2.2: 00 = OK */
#define MBUS_STATUS_ERROR 0x02u /* A2.2: 02 = Error */
#define MBUS_FRAME_MAX 261u     /* 68 L L 68 + 255 + CS 16 */

/* Where a record's value comes from. */
typedef enum {
    MBUS_SRC_DOUBLE,    /* a double in readings_t at `offset` */
    MBUS_SRC_MAGNITUDE, /* its absolute value: the VIFE "backward flow" (3C) carries the
                           direction, and readings show reverse energy with the sign of
                           the combination-code table (6.6.15) */
    MBUS_SRC_TARIFF,    /* readings_t.tariff (uint8_t, 1..4) */
    MBUS_SRC_CT,        /* the CT ratio as digits pppp ss: primary, secondary (A2.2) */
} mbus_src_t;

typedef struct mbus_record {
    const char *name; /* the manual's "Contents" column */
    uint8_t dib[4];   /* DIF and DIFEs */
    uint8_t dib_len;
    uint8_t vib[6]; /* VIF and VIFEs (plain-text VIF: 7C len chars) */
    uint8_t vib_len;
    mbus_src_t src;
    size_t offset; /* offsetof(readings_t, ...) for MBUS_SRC_DOUBLE */
    double scale;  /* readings unit -> record unit */
    bool ct_only;  /* in the telegram of the CT variant only (variant.h) */
} mbus_record_t;

extern const mbus_record_t MBUS_RECORDS[];
extern const size_t MBUS_RECORD_COUNT;

/* Bytes of data that a DIF announces (EN 13757-3); 0 for codings this meter
 * never uses (real, variable length, selection for readout). */
size_t mbus_records_data_len(uint8_t dif);

/* True when the DIF's data field is BCD (9, A, B, C, E). */
bool mbus_records_dif_is_bcd(uint8_t dif);

/* Encodes `value` as the DIF says into out[] (mbus_records_data_len(dif)
 * bytes), saturating at the field's range; returns the bytes written. */
size_t mbus_records_encode(uint8_t dif, int64_t value, uint8_t *out);

/* Decodes n bytes of BCD (least significant byte first) into *value; false
 * when a nibble is not a decimal digit (no sign nibble accepted: writes only
 * carry unsigned values). */
bool mbus_records_bcd_decode(const uint8_t *p, size_t n, int64_t *value);

/* The value a record carries for `r`, in the record's unit, rounded to the
 * nearest integer (half away from zero); 0 for NaN. */
int64_t mbus_records_value(const mbus_record_t *rec, const readings_t *r);

/* One record (DIB, VIB, data) into out; returns its length, 0 if cap is short. */
size_t mbus_records_record(const mbus_record_t *rec, const readings_t *r, uint8_t *out, size_t cap);

/* The 12-byte fixed header of A2.2: identification number = the secondary
 * address as 8 BCD digits, manufacturer, version (major of the software
 * version), medium, access number, status (00, or 02 while error_code != 0),
 * signature 00 00. */
void mbus_records_header(const readings_t *r, uint8_t access_no, uint8_t out[MBUS_HEADER_LEN]);

/* The whole RSP_UD long frame (68 L L 68 08 A 72 header records CS 16);
 * returns its length, 0 if cap is short (MBUS_FRAME_MAX always suffices). */
size_t mbus_records_telegram(const readings_t *r, uint8_t address, uint8_t access_no, uint8_t *out,
                             size_t cap);

/* The link-layer checksum: arithmetic sum modulo 256 (EN 13757-2). */
uint8_t mbus_checksum(const uint8_t *p, size_t n);

/* ---- writes (A2.3, CI 51) ---- */

typedef enum {
    MBUS_WRITE_SETTING, /* access->set(setting, value) */
    MBUS_WRITE_RESET,   /* access->reset(reset); the data is ignored (A2.3) */
} mbus_write_kind_t;

typedef struct mbus_write {
    mbus_write_kind_t kind;
    setting_id_t setting;
    access_reset_t reset;
    int32_t value;
} mbus_write_t;

typedef enum {
    MBUS_WRITE_OK = 0,
    MBUS_WRITE_E_UNKNOWN, /* no A2.3 record has these DIF/VIF bytes, or the length is wrong */
    MBUS_WRITE_E_CODING,  /* the data is not valid BCD */
} mbus_write_err_t;

/* Parses the data of a CI 51 SND_UD (after the CI byte): exactly one record
 * of A2.3 filling the whole field. Does not judge the value's range: that is
 * the settings module's job. */
mbus_write_err_t mbus_records_parse_write(const uint8_t *data, size_t len, mbus_write_t *out);

#endif
