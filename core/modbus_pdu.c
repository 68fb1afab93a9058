/* modbus_pdu: function dispatch, the register map and exceptions (see
 * modbus_pdu.h; Modbus Application Protocol V1.1b3, 6.3, 6.4, 6.6, 6.12, 7). */
#include "modbus_pdu.h"

#include <string.h>

#include "meter_assert.h"
#include "modbus_map.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

void modbus_pdu_handle(const access_t *acc, const uint8_t *pdu, size_t len, bool broadcast,
                       uint8_t *out, modbus_pdu_result_t *res)
{
    METER_ASSERT(acc && pdu && out && res && len >= 1);
    memset(res, 0, sizeof *res);
    uint8_t fc = pdu[0];
    modbus_ex_t ex = MODBUS_EX_NONE;
    readings_t r;

    switch (fc) {
    case 0x03:
    case 0x04: { /* Read Holding / Input Registers: both read A3.2 (docs/modbus.md) */
        if (len != 5) {
            res->malformed = true;
            return;
        }
        if (broadcast)
            return; /* reads are never broadcast (Serial Line 2.1) */
        uint16_t start = get16(pdu + 1), qty = get16(pdu + 3);
        if (qty < 1 || qty > MODBUS_MAP_READ_MAX) {
            ex = MODBUS_EX_ILLEGAL_VALUE; /* Application Protocol 6.3 */
            break;
        }
        acc->read(acc->ctx, &r);
        ex = modbus_map_read(&r, start, qty, out + 2);
        if (ex == MODBUS_EX_NONE) {
            out[0] = fc;
            out[1] = (uint8_t)(2 * qty);
            res->len = (uint16_t)(2 + 2 * qty);
        }
        break;
    }
    case 0x06: { /* Write Single Register */
        if (len != 5) {
            res->malformed = true;
            return;
        }
        acc->read(acc->ctx, &r);
        ex = modbus_map_write(acc, &r, get16(pdu + 1), 1, pdu + 3);
        if (ex == MODBUS_EX_NONE) {
            memcpy(out, pdu, 5); /* the reply echoes the request (6.6) */
            res->len = 5;
            res->wrote = true;
        }
        break;
    }
    case 0x10: { /* Write Multiple Registers */
        if (len < 6 || len != 6u + pdu[5]) {
            res->malformed = true;
            return;
        }
        uint16_t start = get16(pdu + 1), qty = get16(pdu + 3);
        if (qty < 1 || qty > MODBUS_MAP_WRITE_MAX || pdu[5] != 2 * qty) {
            ex = MODBUS_EX_ILLEGAL_VALUE; /* Application Protocol 6.12 */
            break;
        }
        acc->read(acc->ctx, &r);
        ex = modbus_map_write(acc, &r, start, qty, pdu + 6);
        if (ex == MODBUS_EX_NONE) {
            memcpy(out, pdu, 5);
            res->len = 5;
            res->wrote = true;
        }
        break;
    }
    default:
        ex = MODBUS_EX_ILLEGAL_FUNCTION;
        break;
    }
    if (broadcast) {
        res->len = 0; /* carried out, never answered (Serial Line 2.1) */
        return;
    }
    if (ex != MODBUS_EX_NONE) {
        out[0] = (uint8_t)(fc | 0x80);
        out[1] = (uint8_t)ex;
        res->len = 2;
        res->exception = true;
    }
}
