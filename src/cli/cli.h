/*
 * cli.h - the command line: flags and environment to a struct config, and
 * the subcommands other than serve (which server/main.c runs itself).
 */
#ifndef NS_CLI_H
#define NS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"
#include "store/store.h"

#define NEWSSTAND_VERSION "0.1.0"
#define CORS_ORIGINS_MAX 16
#define TRUSTED_PROXIES_MAX 16

enum command {
    CMD_SERVE,
    CMD_IMPORT,
    CMD_ENTITIES_IMPORT,
    CMD_RELINK,
    CMD_KEYS_CREATE,
    CMD_KEYS_LIST,
    CMD_KEYS_REVOKE,
    CMD_BACKUP,
    CMD_MIGRATE,
    CMD_CHECK,
    CMD_HEALTHCHECK,
    CMD_HELP,
    CMD_VERSION,
};

struct config {
    enum command command;
    const char *db;
    const char *bind;
    const char *host;  /* healthcheck: the server's address */
    unsigned port;
    unsigned threads;
    const char *file;  /* import: the NDJSON file, "-" for stdin */
    const char *cors_origins[CORS_ORIGINS_MAX + 1]; /* serve: allowed origins, NULL-ended */
    size_t n_cors;
    const char *trusted_proxies[TRUSTED_PROXIES_MAX + 1]; /* serve: ADDR or ADDR/BITS, NULL-ended */
    size_t n_trusted;
    /* serve: limits (see config_usage) */
    unsigned rate_limit, rate_burst;         /* per client address; rate 0: off */
    unsigned key_rate_limit, key_rate_burst; /* per API key or session token */
    unsigned max_connections, max_connections_per_ip; /* per IP 0: no limit */
    unsigned idle_timeout;                   /* seconds */
    unsigned body_max, header_max, connection_memory; /* bytes */
    unsigned drain_grace;                    /* seconds /readyz says 503 before closing */
    unsigned response_cache;                 /* bytes; 0: off */
    const char *scope; /* keys create */
    const char *name;  /* keys create, keys revoke */
};

/*
 * Fills cfg from the defaults, the environment (NEWSSTAND_DB, NEWSSTAND_PORT,
 * ...: each serve flag has one) and then argv (flags win). Returns false
 * with a message in err when the command line or environment is wrong.
 */
bool config_parse(int argc, char **argv, struct config *cfg, char *err, size_t err_len);

void config_usage(FILE *out);

/*
 * Opens the database and applies pending migrations, printing a clear
 * message on failure (for example a database newer than this program).
 */
enum ns_err cli_open_store(const char *db, bool verbose, struct store **out);

int cli_import(const struct config *cfg);
int cli_entities_import(const struct config *cfg);
int cli_relink(const struct config *cfg);
int cli_keys(const struct config *cfg);
int cli_backup(const struct config *cfg);
int cli_migrate(const struct config *cfg);
int cli_check(const struct config *cfg);

/*
 * GET /readyz at cfg->host, cfg->port within a few seconds: returns 0 on a
 * 200, 1 otherwise (2 when the address is not numeric), with one line said.
 */
int cli_healthcheck(const struct config *cfg);

#endif
