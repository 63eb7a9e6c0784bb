#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* Operations between two clock reads: enough that reading the clock
 * costs little beside even the fastest operation measured. */
#define BENCH_BATCH 8u

int bench_fail(const char *prog, const char *what, int rc)
{
    const char *detail = am_err_detail();

    fprintf(stderr, "%s: %s: %s%s%s\n", prog, what,
            rc < 0 ? am_strerror(rc) : "check failed",
            rc < 0 && detail[0] != '\0' ? ": " : "",
            rc < 0 ? detail : "");
    return rc < 0 ? rc : AM_EINVAL;
}

int bench_now(const char *prog, double *t)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        fprintf(stderr, "%s: clock_gettime: %s\n", prog, strerror(errno));
        return AM_EINVAL;
    }
    *t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return 0;
}

int bench_run_for(const char *prog, bench_op_cb op, void *ctx,
                  double seconds, bench_run_t *out)
{
    double t0, now;
    uint64_t n = 0;
    int rc;

    if ((rc = op(ctx, true)) != 0 || (rc = bench_now(prog, &t0)) != 0)
        return rc;
    do {
        for (unsigned i = 0; i < BENCH_BATCH; i++)
            if ((rc = op(ctx, false)) != 0)
                return rc;
        n += BENCH_BATCH;
        if ((rc = bench_now(prog, &now)) != 0)
            return rc;
    } while (now - t0 < seconds);
    if ((rc = op(ctx, true)) != 0)
        return rc;
    out->ops = n;
    out->secs = now - t0;
    return 0;
}

void bench_cpu_model(char *out, size_t cap)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(out, cap, "unknown");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) != 0 || colon == NULL)
            continue;
        colon += 1 + strspn(colon + 1, " \t");
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, cap, "%s", colon);
        break;
    }
    fclose(f);
}

void bench_print_host(double seconds)
{
    bench_print_host_note(seconds, "every figure below is from one thread "
                          "on one core");
}

void bench_print_host_note(double seconds, const char *cores_note)
{
    char model[256];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    bench_cpu_model(model, sizeof model);
    printf("cpu:   %s\n", model);
    printf("cores: %ld online (logical); %s\n", cpus, cores_note);
    printf("time:  %.2f s of wall time per measurement (CLOCK_MONOTONIC)\n",
           seconds);
}

int bench_parse_seconds(const char *prog, int argc, char **argv,
                        double *seconds)
{
    for (int a = 1; a < argc; a++) {
        char *end;

        if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc) {
            errno = 0;
            *seconds = strtod(argv[++a], &end);
            if (errno != 0 || end == argv[a] || *end != '\0' ||
                !isfinite(*seconds) || *seconds <= 0 || *seconds > 3600) {
                fprintf(stderr, "%s: --seconds \"%s\": want a number in "
                        "(0, 3600]\n", prog, argv[a]);
                return -1;
            }
        } else {
            fprintf(stderr, "usage: %s [--seconds S]  (default 1; S per "
                    "measurement)\n", prog);
            return -1;
        }
    }
    return 0;
}
