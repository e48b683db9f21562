/*
 * smtpkit/transport.h - the transport port: how the blocking client moves bytes.
 *
 * The host layer supplies one over POSIX sockets and Mbed TLS inside smtpkit_client_send()
 * (smtpkit/client.h); a firmware supplies its own over its TCP stack and TLS library. Every
 * callback blocks up to the port's own timeout and reports failures in @p err.
 */
#ifndef SMTPKIT_TRANSPORT_H
#define SMTPKIT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"
#include "smtpkit/session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smtpkit_transport {
    void *ctx;
    /** Reads at most @p size bytes; *@p got = 0 with SMTPKIT_OK means the peer closed. */
    smtpkit_status (*read)(void *ctx, uint8_t *buf, size_t size, size_t *got, smtpkit_error *err);
    /** Writes all @p len bytes or fails. */
    smtpkit_status (*write)(void *ctx, const uint8_t *buf, size_t len, smtpkit_error *err);
    /** Performs the TLS handshake, with certificate and host name verification. */
    smtpkit_status (*start_tls)(void *ctx, smtpkit_error *err);
    /** Tells the port which stage the session is in, so that it can pick a timeout. */
    void (*set_stage)(void *ctx, smtpkit_stage stage);
} smtpkit_transport;

/** Reads the message to send: *@p got = 0 with SMTPKIT_OK means the end of the message. */
typedef struct smtpkit_message_source {
    void *ctx;
    smtpkit_status (*read)(void *ctx, uint8_t *buf, size_t size, size_t *got, smtpkit_error *err);
} smtpkit_message_source;

/** A message source over a buffer in memory; @p cursor is the source's state. */
typedef struct smtpkit_buffer_source {
    const uint8_t *data;
    size_t len;
    size_t pos;
} smtpkit_buffer_source;

/** Makes @p src read @p len bytes of @p data. */
void smtpkit_buffer_source_init(smtpkit_buffer_source *state, smtpkit_message_source *src,
                                const void *data, size_t len);

/**
 * Runs a whole session over @p t: greeting, EHLO, STARTTLS (per the config), AUTH, one message
 * from @p msg, QUIT. @p out is the session's output buffer. On failure @p err says what, where
 * and the server's reply; after a failure that came with a server reply, QUIT is still sent
 * (best effort) and the first failure is the one reported. A message accepted by the server
 * counts as sent (SMTPKIT_OK) even when QUIT or the close then fails. With
 * SMTPKIT_TLS_IMPLICIT, @p t must already run over TLS: start_tls is only called for STARTTLS
 * (and may be NULL otherwise). set_stage may be NULL.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_transport_send(
    const smtpkit_transport *t, const smtpkit_session_config *config, const smtpkit_envelope *env,
    const smtpkit_message_source *msg, uint8_t *out, size_t out_size, smtpkit_error *err);

#ifdef __cplusplus
}
#endif

#endif
