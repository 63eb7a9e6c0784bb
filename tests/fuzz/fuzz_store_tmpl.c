/* The store template of the store fuzz targets (fuzz_store_tmpl.h). */
#include "fuzz_store_tmpl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"
#include "sign.h"

#define N_MSGS 12

static char tdir[64];
static am_fzs_tmpl_t tmpl;
static int calls, last_rc;

void am_fzs_pause(void)
{
    struct timespec ts = {0, 100000};

    nanosleep(&ts, NULL);
}

static void put_cb(void *ctx, int rc, int64_t at)
{
    (void)ctx;
    (void)at;
    calls++;
    last_rc = rc;
}

static void done_cb(void *ctx, int rc)
{
    (void)ctx;
    calls++;
    last_rc = rc;
}

/* Run the store's callbacks until one more has come. */
static void wait_one(am_store_t *s, int before)
{
    for (int i = 0; i < 100000 && calls == before; i++) {
        am_store_drain(s);
        if (calls == before)
            am_fzs_pause();
    }
    AM_FZ_CHECK(calls == before + 1 && last_rc == 0);
}

int am_fzs_route(void *ctx, const char *agency,
                 char via[static AM_AGENCY_ID_MAX + 1])
{
    (void)ctx;
    if (strcmp(agency, "PH-NBI") == 0) {
        snprintf(via, AM_AGENCY_ID_MAX + 1, "PH-RELAY");
        return AM_STORE_VIA;
    }
    return strcmp(agency, "DE-BKA") == 0 ? AM_STORE_HERE : AM_STORE_NOWHERE;
}

void am_fzs_empty_dir(const char *path, bool remove_self)
{
    char file[256];
    struct dirent *e;
    struct stat st;
    DIR *d = opendir(path);

    AM_FZ_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (lstat(file, &st) == 0 && S_ISDIR(st.st_mode))
            am_fzs_empty_dir(file, true);
        else
            AM_FZ_CHECK(unlink(file) == 0);
    }
    closedir(d);
    if (remove_self)
        AM_FZ_CHECK(rmdir(path) == 0);
}

static void put_one(am_store_t *s, int i)
{
    const unsigned how = (i % 3 == 1 ? AM_FZ_SEAL_TWO : 0u) |
                         (AM_PRIORITY_URGENT << AM_FZ_SEAL_PRIO_SHIFT);
    am_store_put_t m = {0};
    uint8_t text[300];
    am_env_t *e = NULL;
    uint8_t *env;
    size_t len;
    int before = calls;

    memset(text, 'a' + i, sizeof text);
    AM_FZ_CHECK(am_fz_seal_at(how, (uint32_t)i + 1, AM_FZ_NOW,
                              AM_FZ_NOW + 86400, text,
                              i == 4 ? sizeof text : 40, &env, &len) == 0);
    AM_FZ_CHECK(am_env_parse(env, len, AM_ENV_MAX, &e) == 0);
    memcpy(m.message_id, am_env_claimed_id(e), AM_MSG_ID_LEN);
    AM_FZ_CHECK(am_hash256(env, len, m.envelope_hash) == 0);
    snprintf(m.sender, sizeof m.sender, "PK-NCCIA");
    m.n_recipients = am_env_claimed_recipient_count(e);
    for (size_t k = 0; k < m.n_recipients; k++) {
        const char *r = am_env_claimed_recipient(e, k);

        snprintf(m.recipients[k], sizeof m.recipients[k], "%s", r);
        if (strcmp(r, "PH-NBI") == 0)
            snprintf(m.via[k], sizeof m.via[k], "PH-RELAY");
    }
    m.priority = AM_PRIORITY_URGENT;
    m.expires_at = AM_FZ_NOW + 86400;
    m.envelope = env;
    m.envelope_len = len;
    m.quota_messages = m.quota_bytes = 1u << 30;
    AM_FZ_CHECK(am_store_put(s, &m, AM_FZ_NOW, put_cb, NULL) == 0);
    wait_one(s, before);
    if (i % 3 == 2) { /* delivered: an audit record, a notice */
        before = calls;
        AM_FZ_CHECK(am_store_ack(s, "DE-BKA", m.message_id, AM_FZ_NOW + 1,
                                 done_cb, NULL) == 0);
        wait_one(s, before);
    }
    am_env_free(e);
    am_free(env);
}

void am_fzs_make_dir(char *path, size_t cap)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(path, cap, "%s/amanat-fuzz-store-XXXXXX", base);
    AM_FZ_CHECK(mkdtemp(path) != NULL);
}

uint8_t *am_fzs_read_all(const char *path, size_t *len)
{
    struct stat st;
    uint8_t *b;
    int fd = open(path, O_RDONLY);

    AM_FZ_CHECK(fd >= 0 && fstat(fd, &st) == 0);
    AM_FZ_CHECK((b = am_malloc((size_t)st.st_size + 1)) != NULL);
    AM_FZ_CHECK(read(fd, b, (size_t)st.st_size) == st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

/* The files of the open store in tdir: its rows still in its -wal. */
static void snapshot(void)
{
    char path[128];

    snprintf(path, sizeof path, "%s/store.sqlite", tdir);
    tmpl.open_main = am_fzs_read_all(path, &tmpl.open_main_len);
    snprintf(path, sizeof path, "%s/store.sqlite-wal", tdir);
    tmpl.open_wal = am_fzs_read_all(path, &tmpl.open_wal_len);
}

static void make_template(void)
{
    am_store_prekey_t p = {"DE-BKA", 5, AM_FZ_NOW, AM_FZ_NOW + 86400, 9,
                           {0}, 64};
    char path[128];
    am_store_t *s = NULL;
    int before;

    am_fzs_make_dir(tdir, sizeof tdir);
    AM_FZ_CHECK(am_store_open_routed(tdir, NULL, NULL, am_fzs_route, NULL,
                                     &s) == 0);
    for (int i = 0; i < N_MSGS; i++)
        put_one(s, i);
    snapshot();
    memset(p.signed_prekey, 0x5a, p.len);
    before = calls;
    AM_FZ_CHECK(am_store_prekey_put(s, &p, done_cb, NULL) == 0);
    wait_one(s, before);
    AM_FZ_CHECK(am_store_close(s) == 0);
    snprintf(path, sizeof path, "%s/store.sqlite", tdir);
    tmpl.file = am_fzs_read_all(path, &tmpl.len);
    am_fzs_empty_dir(tdir, true);
}

const am_fzs_tmpl_t *am_fzs_template(void)
{
    if (tmpl.file == NULL)
        make_template();
    return &tmpl;
}

static uint32_t u24(am_fz_in_t *in)
{
    uint32_t v = am_fz_u8(in) << 16;

    v |= am_fz_u8(in) << 8;
    return v | am_fz_u8(in);
}

uint8_t *am_fzs_patched(am_fz_in_t *in, const uint8_t *base,
                        size_t base_len, size_t *len)
{
    uint8_t *f;
    uint32_t cut;

    AM_FZ_CHECK((f = am_malloc(base_len + 1)) != NULL);
    memcpy(f, base, base_len);
    cut = u24(in);
    *len = cut != 0 ? cut % base_len : base_len;
    while (am_fz_left(in) >= 4 && *len > 0) {
        uint32_t off = u24(in) % (uint32_t)*len;

        f[off] ^= (uint8_t)am_fz_u8(in);
    }
    return f;
}
