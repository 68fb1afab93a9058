/* crc32: CRC-32 of IEEE 802.3 (zlib, PNG), the checksum of the meter's memory
 * image (nvm.h) and of the state file's slots (docs/state.md).
 *
 * Reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF;
 * the CRC of "123456789" is 0xCBF43926. Computed four bytes at a time with
 * four tables ("slicing by 4", the method of Intel's 2006 paper and zlib):
 * the host writes the image at every step of a run, so the checksum is on
 * its hot path.
 *
 * Known inaccuracies: none (the real meter's checksum is not published; this
 * is the twin's own).
 */
#ifndef METERSIM_CRC32_H
#define METERSIM_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3) of n bytes. */
uint32_t crc32_ieee(const uint8_t *p, size_t n);

#endif
