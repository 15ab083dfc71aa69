/*
 * config.c - flags and environment to struct config.
 */
#include "cli/cli.h"

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
    const char *v;
    if ((v = getenv("NEWSSTAND_DB")) && *v)
        cfg->db = v;
    if ((v = getenv("NEWSSTAND_BIND")) && *v)
        cfg->bind = v;
    if ((v = getenv("NEWSSTAND_PORT")) && *v && !parse_uint(v, 1, 65535, &cfg->port)) {
        snprintf(err, err_len, "NEWSSTAND_PORT must be a port number (1-65535)");
        return false;
    }
    if ((v = getenv("NEWSSTAND_CORS_ORIGINS")) && *v) {
        /* a comma-separated list; the string lives as long as the process */
        static char origins[4096];
        snprintf(origins, sizeof(origins), "%s", v);
        for (char *save = NULL, *o = strtok_r(origins, ",", &save); o;
             o = strtok_r(NULL, ",", &save))
            if (*o && !add_origin(cfg, o, err, err_len))
                return false;
    }
    if ((v = getenv("NEWSSTAND_THREADS")) && *v && !parse_uint(v, 1, 256, &cfg->threads)) {
        snprintf(err, err_len, "NEWSSTAND_THREADS must be a number from 1 to 256");
        return false;
    }
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

bool config_parse(int argc, char **argv, struct config *cfg, char *err, size_t err_len)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->command = CMD_SERVE;
    cfg->db = "./newsstand.db";
    cfg->bind = "0.0.0.0";
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->threads = default_threads();
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
        } else if (is_flag(a, "--port") &&
                   (cfg->command == CMD_SERVE || cfg->command == CMD_HEALTHCHECK)) {
            if (!(v = flag_value(argc, argv, &i, "--port")) ||
                !parse_uint(v, 1, 65535, &cfg->port)) {
                snprintf(err, err_len, "--port takes a port number (1-65535)");
                return false;
            }
        } else if (is_flag(a, "--host") && cfg->command == CMD_HEALTHCHECK) {
            if (!(v = flag_value(argc, argv, &i, "--host")) || !*v)
                goto missing;
            cfg->host = v;
        } else if (is_flag(a, "--cors-origin") && cfg->command == CMD_SERVE) {
            if (!(v = flag_value(argc, argv, &i, "--cors-origin")) || !*v)
                goto missing;
            if (!add_origin(cfg, v, err, err_len))
                return false;
        } else if (is_flag(a, "--threads") && cfg->command == CMD_SERVE) {
            if (!(v = flag_value(argc, argv, &i, "--threads")) ||
                !parse_uint(v, 1, 256, &cfg->threads)) {
                snprintf(err, err_len, "--threads takes a number from 1 to 256");
                return false;
            }
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
          "  serve [--port 8080] [--bind 0.0.0.0] [--threads N] [--cors-origin ORIGIN]...\n"
          "                      serve the HTTP API (migrates the database first);\n"
          "                      --cors-origin (repeatable, or * for any) lets browsers\n"
          "                      on that origin call the API\n"
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
          "  healthcheck [--port 8080] [--host 127.0.0.1]\n"
          "                      GET /readyz of a running server (IPv6 literal allowed);\n"
          "                      exit 0 on 200, 1 otherwise (for container health checks)\n"
          "  --version           print the version\n"
          "\n"
          "options for every command:\n"
          "  --db PATH           the SQLite database (default ./newsstand.db)\n"
          "\n"
          "environment (flags win):\n"
          "  NEWSSTAND_DB, NEWSSTAND_PORT, NEWSSTAND_BIND, NEWSSTAND_THREADS,\n"
          "  NEWSSTAND_CORS_ORIGINS (comma-separated)\n"
          "\n"
          "signals: SIGTERM or SIGINT stop serving gracefully (requests in flight finish).\n",
          out);
}
