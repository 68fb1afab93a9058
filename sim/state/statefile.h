/* statefile: the meter's non-volatile memory kept on the host's disk, mapped
 * into the host's memory (MAP_SHARED), so every change is in the kernel's
 * page cache the moment it is copied there and a killed host loses nothing.
 *
 * Format version 2 (docs/state.md has every field):
 *
 *   offset size  field (little-endian)
 *        0   16  magic "MeterSimState\r\n\x1a" (the \r\n and ^Z catch text-mode
 *                transfers and `cat`, as in PNG)
 *       16    2  file format version (STATEFILE_VERSION)
 *       18    2  header length (64)
 *       20    4  slot length S
 *       24   20  the meter's serial number, decimal digits, NUL-padded
 *       44    2  the meter code of its variant (0x4002: 1111 4PU, 1112 4PS, 1113 2PCT)
 *       46    1  its connection (0 3P4W, 1 3P3W-aron, 2 3P3W-delta, 3 1P2W)
 *       47   13  reserved, 0
 *       60    4  CRC-32 of bytes 0..59
 *       64    S  slot A  } each: sequence number (8), image length N (4),
 *     64+S    S  slot B  } the nvm image (core/nvm.h), CRC-32 of the slot's
 *                          first 12+N bytes (4)
 *
 * The host writes the image into the older slot with the next sequence
 * number, so a write cut short by a kill leaves the other slot whole; the
 * newest slot whose CRC holds is loaded. Inside a slot the image keeps the
 * meter's own main and backup copies (7.1): when neither slot's CRC holds,
 * the meter's rules decide (main, else backup, else it stops).
 *
 * Version 1 files (a 48-byte header and one image, of nvm version 1 or 2) are
 * read and rewritten as version 2 when the run starts.
 *
 * A file is locked (fcntl F_SETLK, a write lock on the whole file) from its
 * opening to the end of the run: a second process is refused, with the
 * holder's pid. A file of another serial, variant or connection is refused.
 */
#ifndef METERSIM_STATEFILE_H
#define METERSIM_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "meter.h"

#define STATEFILE_MAGIC "MeterSimState\r\n\x1a"
#define STATEFILE_MAGIC_LEN 16u
#define STATEFILE_VERSION 2u
#define STATEFILE_HEADER_LEN 64u
#define STATEFILE_V1_HEADER_LEN 48u
#define STATEFILE_MAX_BYTES (1u << 20) /* far more than any version's image */

typedef enum {
    STATEFILE_LOADED,        /* the main copy was used */
    STATEFILE_LOADED_BACKUP, /* main copy bad, backup used (message says so) */
    STATEFILE_MISSING,       /* no such file: a new meter; it will be created */
    STATEFILE_STOPPED,       /* both copies bad: the meter shows its error byte */
    STATEFILE_REFUSED,       /* not ours to read or overwrite: message says why */
    STATEFILE_BUSY,          /* locked by another process: message names its pid */
} statefile_status_t;

typedef struct statefile {
    char path[600];
    int fd;       /* open and locked; -1 when closed */
    bool created; /* this process created the (empty) file */
    bool rewrite; /* no file, or an older version: written whole at statefile_map */
    uint8_t *map; /* the file, mapped; NULL until statefile_map */
    size_t len;   /* bytes mapped */
    uint64_t seq; /* sequence number of the newest slot */
    int next;     /* the slot written next (0 A, 1 B): the older one */
    bool gone;    /* the last statefile_sync found no file at the path */
    dev_t dev;    /* the file the path named when it was mapped */
    ino_t ino;
} statefile_t;

/* Opens `path`, locks it and loads it into `m` (already meter_init'ed with
 * the scenario's meter). Writes a one-line message (without "metersim: ")
 * into msg for every status but STATEFILE_LOADED, where msg is empty. On
 * STATEFILE_REFUSED and STATEFILE_BUSY the file is closed and untouched. */
statefile_status_t statefile_open(statefile_t *f, const char *path, meter_t *m, char *msg,
                                  size_t msglen);

/* Maps the file for writing, creating it (no file) or rewriting it whole
 * (an older version) from the image of `m` first. False with a message. */
bool statefile_map(statefile_t *f, const meter_t *m, char *err, size_t errlen);

/* Copies the image of `m` into the older slot: in the page cache at once. */
void statefile_write(statefile_t *f, const meter_t *m);

/* Makes the mapped file durable (msync) and checks that the path still names
 * it. False with a message when it does not, or the sync failed. */
bool statefile_sync(statefile_t *f, char *err, size_t errlen);

/* Puts a file that is gone from its path back there, whole, from `m`'s
 * image, and maps it instead; never over anything else at the path. */
bool statefile_restore(statefile_t *f, const meter_t *m, char *err, size_t errlen);

/* Unmaps, unlocks and closes; removes an empty file this process created
 * and never wrote. */
void statefile_close(statefile_t *f);

#endif
