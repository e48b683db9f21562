/*
 * net_posix.c - the POSIX socket port (smtpkit/net.h).
 *
 * Resolution goes through getaddrinfo() with AF_UNSPEC, so a name that has both IPv6 and IPv4
 * addresses is tried address by address in the resolver's order (RFC 6724) until one connects.
 * Each connect is non-blocking and bounded by poll(), because a blocking connect() to a host
 * that drops SYNs hangs for minutes. Writes use MSG_NOSIGNAL (or SO_NOSIGPIPE where that is
 * the platform's way), so a server that closes early gives an error, never a SIGPIPE.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtpkit/net.h"

#include "host/errorf.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#if defined(MSG_NOSIGNAL)
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

/* "host:port", or "[v6]:port" for an IPv6 literal, as a user would type it back. */
static void format_endpoint(char *out, size_t size, const char *host, uint16_t port)
{
    if (strchr(host, ':') != NULL) {
        snprintf(out, size, "[%s]:%u", host, (unsigned)port);
    } else {
        snprintf(out, size, "%s:%u", host, (unsigned)port);
    }
}

static unsigned long long monotonic_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

/* poll() for @p events, retried on EINTR with the time that is left. 1 ready, 0 timed out,
 * -1 failed (errno set). */
static int poll_one(int fd, short events, unsigned timeout_ms)
{
    unsigned long long deadline = monotonic_ms() + timeout_ms;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        unsigned long long now = monotonic_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        int ready = poll(&pfd, 1, left);

        if (ready >= 0) {
            return ready > 0 ? 1 : 0;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

static int set_socket_options(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    int one = 1;

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return -1;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        return -1;
    }
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0) {
        return -1;
    }
#endif
    /* SMTP sends short commands and waits for each reply: Nagle would only add latency. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

/* Connects to one address. Returns 0 with *fd_out set, or an errno value (ETIMEDOUT when
 * the timeout ran out). */
static int connect_one(const struct addrinfo *ai, unsigned timeout_ms, int *fd_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    int so_error = 0;
    socklen_t len = sizeof so_error;
    int ready;

    if (fd < 0) {
        return errno;
    }
    if (set_socket_options(fd) != 0) {
        so_error = errno;
        close(fd);
        return so_error;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        *fd_out = fd;
        return 0;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
        so_error = errno;
        close(fd);
        return so_error;
    }

    ready = poll_one(fd, POLLOUT, timeout_ms);
    if (ready <= 0) {
        so_error = ready == 0 ? ETIMEDOUT : errno;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
        so_error = errno;
    }
    if (so_error != 0) {
        close(fd);
        return so_error;
    }
    *fd_out = fd;
    return 0;
}

static void numeric_address(const struct addrinfo *ai, char *out, size_t size)
{
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) !=
        0) {
        snprintf(out, size, "?");
    }
}

static smtpkit_status connect_failed(const char *host, uint16_t port, const struct addrinfo *ai,
                                     int error_number, smtpkit_error *err)
{
    char endpoint[300];
    char address[64];
    smtpkit_status status = error_number == ETIMEDOUT ? SMTPKIT_E_TIMEOUT : SMTPKIT_E_CONNECT;

    format_endpoint(endpoint, sizeof endpoint, host, port);
    numeric_address(ai, address, sizeof address);
    if (strcmp(address, host) == 0) {
        return smtpkit_errorf(err, status, SMTPKIT_STAGE_CONNECT, "connect to %s: %s", endpoint,
                              strerror(error_number));
    }
    return smtpkit_errorf(err, status, SMTPKIT_STAGE_CONNECT, "connect to %s (%s): %s", endpoint,
                          address, strerror(error_number));
}

static smtpkit_status resolve(const char *host, uint16_t port, struct addrinfo **list,
                              smtpkit_error *err)
{
    struct addrinfo hints;
    char service[8];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof service, "%u", (unsigned)port);

    rc = getaddrinfo(host, service, &hints, list);
    if (rc == 0) {
        return SMTPKIT_OK;
    }
    return smtpkit_errorf(err, SMTPKIT_E_CONNECT, SMTPKIT_STAGE_NONE, "cannot resolve host %s: %s",
                          host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
}

smtpkit_status smtpkit_net_connect(const char *host, uint16_t port, unsigned timeout_ms, int *fd,
                                   smtpkit_error *err)
{
    struct addrinfo *list = NULL;
    const struct addrinfo *ai;
    smtpkit_status status;
    int error_number = 0;

    *fd = -1;
    if (host == NULL || host[0] == '\0' || port == 0) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_CONNECT,
                                 "connect: no host or port given");
    }
    status = resolve(host, port, &list, err);
    if (status != SMTPKIT_OK) {
        return status;
    }

    for (ai = list; ai != NULL; ai = ai->ai_next) {
        error_number = connect_one(ai, timeout_ms, fd);
        if (error_number == 0) {
            break;
        }
        if (ai->ai_next == NULL) {
            status = connect_failed(host, port, ai, error_number, err);
        }
    }
    freeaddrinfo(list);
    return status;
}

smtpkit_status smtpkit_net_wait(int fd, smtpkit_io want, unsigned timeout_ms, smtpkit_error *err)
{
    int ready;

    if (want == SMTPKIT_IO_DONE) {
        return SMTPKIT_OK;
    }
    /* POLLERR and POLLHUP count as ready: the read or write that follows reports them. */
    ready = poll_one(fd, want == SMTPKIT_IO_WANT_READ ? POLLIN : POLLOUT, timeout_ms);
    if (ready > 0) {
        return SMTPKIT_OK;
    }
    if (ready == 0) {
        return smtpkit_errorf(err, SMTPKIT_E_TIMEOUT, SMTPKIT_STAGE_NONE, "no progress within %u s",
                              (timeout_ms + 999) / 1000);
    }
    return smtpkit_errorf(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "poll: %s", strerror(errno));
}

smtpkit_status smtpkit_net_read(int fd, uint8_t *buf, size_t size, size_t *got, smtpkit_io *want,
                                smtpkit_error *err)
{
    ssize_t n;

    *got = 0;
    *want = SMTPKIT_IO_DONE;
    do {
        n = recv(fd, buf, size, 0);
    } while (n < 0 && errno == EINTR);

    if (n >= 0) {
        *got = (size_t)n;
        return SMTPKIT_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *want = SMTPKIT_IO_WANT_READ;
        return SMTPKIT_OK;
    }
    return smtpkit_errorf(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "read: %s", strerror(errno));
}

smtpkit_status smtpkit_net_write(int fd, const uint8_t *buf, size_t len, size_t *put,
                                 smtpkit_io *want, smtpkit_error *err)
{
    ssize_t n;

    *put = 0;
    *want = SMTPKIT_IO_DONE;
    do {
        n = send(fd, buf, len, SEND_FLAGS);
    } while (n < 0 && errno == EINTR);

    if (n >= 0) {
        *put = (size_t)n;
        return SMTPKIT_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *want = SMTPKIT_IO_WANT_WRITE;
        return SMTPKIT_OK;
    }
    return smtpkit_errorf(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "write: %s", strerror(errno));
}

void smtpkit_net_close(int fd)
{
    if (fd >= 0) {
        (void)close(fd);
    }
}
