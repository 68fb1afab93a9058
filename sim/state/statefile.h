/* statefile: the meter's non-volatile memory kept on the host's disk.
 *
 *   offset size  field (little-endian)
 *        0   16  magic "MeterSimState\r\n\x1a" (the \r\n and ^Z catch text-mode
 *                transfers and `cat`, as in PNG)
 *       16    2  file format version (STATEFILE_VERSION)
 *       18    2  header length (48)
 *       20    4  image length
 *       24   20  the meter's serial number, decimal digits, NUL-padded
 *       44    4  CRC-32 of bytes 0..43
 *       48    -  the nvm image (core/nvm.h): main copy, backup, mantissa
 *
 * Writing is atomic: the bytes go to FILE.tmp in the same directory, which is
 * fsync'ed, renamed over FILE, and the directory fsync'ed; a crash at any
 * moment leaves either the old file or the new one, never a mixture.
 *
 * Loading says what it found, and refuses (never to be overwritten) what is
 * not this program's state file: a wrong magic, an unknown version, a damaged
 * header, another meter's serial, a file cut inside its header. Damage
 * inside the image is the meter's business (7.1): main bad -> backup, both
 * bad -> the meter stops with its error byte; the host keeps the file as it
 * is while the meter is stopped.
 *
 * docs/state.md describes the format, the save interval and the decisions.
 */
#ifndef METERSIM_STATEFILE_H
#define METERSIM_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "meter.h"

#define STATEFILE_MAGIC "MeterSimState\r\n\x1a"
#define STATEFILE_MAGIC_LEN 16u
#define STATEFILE_VERSION 1u
#define STATEFILE_HEADER_LEN 48u
#define STATEFILE_MAX_BYTES (1u << 20) /* far more than any version's image */

typedef enum {
    STATEFILE_LOADED,        /* the main copy was used */
    STATEFILE_LOADED_BACKUP, /* main copy bad, backup used (message says so) */
    STATEFILE_MISSING,       /* no such file: a new meter; it will be created */
    STATEFILE_STOPPED,       /* both copies bad: the meter shows its error byte */
    STATEFILE_REFUSED,       /* not ours to read or overwrite: message says why */
} statefile_status_t;

/* Loads `path` into `m` (already meter_init'ed with the scenario's meter).
 * Writes a one-line message (without "metersim: ") into msg for every status
 * but STATEFILE_LOADED, where msg is empty. */
statefile_status_t statefile_load(const char *path, meter_t *m, char *msg, size_t msglen);

/* Writes the meter's image to `path` atomically. False with a message on an
 * I/O error (the old file is then intact). */
bool statefile_save(const char *path, const meter_t *m, char *err, size_t errlen);

#endif
