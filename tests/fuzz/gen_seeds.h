/* What the seed generator's files (gen_seeds.c, gen_seeds_relay.c,
 * gen_seeds_bundle.c) share: a seed being built, appending to it, writing
 * it to DIR/<target>/<name>, and stopping on a harness error. */
#ifndef AM_GEN_SEEDS_H
#define AM_GEN_SEEDS_H

#include <stddef.h>
#include <stdint.h>

#define SEED_MAX (256 * 1024)

typedef struct {
    uint8_t b[SEED_MAX];
    size_t len;
} seed_t;

extern const char *out_dir; /* DIR, set by main */

_Noreturn void die(const char *what);
void put(seed_t *s, const void *p, size_t n);
void put_u8(seed_t *s, unsigned v);
void put_be16(seed_t *s, size_t v);
void put_be32(seed_t *s, size_t v);
void write_seed(const char *target, const char *name, const seed_t *s);
/* gen_seeds_link.c: the seeds of fuzz_relay_link, into DIR/. */
void am_fzl_write_seeds(const char *dir);
/* gen_seeds_peer.c: the seeds of fuzz_relay_peer, into DIR/. */
void am_fzp_write_seeds(const char *dir);
/* gen_seeds_store.c: the seeds of fuzz_store_salvage and
 * fuzz_store_salvage_raw. */
void am_fzs_write_seeds(void);
/* gen_seeds_raw.c: fuzz_store_salvage_raw's files made by hand. */
void am_fzsr_write_seeds(void);
/* gen_seeds_wal.c: the seeds of fuzz_store_wal. */
void am_fzw_write_seeds(void);

#endif
