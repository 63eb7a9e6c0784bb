#include "powercut_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"

/* Grow *v (elements of size sz, *cap of them) to hold one more. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    void *g;
    size_t c = *cap ? 2 * *cap : 16;

    if (n < *cap)
        return 0;
    if ((g = realloc(*v, c * sz)) == NULL)
        return -1;
    *v = g;
    *cap = c;
    return 0;
}

static int new_file(pc_files_t *f, const char *label, int *id)
{
    pc_file_t *nf;

    if (grow((void **)&f->v, &f->cap, f->n, sizeof *f->v) != 0)
        return -1;
    nf = &f->v[f->n];
    memset(nf, 0, sizeof *nf);
    if ((nf->label = strdup(label)) == NULL)
        return -1;
    *id = (int)f->n++;
    return 0;
}

const pc_name_t *pc_names_find(const pc_names_t *n, const char *path)
{
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->v[i].path, path) == 0)
            return &n->v[i];
    return NULL;
}

const char *pc_names_of(const pc_names_t *n, int id)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->v[i].id == id)
            return n->v[i].path;
    return NULL;
}

int pc_names_set(pc_names_t *n, const char *path, int id)
{
    pc_name_t *e = (pc_name_t *)pc_names_find(n, path);

    if (e != NULL) {
        e->id = id;
        return 0;
    }
    if (grow((void **)&n->v, &n->cap, n->n, sizeof *n->v) != 0 ||
        (n->v[n->n].path = strdup(path)) == NULL)
        return -1;
    n->v[n->n++].id = id;
    return 0;
}

void pc_names_del(pc_names_t *n, const char *path)
{
    pc_name_t *e = (pc_name_t *)pc_names_find(n, path);

    if (e != NULL) {
        free(e->path);
        *e = n->v[--n->n];
    }
}

int pc_names_id(pc_names_t *n, pc_files_t *f, const char *path, int *id)
{
    const pc_name_t *e = pc_names_find(n, path);

    if (e != NULL) {
        *id = e->id;
        return 0;
    }
    return new_file(f, path, id) != 0 ? -1 : pc_names_set(n, path, *id);
}

int pc_names_create(pc_names_t *n, pc_files_t *f, const char *path, int *id)
{
    return new_file(f, path, id) != 0 ? -1 : pc_names_set(n, path, *id);
}

int pc_names_copy(pc_names_t *dst, const pc_names_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (pc_names_set(dst, src->v[i].path, src->v[i].id) != 0)
            return -1;
    return 0;
}

void pc_names_free(pc_names_t *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i].path);
    free(n->v);
    memset(n, 0, sizeof *n);
}

pc_file_t *pc_file_get(pc_files_t *f, int id)
{
    return &f->v[id];
}

void pc_file_synced(pc_files_t *f, int id, uint64_t seq)
{
    if (seq > f->v[id].synced)
        f->v[id].synced = seq;
}

void pc_file_lost_name(pc_files_t *f, int id, const uint8_t *content,
                       size_t len)
{
    f->v[id].lost = true;
    f->v[id].backup = content;
    f->v[id].backup_len = len;
}

static int find_dir(pc_files_t *f, const char *dir, size_t len, int *out)
{
    for (size_t i = 0; i < f->n_dirs; i++)
        if (strlen(f->dirs[i].path) == len &&
            memcmp(f->dirs[i].path, dir, len) == 0) {
            *out = (int)i;
            return 0;
        }
    if (grow((void **)&f->dirs, &f->cap_dirs, f->n_dirs, sizeof *f->dirs) !=
            0 ||
        (f->dirs[f->n_dirs].path = strndup(dir, len)) == NULL)
        return -1;
    f->dirs[f->n_dirs].synced = 0;
    f->dirs[f->n_dirs].unsynced = f->dirs[f->n_dirs].keep_n = 0;
    f->dirs[f->n_dirs].seen = 0;
    *out = (int)f->n_dirs++;
    return 0;
}

int pc_dir_of(pc_files_t *f, const char *path, int *dir)
{
    const char *slash = strrchr(path, '/');

    return find_dir(f, path, slash ? (size_t)(slash - path) : 0, dir);
}

int pc_dir_synced(pc_files_t *f, const char *dir, uint64_t seq)
{
    int i;

    if (find_dir(f, dir, strlen(dir), &i) != 0)
        return -1;
    if (seq > f->dirs[i].synced)
        f->dirs[i].synced = seq;
    return 0;
}

void pc_files_free(pc_files_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].data);
        free(f->v[i].label);
    }
    for (size_t i = 0; i < f->n_dirs; i++)
        free(f->dirs[i].path);
    free(f->v);
    free(f->dirs);
    memset(f, 0, sizeof *f);
}

int pc_file_resize(pc_file_t *f, uint64_t len)
{
    if (len > SIZE_MAX / 2)
        return errno = EFBIG, -1;
    if (len > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        uint8_t *g;

        while (cap < len)
            cap *= 2;
        if ((g = realloc(f->data, cap)) == NULL)
            return -1;
        f->data = g;
        f->cap = cap;
    }
    if (len > f->len)
        memset(f->data + f->len, 0, (size_t)len - f->len);
    f->len = (size_t)len;
    return 0;
}

int pc_file_put(pc_file_t *f, uint64_t off, const uint8_t *p, size_t n)
{
    if (off > SIZE_MAX / 2 || n > SIZE_MAX / 2)
        return errno = EFBIG, -1;
    if (off + n > f->len && pc_file_resize(f, off + n) != 0)
        return -1;
    if (n > 0)
        memcpy(f->data + off, p, n);
    return 0;
}

int pc_file_load(pc_file_t *f, const char *root, const char *path)
{
    char full[PATH_MAX];
    uint8_t *data;
    size_t len;
    int rc;

    f->loaded = true;
    if (path == NULL) {
        f->len = 0;
        return pc_file_put(f, 0, f->backup, f->backup_len);
    }
    if (snprintf(full, sizeof full, "%s/%s", root, path) >= (int)sizeof full)
        return errno = ENAMETOOLONG, -1;
    if (am_file_read(full, SIZE_MAX / 4, &data, &len, NULL) != 0)
        return -1;
    f->len = 0;
    rc = pc_file_put(f, 0, data, len);
    am_free(data);
    return rc;
}

int pc_file_store(const pc_file_t *f, const char *root, const char *path)
{
    char full[PATH_MAX];
    int fd, rc;

    if (snprintf(full, sizeof full, "%s/%s", root, path) >= (int)sizeof full)
        return errno = ENAMETOOLONG, -1;
    /* no fsync: the page cache is the disk for the next relay */
    if ((fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        return -1;
    rc = am_fd_write_all(fd, f->data, f->len) == 0 ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    return rc;
}
