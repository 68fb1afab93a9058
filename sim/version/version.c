/* version: the string the Makefile passes in (version.h). */
#include "version.h"

#ifndef METERSIM_VERSION
#define METERSIM_VERSION "unknown (built without the Makefile)"
#endif

const char *version_string(void)
{
    return METERSIM_VERSION;
}
