/* The power-cut shim and cut against known sequences of file calls: the
 * test re-runs itself with the shim preloaded (--child) to make the
 * calls in a fresh folder, then cuts keeping every unsynced change (the
 * files must be exactly as the child left them) or none (they must be
 * exactly as last made durable: a file's content by its fsync, a name by
 * its folder's).  Also: a second child appending to the first one's
 * journal (a relay killed and restarted, the power on) syncs what the
 * first left unsynced; calls the shim cannot model stop the child.
 * Prints "powercut model: N scenarios, M cuts checked".
 * usage: test-powercut-model PRELOAD */
#define _GNU_SOURCE /* O_TMPFILE is not in POSIX */
#include "../unit/test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "powercut_cut.h"

#define REFUSED 70 /* the shim's exit status when it cannot model a call */

/* Files by name and content; a NULL content: the file must not exist. */
typedef struct {
    const char *name, *text;
} file_t;

typedef struct {
    const char *name;
    file_t before[3];
    file_t all[3], none[3]; /* after a keep-all and a keep-none cut */
    int exit_code;
    const char *then; /* a second child, on the same journal */
} scenario_t;

static const char *self, *preload;
static char wdir[128]; /* the child's folder, watched */
/* The parent's folders for the current cut, removed even on failure. */
static char cut_dir[64], log_dir[64];

/* In the child: any failure is exit status 3. */
static void must(bool ok)
{
    if (!ok)
        _exit(3);
}

static int at(const char *name, int flags)
{
    char path[256];
    int fd;

    snprintf(path, sizeof path, "%s/%s", wdir, name);
    must((fd = open(path, flags, 0644)) >= 0);
    return fd;
}

static void put(int fd, const char *s, off_t off)
{
    must(pwrite(fd, s, strlen(s), off) == (ssize_t)strlen(s));
}

static void sync_dir(void)
{
    int fd = at("", O_RDONLY | O_DIRECTORY);

    must(fsync(fd) == 0 && close(fd) == 0);
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", wdir, name);
}

/* Writes, a sync, more writes and a truncation of a file. */
static void run_content(void)
{
    int fd = at("f", O_RDWR), fd2;

    put(fd, "BB", 2);
    must(fdatasync(fd) == 0);
    put(fd, "CCCC", 8);
    must((fd2 = dup(fd)) >= 0);
    put(fd2, "E", 0);
    must(ftruncate(fd, 11) == 0 && close(fd) == 0 && close(fd2) == 0);
}

/* Write-only descriptors (the pre-image is read another way), appends,
 * writev, a truncating open. */
static void run_writeonly(void)
{
    struct iovec v[2] = {{"1", 1}, {"23", 2}};
    int fd = at("w", O_WRONLY), fa = at("w", O_WRONLY | O_APPEND), ft;

    put(fd, "ZZ", 0);
    must(write(fa, "xy", 2) == 2 && writev(fa, v, 2) == 3);
    ft = at("t", O_WRONLY | O_TRUNC);
    must(write(ft, "z", 1) == 1);
    must(close(fd) == 0 && close(fa) == 0 && close(ft) == 0);
}

/* A new file, synced, its folder not: gone after the cut. */
static void run_create(bool dirsync)
{
    int fd = at("n", O_WRONLY | O_CREAT | O_EXCL);

    must(write(fd, "hello", 5) == 5 && fsync(fd) == 0 && close(fd) == 0);
    if (dirsync)
        sync_dir();
}

/* The relay's durable file write: temporary file, fsync, rename over
 * the old one, and (or not) the folder's fsync. */
static void run_rename(bool dirsync)
{
    char from[256], to[256];
    int fd = at("tmp", O_WRONLY | O_CREAT | O_EXCL);

    must(write(fd, "new", 3) == 3 && fsync(fd) == 0 && close(fd) == 0);
    path_of(from, sizeof from, "tmp");
    path_of(to, sizeof to, "c");
    must(rename(from, to) == 0);
    if (dirsync)
        sync_dir();
}

/* Two processes, the journal kept between them: the second one's fsync
 * of g covers the first one's write; h stays unsynced. */
static void run_append(bool second)
{
    int g = at("g", O_RDWR), h = at("h", O_RDWR);

    if (!second) {
        put(g, "1", 0);
        put(h, "1", 0);
    } else {
        must(fdatasync(g) == 0);
        put(h, "2", 1);
    }
    must(close(g) == 0 && close(h) == 0);
}

static void run_unlink(void)
{
    char path[256];

    path_of(path, sizeof path, "u");
    must(unlink(path) == 0);
    path_of(path, sizeof path, "db-shm"); /* not watched: nothing undone */
    must(truncate(path, 1) == 0);
}

/* A shared writable mapping of a watched file: the shim must refuse. */
static void run_mmap(void)
{
    int fd = at("m", O_RDWR);

    mmap(NULL, 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    _exit(0); /* reached only if the shim let it through */
}

static void run_tmpfile(void)
{
    at("", O_TMPFILE | O_RDWR);
    _exit(0);
}

static int child(const char *name, const char *folder)
{
    snprintf(wdir, sizeof wdir, "%s", folder);
    if (strcmp(name, "content") == 0)
        run_content();
    else if (strcmp(name, "write-only") == 0)
        run_writeonly();
    else if (strncmp(name, "create", 6) == 0)
        run_create(strcmp(name, "create+dirsync") == 0);
    else if (strncmp(name, "rename", 6) == 0)
        run_rename(strcmp(name, "rename+dirsync") == 0);
    else if (strcmp(name, "unlink") == 0)
        run_unlink();
    else if (strncmp(name, "append", 6) == 0)
        run_append(strcmp(name, "append-2") == 0);
    else if (strcmp(name, "mmap") == 0)
        run_mmap();
    else if (strcmp(name, "tmpfile") == 0)
        run_tmpfile();
    else
        return 2;
    return 0;
}

static const scenario_t scenarios[] = {
    {"content", {{"f", "AAAAAAAAAA"}},
     {{"f", "EABBAAAACCC"}}, {{"f", "AABBAAAAAA"}}, 0, NULL},
    {"write-only", {{"w", "0123456789"}, {"t", "abcdef"}},
     {{"w", "ZZ23456789xy123"}, {"t", "z"}},
     {{"w", "0123456789"}, {"t", "abcdef"}}, 0, NULL},
    {"create", {{0}}, {{"n", "hello"}}, {{"n", NULL}}, 0, NULL},
    {"create+dirsync", {{0}}, {{"n", "hello"}}, {{"n", "hello"}}, 0, NULL},
    {"rename", {{"c", "old"}},
     {{"c", "new"}, {"tmp", NULL}}, {{"c", "old"}, {"tmp", NULL}}, 0, NULL},
    {"rename+dirsync", {{"c", "old"}},
     {{"c", "new"}, {"tmp", NULL}}, {{"c", "new"}, {"tmp", NULL}}, 0, NULL},
    {"unlink", {{"u", "keep"}, {"db-shm", "shm"}},
     {{"u", NULL}, {"db-shm", "s"}}, {{"u", "keep"}, {"db-shm", "s"}}, 0, NULL},
    {"append", {{"g", "gggg"}, {"h", "hhhh"}},
     {{"g", "1ggg"}, {"h", "12hh"}}, {{"g", "1ggg"}, {"h", "hhhh"}}, 0,
     "append-2"},
    {"mmap", {{"m", "mapped"}}, {{0}}, {{0}}, REFUSED, NULL},
    {"tmpfile", {{0}}, {{0}}, {{0}}, REFUSED, NULL},
};

/* Run the scenario's calls in a child with the shim preloaded; its exit
 * status (-1: killed, after 10 s or by a signal). */
static int run_child(const char *name, const char *dir, const char *log,
                     bool append)
{
    char e_pre[4200], e_dir[200], e_log[200];
    const char *envp[] = {e_pre, e_dir, e_log,
                          append ? "POWERCUT_APPEND=1" : NULL, NULL};
    const char *argv[] = {self, "--child", name, dir, NULL};
    int status = -1;
    pid_t pid;

    snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", preload);
    snprintf(e_dir, sizeof e_dir, "POWERCUT_DIR=%s", dir);
    snprintf(e_log, sizeof e_log, "POWERCUT_LOG=%s", log);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        execve(self, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        struct timespec ts = {0, 10000000};

        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void write_files(const char *dir, const file_t *f)
{
    char path[256];

    for (; f->name != NULL; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        assert_int_equal(am_file_write(path, f->text, strlen(f->text), 0644,
                                       true), AM_OK);
    }
}

static void check_files(const char *dir, const file_t *f, const char *label)
{
    char path[256];
    uint8_t *got;
    size_t len;

    for (; f->name != NULL; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        if (f->text == NULL) {
            if (access(path, F_OK) == 0)
                fail_msg("%s: \"%s\" should not exist", label, f->name);
            continue;
        }
        if (am_file_read(path, 4096, &got, &len, NULL) != AM_OK)
            fail_msg("%s: \"%s\" should exist", label, f->name);
        if (len != strlen(f->text) || memcmp(got, f->text, len) != 0)
            fail_msg("%s: \"%s\" is \"%.*s\", should be \"%s\"", label,
                     f->name, (int)len, (const char *)got, f->text);
        am_free(got);
    }
}

static int remove_dirs(void **state)
{
    int rc = 0;

    (void)state;
    if (cut_dir[0] != '\0' && t_remove_dir(cut_dir) != 0)
        rc = -1;
    if (log_dir[0] != '\0' && t_remove_dir(log_dir) != 0)
        rc = -1;
    cut_dir[0] = log_dir[0] = '\0';
    return rc;
}

static void test_scenarios(void **state)
{
    static const char *how[] = {[PC_CUT_ALL] = "keep-all",
                                [PC_CUT_NONE] = "keep-none"};
    uint64_t rng = 1; /* unused by these two modes */
    pc_cut_stats_t st = {0};
    size_t n = sizeof scenarios / sizeof scenarios[0], cuts = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const scenario_t *s = &scenarios[i];

        /* a refused call leaves nothing to cut: one run is enough */
        for (int m = PC_CUT_ALL; m <= (s->exit_code ? PC_CUT_ALL : PC_CUT_NONE);
             m++) {
            char *dir = cut_dir, log[96], label[64];
            int code;

            assert_int_equal(t_make_dir(dir, sizeof cut_dir, "powercut-w"), 0);
            assert_int_equal(t_make_dir(log_dir, sizeof log_dir, "powercut-j"),
                             0);
            snprintf(log, sizeof log, "%s/journal", log_dir);
            snprintf(label, sizeof label, "%s, %s", s->name, how[m]);
            write_files(dir, s->before);
            code = run_child(s->name, dir, log, false);
            if (code == 0 && s->then != NULL)
                code = run_child(s->then, dir, log, true);
            if (code != s->exit_code)
                fail_msg("%s: child exit %d, expected %d", label, code,
                         s->exit_code);
            if (code == REFUSED)
                printf("%s: the shim refused the call (above), as it must\n",
                       s->name);
            if (code == 0) {
                assert_int_equal(pc_cut(dir, log, (pc_cut_mode_t)m, &rng,
                                        label, &st), 0);
                check_files(dir, m == PC_CUT_ALL ? s->all : s->none, label);
                cuts++;
            }
            assert_int_equal(remove_dirs(NULL), 0);
        }
    }
    printf("powercut model: %zu scenarios, %zu cuts checked\n", n, cuts);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_scenarios, remove_dirs),
    };

    if (argc == 4 && strcmp(argv[1], "--child") == 0)
        return child(argv[2], argv[3]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s PRELOAD\n", argv[0]);
        return 2;
    }
    self = argv[0];
    preload = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
