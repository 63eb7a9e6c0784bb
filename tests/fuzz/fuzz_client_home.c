/* fuzz_client.h, the profile folder: what `amanat join` would have made
 * for DE-BKA, in a temporary folder that is removed at exit.  /dev/shm
 * first: the client's store commits with fsync, which costs nothing there
 * and milliseconds on a disk. */
#include "fuzz_client_store.h"

#include <dirent.h>
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
#include "keystore.h"

#define HOMES_MAX 4

static char homes[HOMES_MAX][AM_FZC_PATH];
static int n_homes;

static void path_of(char *out, const char *a, const char *b)
{
    int n = snprintf(out, AM_FZC_PATH, "%s/%s", a, b);

    if (n < 0 || n >= AM_FZC_PATH)
        am_fzc_die("path too long", AM_EINVAL);
}

int am_fzc_home_write(const char *home, const char *name, const void *data,
                      size_t len)
{
    char path[AM_FZC_PATH];
    int fd, rc = 0;

    path_of(path, home, name);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600)) < 0)
        return AM_EIO;
    if (len > 0 && am_fd_write_all(fd, data, len) != 0)
        rc = AM_EIO;
    if (close(fd) != 0)
        rc = AM_EIO;
    return rc;
}

static void save_key(const char *path, am_key_kind_t kind, const char *owner,
                     const uint8_t *key, size_t len)
{
    am_pass_source_t none = {-1, NULL, 1};
    am_key_t *k = NULL;
    int rc;

    if ((rc = am_key_new(kind, owner, key, len, &k)) != 0 ||
        (rc = am_keystore_save(path, k, &none, NULL)) != 0)
        am_fzc_die("key file", rc);
    am_key_free(k);
}

/* Depth 1: the profile's files and prekeys/. */
static void remove_tree(const char *dir, int depth)
{
    char path[AM_FZC_PATH];
    struct dirent *e;
    DIR *d;

    if ((d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
            (int)sizeof path)
            continue;
        if (depth > 0)
            remove_tree(path, depth - 1);
        (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(dir);
}

static void remove_homes(void)
{
    for (int i = 0; i < n_homes; i++)
        remove_tree(homes[i], 1);
}

static void new_folder(char home[AM_FZC_PATH])
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    if (n_homes == HOMES_MAX)
        am_fzc_die("too many profile folders", AM_ELIMIT);
    snprintf(home, AM_FZC_PATH, "%s/amanat-fuzz-client-XXXXXX", base);
    if (mkdtemp(home) == NULL)
        am_fzc_die("mkdtemp", AM_EIO);
    if (n_homes == 0 && atexit(remove_homes) != 0)
        am_fzc_die("atexit", AM_EIO);
    snprintf(homes[n_homes++], AM_FZC_PATH, "%s", home);
}

void am_fzc_home_make(char home[AM_FZC_PATH])
{
    static const char ini[] = "[agency]\nid = DE-BKA\n"
                              "relay = 127.0.0.1:7400\n";
    const am_fz_fed_t *f = am_fz_fed();
    const am_fz_agency_t *me = &f->ag[AM_FZC_ME];
    const am_fzc_fix_t *x = am_fzc_fix();
    char path[AM_FZC_PATH], dir[AM_FZC_PATH], name[64];
    uint8_t secret[64];

    new_folder(home);
    path_of(path, home, "root.pub");
    save_key(path, AM_KEY_ROOT_PUBLIC, "root", f->root_pk, 32);
    /* the Ed25519 seed is the first half of libsodium's secret key */
    memcpy(secret, me->sign_sk, 32);
    memcpy(secret + 32, me->dh_sk, 32);
    path_of(path, home, "agency.key");
    save_key(path, AM_KEY_AGENCY_SECRET, me->id, secret, 64);
    sodium_memzero(secret, sizeof secret);
    path_of(dir, home, "prekeys");
    if (mkdir(dir, 0700) != 0)
        am_fzc_die("mkdir prekeys", AM_EIO);
    snprintf(name, sizeof name, "prekey-%u-%lld.secret", AM_FZ_PREKEY_ID,
             (long long)AM_FZ_NOW);
    path_of(path, dir, name);
    save_key(path, AM_KEY_PREKEY_SECRET, me->id, me->pre_sk, 32);
    if (am_fzc_home_write(home, "agency.cert", x->cert[AM_FZC_ME],
                          x->cert_len[AM_FZC_ME]) != 0 ||
        am_fzc_home_write(home, "client.ini", ini, sizeof ini - 1) != 0)
        am_fzc_die("profile files", AM_EIO);
}

void am_fzc_sent_record(am_cmsg_t *out)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    const am_fz_fed_t *f = am_fz_fed();
    am_cmsg_t m = {0};

    memcpy(m.id, x->sent_id, AM_MSG_ID_LEN);
    m.outgoing = m.sent = true;
    snprintf(m.sender, sizeof m.sender, "%s", f->ag[AM_FZC_ME].id);
    snprintf(m.recipients, sizeof m.recipients, "%s,%s",
             f->ag[AM_FZ_SENDER].id, f->ag[AM_FZ_THIRD].id);
    snprintf(m.kind, sizeof m.kind, "notification");
    m.priority = AM_PRIORITY_URGENT;
    m.created_at = m.stored_at = AM_FZ_NOW;
    m.expires_at = AM_FZ_NOW + 14 * 86400;
    m.envelope = x->sent;
    m.envelope_len = x->sent_len;
    m.content = x->sent_content;
    m.content_len = x->sent_content_len;
    *out = m;
}
