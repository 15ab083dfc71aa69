/*
 * healthcheck.c - `newsstand healthcheck`: asks a running server's /readyz
 * over a plain TCP socket and exits 0 on a 200, 1 on anything else, so a
 * container's HEALTHCHECK needs no curl in the image.
 *
 * One request, one deadline (HEALTHCHECK_TIMEOUT_MS) for connecting, sending
 * and reading the status line together. It never opens the database, and it
 * takes a numeric address only: a name lookup could outlast the deadline.
 */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HEALTHCHECK_TIMEOUT_MS = 3000 };

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes; false on timeout. */
static bool wait_for(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

/*
 * Connects a non-blocking socket to addr before the deadline. Returns the
 * socket, or -1 with a message in why (and nothing left open).
 */
static int connect_by(const struct addrinfo *ai, long long deadline, const char **why)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        *why = strerror(errno);
        goto out_close;
    }
    if (!wait_for(fd, POLLOUT, deadline)) {
        *why = "timed out";
        goto out_close;
    }
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
        return fd;
    *why = strerror(soerr ? soerr : errno);
out_close:
    close(fd);
    return -1;
}

/* Sends all of buf before the deadline; false on error or timeout. */
static bool send_all(int fd, const char *buf, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        } else if (!wait_for(fd, POLLOUT, deadline)) {
            return false;
        }
    }
    return true;
}

/*
 * Reads until the status line is complete (or the peer closes, or the
 * deadline passes) and returns its status code, or 0 when there is no
 * well-formed "HTTP/1.x NNN" line.
 */
static int read_status(int fd, long long deadline)
{
    char buf[256];
    size_t have = 0;
    while (have < sizeof(buf) - 1 && !memchr(buf, '\n', have)) {
        if (!wait_for(fd, POLLIN, deadline))
            break;
        ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
        if (n > 0)
            have += (size_t)n;
    }
    buf[have] = '\0';
    /* "HTTP/1.1 200 OK": the version, one space, three digits, then a space or the end */
    if (have < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return 0;
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return 0;
        code = code * 10 + (buf[i] - '0');
    }
    bool ends = buf[12] == ' ' || buf[12] == '\r' || buf[12] == '\n' || buf[12] == '\0';
    return ends && code >= 100 ? code : 0;
}

/* "[::1]" and "::1" both name the IPv6 loopback; copies the bare address to out. */
static bool bare_address(const char *host, char *out, size_t out_len)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= out_len)
        return false;
    memcpy(out, host, n);
    out[n] = '\0';
    return true;
}

/*
 * Connects to ai, sends GET /readyz and reads the status line, all within
 * HEALTHCHECK_TIMEOUT_MS. Returns the status code, or 0 with the reason in
 * why; the socket is closed either way.
 */
static int ask_readyz(const struct addrinfo *ai, const char *host, const char *port,
                      const char **why)
{
    long long deadline = now_ms() + HEALTHCHECK_TIMEOUT_MS;
    int fd = connect_by(ai, deadline, why);
    if (fd < 0)
        return 0;
    bool v6 = strchr(host, ':') != NULL;
    char request[256];
    int len = snprintf(request, sizeof(request),
                       "GET /readyz HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
                       "User-Agent: newsstand-healthcheck\r\nConnection: close\r\n\r\n",
                       v6 ? "[" : "", host, v6 ? "]" : "", port);
    int status = 0;
    if (send_all(fd, request, (size_t)len, deadline))
        status = read_status(fd, deadline);
    if (!status)
        *why = now_ms() >= deadline ? "timed out" : "no HTTP status line in the answer";
    close(fd);
    return status;
}

int cli_healthcheck(const struct config *cfg)
{
    char host[INET6_ADDRSTRLEN + 1], port[8];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    snprintf(port, sizeof(port), "%u", cfg->port);
    if (!bare_address(cfg->host, host, sizeof(host)) || getaddrinfo(host, port, &hints, &ai) != 0) {
        fprintf(stderr, "newsstand: --host takes a numeric IPv4 or IPv6 address, not '%s'\n",
                cfg->host);
        return 2;
    }
    const char *why = "no answer";
    int status = ask_readyz(ai, host, port, &why);
    freeaddrinfo(ai);
    if (status == 200) {
        printf("%s port %s: ready\n", host, port);
        return 0;
    }
    if (status)
        fprintf(stderr, "newsstand: %s port %s: not ready (/readyz answered %d)\n", host, port,
                status);
    else
        fprintf(stderr, "newsstand: %s port %s: not ready (%s)\n", host, port, why);
    return 1;
}
