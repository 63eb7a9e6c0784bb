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
#include "fuzz_store_tmpl.h"
#include "sign.h"
#include "store.h"

static char dir[64];
static int calls, last_rc;

/* The file the input stands for (the caller's, am_free). */
static uint8_t *file_of(const uint8_t *data, size_t size, size_t *len)
{
    const am_fzs_tmpl_t *t = am_fzs_template();
    am_fz_in_t in = {data + 1, data + size};
    uint8_t *f;

    if (size > 0 && data[0] == 'P')
        return am_fzs_patched(&in, t->file, t->len, len);
    AM_FZ_CHECK((f = am_malloc(size + 1)) != NULL);
    if (size > 0)
        memcpy(f, data, size);
    *len = size;
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
            am_fzs_pause();
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
        (void)am_fzs_template();
        am_fzs_make_dir(dir, sizeof dir);
        AM_FZ_CHECK(atexit(remove_dir) == 0);
        ready = true;
    }
    file = file_of(data, size, &len);
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    AM_FZ_CHECK(fd >= 0 && (len == 0 || write(fd, file, len) == (ssize_t)len));
    close(fd);
    rc = am_store_open_routed(dir, NULL, NULL, am_fzs_route, NULL, &s);
    AM_FZ_CHECK(rc == 0 || rc == AM_EIO);
    if (kept(keep, sizeof keep)) {
        AM_FZ_CHECK(rc == 0);
        back = am_fzs_read_all(keep, &back_len);
        AM_FZ_CHECK(back_len == len && memcmp(back, file, len) == 0);
        am_free(back);
    }
    if (rc == 0) {
        deliverable(s, "DE-BKA");
        deliverable(s, "PH-RELAY");
        AM_FZ_CHECK(am_store_close(s) == 0);
    }
    am_fzs_empty_dir(dir, false);
    am_free(file);
    return 0;
}
