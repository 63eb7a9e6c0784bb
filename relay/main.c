/* amanat-relay: the store-and-forward server (docs/OPERATIONS.md). */
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "err.h"
#include "frame.h"
#include "options.h"
#include "server.h"
#ifdef AM_ALLOC_FAULTS
#include "alloc_hook.h" /* the test-only build: tests/faults/alloc.cmake */
#endif

/* amanat-relay audit verify --data DIR */
static int audit_verify(int argc, char **argv)
{
    char path[4096];
    uint64_t records, bad;
    sqlite3 *db = NULL;
    int rc;

    if (argc != 5 || strcmp(argv[2], "verify") != 0 ||
        strcmp(argv[3], "--data") != 0) {
        fputs("usage: amanat-relay audit verify --data DIR\n", stderr);
        return 2;
    }
    snprintf(path, sizeof path, "%s/store.sqlite", argv[4]);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "amanat-relay: cannot open %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return 3;
    }
    rc = am_audit_verify(db, &records, &bad);
    sqlite3_close(db);
    if (rc == AM_ECRYPTO) {
        printf("audit: %s (%llu records before it are intact)\n",
               am_err_detail(), (unsigned long long)records);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "amanat-relay: %s\n", am_err_detail());
        return 3;
    }
    printf("audit: %llu records, chain intact\n", (unsigned long long)records);
    return 0;
}

/* Descriptors for 10,000 sessions and more: the soft limit up to the
 * hard one (the operator raises the hard one). */
static void raise_fd_limit(void)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* libuv's thread pool verifies signatures: one thread per core (its
 * default is 4), unless the operator chose. */
static void use_every_core(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    char v[16];

    if (getenv("UV_THREADPOOL_SIZE") != NULL || n <= 4)
        return;
    snprintf(v, sizeof v, "%ld", n > 128 ? 128 : n);
    (void)setenv("UV_THREADPOOL_SIZE", v, 0);
}

int main(int argc, char **argv)
{
    am_relay_opts_t o;
    am_dir_t *dir = NULL;
    char learned[4200];
    int rc;

#ifdef AM_ALLOC_FAULTS
    /* before SQLite and libuv allocate; armed once the relay listens */
    if (am_allocfault_install() != 0)
        return 3;
#endif
    if (sodium_init() < 0)
        return 3;
    if (argc > 1 && strcmp(argv[1], "audit") == 0)
        return audit_verify(argc, argv);
    if ((rc = am_relay_opts_parse(argc, argv, &o)) != 0) {
        am_relay_opts_free(&o);
        return rc == 1 ? 0 : 2;
    }
    /* revocation lists from peer relays are kept with the store */
    snprintf(learned, sizeof learned, "%s/federation.crl", o.data);
    o.dir.crl_learned = learned;
    raise_fd_limit();
    use_every_core();
    /* a peer that resets while we write must be an error from write(),
     * not the end of the relay (found by fuzz_relay_frames) */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fputs("amanat-relay: cannot ignore SIGPIPE\n", stderr);
        return 3;
    }
    if ((rc = am_dir_load(&o.dir, (int64_t)time(NULL), &dir)) != 0 ||
        (rc = am_server_run(&o.srv, &o.dir, dir, o.data)) != 0) {
        /* am_server_run owns and frees dir, whatever it returns */
        fprintf(stderr, "amanat-relay: %s\n", am_err_detail());
        am_relay_opts_free(&o);
        return rc == AM_EIO || rc == AM_ENOMEM ? 3 : 1;
    }
    am_relay_opts_free(&o);
    return 0;
}
