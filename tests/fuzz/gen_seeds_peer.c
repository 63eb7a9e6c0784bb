/* The seeds of fuzz_relay_peer, for fuzz_gen_seeds: DIR/fuzz_relay_peer,
 * in the layout described at the top of fuzz_relay_peer.c.  Operations
 * name what the target builds (envelopes, evidence, frames), so the seeds
 * hold no signed bytes and never go stale.
 */
#include <stdio.h>

#include "gen_seeds.h"

#define PEER "fuzz_relay_peer"

static seed_t s;

static void peer_seed(const char *name, const unsigned *b, size_t n)
{
    s.len = 0;
    for (size_t i = 0; i < n; i++)
        put_u8(&s, b[i]);
    write_seed(PEER, name, &s);
}

/* PS(name, bytes...): a seed of these bytes. */
#define PS(name, ...)                                                        \
    peer_seed(name, (const unsigned[]){__VA_ARGS__},                        \
              sizeof((const unsigned[]){__VA_ARGS__}) / sizeof(unsigned))

/* A fresh session with two envelopes submitted first, one ForwardResult
 * made as `how` says, then a new session that shows what stayed. */
static void seeds_forward(void)
{
    static const char *const hows[] = {
        "accepted", "other-hash", "other-key", "kind-delivered",
        "other-message", "other-relay-id", "damaged-signature",
        "accepted-and-code", "transient", "code", "short-signature",
        "version-2"};
    char name[48];

    for (unsigned i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "forward-%s", hows[i]);
        PS(name, 0x11, 2, 0, i, 5, 7, 9, 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "forward-transient-%u", i);
        PS(name, 0x11, 2, 1, 8, i, 7, 9, 0);
    }
    for (unsigned code = 1; code < 20; code += 3) {
        snprintf(name, sizeof name, "forward-code-%u", code);
        PS(name, 0x11, 2, 0, 9, code, 9, 0);
    }
    PS("forward-not-in-window", 0x11, 2, 0, 0, 0, 2, 0x40, 0, 0);
    PS("forward-twice", 0x11, 2, 0, 0, 0, 2, 0, 0, 0, 7);
    PS("forward-unknown-id", 0x01, 2, 0x80, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
       9, 10, 11, 12, 13, 14, 15, 16);
    PS("forward-all-accepted", 0x19, 10, 0, 0, 9, 0);
    PS("forward-all-transient", 0x19, 10, 8, 2, 9, 0);
    PS("forward-all-other-hash", 0x19, 10, 1, 0, 7, 10, 0, 0, 9, 0);
    PS("no-receive", 0x0d, 2, 0, 0, 0);
    PS("submit-live", 0x01, 8, 2, 40, 2, 7, 2, 0, 0, 0, 8, 0, 0, 0, 10, 8,
       3);
    /* a more urgent envelope stored while the acknowledgements' fetch is
     * out: the wake-up the relay loses (fuzz_relay_peer_rx.c, settle) */
    PS("submit-live-urgent", 0x11, 2, 0, 0x31, 0x13, 0x13, 0x10, 0x09, 0x2d,
       0x13, 0x13, 0x09, 0x13, 0x13, 0x13, 0x13, 0x01, 0x04, 0x00, 0x15,
       0x13, 0x13, 0x13, 0x13, 0x13, 0x02);
}

static void seeds_other(void)
{
    char name[48];

    for (unsigned i = 0; i < 13; i++) {
        snprintf(name, sizeof name, "refused-%u", i);
        PS(name, 0x09, 3, i, 0, 9, 0);
    }
    /* PK-NCCIA, DE-BKA, DE-RELAY, empty, lower case, too long */
    PS("receipt-ack", 0x01, 4, 3, 0x01, 0x0e, 0x12, 7);
    PS("receipt-ack-empty", 0x01, 4, 1, 0x19, 7);
    PS("receipt-ack-lower", 0x01, 4, 1, 0x21, 7);
    PS("receipt-ack-long", 0x01, 4, 1, 0x29, 7);
    PS("lookup", 0x01, 5, 3, 6, 0, 1, 2, 3, 4, 5, 7);
    PS("lookup-none", 0x01, 5, 4, 0, 7);
    PS("lookup-bad-id", 0x01, 5, 5, 2, 0, 6, 7);
    PS("lookup-33", 0x01, 5, 6, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7);
    PS("ping", 0x01, 6, 1, 6, 2, 6, 3, 7);
    PS("end", 0x03, 6, 1);
    /* frames by hand: Ping {nonce 1}; Pong {nonce 1}; ForwardResult with
     * a short id; an empty frame; a frame that does not parse */
    PS("frame-ping", 0x01, 0, 0, 4, 0x4a, 2, 0x08, 1, 7);
    PS("frame-pong", 0x01, 0, 0, 4, 0x52, 2, 0x08, 1, 7);
    PS("frame-forward-short-id", 0x01, 0, 0, 6, 0x82, 1, 3, 0x0a, 1, 0xaa);
    PS("frame-empty", 0x01, 0, 0, 0);
    PS("frame-junk", 0x01, 0, 0, 3, 0xff, 0xff, 0xff);
    PS("stream-junk", 0x01, 1, 0, 3, 0, 0, 9);
    for (unsigned i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "submit-%u", i);
        PS(name, 0x01 | (i + 1) << 3, 7);
    }
}

void am_fzp_write_seeds(const char *dir)
{
    out_dir = dir;
    seeds_forward();
    seeds_other();
}
