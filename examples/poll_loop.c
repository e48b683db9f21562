/*
 * poll_loop.c - drives the sans-I/O core from a poll() loop, never blocking.
 *
 * This is how an RTOS task or an event loop uses smtpkit: the socket is non-blocking, TLS is
 * the non-blocking Mbed TLS port, and the only place that waits is one poll() call, where a
 * real loop would also watch its other descriptors and timers. The session tells what it
 * needs next (bytes written, bytes read, a TLS handshake, the message body), and the loop
 * does exactly that much and comes back.
 *
 * Usage: SMTPKIT_PASSWORD=... poll_loop HOST-ADDRESS PORT CA-FILE TLS-NAME USER FROM TO
 * HOST-ADDRESS is numeric (IPv4 or IPv6), so that no resolver call can block the loop; TLS-NAME
 * is the name the server's certificate must carry. Built by CMake as build/examples/poll_loop.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpkit/net.h"
#include "smtpkit/session.h"
#include "smtpkit/tls.h"

#define WAIT_MS 30000

struct app {
    int fd;
    smtpkit_tls *tls; /* NULL until STARTTLS */
    smtpkit_session session;
    uint8_t out[SMTPKIT_SESSION_OUTPUT_MIN];
    smtpkit_envelope env;
    const char *rcpt[1];
    char message[1024];
    size_t message_len;
    size_t body_pos;
    int sent;
};

/* The one place the loop waits. A real loop adds its own descriptors here. */
static smtpkit_status wait_for(int fd, smtpkit_io want, smtpkit_error *err)
{
    struct pollfd p = {.fd = fd, .events = want == SMTPKIT_IO_WANT_WRITE ? POLLOUT : POLLIN};
    int n = poll(&p, 1, WAIT_MS);

    if (n == 0)
        return smtpkit_error_set(err, SMTPKIT_E_TIMEOUT, SMTPKIT_STAGE_NONE, "no progress");
    if (n < 0 && errno != EINTR)
        return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "poll failed");
    return SMTPKIT_OK;
}

/* A non-blocking connect to a numeric address, finished in poll(). */
static smtpkit_status start_connect(const char *addr, unsigned port, int *fd, smtpkit_error *err)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t ss_len;
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        ss_len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        ss_len = sizeof(*v6);
    } else {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_CONNECT,
                                 "HOST-ADDRESS must be a numeric IPv4 or IPv6 address");
    }

    *fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (*fd < 0 || fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK) < 0)
        return smtpkit_error_set(err, SMTPKIT_E_CONNECT, SMTPKIT_STAGE_CONNECT, "socket");
    if (connect(*fd, (struct sockaddr *)&ss, ss_len) < 0 && errno != EINPROGRESS)
        return smtpkit_error_set(err, SMTPKIT_E_CONNECT, SMTPKIT_STAGE_CONNECT, strerror(errno));
    if (wait_for(*fd, SMTPKIT_IO_WANT_WRITE, err) != SMTPKIT_OK)
        return err->status;
    if (getsockopt(*fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) < 0 || so_error != 0)
        return smtpkit_error_set(err, SMTPKIT_E_CONNECT, SMTPKIT_STAGE_CONNECT, strerror(so_error));
    return SMTPKIT_OK;
}

static smtpkit_status do_write(struct app *a, smtpkit_error *err)
{
    size_t len = 0;
    size_t put = 0;
    smtpkit_io want = SMTPKIT_IO_DONE;
    const uint8_t *out = smtpkit_session_output(&a->session, &len);
    smtpkit_status st;

    if (a->tls != NULL)
        st = smtpkit_tls_write(a->tls, out, len, &put, &want, err);
    else
        st = smtpkit_net_write(a->fd, out, len, &put, &want, err);
    if (st != SMTPKIT_OK)
        return st;
    smtpkit_session_written(&a->session, put);
    return want == SMTPKIT_IO_DONE ? SMTPKIT_OK : wait_for(a->fd, want, err);
}

static smtpkit_status do_read(struct app *a, smtpkit_error *err)
{
    uint8_t buf[512];
    size_t got = 0;
    smtpkit_io want = SMTPKIT_IO_DONE;
    smtpkit_status st;

    if (a->tls != NULL)
        st = smtpkit_tls_read(a->tls, buf, sizeof(buf), &got, &want, err);
    else
        st = smtpkit_net_read(a->fd, buf, sizeof(buf), &got, &want, err);
    if (st != SMTPKIT_OK)
        return st;
    if (want != SMTPKIT_IO_DONE)
        return wait_for(a->fd, want, err);
    if (got == 0)
        return smtpkit_session_eof(&a->session);
    return smtpkit_session_feed(&a->session, buf, got);
}

static smtpkit_status do_handshake(struct app *a, const smtpkit_trust *trust, const char *name,
                                   smtpkit_error *err)
{
    smtpkit_io want = SMTPKIT_IO_WANT_READ;

    if (smtpkit_tls_new(&a->tls, trust, name, err) != SMTPKIT_OK)
        return err->status;
    smtpkit_tls_set_fd(a->tls, a->fd);
    while (want != SMTPKIT_IO_DONE) {
        if (smtpkit_tls_handshake(a->tls, &want, err) != SMTPKIT_OK)
            return err->status;
        if (want != SMTPKIT_IO_DONE && wait_for(a->fd, want, err) != SMTPKIT_OK)
            return err->status;
    }
    return smtpkit_session_tls_started(&a->session);
}

/* Hands the message to the session as fast as its output buffer drains. */
static smtpkit_status do_body(struct app *a)
{
    const uint8_t *rest = (const uint8_t *)a->message + a->body_pos;

    a->body_pos += smtpkit_session_body(&a->session, rest, a->message_len - a->body_pos);
    if (a->body_pos < a->message_len)
        return SMTPKIT_OK; /* output full: the loop writes, then BODY comes back */
    /* A full output buffer is not an error: the loop writes, then BODY comes back. */
    smtpkit_status st = smtpkit_session_body_end(&a->session);

    return st == SMTPKIT_E_BUFFER ? SMTPKIT_OK : st;
}

static void print_accepted(const smtpkit_reply *reply)
{
    printf("poll_loop: message accepted: %u%s%s %s\n", (unsigned)reply->code,
           reply->enhanced[0] != '\0' ? " " : "", reply->enhanced, reply->text);
}

/* One turn of the loop: do what the session asks for. Returns 1 when finished. */
static int step(struct app *a, const smtpkit_trust *trust, const char *name, smtpkit_error *err)
{
    smtpkit_status st = SMTPKIT_OK;

    switch (smtpkit_session_next(&a->session)) {
    case SMTPKIT_EV_WRITE:
        st = do_write(a, err);
        break;
    case SMTPKIT_EV_READ:
        st = do_read(a, err);
        break;
    case SMTPKIT_EV_START_TLS:
        st = do_handshake(a, trust, name, err);
        break;
    case SMTPKIT_EV_READY:
        st = a->sent ? smtpkit_session_quit(&a->session)
                     : smtpkit_session_mail(&a->session, &a->env);
        break;
    case SMTPKIT_EV_BODY:
        st = do_body(a);
        break;
    case SMTPKIT_EV_SENT:
        a->sent = 1;
        print_accepted(smtpkit_session_last_reply(&a->session));
        break;
    case SMTPKIT_EV_DONE:
        return 1;
    case SMTPKIT_EV_FAILED:
        *err = *smtpkit_session_error(&a->session);
        return 1;
    }
    if (st != SMTPKIT_OK && err->status == SMTPKIT_OK)
        *err = *smtpkit_session_error(&a->session);
    if (st != SMTPKIT_OK && smtpkit_session_error(&a->session)->status == SMTPKIT_OK)
        smtpkit_session_fail(&a->session, err);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: SMTPKIT_PASSWORD=... poll_loop HOST-ADDRESS PORT CA-FILE TLS-NAME "
                    "USER FROM TO\n");
    return 64;
}

int main(int argc, char **argv)
{
    static struct app a;
    smtpkit_session_config cfg = {0};
    smtpkit_trust trust = {0};
    smtpkit_error err;
    char line[512];

    if (argc != 8 || getenv("SMTPKIT_PASSWORD") == NULL)
        return usage();
    smtpkit_error_clear(&err);
    a.fd = -1;
    trust.ca_file = argv[3];
    cfg.helo_name = "poll-loop.example";
    cfg.tls_mode = SMTPKIT_TLS_STARTTLS;
    cfg.user = argv[5];
    cfg.secret = getenv("SMTPKIT_PASSWORD");
    a.rcpt[0] = argv[7];
    a.env.mail_from = argv[6];
    a.env.rcpt = a.rcpt;
    a.env.rcpt_count = 1;
    a.message_len = (size_t)snprintf(a.message, sizeof(a.message),
                                     "From: <%s>\r\nTo: <%s>\r\nSubject: from a poll loop\r\n"
                                     "\r\nNo call in this program blocked.\n",
                                     argv[6], argv[7]);

    if (start_connect(argv[1], (unsigned)atoi(argv[2]), &a.fd, &err) != SMTPKIT_OK)
        goto out;
    if (smtpkit_session_init(&a.session, &cfg, a.out, sizeof(a.out)) != SMTPKIT_OK) {
        err = *smtpkit_session_error(&a.session);
        goto out;
    }
    while (!step(&a, &trust, argv[4], &err))
        ;

out:
    if (a.tls != NULL)
        smtpkit_tls_close_notify(a.tls);
    smtpkit_tls_free(a.tls);
    smtpkit_net_close(a.fd);
    if (err.status == SMTPKIT_OK && a.sent)
        return 0;
    smtpkit_error_format(&err, line, sizeof(line));
    fprintf(stderr, "poll_loop: %s\n", line);
    return err.status == SMTPKIT_E_USAGE ? 64 : 1;
}
