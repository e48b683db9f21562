/*
 * tls_verify.h - the TLS port's own judgement of the server's chain (private to src/host).
 *
 * Mbed TLS builds and checks the path; its verify callback hands each certificate of the path
 * to smtpkit_verifier_callback(), from the top of the path down to the leaf, which re-checks
 * the dates against the caller's time, applies the unknown-time policy and the pins, and keeps
 * the summary. The TLS port (tls_mbedtls.c) owns one verifier per context.
 */
#ifndef SMTPKIT_HOST_TLS_VERIFY_H
#define SMTPKIT_HOST_TLS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crt.h>

#include "smtpkit/client.h"
#include "smtpkit/tls.h"

typedef struct smtpkit_verifier {
    const smtpkit_trust *trust;      /* may be NULL: no pins, host clock, REFUSE */
    const mbedtls_x509_crt *anchors; /* the loaded trust anchors */
    const char *server_name;
    bool inspect;  /* keep copies of the sent chain and of the path */
    bool running;  /* between the callback for the top of the path and the one for the leaf */
    bool seen;     /* the callback ran for a whole path in this handshake */
    bool reported; /* on_chain was called for it */
    bool out_of_memory;
    uint32_t accounted;          /* Mbed TLS flags the summary already stands for */
    const mbedtls_x509_crt *top; /* the top of the path, during the walk only */
    size_t non_ca_issuer;        /* position in the sent chain of a non-CA issuer, 0 if none */
    char non_ca_subject[SMTPKIT_CERT_NAME_MAX];
    smtpkit_chain_summary chain;
    smtpkit_der sent[SMTPKIT_CHAIN_MAX];
    size_t sent_count;
    size_t sent_total;
    smtpkit_der path[SMTPKIT_CHAIN_MAX];
} smtpkit_verifier;

/** Sets up @p v; the pointers must outlive it. */
void smtpkit_verifier_init(smtpkit_verifier *v, const smtpkit_trust *trust,
                           const mbedtls_x509_crt *anchors, const char *server_name, bool inspect);

/** Frees the copies @p v holds. */
void smtpkit_verifier_free(smtpkit_verifier *v);

/** The callback for mbedtls_ssl_conf_verify(), with the verifier as its context. */
int smtpkit_verifier_callback(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags);

/**
 * The SMTPKIT_E_CERT failure for the final verification @p flags (nonzero) of Mbed TLS: says
 * which certificate and why, from the summary, which gains what only Mbed TLS saw.
 */
smtpkit_status smtpkit_verifier_failed(smtpkit_verifier *v, uint32_t flags, smtpkit_error *err);

/** Mbed TLS's verification flags as SMTPKIT_CERT_* bits. */
unsigned smtpkit_verifier_map_flags(uint32_t flags);

/** Calls the trust's on_chain once per verified path. */
void smtpkit_verifier_report(smtpkit_verifier *v);

#endif
