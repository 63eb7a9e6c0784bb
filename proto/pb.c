#include "pb.h"

#include <stdbool.h>

#include "alloc.h"
#include "err.h"

typedef struct {
    size_t left;
    bool exhausted;
    bool oom; /* an allocation failed: the bytes may be fine */
} budget_t;

static void *pb_alloc(void *data, size_t size)
{
    budget_t *b = data;
    void *p;

    if (size == 0)
        size = 1;
    if (b != NULL) {
        if (size > b->left) {
            b->exhausted = true;
            return NULL;
        }
        b->left -= size;
    }
    if ((p = am_malloc(size)) == NULL && b != NULL)
        b->oom = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    am_free(p);
}

/* Freeing needs no budget: allocations are released one by one. */
static ProtobufCAllocator free_allocator = {pb_alloc, pb_free, NULL};

int am_pb_unpack(const ProtobufCMessageDescriptor *desc, const char *what,
                 const uint8_t *in, size_t len, size_t max,
                 ProtobufCMessage **out)
{
    return am_pb_unpack_budget(desc, what, in, len, max, AM_PB_BUDGET(len),
                               out);
}

int am_pb_unpack_budget(const ProtobufCMessageDescriptor *desc,
                        const char *what, const uint8_t *in, size_t len,
                        size_t max, size_t limit, ProtobufCMessage **out)
{
    budget_t budget = {limit, false, false};
    ProtobufCAllocator alloc = {pb_alloc, pb_free, &budget};
    ProtobufCMessage *m;

    if (desc == NULL || (in == NULL && len > 0) || out == NULL)
        return AM_EINVAL;
    if (len > max)
        return am_errf(AM_ETOOBIG, "%s of %zu bytes over limit %zu", what, len,
                       max);
    m = protobuf_c_message_unpack(desc, &alloc, len, in);
    if (m == NULL && budget.oom) /* not the sender's fault: say so */
        return am_errf(AM_ENOMEM, "out of memory decoding %s of %zu bytes",
                       what, len);
    if (m == NULL)
        return budget.exhausted
                   ? am_errf(AM_ETOOBIG, "%s of %zu bytes decodes to over "
                             "%zu bytes", what, len, limit)
                   : am_errf(AM_EPROTO, "%s of %zu bytes is not a valid "
                             "%s message", what, len, desc->name);
    *out = m;
    return 0;
}

void am_pb_free(void *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, &free_allocator);
}
