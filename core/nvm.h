/* nvm: the meter's non-volatile memory, as an image of bytes (manual 7.1).
 *
 * "All measurement values are stored twice with the accompanying checksums.
 * In case the checksum fails, the backup data is used. If both the normal
 * storage and backup fail, the meter will stop working and indicate error XX"
 * (7.1). The error byte names an "integer" main area, an "integer" backup
 * area and one "mantissa" area; the image follows that split:
 *
 *   offset  size  field (all little-endian)
 *        0     2  image version (NVM_VERSION)
 *        2     2  reserved, 0
 *        4     4  integer area length L (NVM_INT_LEN for this version)
 *        8     4  mantissa area length M (NVM_MANT_LEN)
 *       12     L  main integer area        } counters, settings and every
 *     12+L     4  CRC-32 of the main area  } energy register, in whole uWh
 *     16+L     L  backup integer area      } the same bytes again
 *    16+2L     4  CRC-32 of the backup area
 *    20+2L     M  mantissa area: the sub-uWh remainders of energy_t
 *  20+2L+M     4  CRC-32 of the mantissa area
 *
 * Fields are written one by one (never a struct dump), so the image is the
 * same on every host. docs/state.md lists every field and its offset.
 *
 * Loading (nvm_load): the main integer area if its CRC and contents are
 * good, else the backup; the remainders if the mantissa area is good, else
 * zero (a loss below 1 uWh per register). The 7.1 error byte says what was
 * found:
 *
 *   bit6 NVM_ERR_MAIN_DATA    main integer area: bad CRC, bad contents, missing
 *   bit5 NVM_ERR_BACKUP_DATA  backup integer area: the same
 *   bit4 NVM_ERR_MANTISSA     mantissa area: the same
 *   bit0 NVM_ERR_BOTH         main and backup both bad: the meter stops
 *   bits 1, 2, 3, 7: hardware faults ("cannot be operated", EEPROM
 *        initialisation); an image cannot show them, so they are never set.
 *
 * Only when bit0 is set does the meter stop (meter_t.error_code = the byte,
 * no energy is registered any more, readings show the byte); a single bad
 * copy is the normal case of 7.1 and the meter runs on, the next save
 * rewriting both copies.
 *
 * The CRC is CRC-32 (IEEE 802.3, as in zlib and PNG: reflected polynomial
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF; CRC of "123456789" is
 * 0xCBF43926). The real meter's checksum is not published.
 *
 * Known inaccuracies: the real meter's memory layout and checksum are not
 * published; this image is the twin's own. Hardware faults (bits 1-3, 7) are
 * not modelled.
 */
#ifndef METERSIM_NVM_H
#define METERSIM_NVM_H

#include <stddef.h>
#include <stdint.h>

#include "meter.h"

#define NVM_VERSION 2u /* 2: the CT ratio in the settings; version 1 images still load */

/* Error byte bits (7.1). */
#define NVM_ERR_BOTH 0x01u        /* main and backup storage both wrong */
#define NVM_ERR_MANTISSA 0x10u    /* data error in the mantissa area */
#define NVM_ERR_BACKUP_DATA 0x20u /* data error in the backup area (integer) */
#define NVM_ERR_MAIN_DATA 0x40u   /* data error in the main storage area (integer) */

#define NVM_HEADER_LEN 12u
/* power-down count (4), flags (1), settings (27), 72 registers x 8 bytes */
#define NVM_SETTINGS_LEN 29u /* version 1: 27, without the CT primary */
#define NVM_SETTINGS_LEN_V1 27u
#define NVM_REGISTERS ENERGY_REGISTERS
#define NVM_INT_LEN (4u + 1u + NVM_SETTINGS_LEN + NVM_REGISTERS * 8u)
#define NVM_INT_LEN_V1 (4u + 1u + NVM_SETTINGS_LEN_V1 + NVM_REGISTERS * 8u)
/* 16 remainders (12 per phase, 4 netted), IEEE 754 binary64 each */
#define NVM_MANT_LEN (16u * 8u)
#define NVM_IMAGE_LEN (NVM_HEADER_LEN + 2u * (NVM_INT_LEN + 4u) + NVM_MANT_LEN + 4u)

/* Offsets of the areas in an image, for tools and tests. */
#define NVM_MAIN_OFFSET NVM_HEADER_LEN
#define NVM_BACKUP_OFFSET (NVM_MAIN_OFFSET + NVM_INT_LEN + 4u)
#define NVM_MANT_OFFSET (NVM_BACKUP_OFFSET + NVM_INT_LEN + 4u)

/* Integer area flag: the supply was on when the image was written, so the
 * meter lost it without a chance to save (a crash): loading counts it. */
#define NVM_FLAG_SUPPLY_ON 0x01u

typedef enum {
    NVM_OK = 0,    /* main area used (error byte may still show a bad backup or mantissa) */
    NVM_OK_BACKUP, /* main area bad, backup used */
    NVM_STOPPED,   /* both bad: the meter stopped, meter_t.error_code set */
    NVM_E_VERSION, /* unknown image version: nothing loaded, meter unchanged */
    NVM_E_FORMAT,  /* shorter than its header, or area lengths that do not fit the
                      version: nothing loaded, meter unchanged */
} nvm_status_t;

/* Writes the image of `m` into buf; returns its length (NVM_IMAGE_LEN), or 0
 * when cap is too small. */
size_t nvm_save(const meter_t *m, uint8_t *buf, size_t cap);

/* Restores `m` (initialised with meter_init) from an image: main, else backup
 * (7.1). Loading is the meter's power-up: if the image was written while the
 * supply was on, the power-down that followed was never saved, and the
 * power-down counter counts it now (m->supply itself is left as the host set
 * it). *error_byte gets the 7.1 byte of what was
 * found (0 when all is sound). On NVM_STOPPED the registers stay as they were
 * (never reset to anything from the image) and the meter stops. */
nvm_status_t nvm_load(meter_t *m, const uint8_t *buf, size_t len, uint8_t *error_byte);

/* A sentence for a status, for messages. */
const char *nvm_strstatus(nvm_status_t s);

#endif
