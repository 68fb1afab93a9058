/* meter_assert: the default failure handler (see meter_assert.h). */
#include "meter_assert.h"

__attribute__((weak, noreturn)) void meter_assert_fail(const char *expr, const char *file, int line)
{
    (void)expr;
    (void)file;
    (void)line;
    __builtin_trap();
}
