/* amanat show FILE [--json]: what a key file, certificate, revocation list
 * or envelope says, for a person or a script.  Nothing is verified here
 * (see `amanat admin verify`): the output says so. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "cli.h"
#include "country.h"
#include "envelope.pb-c.h"
#include "err.h"
#include "fsutil.h"
#include "identity.pb-c.h"
#include "keyfile.h"
#include "pb.h"
#include "timefmt.h"

#define SHOW_MAX ((size_t)16 << 20)
#define UNCHECKED "not checked: use amanat admin verify"

static json_t *hex(const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];

    if (n > 64)
        n = 64;
    sodium_bin2hex(buf, sizeof buf, p, n);
    return json_string(buf);
}

static json_t *when(int64_t t)
{
    char buf[AM_TIME_TEXT_MAX];

    return am_time_format(t, buf) == 0 ? json_string(buf) : json_integer(t);
}

static const char *role_name(int r)
{
    return r == 1 ? "agency" : r == 2 ? "relay" : r == 3 ? "root" : "unknown";
}

static json_t *show_cert(const Amanat__V1__AgencyCertificate *c)
{
    json_t *o = json_object(), *roles = json_array();

    for (size_t i = 0; i < c->n_roles; i++)
        json_array_append_new(roles,
                              json_string(role_name((int)c->roles[i])));
    json_object_set_new(o, "type", json_string("certificate"));
    json_object_set_new(o, "agency_id", json_string(c->agency_id));
    json_object_set_new(o, "display_name", json_string(c->display_name));
    json_object_set_new(o, "country", json_string(c->country));
    json_object_set_new(o, "roles", roles);
    json_object_set_new(o, "home_relay", json_string(c->home_relay));
    json_object_set_new(o, "not_before", when(c->not_before));
    json_object_set_new(o, "not_after", when(c->not_after));
    json_object_set_new(o, "serial", json_integer((json_int_t)c->serial));
    json_object_set_new(o, "sign_pk", hex(c->sign_pk.data, c->sign_pk.len));
    json_object_set_new(o, "dh_pk", hex(c->dh_pk.data, c->dh_pk.len));
    json_object_set_new(o, "issuer_key_id",
                        hex(c->issuer_key_id.data, c->issuer_key_id.len));
    json_object_set_new(o, "signature", json_string(UNCHECKED));
    return o;
}

static json_t *show_crl(const Amanat__V1__RevocationListBody *b)
{
    json_t *o = json_object(), *list = json_array();

    for (size_t i = 0; i < b->n_revoked; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "serial",
                            json_integer((json_int_t)b->revoked[i]->serial));
        json_object_set_new(e, "agency_id",
                            json_string(b->revoked[i]->agency_id));
        json_object_set_new(e, "revoked_at", when(b->revoked[i]->revoked_at));
        json_object_set_new(e, "reason", json_string(b->revoked[i]->reason));
        json_array_append_new(list, e);
    }
    json_object_set_new(o, "type", json_string("revocation list"));
    json_object_set_new(o, "sequence", json_integer((json_int_t)b->sequence));
    json_object_set_new(o, "issued_at", when(b->issued_at));
    json_object_set_new(o, "issuer_key_id",
                        hex(b->issuer_key_id.data, b->issuer_key_id.len));
    json_object_set_new(o, "revoked", list);
    json_object_set_new(o, "signature", json_string(UNCHECKED));
    return o;
}

static json_t *show_envelope(const Amanat__V1__Envelope *e,
                             const Amanat__V1__EnvelopeHeader *h)
{
    static const char *prio[] = {"unspecified", "routine", "urgent",
                                 "emergency"};
    json_t *o = json_object(), *to = json_array();

    for (size_t i = 0; i < h->n_wraps; i++) {
        json_t *w = json_object();
        json_object_set_new(w, "agency_id", json_string(h->wraps[i]->recipient_id));
        json_object_set_new(w, "prekey_id", json_integer(h->wraps[i]->prekey_id));
        json_array_append_new(to, w);
    }
    json_object_set_new(o, "type", json_string("envelope"));
    json_object_set_new(o, "message_id", hex(h->message_id.data,
                                             h->message_id.len));
    json_object_set_new(o, "sender_id", json_string(h->sender_id));
    json_object_set_new(o, "sender_serial",
                        json_integer((json_int_t)h->sender_serial));
    json_object_set_new(o, "recipients", to);
    json_object_set_new(o, "priority",
                        json_string(h->priority <= 3 ? prio[h->priority] : "?"));
    json_object_set_new(o, "created_at", when(h->created_at));
    json_object_set_new(o, "expires_at", when(h->expires_at));
    json_object_set_new(o, "content_bytes",
                        json_integer((json_int_t)e->ciphertext.len));
    json_object_set_new(o, "content", json_string("sealed"));
    json_object_set_new(o, "signature", json_string(UNCHECKED));
    return o;
}

static json_t *show_key(const char *text, size_t len)
{
    static const char *kinds[] = {"", "root secret", "agency secret",
                                  "root public", "agency public",
                                  "prekey secret"};
    char owner[AM_KEY_OWNER_MAX + 1];
    am_key_kind_t kind;
    am_key_t *k = NULL;
    bool sealed;
    json_t *o;

    if (am_keyfile_info(text, len, &kind, owner, &sealed) != 0)
        return NULL;
    o = json_object();
    json_object_set_new(o, "type", json_string("key file"));
    json_object_set_new(o, "kind", json_string(kinds[kind]));
    json_object_set_new(o, "owner", json_string(owner));
    json_object_set_new(o, "sealed", json_boolean(sealed));
    /* public halves are shown; secrets never are */
    if (!am_key_kind_secret(kind) &&
        am_keyfile_decode(text, len, NULL, 0, &k) == 0)
        json_object_set_new(o, "public_key", hex(k->key, k->key_len));
    am_key_free(k);
    return o;
}

/* Try each binary type; a type is accepted only when its fields look like
 * one (versions, lengths, ids), since protobuf parses almost anything. */
static json_t *show_binary(const uint8_t *b, size_t len)
{
    ProtobufCMessage *s = NULL, *body = NULL;
    json_t *o = NULL;

    if (am_pb_unpack(&amanat__v1__signed_certificate__descriptor, "file", b,
                     len, SHOW_MAX, &s) != 0)
        return NULL;
    {
        const ProtobufCBinaryData *bd = &((Amanat__V1__SignedCertificate *)s)->body;
        if (am_pb_unpack(&amanat__v1__agency_certificate__descriptor, "body",
                         bd->data, bd->len, SHOW_MAX, &body) == 0) {
            const Amanat__V1__AgencyCertificate *c = (void *)body;
            if (c->version == 1 && am_agency_id_valid(c->agency_id))
                o = show_cert(c);
            am_pb_free(body);
        }
        if (o == NULL &&
            am_pb_unpack(&amanat__v1__revocation_list_body__descriptor, "body",
                         bd->data, bd->len, SHOW_MAX, &body) == 0) {
            const Amanat__V1__RevocationListBody *c = (void *)body;
            if (c->version == 1 && c->issuer_key_id.len == 32 && c->sequence)
                o = show_crl(c);
            am_pb_free(body);
        }
    }
    am_pb_free(s);
    return o;
}

static json_t *show_env(const uint8_t *b, size_t len)
{
    ProtobufCMessage *e = NULL, *h = NULL;
    json_t *o = NULL;

    if (am_pb_unpack(&amanat__v1__envelope__descriptor, "file", b, len,
                     SHOW_MAX, &e) != 0)
        return NULL;
    if (am_pb_unpack(&amanat__v1__envelope_header__descriptor, "header",
                     ((Amanat__V1__Envelope *)e)->header.data,
                     ((Amanat__V1__Envelope *)e)->header.len, SHOW_MAX,
                     &h) == 0) {
        const Amanat__V1__EnvelopeHeader *hd = (void *)h;
        if (hd->version == 1 && hd->message_id.len == 16 &&
            am_agency_id_valid(hd->sender_id))
            o = show_envelope((void *)e, hd);
        am_pb_free(h);
    }
    am_pb_free(e);
    return o;
}

/* "key: value" lines, nested values as compact JSON. */
static void print_human(json_t *o)
{
    const char *key;
    json_t *v;

    json_object_foreach(o, key, v) {
        char *s = json_is_string(v)
                      ? NULL
                      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%-14s %s\n", key, s ? s : json_string_value(v));
        free(s);
    }
}

int am_cmd_show(int argc, char **argv, const char *cmd)
{
    const char *path = NULL;
    uint8_t *b = NULL;
    size_t len;
    json_t *o = NULL;
    int as_json = 0, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "--help") == 0)
            return printf("usage: amanat %s FILE [--json]\n", cmd), AM_EXIT_OK;
        else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else
            return am_cli_usage(cmd, "unexpected argument %s", argv[i]);
    }
    if (path == NULL)
        return am_cli_usage(cmd, "FILE is required");
    if ((rc = am_file_read(path, SHOW_MAX, &b, &len, NULL)) != 0)
        return am_cli_fail(rc);
    if ((o = show_key((char *)b, len)) == NULL &&
        (o = show_binary(b, len)) == NULL)
        o = show_env(b, len);
    sodium_memzero(b, len);
    am_free(b);
    if (o == NULL) {
        fprintf(stderr, "amanat: %s: not a key file, certificate, revocation "
                "list or envelope\n", path);
        return AM_EXIT_REFUSED;
    }
    if (as_json) {
        char *s = json_dumps(o, JSON_INDENT(2));
        puts(s ? s : "{}");
        free(s);
    } else {
        print_human(o);
    }
    json_decref(o);
    return AM_EXIT_OK;
}
