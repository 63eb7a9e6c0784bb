/* The power cut itself: after the relay was SIGKILLed, rewrite its data
 * folder as a power loss at that moment could have left it, from the
 * journal the shim wrote (powercut_log.h).
 *
 * Changes made durable (a file's writes by an fsync of it that returned,
 * names by an fsync of their folder) stay.  Of the others, a file's
 * writes and truncations are cut in one of two ways, chosen per cut: a
 * random prefix kept and the rest discarded, the first discarded write
 * possibly torn (a whole number of 512-byte sectors of it kept); or each
 * kept with probability 1/2.  A folder's name changes (create, rename,
 * unlink) since its last sync keep a random prefix, as a journaling file
 * system commits them in order.  A file whose creation is discarded is
 * gone, whatever was synced into it.  The result is the content last
 * made durable plus the kept changes, in their order. */
#ifndef AM_POWERCUT_CUT_H
#define AM_POWERCUT_CUT_H

#include <stddef.h>
#include <stdint.h>

/* ALL keeps every unsynced change and NONE none: the model test's
 * fixed points (test-powercut-model.c). */
typedef enum {
    PC_CUT_PREFIX,
    PC_CUT_SUBSET,
    PC_CUT_ALL,
    PC_CUT_NONE
} pc_cut_mode_t;

/* Totals over the cuts made with the same stats. */
typedef struct {
    size_t cuts, records, torn_tails;
    size_t cuts_discarding; /* cuts that discarded (or tore) a write */
    size_t writes, writes_unsynced, writes_discarded, writes_torn;
    size_t truncs_unsynced, truncs_discarded;
    size_t names_unsynced, creates_discarded, renames_discarded,
        unlinks_discarded;
} pc_cut_stats_t;

/* Apply the journal at log to folder dir, choosing with the seeded
 * generator *rng (t_rand: the same seed and journal, the same cut), and
 * print one line, starting with label, of what was discarded.  Returns
 * 0, or -1 (said on stderr) when the journal or a file cannot be read or
 * written: the test must then fail. */
int pc_cut(const char *dir, const char *log, pc_cut_mode_t mode,
           uint64_t *rng, const char *label, pc_cut_stats_t *st);

#endif
