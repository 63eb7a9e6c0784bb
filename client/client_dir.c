/* Peers' certificates and prekeys: from the local cache while fresh, else
 * from the relay's directory (docs/PROTOCOL.md section 14); every one
 * verified under the federation root and the newest revocation list held
 * before it is used, with the role the caller needs: an agency's (a
 * recipient, a sender), or another relay's (the signer of evidence the
 * session's relay passes on; the relay serves peer relays' certificates
 * like agencies'). */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"

#define DIR_FRESH 3600 /* seconds a cached entry serves */

void cl_peer_free(peer_t *p)
{
    am_free(p->cert_bytes);
    p->cert_bytes = NULL;
}

static const char *role_name(unsigned role)
{
    return role == AM_ROLE_RELAY ? "relay" : "recipient";
}

/* Verify cert (and, for an agency, prekey, when given) bytes into *out. */
static int check_peer(am_client_t *c, const char *agency, unsigned role,
                      const uint8_t *cb, size_t clen, const uint8_t *pb,
                      size_t plen, peer_t *out)
{
    am_cert_policy_t pol = {c->prof.root_pk, cl_now(), role, c->crl};
    am_prekey_t pk;
    int rc;

    if ((rc = am_cert_verify(cb, clen, &pol, &out->cert)) != 0)
        return am_err_wrap(rc, "%s %s", role_name(role), agency);
    if (strcmp(out->cert.agency_id, agency) != 0)
        return am_errf(AM_ECRYPTO, "the relay gave the certificate of %s "
                       "for %s", out->cert.agency_id, agency);
    memcpy(out->dh_pk, out->cert.dh_pk, 32);
    out->prekey_id = 0;
    if (role == AM_ROLE_AGENCY && pb != NULL && plen > 0 &&
        am_prekey_verify(pb, plen, &out->cert, cl_now(), &pk) == 0) {
        memcpy(out->dh_pk, pk.dh_pk, 32);
        out->prekey_id = pk.prekey_id;
    }
    if ((out->cert_bytes = am_malloc(clen)) == NULL)
        return AM_ENOMEM;
    memcpy(out->cert_bytes, cb, clen);
    out->cert_len = clen;
    return 0;
}

static int from_cache(am_client_t *c, const char *agency, unsigned role,
                      peer_t *out, bool *fresh)
{
    uint8_t *cb = NULL, *pb = NULL;
    size_t clen = 0, plen = 0;
    int64_t at = 0;
    int rc;

    *fresh = false;
    if ((rc = am_cstore_dir_get(c->store, agency, &cb, &clen, &pb, &plen,
                                &at)) != 0)
        return rc;
    rc = check_peer(c, agency, role, cb, clen, pb, plen, out);
    *fresh = rc == 0 && cl_now() - at < DIR_FRESH;
    am_free(cb);
    am_free(pb);
    return rc;
}

/* Pack a sub-message into a new buffer. */
static int packed(const ProtobufCMessage *m, size_t max, uint8_t **b,
                  size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    if (*len > max)
        return am_errf(AM_ETOOBIG, "directory entry too big");
    if ((*b = am_malloc(*len ? *len : 1)) == NULL)
        return AM_ENOMEM;
    protobuf_c_message_pack(m, *b);
    return 0;
}

/* The relay gave no usable prekey for the certificate cached already:
 * keep the cached prekey while it is valid, rather than fall back to
 * sealing to the long-term certificate key. */
static void keep_prekey(am_client_t *c, const char *agency, const peer_t *p,
                        const uint8_t *cb, size_t clen, uint8_t **pb,
                        size_t *plen)
{
    uint8_t *ccb = NULL, *cpb = NULL;
    size_t cclen = 0, cplen = 0;
    int64_t at;
    am_prekey_t pk;

    if (p->prekey_id != 0 ||
        am_cstore_dir_get(c->store, agency, &ccb, &cclen, &cpb, &cplen,
                          &at) != 0)
        return;
    if (cpb != NULL && cclen == clen && memcmp(ccb, cb, clen) == 0 &&
        am_prekey_verify(cpb, cplen, &p->cert, cl_now(), &pk) == 0) {
        am_free(*pb);
        *pb = cpb;
        *plen = cplen;
        cpb = NULL;
    }
    am_free(ccb);
    am_free(cpb);
}

static int take_entry(am_client_t *c, const char *agency, unsigned role,
                      const Amanat__V1__DirectoryEntry *e)
{
    uint8_t *cb = NULL, *pb = NULL;
    size_t clen = 0, plen = 0;
    peer_t p = {0};
    int rc;

    if (e->certificate == NULL)
        return am_errf(AM_EKEY, "unknown %s %s: the relay has no valid "
                       "certificate for it", role_name(role), agency);
    /* a relay has no prekey: none is kept for one */
    if ((rc = packed(&e->certificate->base, AM_CERT_MAX, &cb, &clen)) != 0 ||
        (role == AM_ROLE_AGENCY && e->prekey != NULL &&
         (rc = packed(&e->prekey->base, AM_PREKEY_MAX, &pb, &plen)) != 0))
        goto out;
    /* cache only what verifies */
    if ((rc = check_peer(c, agency, role, cb, clen, pb, plen, &p)) == 0) {
        if (role == AM_ROLE_AGENCY)
            keep_prekey(c, agency, &p, cb, clen, &pb, &plen);
        rc = am_cstore_dir_put(c->store, agency, cb, clen, pb, plen,
                               cl_now());
    }
out:
    cl_peer_free(&p);
    am_free(cb);
    am_free(pb);
    return rc;
}

static int lookup(am_client_t *c, const char *agency, unsigned role)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *a = NULL;
    Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;
    char *ids[1] = {(char *)agency};
    uint64_t req = cl_req_id(c);
    int rc;

    l.request_id = req;
    l.n_agency_ids = 1;
    l.agency_ids = ids;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
    f.directory_lookup = &l;
    if ((rc = cl_call(c, &f, AMANAT__V1__FRAME__OP_DIRECTORY_RESULT, req,
                      &a)) != 0)
        return rc;
    if (a->directory_result->n_entries != 1 ||
        a->directory_result->entries[0]->agency_id == NULL ||
        strcmp(a->directory_result->entries[0]->agency_id, agency) != 0)
        rc = am_errf(AM_EPROTO, "the relay's directory answered for another "
                     "agency than %s", agency);
    else
        rc = take_entry(c, agency, role, a->directory_result->entries[0]);
    am_frame_free(a);
    return rc;
}

static int peer_of(am_client_t *c, const char *agency, unsigned role,
                   bool need_prekey, bool force, peer_t *out)
{
    bool fresh = false;
    int rc;

    memset(out, 0, sizeof *out);
    if (!am_agency_id_valid(agency))
        return am_errf(AM_EINVAL, "\"%s\" is not an agency id (like DE-BKA)",
                       agency);
    rc = force ? AM_EKEY : from_cache(c, agency, role, out, &fresh);
    if (rc == 0 && (fresh || !need_prekey))
        return 0;
    cl_peer_free(out);
    /* missing, stale, revoked or expired here: the relay may hold a newer
     * certificate (re-issued after a revocation, renewed) */
    {
        int cached = rc;

        if ((rc = cl_connect(c, c->receiving)) != 0)
            return rc;
        rc = lookup(c, agency, role);
        if (rc == AM_EKEY &&
            (cached == AM_EREVOKED || cached == AM_EEXPIRED)) {
            /* nothing newer at the relay: say why the one held fails */
            (void)from_cache(c, agency, role, out, &fresh);
            cl_peer_free(out);
            return cached;
        }
        if (rc != 0)
            return rc;
    }
    return from_cache(c, agency, role, out, &fresh);
}

int cl_peer(am_client_t *c, const char *agency, bool need_prekey,
            bool force, peer_t *out)
{
    return peer_of(c, agency, AM_ROLE_AGENCY, need_prekey, force, out);
}

int cl_relay_peer(am_client_t *c, const char *relay, peer_t *out)
{
    return peer_of(c, relay, AM_ROLE_RELAY, false, false, out);
}
