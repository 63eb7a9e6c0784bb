/* The seeds of fuzz_bundle, for fuzz_gen_seeds: DIR/fuzz_bundle, in the
 * layout described at the top of fuzz_bundle.c.  The bundles come from
 * am_fzb_make, so they verify in the target. */
#include <string.h>

#include "alloc.h"
#include "fuzz_bundle.h"
#include "gen_seeds.h"

#define T "fuzz_bundle"

/* mode 0: as is; 2: the target puts the digest right first */
static void bundle_seed(const char *name, unsigned mode, unsigned how,
                        unsigned seed)
{
    seed_t s = {.len = 0};
    uint8_t *b;
    size_t len, n_facts;

    put_u8(&s, mode);
    if (am_fzb_make(how, seed, &b, &len, &n_facts) != 0)
        die("am_fzb_make");
    put(&s, b, len);
    am_free(b);
    write_seed(T, name, &s);
}

static void build_seed(const char *name, unsigned how, unsigned seed,
                       size_t at, unsigned x, unsigned flags)
{
    seed_t s = {.len = 0};

    put_u8(&s, 0x01);
    put_u8(&s, how);
    put_u8(&s, seed);
    put_be16(&s, at);
    put_u8(&s, x);
    put_u8(&s, flags);
    write_seed(T, name, &s);
}

void am_fzb_write_seeds(void)
{
    const unsigned all = AM_FZB_TWO | AM_FZB_DELIVERED | AM_FZB_RECEIVED |
                         AM_FZB_ACK | AM_FZB_THIRD_DELIVERED |
                         AM_FZB_THIRD_REFUSED;

    bundle_seed("accepted-only", 0, 0, 1);
    bundle_seed("delivered-received", 0, AM_FZB_DELIVERED | AM_FZB_RECEIVED,
                2);
    bundle_seed("two-all", 0, all, 3);
    bundle_seed("two-expired", 0, AM_FZB_TWO | AM_FZB_THIRD_EXPIRED |
                AM_FZB_DELIVERED | AM_FZB_ACK, 4);
    bundle_seed("shuffled", 0, all | AM_FZB_SHUFFLE, 5);
    bundle_seed("redigest-accepted-only", 2, 0, 10);
    bundle_seed("redigest-two-all", 2, all, 11);
    bundle_seed("redigest-two-expired", 2, AM_FZB_TWO | AM_FZB_THIRD_EXPIRED |
                AM_FZB_RECEIVED, 12);
    build_seed("build-all-damage-signature", all, 6, 300, 0x01, 0);
    build_seed("build-all-edit", all, 7, 1000, 0x40, 1);
    build_seed("build-shuffled-edit-header", all | AM_FZB_SHUFFLE, 8, 40,
               0x02, 1);
    build_seed("build-accepted-edit-tail", 0, 9, 0xffff, 0x10, 1);
}
