/* The salvage of a damaged store (docs/OPERATIONS.md 4.1, PROTOCOL.md
 * section 14), at start, before the relay listens, on the thread that
 * opens the store.
 *
 * DESIGN.  A store file that fails SQLite's integrity check is never
 * opened as the store again, never changed, never deleted: it is kept,
 * with its -wal and -shm, under DATA/damaged-<UTC time>/ (hard links,
 * so its bytes are the ones found).  What can still be read of it is
 * read from a working copy (opening a WAL database writes to it) into a
 * new store built under store.sqlite.new by the ordinary creation path,
 * which renames it into place only once whole.  The steps that change
 * DATA are ordered so that a crash at any point leaves either the
 * damaged store in place (salvaged again at the next start) or the file
 * DATA/store.salvage naming the kept folder: while it exists, the next
 * start salvages again from the kept files, which gives the same new
 * store, and no start ever opens an empty queue in place of the damaged
 * one.  Rows the file's b-trees no longer reach (its first page, its
 * schema's text, a root or an interior page destroyed, or past a cut)
 * are read from its pages directly (store_salvage_raw.c), once the
 * reading meets damage.  When nothing at all can be read (no message
 * record on any page) nothing is moved and the relay refuses to start, as
 * before.  Then the store check runs on the new store as on any other
 * (store_check.c). */
#include "store_salvage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"

#define MARKER "store.salvage"
#define KEPT_PREFIX "damaged-"

typedef struct {
    const char *dir, *path; /* DATA, DATA/store.sqlite */
    char kept[4200];        /* DATA/damaged-<time> */
    char work[4200];        /* the working copy of the damaged file */
    char tmp[4200];         /* the new store until it is whole */
    char marker[4200];
    bool resume;            /* a salvage cut short: from the kept files */
    const char *why;        /* what the start check found */
} files_t;

static int sys_err(const char *what, const char *path)
{
    return am_errf(AM_EIO, "store salvage: cannot %s %s: %s", what, path,
                   strerror(errno));
}

static int copy_fd(int in, int out, const char *to)
{
    uint8_t buf[65536];
    ssize_t n;

    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sys_err("read for", to);
        if (am_fd_write_all(out, buf, (size_t)n) != 0)
            return sys_err("write", to);
    }
    return 0;
}

/* from copied to a new file to; 1 when from does not exist. */
static int copy_file(const char *from, const char *to, bool sync)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc;

    if (in < 0)
        return errno == ENOENT ? 1 : sys_err("open", from);
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        rc = sys_err("create", to);
    else if ((rc = copy_fd(in, out, to)) == 0 && sync && fsync(out) != 0)
        rc = sys_err("sync", to);
    if (out >= 0 && close(out) != 0 && rc == 0)
        rc = sys_err("close", to);
    close(in);
    return rc;
}

/* A -wal that holds no frame is only what a reader created. */
static bool has_wal(const char *db)
{
    char wal[4400];
    struct stat st;

    if (snprintf(wal, sizeof wal, "%s-wal", db) >= (int)sizeof wal)
        return false; /* no such name: the caller's paths are shorter */
    return stat(wal, &st) == 0 && st.st_size > 0;
}

/* The working copy: salvage reads only this, never the kept files. */
static int work_copy(files_t *f)
{
    char from[4400], to[4400], src[4300];
    int rc;

    snprintf(src, sizeof src, "%s/store.sqlite", f->kept);
    if (!f->resume)
        snprintf(src, sizeof src, "%s", f->path);
    if ((rc = store_remove_files(f->work)) != 0 ||
        (rc = copy_file(src, f->work, false)) != 0)
        return rc != 1 ? rc : am_errf(AM_EIO, "store salvage: %s is gone",
                                       src);
    if (!has_wal(src))
        return 0;
    snprintf(from, sizeof from, "%s-wal", src);
    snprintf(to, sizeof to, "%s-wal", f->work);
    if ((rc = copy_file(from, to, false)) < 0)
        return AM_EIO;
    /* the copy's log read through its damage, so that SQLite applies
     * every committed frame (store_wal.c); the kept one stays as found */
    return rc == 1 ? 0 : store_wal_repair_copy(f->work);
}

/* DATA/damaged-<UTC time>, new (-2, -3... when that name is taken). */
static int make_kept(files_t *f)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
        return am_errf(AM_EIO, "store salvage: no time for the folder name");
    for (int i = 1; i < 100; i++) {
        if (i == 1)
            snprintf(f->kept, sizeof f->kept, "%s/" KEPT_PREFIX "%s", f->dir,
                     stamp);
        else
            snprintf(f->kept, sizeof f->kept, "%s/" KEPT_PREFIX "%s-%d",
                     f->dir, stamp, i);
        if (mkdir(f->kept, 0700) == 0)
            return store_sync_dir(f->dir);
        if (errno != EEXIST)
            return sys_err("create", f->kept);
    }
    return am_errf(AM_EIO, "store salvage: no free name for %s", f->kept);
}

/* The damaged files into the kept folder, as they are: a hard link, or a
 * copy where the file system has none.  The -shm only with a -wal. */
static int keep(files_t *f)
{
    static const char *const ext[] = {"", "-wal", "-shm"};
    char from[4300], to[4300];
    const char *name;
    bool wal = has_wal(f->path);
    int rc;

    if ((rc = make_kept(f)) != 0)
        return rc;
    name = strrchr(f->kept, '/') + 1;
    for (size_t i = 0; i < 3 && (i == 0 || wal); i++) {
        snprintf(from, sizeof from, "%s%s", f->path, ext[i]);
        snprintf(to, sizeof to, "%s/store.sqlite%s", f->kept, ext[i]);
        if (link(from, to) != 0 && errno != ENOENT &&
            (rc = copy_file(from, to, true)) < 0)
            return rc;
    }
    if ((rc = store_sync_dir(f->kept)) != 0)
        return rc;
    /* from here on, a start salvages again from the kept files */
    return am_file_write(f->marker, name, strlen(name), 0600, true);
}

/* The kept folder a salvage cut short named; 0 when none is under way. */
static int read_marker(files_t *f)
{
    uint8_t *text = NULL;
    size_t len = 0, i;
    mode_t mode;
    int rc;

    if (access(f->marker, F_OK) != 0)
        return errno == ENOENT ? 0 : sys_err("read", f->marker);
    if ((rc = am_file_read(f->marker, 64, &text, &len, &mode)) != 0)
        return rc;
    for (i = 0; i < len && (text[i] == '-' || (text[i] >= '0' &&
                            text[i] <= '9') || (text[i] >= 'A' &&
                            text[i] <= 'Z') || (text[i] >= 'a' &&
                            text[i] <= 'z')); i++)
        ;
    if (i != len || strncmp((char *)text, KEPT_PREFIX,
                            strlen(KEPT_PREFIX)) != 0)
        rc = am_errf(AM_EIO, "store salvage: %s does not name a folder %s*: "
                     "%s", f->marker, KEPT_PREFIX, store_check_advice);
    else
        snprintf(f->kept, sizeof f->kept, "%s/%s", f->dir, (char *)text);
    am_free(text);
    return rc != 0 ? rc : 1;
}

/* The working copy, for reading only.  writable_schema: a file cut short
 * still has the length it had in its header, and SQLite refuses to read
 * any of it unless told to take the length of the file instead. */
static int open_src(salvage_t *v, const char *work)
{
    char wal[4300];
    struct stat a, b;

    snprintf(wal, sizeof wal, "%s-wal", work);
    if (stat(work, &a) != 0)
        return sys_err("read", work);
    v->cap = (int64_t)(a.st_size / 8) + 1024;
    if (stat(wal, &b) == 0)
        v->cap += (int64_t)(b.st_size / 8);
    if (sqlite3_open_v2(work, &v->src, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(v->src, "PRAGMA writable_schema = ON; "
                     "PRAGMA cell_size_check = ON; PRAGMA query_only = ON",
                     NULL, NULL, NULL) != SQLITE_OK)
        return am_errf(AM_EIO, "store salvage: cannot open %s: %s", work,
                       v->src ? sqlite3_errmsg(v->src) : "out of memory");
    /* a damaged length must not make SQLite allocate what it says */
    sqlite3_limit(v->src, SQLITE_LIMIT_LENGTH, (int)(AM_ENV_MAX + 65536));
    /* one read transaction for every lookup; an error may end it */
    (void)sqlite3_exec(v->src, "BEGIN", NULL, NULL, NULL);
    return 0;
}

static uint64_t lost_rows(const sv_table_t *t)
{
    int64_t top = t->hi > t->known ? t->hi : t->known;

    return top > (int64_t)t->copied ? (uint64_t)top - t->copied : 0;
}

/* Nothing to start on: no messages table, or none of its rows, while it
 * had some or cannot say. */
static bool nothing(const salvage_t *v)
{
    const sv_table_t *m = &v->t[SV_MESSAGES];

    return !m->readable || (m->copied == 0 && (m->known != 0 || v->seq_hi > 0));
}

static int write_lost(salvage_t *v, const files_t *f)
{
    char path[4300];
    FILE *out;
    int rc;

    snprintf(path, sizeof path, "%s/lost.txt", f->kept);
    if ((out = fopen(path, "w")) == NULL)
        return sys_err("create", path);
    rc = sv_write_lost(v, out);
    if ((fflush(out) != 0 || ferror(out) || fsync(fileno(out)) != 0) &&
        rc == 0)
        rc = sys_err("write", path);
    if (fclose(out) != 0 && rc == 0)
        rc = sys_err("write", path);
    return rc != 0 ? rc : store_sync_dir(f->kept);
}

/* The new store in place of the damaged one: the damaged -wal and -shm
 * first (kept), which SQLite would otherwise read as the new store's. */
static int swap(am_store_t *s, const files_t *f)
{
    static const char *const ext[] = {"-wal", "-shm"};
    char name[4300];
    int rc;

    for (size_t i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s%s", f->path, ext[i]);
        if (unlink(name) != 0 && errno != ENOENT)
            return sys_err("remove", name);
    }
    if ((rc = store_create_finish(s, f->tmp, f->path)) != 0 ||
        (rc = store_sync_dir(f->dir)) != 0)
        return rc;
    if (unlink(f->marker) != 0 && errno != ENOENT)
        return sys_err("remove", f->marker);
    return store_sync_dir(f->dir);
}

static void log_problems(const salvage_t *v)
{
    static const char *const name[SV_NTABLES] = {
        "messages", "deliveries", "notices", "audit", "acknowledgements"};

    for (int i = 0; i < SV_NTABLES; i++)
        if (v->t[i].first_gap > 0 || v->t[i].dropped > 0)
            fprintf(stderr, "amanat-relay: store salvage: %s: %llu of %lld "
                    "records not recovered (%llu unreadable from %lld on, "
                    "%llu read but damaged)\n", name[i],
                    (unsigned long long)lost_rows(&v->t[i]),
                    (long long)(v->t[i].hi > v->t[i].known ? v->t[i].hi
                                                           : v->t[i].known),
                    (unsigned long long)(lost_rows(&v->t[i]) -
                                         v->t[i].dropped - v->t[i].left),
                    (long long)(v->t[i].first_gap > 0 ? v->t[i].first_gap
                                                      : 0),
                    (unsigned long long)v->t[i].dropped);
    if (v->t[SV_MESSAGES].known < 0)
        fprintf(stderr, "amanat-relay: store salvage: how many messages the "
                "store held could not be read: any accepted after seq %lld "
                "may be lost without a trace\n", (long long)v->seq_hi);
    if (lost_rows(&v->t[SV_AUDIT]) > 0)
        fprintf(stderr, "amanat-relay: store salvage: audit: records from "
                "%lld could not be read back: `amanat-relay audit verify` "
                "reports the chain broken there (the records before it "
                "still verify; the chain goes on from the last record read)"
                "\n", (long long)v->t[SV_AUDIT].first_gap);
    if (v->lost > 0)
        fprintf(stderr, "amanat-relay: store salvage: %llu messages LOST: "
                "the relay will neither deliver them nor tell their senders "
                "(the sender of each is named only in its lost record); "
                "what is known of each is in lost.txt: tell the agencies\n",
                (unsigned long long)v->lost);
}

static void log_summary(const salvage_t *v, const files_t *f, uint64_t t0)
{
    log_problems(v);
    fprintf(stderr, "amanat-relay: store salvage: %s %s; kept as %s/; "
            "recovered %llu messages (%llu held, %llu "
            "pending deliveries, %llu recreated), %llu notices, %llu audit "
            "records, %llu prekeys; lost %llu messages (%llu named by id; "
            "what is known of each in %s/lost.txt), %llu notices, %llu audit "
            "records, %llu records of messages already finished; %llu "
            "deliveries ended damaged (sender told) (%lld ms)\n", f->path,
            f->why, f->kept, (unsigned long long)v->t[SV_MESSAGES].copied,
            (unsigned long long)v->held, (unsigned long long)v->pending,
            (unsigned long long)v->recreated,
            (unsigned long long)v->t[SV_NOTICES].copied,
            (unsigned long long)v->t[SV_AUDIT].copied,
            (unsigned long long)v->prekeys, (unsigned long long)v->lost,
            (unsigned long long)v->lost_named, f->kept,
            (unsigned long long)lost_rows(&v->t[SV_NOTICES]),
            (unsigned long long)lost_rows(&v->t[SV_AUDIT]),
            (unsigned long long)v->finished, (unsigned long long)v->damaged,
            (long long)(store_ms_now() - t0));
}

static void sv_free(salvage_t *v)
{
    sqlite3_close(v->src);
    sqlite3_close(v->raw);
    am_free(v->got);
    am_free(v->named);
    am_free(v->orph);
    am_free(v->untold);
}

/* Read everything into the new store (f->tmp, on s->db, one transaction)
 * and keep the damaged files: 1 when nothing could be read (nothing
 * kept, nothing changed). */
static int rebuild(am_store_t *s, salvage_t *v, files_t *f)
{
    int rc;

    v->work = f->work;
    if ((rc = work_copy(f)) != 0 || (rc = open_src(v, f->work)) != 0 ||
        (rc = store_create_begin(s, f->tmp)) != 0)
        return rc;
    if ((rc = store_exec(s, "BEGIN")) != 0 || (rc = sv_read_all(v)) != 0 ||
        (rc = sv_fix(v)) != 0)
        goto fail;
    if (nothing(v)) {
        rc = 1;
        goto fail;
    }
    if ((!f->resume && (rc = keep(f)) != 0) ||
        (rc = write_lost(v, f)) != 0 || (rc = store_exec(s, "COMMIT")) != 0)
        goto fail;
    return 0;
fail:
    store_create_abort(s, f->tmp);
    return rc;
}

static int salvage(am_store_t *s, files_t *f)
{
    salvage_t v;
    uint64_t t0 = store_ms_now();
    int rc;

    memset(&v, 0, sizeof v);
    v.s = s;
    v.now = (int64_t)time(NULL);
    snprintf(f->work, sizeof f->work, "%s.salvage", f->path);
    snprintf(f->tmp, sizeof f->tmp, "%s.new", f->path);
    if ((rc = rebuild(s, &v, f)) == 0 && (rc = swap(s, f)) == 0)
        log_summary(&v, f, t0);
    sv_free(&v);
    if (store_remove_files(f->work) != 0 && rc == 0)
        rc = AM_EIO;
    if (rc == 1) {
        fprintf(stderr, "amanat-relay: store salvage: nothing could be read "
                "back from %s (no message record, through its b-trees or "
                "from its pages)\n",
                f->path);
        return am_errf(AM_EIO, "store %s is damaged and nothing could be "
                       "salvaged from it: %s", f->path, store_check_advice);
    }
    return rc;
}

int store_salvage_check(am_store_t *s, const char *dir, const char *path)
{
    files_t f;
    int rc;

    memset(&f, 0, sizeof f);
    f.dir = dir;
    f.path = path;
    f.why = "failed the start check (its salvage resumed)";
    snprintf(f.marker, sizeof f.marker, "%s/" MARKER, dir);
    /* a salvage killed between putting its new store in place and
     * removing its working copy leaves that copy (as large as the damaged
     * file) and nothing that would salvage again: removed here */
    snprintf(f.work, sizeof f.work, "%s.salvage", path);
    if ((rc = store_remove_files(f.work)) != 0 ||
        (rc = read_marker(&f)) < 0)
        return rc;
    if (rc == 1) {
        fprintf(stderr, "amanat-relay: store salvage: the salvage of %s was "
                "cut short: done again from %s/\n", path, f.kept);
        f.resume = true;
        return salvage(s, &f);
    }
    if ((rc = store_check_file(path)) <= 0)
        return rc;
    f.why = rc == 2 ? "has a damaged write-ahead log (store.sqlite-wal)"
                    : "failed the integrity or schema check";
    return salvage(s, &f);
}
