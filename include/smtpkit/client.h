/*
 * smtpkit/client.h - the blocking client over POSIX sockets and Mbed TLS (host layer).
 *
 * One call sends one message: it resolves and connects (IPv4 or IPv6), does implicit TLS or
 * STARTTLS with the certificate chain and host name verified against the anchors given, logs
 * in, sends, and quits. Verification failures are always fatal.
 */
#ifndef SMTPKIT_CLIENT_H
#define SMTPKIT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"
#include "smtpkit/session.h"
#include "smtpkit/tls.h"
#include "smtpkit/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Everything the blocking client needs besides the envelope and the message. */
typedef struct smtpkit_client_options {
    const char *host;              /**< name or address of the server */
    uint16_t port;                 /**< 0: 587 for STARTTLS, 465 for implicit TLS, 25 for none */
    const char *tls_server_name;   /**< name to verify and send as SNI; NULL: host */
    smtpkit_trust trust;
    unsigned connect_timeout_ms;   /**< 0: 30 s */
    unsigned timeout_ms;           /**< 0: the per-stage defaults of RFC 5321 4.5.3.2 */
    smtpkit_session_config session; /**< helo_name NULL: the host's name */
} smtpkit_client_options;

/**
 * Sends one message read from @p msg. Returns SMTPKIT_OK when the server accepted it, or the
 * failure class with @p err filled in (stage, reply, one-line message).
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_client_send(const smtpkit_client_options *opt,
                                                      const smtpkit_envelope *env,
                                                      const smtpkit_message_source *msg,
                                                      smtpkit_error *err);

#ifdef __cplusplus
}
#endif

#endif
