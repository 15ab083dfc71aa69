/*
 * config.c - flags and environment to struct config.
 */
#include "cli/cli.h"

#include "domain/netaddr.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end = NULL;
    if (!s || !*s)
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || s[0] == '-' || v < min || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 64 ? (unsigned)n : 2;
}

/* The serve options that take a number: flag, environment variable, range, field. */
static const struct number_option {
    const char *flag, *env;
    unsigned min, max;
    size_t offset;
} number_options[] = {
    {"--port", "NEWSSTAND_PORT", 1, 65535, offsetof(struct config, port)},
    {"--threads", "NEWSSTAND_THREADS", 1, 256, offsetof(struct config, threads)},
    {"--rate-limit", "NEWSSTAND_RATE_LIMIT", 0, 1000000, offsetof(struct config, rate_limit)},
    {"--rate-burst", "NEWSSTAND_RATE_BURST", 1, 1000000, offsetof(struct config, rate_burst)},
    {"--key-rate-limit", "NEWSSTAND_KEY_RATE_LIMIT", 0, 1000000,
     offsetof(struct config, key_rate_limit)},
    {"--key-rate-burst", "NEWSSTAND_KEY_RATE_BURST", 1, 1000000,
     offsetof(struct config, key_rate_burst)},
    {"--max-connections", "NEWSSTAND_MAX_CONNECTIONS", 1, 100000,
     offsetof(struct config, max_connections)},
    {"--max-connections-per-ip", "NEWSSTAND_MAX_CONNECTIONS_PER_IP", 0, 100000,
     offsetof(struct config, max_connections_per_ip)},
    {"--idle-timeout", "NEWSSTAND_IDLE_TIMEOUT", 1, 3600, offsetof(struct config, idle_timeout)},
    {"--body-max", "NEWSSTAND_BODY_MAX", 1024, 1u << 30, offsetof(struct config, body_max)},
    {"--header-max", "NEWSSTAND_HEADER_MAX", 1024, 1u << 20, offsetof(struct config, header_max)},
    {"--connection-memory", "NEWSSTAND_CONNECTION_MEMORY", 8192, 1u << 24,
     offsetof(struct config, connection_memory)},
    {"--drain-grace", "NEWSSTAND_DRAIN_GRACE", 0, 300, offsetof(struct config, drain_grace)},
    {"--response-cache", "NEWSSTAND_RESPONSE_CACHE", 0, 1u << 30,
     offsetof(struct config, response_cache)},
};
enum { N_NUMBER_OPTIONS = sizeof(number_options) / sizeof(number_options[0]) };

static unsigned *number_field(struct config *cfg, const struct number_option *o)
{
    return (unsigned *)((char *)cfg + o->offset);
}

static bool set_number(struct config *cfg, const struct number_option *o, const char *v,
                       const char *what, char *err, size_t err_len)
{
    if (parse_uint(v, o->min, o->max, number_field(cfg, o)))
        return true;
    snprintf(err, err_len, "%s takes a number from %u to %u", what, o->min, o->max);
    return false;
}

/* An address or prefix a proxy sends from: "10.0.0.5", "10.0.0.0/8", "fd00::/8". */
static bool add_proxy(struct config *cfg, const char *proxy, char *err, size_t err_len)
{
    struct netprefix p;
    if (!netprefix_parse(proxy, &p)) {
        snprintf(err, err_len, "--trusted-proxy takes an IP address or prefix such as 10.0.0.0/8");
        return false;
    }
    if (cfg->n_trusted == TRUSTED_PROXIES_MAX) {
        snprintf(err, err_len, "at most %d trusted proxies", TRUSTED_PROXIES_MAX);
        return false;
    }
    cfg->trusted_proxies[cfg->n_trusted++] = proxy;
    return true;
}

/* Calls add for each item of a comma-separated list; the copy lives as long as the process. */
static bool add_list(struct config *cfg, const char *list, char *copy, size_t copy_len,
                     bool (*add)(struct config *, const char *, char *, size_t), char *err,
                     size_t err_len)
{
    snprintf(copy, copy_len, "%s", list);
    for (char *save = NULL, *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
        if (*o && !add(cfg, o, err, err_len))
            return false;
    return true;
}

/* An origin is "*" or scheme://host[:port] with nothing after it. */
static bool add_origin(struct config *cfg, const char *origin, char *err, size_t err_len)
{
    bool star = strcmp(origin, "*") == 0;
    const char *rest = strncmp(origin, "https://", 8) == 0  ? origin + 8
                       : strncmp(origin, "http://", 7) == 0 ? origin + 7
                                                             : NULL;
    if (!star && (!rest || !*rest || strchr(rest, '/'))) {
        snprintf(err, err_len, "--cors-origin takes * or an origin such as https://app.example");
        return false;
    }
    if (cfg->n_cors == CORS_ORIGINS_MAX) {
        snprintf(err, err_len, "at most %d CORS origins", CORS_ORIGINS_MAX);
        return false;
    }
    cfg->cors_origins[cfg->n_cors++] = origin;
    return true;
}

static bool from_env(struct config *cfg, char *err, size_t err_len)
{
    static char origins[4096], proxies[4096];
    const char *v;
    if ((v = getenv("NEWSSTAND_DB")) && *v)
        cfg->db = v;
    if ((v = getenv("NEWSSTAND_BIND")) && *v)
        cfg->bind = v;
    for (size_t i = 0; i < N_NUMBER_OPTIONS; i++)
        if ((v = getenv(number_options[i].env)) && *v &&
            !set_number(cfg, &number_options[i], v, number_options[i].env, err, err_len))
            return false;
    if ((v = getenv("NEWSSTAND_CORS_ORIGINS")) && *v &&
        !add_list(cfg, v, origins, sizeof(origins), add_origin, err, err_len))
        return false;
    if ((v = getenv("NEWSSTAND_TRUSTED_PROXIES")) && *v &&
        !add_list(cfg, v, proxies, sizeof(proxies), add_proxy, err, err_len))
        return false;
    return true;
}

static const struct {
    const char *name;
    enum command command;
} commands[] = {
    {"serve", CMD_SERVE},     {"import", CMD_IMPORT}, {"migrate", CMD_MIGRATE},
    {"relink", CMD_RELINK},   {"backup", CMD_BACKUP},
    {"check", CMD_CHECK},     {"healthcheck", CMD_HEALTHCHECK},
    {"help", CMD_HELP},       {"--help", CMD_HELP},
    {"-h", CMD_HELP},         {"--version", CMD_VERSION}, {"version", CMD_VERSION},
};

/* Reads the value of flag argv[*i] ("--port 80" or "--port=80"); NULL when missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
    size_t n = strlen(flag);
    if (strncmp(argv[*i], flag, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static bool is_flag(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return strncmp(arg, flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* The numeric serve option arg names (healthcheck takes --port too), or NULL. */
static const struct number_option *serve_number_flag(const struct config *cfg, const char *arg)
{
    for (size_t k = 0; k < N_NUMBER_OPTIONS; k++)
        if (is_flag(arg, number_options[k].flag) &&
            (cfg->command == CMD_SERVE ||
             (cfg->command == CMD_HEALTHCHECK && strcmp(number_options[k].flag, "--port") == 0)))
            return &number_options[k];
    return NULL;
}

/* Limits that only make sense together. */
static bool check_limits(const struct config *cfg, char *err, size_t err_len)
{
    if (cfg->header_max * 2 > cfg->connection_memory) {
        snprintf(err, err_len, "--connection-memory must be at least twice --header-max");
        return false;
    }
    return true;
}

bool config_parse(int argc, char **argv, struct config *cfg, char *err, size_t err_len)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->command = CMD_SERVE;
    cfg->db = "./newsstand.db";
    cfg->bind = "0.0.0.0";
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->threads = default_threads();
    cfg->rate_limit = 20;
    cfg->rate_burst = 100;
    cfg->key_rate_limit = 50;
    cfg->key_rate_burst = 200;
    cfg->max_connections = 1024;
    cfg->max_connections_per_ip = 128;
    cfg->idle_timeout = 30;
    cfg->body_max = 1024 * 1024;
    cfg->header_max = 16 * 1024;
    cfg->connection_memory = 64 * 1024;
    cfg->drain_grace = 0;
    cfg->response_cache = 16 * 1024 * 1024;
    if (!from_env(cfg, err, err_len))
        return false;
    if (argc < 2) {
        cfg->command = CMD_HELP;
        return true;
    }
    bool known = false;
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]) && !known; k++)
        if (strcmp(argv[1], commands[k].name) == 0) {
            cfg->command = commands[k].command;
            known = true;
        }
    int first = 2;
    static const struct {
        const char *group, *verb;
        enum command command;
    } pairs[] = {
        {"entities", "import", CMD_ENTITIES_IMPORT},
        {"keys", "create", CMD_KEYS_CREATE},
        {"keys", "list", CMD_KEYS_LIST},
        {"keys", "revoke", CMD_KEYS_REVOKE},
    };
    for (size_t k = 0; !known && argc > 2 && k < sizeof(pairs) / sizeof(pairs[0]); k++)
        if (strcmp(argv[1], pairs[k].group) == 0 && strcmp(argv[2], pairs[k].verb) == 0) {
            cfg->command = pairs[k].command;
            known = true;
            first = 3;
        }
    if (!known) {
        snprintf(err, err_len, "unknown command '%s'", argv[1]);
        return false;
    }
    bool takes_file = cfg->command == CMD_IMPORT || cfg->command == CMD_ENTITIES_IMPORT ||
                      cfg->command == CMD_BACKUP;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const struct number_option *opt = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->command = CMD_HELP;
        } else if (is_flag(a, "--db")) {
            if (!(v = flag_value(argc, argv, &i, "--db")) || !*v)
                goto missing;
            cfg->db = v;
        } else if (is_flag(a, "--bind") && cfg->command == CMD_SERVE) {
            if (!(v = flag_value(argc, argv, &i, "--bind")) || !*v)
                goto missing;
            cfg->bind = v;
        } else if (is_flag(a, "--host") && cfg->command == CMD_HEALTHCHECK) {
            if (!(v = flag_value(argc, argv, &i, "--host")) || !*v)
                goto missing;
            cfg->host = v;
        } else if (is_flag(a, "--cors-origin") && cfg->command == CMD_SERVE) {
            if (!(v = flag_value(argc, argv, &i, "--cors-origin")) || !*v)
                goto missing;
            if (!add_origin(cfg, v, err, err_len))
                return false;
        } else if (is_flag(a, "--trusted-proxy") && cfg->command == CMD_SERVE) {
            if (!(v = flag_value(argc, argv, &i, "--trusted-proxy")) || !*v)
                goto missing;
            if (!add_proxy(cfg, v, err, err_len))
                return false;
        } else if ((opt = serve_number_flag(cfg, a))) {
            if (!(v = flag_value(argc, argv, &i, opt->flag)))
                goto missing;
            if (!set_number(cfg, opt, v, opt->flag, err, err_len))
                return false;
        } else if (is_flag(a, "--scope") && cfg->command == CMD_KEYS_CREATE) {
            if (!(v = flag_value(argc, argv, &i, "--scope")) ||
                (strcmp(v, "ingest") != 0 && strcmp(v, "admin") != 0)) {
                snprintf(err, err_len, "--scope takes ingest or admin");
                return false;
            }
            cfg->scope = v;
        } else if (is_flag(a, "--name") && cfg->command == CMD_KEYS_CREATE) {
            if (!(v = flag_value(argc, argv, &i, "--name")) || !*v)
                goto missing;
            cfg->name = v;
        } else if (cfg->command == CMD_KEYS_REVOKE && !cfg->name && a[0] != '-') {
            cfg->name = a;
        } else if (takes_file && !cfg->file && (a[0] != '-' || !a[1])) {
            cfg->file = a;
        } else {
            snprintf(err, err_len, "unexpected argument '%s' (see newsstand --help)", a);
            return false;
        }
        continue;
    missing:
        snprintf(err, err_len, "%.40s needs a value", a);
        return false;
    }
    if (cfg->command == CMD_SERVE && !check_limits(cfg, err, err_len))
        return false;
    if (cfg->command == CMD_KEYS_CREATE && (!cfg->scope || !cfg->name)) {
        snprintf(err, err_len, "keys create needs --scope ingest|admin and --name NAME");
        return false;
    }
    if (cfg->command == CMD_KEYS_REVOKE && !cfg->name) {
        snprintf(err, err_len, "keys revoke needs the key's NAME");
        return false;
    }
    if (takes_file && !cfg->file && cfg->command != CMD_HELP) {
        snprintf(err, err_len, cfg->command == CMD_BACKUP
                                   ? "backup needs a destination file"
                                   : "import needs a file (or - for standard input)");
        return false;
    }
    return true;
}

void config_usage(FILE *out)
{
    fputs("newsstand " NEWSSTAND_VERSION " - a news API server\n"
          "\n"
          "usage: newsstand COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  serve [options]     serve the HTTP API (migrates the database first)\n"
          "  import FILE.ndjson  import articles, one JSON object a line (FILE may be -)\n"
          "  entities import FILE.ndjson\n"
          "                      load a gazetteer: one {name, type, aliases, wikidata,\n"
          "                      description} a line; existing entities are updated\n"
          "  relink              re-scan every article for the known entities\n"
          "  keys create --scope ingest|admin --name NAME\n"
          "                      make an API key; it is printed once, as the last line\n"
          "  keys list           list the keys (names, scopes, use; never the keys)\n"
          "  keys revoke NAME    revoke a key at once\n"
          "  backup DEST         write a consistent copy of the database to the new file DEST\n"
          "                      (safe while the server runs)\n"
          "  migrate             apply pending schema migrations and exit\n"
          "  check               run integrity checks; exit 0 when the database is sound\n"
          "  healthcheck [--port N] [--host ADDR]\n"
          "                      GET /readyz of a running server at ADDR (numeric, IPv4 or\n"
          "                      IPv6; default 127.0.0.1), port N (default NEWSSTAND_PORT\n"
          "                      or 8080), within 3 s; exit 0 on a 200, 1 otherwise\n"
          "  --version           print the version\n"
          "\n"
          "options for every command:\n"
          "  --db PATH           the SQLite database (default ./newsstand.db)     NEWSSTAND_DB\n"
          "\n",
          out);
    /* in two parts: C11 promises string literals of 4095 bytes, no more */
    fputs("serve options (each also read from the environment variable on the right):\n"
          "  --port N            TCP port (default 8080)                          NEWSSTAND_PORT\n"
          "  --bind ADDR         IPv4 or IPv6 address to listen on (0.0.0.0)      NEWSSTAND_BIND\n"
          "  --threads N         worker threads (default: one per CPU)         NEWSSTAND_THREADS\n"
          "  --cors-origin ORIGIN  let browsers on ORIGIN call the API; repeatable, * for any\n"
          "                                           NEWSSTAND_CORS_ORIGINS (comma-separated)\n"
          "  --rate-limit N      requests a second per client address, sustained; 0: off\n"
          "                      (default 20)                               NEWSSTAND_RATE_LIMIT\n"
          "  --rate-burst N      requests a client address may make at once (100)\n"
          "                                                                 NEWSSTAND_RATE_BURST\n"
          "  --key-rate-limit N  requests a second per API key or session token; 0: off\n"
          "                      (default 50)                           NEWSSTAND_KEY_RATE_LIMIT\n"
          "  --key-rate-burst N  burst per API key or session token (200)\n"
          "                                                             NEWSSTAND_KEY_RATE_BURST\n"
          "  --trusted-proxy ADDR[/BITS]  a reverse proxy whose X-Forwarded-For is believed;\n"
          "                      repeatable    NEWSSTAND_TRUSTED_PROXIES (comma-separated)\n"
          "  --max-connections N open connections at most (1024)     NEWSSTAND_MAX_CONNECTIONS\n"
          "  --max-connections-per-ip N  open connections per peer address; 0: no limit (128)\n"
          "                                                     NEWSSTAND_MAX_CONNECTIONS_PER_IP\n"
          "  --idle-timeout S    close a connection idle this long; a request head must\n"
          "                      arrive within S s, a body and an answer within S s plus\n"
          "                      1 s per KiB, however slowly they trickle (30)\n"
          "                                                               NEWSSTAND_IDLE_TIMEOUT\n"
          "  --body-max BYTES    largest JSON request body (1048576; /v1/import streams)\n"
          "                                                                  NEWSSTAND_BODY_MAX\n"
          "  --header-max BYTES  largest request head, line and headers (16384)\n"
          "                                                                NEWSSTAND_HEADER_MAX\n"
          "  --connection-memory BYTES  memory per connection for its head and buffers,\n"
          "                      at least twice --header-max (65536) NEWSSTAND_CONNECTION_MEMORY\n"
          "  --response-cache BYTES  memory for answers to anonymous reads, reused until the\n"
          "                      next write (at most 1 s); 0: off (16777216)\n"
          "                                                          NEWSSTAND_RESPONSE_CACHE\n"
          "  --drain-grace S     on SIGTERM, seconds /readyz answers 503 while still serving,\n"
          "                      before the listener closes (0)          NEWSSTAND_DRAIN_GRACE\n"
          "\n"
          "signals: SIGTERM or SIGINT stop serving gracefully: /readyz answers 503, new\n"
          "connections stop (after --drain-grace), requests in flight finish, exit 0.\n"
          "\n"
          "exit status: 0 success, 1 failure (or an unsound database for check), 2 usage.\n",
          out);
}
