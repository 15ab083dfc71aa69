/*
 * main.c - newsstand's entry point: flags and environment to a config,
 * then the subcommand. For `serve`: open and migrate the store, start HTTP,
 * wait for SIGTERM or SIGINT, drain, and stop in reverse order.
 *
 * No HTTP or SQL here; this file reads like a table of contents.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "cli/cli.h"
#include "domain/matcher.h"
#include "http/server.h"
#include "ingest/ingest.h"
#include "json/fields.h"
#include "store/store.h"

enum { DRAIN_TIMEOUT_MS = 10000 };

/* Blocks the stop signals in every thread, so only sigwait below sees them. */
static void block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * Keeps serving for the grace period, so a load balancer sees /readyz fail
 * and stops sending before the listener closes; a second signal ends it.
 */
static void wait_grace(const sigset_t *stop, unsigned seconds)
{
    if (!seconds)
        return;
    struct timespec grace = {.tv_sec = seconds};
    if (sigtimedwait(stop, NULL, &grace) > 0)
        fprintf(stderr, "newsstand: second signal, closing now\n");
}

static int serve(const struct config *cfg)
{
    sigset_t stop;
    block_stop_signals(&stop);
    setvbuf(stdout, NULL, _IOLBF, 0); /* the access log: one line per request, as it happens */

    struct store *st = NULL;
    if (cli_open_store(cfg->db, false, &st))
        return 1;
    struct api_ctx ctx = {.matcher = NULL};
    enum ns_err err = store_cursor_key(st, ctx.cursor_key);
    if (!err)
        err = ingest_matcher_load(st, &ctx.matcher); /* the gazetteer, for writes */
    store_close(st); /* workers open their own connections */
    if (err) {
        fprintf(stderr, "newsstand: cannot read settings and gazetteer from %s: %s\n", cfg->db,
                ns_err_str(err));
        matcher_free(ctx.matcher);
        return 1;
    }
    atomic_init(&ctx.draining, false);
    pthread_mutex_init(&ctx.write_lock, NULL);

    struct http_config http = {
        .bind = cfg->bind,
        .port = (uint16_t)cfg->port,
        .threads = cfg->threads,
        .db_path = cfg->db,
        .body_max = cfg->body_max,
        .header_max = cfg->header_max,
        .connection_memory = cfg->connection_memory,
        .idle_timeout_s = cfg->idle_timeout,
        .max_connections = cfg->max_connections,
        .max_connections_per_ip = cfg->max_connections_per_ip,
        .response_cache_bytes = cfg->response_cache,
        .client_limit = {.rate = cfg->rate_limit, .burst = cfg->rate_burst},
        .key_limit = {.rate = cfg->key_rate_limit, .burst = cfg->key_rate_burst},
        .trusted_proxies = cfg->trusted_proxies,
        .cors_origins = cfg->cors_origins,
    };
    struct http_server *srv = NULL;
    if (http_start(&http, &ctx, &srv)) {
        matcher_free(ctx.matcher);
        return 1;
    }
    fprintf(stderr, "newsstand: serving %s on %s port %u with %u threads\n", cfg->db, cfg->bind,
            cfg->port, cfg->threads);

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "newsstand: %s received, draining\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&ctx.draining, true); /* /readyz answers 503 from now on */
    wait_grace(&stop, cfg->drain_grace);
    http_stop(srv, DRAIN_TIMEOUT_MS);
    matcher_free(ctx.matcher);
    pthread_mutex_destroy(&ctx.write_lock);
    fprintf(stderr, "newsstand: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[256];
    if (!config_parse(argc, argv, &cfg, err, sizeof(err))) {
        fprintf(stderr, "newsstand: %s\n", err);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "newsstand: libsodium failed to start\n");
        return 1;
    }
    store_global_init();
    fields_global_init();
    switch (cfg.command) {
    case CMD_HELP:
        config_usage(stdout);
        return 0;
    case CMD_VERSION:
        printf("newsstand %s\n", NEWSSTAND_VERSION);
        return 0;
    case CMD_MIGRATE:
        return cli_migrate(&cfg);
    case CMD_CHECK:
        return cli_check(&cfg);
    case CMD_HEALTHCHECK:
        return cli_healthcheck(&cfg);
    case CMD_IMPORT:
        return cli_import(&cfg);
    case CMD_ENTITIES_IMPORT:
        return cli_entities_import(&cfg);
    case CMD_RELINK:
        return cli_relink(&cfg);
    case CMD_BACKUP:
        return cli_backup(&cfg);
    case CMD_KEYS_CREATE:
    case CMD_KEYS_LIST:
    case CMD_KEYS_REVOKE:
        return cli_keys(&cfg);
    case CMD_SERVE:
        return serve(&cfg);
    }
    return 2;
}
