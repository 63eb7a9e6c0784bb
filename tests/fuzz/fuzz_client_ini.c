/* fuzz_client_ini: client.ini, the one profile file an officer edits by
 * hand, read by am_profile_open (client/profile.c, through inih).
 *
 * Input: the bytes of client.ini.  The rest of the profile folder is
 * valid (fuzz_client_home.c: DE-BKA's root.pub and agency.cert), so an
 * input that names DE-BKA and a relay opens.
 *
 * Checked, beyond the sanitizers: a failure is a listed code with a
 * sentence and leaves nothing allocated; on success the agency id is an
 * agency id, the one of the certificate, and the relay a non-empty host
 * with a port from 1 to 65535 that the file states.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "country.h"
#include "err.h"
#include "fuzz_client.h"
#include "profile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char home[AM_FZC_PATH];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    am_fzc_home_make(home);
    return 0;
}

/* The port's digits are in the file (a check that it was not invented;
 * strtoul also takes "+7400" and "07400"). */
static bool port_in(const uint8_t *data, size_t size, uint16_t port)
{
    char want[8];
    size_t n = (size_t)snprintf(want, sizeof want, "%u", (unsigned)port);

    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(data + i, want, n) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_profile_t p;
    int rc;

    if (am_fzc_home_write(home, "client.ini", data, size) != 0)
        am_fzc_die("client.ini", AM_EIO);
    rc = am_profile_open(home, (int64_t)time(NULL), &p);
    if (rc != 0) {
        AM_FZ_CHECK(rc < 0);
        AM_FZ_CHECK(am_err_detail()[0] != '\0');
        AM_FZ_CHECK(p.cert == NULL && p.secret == NULL);
        return 0;
    }
    AM_FZ_CHECK(am_agency_id_valid(p.agency_id));
    AM_FZ_CHECK(strcmp(p.agency_id, p.self.agency_id) == 0);
    AM_FZ_CHECK(strcmp(p.agency_id, am_fz_fed()->ag[AM_FZC_ME].id) == 0);
    AM_FZ_CHECK(p.relay_port != 0);
    AM_FZ_CHECK(p.relay_host[0] != '\0');
    AM_FZ_CHECK(memchr(p.relay_host, '\0', sizeof p.relay_host) != NULL);
    AM_FZ_CHECK(port_in(data, size, p.relay_port));
    AM_FZ_CHECK(p.cert != NULL && p.cert_len > 0 && p.secret == NULL);
    am_profile_close(&p);
    return 0;
}
