/* The folder as the power cut sees it (powercut_cut.c): files by id, as
 * an inode is (a rename moves a name, not a file), with what is known of
 * their durability and their content being rebuilt; the folders, with how
 * far their last sync reached; and maps from names to ids. */
#ifndef AM_POWERCUT_FS_H
#define AM_POWERCUT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data; /* its content, once loaded */
    size_t len, cap;
    uint64_t synced;        /* records starting below are durable */
    const uint8_t *backup;  /* the content it had when it lost its name */
    size_t backup_len;
    bool lost, loaded;      /* lost: has no name at the end */
    bool changed;           /* a change of it was discarded or torn */
    char *label;            /* its first name, for the report */
    size_t unsynced, discarded, torn, keep_n, seen;
} pc_file_t;

typedef struct {
    char *path;
    uint64_t synced;
    size_t unsynced, keep_n, seen;
} pc_dir_t;

typedef struct {
    pc_file_t *v;
    size_t n, cap;
    pc_dir_t *dirs;
    size_t n_dirs, cap_dirs;
} pc_files_t;

typedef struct {
    char *path;
    int id;
} pc_name_t;

typedef struct {
    pc_name_t *v;
    size_t n, cap;
} pc_names_t;

/* Functions returning int give 0, or -1 when out of memory or, for the
 * file functions, when a file cannot be read or written (errno says). */

/* The id path names; a name first seen names a file that existed before
 * the journal began: it gets a new id. */
int pc_names_id(pc_names_t *n, pc_files_t *f, const char *path, int *id);
/* A new file at path. */
int pc_names_create(pc_names_t *n, pc_files_t *f, const char *path, int *id);
int pc_names_set(pc_names_t *n, const char *path, int id);
void pc_names_del(pc_names_t *n, const char *path);
const pc_name_t *pc_names_find(const pc_names_t *n, const char *path);
/* The name of file id, or NULL. */
const char *pc_names_of(const pc_names_t *n, int id);
int pc_names_copy(pc_names_t *dst, const pc_names_t *src);
void pc_names_free(pc_names_t *n);

/* Valid until the next new id. */
pc_file_t *pc_file_get(pc_files_t *f, int id);
void pc_file_synced(pc_files_t *f, int id, uint64_t seq);
/* File id lost its last name; content is what it held then (not
 * copied: it lives in the journal's buffer). */
void pc_file_lost_name(pc_files_t *f, int id, const uint8_t *content,
                       size_t len);
/* The folder path is in ("" for the watched folder), its index. */
int pc_dir_of(pc_files_t *f, const char *path, int *dir);
/* A sync of folder dir ("" or a relative path) reached seq. */
int pc_dir_synced(pc_files_t *f, const char *dir, uint64_t seq);
void pc_files_free(pc_files_t *f);

/* Content: load it from root/path (path NULL: from the backup); set its
 * size (zero-filled when it grows); put bytes at off (growing it). */
int pc_file_load(pc_file_t *f, const char *root, const char *path);
int pc_file_resize(pc_file_t *f, uint64_t len);
int pc_file_put(pc_file_t *f, uint64_t off, const uint8_t *p, size_t n);
/* Write the content to root/path, replacing what is there. */
int pc_file_store(const pc_file_t *f, const char *root, const char *path);

#endif
