/* The seeds of fuzz_relay_link, for fuzz_gen_seeds: DIR/fuzz_relay_link,
 * in the layout described at the top of fuzz_relay_link.c.  Operations
 * name what the target builds (envelopes, evidence, certificates, lists),
 * so the seeds hold no signed bytes and never go stale.
 */
#include <stdio.h>

#include "gen_seeds.h"

#define LNK "fuzz_relay_link"

static seed_t s;

static void link_seed(const char *name, const unsigned *b, size_t n)
{
    s.len = 0;
    for (size_t i = 0; i < n; i++)
        put_u8(&s, b[i]);
    write_seed(LNK, name, &s);
}

/* LS(name, bytes...): a seed of these bytes. */
#define LS(name, ...)                                                        \
    link_seed(name, (const unsigned[]){__VA_ARGS__},                        \
              sizeof((const unsigned[]){__VA_ARGS__}) / sizeof(unsigned))

/* Operation 2: sender, certificate, hops, recipients, expiry, seed, text,
 * position (u16), xor. */
static void deliver_seed(const char *name, unsigned sender, unsigned cert,
                         unsigned hops, unsigned rcpt, unsigned exp,
                         unsigned x)
{
    LS(name, 0x00, 2, sender, cert, hops, rcpt, exp, 7, 16, 0,
              40, x);
}

static void seeds_deliver(void)
{
    deliver_seed("deliver-stored", 0, 0, 0, 0x01, 0, 0);
    deliver_seed("deliver-two-urgent", 0, 0, 0, 0x0b, 0, 0);
    deliver_seed("deliver-skew", 0, 0, 0, 0x01, 3, 0);
    deliver_seed("deliver-no-cert", 0, 2, 0, 0x01, 0, 0);
    deliver_seed("deliver-damaged-cert", 0, 3, 0, 0x01, 0, 0);
    deliver_seed("deliver-relay-cert", 0, 4, 0, 0x01, 0, 0);
    deliver_seed("deliver-homed-elsewhere", 1, 0, 0, 0x01, 0, 0);
    deliver_seed("deliver-homed-here", 2, 0, 0, 0x01, 0, 0);
    deliver_seed("deliver-spoofed", 2, 1, 0, 0x01, 0, 0);
    deliver_seed("deliver-hops-0", 0, 0, 2, 0x01, 0, 0);
    deliver_seed("deliver-hops-7", 0, 0, 3, 0x01, 0, 0);
    deliver_seed("deliver-too-big", 0, 0, 0, 0x41, 0, 0);
    deliver_seed("deliver-other-serial", 0, 0, 0, 0x21, 0, 0);
    deliver_seed("deliver-forged", 0, 0, 0, 0x81, 0, 0);
    deliver_seed("deliver-none-here", 0, 0, 0, 0x06, 0, 0);
    deliver_seed("deliver-past", 0, 0, 0, 0x01, 1, 0);
    deliver_seed("deliver-40-days", 0, 0, 0, 0x01, 2, 0);
    deliver_seed("deliver-beyond-skew", 0, 0, 0, 0x01, 4, 0);
    deliver_seed("deliver-damaged", 0, 0, 0, 0x01, 0, 0x20);
    /* every refusal then a stored one, on one link */
    LS("deliver-many", 0x00, 2, 0, 2, 0, 1, 0, 1, 0, 0, 0, 0,
              2, 1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0x81, 0, 3, 0,
              0, 0, 0, 6);
}

static void seeds_receipts(void)
{
    /* the peer's, naming another relay, another key, damaged, input id */
    LS("receipts", 0x00, 3, 5, 0x01, 0x06, 0x08, 0x11, 0x22);
    LS("receipts-input-id", 0x00, 3, 1, 0xe1, 1, 2, 3, 4, 5, 6,
              7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 6);
    LS("receipts-none", 0x00, 3, 0);
    LS("receipts-17", 0x00, 3, 17, 0, 1, 2, 0, 1, 2, 0, 1, 2,
              0, 1, 2, 0, 1, 2, 0, 1);
}

static void seeds_directory(void)
{
    /* DE-BKA with its prekey, PK-NCCIA, PH-NBI, the peer relay, damaged,
     * a prekey signed by another, an expired one */
    LS("directory", 0x00, 4, 7, 0x08, 0x01, 0x02, 0x03, 0x04,
              0x10, 0x18);
    s.len = 0;
    put_u8(&s, 0x00);
    put_u8(&s, 4);
    put_u8(&s, 33); /* over the 32 allowed */
    for (int i = 0; i < 33; i++)
        put_u8(&s, 0x08);
    write_seed(LNK, "directory-33", &s);
}

static void seeds_other(void)
{
    char name[32];

    for (unsigned i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "revocation-%u", i);
        LS(name, 0x00, 5, i, 6);
    }
    for (unsigned i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "other-%u", i);
        LS(name, 0x00, 7, i, 6);
    }
    for (unsigned i = 1; i < 7; i++) {
        snprintf(name, sizeof name, "handshake-%u", i);
        LS(name, 0x08, i);
    }
    LS("auth-refused", 0x02, 0, 0, 0);
    LS("auth-other-id", 0x02, 1, 1, 0);
    LS("auth-crl-held", 0x02, 1, 0, 1);
    LS("auth-crl-newer", 0x02, 1, 0, 2);
    LS("auth-crl-foreign", 0x02, 1, 0, 3);
    LS("auth-crl-revoking", 0x02, 1, 0, 4);
    LS("no-auth-deliver", 0x04, 2, 0, 0, 0, 1, 0, 5, 16, 0, 0,
              0, 6);
    LS("fresh-end", 0x11, 6);
    /* frames by hand: Pong {nonce 1}; a Deliver without an envelope */
    LS("frame-pong", 0x00, 0, 0, 4, 0x52, 2, 0x08, 1);
    LS("frame-empty-deliver", 0x00, 0, 0, 2, 0x2a, 0);
    LS("stream-junk", 0x00, 1, 0, 3, 0, 0, 9);
}

void am_fzl_write_seeds(const char *dir)
{
    out_dir = dir;
    seeds_deliver();
    seeds_receipts();
    seeds_directory();
    seeds_other();
}
