#include "prekeys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"
#include "keyfile.h"

#define MAX_PREKEYS 256

/* Names carry what rotation needs: prekey-ID-CREATED.{secret,signed}. */
typedef struct {
    uint32_t id;
    int64_t created;
} entry_t;

static int list(const char *dir, entry_t *e, size_t *n)
{
    struct dirent *d;
    DIR *dp;

    *n = 0;
    if ((dp = opendir(dir)) == NULL)
        return am_errf(AM_EIO, "cannot read %s: %s", dir, strerror(errno));
    while ((d = readdir(dp)) != NULL && *n < MAX_PREKEYS) {
        unsigned id;
        long long created;
        int end = 0;

        if (sscanf(d->d_name, "prekey-%u-%lld.secret%n", &id, &created,
                   &end) == 2 && d->d_name[end] == '\0')
            e[(*n)++] = (entry_t){id, created};
    }
    closedir(dp);
    return 0;
}

static void name(char *out, size_t cap, const char *dir, const entry_t *e,
                 const char *ext)
{
    snprintf(out, cap, "%s/prekey-%u-%lld.%s", dir, e->id,
             (long long)e->created, ext);
}

static int create(const char *dir, const char *agency_id,
                  const uint8_t sign_sk[64], int64_t now,
                  const am_prekey_policy_t *pol, uint32_t id)
{
    am_prekey_t p = {{0}, id, {0}, now, now + pol->period + pol->grace};
    entry_t e = {id, now};
    uint8_t sk[32], *signed_bytes = NULL;
    char path[4200], *text = NULL;
    size_t len, text_len;
    am_key_t *k = NULL;
    int rc;

    snprintf(p.agency_id, sizeof p.agency_id, "%s", agency_id);
    randombytes_buf(sk, sizeof sk);
    if (crypto_scalarmult_base(p.dh_pk, sk) != 0) {
        rc = am_errf(AM_EKEY, "prekey generation failed");
        goto out;
    }
    if ((rc = am_prekey_sign(&p, sign_sk, &signed_bytes, &len)) != 0 ||
        (rc = am_key_new(AM_KEY_PREKEY_SECRET, agency_id, sk, 32, &k)) != 0 ||
        (rc = am_keyfile_encode(k, NULL, 0, NULL, &text, &text_len)) != 0)
        goto out;
    name(path, sizeof path, dir, &e, "secret");
    if ((rc = am_file_write(path, text, text_len, 0600, false)) != 0)
        goto out;
    name(path, sizeof path, dir, &e, "signed");
    rc = am_file_write(path, signed_bytes, len, 0644, false);
out:
    sodium_memzero(sk, sizeof sk);
    if (text != NULL)
        sodium_memzero(text, text_len);
    am_free(text);
    am_free(signed_bytes);
    am_key_free(k);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Remove a replaced prekey: its secret first (what matters), then the
 * public half, then make the removal durable. */
static int drop(const char *dir, const entry_t *e)
{
    char path[4200];
    int fd, rc = 0;

    name(path, sizeof path, dir, e, "secret");
    if (unlink(path) != 0)
        return am_errf(AM_EIO, "cannot delete %s: %s", path, strerror(errno));
    name(path, sizeof path, dir, e, "signed");
    if (unlink(path) != 0 && errno != ENOENT)
        return am_errf(AM_EIO, "cannot delete %s: %s", path, strerror(errno));
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 || fsync(fd) != 0)
        rc = am_errf(AM_EIO, "cannot sync %s: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

int am_prekeys_rotate(const char *dir, const char *agency_id,
                      const uint8_t sign_sk[static 64], int64_t now,
                      const am_prekey_policy_t *policy,
                      am_prekey_rotation_t *out)
{
    entry_t e[MAX_PREKEYS + 1];
    uint32_t max_id = 0;
    size_t n;
    int rc;

    if (dir == NULL || policy == NULL || out == NULL ||
        policy->period <= 0 || policy->grace < 0)
        return AM_EINVAL;
    memset(out, 0, sizeof *out);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return am_errf(AM_EIO, "cannot create %s: %s", dir, strerror(errno));
    if ((rc = list(dir, e, &n)) != 0)
        return rc;
    qsort(e, n, sizeof e[0], cmp_entry);
    for (size_t i = 0; i < n; i++)
        if (e[i].id > max_id)
            max_id = e[i].id;
    if (n == 0 || now - e[n - 1].created >= policy->period) {
        if ((rc = create(dir, agency_id, sign_sk, now, policy, max_id + 1)) != 0)
            return rc;
        e[n++] = (entry_t){max_id + 1, now};
        out->created_id = max_id + 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        /* e[i] stopped being current when e[i + 1] was made */
        if (now - e[i + 1].created >= policy->grace) {
            if ((rc = drop(dir, &e[i])) != 0)
                return rc;
            out->deleted++;
        }
    }
    out->current_id = e[n - 1].id;
    return 0;
}

int am_prekeys_secret(const char *dir, uint32_t id, uint8_t sk[static 32])
{
    entry_t e[MAX_PREKEYS];
    char path[4200];
    uint8_t *text = NULL;
    size_t n, len;
    am_key_t *k = NULL;
    int rc;

    if ((rc = list(dir, e, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (e[i].id != id)
            continue;
        name(path, sizeof path, dir, &e[i], "secret");
        if ((rc = am_file_read(path, AM_KEYFILE_MAX, &text, &len, NULL)) != 0)
            return rc;
        rc = am_keyfile_decode((char *)text, len, NULL, 0, &k);
        sodium_memzero(text, len);
        am_free(text);
        if (rc == 0 && k->kind != AM_KEY_PREKEY_SECRET)
            rc = am_errf(AM_EKEY, "%s is not a prekey secret", path);
        if (rc == 0)
            memcpy(sk, k->key, 32);
        am_key_free(k);
        return rc;
    }
    return am_errf(AM_EKEY, "unknown prekey id %u", id);
}

int am_prekeys_current(const char *dir, uint32_t *id, uint8_t **signed_pk,
                       size_t *len)
{
    entry_t e[MAX_PREKEYS];
    char path[4200];
    size_t n;
    int rc;

    if ((rc = list(dir, e, &n)) != 0)
        return rc;
    if (n == 0)
        return am_errf(AM_EKEY, "no prekey in %s: rotate first", dir);
    qsort(e, n, sizeof e[0], cmp_entry);
    name(path, sizeof path, dir, &e[n - 1], "signed");
    *id = e[n - 1].id;
    return am_file_read(path, AM_PREKEY_MAX, signed_pk, len, NULL);
}
