/*
 * ceiling.c - the benchmark's ceiling: the fastest answer this stack gives.
 *
 * A minimal libmicrohttpd program that answers every request, whatever its
 * method and path, with the same bytes held in memory: a typical article
 * response fetched from newsstand once (bench/suite.py saves it). Same
 * thread model as newsstand (src/http/server.c): a thread pool with poll(),
 * and the answer queued on the access handler's second call, which keeps
 * the connection alive in libmicrohttpd 0.9.75 (see ../shared/PERF.md).
 * No database, no routing, no JSON: whatever newsstand does on top of this
 * is what its figures are divided by.
 *
 * usage: ceiling --port N --body FILE [--threads N] [--bind 127.0.0.1]
 * Runs until SIGTERM or SIGINT; exits 0 then, 1 when it cannot start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int first_call_marker;

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (!*con_cls) {
        *con_cls = &first_call_marker; /* the first call only notes the request */
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body is read and dropped */
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, cls);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)size + 1)) && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static void usage(void)
{
    fprintf(stderr, "usage: ceiling --port N --body FILE [--threads N] [--bind 127.0.0.1]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *body_path = NULL, *bind = "127.0.0.1";
    long port = 0, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--body") == 0)
            body_path = argv[i + 1];
        else if (strcmp(argv[i], "--bind") == 0)
            bind = argv[i + 1];
        else
            usage();
    }
    if (argc % 2 == 0 || !body_path || port < 1 || port > 65535 || threads < 1 || threads > 256)
        usage();

    size_t len = 0;
    char *body = read_file(body_path, &len);
    if (!body) {
        fprintf(stderr, "ceiling: cannot read %s: %s\n", body_path, strerror(errno));
        return 1;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!response || MHD_add_response_header(response, "Content-Type", "application/json") != MHD_YES)
        return 1;

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1) {
        fprintf(stderr, "ceiling: --bind %s is not an IPv4 address\n", bind);
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before the threads start: they inherit it */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, answer, response, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "ceiling: cannot listen on %s port %ld\n", bind, port);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(response);
    return 0;
}
