/* The proto3 canonical JSON mapping, for any message protoc-c compiled.
 *
 * Driven by protobuf-c's runtime descriptors (ProtobufCMessageDescriptor,
 * ProtobufCFieldDescriptor), so a new field or message needs no mapping
 * code.  Officers' tools read and write case messages as JSON; the wire
 * stays binary protobuf.  No I/O: text in, text out.
 *
 * What is mapped (https://protobuf.dev/programming-guides/proto3/#json):
 * field names in lowerCamelCase, computed from the .proto name the way
 * protoc computes json_name; 32-bit integers as JSON numbers, 64-bit
 * integers as strings; float and double as numbers, or "NaN", "Infinity",
 * "-Infinity"; bytes as standard base64 with padding; enums by value name
 * (by number when the value has no name: proto3 enums are open); repeated
 * fields as arrays; messages as objects; google.protobuf.Timestamp as an
 * RFC 3339 string in UTC ("1972-01-01T10:00:20.021Z", 0, 3, 6 or 9
 * fractional digits).
 *
 * Not mapped: map<,> fields (protobuf-c's descriptors do not mark map
 * entries, so a map reads and prints as a repeated {key, value} message);
 * the other well-known types (Duration, Struct, Value, Any, FieldMask,
 * wrappers), which read and print as ordinary messages; a json_name option
 * set in a .proto (protobuf-c does not keep it); proto2 labels (required,
 * optional with has_), refused with AM_EUNSUPPORTED.
 *
 * Differences from protobuf's own printer, all of which read back to the
 * same message: a negative zero in a repeated or oneof float prints as
 * "-0.0" (protobuf prints "-0", which jansson reads as the integer 0 and
 * would lose the sign); a singular float field holding -0.0 is omitted,
 * as protobuf-c omits it from the binary encoding too.
 *
 * Memory.  Every message, string, byte and array of a parsed message is
 * allocated with am_malloc/am_calloc, which call malloc/calloc: the same
 * heap protobuf-c's default allocator frees, so the result is freed with
 * protobuf_c_message_free_unpacked(msg, NULL) (or am_pb_free).  jansson's
 * own parse tree uses jansson's allocator (malloc by default) and is freed
 * before am_json_parse returns.
 */
#ifndef AM_JSON_H
#define AM_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Largest JSON text am_json_parse reads, refused before any parsing.  A
 * case message is a few kilobytes; attachments travel as envelope bytes,
 * not through JSON. */
#define AM_JSON_MAX (4u * 1024 * 1024)

/* Deepest nesting of objects and arrays (the top-level object is 1).
 * jansson stops at 2048 by itself; the schemas nest a few levels. */
#define AM_JSON_MAX_DEPTH 64

/* Most JSON values in one text (counted before parsing as the '{', '['
 * and ',' outside strings).  jansson spends about 200 bytes per object,
 * so 4 MiB of "{}," would otherwise take several hundred megabytes. */
#define AM_JSON_MAX_VALUES (128u * 1024)

#define AM_JSON_PATH_MAX 256
#define AM_JSON_MESSAGE_MAX 256

/* Where and why a text was refused: path is a JSON path from the root,
 * "$" for the whole text ("$.preservation.dataToPreserve[2].provider"),
 * cut with "..." when longer than the buffer; message is one sentence
 * without the path.  Both are "" after a success. */
typedef struct {
    char path[AM_JSON_PATH_MAX];
    char message[AM_JSON_MESSAGE_MAX];
} am_json_error_t;

/* Parse the JSON text json (len bytes, need not end with NUL) as a message
 * of type d.  Field names may be lowerCamelCase or the .proto name;
 * integers and floats may also be strings; null means the default value.
 * Refused: malformed JSON or UTF-8, duplicate keys, unknown fields, a field
 * given twice (under both names), two members of one oneof, wrong JSON
 * types, values out of their field's range, 64-bit integers beyond 2^53
 * given as JSON numbers, NUL in strings, and texts over AM_JSON_MAX bytes,
 * AM_JSON_MAX_VALUES values or AM_JSON_MAX_DEPTH levels.
 *
 * On success *out is a new message, the caller's: free it with
 * protobuf_c_message_free_unpacked(*out, NULL).  On failure *out is
 * untouched, err (may be NULL) says where and why, am_err_detail() holds
 * "path: message", and the code is AM_EPROTO (bad text), AM_ETOOBIG (a
 * limit), AM_ENOMEM, AM_EUNSUPPORTED (a proto2 field) or AM_EINVAL (a NULL
 * argument). */
int am_json_parse(const ProtobufCMessageDescriptor *d, const char *json,
                  size_t len, ProtobufCMessage **out, am_json_error_t *err);

/* The canonical JSON of m: fields in field-number order, proto3 default
 * values omitted (0, "", false, empty repeated, enum 0, unset message),
 * oneof members printed whenever set.  pretty: one field or element per
 * line, indented by 2 spaces; otherwise no whitespace at all.
 *
 * On success *out is NUL-terminated text of *len bytes (not counting the
 * NUL), the caller's to am_free.  Fails, with a sentence naming the field,
 * on a string that is not UTF-8 (AM_EINVAL), a Timestamp outside years
 * 0001-9999 or with nanos outside 0..999999999 (AM_EINVAL), nesting over
 * AM_JSON_MAX_DEPTH (AM_ETOOBIG: it could not be read back), a proto2
 * field (AM_EUNSUPPORTED), or AM_ENOMEM.  The output is not held to
 * AM_JSON_MAX: a caller that will read it back checks *len. */
int am_json_print(const ProtobufCMessage *m, bool pretty, char **out,
                  size_t *len);

#endif
