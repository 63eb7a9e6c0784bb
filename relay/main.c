/* amanat-relay: the store-and-forward server (docs/OPERATIONS.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "err.h"
#include "frame.h"
#include "server.h"

static const char usage[] =
    "usage: amanat-relay --data DIR --root root.pub --cert RELAY.cert\n"
    "                    --key RELAY.key --certs DIR [--crl FILE]\n"
    "                    [--host 127.0.0.1] [--port N] [--passphrase-env VAR]\n"
    "                    [--frame-max BYTES] [--expire-interval-ms MS]\n"
    "\n"
    "  --data DIR        folder of the store (store.sqlite)\n"
    "  --certs DIR       certificates (*.cert) of the agencies served\n"
    "  --port N          0 (default): any free port; the port is printed\n"
    "\n"
    "       amanat-relay audit verify --data DIR\n"
    "  checks the audit log's hash chain; exit 1 at the first broken link\n"
    "Stops cleanly on SIGTERM or SIGINT.\n";

/* amanat-relay audit verify --data DIR */
static int audit_verify(int argc, char **argv)
{
    char path[4096];
    uint64_t records, bad;
    sqlite3 *db = NULL;
    int rc;

    if (argc != 5 || strcmp(argv[2], "verify") != 0 ||
        strcmp(argv[3], "--data") != 0) {
        fputs("usage: amanat-relay audit verify --data DIR\n", stderr);
        return 2;
    }
    snprintf(path, sizeof path, "%s/store.sqlite", argv[4]);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "amanat-relay: cannot open %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return 3;
    }
    rc = am_audit_verify(db, &records, &bad);
    sqlite3_close(db);
    if (rc == AM_ECRYPTO) {
        printf("audit: %s (%llu records before it are intact)\n",
               am_err_detail(), (unsigned long long)records);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "amanat-relay: %s\n", am_err_detail());
        return 3;
    }
    printf("audit: %llu records, chain intact\n", (unsigned long long)records);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"root", required_argument, NULL, 'r'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"certs", required_argument, NULL, 'C'},
        {"crl", required_argument, NULL, 'l'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"passphrase-env", required_argument, NULL, 'P'},
        {"frame-max", required_argument, NULL, 'f'},
        {"expire-interval-ms", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    am_server_config_t cfg = {"127.0.0.1", 0, AM_FRAME_MAX_DEFAULT, 10000,
                              300000, 10000, 64, 5000};
    am_dir_config_t dc = {0};
    const char *data = NULL;
    am_dir_t *dir = NULL;
    char *end;
    int c, rc;

    if (sodium_init() < 0)
        return 3;
    if (argc > 1 && strcmp(argv[1], "audit") == 0)
        return audit_verify(argc, argv);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'r': dc.root_pub = optarg; break;
        case 'c': dc.cert = optarg; break;
        case 'k': dc.key = optarg; break;
        case 'C': dc.certs_dir = optarg; break;
        case 'l': dc.crl = optarg; break;
        case 'H': cfg.host = optarg; break;
        case 'P': dc.pass_env = optarg; break;
        case 'p':
            cfg.port = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || cfg.port < 0 || cfg.port > 65535)
                return fprintf(stderr, "amanat-relay: bad --port\n"), 2;
            break;
        case 'f':
            cfg.frame_max = (size_t)strtoull(optarg, &end, 10);
            if (*end != '\0' || cfg.frame_max < 65536 ||
                cfg.frame_max > AM_FRAME_MAX_CEILING)
                return fprintf(stderr, "amanat-relay: --frame-max: 65536 to "
                               "16777216\n"), 2;
            break;
        case 'e':
            cfg.expire_ms = strtoull(optarg, &end, 10);
            if (*end != '\0' || cfg.expire_ms < 100 || cfg.expire_ms > 3600000)
                return fprintf(stderr, "amanat-relay: --expire-interval-ms: "
                               "100 to 3600000\n"), 2;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (data == NULL || dc.root_pub == NULL || dc.cert == NULL ||
        dc.key == NULL || dc.certs_dir == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    if ((rc = am_dir_load(&dc, (int64_t)time(NULL), &dir)) != 0 ||
        (rc = am_server_run(&cfg, &dc, dir, data)) != 0) {
        /* am_server_run owns and frees dir, whatever it returns */
        fprintf(stderr, "amanat-relay: %s\n", am_err_detail());
        return rc == AM_EIO || rc == AM_ENOMEM ? 3 : 1;
    }
    return 0;
}
