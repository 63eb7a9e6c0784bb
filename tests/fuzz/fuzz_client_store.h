/* What the client harness offers programs that also link the client's
 * local store (fuzz_client_receive, test-client-fed); gen_seeds does not. */
#ifndef AM_FUZZ_CLIENT_STORE_H
#define AM_FUZZ_CLIENT_STORE_H

#include "cstore.h"
#include "fuzz_client.h"

/* The local store's record of the fixture's sent message (from PK-NCCIA
 * to its two correspondents); its bytes are the fixture's. */
void am_fzc_sent_record(am_cmsg_t *m);

#endif
