/*
 * client.c - the blocking client (smtpkit/client.h): one message over POSIX sockets and
 * Mbed TLS, driven by the core's smtpkit_transport_send().
 *
 * This file turns the non-blocking socket and TLS ports into the blocking transport the core
 * wants: every read and write waits with poll() until the deadline of the current stage. The
 * timeouts are those RFC 5321 section 4.5.3.2 recommends (a wait for a reply starts when the
 * command has been written, so a server that trickles bytes cannot stretch it). The anchors
 * are loaded before connecting, so that a bad CA file fails without touching the network.
 * Implicit TLS (RFC 8314) is set up before the session sees its first byte; STARTTLS (RFC
 * 3207) when the session asks for it. The session's output buffer, which held the AUTH
 * exchange, is wiped before it is freed.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtpkit/client.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

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
    FINAL_DOT_TIMEOUT_MS = 10 * MINUTE_MS,
    HOSTNAME_MAX = 253
};

/* The state behind the transport callbacks. */
typedef struct posix_port {
    const smtpkit_client_options *opt;
    int fd;
    smtpkit_tls *tls; /* created before connecting, so that bad anchors fail first */
    bool tls_on;      /* the handshake is done: bytes go through tls */
    uint16_t port;
    char endpoint[300]; /* "host:port" for messages */
    smtpkit_stage stage;
    unsigned long long waiting_since; /* when the current wait for the server began */
    smtpkit_trace_fn trace;
    void *trace_ctx;
} posix_port;

static unsigned long long monotonic_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

static SMTPKIT_PRINTF(2, 3) void trace_info(const posix_port *p, const char *format, ...)
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
static unsigned reply_timeout(const posix_port *p)
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
static unsigned write_timeout(const posix_port *p)
{
    if (p->opt->timeout_ms != 0) {
        return p->opt->timeout_ms;
    }
    return p->stage == SMTPKIT_STAGE_BODY ? DATA_BLOCK_TIMEOUT_MS : COMMAND_TIMEOUT_MS;
}

/* Waits until @p want or @p deadline; the timeout message says what was waited for. */
static smtpkit_status wait_for(posix_port *p, smtpkit_io want, unsigned long long started,
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

static smtpkit_status port_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                smtpkit_error *err)
{
    posix_port *p = ctx;

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

static smtpkit_status port_write(void *ctx, const uint8_t *buf, size_t len, smtpkit_error *err)
{
    posix_port *p = ctx;
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

static smtpkit_status handshake(posix_port *p, smtpkit_error *err)
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

static smtpkit_status port_start_tls(void *ctx, smtpkit_error *err)
{
    posix_port *p = ctx;

    if (p->tls == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_STATE, SMTPKIT_STAGE_STARTTLS,
                                 "STARTTLS requested on a connection set up without TLS");
    }
    p->stage = SMTPKIT_STAGE_TLS;
    return handshake(p, err);
}

static void port_set_stage(void *ctx, smtpkit_stage stage)
{
    posix_port *p = ctx;

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
static void name_server(const posix_port *p, smtpkit_error *err)
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

static smtpkit_status connect_server(posix_port *p, smtpkit_error *err)
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
        if (handshake(p, err) != SMTPKIT_OK) {
            return err->status;
        }
        p->stage = SMTPKIT_STAGE_GREETING;
    }
    return SMTPKIT_OK;
}

/* The session proper: transport over the connected port, output buffer wiped afterwards. */
static smtpkit_status run_session(posix_port *p, const smtpkit_session_config *config,
                                  const smtpkit_envelope *env, const smtpkit_message_source *msg,
                                  smtpkit_error *err)
{
    const smtpkit_transport transport = {
        .ctx = p,
        .read = port_read,
        .write = port_write,
        .start_tls = port_start_tls,
        .set_stage = port_set_stage,
    };
    size_t out_size = SMTPKIT_SESSION_OUTPUT_RECOMMENDED;
    uint8_t *out = malloc(out_size);
    smtpkit_status status;

    if (out == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_NONE,
                                 "out of memory for the session buffer");
    }
    status = smtpkit_transport_send(&transport, config, env, msg, out, out_size, err);
    mbedtls_platform_zeroize(out, out_size);
    free(out);
    return status;
}

static void close_connection(posix_port *p)
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

static smtpkit_status check_arguments(const smtpkit_client_options *opt,
                                      const smtpkit_envelope *env,
                                      const smtpkit_message_source *msg, smtpkit_error *err)
{
    if (opt == NULL || env == NULL || msg == NULL || msg->read == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "smtpkit_client_send: options, envelope and message are needed");
    }
    if (opt->host == NULL || opt->host[0] == '\0') {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "no server host given");
    }
    return SMTPKIT_OK;
}

/* The session's settings with the defaults filled in; @p helo holds the default EHLO name. */
static void complete_config(posix_port *p, smtpkit_session_config *config, char *helo,
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

smtpkit_status smtpkit_client_send(const smtpkit_client_options *opt, const smtpkit_envelope *env,
                                   const smtpkit_message_source *msg, smtpkit_error *err)
{
    smtpkit_session_config config;
    char helo[HOSTNAME_MAX + 2];
    posix_port p = {.opt = opt, .fd = -1};
    smtpkit_status status;

    smtpkit_error_clear(err);
    if (check_arguments(opt, env, msg, err) != SMTPKIT_OK) {
        return err->status;
    }
    complete_config(&p, &config, helo, sizeof helo);

    /* Anchors first: a bad CA file must fail before any traffic. */
    status = SMTPKIT_OK;
    if (config.tls_mode != SMTPKIT_TLS_NONE) {
        const char *name = opt->tls_server_name != NULL ? opt->tls_server_name : opt->host;

        status = smtpkit_tls_new(&p.tls, &opt->trust, name, err);
    }
    if (status == SMTPKIT_OK) {
        status = connect_server(&p, err);
    }
    if (status == SMTPKIT_OK) {
        status = run_session(&p, &config, env, msg, err);
    }
    close_connection(&p);
    if (status != SMTPKIT_OK) {
        name_server(&p, err);
    }
    return status;
}
