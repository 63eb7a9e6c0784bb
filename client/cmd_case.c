/* amanat validate / example / convert: case messages as JSON, checked
 * before anything is sealed (docs/SCHEMAS.md).
 *
 *   amanat validate FILE.json [--json]   exit 0 valid, 1 with every problem
 *   amanat example TYPE                  a valid example (docs/examples)
 *   amanat convert FILE [--out FILE]     JSON -> binary, or binary -> JSON
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "case.pb-c.h"
#include "cli.h"
#include "err.h"
#include "examples.h"
#include "fsutil.h"
#include "json.h"
#include "pb.h"
#include "timefmt.h"
#include "validate.h"

#define CASE_BINARY_MAX ((size_t)1 << 20) /* a case message, serialized */

static const ProtobufCMessageDescriptor *const case_desc =
    &amanat__v1__case_message__descriptor;

/* Read FILE ("-": standard input is not supported: a file names what was
 * checked) whole, at most max bytes. */
static int read_input(const char *path, size_t max, uint8_t **b, size_t *len)
{
    int rc = am_file_read(path, max, b, len, NULL);

    return rc == 0 ? 0 : am_cli_fail(rc);
}

/* Parse JSON text into a case message, printing the problem on failure. */
static int parse_case(const char *path, const uint8_t *text, size_t len,
                      Amanat__V1__CaseMessage **out)
{
    am_json_error_t err;
    ProtobufCMessage *m = NULL;

    if (am_json_parse(case_desc, (const char *)text, len, &m, &err) != 0) {
        fprintf(stderr, "%s: %s: %s\n", path, err.path, err.message);
        return AM_EXIT_REFUSED;
    }
    *out = (Amanat__V1__CaseMessage *)m;
    return AM_EXIT_OK;
}

int am_cli_load_case(const char *path, Amanat__V1__CaseMessage **out)
{
    uint8_t *text = NULL;
    size_t len;
    int rc;

    if ((rc = read_input(path, AM_JSON_MAX, &text, &len)) != 0)
        return rc;
    rc = parse_case(path, text, len, out);
    am_free(text);
    return rc;
}

static int print_problems(const char *path, const am_problems_t *p, bool json)
{
    json_t *arr = json ? json_array() : NULL;

    for (size_t i = 0; i < p->n; i++) {
        if (arr != NULL)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "path",
                                                 p->items[i].path, "message",
                                                 p->items[i].message));
        else
            printf("%s: %s\n", p->items[i].path, p->items[i].message);
    }
    if (p->more > 0 && arr == NULL)
        printf("... and %zu more problems\n", p->more);
    if (arr != NULL) {
        json_t *doc = json_pack("{s:s, s:b, s:o, s:I}", "file", path, "valid",
                                p->n == 0, "problems", arr, "more",
                                (json_int_t)p->more);
        char *s = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;

        if (s == NULL) {
            json_decref(doc);
            return am_cli_fail(AM_ENOMEM);
        }
        puts(s);
        free(s);
        json_decref(doc);
    } else if (p->n == 0) {
        printf("%s: valid\n", path);
    }
    return p->n == 0 ? AM_EXIT_OK : AM_EXIT_REFUSED;
}

/* A JSON refusal (parse error) in the form of print_problems. */
static int print_parse_error(const char *path, const am_json_error_t *e,
                             bool json)
{
    json_t *doc;
    char *s;

    if (!json) {
        printf("%s: %s\n", e->path, e->message);
        return AM_EXIT_REFUSED;
    }
    doc = json_pack("{s:s, s:b, s:[{s:s, s:s}]}", "file", path, "valid", 0,
                    "problems", "path", e->path, "message", e->message);
    if (doc == NULL || (s = json_dumps(doc, JSON_INDENT(2))) == NULL) {
        json_decref(doc);
        return am_cli_fail(AM_ENOMEM);
    }
    puts(s);
    free(s);
    json_decref(doc);
    return AM_EXIT_REFUSED;
}

static const char validate_usage[] =
    "usage: amanat validate FILE.json [--json] [--at TIME]\n"
    "Checks a case message: exit 0 when valid; otherwise exit 1 and every\n"
    "problem as \"path: message\" (--json: as a JSON document).\n"
    "  --at TIME   judge deadlines and dates as at TIME (RFC 3339, UTC),\n"
    "              not now: e.g. to check what was valid when it was sent\n";

int am_cmd_validate(int argc, char **argv)
{
    bool json = false;
    const char *path = NULL;
    int64_t now = am_cli_now();
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    am_problems_t probs = AM_PROBLEMS_INIT;
    uint8_t *text = NULL;
    size_t len;
    int rc, n;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            return fputs(validate_usage, stdout), AM_EXIT_OK;
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
            if (am_time_parse(argv[++i], &now) != 0)
                return am_cli_usage("validate", "--at %s: not an RFC 3339 "
                                    "time such as 2026-11-20T12:00:00Z",
                                    argv[i]);
        } else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else
            return am_cli_usage("validate", "unexpected \"%s\"", argv[i]);
    }
    if (path == NULL)
        return am_cli_usage("validate", "which file?");
    if ((rc = read_input(path, AM_JSON_MAX, &text, &len)) != 0)
        return rc;
    if (am_json_parse(case_desc, (const char *)text, len, &m, &err) != 0) {
        am_free(text);
        return print_parse_error(path, &err, json);
    }
    am_free(text);
    n = am_validate_case((const Amanat__V1__CaseMessage *)m, now, &probs);
    protobuf_c_message_free_unpacked(m, NULL);
    rc = n < 0 ? am_cli_fail(n) : print_problems(path, &probs, json);
    am_problems_free(&probs);
    return rc;
}

int am_cmd_example(int argc, char **argv)
{
    bool help = argc == 2 && strcmp(argv[1], "--help") == 0;
    FILE *out = help ? stdout : stderr;

    if (argc == 2 && !help)
        for (const am_embedded_t *e = am_examples; e->name != NULL; e++)
            if (strcmp(e->name, argv[1]) == 0) {
                fwrite(e->text, 1, e->len, stdout);
                return fflush(stdout) == 0 ? AM_EXIT_OK : AM_EXIT_SYSTEM;
            }
    if (argc == 2 && !help)
        fprintf(stderr, "amanat example: no example \"%s\"\n", argv[1]);
    fputs("usage: amanat example TYPE\nprints a valid case message of that "
          "kind; TYPE is one of:", out);
    for (const am_embedded_t *e = am_examples; e->name != NULL; e++)
        fprintf(out, " %s", e->name);
    fputc('\n', out);
    return help ? AM_EXIT_OK : AM_EXIT_USAGE;
}

static const char convert_usage[] =
    "usage: amanat convert FILE [--out FILE]\n"
    "A case message in JSON becomes its binary (protobuf) form; a binary one\n"
    "becomes JSON.  Without --out the result goes to standard output; binary\n"
    "output is refused on a terminal.  Conversion checks the form, not the\n"
    "content: use amanat validate for that.\n";

/* JSON -> binary or binary -> JSON; *res is the caller's (am_free). */
static int convert(const char *path, const uint8_t *in, size_t len,
                   uint8_t **res, size_t *res_len, bool *binary)
{
    size_t i = 0;
    ProtobufCMessage *m = NULL;
    int rc;

    while (i < len && (in[i] == ' ' || in[i] == '\n' || in[i] == '\t' ||
                       in[i] == '\r'))
        i++;
    if ((*binary = i < len && in[i] == '{')) {
        Amanat__V1__CaseMessage *c;

        if ((rc = parse_case(path, in, len, &c)) != 0)
            return rc;
        *res_len = protobuf_c_message_get_packed_size(&c->base);
        if ((*res = am_malloc(*res_len ? *res_len : 1)) == NULL) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
            return am_cli_fail(AM_ENOMEM);
        }
        protobuf_c_message_pack(&c->base, *res);
        protobuf_c_message_free_unpacked(&c->base, NULL);
        return AM_EXIT_OK;
    }
    if ((rc = am_pb_unpack(case_desc, "case message", in, len,
                           CASE_BINARY_MAX, &m)) != 0) {
        fprintf(stderr, "%s: neither JSON nor a binary case message: %s\n",
                path, am_err_detail());
        return AM_EXIT_REFUSED;
    }
    rc = am_json_print(m, true, (char **)res, res_len);
    am_pb_free(m);
    return rc != 0 ? am_cli_fail(rc) : AM_EXIT_OK;
}

static int write_result(const char *out, const uint8_t *b, size_t len,
                        bool binary)
{
    int rc;

    if (out != NULL) {
        if ((rc = am_file_write(out, b, len, 0600, false)) != 0)
            return am_cli_fail(rc);
        return AM_EXIT_OK;
    }
    if (binary && isatty(STDOUT_FILENO)) {
        fputs("amanat convert: binary output to a terminal: use --out FILE\n",
              stderr);
        return AM_EXIT_USAGE;
    }
    if ((len > 0 && fwrite(b, 1, len, stdout) != len) ||
        (!binary && fputc('\n', stdout) == EOF) || fflush(stdout) != 0)
        return am_cli_fail(am_errf(AM_EIO, "cannot write the output"));
    return AM_EXIT_OK;
}

int am_cmd_convert(int argc, char **argv)
{
    const char *path = NULL, *out = NULL;
    uint8_t *in = NULL, *res = NULL;
    size_t len, res_len = 0;
    bool binary;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            return fputs(convert_usage, stdout), AM_EXIT_OK;
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else
            return am_cli_usage("convert", "unexpected \"%s\"", argv[i]);
    }
    if (path == NULL)
        return am_cli_usage("convert", "which file?");
    if ((rc = read_input(path, AM_JSON_MAX, &in, &len)) != 0)
        return rc;
    if ((rc = convert(path, in, len, &res, &res_len, &binary)) == 0)
        rc = write_result(out, res, res_len, binary);
    am_free(in);
    am_free(res);
    return rc;
}
