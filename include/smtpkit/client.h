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
    const char *host;            /**< name or address of the server */
    uint16_t port;               /**< 0: 587 for STARTTLS, 465 for implicit TLS, 25 for none */
    const char *tls_server_name; /**< name to verify and send as SNI; NULL: host */
    smtpkit_trust trust;
    unsigned connect_timeout_ms;    /**< 0: 30 s */
    unsigned timeout_ms;            /**< 0: the per-stage defaults of RFC 5321 4.5.3.2 */
    smtpkit_session_config session; /**< helo_name NULL: the host's name */
} smtpkit_client_options;

/**
 * Sends one message read from @p msg. Returns SMTPKIT_OK when the server accepted it, or the
 * failure class with @p err filled in (stage, reply, one-line message naming host:port when
 * the failure is the connection's). The trust anchors are loaded before connecting, so a bad
 * anchor or key file fails with SMTPKIT_E_USAGE and stage SMTPKIT_STAGE_NONE without any
 * network traffic. An unresolvable host fails with SMTPKIT_E_CONNECT and stage
 * SMTPKIT_STAGE_NONE (see smtpkit_net_connect()). Per-stage timeouts (without timeout_ms):
 * greeting, EHLO, STARTTLS, TLS handshake, AUTH, MAIL, RCPT and QUIT 5 min, DATA 2 min, each
 * block of the message 3 min, the reply to the final dot 10 min.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_client_send(const smtpkit_client_options *opt,
                                                      const smtpkit_envelope *env,
                                                      const smtpkit_message_source *msg,
                                                      smtpkit_error *err);

/** DER bytes of one certificate, owned by the smtpkit_probe that holds it. */
typedef struct smtpkit_der {
    unsigned char *data;
    size_t len;
} smtpkit_der;

/** What smtpkit_client_probe() learned about a server's certificates. */
typedef struct smtpkit_probe {
    smtpkit_der sent[SMTPKIT_CHAIN_MAX]; /**< the chain exactly as the server sent it */
    size_t sent_count;                   /**< entries in sent */
    size_t sent_total;                   /**< certificates sent (more than sent_count if cut) */
    smtpkit_der path[SMTPKIT_CHAIN_MAX]; /**< DER of each certificate of chain, leaf first */
    smtpkit_chain_summary chain;         /**< the verified path, as the handshake saw it */
    smtpkit_error verify; /**< SMTPKIT_OK, or the SMTPKIT_E_CERT a send would have failed with */
    char tls[160];        /**< protocol version and cipher suite */
} smtpkit_probe;

/**
 * Connects as smtpkit_client_send() would (STARTTLS after EHLO, or implicit TLS; never
 * SMTPKIT_TLS_NONE), completes the TLS handshake even when the chain does not verify, records
 * the chain and the verdict in @p probe, and closes without sending credentials or mail.
 * SMTPKIT_OK when the handshake completed, whatever the verdict (see probe->verify); a
 * connection, STARTTLS or TLS failure otherwise. Free @p probe with smtpkit_probe_free() in
 * both cases.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_client_probe(const smtpkit_client_options *opt,
                                                       smtpkit_probe *probe, smtpkit_error *err);

/** Frees what @p probe holds and zeroes it; NULL is fine. */
void smtpkit_probe_free(smtpkit_probe *probe);

#ifdef __cplusplus
}
#endif

#endif
