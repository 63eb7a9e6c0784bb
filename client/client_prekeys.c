/* Prekey rotation with the relay: a new signed prekey made when the
 * current one is older than the period (prekeys.c), old secrets deleted
 * after the grace period, and the current one uploaded so that senders
 * seal to it (docs/PROTOCOL.md sections 9 and 14). */
#include "client_int.h"

#include <string.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"
#include "pb.h"
#include "prekeys.h"

static int upload(am_client_t *c, const uint8_t *b, size_t len, uint32_t id)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *a = NULL;
    Amanat__V1__PrekeyUpload u = AMANAT__V1__PREKEY_UPLOAD__INIT;
    uint64_t req = cl_req_id(c);
    int rc;

    if ((rc = am_pb_unpack(&amanat__v1__signed_prekey__descriptor, "prekey",
                           b, len, AM_PREKEY_MAX,
                           (ProtobufCMessage **)&u.prekey)) != 0)
        return rc;
    u.request_id = req;
    f.op_case = AMANAT__V1__FRAME__OP_PREKEY_UPLOAD;
    f.prekey_upload = &u;
    rc = cl_call(c, &f, AMANAT__V1__FRAME__OP_PREKEY_RESULT, req, &a);
    if (rc == 0 && a->prekey_result->prekey_id != id)
        rc = am_errf(AM_ESTALE, "the relay holds prekey %u, not %u",
                     a->prekey_result->prekey_id, id);
    am_frame_free(a);
    am_pb_free(u.prekey);
    return rc;
}

int am_client_prekeys_rotate(am_client_t *c, const am_prekey_policy_t *pol,
                             am_prekey_rotation_t *out)
{
    char dir[AM_PROFILE_PATH_MAX + 16];
    uint8_t *b = NULL;
    size_t len = 0;
    uint32_t id = 0;
    int rc;

    if ((rc = am_profile_path(&c->prof, "prekeys", dir, sizeof dir)) != 0 ||
        (rc = am_prekeys_rotate(dir, c->prof.agency_id, c->prof.sign_sk,
                                cl_now(), pol, out)) != 0 ||
        (rc = am_prekeys_current(dir, &id, &b, &len)) != 0)
        return rc;
    if ((rc = cl_connect(c, c->receiving)) == 0)
        rc = upload(c, b, len, id);
    am_free(b);
    return rc;
}
