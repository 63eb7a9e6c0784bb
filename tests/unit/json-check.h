/* Helpers of the JSON mapping's tests (test-json.c, test-json-robust.c):
 * parse or print that must succeed, and equality of two messages as their
 * encoded bytes. */
#ifndef AM_JSON_CHECK_H
#define AM_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsontest.pb-c.h"

#define ALL (&amanat__jsontest__all_types__descriptor)

typedef Amanat__Jsontest__AllTypes all_t;

all_t *parse_ok(const char *json);
char *print_ok(const ProtobufCMessage *m, bool pretty);
uint8_t *pack(const ProtobufCMessage *m, size_t *len);
void assert_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b);

#endif
