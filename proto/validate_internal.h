/* Shared by proto/validate*.c only: the walk's state (a JSON path that grows
 * and shrinks as the walk descends), problem recording and the text
 * predicates.  Not installed, not for other modules. */
#ifndef AM_VALIDATE_INTERNAL_H
#define AM_VALIDATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

typedef struct {
    am_problems_t *out;
    int64_t now;
    int rc;             /* AM_ENOMEM once the list failed to grow */
    size_t total;       /* problems found, recorded or not */
    size_t len;         /* strlen(path) */
    char path[AM_PROBLEM_PATH_MAX];
} am_vctx_t;

/* Descend: append ".name" or "[i]"; both return the mark to pop back to. */
size_t am_v_push(am_vctx_t *v, const char *name);
size_t am_v_index(am_vctx_t *v, size_t i);
void am_v_pop(am_vctx_t *v, size_t mark);

/* Record a problem at the current path + "." + leaf (leaf NULL: the
 * current path itself). */
void am_v_problem(am_vctx_t *v, const char *leaf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A value quoted for a message: at most 40 bytes, cut on a UTF-8
 * boundary, control characters shown as '?', "..." when cut.  Use as
 * am_v_show(s).s inside the am_v_problem call (C11 temporary lifetime). */
typedef struct {
    char s[48];
} am_shown_t;
am_shown_t am_v_show(const char *s);

/* Timestamp checks (flags may be combined). */
enum { AM_V_NOT_FUTURE = 1, AM_V_NOT_PAST = 2 };

/* Problems when ts is malformed or breaks a flag; ts NULL: nothing (the
 * caller decides whether it is required).  Returns true when ts is set and
 * well formed. */
bool am_v_time(am_vctx_t *v, const char *leaf,
               const Google__Protobuf__Timestamp *ts, int flags);

/* Text predicates: pure, NULL-safe. */
bool am_v_blank(const char *s);
bool am_v_e164(const char *s);
bool am_v_email(const char *s);
bool am_v_hex(const char *s, size_t n, bool lower_only);
bool am_v_base64(const char *s, size_t bytes);
bool am_v_time_zone(const char *s);
bool am_v_imei(const char *s);
bool am_v_ticker(const char *s);

/* Amount: 0 valid, 1 not a decimal string, 2 more than 15 integer digits. */
int am_v_amount(const char *s);

/* Date of birth "YYYY-MM-DD": 0 and *t (00:00 UTC that day) when it is a
 * real date, -1 otherwise. */
int am_v_date(const char *s, int64_t *t);

/* Missing-field helper: records "<what> is missing: <why>" style problems
 * when s is blank; returns true when s is present. */
bool am_v_need(am_vctx_t *v, const char *leaf, const char *s,
               const char *message);

/* An ISO 3166-1 alpha-2 code when cc is not blank. */
void am_v_country(am_vctx_t *v, const char *leaf, const char *cc);

/* Blocks (validate_blocks.c).  required: a missing field is a problem;
 * otherwise only the fields present are checked. */
void am_v_contact(am_vctx_t *v, const char *leaf,
                  const Amanat__V1__Contact *c, bool required);
void am_v_authority(am_vctx_t *v, const Amanat__V1__RequestingAuthority *ra,
                    bool required);
void am_v_confirmation(am_vctx_t *v, const Amanat__V1__Contact *c,
                       bool required);
void am_v_judicial(am_vctx_t *v, const Amanat__V1__JudicialAuthority *j);
void am_v_legal_bases(am_vctx_t *v, const Amanat__V1__CaseMessage *m,
                      bool required);
void am_v_offences(am_vctx_t *v, Amanat__V1__OffenceType *const *o, size_t n,
                   bool required);
void am_v_handling(am_vctx_t *v, const Amanat__V1__Handling *h);
void am_v_evaluation(am_vctx_t *v, const Amanat__V1__Evaluation *e);
void am_v_languages(am_vctx_t *v, const char *leaf, char *const *l, size_t n);

/* Data held by a provider.  relation: relationToOffence is required
 * (preservation, Art. 29(2)(c)). */
void am_v_data(am_vctx_t *v, Amanat__V1__DataToPreserve *const *d, size_t n,
               bool relation);

/* Entities (validate_entities.c). */
void am_v_entities(am_vctx_t *v, const char *leaf,
                   const Amanat__V1__Entities *e);
void am_v_media(am_vctx_t *v, const char *leaf,
                Amanat__V1__MediaReference *const *m, size_t n);
void am_v_locations(am_vctx_t *v, const char *leaf,
                    Amanat__V1__Location *const *l, size_t n);

#endif
