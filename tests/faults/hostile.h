/* Hostile peers against a running amanat-relay (issue 9, item 6): what
 * test-hostile.c shares with its attack files.
 *
 *   hostile_proc.c     the relay's memory, descriptors and CPU from /proc,
 *                      sampled on a thread while the attacks run
 *   hostile_preauth.c  attacks before authentication: half-open
 *                      connections, the per-address limit, slowloris,
 *                      random bytes, a 0xFFFF handshake length
 *   hostile_auth.c     attacks after a valid handshake: garbage frames,
 *                      4 GiB and just-too-big frame lengths, a trickle
 *                      after authentication
 *   hostile_flood.c    an authenticated agency submitting past its quota
 *   hostile_emfile.c   the relay out of file descriptors (prlimit), with
 *                      a storm of connections and SIGHUP reloads
 *
 * Attack threads never call cmocka (its failures jump on the main
 * thread's stack): they fill in counts, and the main thread checks them. */
#ifndef AM_HOSTILE_H
#define AM_HOSTILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "relay_fixture.h"

/* Milliseconds on the monotonic clock. */
int64_t hx_now_ms(void);
void hx_sleep_ms(int64_t ms);

/* ---- hostile_proc.c ---- */

/* The relay's resident set now and its high-water mark, in KiB. */
int hx_proc_mem(pid_t pid, long *rss_kib, long *hwm_kib);
/* Entries of /proc/PID/fd, or -1. */
int hx_proc_fds(pid_t pid);
/* User plus system CPU time of the process, in clock ticks. */
int hx_proc_cpu(pid_t pid, unsigned long long *ticks);
/* Connections waiting in the accept queue of the listener on
 * 127.0.0.1:port, or -1. */
int hx_accept_queue(int port);

typedef struct {
    pid_t pid;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    long rss_kib, rss_max_kib; /* last sample; maximum since the reset */
    int fds, fds_max;
    long samples;
    bool failed; /* /proc could not be read: the relay is gone */
} hx_sampler_t;

/* Sample pid every 20 ms on a thread until hx_sampler_stop; both return
 * 0, or non-zero when a thread could not be made or joined. */
int hx_sampler_start(hx_sampler_t *s, pid_t pid);
int hx_sampler_stop(hx_sampler_t *s);
/* The maxima start again from the last sample. */
void hx_sampler_reset(hx_sampler_t *s);
/* A copy of the figures, taken under the lock. */
void hx_sampler_read(hx_sampler_t *s, hx_sampler_t *out);

/* ---- hostile_preauth.c ---- */

typedef enum {
    HX_HALF,   /* connect, then nothing or part of message 1 */
    HX_PERIP,  /* more connections from one address than it may hold */
    HX_SLOW,   /* message 1, one byte per second */
    HX_RANDOM, /* random bytes in place of a handshake */
    HX_HSBIG,  /* a handshake length of 0xFFFF, nothing after it */
    HX_KINDS
} hx_kind_t;

typedef struct {
    int opened, failed; /* connections made; connects that failed */
    int closed;         /* closed by the relay before the deadline */
    int quick;          /* of those, within HX_QUICK_MS of connecting */
    int64_t min_ms, max_ms; /* connect to close, over the closed ones */
    unsigned max_sent;  /* most bytes one connection sent */
} hx_tally_t;

#define HX_QUICK_MS 1000

typedef struct {
    int port;
    int n[HX_KINDS];   /* connections of each kind */
    int half_addrs;    /* HX_HALF spread over 127.0.0.10 and up */
    int deadline_ms;   /* from the start: later, the relay failed */
    atomic_bool opened; /* every connection is open */
    int64_t open_ms;   /* how long opening them all took */
    hx_tally_t t[HX_KINDS];
    char why[160];     /* set when the attack itself could not run */
} hx_preauth_t;

void *hx_preauth_run(void *arg);

/* A blocking TCP connection from src (127.0.0.x) to 127.0.0.1:port,
 * waiting at most timeout_ms; -1 with errno on failure. */
int hx_connect_from(const char *src, int port, int timeout_ms);
/* Before more connects: wait (at most 2 s) until the relay has taken
 * all but HX_QUEUE_MAX of the connections queued for it.  Its accept
 * queue holds 128; beyond, the kernel drops the SYN and the client's
 * connect stalls for a second, which would spread an attack meant to be
 * held at once over more than a handshake timeout. */
#define HX_QUEUE_MAX 32
void hx_pace(int port);
/* Has the peer closed fd (EOF or reset)?  Waits at most ms. */
bool hx_wait_closed(int fd, int ms);

/* ---- hostile_auth.c ---- */

typedef struct {
    int port;
    const party_t *who; /* the agency that authenticates, then misbehaves */
    size_t frame_max;   /* the relay's --frame-max */
    int idle_ms;        /* the relay's --idle-timeout-ms */
    int n_garbage, n_slow;
    /* results */
    int garbage_closed, garbage_errors; /* closed at once; Error frames */
    int big_sent, big_refused; /* over-long frame lengths; ERROR_TOO_BIG
                                  then closed */
    int slow_closed;
    int64_t slow_min_ms, slow_max_ms; /* AuthResult to close */
    char why[160];
} hx_auth_t;

void *hx_auth_run(void *arg);

/* ---- hostile_emfile.c ---- */

typedef struct {
    int port;
    pid_t pid;
    int room;     /* descriptors the relay may open beyond those it holds */
    int n;        /* burst: connections at once, from 127.0.0.40 and up */
    int hs_ms;    /* the relay's handshake timeout */
    int storm_ms; /* connections and SIGHUPs without pause */
    /* state */
    int *fd;
    struct rlimit old;
    bool limited;
    int64_t t_burst;
    atomic_bool hup_stop;
    /* results */
    int fds_before, limit, fds_at_limit;
    int opened, failed; /* burst connects that succeeded, failed */
    int shed;           /* closed by the relay at once */
    int held_closed;    /* the others, closed by the handshake timeout */
    int storm_tries, hups;
    double cpu_burst, cpu_quiet; /* of one core: burst, quiet after storm */
    char why[160];
} hx_emfile_t;

/* Lower the relay's limit, then the burst; 0 or -1 with e->why.  Call
 * hx_emfile_end after it in any case: it restores the limit. */
int hx_emfile_begin(hx_emfile_t *e);
int hx_emfile_storm(hx_emfile_t *e);
int hx_emfile_end(hx_emfile_t *e);

/* ---- hostile_flood.c ---- */

typedef struct {
    int port;
    const party_t *who;
    size_t n;           /* Submits, each a different envelope */
    uint8_t **env;
    size_t *len;
    unsigned window;    /* Submits sent ahead of their answers */
    /* results */
    size_t acked, quota, other;
    bool pong;          /* the session still answered a Ping after */
    int64_t ms;
    char why[160];
} hx_flood_t;

void *hx_flood_run(void *arg);
/* Ping with nonce; true once its Pong came (other frames are skipped)
 * within ms.  Frames sent before the Ping have then all been read. */
bool hx_ping(rc_client_t *c, uint64_t nonce, int ms);

#endif
