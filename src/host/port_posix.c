/*
 * port_posix.c - the blocking port under the client (port_posix.h): POSIX sockets and the TLS
 * port made blocking with poll() and per-stage deadlines.
 *
 * Every read and write waits until the deadline of the current stage. The timeouts are those
 * RFC 5321 section 4.5.3.2 recommends (a wait for a reply starts when the command has been
 * written, so a server that trickles bytes cannot stretch it). Implicit TLS (RFC 8314) is set
 * up right after connecting, before the session sees its first byte; STARTTLS (RFC 3207) when
 * the session asks for it.
 */
#define _POSIX_C_SOURCE 200809L

#include "host/port_posix.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/errorf.h"
#include "smtpkit/net.h"

enum {
    SECOND_MS = 1000,
    MINUTE_MS = 60 * SECOND_MS,
    CONNECT_TIMEOUT_DEFAULT_MS = 30 * SECOND_MS,
    /* RFC 5321 4.5.3.2: initial 220, MAIL and RCPT 5 min; DATA 2 min; data block 3 min;
     * DATA termination 10 min. EHLO, STARTTLS, AUTH and QUIT are not listed: 5 min. */
    COMMAND_TIMEOUT_MS = 5 * MINUTE_MS,
    DATA_TIMEOUT_MS = 2 * MINUTE_MS,
    DATA_BLOCK_TIMEOUT_MS = 3 * MINUTE_MS,
    FINAL_DOT_TIMEOUT_MS = 10 * MINUTE_MS
};

static unsigned long long monotonic_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

static SMTPKIT_PRINTF(2, 3) void trace_info(const smtpkit_posix_port *p, const char *format, ...)
{
    char text[SMTPKIT_ERROR_MESSAGE_MAX];
    va_list args;
    int len;

    if (p->trace == NULL) {
        return;
    }
    va_start(args, format);
    len = vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (len > 0) {
        p->trace(p->trace_ctx, SMTPKIT_TRACE_INFO, text,
                 (size_t)len < sizeof text ? (size_t)len : sizeof text - 1);
    }
}

/* How long the server may take to answer in the current stage. */
static unsigned reply_timeout(const smtpkit_posix_port *p)
{
    if (p->opt->timeout_ms != 0) {
        return p->opt->timeout_ms;
    }
    switch (p->stage) {
    case SMTPKIT_STAGE_DATA:
        return DATA_TIMEOUT_MS;
    case SMTPKIT_STAGE_BODY:
        /* Reads in this stage wait only for the reply to the final dot. */
        return FINAL_DOT_TIMEOUT_MS;
    default:
        return COMMAND_TIMEOUT_MS;
    }
}

/* How long one write may wait for the socket to take bytes. */
static unsigned write_timeout(const smtpkit_posix_port *p)
{
    if (p->opt->timeout_ms != 0) {
        return p->opt->timeout_ms;
    }
    return p->stage == SMTPKIT_STAGE_BODY ? DATA_BLOCK_TIMEOUT_MS : COMMAND_TIMEOUT_MS;
}

/* Waits until @p want or @p deadline; the timeout message says what was waited for. */
static smtpkit_status wait_for(smtpkit_posix_port *p, smtpkit_io want, unsigned long long started,
                               unsigned timeout_ms, const char *what, smtpkit_error *err)
{
    unsigned long long now = monotonic_ms();
    unsigned long long deadline = started + timeout_ms;

    if (now < deadline &&
        smtpkit_net_wait(p->fd, want, (unsigned)(deadline - now), err) == SMTPKIT_OK) {
        return SMTPKIT_OK;
    }
    if (now < deadline && err->status != SMTPKIT_E_TIMEOUT) {
        err->stage = p->stage;
        return err->status;
    }
    return smtpkit_errorf(err, SMTPKIT_E_TIMEOUT, p->stage, "%s %s within %u s", what, p->endpoint,
                          (timeout_ms + SECOND_MS - 1) / SECOND_MS);
}

smtpkit_status smtpkit_port_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                 smtpkit_error *err)
{
    smtpkit_posix_port *p = ctx;

    for (;;) {
        smtpkit_io want = SMTPKIT_IO_DONE;
        smtpkit_status status = p->tls_on ? smtpkit_tls_read(p->tls, buf, size, got, &want, err)
                                          : smtpkit_net_read(p->fd, buf, size, got, &want, err);

        if (status != SMTPKIT_OK) {
            err->stage = p->stage;
            return status;
        }
        if (want == SMTPKIT_IO_DONE) {
            return SMTPKIT_OK;
        }
        status = wait_for(p, want, p->waiting_since, reply_timeout(p), "no reply from", err);
        if (status != SMTPKIT_OK) {
            return status;
        }
    }
}

smtpkit_status smtpkit_port_write(void *ctx, const uint8_t *buf, size_t len, smtpkit_error *err)
{
    smtpkit_posix_port *p = ctx;
    unsigned long long started = monotonic_ms();
    size_t done = 0;

    while (done < len) {
        smtpkit_io want = SMTPKIT_IO_DONE;
        size_t put = 0;
        smtpkit_status status =
            p->tls_on ? smtpkit_tls_write(p->tls, buf + done, len - done, &put, &want, err)
                      : smtpkit_net_write(p->fd, buf + done, len - done, &put, &want, err);

        if (status != SMTPKIT_OK) {
            err->stage = p->stage;
            return status;
        }
        done += put;
        if (put == 0 && want == SMTPKIT_IO_DONE) {
            want = SMTPKIT_IO_WANT_WRITE;
        }
        if (done < len && want != SMTPKIT_IO_DONE) {
            status = wait_for(p, want, started, write_timeout(p), "cannot send to", err);
            if (status != SMTPKIT_OK) {
                return status;
            }
        }
    }
    p->waiting_since = monotonic_ms();
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_port_handshake(smtpkit_posix_port *p, smtpkit_error *err)
{
    unsigned long long started = monotonic_ms();
    unsigned timeout_ms = p->opt->timeout_ms != 0 ? p->opt->timeout_ms : COMMAND_TIMEOUT_MS;
    char description[160];

    smtpkit_tls_set_fd(p->tls, p->fd);
    for (;;) {
        smtpkit_io want = SMTPKIT_IO_DONE;

        if (smtpkit_tls_handshake(p->tls, &want, err) != SMTPKIT_OK) {
            err->stage = SMTPKIT_STAGE_TLS;
            return err->status;
        }
        if (want == SMTPKIT_IO_DONE) {
            break;
        }
        if (wait_for(p, want, started, timeout_ms, "no TLS handshake with", err) != SMTPKIT_OK) {
            return err->status;
        }
    }
    p->tls_on = true;
    smtpkit_tls_describe(p->tls, description, sizeof description);
    trace_info(p, "TLS established with %s: %s", p->endpoint, description);
    p->waiting_since = monotonic_ms();
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_port_start_tls(void *ctx, smtpkit_error *err)
{
    smtpkit_posix_port *p = ctx;

    if (p->tls == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_STATE, SMTPKIT_STAGE_STARTTLS,
                                 "STARTTLS requested on a connection set up without TLS");
    }
    p->stage = SMTPKIT_STAGE_TLS;
    return smtpkit_port_handshake(p, err);
}

void smtpkit_port_set_stage(void *ctx, smtpkit_stage stage)
{
    smtpkit_posix_port *p = ctx;

    if (stage != p->stage) {
        p->stage = stage;
        p->waiting_since = monotonic_ms();
    }
}

static const char *default_helo(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0) {
        return "localhost";
    }
    buf[size - 1] = '\0';
    return smtpkit_helo_name_valid(buf) ? buf : "localhost";
}

static uint16_t default_port(smtpkit_tls_mode mode)
{
    switch (mode) {
    case SMTPKIT_TLS_IMPLICIT:
        return 465;
    case SMTPKIT_TLS_NONE:
        return 25;
    default:
        return 587;
    }
}

static void format_endpoint(char *out, size_t size, const char *host, uint16_t port)
{
    if (strchr(host, ':') != NULL) {
        snprintf(out, size, "[%s]:%u", host, (unsigned)port);
    } else {
        snprintf(out, size, "%s:%u", host, (unsigned)port);
    }
}

/* Makes sure a failure of the connection says which server it was. */
void smtpkit_port_name_server(const smtpkit_posix_port *p, smtpkit_error *err)
{
    bool unresolved = err->status == SMTPKIT_E_CONNECT && err->stage == SMTPKIT_STAGE_NONE;
    char message[SMTPKIT_ERROR_MESSAGE_MAX];

    if (err->reply_code != 0 || err->status == SMTPKIT_E_USAGE ||
        err->status == SMTPKIT_E_INTERNAL || unresolved ||
        strstr(err->message, p->endpoint) != NULL) {
        return;
    }
    memcpy(message, err->message, sizeof message);
    message[sizeof message - 1] = '\0';
    (void)smtpkit_errorf(err, err->status, err->stage, "%s: %s", p->endpoint, message);
}

smtpkit_status smtpkit_port_connect(smtpkit_posix_port *p, smtpkit_error *err)
{
    unsigned timeout_ms =
        p->opt->connect_timeout_ms != 0 ? p->opt->connect_timeout_ms : CONNECT_TIMEOUT_DEFAULT_MS;

    trace_info(p, "connecting to %s", p->endpoint);
    p->stage = SMTPKIT_STAGE_CONNECT;
    if (smtpkit_net_connect(p->opt->host, p->port, timeout_ms, &p->fd, err) != SMTPKIT_OK) {
        return err->status;
    }
    trace_info(p, "connected to %s", p->endpoint);
    p->stage = SMTPKIT_STAGE_GREETING;
    p->waiting_since = monotonic_ms();
    if (p->opt->session.tls_mode == SMTPKIT_TLS_IMPLICIT) {
        p->stage = SMTPKIT_STAGE_TLS;
        if (smtpkit_port_handshake(p, err) != SMTPKIT_OK) {
            return err->status;
        }
        p->stage = SMTPKIT_STAGE_GREETING;
    }
    return SMTPKIT_OK;
}

void smtpkit_port_close(smtpkit_posix_port *p)
{
    if (p->tls != NULL) {
        if (p->tls_on) {
            smtpkit_tls_close_notify(p->tls);
        }
        smtpkit_tls_free(p->tls);
        p->tls = NULL;
    }
    smtpkit_net_close(p->fd);
    p->fd = -1;
}

/* The session's settings with the defaults filled in; @p helo holds the default EHLO name. */
void smtpkit_port_setup(smtpkit_posix_port *p, smtpkit_session_config *config, char *helo,
                        size_t helo_size)
{
    const smtpkit_client_options *opt = p->opt;

    *config = opt->session;
    p->port = opt->port != 0 ? opt->port : default_port(config->tls_mode);
    p->trace = config->trace;
    p->trace_ctx = config->trace_ctx;
    format_endpoint(p->endpoint, sizeof p->endpoint, opt->host, p->port);
    if (config->helo_name == NULL) {
        config->helo_name = default_helo(helo, helo_size);
    }
    if (config->oauth_host == NULL) {
        config->oauth_host = opt->host;
        config->oauth_port = p->port;
    }
}
