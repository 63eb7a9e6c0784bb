/* Shared by the files of a salvage (docs/OPERATIONS.md 4.1):
 * store_salvage.c (the files: what is kept, the working copy, the new
 * store, the log), store_salvage_rows.c (reading back every row that can
 * still be read), store_salvage_raw.c and store_salvage_wal.c (the rows
 * the b-trees no longer reach, read from the file's pages directly) and
 * store_salvage_fix.c (deliveries recreated, lost messages listed).
 * Nothing else includes this (but the raw reader's fuzz target). */
#ifndef AM_STORE_SALVAGE_H
#define AM_STORE_SALVAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store_internal.h"

/* Rowids probed past the highest known before a table is taken to end. */
#define SV_GAP 4096
/* Lines of one kind of problem logged; the rest are counted. */
#define SV_LOG_LINES 20

/* A message whose row was lost, named by the message_id index. */
typedef struct {
    int64_t seq;
    uint8_t id[AM_MSG_ID_LEN];
} sv_named_t;

/* A delivery row whose message row was lost (not copied). */
typedef struct {
    int64_t seq;
    int state; /* -1: unreadable */
    char who[AM_AGENCY_ID_MAX + 1];
} sv_orphan_t;

/* A held message that nobody will receive and whose sender cannot be
 * told: listed in lost.txt with the reason. */
typedef struct {
    int64_t seq;
    uint8_t id[AM_MSG_ID_LEN];
    bool named;
    const char *why;
} sv_untold_t;

enum { SV_MESSAGES, SV_DELIVERIES, SV_NOTICES, SV_AUDIT, SV_ACKED,
       SV_NTABLES };

/* What one rowid table gave back. */
typedef struct {
    uint64_t copied;  /* rows written to the new store */
    uint64_t dropped; /* rows read but damaged (or refused by the store) */
    uint64_t left;    /* rows read and left out on purpose */
    int64_t hi;       /* highest rowid read */
    int64_t known;    /* highest rowid the table itself says (its
                         sqlite_sequence value or max(rowid)); -1: neither
                         could be read */
    int64_t first_gap; /* first rowid up to the end that was not read */
    bool readable;    /* its schema could be read */
} sv_table_t;

/* What the raw reader (store_salvage_raw.c) read. */
typedef struct {
    uint32_t page_size; /* the one it read the file with */
    uint64_t pages;     /* pages read */
    uint64_t free;      /* freelist pages skipped */
    uint64_t frames;    /* committed -wal frames laid over the file */
    uint64_t rows[SV_NTABLES]; /* rows found (copies of one rowid too) */
    uint64_t ids;       /* entries of the message_id index */
    uint64_t broken;    /* rows whose overflow chain broke */
    bool freelist;      /* the freelist was read whole, its pages skipped */
} sv_raw_stats_t;

typedef struct {
    sqlite3 *src;    /* the working copy of the damaged file */
    const char *work; /* its path, for the raw reader */
    sqlite3 *raw;    /* what the raw reader read, once the file showed
                        damage (NULL before, or when it could not) */
    bool raw_tried;
    sv_raw_stats_t raw_stats;
    am_store_t *s;   /* s->db: the new store, in one transaction */
    sqlite3_stmt *w; /* the insert of the table being read */
    sqlite3_stmt *json; /* json_valid(?1), in the new store */
    sqlite3_stmt *has_id; /* a message_id the new store holds, while
                             lost messages are named */
    int64_t name_top;     /* no lost message named above this seq */
    int64_t now;
    int64_t cap;     /* no table of the file can hold more rows */
    uint8_t *got;    /* bit per message seq: its row was copied */
    int64_t got_n;   /* bits in got */
    int64_t seq_hi;  /* highest message seq known to have existed */
    sv_named_t *named;
    size_t n_named, cap_named;
    sv_orphan_t *orph;
    size_t n_orph, cap_orph;
    sv_untold_t *untold;
    size_t n_untold, cap_untold;
    sv_table_t t[SV_NTABLES];
    uint64_t held, pending, recreated, damaged, told, prekeys;
    uint64_t lost, lost_named, finished; /* by sv_write_lost */
    int logged;                          /* problem lines so far */
} salvage_t;

/* store_salvage_rows.c: every table read back into the new store;
 * AM_E* only when the new store cannot be written. */
int sv_read_all(salvage_t *v);
bool sv_got(const salvage_t *v, int64_t seq);
int sv_push(void **arr, size_t *n, size_t *cap, size_t size,
            const void *item);

/* store_salvage_fix.c: deliveries recreated for held envelopes that lost
 * theirs, sequences above every seq seen, usage counted again. */
int sv_fix(salvage_t *v);
/* The messages lost, into f (lost.txt) and the log; counts them. */
int sv_write_lost(salvage_t *v, FILE *f);

/* store_salvage_fallback.c: the raw reader's rows as a second source.
 * need: run the raw reader on v->work once (v->raw; it stays NULL when
 * the reader could not run, which is logged); AM_ENOMEM only.  seq, hi:
 * the table's sqlite_sequence value and highest rowid found on the pages,
 * at most v->cap, or -1.  prepare: sql on v->raw (*st NULL when there is
 * none); AM_ENOMEM only. */
int sv_raw_need(salvage_t *v);
int64_t sv_raw_seq(salvage_t *v, const char *table);
int64_t sv_raw_hi(salvage_t *v, const char *table);
int sv_raw_prepare(salvage_t *v, const char *sql, sqlite3_stmt **st);

/* store_salvage_names.c: the message_id index's entries for seqs whose
 * rows were not copied (from the file's index, then from the raw
 * reader's), into v->named; AM_ENOMEM only. */
int sv_name_lost(salvage_t *v);

/* store_salvage_wal.c: the pages of the file at path as SQLite would
 * read them, its -wal's last committed frames laid over the main file
 * (the page size chosen there).  open: AM_EIO when the file cannot be
 * read, AM_ENOMEM; the pager is the caller's (sv_pager_close, NULL-safe).
 * read: page (1...) into buf (page size bytes): 0, 1 when the files do
 * not hold it, AM_EIO. */
typedef struct sv_pager sv_pager_t;
int sv_pager_open(const char *path, sv_pager_t **out);
uint32_t sv_pager_page_size(const sv_pager_t *p);
uint32_t sv_pager_count(const sv_pager_t *p);
uint64_t sv_pager_wal_frames(const sv_pager_t *p);
int sv_pager_read(sv_pager_t *p, uint32_t page, uint8_t *buf);
void sv_pager_close(sv_pager_t *p);

/* store_salvage_raw.c: every row of the relay's rowid tables found on
 * the pages of the file at path (and its -wal), into a new temporary
 * database (*out, the caller's: sqlite3_close) of plain tables messages,
 * deliveries, notices, audit, acked (the relay's column names; a rowid
 * found twice is kept once), sequence (name, seq: sqlite_sequence rows)
 * and message_ids (message_id, seq: the index's entries).  AM_EIO when
 * the file or the temporary database cannot be read or written,
 * AM_ENOMEM; whatever the file holds is no error.  *stats is set in any
 * case. */
int sv_raw_read(const char *path, sqlite3 **out, sv_raw_stats_t *stats);

#endif
