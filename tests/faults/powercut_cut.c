/* The power cut (powercut_cut.h), in four steps: read the journal; walk
 * it forwards, giving each file an id (names move, files do not) and
 * finding what was durable; choose what survives; rebuild each file's
 * content and the folder's names from the files as the relay left them,
 * undoing every change not durable (pre-images, in reverse) and redoing
 * the kept ones (new bytes, in order), then write the result. */
#include "powercut_cut.h"

#include "../unit/test-util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powercut_log.h"
#include "powercut_fs.h"

/* One record, parsed; its bytes stay in the journal's buffer. */
typedef struct {
    pc_rec_t h;
    uint64_t pos; /* where it starts in the journal */
    char *path, *path2;
    const uint8_t *pre, *nw;
    int id, id2; /* the file changed (id2: one a rename replaced) */
    int dir;     /* the folder of a name change */
    bool durable, keep;
    size_t torn; /* a kept part of a discarded write, in bytes */
} rec_t;

typedef struct {
    const char *root;
    uint8_t *buf; /* the journal */
    size_t buf_len;
    rec_t *recs;
    size_t n_recs;
    pc_files_t files;
    pc_names_t final, want; /* names as the relay left them, and after */
    pc_cut_mode_t mode;
    uint64_t *rng;
    pc_cut_stats_t *st;
} cut_t;

static int say(const char *what, const char *name)
{
    fprintf(stderr, "powercut: %s \"%s\": %s\n", what, name,
            errno ? strerror(errno) : "bad data");
    return -1;
}

static int read_journal(cut_t *c, const char *log)
{
    struct stat st;
    size_t have = 0;
    int fd = open(log, O_RDONLY | O_CLOEXEC), rc = -1;

    if (fd < 0 || fstat(fd, &st) != 0)
        goto fail;
    if ((c->buf = malloc((size_t)st.st_size + 1)) == NULL)
        goto fail;
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, c->buf + have, (size_t)st.st_size - have);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        have += (size_t)n;
    }
    c->buf_len = have;
    rc = 0;
fail:
    if (fd >= 0)
        close(fd);
    return rc == 0 ? 0 : say("cannot read the journal", log);
}

static char *copy_name(const uint8_t *p, uint32_t len)
{
    char *s = malloc((size_t)len + 1);

    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Records up to the end, or to a tail a SIGKILL cut short. */
static int parse(cut_t *c)
{
    size_t pos = 0, cap = 0;

    while (c->buf_len - pos >= sizeof(pc_rec_t)) {
        rec_t r = {.id = -1, .id2 = -1, .dir = -1, .pos = pos};
        const uint8_t *p = c->buf + pos + sizeof r.h;
        size_t left = c->buf_len - pos - sizeof r.h;

        memcpy(&r.h, c->buf + pos, sizeof r.h);
        errno = 0;
        if (r.h.magic != PC_MAGIC || r.h.path_len >= PATH_MAX ||
            r.h.path2_len >= PATH_MAX)
            return say("corrupt record in the journal at", "offset");
        if (r.h.pre_len > left || r.h.new_len > left - r.h.pre_len ||
            (size_t)r.h.path_len + r.h.path2_len >
                left - r.h.pre_len - r.h.new_len)
            break;
        if (c->n_recs == cap) {
            void *g = realloc(c->recs, (cap = cap ? 2 * cap : 256) *
                                           sizeof *c->recs);
            if (g == NULL)
                return say("out of memory for", "records");
            c->recs = g;
        }
        r.path = copy_name(p, r.h.path_len);
        r.path2 = copy_name(p + r.h.path_len, r.h.path2_len);
        if (r.path == NULL || r.path2 == NULL) {
            free(r.path);
            free(r.path2);
            return say("out of memory for", "names");
        }
        r.pre = p + r.h.path_len + r.h.path2_len;
        r.nw = r.pre + r.h.pre_len;
        c->recs[c->n_recs++] = r;
        pos += sizeof r.h + r.h.path_len + r.h.path2_len + r.h.pre_len +
               r.h.new_len;
    }
    c->st->torn_tails += pos < c->buf_len;
    c->st->records += c->n_recs;
    return 0;
}

static bool is_content(const rec_t *r)
{
    return r->h.type == PC_WRITE || r->h.type == PC_TRUNC;
}

static bool is_name(const rec_t *r)
{
    return r->h.type == PC_CREATE || r->h.type == PC_RENAME ||
           r->h.type == PC_UNLINK;
}

static int walk_rename(cut_t *c, rec_t *r)
{
    if (pc_names_id(&c->final, &c->files, r->path, &r->id) != 0)
        return -1;
    if (r->h.flags & PC_F_REPLACED) {
        if (pc_names_id(&c->final, &c->files, r->path2, &r->id2) != 0)
            return -1;
        pc_file_lost_name(&c->files, r->id2, r->pre, r->h.pre_len);
    }
    pc_names_del(&c->final, r->path);
    return pc_names_set(&c->final, r->path2, r->id);
}

/* Forwards: ids, the names at the end, and how far each sync reaches. */
static int walk(cut_t *c, uint64_t *all)
{
    for (size_t i = 0; i < c->n_recs; i++) {
        rec_t *r = &c->recs[i];
        int rc = 0;

        switch (r->h.type) {
        case PC_SYNCALL:
            *all = r->h.off > *all ? r->h.off : *all;
            break;
        case PC_DIRSYNC:
            rc = pc_dir_synced(&c->files, r->path, r->h.off);
            break;
        case PC_CREATE:
            rc = pc_names_create(&c->final, &c->files, r->path, &r->id);
            break;
        case PC_RENAME:
            rc = walk_rename(c, r);
            break;
        case PC_UNLINK:
            if ((rc = pc_names_id(&c->final, &c->files, r->path, &r->id)) ==
                0)
                pc_file_lost_name(&c->files, r->id, r->pre, r->h.pre_len);
            pc_names_del(&c->final, r->path);
            break;
        case PC_SYNC:
        case PC_WRITE:
        case PC_TRUNC:
            rc = pc_names_id(&c->final, &c->files, r->path, &r->id);
            if (rc == 0 && r->h.type == PC_SYNC)
                pc_file_synced(&c->files, r->id, r->h.off);
            break;
        default:
            errno = 0;
            return say("unknown record type in", r->path);
        }
        /* a rename across folders counts for the destination's folder */
        if (rc == 0 && is_name(r))
            rc = pc_dir_of(&c->files,
                           r->h.type == PC_RENAME ? r->path2 : r->path,
                           &r->dir);
        if (rc != 0)
            return say("out of memory for", r->path);
    }
    return 0;
}

static void mark_durable(cut_t *c, uint64_t all)
{
    for (size_t i = 0; i < c->n_recs; i++) {
        rec_t *r = &c->recs[i];

        if (is_content(r))
            r->durable = r->pos < all ||
                         r->pos < pc_file_get(&c->files, r->id)->synced;
        else if (is_name(r))
            r->durable = r->pos < all || r->pos < c->files.dirs[r->dir].synced;
        else
            r->durable = true;
        r->keep = r->durable;
    }
}

/* How many of n unsynced changes to keep, as a prefix. */
static size_t pick(cut_t *c, size_t n)
{
    return c->mode == PC_CUT_ALL    ? n
           : c->mode == PC_CUT_NONE ? 0
                                    : t_uniform(c->rng, n + 1);
}

/* How many of its unsynced changes each file and folder keeps: a
 * prefix, or (subset mode, file content only) each with p = 1/2. */
static void choose_counts(cut_t *c)
{
    for (size_t i = 0; i < c->n_recs; i++) {
        rec_t *r = &c->recs[i];

        if (r->durable)
            continue;
        if (is_content(r))
            pc_file_get(&c->files, r->id)->unsynced++;
        else
            c->files.dirs[r->dir].unsynced++;
    }
    for (size_t i = 0; i < c->files.n; i++)
        c->files.v[i].keep_n = pick(c, c->files.v[i].unsynced);
    for (size_t i = 0; i < c->files.n_dirs; i++)
        c->files.dirs[i].keep_n = pick(c, c->files.dirs[i].unsynced);
}

static void choose(cut_t *c)
{
    choose_counts(c);
    for (size_t i = 0; i < c->n_recs; i++) {
        rec_t *r = &c->recs[i];
        pc_file_t *f;
        pc_dir_t *d;

        if (r->durable) {
            continue;
        } else if (!is_content(r)) {
            d = &c->files.dirs[r->dir];
            r->keep = d->seen++ < d->keep_n;
            continue;
        }
        f = pc_file_get(&c->files, r->id);
        if (c->mode == PC_CUT_SUBSET) {
            r->keep = t_uniform(c->rng, 2) == 1;
        } else {
            r->keep = f->seen < f->keep_n;
            /* the write the power failed during: some sectors made it */
            if (c->mode == PC_CUT_PREFIX && f->seen == f->keep_n &&
                r->h.type == PC_WRITE &&
                r->h.new_len > 512 && t_uniform(c->rng, 2) == 1)
                r->torn = 512 * (1 + t_uniform(c->rng, (r->h.new_len - 1) /
                                                           512));
            f->seen++;
        }
        f->discarded += !r->keep;
        f->torn += r->torn > 0;
        f->changed = f->changed || !r->keep;
    }
}

/* Back to the size before, and the bytes the change overwrote (a write
 * at off, or a truncation to off) back in place. */
static int undo(pc_file_t *f, const rec_t *r)
{
    if (pc_file_resize(f, r->h.old_size) != 0)
        return -1;
    return pc_file_put(f, r->h.off, r->pre, r->h.pre_len);
}

static int redo(pc_file_t *f, const rec_t *r)
{
    if (r->h.type == PC_TRUNC)
        return pc_file_resize(f, r->h.off);
    return pc_file_put(f, r->h.off, r->nw, r->keep ? r->h.new_len : r->torn);
}

/* File id's content after the cut: as the relay left it, every unsynced
 * change undone, the kept ones redone. */
static int rebuild(cut_t *c, int id)
{
    pc_file_t *f = pc_file_get(&c->files, id);
    const char *name = pc_names_of(&c->final, id);

    if (f->loaded)
        return 0;
    if (pc_file_load(f, c->root, f->lost ? NULL : name) != 0)
        return say("cannot read", name ? name : f->label);
    for (size_t i = c->n_recs; f->changed && i-- > 0;)
        if (c->recs[i].id == id && is_content(&c->recs[i]) &&
            !c->recs[i].durable && undo(f, &c->recs[i]) != 0)
            return say("cannot undo a change of", f->label);
    for (size_t i = 0; f->changed && i < c->n_recs; i++)
        if (c->recs[i].id == id && is_content(&c->recs[i]) &&
            !c->recs[i].durable && (c->recs[i].keep || c->recs[i].torn) &&
            redo(f, &c->recs[i]) != 0)
            return say("cannot redo a change of", f->label);
    return 0;
}

static int undo_name(pc_names_t *w, const rec_t *r)
{
    if (r->h.type == PC_CREATE) {
        pc_names_del(w, r->path);
        return 0;
    }
    if (r->h.type == PC_UNLINK)
        return pc_names_set(w, r->path, r->id);
    if (r->id2 >= 0) {
        if (pc_names_set(w, r->path2, r->id2) != 0)
            return -1;
    } else {
        pc_names_del(w, r->path2);
    }
    return pc_names_set(w, r->path, r->id);
}

static int redo_name(pc_names_t *w, const rec_t *r)
{
    if (r->h.type == PC_CREATE)
        return pc_names_set(w, r->path, r->id);
    pc_names_del(w, r->path);
    return r->h.type == PC_RENAME ? pc_names_set(w, r->path2, r->id) : 0;
}

/* The names after the cut: those the relay left, every unsynced change
 * undone, the kept ones redone. */
static int rebuild_names(cut_t *c)
{
    if (pc_names_copy(&c->want, &c->final) != 0)
        return say("out of memory for", "names");
    for (size_t i = c->n_recs; i-- > 0;)
        if (is_name(&c->recs[i]) && !c->recs[i].durable &&
            undo_name(&c->want, &c->recs[i]) != 0)
            return say("out of memory for", c->recs[i].path);
    for (size_t i = 0; i < c->n_recs; i++)
        if (is_name(&c->recs[i]) && !c->recs[i].durable &&
            c->recs[i].keep && redo_name(&c->want, &c->recs[i]) != 0)
            return say("out of memory for", c->recs[i].path);
    return 0;
}

static bool needs_write(cut_t *c, const pc_name_t *w)
{
    const pc_name_t *fin = pc_names_find(&c->final, w->path);

    return fin == NULL || fin->id != w->id ||
           pc_file_get(&c->files, w->id)->changed;
}

/* Every file read before any is written: a rebuilt file's content may
 * come from a name another one takes. */
static int materialize(cut_t *c)
{
    char full[PATH_MAX];

    for (size_t i = 0; i < c->want.n; i++)
        if (needs_write(c, &c->want.v[i]) && rebuild(c, c->want.v[i].id) != 0)
            return -1;
    for (size_t i = 0; i < c->final.n; i++) {
        if (pc_names_find(&c->want, c->final.v[i].path) != NULL)
            continue;
        snprintf(full, sizeof full, "%s/%s", c->root, c->final.v[i].path);
        if (unlink(full) != 0)
            return say("cannot remove", full);
    }
    for (size_t i = 0; i < c->want.n; i++)
        if (needs_write(c, &c->want.v[i]) &&
            pc_file_store(pc_file_get(&c->files, c->want.v[i].id), c->root,
                          c->want.v[i].path) != 0)
            return say("cannot write", c->want.v[i].path);
    return 0;
}

static void append(char *line, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *line, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line + *len, cap - *len, fmt, ap);
    va_end(ap);
    *len = n < 0 ? cap : *len + (size_t)n;
}

static void count(cut_t *c, size_t n[4])
{
    pc_cut_stats_t *st = c->st;

    for (size_t i = 0; i < c->n_recs; i++) {
        const rec_t *r = &c->recs[i];
        bool gone = !r->durable && !r->keep;

        st->writes += r->h.type == PC_WRITE;
        if (r->durable || !(is_content(r) || is_name(r)))
            continue;
        st->writes_unsynced += r->h.type == PC_WRITE;
        st->writes_discarded += r->h.type == PC_WRITE && gone;
        st->writes_torn += r->torn > 0;
        st->truncs_unsynced += r->h.type == PC_TRUNC;
        st->truncs_discarded += r->h.type == PC_TRUNC && gone;
        st->names_unsynced += is_name(r);
        st->creates_discarded += r->h.type == PC_CREATE && gone;
        st->renames_discarded += r->h.type == PC_RENAME && gone;
        st->unlinks_discarded += r->h.type == PC_UNLINK && gone;
        n[0] += is_content(r);
        n[1] += is_content(r) && (gone || r->torn > 0);
        n[2] += is_name(r);
        n[3] += is_name(r) && gone;
    }
    st->cuts++;
    st->cuts_discarding += n[1] > 0; /* writes, truncations, torn */
}

/* One line: what was unsynced at the cut, and what it discarded. */
static void report(cut_t *c, const char *label)
{
    static const char *verb[] = {['C'] = "create", ['R'] = "rename",
                                 ['U'] = "unlink"};
    static const char *how[] = {"prefix", "subset", "keep-all", "keep-none"};
    char line[1024];
    size_t len = 0, n[4] = {0, 0, 0, 0};

    count(c, n);
    append(line, sizeof line, &len, "%s: %s cut, %zu records: changes "
           "discarded %zu of %zu unsynced", label,
           how[c->mode], c->n_recs, n[1],
           n[0]);
    for (size_t i = 0; i < c->files.n; i++)
        if (c->files.v[i].unsynced > 0)
            append(line, sizeof line, &len, " [%s %zu/%zu%s]",
                   c->files.v[i].label, c->files.v[i].discarded,
                   c->files.v[i].unsynced, c->files.v[i].torn ? " torn" : "");
    append(line, sizeof line, &len, ", names %zu of %zu", n[3], n[2]);
    for (size_t i = 0; i < c->n_recs; i++)
        if (is_name(&c->recs[i]) && !c->recs[i].durable && !c->recs[i].keep)
            append(line, sizeof line, &len, " [%s %s]",
                   verb[c->recs[i].h.type], c->recs[i].path);
    printf("%s\n", line);
}

int pc_cut(const char *dir, const char *log, pc_cut_mode_t mode,
           uint64_t *rng, const char *label, pc_cut_stats_t *st)
{
    cut_t c = {.root = dir, .mode = mode, .rng = rng, .st = st};
    uint64_t all = 0;
    int rc = -1;

    if (read_journal(&c, log) != 0 || parse(&c) != 0 || walk(&c, &all) != 0)
        goto done;
    mark_durable(&c, all);
    choose(&c);
    if (rebuild_names(&c) != 0 || materialize(&c) != 0)
        goto done;
    report(&c, label);
    rc = 0;
done:
    for (size_t i = 0; i < c.n_recs; i++) {
        free(c.recs[i].path);
        free(c.recs[i].path2);
    }
    free(c.recs);
    free(c.buf);
    pc_files_free(&c.files);
    pc_names_free(&c.final);
    pc_names_free(&c.want);
    return rc;
}
