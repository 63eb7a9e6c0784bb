/* amanat-relay's settings: flags, and an optional INI configuration file
 * (--config FILE, section [relay]) with the same names, '-' written '_'.
 * A flag wins over the file; the file over the defaults. */
#ifndef AM_RELAY_OPTIONS_H
#define AM_RELAY_OPTIONS_H

#include "directory.h"
#include "server.h"

#define AM_RELAY_OPTS_MAX 24

typedef struct {
    am_server_config_t srv;
    am_dir_config_t dir;
    const char *data;
    const char *config;
    char *owned[AM_RELAY_OPTS_MAX]; /* strings read from the file */
} am_relay_opts_t;

/* Returns 0 (settings in *o), 1 (--help printed: exit 0) or 2 (a message
 * naming the bad setting or the usage printed on stderr: exit 2). */
int am_relay_opts_parse(int argc, char **argv, am_relay_opts_t *o);
void am_relay_opts_free(am_relay_opts_t *o);

extern const char am_relay_usage[];

#endif
