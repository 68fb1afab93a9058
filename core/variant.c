/* variant: the models' table (see variant.h). */
#include "variant.h"

#include <string.h>

#include "meter_assert.h"

#define ALL_CONNECTIONS ((uint8_t)((1u << CONNECTION_COUNT) - 1u))

// clang-format off
static const variant_t VARIANTS[METER_MODEL_COUNT] = {
    [METER_MODEL_4PU]  = {METER_MODEL_4PU,  "4PU",  "879-3000",   0x1111, 65, false, 5, 5,    5, ALL_CONNECTIONS},
    [METER_MODEL_4PS]  = {METER_MODEL_4PS,  "4PS",  "879-3020",   0x1112, 65, false, 5, 5,    5, ALL_CONNECTIONS},
    [METER_MODEL_2PCT] = {METER_MODEL_2PCT, "2PCT", "CT version", 0x1113,  6, true,  5, 9995, 5, ALL_CONNECTIONS},
};
// clang-format on

const variant_t *variant_of(meter_model_t model)
{
    METER_ASSERT((unsigned)model < METER_MODEL_COUNT);
    return &VARIANTS[model];
}

bool variant_find(const char *name, meter_model_t *out)
{
    for (int i = 0; i < METER_MODEL_COUNT; i++)
        if (strcmp(VARIANTS[i].name, name) == 0) {
            *out = (meter_model_t)i;
            return true;
        }
    return false;
}
