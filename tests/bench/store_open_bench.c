/* What a large store costs at every start (issue 9, noticed): the start
 * check reads the whole file (SQLite's integrity_check, relay/
 * store_check.c) and hashes every envelope still held.  Fills a store
 * with N real envelopes of about B bytes for one agency (through the
 * store's own put, as the relay stores them), closes it, then times
 * am_store_open: the integrity and schema checks, the acknowledgement
 * log's fold and the envelope check.  Prints the store's size and the
 * time; never fails on a timing.
 *
 * usage: store_open_bench [--messages N] [--bytes B] [--dir PARENT]
 * (defaults: 100000 messages, 1024 bytes, a new folder under /var/tmp,
 * removed at the end). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "bench.h"
#include "envelope.h"
#include "err.h"
#include "sign.h"
#include "store.h"

#define PROG "store_open_bench"
#define IN_FLIGHT 512 /* puts queued before waiting for their commits */

typedef struct {
    long messages, bytes;
    const char *parent;
} opts_t;

static long done_puts, failed_puts;

static void put_cb(void *ctx, int rc, int64_t accepted_at)
{
    (void)ctx;
    (void)accepted_at;
    done_puts++;
    failed_puts += rc != 0;
}

static int parse(int argc, char **argv, opts_t *o)
{
    char *end;

    for (int i = 1; i < argc; i++) {
        long *to = strcmp(argv[i], "--messages") == 0 ? &o->messages
                   : strcmp(argv[i], "--bytes") == 0  ? &o->bytes
                                                      : NULL;
        if (i + 1 >= argc ||
            (to == NULL && strcmp(argv[i], "--dir") != 0)) {
            fprintf(stderr, "usage: " PROG " [--messages N] [--bytes B] "
                    "[--dir PARENT]\n");
            return -1;
        }
        if (to == NULL) {
            o->parent = argv[++i];
            continue;
        }
        errno = 0;
        *to = strtol(argv[++i], &end, 10);
        if (errno != 0 || *end != '\0' || *to < 1 || *to > 10000000) {
            fprintf(stderr, PROG ": %s: 1 to 10000000\n", argv[i - 1]);
            return -1;
        }
    }
    if (o->bytes > 60000) {
        fprintf(stderr, PROG ": --bytes: at most 60000\n");
        return -1;
    }
    return 0;
}

/* Wait for the commits of every put so far but `left`. */
static int settle(am_store_t *s, long sent, long left)
{
    struct timespec ms = {0, 1000000};

    while (sent - done_puts > left) {
        am_store_drain(s);
        if (sent - done_puts > left)
            nanosleep(&ms, NULL);
    }
    return failed_puts == 0 ? 0 : bench_fail(PROG, "a put failed", 1);
}

/* One real envelope from PK-NCCIA to DE-BKA, stored. */
static int put_one(am_store_t *s, const uint8_t *sign_sk,
                   const uint8_t *dh_pk, const uint8_t *plain, size_t len)
{
    am_env_params_t p = {"PK-NCCIA", 7, sign_sk, (int64_t)time(NULL),
                         (int64_t)time(NULL) + 86400 * 365,
                         AM_PRIORITY_ROUTINE, NULL, NULL};
    am_env_recipient_t r = {"DE-BKA", dh_pk, 0};
    am_store_put_t m = {0};
    am_env_t *e = NULL;
    uint8_t *env = NULL;
    size_t env_len = 0;
    int rc;

    if ((rc = am_env_seal(&p, &r, 1, plain, len, &env, &env_len)) != 0 ||
        (rc = am_env_parse(env, env_len, AM_ENV_MAX, &e)) != 0 ||
        (rc = am_hash256(env, env_len, m.envelope_hash)) != 0)
        goto done;
    memcpy(m.message_id, am_env_claimed_id(e), AM_MSG_ID_LEN);
    snprintf(m.sender, sizeof m.sender, "PK-NCCIA");
    snprintf(m.recipients[0], sizeof m.recipients[0], "DE-BKA");
    m.n_recipients = 1;
    m.priority = AM_PRIORITY_ROUTINE;
    m.expires_at = p.expires_at;
    m.envelope = env;
    m.envelope_len = env_len;
    m.quota_messages = UINT64_MAX / 2;
    m.quota_bytes = UINT64_MAX / 2;
    rc = am_store_put(s, &m, (int64_t)time(NULL), put_cb, NULL);
done:
    am_env_free(e);
    am_free(env);
    return rc != 0 ? bench_fail(PROG, "sealing or storing", rc) : 0;
}

static int fill(const char *dir, const opts_t *o)
{
    uint8_t sign_pk[32], sign_sk[64], dh_pk[32], *plain;
    am_store_t *s = NULL;
    int rc;

    if ((plain = am_malloc((size_t)o->bytes)) == NULL)
        return bench_fail(PROG, "memory", AM_ENOMEM);
    randombytes_buf(plain, (size_t)o->bytes);
    crypto_sign_keypair(sign_pk, sign_sk);
    randombytes_buf(dh_pk, sizeof dh_pk);
    if ((rc = am_store_open(dir, NULL, NULL, &s)) != 0) {
        rc = bench_fail(PROG, "creating the store", rc);
        goto done;
    }
    for (long i = 0; i < o->messages && rc == 0; i++)
        if ((rc = put_one(s, sign_sk, dh_pk, plain, (size_t)o->bytes)) == 0)
            rc = settle(s, i + 1, IN_FLIGHT);
    if (rc == 0)
        rc = settle(s, o->messages, 0);
    if (am_store_close(s) != 0 && rc == 0)
        rc = bench_fail(PROG, "closing the store", AM_EIO);
done:
    sodium_memzero(sign_sk, sizeof sign_sk);
    am_free(plain);
    return rc;
}

static long long file_size(const char *dir)
{
    char path[4200];
    struct stat st;

    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Open the filled store twice (the first read may come from the disk,
 * the second from the page cache) and print both times. */
static int time_opens(const char *dir, const opts_t *o)
{
    double t0, t1;
    am_store_t *s = NULL;
    int rc = 0;

    for (int i = 0; i < 2 && rc == 0; i++) {
        if (bench_now(PROG, &t0) != 0 ||
            (rc = am_store_open(dir, NULL, NULL, &s)) != 0 ||
            bench_now(PROG, &t1) != 0)
            return rc != 0 ? bench_fail(PROG, "opening the store", rc)
                           : AM_EINVAL;
        printf("open %d: %ld messages of %ld bytes, store %.1f MiB: start "
               "check %.2f s\n", i + 1, o->messages, o->bytes,
               (double)file_size(dir) / (1024.0 * 1024.0), t1 - t0);
        fflush(stdout);
        if (am_store_close(s) != 0)
            rc = bench_fail(PROG, "closing the store", AM_EIO);
    }
    return rc;
}

int main(int argc, char **argv)
{
    opts_t o = {100000, 1024, "/var/tmp"};
    char dir[4096], cmd[4200];
    int rc;

    if (parse(argc, argv, &o) != 0)
        return 2;
    if (sodium_init() < 0)
        return bench_fail(PROG, "sodium_init", 1) != 0;
    if (snprintf(dir, sizeof dir, "%s/amanat-store-bench-XXXXXX",
                 o.parent) >= (int)sizeof dir || mkdtemp(dir) == NULL) {
        fprintf(stderr, PROG ": cannot make a folder under %s\n", o.parent);
        return 1;
    }
    bench_cpu_model(cmd, sizeof cmd);
    printf("cpu:   %s\ncores: %ld online (logical)\n", cmd,
           sysconf(_SC_NPROCESSORS_ONLN));
    if ((rc = fill(dir, &o)) == 0)
        rc = time_opens(dir, &o);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, PROG ": could not remove %s\n", dir);
    return rc == 0 ? 0 : 1;
}
