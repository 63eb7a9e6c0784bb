/* Internals shared by the local store's two files: cstore.c (the SQL,
 * opening, transactions, put, get, resolve) and cstore_list.c (lists,
 * marks, events, directory cache, revocation list).  Nothing outside
 * client/cstore*.c includes this. */
#ifndef AM_CSTORE_INTERNAL_H
#define AM_CSTORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "cstore.h"

enum { CS_BEGIN, CS_COMMIT, CS_ROLLBACK, CS_PUT, CS_GET, CS_RESOLVE,
       CS_INBOX, CS_SENT, CS_UNSENT, CS_MARK_SENT, CS_MARK_READ,
       CS_SET_STATE, CS_EVENT_PUT, CS_EVENTS, CS_DIR_PUT, CS_DIR_GET,
       CS_CRL_PUT, CS_CRL_GET, CS_COUNT };

/* The columns of a message as cstore.c selects them: reads use these as
 * column indexes, CS_PUT as parameter numbers (+ 1). */
enum { C_ID, C_OUTGOING, C_SENT, C_SENDER, C_RECIPIENTS, C_KIND,
       C_PRIORITY, C_CREATED, C_EXPIRES, C_DEADLINE, C_REPLY_TO,
       C_CASE_REF, C_STORED, C_READ, C_STATE, C_ENVELOPE, C_CONTENT };

struct am_cstore {
    sqlite3 *db;
    sqlite3_stmt *st[CS_COUNT];
    unsigned walking; /* bit per statement a list or events walk steps */
    char *path;       /* for error sentences */
};

/* AM_EIO naming the file, what was done and SQLite's reason. */
int cstore_db_error(am_cstore_t *s, const char *what);
/* AM_EIO: a value read back is not what we write (wrong length). */
int cstore_damaged(am_cstore_t *s, const char *field, int n);
/* AM_EKEY "no message <hex id>". */
int cstore_no_message(const uint8_t id[AM_MSG_ID_LEN]);
/* Statement CS_*, reset and without bindings. */
sqlite3_stmt *cstore_stmt(am_cstore_t *s, int which);
/* Step a statement that returns no rows, then reset it. */
int cstore_run(am_cstore_t *s, sqlite3_stmt *st, const char *what);
/* b: the results of a statement's binds OR'ed together (SQLITE_OK is 0);
 * on failure the statement is reset. */
int cstore_bound(am_cstore_t *s, sqlite3_stmt *st, int b, const char *what);
/* AM_EINVAL unless a holds a NUL within cap bytes. */
int cstore_fits(const char *field, const char *a, size_t cap);

/* Columns of the current row, bounded (cstore_damaged otherwise). */
int cstore_col_text(am_cstore_t *s, sqlite3_stmt *st, int col,
                    const char *field, char *dst, size_t cap);
/* Exactly AM_MSG_ID_LEN bytes; with present, an empty one is no id. */
int cstore_col_id(am_cstore_t *s, sqlite3_stmt *st, int col,
                  const char *field, uint8_t id[AM_MSG_ID_LEN],
                  bool *present);
/* A message's columns C_ID..C_STATE, without its bytes. */
int cstore_row_msg(am_cstore_t *s, sqlite3_stmt *st, am_cmsg_t *m);

#endif
