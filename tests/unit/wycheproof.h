/* The C2SP Wycheproof vectors (tests/vectors/wycheproof/) run against the
 * libsodium calls Amanat makes, through the project's own functions where
 * one takes the raw values.  Shared by test-wycheproof.c (loader, Ed25519,
 * the cmocka driver), wycheproof-x25519.c and wycheproof-aead.c. */
#ifndef AM_WYCHEPROOF_H
#define AM_WYCHEPROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* What one file's run found; printed as its figure line. */
typedef struct {
    size_t total;
    size_t valid_ok;          /* "valid": the exact expected output */
    size_t invalid_refused;   /* "invalid": refused */
    size_t acc_refused;       /* "acceptable" the project refuses */
    size_t acc_accepted;      /* "acceptable" it accepts, output exact */
    size_t not_applicable;    /* sizes the project's calls cannot take */
    size_t via_project;       /* also run through a project function */
    size_t by_length;         /* refused by a project length check */
    size_t mismatches;        /* each one printed with its tcId */
} wp_counts_t;

/* A test case's hex field, decoded into a new buffer (never NULL: one
 * spare byte, so an empty field still gives a pointer).  0 or -1. */
int wp_hex(const json_t *tc, const char *field, uint8_t **out, size_t *len);
/* The same into a fixed array: -1 unless the field has exactly len bytes. */
int wp_hex_fixed(const json_t *tc, const char *field, uint8_t *out,
                 size_t len);
const char *wp_str(const json_t *tc, const char *field);
bool wp_has_flag(const json_t *tc, const char *flag);
/* Print "tcId N (comment): what" and count a mismatch. */
void wp_mismatch(wp_counts_t *c, const json_t *tc, const char *what);

/* Run every test case of a parsed file; 0 when the file's shape was as
 * expected (mismatches are counted, not returned), -1 otherwise. */
int wp_run_x25519(const json_t *root, wp_counts_t *c);
int wp_run_aead(const json_t *root, bool xchacha, wp_counts_t *c);

#endif
