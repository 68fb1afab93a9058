/* modbus_map: the meter's Modbus register image (manual A3.2) and its
 * writable registers (A3.3), as data.
 *
 *   request (start, count) --> blocks check --> table walk --> encoder --> words
 *
 *   block      registers                          what
 *   0x4000..   0x4000-0x4033 (52 words)           identity, settings, counters
 *   0x5000..   0x5000-0x5037 (56 words)           instantaneous values
 *   0x6000..   0x6000-0x6090 (145 words)          energy registers, tariff
 *
 * Each entry of MODBUS_MAP is {address, words, type, source, write}; one
 * encoder per type turns a value of readings_t (readings.h) into words, so the
 * map is a table, not a switch. Addresses inside a block that the manual
 * lists as "Reserved", or does not list (0x4015, 0x4025, 0x4027-0x4031), read
 * as 0; a read that starts or ends outside a block, or spans two blocks, is
 * refused with exception 02 (docs/modbus.md, "Where exception 02 begins").
 *
 * Encodings (the manual's "Data type" column, fixed by the A3.3 examples):
 *   Float ABCD  IEEE 754 single, big-endian, high word first (230.0 -> 4366 0000)
 *   Signed      two's-complement binary ("01 06 4003 000A" sets ID 10)
 *   HEX         two kinds in the manual: a decimal quantity carries its decimal
 *               digits as nibbles ("01 06 4010 0025" sets 25 s; MODBUS_TYPE_BCD),
 *               a code or a bit pattern is sent as is (meter code 1111 = 0x1111,
 *               checksums, the status word; MODBUS_TYPE_BITS)
 *   ASCII       one character in the low byte ('F' -> 0x0046)
 * Integer mode (0x4026 = 2): every Float ABCD register carries round(value x 1000)
 * as a signed 32-bit integer, high word first (kWh -> Wh, kW -> W, V -> mV).
 *
 * Known inaccuracies: where the manual's type column and its write example
 * disagree (0x4021 pulse width "Signed" but "0030 = 30 ms"; 0x401F CT ratio
 * "Signed" but "9995 0005 = 9995/5") the example wins: both are decimal
 * digits. 0x4012 is taken as L1 (0x4013 is L2, 0x4014 L3). See docs/modbus.md.
 */
#ifndef METERSIM_MODBUS_MAP_H
#define METERSIM_MODBUS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "readings.h"

/* Exception codes (Modbus Application Protocol V1.1b3, 7 "MODBUS Exception Responses"). */
typedef enum {
    MODBUS_EX_NONE = 0,
    MODBUS_EX_ILLEGAL_FUNCTION = 1,
    MODBUS_EX_ILLEGAL_ADDRESS = 2,
    MODBUS_EX_ILLEGAL_VALUE = 3,
    MODBUS_EX_DEVICE_FAILURE = 4,
} modbus_ex_t;

typedef enum {
    MODBUS_TYPE_RESERVED = 0,
    MODBUS_TYPE_FLOAT,  /* "Float ABCD" */
    MODBUS_TYPE_SIGNED, /* "Signed" */
    MODBUS_TYPE_BCD,    /* "HEX" of a decimal quantity */
    MODBUS_TYPE_BITS,   /* "HEX" of a code, checksum or status word */
    MODBUS_TYPE_ASCII,  /* "ASCII" */
} modbus_type_t;

/* Where a register's value comes from. */
typedef enum {
    MODBUS_SRC_NONE = 0, /* reads 0 */
    MODBUS_SRC_DOUBLE,   /* double at offset `arg` of readings_t */
    MODBUS_SRC_FLOAT,    /* float at offset `arg` */
    MODBUS_SRC_U8,       /* uint8_t at offset `arg` */
    MODBUS_SRC_U16,      /* uint16_t at offset `arg` */
    MODBUS_SRC_U32,      /* uint32_t at offset `arg` */
    MODBUS_SRC_CHAR,     /* char at offset `arg` */
    MODBUS_SRC_SETTING,  /* settings_get(&r->settings, arg) */
    MODBUS_SRC_SERIAL,   /* the last eight digits of r->serial */
    MODBUS_SRC_S0_RATE,  /* the S0 rate in imp/kWh */
    MODBUS_SRC_CT_RATIO, /* 0x400C: primary / secondary (1 on a direct meter) */
    MODBUS_SRC_CT_PAIR,  /* 0x401F: primary, secondary (5/5 on a direct meter) */
} modbus_src_t;

/* What a write to a register does (A3.3); MODBUS_WR_NONE: read-only, exception 02. */
typedef enum {
    MODBUS_WR_NONE = 0,
    MODBUS_WR_SETTING, /* access->set(warg, value) */
    MODBUS_WR_S0_RATE, /* access->set(SETTING_S0_RATE, imp/kWh x 100) */
    MODBUS_WR_RESET,   /* value must be 0; access->reset(warg) */
    MODBUS_WR_CT,      /* the CT ratio pppp/0005: SETTING_CT_PRIMARY (5 on a direct meter) */
} modbus_write_t;

typedef struct modbus_reg {
    uint16_t addr;
    uint8_t words;
    uint8_t type;  /* modbus_type_t */
    uint8_t src;   /* modbus_src_t */
    uint8_t write; /* modbus_write_t */
    uint16_t arg;  /* offsetof(readings_t, ...) or setting_id_t */
    uint16_t warg; /* setting_id_t or access_reset_t */
} modbus_reg_t;

/* The A3.2 map, sorted by address. */
extern const modbus_reg_t MODBUS_MAP[];
extern const size_t MODBUS_MAP_COUNT;

/* The largest read (Application Protocol 6.3: 125) and write (6.12: 123). */
#define MODBUS_MAP_READ_MAX 125u
#define MODBUS_MAP_WRITE_MAX 123u

/* The entry holding register `addr`, or NULL for a reserved or unmapped word. */
const modbus_reg_t *modbus_map_find(uint16_t addr);

/* True if registers start .. start+count-1 all lie in one block of A3.2. */
bool modbus_map_in_block(uint16_t start, uint16_t count);

/* Reads `count` registers from `start` as big-endian bytes into out[2*count].
 * Returns MODBUS_EX_NONE, or MODBUS_EX_ILLEGAL_ADDRESS (out untouched). The
 * caller checks 1 <= count <= MODBUS_MAP_READ_MAX (exception 03). */
modbus_ex_t modbus_map_read(const readings_t *r, uint16_t start, uint16_t count, uint8_t *out);

/* Writes `count` registers from `start` (data: 2*count big-endian bytes),
 * all or nothing: every word must belong to a writable register covered
 * whole (else 02) and every value must be valid (else 03; checked on a copy
 * of r->settings first, so nothing is changed). Then the changes go through
 * acc->set / acc->reset in address order. `r` is the meter as it is now. */
modbus_ex_t modbus_map_write(const access_t *acc, const readings_t *r, uint16_t start,
                             uint16_t count, const uint8_t *data);

/* Encoders, public for the tests and for other tools. */
void modbus_put_float_abcd(uint8_t out[4], float v);
float modbus_get_float_abcd(const uint8_t in[4]);
/* round(v * 1000) saturated to int32 (integer mode). */
int32_t modbus_int_milli(double v);
/* The low 4*words decimal digits of v as nibbles (HEX of a decimal quantity). */
uint32_t modbus_bcd(uint32_t v, unsigned words);
/* The decimal value of BCD nibbles; -1 if a nibble is above 9. */
int64_t modbus_from_bcd(uint32_t bcd, unsigned words);

#endif
