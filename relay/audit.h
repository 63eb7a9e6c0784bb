/* The relay's tamper-evident audit log (docs/OPERATIONS.md, "Audit").
 *
 * When every recipient of a message has acknowledged it, or it expired for
 * those who had not, the envelope's bytes are deleted and one record stays:
 * message id, sender, each recipient with its outcome (delivered or
 * expired), size, accepted and completed times, envelope hash.  Each record's hash is
 * BLAKE2b-256(previous hash || the record's canonical text), the first
 * previous hash being 32 zero bytes, so changing, removing or reordering a
 * record breaks every link after it. */
#ifndef AM_AUDIT_H
#define AM_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define AM_AUDIT_TEXT_MAX 2048

/* The canonical text of one record:
 * "amanat-audit/2|ID_HEX|SENDER|R1:OUTCOME,R2:OUTCOME,...|SIZE|ACCEPTED_AT|
 *  COMPLETED_AT|HASH_HEX", OUTCOME "delivered" or "expired". */
int am_audit_text(const uint8_t id[16], const char *sender,
                  const char *recipients, int64_t size, int64_t accepted_at,
                  int64_t completed_at, const uint8_t hash[32], char *out,
                  size_t cap, size_t *len);

/* The statements am_audit_append runs, prepared once by their owner (the
 * store) from am_audit_sql and finalized by it. */
enum { AM_AUDIT_FACTS, AM_AUDIT_LAST, AM_AUDIT_INSERT, AM_AUDIT_NSTMT };
extern const char *const am_audit_sql[AM_AUDIT_NSTMT];

/* Append the record of message id (in the caller's transaction). */
int am_audit_append(sqlite3_stmt *const st[AM_AUDIT_NSTMT],
                    const uint8_t id[16], int64_t now);

/* Walk the chain.  0 when intact (*records set); AM_ECRYPTO when a link
 * is broken, with *bad the sequence number of the first broken record and
 * a sentence naming it. */
int am_audit_verify(sqlite3 *db, uint64_t *records, uint64_t *bad);

#endif
