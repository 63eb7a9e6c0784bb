/* Handshake patterns of Noise spec 7.4 (one-way), 7.5 (interactive) and
 * 18 (deferred), with the pskN modifiers of spec 9.  Each pattern is
 * written as in the spec: pre-messages, then messages separated by '|',
 * alternating initiator -> responder, responder -> initiator, ... */
#include "noise_internal.h"

#include <string.h>

#include "err.h"

typedef struct {
    const char *name;
    const char *pre_i; /* initiator's pre-message ("", "s") */
    const char *pre_r; /* responder's pre-message */
    const char *msgs;
} pattern_def_t;

static const pattern_def_t patterns[] = {
    /* one-way */
    {"N", "", "s", "e,es"},
    {"K", "s", "s", "e,es,ss"},
    {"X", "", "s", "e,es,s,ss"},
    /* interactive, fundamental */
    {"NN", "", "", "e|e,ee"},
    {"NK", "", "s", "e,es|e,ee"},
    {"NX", "", "", "e|e,ee,s,es"},
    {"KN", "s", "", "e|e,ee,se"},
    {"KK", "s", "s", "e,es,ss|e,ee,se"},
    {"KX", "s", "", "e|e,ee,se,s,es"},
    {"XN", "", "", "e|e,ee|s,se"},
    {"XK", "", "s", "e,es|e,ee|s,se"},
    {"XX", "", "", "e|e,ee,s,es|s,se"},
    {"IN", "", "", "e,s|e,ee,se"},
    {"IK", "", "s", "e,es,s,ss|e,ee,se"},
    {"IX", "", "", "e,s|e,ee,se,s,es"},
    /* interactive, deferred */
    {"NK1", "", "s", "e|e,ee,es"},
    {"NX1", "", "", "e|e,ee,s|es"},
    {"X1N", "", "", "e|e,ee|s|se"},
    {"X1K", "", "s", "e,es|e,ee|s|se"},
    {"XK1", "", "s", "e|e,ee,es|s,se"},
    {"X1K1", "", "s", "e|e,ee,es|s|se"},
    {"X1X", "", "", "e|e,ee,s,es|s|se"},
    {"XX1", "", "", "e|e,ee,s|es,s,se"},
    {"X1X1", "", "", "e|e,ee,s|es,s|se"},
    {"K1N", "s", "", "e|e,ee|se"},
    {"K1K", "s", "s", "e,es|e,ee|se"},
    {"KK1", "s", "s", "e|e,ee,se,es"},
    {"K1K1", "s", "s", "e|e,ee,es|se"},
    {"K1X", "s", "", "e|e,ee,s,es|se"},
    {"KX1", "s", "", "e|e,ee,se,s|es"},
    {"K1X1", "s", "", "e|e,ee,s|se,es"},
    {"I1N", "", "", "e,s|e,ee|se"},
    {"I1K", "", "s", "e,es,s|e,ee|se"},
    {"IK1", "", "s", "e,s|e,ee,se,es"},
    {"I1K1", "", "s", "e,s|e,ee,es|se"},
    {"I1X", "", "", "e,s|e,ee,s,es|se"},
    {"IX1", "", "", "e,s|e,ee,se,s|es"},
    {"I1X1", "", "", "e,s|e,ee,s|se,es"},
};

static int token_of(const char *t, size_t len)
{
    static const struct {
        const char *s;
        int tok;
    } names[] = {{"e", AM_TOK_E},   {"s", AM_TOK_S},   {"ee", AM_TOK_EE},
                 {"es", AM_TOK_ES}, {"se", AM_TOK_SE}, {"ss", AM_TOK_SS}};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].s) == len && memcmp(names[i].s, t, len) == 0)
            return names[i].tok;
    return 0;
}

/* Parse "e,ee,s" into toks; the table is ours, so errors are bugs. */
static int parse_tokens(const char *s, size_t len, uint8_t *toks,
                        uint8_t *n, size_t max)
{
    size_t i = 0;

    *n = 0;
    while (i < len) {
        size_t j = i;
        int tok;

        while (j < len && s[j] != ',')
            j++;
        if (*n >= max || (tok = token_of(s + i, j - i)) == 0)
            return AM_EINVAL;
        toks[(*n)++] = (uint8_t)tok;
        i = j + 1;
    }
    return 0;
}

static int load_def(const pattern_def_t *d, am_noise_pattern_t *p)
{
    const char *m = d->msgs;
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = parse_tokens(d->pre_i, strlen(d->pre_i), p->pre_i, &p->n_pre_i,
                           2)) != 0 ||
        (rc = parse_tokens(d->pre_r, strlen(d->pre_r), p->pre_r, &p->n_pre_r,
                           2)) != 0)
        return rc;
    while (*m != '\0') {
        const char *bar = strchr(m, '|');
        size_t len = bar ? (size_t)(bar - m) : strlen(m);

        if (p->n_msgs >= AM_NOISE_MAX_MSGS)
            return AM_EINVAL;
        if ((rc = parse_tokens(m, len, p->tok[p->n_msgs], &p->n_tok[p->n_msgs],
                               AM_NOISE_MAX_TOKENS - 2)) != 0)
            return rc;
        p->n_msgs++;
        m += len + (bar ? 1 : 0);
    }
    p->one_way = strlen(d->name) == 1;
    return 0;
}

/* pskN (spec 9.1): psk0 goes first in message 0, pskN last in message N-1. */
static int apply_psk(am_noise_pattern_t *p, unsigned n)
{
    if (n == 0) {
        if (p->n_tok[0] >= AM_NOISE_MAX_TOKENS)
            return AM_EUNSUPPORTED;
        memmove(p->tok[0] + 1, p->tok[0], p->n_tok[0]);
        p->tok[0][0] = AM_TOK_PSK;
        p->n_tok[0]++;
    } else {
        if (n > p->n_msgs || p->n_tok[n - 1] >= AM_NOISE_MAX_TOKENS)
            return AM_EUNSUPPORTED;
        p->tok[n - 1][p->n_tok[n - 1]++] = AM_TOK_PSK;
    }
    p->n_psk++;
    p->psk_mode = true;
    return 0;
}

/* Modifiers: "psk0+psk2".  Others (fallback, hfs) are not supported. */
static int apply_modifiers(am_noise_pattern_t *p, const char *s, size_t len)
{
    size_t i = 0;
    int rc;

    while (i < len) {
        size_t j = i;

        while (j < len && s[j] != '+')
            j++;
        if (j - i != 4 || memcmp(s + i, "psk", 3) != 0 || s[i + 3] < '0' ||
            s[i + 3] > '9')
            return AM_EUNSUPPORTED;
        if ((rc = apply_psk(p, (unsigned)(s[i + 3] - '0'))) != 0)
            return rc;
        if (j == len - 1) /* trailing '+' */
            return AM_EUNSUPPORTED;
        i = j + 1;
    }
    return 0;
}

int am_noise_pattern_parse(const char *name, size_t len,
                           am_noise_pattern_t *out)
{
    size_t base = 0;

    while (base < len && (name[base] < 'a' || name[base] > 'z'))
        base++;
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        const pattern_def_t *d = &patterns[i];
        int rc;

        if (strlen(d->name) != base || memcmp(d->name, name, base) != 0)
            continue;
        if ((rc = load_def(d, out)) != 0)
            return rc;
        return apply_modifiers(out, name + base, len - base);
    }
    return AM_EUNSUPPORTED;
}
