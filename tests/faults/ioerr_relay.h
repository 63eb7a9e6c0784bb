/* The relay processes of test-ioerr: started with or without the ioerr
 * shim (ioerr.c) in their environment, their standard error kept in a log
 * file, stopped or reaped with bounded waits, and always killed by the
 * test's teardown (io_relay_kill_all) if a check fails midway. */
#ifndef AM_IOERR_RELAY_H
#define AM_IOERR_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { IO_WRITE, IO_FSYNC, IO_OPEN, IO_RENAME, IO_NOPS };

extern const char *const io_op_names[IO_NOPS];

/* Where one run keeps its files; the relay's other files (relay.ini, its
 * key and certificate, the root key) are the fixture's. */
typedef struct {
    const char *shim;  /* path of the shim's shared library */
    char io[192];      /* IOERR_DIR: holds data/ and certs/ */
    char data[224];    /* --data */
    char certs[224];   /* --certs */
    char count[224];   /* the shim's count file */
} io_paths_t;

/* What the shim does in one relay; shim false: no shim at all. */
typedef struct {
    bool shim;
    int op;            /* IO_*, or -1: only count */
    unsigned long n;   /* the call that fails, from 1 */
    const char *err;   /* "ENOSPC" or "EIO" */
    bool sticky;
} io_fault_t;

typedef struct {
    pid_t pid;
    int port;
    int status;  /* waitpid status, once reaped */
    bool reaped;
} io_relay_t;

/* Start the relay on 127.0.0.1 with log as its standard error (created or
 * truncated).  0: it listens (r->port); 1: it exited before it listened
 * (reaped, r->status).  A relay that neither listens nor exits within
 * 10 s is killed and the test fails. */
int io_relay_start(const io_paths_t *p, const io_fault_t *f, const char *log,
                   io_relay_t *r);

/* SIGTERM (unless already reaped), then wait at most ms for the exit; a
 * relay still running then is killed, and false returned. */
bool io_relay_stop(io_relay_t *r, int ms);

/* Wait at most ms for the relay to exit by itself; false if it did not. */
bool io_relay_wait(io_relay_t *r, int ms);

/* cmocka teardown: kill and reap every relay still running. */
int io_relay_kill_all(void **state);

/* The shim's counts; false if the file is missing or unreadable. */
bool io_counts_read(const char *file, unsigned long out[IO_NOPS]);

/* The log's text, NUL-terminated (at most cap - 1 bytes; "" if none). */
void io_log_read(const char *log, char *buf, size_t cap);

#endif
