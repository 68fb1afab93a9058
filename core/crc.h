/* crc: CRC-16/MODBUS, the check field of every Modbus RTU frame.
 *
 *   frame:  | addr | fc | data ... | CRC lo | CRC hi |
 *            \____ crc16_modbus() over these ____/
 *
 * Polynomial 0x8005 reflected (0xA001), initial value 0xFFFF, no final XOR,
 * bytes processed least significant bit first; the result is sent low byte
 * first. Specification: Modbus over Serial Line V1.02, 2.5.1.2 "CRC Checking"
 * (p. 14) and Appendix B, 6.2.2 "CRC Generation" (p. 40), which also gives the
 * table-driven method used here (one table lookup per byte).
 *
 * Check value (the catalogue's "123456789" test): 0x4B37.
 *
 * Known inaccuracies: none.
 */
#ifndef METERSIM_CRC_H
#define METERSIM_CRC_H

#include <stddef.h>
#include <stdint.h>

#define CRC16_MODBUS_INIT 0xFFFFu

/* Continues a CRC over `len` more bytes; start with CRC16_MODBUS_INIT. */
uint16_t crc16_modbus_update(uint16_t crc, const uint8_t *data, size_t len);

/* CRC-16/MODBUS of a whole buffer. */
uint16_t crc16_modbus(const uint8_t *data, size_t len);

#endif
