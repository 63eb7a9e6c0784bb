/* The relay's directory service on a real amanat-relay (127.0.0.1,
 * temporary folder): prekey upload (signature, staleness, idempotence),
 * lookup of certificates and prekeys, a certificate learned when its
 * agency authenticates and kept across a restart, and the revocation list
 * handed to a client that holds an older one.
 * usage: test-directory PATH/TO/amanat-relay */
#include "../unit/test-util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cert.h"
#include "err.h"
#include "prekey.h"
#include "relay_client.h"
#include "relay_fixture.h"

static Amanat__V1__Frame *ask(rc_client_t *c, const Amanat__V1__Frame *f)
{
    Amanat__V1__Frame *answer;

    assert_int_equal(rc_send(c, f), AM_OK);
    assert_int_equal(rc_recv(c, 5000, &answer), AM_OK);
    return answer;
}

static void expect_error(Amanat__V1__Frame *f, Amanat__V1__ErrorCode code,
                         const char *text)
{
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_ERROR);
    assert_int_equal(f->error->code, code);
    if (strstr(f->error->message, text) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", f->error->message, text);
    am_frame_free(f);
}

/* Upload a prekey of `of`, signed with signer's key; the answer frame. */
static Amanat__V1__Frame *upload(rc_client_t *c, const party_t *of,
                                 const party_t *signer, uint32_t id,
                                 int64_t created, uint8_t pub[32])
{
    am_prekey_t p = {.prekey_id = id, .created_at = created,
                     .not_after = created + 7 * 86400};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *answer;
    Amanat__V1__PrekeyUpload u = AMANAT__V1__PREKEY_UPLOAD__INIT;
    uint8_t seed[32], sk[32], *bytes;
    size_t len;

    memset(seed, (int)id, sizeof seed); /* the same id, the same key */
    crypto_generichash(sk, 32, seed, 32, NULL, 0);
    assert_int_equal(crypto_scalarmult_base(p.dh_pk, sk), 0);
    memcpy(pub, p.dh_pk, 32);
    snprintf(p.agency_id, sizeof p.agency_id, "%s", of->id);
    assert_int_equal(am_prekey_sign(&p, signer->sign_sk, &bytes, &len), AM_OK);
    u.request_id = id;
    u.prekey = amanat__v1__signed_prekey__unpack(NULL, len, bytes);
    assert_non_null(u.prekey);
    f.op_case = AMANAT__V1__FRAME__OP_PREKEY_UPLOAD;
    f.prekey_upload = &u;
    answer = ask(c, &f);
    amanat__v1__signed_prekey__free_unpacked(u.prekey, NULL);
    am_free(bytes);
    return answer;
}

static void expect_stored(Amanat__V1__Frame *f, uint32_t id)
{
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_PREKEY_RESULT);
    assert_int_equal(f->prekey_result->request_id, id);
    assert_int_equal(f->prekey_result->prekey_id, id);
    am_frame_free(f);
}

static Amanat__V1__Frame *lookup(rc_client_t *c, const char **ids, size_t n)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *answer;
    Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;

    l.request_id = 99;
    l.n_agency_ids = n;
    l.agency_ids = (char **)ids;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
    f.directory_lookup = &l;
    answer = ask(c, &f);
    assert_int_equal(answer->op_case, AMANAT__V1__FRAME__OP_DIRECTORY_RESULT);
    assert_int_equal(answer->directory_result->request_id, 99);
    assert_int_equal(answer->directory_result->n_entries, n);
    return answer;
}

/* The entry's certificate is p's, byte for byte. */
static void expect_cert(const Amanat__V1__DirectoryEntry *e, const party_t *p)
{
    uint8_t buf[AM_CERT_MAX];
    size_t len;

    assert_string_equal(e->agency_id, p->id);
    assert_non_null(e->certificate);
    len = amanat__v1__signed_certificate__get_packed_size(e->certificate);
    assert_int_equal(len, p->cert_len);
    amanat__v1__signed_certificate__pack(e->certificate, buf);
    assert_memory_equal(buf, p->cert, len);
}

/* The entry's prekey verifies under its owner's certificate and is the
 * key uploaded. */
static void expect_prekey(const Amanat__V1__DirectoryEntry *e,
                          const party_t *owner, const uint8_t pub[32])
{
    am_cert_policy_t pol = {root_pk, time(NULL), AM_ROLE_AGENCY, NULL};
    uint8_t buf[AM_PREKEY_MAX];
    am_cert_t cert;
    am_prekey_t k;
    size_t len;

    assert_non_null(e->prekey);
    len = amanat__v1__signed_prekey__get_packed_size(e->prekey);
    assert_true(len <= sizeof buf);
    amanat__v1__signed_prekey__pack(e->prekey, buf);
    assert_int_equal(am_cert_verify(owner->cert, owner->cert_len, &pol, &cert),
                     AM_OK);
    assert_int_equal(am_prekey_verify(buf, len, &cert, time(NULL), &k), AM_OK);
    assert_memory_equal(k.dh_pk, pub, 32);
}

static void test_prekeys_and_lookup(void **state)
{
    const char *three[] = {"DE-BKA", "PH-NBI", "PK-NCCIA"};
    const char *bad[] = {"DE-BKA", "not an id"};
    const char *only_ph[] = {"PH-NBI"};
    int64_t now = (int64_t)time(NULL);
    uint8_t pub7[32], other[32];
    rc_client_t d, p, h;
    Amanat__V1__Frame *f;
    relay_t r = start_relay();

    (void)state;
    connect_as(&d, r.port, &de, false);
    expect_stored(upload(&d, &de, &de, 7, now - 60, pub7), 7);
    expect_stored(upload(&d, &de, &de, 7, now - 60, pub7), 7); /* again */
    expect_error(upload(&d, &de, &de, 6, now - 120, other),
                 AMANAT__V1__ERROR_CODE__ERROR_STALE, "not newer");
    expect_error(upload(&d, &de, &pk, 8, now, other), /* PK-NCCIA's key */
                 AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE,
                 "does not verify");
    expect_error(upload(&d, &pk, &de, 9, now, other), /* in PK's name */
                 AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE,
                 "presented for");
    expect_error(upload(&d, &de, &de, 10, now + 86400, other),
                 AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, "in the future");
    /* each upload costs a signature on the relay's loop: 8 per session */
    expect_error(upload(&d, &de, &de, 11, now - 200, other),
                 AMANAT__V1__ERROR_CODE__ERROR_STALE, "not newer");
    expect_error(upload(&d, &de, &de, 12, now - 200, other),
                 AMANAT__V1__ERROR_CODE__ERROR_STALE, "not newer");
    f = upload(&d, &de, &de, 13, now - 200, other);
    assert_true(f->error->fatal);
    expect_error(f, AMANAT__V1__ERROR_CODE__ERROR_QUOTA, "prekey uploads");

    connect_as(&p, r.port, &pk, false);
    f = lookup(&p, three, 3);
    expect_cert(f->directory_result->entries[0], &de);
    expect_prekey(f->directory_result->entries[0], &de, pub7);
    assert_string_equal(f->directory_result->entries[1]->agency_id, "PH-NBI");
    assert_null(f->directory_result->entries[1]->certificate); /* unknown */
    expect_cert(f->directory_result->entries[2], &pk);
    assert_null(f->directory_result->entries[2]->prekey); /* none uploaded */
    am_frame_free(f);
    {
        Amanat__V1__Frame q = AMANAT__V1__FRAME__INIT;
        Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;

        l.n_agency_ids = 2;
        l.agency_ids = (char **)bad;
        q.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
        q.directory_lookup = &l;
        expect_error(ask(&p, &q), AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                     "agency_ids[1]");
    }
    /* PH-NBI authenticates once: its root-signed certificate is learned */
    connect_as(&h, r.port, &ph, false);
    rc_close(&h);
    f = lookup(&p, only_ph, 1);
    expect_cert(f->directory_result->entries[0], &ph);
    am_frame_free(f);
    rc_close(&p);
    rc_close(&d);
    /* and kept, with the prekey, across a restart */
    stop_relay(&r);
    r = start_relay();
    connect_as(&p, r.port, &pk, false);
    f = lookup(&p, three, 3);
    expect_prekey(f->directory_result->entries[0], &de, pub7);
    expect_cert(f->directory_result->entries[1], &ph);
    am_frame_free(f);
    rc_close(&p);
    stop_relay(&r);
}

/* Hello with crl_sequence: a client holding an older revocation list gets
 * the relay's in AuthResult; one holding the same gets none. */
static Amanat__V1__Frame *hello(rc_client_t *c, int port, const party_t *as,
                                uint64_t crl_sequence)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *answer;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;

    assert_int_equal(rc_connect_hs(c, port, as->dh_sk, as->cert, as->cert_len),
                     AM_OK);
    h.protocol_version = 1;
    h.crl_sequence = crl_sequence;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    answer = ask(c, &f);
    assert_int_equal(answer->op_case, AMANAT__V1__FRAME__OP_AUTH_RESULT);
    return answer;
}

static void test_crl_in_auth_result(void **state)
{
    am_revoked_t rv = {fr.serial, "FR-DGSI", 0, "test"};
    char path[128];
    const char *flags[] = {"--crl", path, NULL};
    uint8_t *crl, buf[4096];
    size_t len, blen;
    am_crl_t *got;
    rc_client_t c;
    Amanat__V1__Frame *f;
    relay_t r;

    (void)state;
    rv.revoked_at = (int64_t)time(NULL) - 10;
    assert_int_equal(am_crl_issue(root_sk, 4, time(NULL), &rv, 1, &crl, &len),
                     AM_OK);
    fx_write("crl.bin", crl, len);
    am_free(crl);
    snprintf(path, sizeof path, "%s/crl.bin", dir);
    r = start_relay_with(flags);
    f = hello(&c, r.port, &pk, 0);
    assert_non_null(f->auth_result->crl);
    blen = amanat__v1__revocation_list__get_packed_size(f->auth_result->crl);
    assert_true(blen <= sizeof buf);
    amanat__v1__revocation_list__pack(f->auth_result->crl, buf);
    assert_int_equal(am_crl_verify(buf, blen, root_pk, 0, &got), AM_OK);
    assert_int_equal(am_crl_sequence(got), 4);
    am_crl_free(got);
    am_frame_free(f);
    rc_close(&c);
    f = hello(&c, r.port, &pk, 4);
    assert_null(f->auth_result->crl);
    am_frame_free(f);
    rc_close(&c);
    stop_relay(&r);
}

/* A handshake as `as_key` presenting `cert`, then the relay's refusal:
 * the Error it sends at once, without waiting for Hello (NULL if none
 * came within wait_ms: the relay accepted). */
static Amanat__V1__Frame *refusal(rc_client_t *c, int port,
                                  const party_t *as_key, const party_t *cert,
                                  int wait_ms)
{
    Amanat__V1__Frame *f = NULL;

    assert_int_equal(rc_connect_hs(c, port, as_key->dh_sk, cert->cert,
                                   cert->cert_len), AM_OK);
    if (rc_recv(c, wait_ms, &f) != AM_OK)
        return NULL;
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_ERROR);
    return f;
}

static void write_crl(uint64_t sequence, const party_t *revoked)
{
    am_revoked_t rv = {revoked->serial, revoked->id,
                       (int64_t)time(NULL) - 10, "test"};
    uint8_t *crl;
    size_t len;

    assert_int_equal(am_crl_issue(root_sk, sequence, time(NULL), &rv, 1, &crl,
                                  &len), AM_OK);
    fx_write("crl.bin", crl, len);
    am_free(crl);
}

/* The relay keeps the root signatures it verified; every handshake still
 * checks the certificate's key and its revocation under the list held
 * now: a certificate verified before is refused with another key, and
 * once a reloaded list revokes it. */
static void known_certificate_checked_again(const char *offload)
{
    char path[128];
    const char *flags[] = {"--crl", path, "--handshake-offload", offload,
                           NULL};
    rc_client_t c;
    Amanat__V1__Frame *f = NULL;
    relay_t r;

    write_crl(6, &fr);
    snprintf(path, sizeof path, "%s/crl.bin", dir);
    r = start_relay_with(flags);
    for (int i = 0; i < 2; i++) {
        f = hello(&c, r.port, &pk, 6);
        assert_true(f->auth_result->ok);
        am_frame_free(f);
        rc_close(&c);
    }
    expect_error(refusal(&c, r.port, &de, &pk, 5000),
                 AMANAT__V1__ERROR_CODE__ERROR_AUTH, "not for the key");
    rc_close(&c);
    write_crl(7, &pk);
    kill(r.pid, SIGHUP);
    /* the reload runs off the loop: try again for up to 10 s */
    f = NULL;
    for (int i = 0; i < 25 && f == NULL; i++) {
        f = refusal(&c, r.port, &pk, &pk, 400);
        rc_close(&c);
    }
    assert_non_null(f);
    expect_error(f, AMANAT__V1__ERROR_CODE__ERROR_REVOKED, "revoked");
    f = hello(&c, r.port, &de, 7);
    assert_true(f->auth_result->ok);
    am_frame_free(f);
    rc_close(&c);
    stop_relay(&r);
}

/* On the event loop, then on the thread pool (conn_hs.c). */
static void test_known_certificate_checked_again(void **state)
{
    (void)state;
    known_certificate_checked_again("0");
    known_certificate_checked_again("1");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_prekeys_and_lookup, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_crl_in_auth_result, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_known_certificate_checked_again,
                                  fx_kill_leftovers),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
