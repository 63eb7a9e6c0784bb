/* A salvage's repairs (store_salvage.h), in the new store once every
 * readable row is in it: deliveries recreated for held envelopes that
 * lost theirs, sequences set above every seq seen, usage counted again,
 * and the list of what was lost.
 *
 * Recreating a delivery.  A delivery row is (seq, recipient, state,
 * priority, agencies): to an agency served here, or one row to a peer
 * relay naming in agencies every recipient homed there (put_delivery,
 * store_ops.c).  An envelope that still hashes to its envelope_hash names
 * its recipients truthfully; a recipient covered by no recovered row
 * (none to it, none listing it, none to the peer relay it is homed at:
 * that relay stores every recipient homed there) lost its row, whose
 * state is unknown.  The store does not know where an agency is homed:
 * the relay's directory does (the route callback, store.h).  Served here:
 * a pending delivery again.  Homed at a peer relay, for an envelope
 * submitted here: a pending delivery to that relay again.  Both are
 * at-least-once: a recipient drops a message id it holds, a peer relay
 * answers a forwarded envelope it stored with its first answer.  Neither
 * (or no directory): for an envelope submitted here, that delivery ends
 * damaged and its sender is owed DAMAGED evidence, so that it sends
 * again; for one forwarded here, the recipient was another relay's. */
#include "store_salvage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "sign.h"
#include "timefmt.h"

enum { F_ROWS, F_DLV, F_NOTE, F_STRIP, F_COUNT, F_N };

static const char *const fix_sql[F_N] = {
    [F_ROWS] = "SELECT d.recipient, d.agencies IS NOT NULL, j.value, "
               "d.state FROM deliveries d LEFT JOIN json_each(d.agencies) "
               "j WHERE d.seq = ?1",
    [F_DLV] = "INSERT OR IGNORE INTO deliveries (seq, recipient, state, "
              "priority, agencies) VALUES (?1, ?2, ?3, ?4, ?5)",
    [F_NOTE] = "INSERT OR IGNORE INTO notices (sender, kind, message_id, "
               "envelope_hash, recipient, time, state) VALUES (?1, 4, ?2, "
               "?3, ?4, ?5, 0)",
    [F_STRIP] = "DELETE FROM deliveries WHERE seq = ?1 AND recipient = ?2 "
                "AND agencies IS NULL AND state = 0",
    [F_COUNT] = "SELECT count(*) FROM deliveries WHERE seq = ?1",
};

typedef struct {
    sqlite3_stmt *st[F_N];
    int64_t seq;
    int priority;
    bool routed; /* forwarded here by a peer relay */
    const char *sender;
    const uint8_t *id, *hash;
    char hex[2 * AM_MSG_ID_LEN + 1];
    size_t n;
    const char *who[AM_ENV_MAX_RECIPIENTS];
    bool covered[AM_ENV_MAX_RECIPIENTS];
    char relays[AM_ENV_MAX_RECIPIENTS][AM_AGENCY_ID_MAX + 1];
    size_t n_relays;
    char stray[AM_ENV_MAX_RECIPIENTS][AM_AGENCY_ID_MAX + 1];
    size_t n_stray;
} fix_t;

static sqlite3_stmt *use(fix_t *f, int which)
{
    sqlite3_reset(f->st[which]);
    sqlite3_clear_bindings(f->st[which]);
    return f->st[which];
}

static int done(salvage_t *v, sqlite3_stmt *st)
{
    int step = sqlite3_step(st);

    sqlite3_reset(st);
    return step == SQLITE_DONE ? 0 : store_db_error(v->s, "salvage: fix");
}

static long find(const fix_t *f, const char *who)
{
    for (size_t i = 0; who != NULL && i < f->n; i++)
        if (strcmp(f->who[i], who) == 0)
            return (long)i;
    return -1;
}

static bool has_relay(const fix_t *f, const char *id)
{
    for (size_t i = 0; i < f->n_relays; i++)
        if (strcmp(f->relays[i], id) == 0)
            return true;
    return false;
}

static void one_row(fix_t *f, sqlite3_stmt *q)
{
    const char *to = (const char *)sqlite3_column_text(q, 0);
    const char *j = (const char *)sqlite3_column_text(q, 2);
    long i;

    if (to == NULL || strlen(to) > AM_AGENCY_ID_MAX)
        return;
    if (sqlite3_column_int(q, 1) == 0) {
        if ((i = find(f, to)) >= 0)
            f->covered[i] = true;
        else if (sqlite3_column_int(q, 3) == 0 &&
                 f->n_stray < AM_ENV_MAX_RECIPIENTS)
            memcpy(f->stray[f->n_stray++], to, strlen(to) + 1);
        return;
    }
    if (!has_relay(f, to) && f->n_relays < AM_ENV_MAX_RECIPIENTS)
        memcpy(f->relays[f->n_relays++], to, strlen(to) + 1);
    if ((i = find(f, j)) >= 0)
        f->covered[i] = true;
}

/* Which recipients a recovered row covers; a pending row to an agency the
 * envelope is not for is damage: removed, and that recipient's delivery
 * is then recreated like any lost one. */
static int cover(salvage_t *v, fix_t *f)
{
    sqlite3_stmt *q = use(f, F_ROWS);
    int step, rc = 0;

    sqlite3_bind_int64(q, 1, f->seq);
    while ((step = sqlite3_step(q)) == SQLITE_ROW)
        one_row(f, q);
    sqlite3_reset(q);
    if (step != SQLITE_DONE)
        return store_db_error(v->s, "salvage: deliveries");
    for (size_t i = 0; i < f->n_stray && rc == 0; i++) {
        sqlite3_stmt *d = use(f, F_STRIP);

        fprintf(stderr, "amanat-relay: store salvage: message %s (seq %lld): "
                "a pending delivery to %s, which it is not addressed to, "
                "removed as damaged\n", f->hex, (long long)f->seq,
                f->stray[i]);
        sqlite3_bind_int64(d, 1, f->seq);
        sqlite3_bind_text(d, 2, f->stray[i], -1, SQLITE_STATIC);
        rc = done(v, d);
    }
    return rc;
}

static int put_dlv(salvage_t *v, fix_t *f, const char *to, int state,
                   const char *agencies)
{
    sqlite3_stmt *w = use(f, F_DLV);

    sqlite3_bind_int64(w, 1, f->seq);
    sqlite3_bind_text(w, 2, to, -1, SQLITE_STATIC);
    sqlite3_bind_int(w, 3, state);
    sqlite3_bind_int(w, 4, f->priority);
    if (agencies != NULL)
        sqlite3_bind_text(w, 5, agencies, -1, SQLITE_STATIC);
    return done(v, w);
}

/* One pending delivery to peer relay via for every uncovered recipient
 * homed there (the JSON list as put_delivery writes it). */
static int put_relay(salvage_t *v, fix_t *f, const char *via,
                     char (*vias)[AM_AGENCY_ID_MAX + 1], const int *where)
{
    char list[AM_ENV_MAX_RECIPIENTS * (AM_AGENCY_ID_MAX + 3) + 3];
    size_t used = 0;

    for (size_t k = 0; k < f->n; k++)
        if (!f->covered[k] && where[k] == AM_STORE_VIA &&
            strcmp(vias[k], via) == 0) {
            used += (size_t)snprintf(list + used, sizeof list - used,
                                     "%s\"%s\"", used ? "," : "[", f->who[k]);
            f->covered[k] = true;
        }
    snprintf(list + used, sizeof list - used, "]");
    v->recreated++;
    return put_dlv(v, f, via, 0, list);
}

/* Nobody can take it: the delivery ends damaged, its sender is told. */
static int give_up(salvage_t *v, fix_t *f, const char *to)
{
    sqlite3_stmt *w = use(f, F_NOTE);
    int rc;

    if ((rc = put_dlv(v, f, to, 5, NULL)) != 0)
        return rc;
    sqlite3_bind_text(w, 1, f->sender, -1, SQLITE_STATIC);
    sqlite3_bind_blob(w, 2, f->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(w, 3, f->hash, AM_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(w, 4, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w, 5, v->now);
    if ((rc = done(v, w)) == 0) {
        v->damaged++;
        v->told += (uint64_t)sqlite3_changes(v->s->db);
    }
    return rc;
}

static int route(salvage_t *v, fix_t *f, size_t i,
                 char via[AM_AGENCY_ID_MAX + 1])
{
    am_store_t *s = v->s;
    int where;

    via[0] = '\0';
    if (f->covered[i] || s->route == NULL)
        return AM_STORE_NOWHERE;
    where = s->route(s->route_ctx, f->who[i], via);
    via[AM_AGENCY_ID_MAX] = '\0';
    if (where == AM_STORE_VIA && !am_agency_id_valid(via))
        return AM_STORE_NOWHERE;
    /* a peer relay that holds a copy stores it for every agency homed
     * there (link_recv.c): they are covered by it */
    if (where == AM_STORE_VIA && has_relay(f, via))
        f->covered[i] = true;
    return where;
}

static int recreate(salvage_t *v, fix_t *f)
{
    char vias[AM_ENV_MAX_RECIPIENTS][AM_AGENCY_ID_MAX + 1];
    int where[AM_ENV_MAX_RECIPIENTS], rc = 0;
    uint64_t made = v->recreated, ended = v->damaged;

    for (size_t i = 0; i < f->n; i++)
        where[i] = route(v, f, i, vias[i]);
    for (size_t i = 0; i < f->n && rc == 0; i++) {
        if (f->covered[i] || (f->routed && where[i] != AM_STORE_HERE))
            continue; /* forwarded here: the others were another relay's */
        if (where[i] == AM_STORE_HERE) {
            v->recreated++;
            rc = put_dlv(v, f, f->who[i], 0, NULL);
        } else if (where[i] == AM_STORE_VIA) {
            rc = put_relay(v, f, vias[i], vias, where);
        } else {
            rc = give_up(v, f, f->who[i]);
        }
    }
    if ((v->recreated > made || v->damaged > ended) &&
        v->logged++ < SV_LOG_LINES)
        fprintf(stderr, "amanat-relay: store salvage: message %s (seq %lld): "
                "%llu deliveries recreated, %llu ended damaged with its sender "
                "told (their records were lost)\n", f->hex, (long long)f->seq,
                (unsigned long long)(v->recreated - made),
                (unsigned long long)(v->damaged - ended));
    return rc;
}

static int untold(salvage_t *v, fix_t *f, const char *why)
{
    sv_untold_t u = {f->seq, {0}, f->id != NULL, why};

    if (f->id != NULL)
        memcpy(u.id, f->id, AM_MSG_ID_LEN);
    return sv_push((void **)&v->untold, &v->n_untold, &v->cap_untold,
                   sizeof u, &u);
}

/* Bytes that still hash to envelope_hash name the true recipients. */
static bool real_env(sqlite3_stmt *m, am_env_t **e)
{
    const uint8_t *env = sqlite3_column_blob(m, 5);
    size_t len = (size_t)sqlite3_column_bytes(m, 5);
    uint8_t h[AM_HASH_LEN];

    *e = NULL;
    return env != NULL && len > 0 && len <= AM_ENV_MAX &&
           sqlite3_column_bytes(m, 2) == AM_HASH_LEN &&
           am_hash256(env, len, h) == 0 &&
           memcmp(h, sqlite3_column_blob(m, 2), AM_HASH_LEN) == 0 &&
           am_env_parse(env, len, AM_ENV_MAX, e) == 0;
}

/* Whether every row of the deliveries table was read back whole. */
static bool all_deliveries(const salvage_t *v)
{
    const sv_table_t *d = &v->t[SV_DELIVERIES];

    return d->readable && d->first_gap < 0 && d->dropped == 0;
}

static int held_one(salvage_t *v, fix_t *f, sqlite3_stmt *m)
{
    sqlite3_stmt *q;
    am_env_t *e;
    bool real = real_env(m, &e);
    int rc = 0;

    f->seq = sqlite3_column_int64(m, 0);
    f->id = sqlite3_column_bytes(m, 1) == AM_MSG_ID_LEN
                ? sqlite3_column_blob(m, 1) : NULL;
    snprintf(f->hex, sizeof f->hex, "(unreadable)");
    if (f->id != NULL)
        sodium_bin2hex(f->hex, sizeof f->hex, f->id, AM_MSG_ID_LEN);
    if (real) {
        f->hash = sqlite3_column_blob(m, 2);
        f->sender = (const char *)sqlite3_column_text(m, 3);
        f->routed = sqlite3_column_type(m, 4) != SQLITE_NULL;
        f->priority = am_env_claimed_priority(e);
        f->n = am_env_claimed_recipient_count(e);
        f->n = f->n < AM_ENV_MAX_RECIPIENTS ? f->n : AM_ENV_MAX_RECIPIENTS;
        f->n_relays = f->n_stray = 0;
        for (size_t i = 0; i < f->n; i++) {
            f->who[i] = am_env_claimed_recipient(e, i);
            f->covered[i] = false;
        }
        if (f->sender != NULL && (rc = cover(v, f)) == 0)
            rc = recreate(v, f);
    }
    am_env_free(e);
    q = use(f, F_COUNT);
    sqlite3_bind_int64(q, 1, f->seq);
    if (rc == 0 && sqlite3_step(q) != SQLITE_ROW)
        rc = store_db_error(v->s, "salvage: deliveries");
    /* bytes that are not its envelope name nobody: when some delivery
     * rows were lost, one of them may have been a pending one whose
     * recipient no row names any more */
    if (rc == 0 && (sqlite3_column_int64(q, 0) == 0 ||
                    (!real && !all_deliveries(v))))
        rc = untold(v, f, real ? "its delivery records were lost and none "
                    "of its recipients is served here or at a linked relay"
                    : "its envelope and some delivery records are damaged: "
                    "whom it was for is unknown");
    sqlite3_reset(q);
    return rc;
}

static int held(salvage_t *v, fix_t *f)
{
    sqlite3_stmt *m = NULL;
    int step, rc = 0;

    if (sqlite3_prepare_v2(v->s->db, "SELECT seq, message_id, envelope_hash, "
                           "sender, route, envelope FROM messages WHERE "
                           "envelope IS NOT NULL ORDER BY seq", -1, &m,
                           NULL) != SQLITE_OK)
        return store_db_error(v->s, "salvage: messages");
    while (rc == 0 && (step = sqlite3_step(m)) == SQLITE_ROW)
        rc = held_one(v, f, m);
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_db_error(v->s, "salvage: messages");
    sqlite3_finalize(m);
    return rc;
}

/* name's sqlite_sequence at least seq: never reused, whatever was lost. */
static int sequence(salvage_t *v, const char *name, int64_t seq)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    for (int i = 0; i < 2 && rc == 0; i++) {
        if (sqlite3_prepare_v2(v->s->db, i == 0
                ? "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND "
                  "seq < ?2"
                : "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 "
                  "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE "
                  "name = ?1)", -1, &st, NULL) != SQLITE_OK)
            return store_db_error(v->s, "salvage: sequence");
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, seq);
        rc = done(v, st);
        sqlite3_finalize(st);
        st = NULL;
    }
    return rc;
}

static int64_t top(const sv_table_t *t)
{
    return t->hi > t->known ? t->hi : t->known;
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The highest message seq that existed, from every place that names one. */
static void seq_hi(salvage_t *v)
{
    v->seq_hi = top(&v->t[SV_MESSAGES]);
    if (v->n_named > 0)
        qsort(v->named, v->n_named, sizeof *v->named, by_seq);
    if (v->n_orph > 0)
        qsort(v->orph, v->n_orph, sizeof *v->orph, by_seq);
    if (v->n_named > 0 && v->named[v->n_named - 1].seq > v->seq_hi)
        v->seq_hi = v->named[v->n_named - 1].seq;
    if (v->n_orph > 0 && v->orph[v->n_orph - 1].seq > v->seq_hi)
        v->seq_hi = v->orph[v->n_orph - 1].seq;
}

int sv_fix(salvage_t *v)
{
    fix_t f;
    int rc = 0;

    memset(&f, 0, sizeof f);
    seq_hi(v);
    for (int i = 0; i < F_N && rc == 0; i++)
        if (sqlite3_prepare_v2(v->s->db, fix_sql[i], -1, &f.st[i], NULL) !=
            SQLITE_OK)
            rc = store_db_error(v->s, fix_sql[i]);
    if (rc == 0)
        rc = held(v, &f);
    for (int i = 0; i < F_N; i++)
        sqlite3_finalize(f.st[i]);
    if (rc == 0 && v->seq_hi > 0)
        rc = sequence(v, "messages", v->seq_hi);
    if (rc == 0 && top(&v->t[SV_NOTICES]) > 0)
        rc = sequence(v, "notices", top(&v->t[SV_NOTICES]));
    if (rc == 0 && top(&v->t[SV_AUDIT]) > 0)
        rc = sequence(v, "audit", top(&v->t[SV_AUDIT]));
    /* what each sender holds, counted once from what was recovered */
    if (rc == 0 && (rc = store_exec(v->s, "DELETE FROM usage")) == 0)
        rc = store_exec(v->s, "INSERT INTO usage SELECT sender, count(*), "
                        "coalesce(sum(length(envelope)), 0) FROM messages "
                        "WHERE envelope IS NOT NULL GROUP BY sender");
    return rc;
}

/* lost.txt: what an operator can tell the agencies about each message
 * the relay will neither deliver nor report. */
typedef struct {
    salvage_t *v;
    FILE *f;
    sqlite3_stmt *near[2]; /* accepted_at of the recovered seq before, after */
    size_t in, io;         /* next named, next orphan */
} lost_t;

static void when(lost_t *l, int64_t lo, int64_t hi, char *out, size_t cap)
{
    char t[2][AM_TIME_TEXT_MAX];
    bool have[2];
    int64_t at[2] = {lo, hi};

    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *q = l->near[i];

        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, at[i]);
        have[i] = sqlite3_step(q) == SQLITE_ROW &&
                  am_time_format(sqlite3_column_int64(q, 0), t[i]) == 0;
        sqlite3_reset(q);
    }
    if (have[0] && have[1])
        snprintf(out, cap, "accepted between %s and %s", t[0], t[1]);
    else if (have[0] || have[1])
        snprintf(out, cap, "accepted %s %s", have[0] ? "after" : "before",
                 t[have[0] ? 0 : 1]);
    else
        snprintf(out, cap, "accepted at an unknown time");
}

static const char *state_word(int state)
{
    static const char *const w[] = {"pending", "?", "done", "expired",
                                    "refused", "damaged"};

    return state >= 0 && state <= 5 ? w[state] : "unreadable";
}

static void run_line(lost_t *l, int64_t a, int64_t b)
{
    char w[96];

    if (a == 0)
        return;
    when(l, a, b, w, sizeof w);
    fprintf(l->f, "- seq %lld..%lld (%lld messages) %s: nothing else of them "
            "could be read\n", (long long)a, (long long)b,
            (long long)(b - a + 1), w);
}

/* One lost seq with something known of it; its orphans are io..end. */
static void seq_line(lost_t *l, int64_t seq, const sv_named_t *n, size_t end)
{
    char id[2 * AM_MSG_ID_LEN + 1] = "-", w[96];
    salvage_t *v = l->v;

    if (n != NULL) {
        sodium_bin2hex(id, sizeof id, n->id, AM_MSG_ID_LEN);
        if (v->lost_named++ < SV_LOG_LINES)
            fprintf(stderr, "amanat-relay: store salvage: message %s (seq "
                    "%lld) LOST: its record could not be read; its sender "
                    "cannot be told (only that record names it)\n", id,
                    (long long)seq);
    }
    when(l, seq, seq, w, sizeof w);
    fprintf(l->f, "%s seq %lld %s", id, (long long)seq, w);
    for (size_t k = l->io; k < end; k++)
        fprintf(l->f, "%s%s:%s", k == l->io ? " for " : ",",
                v->orph[k].who[0] ? v->orph[k].who : "(unreadable)",
                state_word(v->orph[k].state));
    fputc('\n', l->f);
}

/* Seq s was not recovered: lost (listed, or joined to the run of unknown
 * ones from *run), or finished before the damage (all its deliveries
 * read back were done). */
static void one_seq(lost_t *l, int64_t s, int64_t *run)
{
    salvage_t *v = l->v;
    const sv_named_t *n = NULL;
    size_t end;
    bool open = false;

    while (l->in < v->n_named && v->named[l->in].seq < s)
        l->in++;
    if (l->in < v->n_named && v->named[l->in].seq == s)
        n = &v->named[l->in];
    while (l->io < v->n_orph && v->orph[l->io].seq < s)
        l->io++;
    for (end = l->io; end < v->n_orph && v->orph[end].seq == s; end++)
        open |= v->orph[end].state == 0 || v->orph[end].state < 0;
    /* finished only when every delivery row was read: a lost one may have
     * been the pending one */
    open |= !all_deliveries(v);
    if (end > l->io && !open) {
        v->finished++;
    } else {
        v->lost++;
        if (n == NULL && end == l->io) {
            if (*run == 0)
                *run = s;
            return;
        }
    }
    run_line(l, *run, s - 1);
    *run = 0;
    if (end > l->io && !open)
        return;
    seq_line(l, s, n, end);
}

int sv_write_lost(salvage_t *v, FILE *f)
{
    lost_t l = {v, f, {NULL, NULL}, 0, 0};
    int64_t run = 0;
    int rc = 0;

    if (sqlite3_prepare_v2(v->s->db, "SELECT accepted_at FROM messages "
                           "WHERE seq < ?1 ORDER BY seq DESC LIMIT 1", -1,
                           &l.near[0], NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(v->s->db, "SELECT accepted_at FROM messages "
                           "WHERE seq > ?1 ORDER BY seq LIMIT 1", -1,
                           &l.near[1], NULL) != SQLITE_OK) {
        rc = store_db_error(v->s, "salvage: lost");
        goto done;
    }
    fprintf(f, "# Messages the relay held that its store salvage could not "
            "read back: it will\n# neither deliver them nor tell their "
            "senders.  One line per message (ID in hex,\n# - when "
            "unreadable; seq: the order of arrival; recipients with the "
            "state of\n# their delivery, when known), or per run of "
            "messages of which nothing is known.\n");
    for (int64_t s = 1; s <= v->seq_hi; s++) {
        if (!sv_got(v, s))
            one_seq(&l, s, &run);
        else if (run != 0)
            run_line(&l, run, s - 1), run = 0;
    }
    run_line(&l, run, v->seq_hi);
    for (size_t i = 0; i < v->n_untold; i++) {
        char id[2 * AM_MSG_ID_LEN + 1] = "-";

        if (v->untold[i].named)
            sodium_bin2hex(id, sizeof id, v->untold[i].id, AM_MSG_ID_LEN);
        fprintf(f, "%s seq %lld held: %s\n", id, (long long)v->untold[i].seq,
                v->untold[i].why);
        fprintf(stderr, "amanat-relay: store salvage: message %s (seq %lld) "
                "LOST: %s\n", id, (long long)v->untold[i].seq,
                v->untold[i].why);
        v->lost++;
        v->lost_named += v->untold[i].named;
    }
done:
    sqlite3_finalize(l.near[0]);
    sqlite3_finalize(l.near[1]);
    return rc;
}
