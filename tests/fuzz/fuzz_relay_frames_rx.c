/* fuzz_relay_frames, second file: the stream both ways (fuzz_relay_frames.h)
 * and the checks of everything the relay sends on an authenticated
 * session. */
#include "fuzz_relay_frames.h"

#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "envelope.h"
#include "frame.h"

fr_sess_t FR;

static const bool relay_sends_client_ops = false;

static bool request_id(const Amanat__V1__Frame *f, uint64_t *id)
{
    if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT)
        *id = f->submit->request_id;
    else if (f->op_case == AMANAT__V1__FRAME__OP_PREKEY_UPLOAD)
        *id = f->prekey_upload->request_id;
    else if (f->op_case == AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP)
        *id = f->directory_lookup->request_id;
    else
        return false;
    return true;
}

/* A complete frame, as the relay will read it. */
static void sent_frame(const uint8_t *body, size_t len)
{
    Amanat__V1__Frame *f = NULL;
    uint64_t id;

    FR.frames_sent++;
    if (am_frame_parse(body, len, AM_FRAME_MAX_DEFAULT, &f) != 0)
        return; /* the relay refuses it, fatally */
    if (!FR.ready && FR.frames_sent == 1 &&
        f->op_case == AMANAT__V1__FRAME__OP_HELLO)
        FR.receive = f->hello->receive;
    if (f->op_case == AMANAT__V1__FRAME__OP_PING) {
        if (FR.n_pings == FR_MAX_PENDING)
            FR.pings_lost = true;
        else
            FR.pings[FR.n_pings++] = f->ping->nonce;
    }
    if (request_id(f, &id)) {
        for (size_t i = 0; i < FR.n_pending; i++)
            if (FR.pending[i].id == id && (FR.pending[i].ours || FR.next_ours))
                FR.ambiguous = true; /* two requests, one id */
        if (FR.n_pending == FR_MAX_PENDING)
            FR.lost = true;
        else
            FR.pending[FR.n_pending++] =
                (fr_req_t){id, f->op_case, FR.next_ours};
    }
    am_frame_free(f);
}

/* Follow the frames of the plaintext stream. */
static void follow(const uint8_t *p, size_t n)
{
    size_t k;

    while (n > 0 && !FR.broken && !FR.desync) {
        if (FR.pfx_have < 4) {
            FR.pfx[FR.pfx_have++] = *p++;
            n--;
            if (FR.pfx_have < 4)
                continue;
            FR.body_len = am_load_be32(FR.pfx);
            FR.body_have = 0;
            /* the relay closes on these: nothing more gets answered */
            if (FR.body_len == 0 || FR.body_len > AM_FRAME_MAX_DEFAULT)
                FR.desync = true;
            else
                AM_FZ_CHECK((FR.body = am_malloc(FR.body_len)) != NULL);
            continue;
        }
        k = n < FR.body_len - FR.body_have ? n : FR.body_len - FR.body_have;
        memcpy(FR.body + FR.body_have, p, k);
        p += k;
        n -= k;
        if ((FR.body_have += k) == FR.body_len) {
            sent_frame(FR.body, FR.body_len);
            am_free(FR.body);
            FR.body = NULL;
            FR.pfx_have = 0;
        }
    }
}

void fr_send_stream(const uint8_t *p, size_t n)
{
    follow(p, n);
    if (!FR.over && am_fzr_send_plain(&FR.conn, p, n) != 0)
        FR.over = true; /* the relay closed: the reads say why */
}

void fr_send_frame(const Amanat__V1__Frame *f)
{
    uint8_t *wire = NULL;
    size_t len;

    AM_FZ_CHECK(am_frame_encode(f, AM_FRAME_MAX_CEILING, &wire, &len) == 0);
    fr_send_stream(wire, len);
    am_free(wire);
}

void fr_request(const Amanat__V1__Frame *f)
{
    bool clean = FR.pfx_have == 0 && !FR.broken && !FR.desync;

    FR.answered = FR.accepted = FR.ambiguous = false;
    FR.next_ours = clean;
    fr_send_frame(f);
    FR.next_ours = false;
    if (!FR.ready || !clean)
        fr_sync(); /* it may never be read: no answer to wait for */
    else
        while (!FR.answered && !FR.over && fr_read_one())
            ;
}

/* The request that an answer of kind op (ERROR: an Error) answers; the
 * harness's own request records the outcome.  Returns whether it was the
 * harness's own and unambiguous. */
static bool answers(uint64_t id, Amanat__V1__Frame__OpCase op,
                    Amanat__V1__ErrorCode code)
{
    size_t i;
    bool ours;

    for (i = 0; i < FR.n_pending; i++)
        if (FR.pending[i].id == id &&
            (op == AMANAT__V1__FRAME__OP_ERROR || FR.pending[i].op == op))
            break;
    /* an answer to a request never made, or a second answer */
    AM_FZ_CHECK(i < FR.n_pending || FR.lost);
    if (i == FR.n_pending)
        return false;
    ours = FR.pending[i].ours;
    memmove(&FR.pending[i], &FR.pending[i + 1],
            (FR.n_pending - i - 1) * sizeof FR.pending[0]);
    FR.n_pending--;
    if (ours) {
        FR.answered = true;
        FR.accepted = op != AMANAT__V1__FRAME__OP_ERROR;
        FR.code = code;
    }
    return ours && !FR.ambiguous;
}

static void on_submit_result(const Amanat__V1__SubmitResult *r)
{
    Amanat__V1__EvidenceBody *b = am_fzr_evidence(r->accepted, true);

    AM_FZ_CHECK(r->message_id.len == AM_MSG_ID_LEN &&
                memcmp(r->message_id.data, b->message_id.data,
                       AM_MSG_ID_LEN) == 0);
    if (answers(r->request_id, AMANAT__V1__FRAME__OP_SUBMIT,
                AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED) &&
        FR.env != NULL)
        am_fzr_check_hash(b, FR.env, FR.env_len);
    amanat__v1__evidence_body__free_unpacked(b, NULL);
}

static void on_deliver(const Amanat__V1__Deliver *d)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;
    Amanat__V1__EvidenceBody *b = am_fzr_evidence(d->accepted, true);

    AM_FZ_CHECK(FR.receive);
    am_fzr_check_delivered(&d->envelope, b, FR.ag->id);
    if (FR.n_ids < FR_MAX_SEEN)
        memcpy(FR.ids[FR.n_ids++], b->message_id.data, AM_MSG_ID_LEN);
    if (FR.flags & F_AUTO_ACK) {
        a.message_id = b->message_id;
        f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
        f.delivery_ack = &a;
        fr_send_frame(&f);
    }
    amanat__v1__evidence_body__free_unpacked(b, NULL);
}

static void on_receipts(const Amanat__V1__ReceiptRelay *rr)
{
    AM_FZ_CHECK(FR.receive);
    AM_FZ_CHECK(rr->n_evidence > 0 && rr->n_evidence <= 16);
    for (size_t i = 0; i < rr->n_evidence; i++) {
        Amanat__V1__EvidenceBody *b = am_fzr_evidence(rr->evidence[i], false);

        if (FR.n_refs < FR_MAX_SEEN) {
            fr_ref_t *r = &FR.refs[FR.n_refs++];
            r->kind = (int)b->kind;
            memcpy(r->id, b->message_id.data, AM_MSG_ID_LEN);
            snprintf(r->rcpt, sizeof r->rcpt, "%s", b->recipient_id);
        }
        amanat__v1__evidence_body__free_unpacked(b, NULL);
    }
}

static void on_directory(const Amanat__V1__DirectoryResult *r)
{
    bool mine = answers(r->request_id, AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP,
                        AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED);

    if (mine) /* one entry per id asked, in order */
        AM_FZ_CHECK(r->n_entries == FR.n_lookup);
    for (size_t i = 0; i < r->n_entries; i++)
        am_fzr_check_entry(r->entries[i],
                           mine ? FR.lookup[i] : r->entries[i]->agency_id);
}

static void on_error(const Amanat__V1__Error *e)
{
    AM_FZ_CHECK(e->code != AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED);
    /* (ERROR_PROTOCOL is not always fatal: an envelope that does not
     * parse refuses one Submit, section 14) */
    if (e->code == AMANAT__V1__ERROR_CODE__ERROR_VERSION ||
        e->code == AMANAT__V1__ERROR_CODE__ERROR_AUTH)
        AM_FZ_CHECK(e->fatal);
    if (e->fatal)
        FR.over = FR.fatal = true;
    else
        (void)answers(e->request_id, AMANAT__V1__FRAME__OP_ERROR, e->code);
}

static void on_auth(const Amanat__V1__AuthResult *a)
{
    AM_FZ_CHECK(!FR.ready && a->ok);
    AM_FZ_CHECK(strcmp(a->peer_id, FR.ag->id) == 0);
    if (a->crl != NULL)
        am_fzr_check_crl(a->crl);
    FR.ready = true;
}

static void take(const Amanat__V1__Frame *f)
{
    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_AUTH_RESULT:
        on_auth(f->auth_result);
        break;
    case AMANAT__V1__FRAME__OP_PONG:
        AM_FZ_CHECK(FR.ready);
        FR.pong = f->pong->nonce;
        /* one Pong per Ping, in order, echoing its nonce */
        AM_FZ_CHECK(FR.pings_lost ||
                    (FR.n_pings > 0 && FR.pings[0] == FR.pong));
        if (FR.n_pings > 0)
            memmove(FR.pings, FR.pings + 1,
                    --FR.n_pings * sizeof FR.pings[0]);
        break;
    case AMANAT__V1__FRAME__OP_SUBMIT_RESULT:
        on_submit_result(f->submit_result);
        break;
    case AMANAT__V1__FRAME__OP_DELIVER:
        on_deliver(f->deliver);
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_RELAY:
        on_receipts(f->receipt_relay);
        break;
    case AMANAT__V1__FRAME__OP_PREKEY_RESULT:
        if (answers(f->prekey_result->request_id,
                    AMANAT__V1__FRAME__OP_PREKEY_UPLOAD,
                    AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED))
            AM_FZ_CHECK(f->prekey_result->prekey_id == FR.prekey_id);
        break;
    case AMANAT__V1__FRAME__OP_DIRECTORY_RESULT:
        on_directory(f->directory_result);
        break;
    case AMANAT__V1__FRAME__OP_ERROR:
        on_error(f->error);
        break;
    default: /* hello, submit, ping...: the client's operations */
        AM_FZ_CHECK(relay_sends_client_ops);
    }
}

bool fr_read_one(void)
{
    Amanat__V1__Frame *f = NULL;

    if (am_fzr_recv_frame(&FR.conn, AM_FZR_WAIT_MS, &f) != 0) {
        AM_FZ_CHECK(FR.conn.closed); /* neither answered nor closed */
        /* never without a fatal Error on a stream still in step */
        AM_FZ_CHECK(FR.fatal || FR.desync || FR.broken);
        FR.over = true;
        return false;
    }
    take(f);
    am_frame_free(f);
    return true;
}

void fr_sync(void)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;

    /* before AuthResult the first complete frame gets an answer: AuthResult
     * to a Hello, a fatal Error to anything else */
    while (!FR.ready && FR.frames_sent > 0 && !FR.over)
        (void)fr_read_one();
    if (!FR.ready || FR.over || FR.desync || FR.broken)
        return;
    if (FR.pfx_have == 0) {
        p.nonce = 0xb0000000u + ++FR.nonces;
        f.op_case = AMANAT__V1__FRAME__OP_PING;
        f.ping = &p;
        fr_send_frame(&f);
        while (!FR.over &&
               (FR.pings_lost ? FR.pong != p.nonce : FR.n_pings > 0) &&
               fr_read_one())
            ;
    }
    while (FR.n_pending > 0 && !FR.lost && !FR.over && fr_read_one())
        ;
}
