/* statefile: locked, mapped, versioned state file around the nvm image (see
 * statefile.h, docs/state.md). */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "nvm.h"
#include "variant.h"

#define SERIAL_AT 24u
#define SERIAL_FIELD 20u
#define CODE_AT 44u
#define CONN_AT 46u
#define CRC_AT 60u
#define V1_CRC_AT 44u
/* A slot: sequence number (8), image length (4), the image, CRC-32 (4). */
#define SLOT_IMAGE_AT 12u
#define SLOT_LEN (SLOT_IMAGE_AT + NVM_IMAGE_LEN + 4u)
#define FILE_LEN (STATEFILE_HEADER_LEN + 2u * SLOT_LEN)

static const char *const conn_names[CONNECTION_COUNT] = {"3P4W", "3P3W-aron", "3P3W-delta", "1P2W"};

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Reads the whole file from its start; -1 with errno on an error, -2 when
 * too big. */
static long read_all(int fd, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            uint8_t extra;
            ssize_t r = pread(fd, &extra, 1, (off_t)n);
            return r == 0 ? (long)n : r < 0 ? -1 : -2;
        }
        ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return (long)n;
        n += (size_t)r;
    }
}

static const char *variant_name_of_code(uint32_t code, char *buf, size_t cap)
{
    for (int k = 0; k < METER_MODEL_COUNT; k++) {
        const variant_t *v = variant_of((meter_model_t)k);
        if (v->meter_code == code) {
            snprintf(buf, cap, "%s (%s)", v->name, v->article);
            return buf;
        }
    }
    snprintf(buf, cap, "unknown variant (meter code %04X)", code);
    return buf;
}

/* The meter's rules on one image (7.1), for messages and the pick between
 * two damaged slots: lower is better. */
static int rank(nvm_status_t s)
{
    switch (s) {
    case NVM_OK:
        return 0;
    case NVM_OK_BACKUP:
        return 1;
    case NVM_STOPPED:
        return 2;
    default:
        return 3;
    }
}

/* Loads an image with the meter's rules and says what it found. */
static statefile_status_t load_image(const char *path, meter_t *m, const uint8_t *img, size_t have,
                                     size_t image_len, char *msg, size_t msglen)
{
    char cut[128] = "";
    if (have < image_len)
        snprintf(cut, sizeof cut, " (the file is truncated: %zu of %zu image bytes)", have,
                 image_len);
    uint8_t err = 0;
    nvm_status_t s = nvm_load(m, img, have, &err);
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
                 path, have >= 2 ? get16(img) : 0u);
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

/* A version 1 file: a 48-byte header and one image. */
static statefile_status_t load_v1(statefile_t *f, meter_t *m, const uint8_t *buf, size_t len,
                                  char *msg, size_t msglen)
{
    const char *path = f->path;
    if (len < STATEFILE_V1_HEADER_LEN) {
        snprintf(msg, msglen,
                 "state file %s is truncated: %zu bytes, less than its %u-byte "
                 "header; refused, and left as it is",
                 path, len, STATEFILE_V1_HEADER_LEN);
        return STATEFILE_REFUSED;
    }
    if (get32(buf + V1_CRC_AT) != crc32_ieee(buf, V1_CRC_AT) ||
        get16(buf + 18) != STATEFILE_V1_HEADER_LEN) {
        snprintf(msg, msglen,
                 "state file %s: its header is damaged (checksum); refused, and "
                 "left as it is",
                 path);
        return STATEFILE_REFUSED;
    }
    char serial[SERIAL_FIELD + 1];
    memcpy(serial, buf + SERIAL_AT, SERIAL_FIELD);
    serial[SERIAL_FIELD] = '\0';
    if (strcmp(serial, m->serial) != 0) {
        snprintf(msg, msglen,
                 "state file %s belongs to meter %s, not to meter %s; refused, "
                 "and left as it is",
                 path, serial, m->serial);
        return STATEFILE_REFUSED;
    }
    size_t image_len = get32(buf + 20);
    size_t have = len - STATEFILE_V1_HEADER_LEN;
    if (have > image_len) {
        snprintf(msg, msglen,
                 "state file %s: %zu bytes after the image it announces; refused, "
                 "and left as it is",
                 path, have - image_len);
        return STATEFILE_REFUSED;
    }
    f->rewrite = true; /* to version 2 when the run starts (statefile_map) */
    return load_image(path, m, buf + STATEFILE_V1_HEADER_LEN, have, image_len, msg, msglen);
}

/* One slot of a version 2 file, as found. */
typedef struct {
    bool ok; /* whole, CRC sound */
    uint64_t seq;
    const uint8_t *img;
    size_t have, image_len;
} slot_t;

static void read_slot(const uint8_t *buf, size_t len, size_t off, size_t slot_len, slot_t *s)
{
    memset(s, 0, sizeof *s);
    size_t have = off < len ? len - off : 0;
    if (have > slot_len)
        have = slot_len;
    const uint8_t *p = buf + off;
    if (have < SLOT_IMAGE_AT)
        return;
    s->seq = get64(p);
    s->image_len = get32(p + 8);
    s->img = p + SLOT_IMAGE_AT;
    s->have = have - SLOT_IMAGE_AT;
    if (s->image_len + 4 > slot_len - SLOT_IMAGE_AT) {
        s->image_len = slot_len - SLOT_IMAGE_AT - 4;
        s->have = s->have < s->image_len ? s->have : s->image_len;
        return; /* a length that does not fit: damaged */
    }
    if (s->have > s->image_len)
        s->have = s->image_len;
    size_t end = SLOT_IMAGE_AT + s->image_len;
    s->ok = have >= end + 4 && get32(p + end) == crc32_ieee(p, end);
}

static statefile_status_t load_v2(statefile_t *f, meter_t *m, const uint8_t *buf, size_t len,
                                  char *msg, size_t msglen)
{
    const char *path = f->path;
    if (len < STATEFILE_HEADER_LEN) {
        snprintf(msg, msglen,
                 "state file %s is truncated: %zu bytes, less than its %u-byte "
                 "header; refused, and left as it is",
                 path, len, STATEFILE_HEADER_LEN);
        return STATEFILE_REFUSED;
    }
    size_t slot_len = get32(buf + 20);
    if (get32(buf + CRC_AT) != crc32_ieee(buf, CRC_AT) || get16(buf + 18) != STATEFILE_HEADER_LEN ||
        slot_len < SLOT_IMAGE_AT + 4 + NVM_HEADER_LEN || slot_len > STATEFILE_MAX_BYTES / 2) {
        snprintf(msg, msglen,
                 "state file %s: its header is damaged (checksum); refused, and "
                 "left as it is",
                 path);
        return STATEFILE_REFUSED;
    }
    char serial[SERIAL_FIELD + 1];
    memcpy(serial, buf + SERIAL_AT, SERIAL_FIELD);
    serial[SERIAL_FIELD] = '\0';
    if (strcmp(serial, m->serial) != 0) {
        snprintf(msg, msglen,
                 "state file %s belongs to meter %s, not to meter %s; refused, "
                 "and left as it is",
                 path, serial, m->serial);
        return STATEFILE_REFUSED;
    }
    /* The variant and the connection are what the memory means: a 4PS does
     * not take a 4PU's registers, a 1P2W meter not a 3P4W one's phases. */
    const variant_t *v = variant_of(m->model);
    uint32_t code = get16(buf + CODE_AT);
    if (code != v->meter_code) {
        char a[64], b[64];
        snprintf(msg, msglen,
                 "state file %s belongs to a %s meter, not to this %s; refused, and left as it "
                 "is",
                 path, variant_name_of_code(code, a, sizeof a),
                 variant_name_of_code(v->meter_code, b, sizeof b));
        return STATEFILE_REFUSED;
    }
    unsigned conn = buf[CONN_AT];
    if (conn != (unsigned)m->connection) {
        snprintf(msg, msglen,
                 "state file %s belongs to a meter connected as %s, not as %s; refused, and left "
                 "as it is",
                 path, conn < CONNECTION_COUNT ? conn_names[conn] : "an unknown connection",
                 conn_names[m->connection]);
        return STATEFILE_REFUSED;
    }
    size_t whole = STATEFILE_HEADER_LEN + 2 * slot_len;
    if (len > whole) {
        snprintf(msg, msglen,
                 "state file %s: %zu bytes after the two slots it announces; refused, "
                 "and left as it is",
                 path, len - whole);
        return STATEFILE_REFUSED;
    }
    if (len < whole || slot_len != SLOT_LEN)
        f->rewrite = true; /* cut short, or another image length: written whole */
    slot_t s[2];
    read_slot(buf, len, STATEFILE_HEADER_LEN, slot_len, &s[0]);
    read_slot(buf, len, STATEFILE_HEADER_LEN + slot_len, slot_len, &s[1]);
    int use;
    if (s[0].ok || s[1].ok) {
        /* The newest whole slot; the other is older, or a write a kill cut
         * short: nothing to say. */
        use = s[0].ok && s[1].ok ? (s[1].seq > s[0].seq) : s[1].ok;
    } else {
        /* Both slots damaged: the meter's own rules (7.1) on each image, the
         * better outcome used (a newer one between equals). */
        meter_t *scratch = malloc(sizeof *scratch);
        int r[2] = {3, 3};
        for (int i = 0; i < 2 && scratch; i++) {
            uint8_t e;
            memcpy(scratch, m, sizeof *scratch);
            r[i] = rank(nvm_load(scratch, s[i].img, s[i].have, &e));
        }
        free(scratch);
        use = r[1] < r[0] || (r[1] == r[0] && s[1].seq > s[0].seq);
    }
    /* Writes go on above every sequence number that can be trusted (a
     * damaged slot's may be anything). */
    bool any_ok = s[0].ok || s[1].ok;
    for (int i = 0; i < 2; i++)
        if ((s[i].ok || !any_ok) && s[i].seq > f->seq)
            f->seq = s[i].seq;
    f->next = !use;
    return load_image(path, m, s[use].img, s[use].have, s[use].image_len, msg, msglen);
}

/* Locks the open file `fd` for writing; 0, or the pid of the holder (-1
 * when it cannot be told), or -2 with errno on another error. */
static long lock_file(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &fl) == 0)
        return 0;
    if (errno != EACCES && errno != EAGAIN)
        return -2;
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_GETLK, &q) != 0 || q.l_type == F_UNLCK)
        return -1; /* released in between: the caller tries again */
    return q.l_pid > 0 ? (long)q.l_pid : -1;
}

statefile_status_t statefile_open(statefile_t *f, const char *path, meter_t *m, char *msg,
                                  size_t msglen)
{
    static uint8_t buf[STATEFILE_MAX_BYTES];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    msg[0] = '\0';
    if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path) {
        snprintf(msg, msglen, "state file %.100s...: path too long; refused", path);
        return STATEFILE_REFUSED;
    }
    struct stat st;
    int fd = -1;
    bool created = false;
    /* Open and lock; the path must still name what was locked (another
     * process may have just put a new file there): else once more. */
    for (int attempt = 0;; attempt++) {
        created = false;
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            created = fd >= 0;
            if (fd < 0 && errno == EEXIST && attempt < 5)
                continue;
        }
        if (fd < 0) {
            snprintf(msg, msglen,
                     "state file %s: cannot open it for reading and writing: %s; "
                     "refused",
                     path, strerror(errno));
            return STATEFILE_REFUSED;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            snprintf(msg, msglen, "state file %s: not a regular file; refused", path);
            return STATEFILE_REFUSED;
        }
        long holder = lock_file(fd);
        if (holder == -2) {
            snprintf(msg, msglen, "state file %s: cannot lock it: %s; refused", path,
                     strerror(errno));
            close(fd);
            return STATEFILE_REFUSED;
        }
        if (holder != 0) {
            close(fd);
            if (holder == -1 && attempt < 5)
                continue;
            if (holder > 0)
                snprintf(msg, msglen,
                         "state file %s is in use by process %ld (it holds the file's lock); "
                         "refused, and left as it is",
                         path, holder);
            else
                snprintf(msg, msglen,
                         "state file %s is in use by another process (it holds the file's "
                         "lock); refused, and left as it is",
                         path);
            return STATEFILE_BUSY;
        }
        struct stat now;
        if (stat(path, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
            break;
        close(fd);
        if (attempt >= 5) {
            snprintf(msg, msglen, "state file %s keeps being replaced; refused", path);
            return STATEFILE_REFUSED;
        }
    }
    f->fd = fd;
    f->created = created;

    long n = read_all(fd, buf, sizeof buf);
    statefile_status_t rc;
    if (n == -1) {
        snprintf(msg, msglen, "state file %s: cannot read: %s", path, strerror(errno));
        rc = STATEFILE_REFUSED;
    } else if (n == 0) {
        /* Created here, or by a run that ended before writing it. */
        snprintf(msg, msglen,
                 created ? "state file %s does not exist: starting a new meter; it will be "
                           "written there"
                         : "state file %s is empty: starting a new meter; it will be written "
                           "there",
                 path);
        f->rewrite = true;
        return STATEFILE_MISSING;
    } else {
        size_t len = (size_t)n;
        size_t magic_n = len < STATEFILE_MAGIC_LEN ? len : STATEFILE_MAGIC_LEN;
        if (n == -2 || memcmp(buf, STATEFILE_MAGIC, magic_n) != 0) {
            snprintf(msg, msglen,
                     "%s is not a metersim state file (no \"MeterSimState\" "
                     "header); refused, and left as it is",
                     path);
            rc = STATEFILE_REFUSED;
        } else if (len < STATEFILE_MAGIC_LEN + 2) {
            snprintf(msg, msglen,
                     "state file %s is truncated: %zu bytes, less than its header; refused, "
                     "and left as it is",
                     path, len);
            rc = STATEFILE_REFUSED;
        } else {
            uint32_t version = get16(buf + 16);
            if (version == 1)
                rc = load_v1(f, m, buf, len, msg, msglen);
            else if (version == STATEFILE_VERSION)
                rc = load_v2(f, m, buf, len, msg, msglen);
            else {
                snprintf(msg, msglen,
                         "state file %s has format version %u; this metersim reads "
                         "versions 1 and %u; refused, and left as it is",
                         path, version, STATEFILE_VERSION);
                rc = STATEFILE_REFUSED;
            }
        }
    }
    if (rc == STATEFILE_REFUSED) {
        close(fd);
        f->fd = -1;
    }
    return rc;
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
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == path)
        snprintf(dir, cap, "/");
    else
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

static void fill_slot(uint8_t *slot, const meter_t *m, uint64_t seq)
{
    size_t n = nvm_save(m, slot + SLOT_IMAGE_AT, NVM_IMAGE_LEN);
    put64(slot, seq);
    put32(slot + 8, (uint32_t)n);
    put32(slot + SLOT_IMAGE_AT + n, crc32_ieee(slot, SLOT_IMAGE_AT + n));
}

/* The whole file, written to PATH.tmp, synced, locked, then put at the path
 * (over what is there, or only where nothing is: `noreplace`) and the
 * directory synced; the new descriptor replaces f->fd. */
static bool write_whole(statefile_t *f, const meter_t *m, bool noreplace, char *err, size_t errlen)
{
    uint8_t buf[FILE_LEN];
    memset(buf, 0, sizeof buf);
    memcpy(buf, STATEFILE_MAGIC, STATEFILE_MAGIC_LEN);
    put16(buf + 16, STATEFILE_VERSION);
    put16(buf + 18, STATEFILE_HEADER_LEN);
    put32(buf + 20, SLOT_LEN);
    size_t sl = strlen(m->serial);
    memcpy(buf + SERIAL_AT, m->serial, sl < SERIAL_FIELD ? sl : SERIAL_FIELD);
    put16(buf + CODE_AT, variant_of(m->model)->meter_code);
    buf[CONN_AT] = (uint8_t)m->connection;
    put32(buf + CRC_AT, crc32_ieee(buf, CRC_AT));
    fill_slot(buf + STATEFILE_HEADER_LEN, m, f->seq + 1);
    fill_slot(buf + STATEFILE_HEADER_LEN + SLOT_LEN, m, f->seq + 2);
    char tmp[sizeof f->path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    const char *what = "writing";
    if (!write_all(fd, buf, sizeof buf) || fsync(fd) != 0 || (what = "locking", lock_file(fd))) {
        snprintf(err, errlen, "%s %s failed: %s", what, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return false;
    }
    int r = noreplace ? link(tmp, f->path) : rename(tmp, f->path);
    if (r != 0) {
        snprintf(err, errlen, "cannot put %s at %s: %s", tmp, f->path, strerror(errno));
        close(fd);
        unlink(tmp);
        return false;
    }
    if (noreplace)
        unlink(tmp);
    /* The new name is durable only once the directory is synced. */
    char dir[sizeof f->path];
    dir_of(f->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            snprintf(err, errlen, "syncing directory %s failed: %s", dir, strerror(errno));
            close(dfd);
            close(fd);
            return false;
        }
        close(dfd);
    }
    if (f->fd >= 0)
        close(f->fd); /* the old file (empty, older, or gone): its lock goes with it */
    f->fd = fd;
    f->created = false;
    f->seq += 2;
    f->next = 0; /* slot A holds seq - 1: the older */
    return true;
}

static bool map_fd(statefile_t *f, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0 || (size_t)st.st_size != FILE_LEN) {
        snprintf(err, errlen, "state file %s: not %u bytes long", f->path, FILE_LEN);
        return false;
    }
    void *p = mmap(NULL, FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "state file %s: cannot map it: %s", f->path, strerror(errno));
        return false;
    }
    f->map = p;
    f->len = FILE_LEN;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    return true;
}

bool statefile_map(statefile_t *f, const meter_t *m, char *err, size_t errlen)
{
    if (f->rewrite) {
        char e[1600];
        if (!write_whole(f, m, false, e, sizeof e)) {
            snprintf(err, errlen, "state file %s: %s", f->path, e);
            return false;
        }
        f->rewrite = false;
    }
    return map_fd(f, err, errlen);
}

void statefile_write(statefile_t *f, const meter_t *m)
{
    uint8_t *slot = f->map + STATEFILE_HEADER_LEN + (size_t)f->next * SLOT_LEN;
    fill_slot(slot, m, ++f->seq);
    f->next = !f->next;
}

bool statefile_sync(statefile_t *f, char *err, size_t errlen)
{
    if (msync(f->map, f->len, MS_SYNC) != 0) {
        snprintf(err, errlen, "state file %s: writing it to the disk failed: %s", f->path,
                 strerror(errno));
        return false;
    }
    struct stat st;
    f->gone = false;
    if (stat(f->path, &st) != 0) {
        f->gone = errno == ENOENT;
        snprintf(err, errlen, "state file %s is gone (%s)", f->path, strerror(errno));
        return false;
    }
    if (st.st_dev != f->dev || st.st_ino != f->ino) {
        snprintf(err, errlen, "state file %s has been replaced by another %s", f->path,
                 S_ISDIR(st.st_mode) ? "directory" : "file");
        return false;
    }
    return true;
}

bool statefile_restore(statefile_t *f, const meter_t *m, char *err, size_t errlen)
{
    struct stat st;
    if (stat(f->path, &st) == 0) {
        /* Something else is there now: never overwritten. */
        snprintf(err, errlen, "state file %s has been replaced by another %s; not overwritten",
                 f->path, S_ISDIR(st.st_mode) ? "directory" : "file");
        return false;
    }
    /* The old mapping still holds the newest image; it is written anew. */
    uint8_t *old = f->map;
    size_t old_len = f->len;
    char e[1600];
    if (!write_whole(f, m, true, e, sizeof e)) {
        snprintf(err, errlen, "state file %s is gone, and cannot be written again: %s", f->path, e);
        return false;
    }
    munmap(old, old_len);
    f->map = NULL;
    return map_fd(f, err, errlen);
}

void statefile_close(statefile_t *f)
{
    if (f->map)
        munmap(f->map, f->len);
    f->map = NULL;
    if (f->fd >= 0) {
        struct stat a, b;
        if (f->created && fstat(f->fd, &a) == 0 && a.st_size == 0 && stat(f->path, &b) == 0 &&
            a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            unlink(f->path); /* created for the lock, never written */
        close(f->fd);
    }
    f->fd = -1;
}
