#include "keystore.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"

int am_keystore_save(const char *path, const am_key_t *k,
                     const am_pass_source_t *src, const am_key_cost_t *cost)
{
    bool secret = am_key_kind_secret(k->kind);
    char *pass = NULL, *text = NULL, prompt[128];
    size_t pass_len = 0, text_len = 0;
    int rc;

    if (secret && !src->none) {
        snprintf(prompt, sizeof prompt, "Passphrase for the key of %s: ",
                 k->owner);
        if ((rc = am_pass_get(src, prompt, 1, &pass, &pass_len)) != 0)
            return rc;
    }
    rc = am_keyfile_encode(k, pass, pass_len, cost, &text, &text_len);
    if (rc == 0)
        rc = am_file_write(path, text, text_len, secret ? 0600 : 0644, false);
    if (text != NULL) {
        sodium_memzero(text, text_len);
        am_free(text);
    }
    sodium_free(pass);
    return rc;
}

/* A secret in a file others can read is exposed already: refuse it. */
static int check_mode(const char *path, mode_t mode, const char *text,
                      size_t len)
{
    am_key_t *k = NULL;
    bool secret;
    int rc;

    if ((mode & 077) == 0)
        return 0;
    rc = am_keyfile_decode(text, len, NULL, 0, &k);
    secret = rc == AM_EKEY || (rc == 0 && am_key_kind_secret(k->kind));
    am_key_free(k);
    if (!secret)
        return 0;
    return am_errf(AM_EKEY, "key file %s is readable by group or others "
                   "(mode %04o): run chmod 600 %s", path, (unsigned)mode,
                   path);
}

int am_keystore_load(const char *path, am_key_kind_t want,
                     const am_pass_source_t *src, am_key_t **out)
{
    uint8_t *text = NULL;
    char *pass = NULL, prompt[256];
    size_t len, pass_len = 0;
    mode_t mode;
    int rc;

    if ((rc = am_file_read(path, AM_KEYFILE_MAX, &text, &len, &mode)) != 0)
        return rc;
    if ((rc = check_mode(path, mode, (char *)text, len)) != 0)
        goto out;
    if (am_keyfile_sealed((char *)text, len)) {
        snprintf(prompt, sizeof prompt, "Passphrase for %s: ", path);
        if ((rc = am_pass_get(src, prompt, 0, &pass, &pass_len)) != 0)
            goto out;
    }
    if ((rc = am_keyfile_decode((char *)text, len, pass, pass_len, out)) != 0) {
        rc = am_err_wrap(rc, "%s", path);
        goto out;
    }
    if (want != 0 && (*out)->kind != want) {
        am_key_free(*out);
        *out = NULL;
        rc = am_errf(AM_EKEY, "%s holds another kind of key", path);
    }
out:
    sodium_memzero(text, len);
    am_free(text);
    sodium_free(pass);
    return rc;
}
