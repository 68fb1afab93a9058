/* statefile: atomic, versioned state file around the nvm image (see statefile.h). */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvm.h"

#define SERIAL_FIELD 20u
#define CRC_AT 44u

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* Reads the whole file; -1 with errno on an error, -2 when too big. */
static long read_all(int fd, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            uint8_t extra;
            ssize_t r = read(fd, &extra, 1);
            return r == 0 ? (long)n : r < 0 ? -1 : -2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return (long)n;
        n += (size_t)r;
    }
}

statefile_status_t statefile_load(const char *path, meter_t *m, char *msg, size_t msglen)
{
    static uint8_t buf[STATEFILE_MAX_BYTES];
    msg[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        snprintf(msg, msglen,
                 "state file %s does not exist: starting a new meter; it will be "
                 "written there",
                 path);
        return STATEFILE_MISSING;
    }
    if (fd < 0) {
        snprintf(msg, msglen, "state file %s: cannot open: %s", path, strerror(errno));
        return STATEFILE_REFUSED;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(msg, msglen, "state file %s: not a regular file; refused", path);
        return STATEFILE_REFUSED;
    }
    long n = read_all(fd, buf, sizeof buf);
    int read_errno = errno;
    close(fd);
    if (n == -1) {
        snprintf(msg, msglen, "state file %s: cannot read: %s", path, strerror(read_errno));
        return STATEFILE_REFUSED;
    }
    size_t len = (size_t)n;
    size_t magic_n = len < STATEFILE_MAGIC_LEN ? len : STATEFILE_MAGIC_LEN;
    if (n == -2 || memcmp(buf, STATEFILE_MAGIC, magic_n) != 0 || len == 0) {
        snprintf(msg, msglen,
                 "%s is not a metersim state file (no \"MeterSimState\" "
                 "header); refused, and left as it is",
                 path);
        return STATEFILE_REFUSED;
    }
    if (len < STATEFILE_HEADER_LEN) {
        snprintf(msg, msglen,
                 "state file %s is truncated: %zu bytes, less than its %u-byte "
                 "header; refused, and left as it is",
                 path, len, STATEFILE_HEADER_LEN);
        return STATEFILE_REFUSED;
    }
    uint32_t version = get16(buf + 16);
    if (version != STATEFILE_VERSION) {
        snprintf(msg, msglen,
                 "state file %s has format version %u; this metersim reads "
                 "version %u only; refused, and left as it is",
                 path, version, STATEFILE_VERSION);
        return STATEFILE_REFUSED;
    }
    if (get32(buf + CRC_AT) != nvm_crc32(buf, CRC_AT) || get16(buf + 18) != STATEFILE_HEADER_LEN) {
        snprintf(msg, msglen,
                 "state file %s: its header is damaged (checksum); refused, and "
                 "left as it is",
                 path);
        return STATEFILE_REFUSED;
    }
    char serial[SERIAL_FIELD + 1];
    memcpy(serial, buf + 24, SERIAL_FIELD);
    serial[SERIAL_FIELD] = '\0';
    if (strcmp(serial, m->serial) != 0) {
        snprintf(msg, msglen,
                 "state file %s belongs to meter %s, not to meter %s; refused, "
                 "and left as it is",
                 path, serial, m->serial);
        return STATEFILE_REFUSED;
    }
    size_t image_len = get32(buf + 20);
    size_t have = len - STATEFILE_HEADER_LEN;
    if (have > image_len) {
        snprintf(msg, msglen,
                 "state file %s: %zu bytes after the image it announces; refused, "
                 "and left as it is",
                 path, have - image_len);
        return STATEFILE_REFUSED;
    }
    char cut[128] = "";
    if (have < image_len)
        snprintf(cut, sizeof cut, " (the file is truncated: %zu of %zu image bytes)", have,
                 image_len);

    uint8_t err = 0;
    nvm_status_t s = nvm_load(m, buf + STATEFILE_HEADER_LEN, have, &err);
    switch (s) {
    case NVM_OK:
        if (err)
            snprintf(msg, msglen, "state file %s: main copy used; error byte %02X: %s%s%s", path,
                     err, err & NVM_ERR_BACKUP_DATA ? "backup copy bad " : "",
                     err & NVM_ERR_MANTISSA ? "remainders below 1 uWh lost " : "", cut);
        return STATEFILE_LOADED;
    case NVM_OK_BACKUP:
        snprintf(msg, msglen,
                 "state file %s: main copy damaged, continuing from the backup "
                 "copy (error byte %02X, manual 7.1)%s",
                 path, err, cut);
        return STATEFILE_LOADED_BACKUP;
    case NVM_STOPPED:
        snprintf(msg, msglen,
                 "state file %s: main and backup copies both damaged: the meter "
                 "stops and shows error %02X (manual 7.1); the file is kept as it "
                 "is%s",
                 path, err, cut);
        return STATEFILE_STOPPED;
    case NVM_E_VERSION:
        snprintf(msg, msglen,
                 "state file %s: memory image of an unknown version %u; refused, "
                 "and left as it is",
                 path, get16(buf + STATEFILE_HEADER_LEN));
        return STATEFILE_REFUSED;
    case NVM_E_FORMAT:
        break;
    }
    snprintf(msg, msglen,
             "state file %s: the memory image is not of a known layout%s; "
             "refused, and left as it is",
             path, cut);
    return STATEFILE_REFUSED;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* The directory a path is in, for its fsync. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
    } else if (slash == path) {
        snprintf(dir, cap, "/");
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    }
}

bool statefile_save(const char *path, const meter_t *m, char *err, size_t errlen)
{
    uint8_t buf[STATEFILE_HEADER_LEN + NVM_IMAGE_LEN];
    memset(buf, 0, STATEFILE_HEADER_LEN);
    memcpy(buf, STATEFILE_MAGIC, STATEFILE_MAGIC_LEN);
    buf[16] = STATEFILE_VERSION & 0xFF;
    buf[17] = STATEFILE_VERSION >> 8;
    buf[18] = STATEFILE_HEADER_LEN;
    size_t image_len = nvm_save(m, buf + STATEFILE_HEADER_LEN, NVM_IMAGE_LEN);
    put32(buf + 20, (uint32_t)image_len);
    size_t sl = strlen(m->serial);
    memcpy(buf + 24, m->serial, sl < SERIAL_FIELD ? sl : SERIAL_FIELD);
    put32(buf + CRC_AT, nvm_crc32(buf, CRC_AT));

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "state file %s: path too long", path);
        return false;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "state file: cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    if (!write_all(fd, buf, STATEFILE_HEADER_LEN + image_len) || fsync(fd) != 0) {
        snprintf(err, errlen, "state file: writing %s failed: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return false;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "state file: cannot move %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return false;
    }
    /* The rename itself is durable only once the directory is synced. */
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            snprintf(err, errlen, "state file: syncing directory %s failed: %s", dir,
                     strerror(errno));
            close(dfd);
            return false;
        }
        close(dfd);
    }
    return true;
}
