/* Evidence bundles of the fixed fuzz federation (fuzz_common.h), for
 * fuzz_bundle and its seeds: PK-NCCIA's envelope (am_fz_seal) to DE-BKA
 * and, when asked, PH-NBI; ACCEPTED evidence by PK-RELAY; the other
 * evidence and receipts as the bits of how select.  The relays' keys come
 * from constant seeds and their certificates from the fixed root, so the
 * same how and seed make the same bytes on every run, and seeds stay
 * valid. */
#ifndef AM_FUZZ_BUNDLE_H
#define AM_FUZZ_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

enum {
    AM_FZB_TWO = 1u << 0,       /* PH-NBI is a second recipient */
    AM_FZB_DELIVERED = 1u << 1, /* DE-RELAY: delivered to DE-BKA */
    AM_FZB_RECEIVED = 1u << 2,  /* DE-BKA: received */
    AM_FZB_ACK = 1u << 3,       /* DE-BKA: acknowledged */
    AM_FZB_THIRD_DELIVERED = 1u << 4, /* (TWO) PK-RELAY: delivered to PH-NBI */
    AM_FZB_THIRD_REFUSED = 1u << 5,   /* (TWO) PH-NBI: refused, with a reason */
    AM_FZB_THIRD_EXPIRED = 1u << 6,   /* (TWO) PK-RELAY: expired for PH-NBI */
    AM_FZB_SHUFFLE = 1u << 7,   /* parts given out of order, with copies */
};

/* Build the bundle how selects, its envelope sealed with rng seed seed.
 * *out is the caller's (am_free); *n_facts is what its report must list.
 * Returns am_bundle_build's code (0: a bug if it is not). */
int am_fzb_make(unsigned how, unsigned seed, uint8_t **out, size_t *out_len,
                size_t *n_facts);

/* The seeds of fuzz_bundle, into DIR/fuzz_bundle (gen_seeds_bundle.c). */
void am_fzb_write_seeds(void);

#endif
