/* The store the store fuzz targets damage (fuzz_store_salvage,
 * fuzz_store_salvage_raw), made once by the relay's own store: twelve
 * real envelopes, deliveries here and to a peer relay, an acknowledgement
 * with its audit record and notice, a prekey; the same bytes every run
 * (fixed keys, a fixed clock, the envelopes' randomness seeded).  And the
 * helpers both targets use for their folder. */
#ifndef AM_FUZZ_STORE_TMPL_H
#define AM_FUZZ_STORE_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "store.h"

typedef struct {
    uint8_t *file;     /* the closed store's file */
    size_t len;
    uint8_t *open_main; /* its files while it was still open, its rows */
    size_t open_main_len; /* then in its -wal (before the prekey) */
    uint8_t *open_wal;
    size_t open_wal_len;
} am_fzs_tmpl_t;

/* The template, made at the first call. */
const am_fzs_tmpl_t *am_fzs_template(void);

/* 'P' layout after its tag: cut (u24), then (offset u24, xor u8)*: base
 * cut to cut modulo its size when cut is not 0, then each byte at offset
 * (modulo the size) xored.  The caller's (am_free). */
uint8_t *am_fzs_patched(am_fz_in_t *in, const uint8_t *base,
                        size_t base_len, size_t *len);

/* PH-NBI is homed at PH-RELAY, DE-BKA served here, any other nowhere. */
int am_fzs_route(void *ctx, const char *agency,
                 char via[static AM_AGENCY_ID_MAX + 1]);
void am_fzs_make_dir(char *path, size_t cap);
/* Files only, and one level of folders (a salvage's damaged-*). */
void am_fzs_empty_dir(const char *path, bool remove_self);
uint8_t *am_fzs_read_all(const char *path, size_t *len);
void am_fzs_pause(void);

#endif
