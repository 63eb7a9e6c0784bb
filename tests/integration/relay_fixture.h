/* The test federation and relay processes shared by the integration and
 * crash tests: a root (and a foreign root), the relay PK-RELAY, agencies
 * PK-NCCIA and DE-BKA served by it, GB-NCA from the foreign root; files
 * in a temporary folder; relays started on 127.0.0.1 with an ephemeral
 * port and always stopped (fx_kill_leftovers). */
#ifndef AM_RELAY_FIXTURE_H
#define AM_RELAY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "envelope.h"
#include "relay_client.h"

typedef struct {
    const char *id;
    unsigned roles;
    const char *home; /* an agency's home relay; NULL: PK-RELAY */
    uint8_t seed[32], sign_pk[32], sign_sk[64], dh_sk[32], dh_pk[32];
    uint8_t *cert;
    size_t cert_len;
    uint64_t serial;
} party_t;

typedef struct {
    pid_t pid;
    int port;
} relay_t;

extern const char *relay_bin;
/* Variables ("NAME=value", NULL-terminated) set for the relays started
 * from now on, over the test's own; NULL: none.  A fault test preloads
 * its shim this way, and nothing else the test runs gets it. */
extern const char *const *fx_relay_env;
/* Flags (NULL-terminated) given to every relay started from now on,
 * after the others; NULL: none. */
extern const char *const *fx_relay_args;
/* When set, relays started afterwards append their standard error (one
 * line per connection event) to this file instead of the test's. */
extern const char *fx_relay_log;
extern char dir[64];
extern uint8_t root_pk[32], root_sk[64], other_sk[64], other_pk[32];
extern party_t relay, pk, de, gb, fr; /* fr: issued, not served at first */
extern party_t ph; /* issued by the root, never put in the relay's folder */
/* A second relay for federation tests, and an agency homed there. */
extern party_t relay_de, lka;

int fx_federation(void **state);     /* cmocka group setup */
int fx_cleanup(void **state);        /* cmocka group teardown */
int fx_kill_leftovers(void **state); /* cmocka test teardown */
/* main()'s arguments "PATH/TO/amanat-relay [--rounds N]" (1 <= N <=
 * max): sets relay_bin and *rounds; 0, or 2 after a usage line. */
int fx_args_rounds(int argc, char **argv, int max, int *rounds);
relay_t start_relay(void);
/* The same, for a relay that may be SIGKILLed (by a fault shim) before it
 * listens: then *killed is set and the relay is reaped; any other end
 * before listening fails the test. */
relay_t fx_start_relay_or_kill(bool *killed);
/* The same with more flags (a NULL-terminated list). */
relay_t start_relay_with(const char *const *extra);
/* Write a file (durably) at name, relative to the test folder. */
void fx_write(const char *name, const void *data, size_t len);
/* Put p's certificate among those the relay serves (after a SIGHUP). */
void fx_serve(const party_t *p);
/* Federation: PK-RELAY and DE-RELAY on the ports given, each linked
 * with the other (fx_two_relays writes DE-RELAY's files at first use:
 * its folder de/, serving DE-LKA; DE-LKA is served by PK-RELAY too). */
void fx_two_relays(void);
relay_t start_relay_linked(bool de_relay, int port, int peer_port);
/* A port that was free a moment ago, on 127.0.0.1. */
int fx_free_port(void);
void stop_relay(relay_t *r);
/* The relay was killed and reaped by the caller: stop tracking it. */
void forget_relay(relay_t *r);
void connect_as(rc_client_t *c, int port, const party_t *p, bool receive);
/* An envelope claiming to be from claimed, signed with signer's key, to
 * one recipient (wrapped to DE-BKA's certificate key). */
uint8_t *seal(const party_t *signer, const party_t *claimed, const char *to,
              int prio, const char *text, size_t *len);

/* Submit an envelope; the answering frame (am_frame_free). */
Amanat__V1__Frame *submit(rc_client_t *c, const uint8_t *env, size_t len,
                          uint64_t req);
/* f must be a SubmitResult for req whose accepted evidence is the relay's
 * signature over a body naming this envelope. */
void check_accepted(const Amanat__V1__Frame *f, const uint8_t *env,
                    size_t len, uint64_t req);

/* The next Deliver, sent by PK-NCCIA to DE-BKA: verified, opened as
 * DE-BKA, its text and message id; not acknowledged.  The _wait form
 * gives false when none came within ms; the other waits 5 s. */
bool fx_next_deliver_wait(rc_client_t *c, int ms, char *text, size_t cap,
                          uint8_t id[AM_MSG_ID_LEN]);
void fx_next_deliver(rc_client_t *c, char *text, size_t cap,
                     uint8_t id[AM_MSG_ID_LEN]);
/* DeliveryAck for id. */
void fx_ack(rc_client_t *c, const uint8_t id[AM_MSG_ID_LEN]);
/* The same, for a test that takes a failed send as an outcome: rc_send's. */
int fx_send_ack(rc_client_t *c, const uint8_t id[AM_MSG_ID_LEN]);

#endif
