/* What the salvage's tests share (test-store-salvage.c,
 * test-store-salvage-raw.c): a store in a temporary folder opened with a
 * directory that routes agencies, real envelopes, a page of the closed
 * store destroyed, and what a salvage leaves behind. */
#ifndef AM_FIXTURE_SALVAGE_H
#define AM_FIXTURE_SALVAGE_H

#include "fixture-store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "envelope.h"

static uint8_t sign_sk[64], dh_pk[32];

static FX_UNUSED int setup(void **state)
{
    uint8_t pk[32];

    if (sodium_init() < 0 || make_dir(state) != 0)
        return -1;
    am_store_check_envelopes = true; /* these envelopes are real */
    crypto_sign_keypair(pk, sign_sk);
    randombytes_buf(dh_pk, sizeof dh_pk);
    return 0;
}

static FX_UNUSED int teardown(void **state)
{
    return remove_tree(state);
}

/* DE-BKA and PK-NCCIA (the sender) are served here, DE-LKA at peer relay
 * DE-RELAY, GB-NCA nowhere any more (its certificate is gone). */
static FX_UNUSED int route(void *ctx, const char *agency,
                 char via[static AM_AGENCY_ID_MAX + 1])
{
    (*(int *)ctx)++;
    if (strcmp(agency, "DE-LKA") == 0) {
        snprintf(via, AM_AGENCY_ID_MAX + 1, "DE-RELAY");
        return AM_STORE_VIA;
    }
    return strcmp(agency, "DE-BKA") == 0 || strcmp(agency, "PK-NCCIA") == 0
               ? AM_STORE_HERE
               : AM_STORE_NOWHERE;
}

/* A real envelope from PK-NCCIA to the recipients given, routed as at
 * submission (DE-LKA through DE-RELAY). */
static FX_UNUSED void put_real(am_store_t *s, const char *const *to, size_t n)
{
    am_env_params_t p = {"PK-NCCIA", 7, sign_sk, 1000, 2000000000,
                         AM_PRIORITY_URGENT, NULL, NULL};
    am_env_recipient_t r[3];
    am_store_put_t m = msg(0, AM_PRIORITY_URGENT, to[0], NULL);
    am_env_t *e;
    uint8_t *env;
    size_t len;

    for (size_t i = 0; i < n; i++) {
        r[i] = (am_env_recipient_t){to[i], dh_pk, 0};
        snprintf(m.recipients[i], sizeof m.recipients[i], "%s", to[i]);
        if (strcmp(to[i], "DE-LKA") == 0)
            snprintf(m.via[i], sizeof m.via[i], "DE-RELAY");
    }
    m.n_recipients = n;
    assert_int_equal(am_env_seal(&p, r, n, (const uint8_t *)"text", 4, &env,
                                 &len), AM_OK);
    assert_int_equal(am_env_parse(env, len, AM_ENV_MAX, &e), AM_OK);
    memcpy(m.message_id, am_env_claimed_id(e), AM_MSG_ID_LEN);
    assert_int_equal(am_hash256(env, len, m.envelope_hash), AM_OK);
    m.envelope = env;
    m.envelope_len = len;
    put(s, &m, 1000, AM_OK);
    am_env_free(e);
    am_free(env);
}

static FX_UNUSED void file_path(char *out, size_t cap, const char *name)
{
    assert_true(snprintf(out, cap, "%s/%s", dir, name) < (int)cap);
}

/* The page of b-tree `name` (its root, or its leaf number `leaf` in key
 * order when >= 0), overwritten with zeros in the closed store. */
static FX_UNUSED void zero_page(const char *name, int leaf)
{
    char db[128], q[200];
    uint8_t zero[4096] = {0};
    sqlite3 *h;
    sqlite3_stmt *st;
    int64_t page = 0;
    int fd, n = 0;

    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    snprintf(q, sizeof q, "SELECT pageno, pagetype FROM dbstat WHERE name = "
             "'%s' ORDER BY path", name);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && page == 0)
        if (leaf < 0 || (strcmp((const char *)sqlite3_column_text(st, 1),
                                "leaf") == 0 && n++ == leaf))
            page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true(page > 0);
    fd = open(db, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, zero, sizeof zero, (off_t)(page - 1) * 4096),
                     (ssize_t)sizeof zero);
    assert_int_equal(close(fd), 0);
}

static FX_UNUSED am_store_t *open_routed(int *asked, int want)
{
    am_store_t *s = NULL;

    assert_int_equal(am_store_open_routed(dir, NULL, NULL, route, asked, &s),
                     want);
    return s;
}

/* The one damaged-* folder a salvage kept, or "" when there is none. */
static FX_UNUSED int kept(char *out, size_t cap)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    int n = 0;

    assert_non_null(d);
    out[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "damaged-", 8) == 0 && n++ == 0)
            assert_true(snprintf(out, cap, "%s/%s", dir, e->d_name) <
                        (int)cap);
    closedir(d);
    return n;
}

static FX_UNUSED bool same_bytes(const char *a, const char *b)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static FX_UNUSED void copy_store(const char *to)
{
    char cmd[400];

    snprintf(cmd, sizeof cmd, "cp '%s/store.sqlite' '%s'", dir, to);
    assert_int_equal(system(cmd), 0);
}

#endif
