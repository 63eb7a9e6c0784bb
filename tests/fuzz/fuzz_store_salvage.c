/* A damaged store file, opened by the relay's store (relay/store.h): the
 * integrity check at start and, when it fails, the salvage that reads
 * what it can of the file back into a new store (store_salvage*.c), then
 * the envelope check (store_check.c).  The file is the input, in one of
 * two layouts:
 *   'P', cut (u24), then (offset u24, xor u8)*: a store made here (twelve
 *       real envelopes, deliveries here and to a peer relay, an
 *       acknowledgement with its audit record and notice, a prekey),
 *       cut to cut modulo its size when cut is not 0, then each byte at
 *       offset (modulo the size) xored;
 *   anything else: the file as it is.
 * Invariants: the relay starts, or refuses with AM_EIO leaving the file
 * as it was and nothing else behind; a salvage keeps byte for byte the
 * file it found under damaged-*, and leaves no marker or working file; an
 * envelope the started store hands out still hashes to the hash it is
 * delivered under and parses (a damaged envelope is never delivered); the
 * store closes cleanly. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "fuzz_common.h"
#include "sign.h"
#include "store.h"

#define N_MSGS 12

static char dir[64], tdir[64];
static uint8_t *tmpl;
static size_t tmpl_len;

static int calls, last_rc;

static void pause_100us(void)
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
            pause_100us();
    }
    AM_FZ_CHECK(calls == before + 1 && last_rc == 0);
}

static int route(void *ctx, const char *agency,
                 char via[static AM_AGENCY_ID_MAX + 1])
{
    (void)ctx;
    if (strcmp(agency, "PH-NBI") == 0) {
        snprintf(via, AM_AGENCY_ID_MAX + 1, "PH-RELAY");
        return AM_STORE_VIA;
    }
    return strcmp(agency, "DE-BKA") == 0 ? AM_STORE_HERE : AM_STORE_NOWHERE;
}

/* Files only, and one level of folders (a salvage's damaged-*). */
static void empty_dir(const char *path, bool remove_self)
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
            empty_dir(file, true);
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

static void make_dir(char *path, size_t cap)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(path, cap, "%s/amanat-fuzz-store-XXXXXX", base);
    AM_FZ_CHECK(mkdtemp(path) != NULL);
}

static uint8_t *read_all(const char *path, size_t *len)
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

/* The store the 'P' inputs damage, made once: the same bytes every run
 * (fixed keys, a fixed clock, the envelopes' randomness seeded). */
static void make_template(void)
{
    am_store_prekey_t p = {"DE-BKA", 5, AM_FZ_NOW, AM_FZ_NOW + 86400, 9,
                           {0}, 64};
    char path[128];
    am_store_t *s = NULL;
    int before;

    make_dir(tdir, sizeof tdir);
    AM_FZ_CHECK(am_store_open_routed(tdir, NULL, NULL, route, NULL, &s) ==
                0);
    for (int i = 0; i < N_MSGS; i++)
        put_one(s, i);
    memset(p.signed_prekey, 0x5a, p.len);
    before = calls;
    AM_FZ_CHECK(am_store_prekey_put(s, &p, done_cb, NULL) == 0);
    wait_one(s, before);
    AM_FZ_CHECK(am_store_close(s) == 0);
    snprintf(path, sizeof path, "%s/store.sqlite", tdir);
    tmpl = read_all(path, &tmpl_len);
    empty_dir(tdir, true);
}

static uint32_t u24(am_fz_in_t *in)
{
    uint32_t v = am_fz_u8(in) << 16;

    v |= am_fz_u8(in) << 8;
    return v | am_fz_u8(in);
}

/* The file the input stands for (the caller's, am_free). */
static uint8_t *file_of(const uint8_t *data, size_t size, size_t *len)
{
    am_fz_in_t in = {data + 1, data + size};
    uint8_t *f;
    uint32_t cut;

    if (size == 0 || data[0] != 'P') {
        AM_FZ_CHECK((f = am_malloc(size + 1)) != NULL);
        if (size > 0)
            memcpy(f, data, size);
        *len = size;
        return f;
    }
    AM_FZ_CHECK((f = am_malloc(tmpl_len)) != NULL);
    memcpy(f, tmpl, tmpl_len);
    cut = u24(&in);
    *len = cut != 0 ? cut % tmpl_len : tmpl_len;
    while (am_fz_left(&in) >= 4 && *len > 0) {
        uint32_t off = u24(&in) % (uint32_t)*len;

        f[off] ^= (uint8_t)am_fz_u8(&in);
    }
    return f;
}

static void next_cb(void *ctx, int rc, const am_store_item_t *items,
                    size_t n)
{
    uint8_t h[AM_HASH_LEN];

    (void)ctx;
    calls++;
    last_rc = rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        am_env_t *e = NULL;

        AM_FZ_CHECK(items[i].envelope_len > 0 &&
                    am_hash256(items[i].envelope, items[i].envelope_len,
                               h) == 0 &&
                    memcmp(h, items[i].envelope_hash, AM_HASH_LEN) == 0);
        AM_FZ_CHECK(am_env_parse(items[i].envelope, items[i].envelope_len,
                                 AM_ENV_MAX, &e) == 0);
        am_env_free(e);
    }
}

/* What the store hands out for who: only envelopes that are whole.  Its
 * answer may be an error (a damaged row the start check let through is
 * refused where it is read), never a damaged envelope. */
static void deliverable(am_store_t *s, const char *who)
{
    int before = calls;

    AM_FZ_CHECK(am_store_next(s, who, 64, AM_FZ_NOW, NULL, next_cb, NULL) ==
                0);
    for (int i = 0; i < 100000 && calls == before; i++) {
        am_store_drain(s);
        if (calls == before)
            pause_100us();
    }
    AM_FZ_CHECK(calls == before + 1);
}

/* The kept folder of a salvage, if any; never a marker or a working or
 * half-made file left behind. */
static bool kept(char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    AM_FZ_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        AM_FZ_CHECK(strcmp(e->d_name, "store.salvage") != 0 &&
                    strncmp(e->d_name, "store.sqlite.", 13) != 0);
        if (strncmp(e->d_name, "damaged-", 8) == 0) {
            AM_FZ_CHECK(!found);
            snprintf(out, cap, "%s/%s/store.sqlite", dir, e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static void remove_dir(void)
{
    (void)rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    char path[160], keep[300];
    am_store_t *s = NULL;
    uint8_t *file, *back;
    size_t len, back_len;
    int fd, rc;

    if (!ready) {
        AM_FZ_CHECK(sodium_init() >= 0);
        am_store_check_envelopes = true;
        make_template();
        make_dir(dir, sizeof dir);
        AM_FZ_CHECK(atexit(remove_dir) == 0);
        ready = true;
    }
    file = file_of(data, size, &len);
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    AM_FZ_CHECK(fd >= 0 && (len == 0 || write(fd, file, len) == (ssize_t)len));
    close(fd);
    rc = am_store_open_routed(dir, NULL, NULL, route, NULL, &s);
    AM_FZ_CHECK(rc == 0 || rc == AM_EIO);
    if (kept(keep, sizeof keep)) {
        AM_FZ_CHECK(rc == 0);
        back = read_all(keep, &back_len);
        AM_FZ_CHECK(back_len == len && memcmp(back, file, len) == 0);
        am_free(back);
    }
    if (rc == 0) {
        deliverable(s, "DE-BKA");
        deliverable(s, "PH-RELAY");
        AM_FZ_CHECK(am_store_close(s) == 0);
    }
    empty_dir(dir, false);
    am_free(file);
    return 0;
}
