/* modbus_pdu: the meter's Modbus request handler, apart from any framing.
 *
 *   RTU framer (modbus.h) ----+                         +--> access->read  (03, 04)
 *                             +--> modbus_pdu_handle() -+
 *   TCP gateway --> RTU ------+    function dispatch,   +--> access->set / reset (06, 16)
 *                                  the register map,
 *                                  exceptions 01-03
 *
 * A PDU is the function code and its data (Modbus Application Protocol
 * V1.1b3, 4.1), the same bytes in an RTU ADU (between address and CRC) and
 * in a Modbus TCP ADU (after the MBAP header). Functions: 03 and 04 read the
 * A3.2 map (both the same, docs/modbus.md), 06 and 16 write it (A3.3); any
 * other function gets exception 01; a quantity outside 1..125 (read) or
 * 1..123 (write), or a byte count that does not match, exception 03; an
 * address outside the map, exception 02 (modbus_map.h).
 *
 * A request whose length its function does not have is malformed: it gets
 * no reply at all (a slave cannot know what was meant), and the framer
 * counts it. A broadcast is carried out and never answered (Serial Line 2.1);
 * reads are never broadcast.
 */
#ifndef METERSIM_MODBUS_PDU_H
#define METERSIM_MODBUS_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"

#define MODBUS_PDU_MAX 253u /* Application Protocol 4.1: 256 - address - CRC */

typedef struct modbus_pdu_result {
    uint16_t len;   /* reply PDU length in out; 0: no reply */
    bool wrote;     /* a setting or a counter changed (new ID, baud rate, parity?) */
    bool exception; /* the reply is an exception */
    bool malformed; /* a length its function does not have: no reply */
} modbus_pdu_result_t;

/* Handles one request PDU of `len` bytes (>= 1) for the meter behind `acc`;
 * writes the reply PDU into `out` (room for MODBUS_PDU_MAX bytes). */
void modbus_pdu_handle(const access_t *acc, const uint8_t *pdu, size_t len, bool broadcast,
                       uint8_t *out, modbus_pdu_result_t *res);

#endif
