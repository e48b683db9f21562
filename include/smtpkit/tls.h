/*
 * smtpkit/tls.h - the TLS port over Mbed TLS: TLS 1.2 or later, SNI, chain and host name
 * verification against the anchors given (file, directory, bytes in memory, or the system
 * bundle), an optional client certificate. Non-blocking: every call may ask to be repeated
 * when the socket is readable or writable.
 */
#ifndef SMTPKIT_TLS_H
#define SMTPKIT_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "smtpkit/anchors.h"
#include "smtpkit/error.h"
#include "smtpkit/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Where the trust anchors come from, and how the server's chain is judged. With no anchor
 * source set (ca_file, ca_dir, ca_mem, anchors), the system bundle is used. Several sources
 * add up. Chain, signatures and host name are always verified; pins add a check, never
 * replace one.
 */
typedef struct smtpkit_trust {
    const char *ca_file;         /**< PEM or DER file with one or more CA certificates */
    const char *ca_dir;          /**< directory of PEM/DER CA certificates */
    const unsigned char *ca_mem; /**< PEM (NUL included in the length or not) or DER bytes */
    size_t ca_mem_len;
    const smtpkit_anchor *anchors; /**< several anchors compiled in (see smtpkit/anchors.h) */
    size_t anchor_count;
    /** SHA-256 digests of SubjectPublicKeyInfo: when pin_count > 0, some certificate of the
     *  verified path (leaf, intermediate or anchor) must have one of these public keys. */
    const uint8_t (*pins)[SMTPKIT_SHA256_LEN];
    size_t pin_count;
    smtpkit_time now; /**< time to check dates against; SMTPKIT_TIME_HOST (0): host clock */
    smtpkit_unknown_time unknown_time; /**< policy when no trustworthy time is known */
    smtpkit_chain_fn on_chain;         /**< optional: the verified path, once per handshake */
    void *on_chain_ctx;
    const char *client_cert_file; /**< optional client certificate (PEM or DER) */
    const char *client_key_file;  /**< its private key */
} smtpkit_trust;

/** Default location of the system CA bundle (Debian's ca-certificates). */
#define SMTPKIT_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/** A TLS connection; allocated by smtpkit_tls_new(). */
typedef struct smtpkit_tls smtpkit_tls;

/**
 * Creates a client TLS context that will verify the server as @p server_name (also sent as
 * SNI) against @p trust. SMTPKIT_E_USAGE for an anchor or key file that cannot be read or
 * parsed (the message names the file or the anchor's index), SMTPKIT_E_INTERNAL for a library
 * failure. @p trust and what it points to must outlive the context.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_tls_new(smtpkit_tls **tls, const smtpkit_trust *trust,
                                                  const char *server_name, smtpkit_error *err);

/** Frees @p tls (NULL is fine); it does not close the socket. */
void smtpkit_tls_free(smtpkit_tls *tls);

/** Binds @p tls to a connected non-blocking socket. */
void smtpkit_tls_set_fd(smtpkit_tls *tls, int fd);

/**
 * Advances the handshake. SMTPKIT_OK with *@p want = DONE when complete; SMTPKIT_E_CERT when
 * the chain, a date, the host name or a pin does not verify, or no time is known under the
 * REFUSE policy (the message says which certificate and why); SMTPKIT_E_TLS otherwise.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_tls_handshake(smtpkit_tls *tls, smtpkit_io *want,
                                                        smtpkit_error *err);

/** Reads decrypted bytes; *@p got = 0 with *@p want = DONE means the peer closed. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_tls_read(smtpkit_tls *tls, uint8_t *buf, size_t size,
                                                   size_t *got, smtpkit_io *want,
                                                   smtpkit_error *err);

/** Writes bytes; *@p put receives how many were taken. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_tls_write(smtpkit_tls *tls, const uint8_t *buf,
                                                    size_t len, size_t *put, smtpkit_io *want,
                                                    smtpkit_error *err);

/** Sends close_notify, best effort, without waiting. */
void smtpkit_tls_close_notify(smtpkit_tls *tls);

/**
 * The verified path of the last handshake (also after a failed verification; count 0 when
 * the server sent no certificate). Valid until smtpkit_tls_free().
 */
const smtpkit_chain_summary *smtpkit_tls_chain(const smtpkit_tls *tls);

/**
 * After the handshake, writes the protocol version and cipher suite, such as
 * "TLSv1.2, TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384", into @p out (NUL-terminated, cut to fit).
 */
void smtpkit_tls_describe(const smtpkit_tls *tls, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
