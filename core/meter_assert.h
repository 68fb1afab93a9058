/* meter_assert: a programmer's mistake stops the program (CONVENTIONS 11).
 *
 * Every public entry of the core checks with METER_ASSERT what only a
 * programmer can get wrong: a null pointer, a meter used before meter_init,
 * a phase, tariff, line or register index out of range. Bad input from
 * outside (a frame, a value written over Modbus) is never asserted: it gets a
 * return code.
 *
 * The core cannot print, so a failed assertion calls meter_assert_fail(),
 * which traps unless the program supplies its own (the cmocka tests do, to
 * check that an assertion fires). Defining NDEBUG removes the checks.
 */
#ifndef METERSIM_METER_ASSERT_H
#define METERSIM_METER_ASSERT_H

/* Called with the failed expression; must not return. The core's own
 * definition is weak and traps; a host may define a strong one. */
void meter_assert_fail(const char *expr, const char *file, int line);

#ifdef NDEBUG
#define METER_ASSERT(c) ((void)0)
#else
#define METER_ASSERT(c) ((c) ? (void)0 : meter_assert_fail(#c, __FILE__, __LINE__))
#endif

#endif
