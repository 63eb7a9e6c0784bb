/* fuzz_client.h, the relay's side of the session: this file defines every
 * function of client/session.h, so the linker takes these and never
 * extracts session.o from the amanat_client archive (were a new session
 * function used and not defined here, session.o would come in and the
 * link fail on the duplicates: the seam cannot break silently).
 *
 * Why a seam and not a socket: the session is transport (TCP and Noise,
 * fuzzed by fuzz_channel and the relay targets); what is under test is
 * what the client does with the frames it carries.  The session here
 * hands the client's frames to the test as the relay would read them
 * (encoded, then parsed with am_frame_parse: the client must send
 * nothing a relay cannot read) and answers requests at once, honestly
 * (a Submit gets DE-RELAY's signed accepted evidence, a DirectoryLookup
 * the reissued certificate of a fixed agency, or PH-RELAY's, a peer
 * relay's) or with the input's script.
 */
#include "fuzz_client.h"

#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"
#include "evidence.h"
#include "frame.h"
#include "identity.pb-c.h"
#include "session.h"

struct am_session {
    int unused;
};

static struct {
    am_session_t sess;
    am_fzc_log_t log;
    const uint8_t *script;
    size_t script_len;
    bool scripted;
    uint8_t *answer; /* the honest answer waiting, a Frame body */
    size_t answer_len;
    am_fzc_sent_cb cb;
    void *ctx;
} S;

am_session_t *am_fzc_session(void)
{
    return &S.sess;
}

void am_fzc_session_begin(const uint8_t *script, size_t script_len,
                          am_fzc_sent_cb cb, void *ctx)
{
    memset(&S.log, 0, sizeof S.log);
    am_free(S.answer);
    S.answer = NULL;
    S.script = script;
    S.script_len = script_len;
    S.scripted = script != NULL;
    S.cb = cb;
    S.ctx = ctx;
}

const am_fzc_log_t *am_fzc_session_log(void)
{
    return &S.log;
}

static void queue_answer(const Amanat__V1__Frame *f)
{
    int rc;

    am_free(S.answer);
    S.answer = NULL;
    if (!S.scripted &&
        (rc = am_fzc_frame_bytes(f, &S.answer, &S.answer_len)) != 0)
        am_fzc_die("answer frame", rc);
}

/* What the relay signs for an envelope it stored. */
static void answer_submit(const Amanat__V1__Submit *s)
{
    const am_fz_agency_t *me = &am_fz_fed()->ag[AM_FZC_ME];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__SubmitResult r = AMANAT__V1__SUBMIT_RESULT__INIT;
    Amanat__V1__Evidence e;
    uint8_t *body = NULL, sig[AM_SIG_LEN];
    size_t len;
    am_env_t *env = NULL;
    int rc;

    /* the client submits only what it sealed itself */
    AM_FZ_CHECK(am_env_parse(s->envelope.data, s->envelope.len, AM_ENV_MAX,
                             &env) == 0);
    AM_FZ_CHECK(am_env_verify(env, &me->cert) == 0);
    if ((rc = am_fzc_evidence_body(AM_EVIDENCE_ACCEPTED,
                                   am_env_message_id(env), am_env_hash(env),
                                   AM_FZC_RELAY_ID, NULL, (int64_t)time(NULL),
                                   &body, &len)) != 0)
        am_fzc_die("evidence body", rc);
    am_fzc_evidence(&e, body, len, am_fzc_fix()->relay_sign_sk, sig);
    r.request_id = s->request_id;
    r.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN,
                                         (uint8_t *)am_env_message_id(env)};
    r.accepted = &e;
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT_RESULT;
    f.submit_result = &r;
    queue_answer(&f);
    am_free(body);
    am_env_free(env);
}

/* The certificate the directory holds for id: a fixed agency's, or the
 * peer relay's (as a relay serves its peers'), else none. */
static Amanat__V1__SignedCertificate *cert_for(const char *id)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    const am_fz_agency_t *a = am_fz_agency(id);

    if (a != NULL)
        return amanat__v1__signed_certificate__unpack(
            NULL, x->cert_len[a - am_fz_fed()->ag],
            x->cert[a - am_fz_fed()->ag]);
    if (strcmp(id, AM_FZC_RELAY2_ID) == 0)
        return amanat__v1__signed_certificate__unpack(
            NULL, x->relay2_cert_len, x->relay2_cert);
    return NULL;
}

/* One entry per id asked, with the certificate held for it. */
static void answer_lookup(const Amanat__V1__DirectoryLookup *l)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryResult r = AMANAT__V1__DIRECTORY_RESULT__INIT;
    Amanat__V1__DirectoryEntry ents[4], *ep[4];
    size_t n = l->n_agency_ids < 4 ? l->n_agency_ids : 4;

    for (size_t i = 0; i < n; i++) {
        amanat__v1__directory_entry__init(&ents[i]);
        ents[i].agency_id = l->agency_ids[i];
        ents[i].certificate = cert_for(l->agency_ids[i]);
        ep[i] = &ents[i];
    }
    r.request_id = l->request_id;
    r.n_entries = n;
    r.entries = ep;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_RESULT;
    f.directory_result = &r;
    queue_answer(&f);
    for (size_t i = 0; i < n; i++)
        if (ents[i].certificate != NULL)
            amanat__v1__signed_certificate__free_unpacked(
                ents[i].certificate, NULL);
}

static void take(const Amanat__V1__Frame *f)
{
    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_DELIVERY_ACK:
        AM_FZ_CHECK(f->delivery_ack->message_id.len == AM_MSG_ID_LEN);
        memcpy(S.log.ack_id, f->delivery_ack->message_id.data,
               AM_MSG_ID_LEN);
        S.log.acks++;
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_ACK:
        S.log.receipt_acks++;
        break;
    case AMANAT__V1__FRAME__OP_SUBMIT:
        S.log.submits++;
        answer_submit(f->submit);
        break;
    case AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP:
        S.log.lookups++;
        answer_lookup(f->directory_lookup);
        break;
    default:
        S.log.others++;
        break;
    }
}

int am_session_open(const am_profile_t *p, const am_crl_t *crl,
                    bool receive, uint64_t crl_sequence, int timeout_ms,
                    am_session_t **out)
{
    (void)p, (void)crl, (void)receive, (void)crl_sequence;
    (void)timeout_ms, (void)out;
    return am_errf(AM_EIO, "fuzz: the client may not dial a relay");
}

/* What a relay with amanat-relay's defaults says in AuthResult. */
size_t am_session_max_frame(const am_session_t *s)
{
    AM_FZ_CHECK(s == &S.sess);
    return AM_FRAME_MAX_DEFAULT;
}

int am_session_send(am_session_t *s, const Amanat__V1__Frame *f)
{
    Amanat__V1__Frame *g = NULL;
    uint8_t *b = NULL;
    size_t len = 0;

    AM_FZ_CHECK(s == &S.sess);
    AM_FZ_CHECK(am_fzc_frame_bytes(f, &b, &len) == 0);
    AM_FZ_CHECK(am_frame_parse(b, len, AM_FRAME_MAX_DEFAULT, &g) == 0);
    am_free(b);
    take(g);
    if (S.cb != NULL)
        S.cb(S.ctx, g);
    am_frame_free(g);
    return 0;
}

int am_session_recv(am_session_t *s, int timeout_ms, Amanat__V1__Frame **out)
{
    int rc;

    (void)timeout_ms;
    AM_FZ_CHECK(s == &S.sess);
    if (S.script != NULL) {
        rc = am_frame_parse(S.script, S.script_len, AM_FRAME_MAX_DEFAULT,
                            out);
        S.script = NULL;
        return rc;
    }
    if (S.answer == NULL)
        return am_errf(AM_ELIMIT, "fuzz relay: no answer in time");
    rc = am_frame_parse(S.answer, S.answer_len, AM_FRAME_MAX_DEFAULT, out);
    am_free(S.answer);
    S.answer = NULL;
    return rc;
}

const am_cert_t *am_session_relay(const am_session_t *s)
{
    AM_FZ_CHECK(s == &S.sess);
    return &am_fzc_fix()->relay;
}

const uint8_t *am_session_relay_cert(const am_session_t *s, size_t *len)
{
    AM_FZ_CHECK(s == &S.sess);
    *len = am_fzc_fix()->relay_cert_len;
    return am_fzc_fix()->relay_cert;
}

const uint8_t *am_session_crl(const am_session_t *s, size_t *len)
{
    AM_FZ_CHECK(s == &S.sess);
    *len = 0;
    return NULL;
}

int64_t am_session_relay_time(const am_session_t *s)
{
    AM_FZ_CHECK(s == &S.sess);
    return (int64_t)time(NULL);
}

void am_session_close(am_session_t *s)
{
    AM_FZ_CHECK(s == NULL || s == &S.sess);
}
