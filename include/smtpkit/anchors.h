/*
 * smtpkit/anchors.h - trust anchors, public-key pins, and what a device needs to know about
 * the certificates it trusts: who they are and when they expire (host layer, Mbed TLS).
 *
 * A device carries one or more anchors (this year's root and next year's), each the DER or PEM
 * bytes of a CA certificate, and may pin public keys by the SHA-256 of their
 * SubjectPublicKeyInfo. During every handshake the TLS port builds a smtpkit_chain_summary of
 * the verified path (leaf first, anchor last) and hands it to the caller's callback, so that
 * a device can report "the server's certificate expires in 12 days" in its own alert mail.
 * smtpkit_cert_summarize() tells the same of an anchor without any connection.
 *
 * Time: validity dates are checked against the time the caller gives (smtpkit_trust.now) or
 * the host's clock. A clock before 2020 counts as unset. When no time is known, the policy is
 * the caller's explicit choice (smtpkit_unknown_time): refuse by default, or verify everything
 * but the dates and say so in the summary.
 */
#ifndef SMTPKIT_ANCHORS_H
#define SMTPKIT_ANCHORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/civil_time.h"
#include "smtpkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a SHA-256 digest. */
#define SMTPKIT_SHA256_LEN 32
/** Longest verified path summarized: leaf, up to 8 intermediates, anchor. */
#define SMTPKIT_CHAIN_MAX 10
/** Room for a distinguished name such as "C=US, O=Google Trust Services LLC, CN=GTS Root R1". */
#define SMTPKIT_CERT_NAME_MAX 256

/** One trust anchor: a CA certificate as DER, or PEM (with or without a final NUL). */
typedef struct smtpkit_anchor {
    const unsigned char *data;
    size_t len;
} smtpkit_anchor;

/** What to do when no trustworthy time is known (see the file comment). */
typedef enum smtpkit_unknown_time {
    /** Default: the handshake fails with SMTPKIT_E_CERT ("no trustworthy time"). */
    SMTPKIT_UNKNOWN_TIME_REFUSE = 0,
    /** Verify chain, signatures, names and pins, but not validity dates; the summary carries
     *  SMTPKIT_CERT_DATES_UNCHECKED. For devices that learn the time only later. */
    SMTPKIT_UNKNOWN_TIME_SKIP_DATES
} smtpkit_unknown_time;

/** Problems found with a certificate or a chain (bit flags). */
enum {
    SMTPKIT_CERT_EXPIRED = 1u << 0,         /**< after its not-after date */
    SMTPKIT_CERT_NOT_YET_VALID = 1u << 1,   /**< before its not-before date */
    SMTPKIT_CERT_NAME_MISMATCH = 1u << 2,   /**< leaf: no SAN/CN matches the expected name */
    SMTPKIT_CERT_UNTRUSTED = 1u << 3,       /**< no anchor completes the chain, or a signature
                                                 does not verify */
    SMTPKIT_CERT_BAD_USAGE = 1u << 4,       /**< key usage or extended key usage forbids it */
    SMTPKIT_CERT_WEAK = 1u << 5,            /**< hash, key type or key size not allowed */
    SMTPKIT_CERT_PIN_MISMATCH = 1u << 6,    /**< chain: no public key in the path is pinned */
    SMTPKIT_CERT_NO_TIME = 1u << 7,         /**< no time known, policy REFUSE */
    SMTPKIT_CERT_DATES_UNCHECKED = 1u << 8, /**< no time known, policy SKIP_DATES (not a
                                                 failure: a notice) */
    SMTPKIT_CERT_OTHER = 1u << 9            /**< anything else Mbed TLS reports */
};

/** Everything smtpkit_cert_summary's flags may hold that makes a verification fail. */
#define SMTPKIT_CERT_FAILURES (0x3FFu & ~(unsigned)SMTPKIT_CERT_DATES_UNCHECKED)

/** One certificate, as a device wants to log it. */
typedef struct smtpkit_cert_summary {
    char subject[SMTPKIT_CERT_NAME_MAX]; /**< e.g. "O=smtpkit test, CN=localhost" */
    char issuer[SMTPKIT_CERT_NAME_MAX];
    smtpkit_time not_before;
    smtpkit_time not_after;
    uint8_t sha256[SMTPKIT_SHA256_LEN];      /**< of the DER certificate */
    uint8_t spki_sha256[SMTPKIT_SHA256_LEN]; /**< of its SubjectPublicKeyInfo (the pin) */
    unsigned problems;                       /**< SMTPKIT_CERT_* flags for this certificate */
    bool is_anchor; /**< taken from the trust anchors, not (only) from the server */
} smtpkit_cert_summary;

/** The verified path of one handshake: leaf first; the anchor last when one was found. */
typedef struct smtpkit_chain_summary {
    size_t count;
    smtpkit_cert_summary certs[SMTPKIT_CHAIN_MAX];
    smtpkit_time now;  /**< the time the dates were checked against, or SMTPKIT_TIME_UNKNOWN */
    unsigned problems; /**< union of the certificates' flags, plus PIN_MISMATCH */
    bool anchored;     /**< the last certificate is a trust anchor */
} smtpkit_chain_summary;

/**
 * Called once per handshake, after verification and before any credential is sent, whether
 * the chain verified or not (problems says). The summary is valid during the call only.
 */
typedef void (*smtpkit_chain_fn)(void *ctx, const smtpkit_chain_summary *chain);

/** A certificate in more detail, for "smtpkit cert show". */
typedef struct smtpkit_cert_details {
    smtpkit_cert_summary summary;
    char alt_names[512]; /**< "DNS:localhost, IP:127.0.0.1", cut with "..." if longer */
    char key[64];        /**< "EC 256 bits", "RSA 2048 bits" */
    char signature[64];  /**< "ECDSA with SHA256", "RSA with SHA256" */
    char serial[64];     /**< hex, colon-separated */
    bool is_ca;          /**< basicConstraints CA:TRUE */
    bool self_signed;    /**< subject equals issuer and its own key verifies its signature */
} smtpkit_cert_details;

/**
 * The time to check dates against: @p given when it is a time (> 0), the host's clock for
 * SMTPKIT_TIME_HOST, and SMTPKIT_TIME_UNKNOWN for SMTPKIT_TIME_UNKNOWN or for any time
 * (given or read) before SMTPKIT_TIME_PLAUSIBLE_MIN.
 */
smtpkit_time smtpkit_time_resolve(smtpkit_time given);

/**
 * Summarizes the first certificate in @p cert (DER, or PEM with or without a final NUL).
 * The date problems are set against smtpkit_time_resolve(@p now) (DATES_UNCHECKED when no
 * time is known); chain problems are never set here. SMTPKIT_E_USAGE when it does not parse
 * (the message says why).
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_cert_summarize(const unsigned char *cert, size_t len,
                                                         smtpkit_time now,
                                                         smtpkit_cert_summary *out,
                                                         smtpkit_error *err);

/** As smtpkit_cert_summarize(), with the details of smtpkit_cert_details. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_cert_describe(const unsigned char *cert, size_t len,
                                                        smtpkit_time now, smtpkit_cert_details *out,
                                                        smtpkit_error *err);

/**
 * Index of the certificate of @p chain that expires first (the anchor included), or
 * SMTPKIT_CHAIN_MAX when the chain is empty.
 */
size_t smtpkit_chain_first_expiry(const smtpkit_chain_summary *chain);

/**
 * Parses a pin: 64 hex digits (colons allowed between pairs) or "sha256//" and the base64 of
 * the 32 bytes, as curl's --pinnedpubkey takes it. False when it is neither.
 */
bool smtpkit_pin_parse(const char *text, uint8_t pin[SMTPKIT_SHA256_LEN]);

/** Writes "sha256//" and the base64 of @p digest (53 bytes with the NUL) into @p out. */
void smtpkit_pin_format(const uint8_t digest[SMTPKIT_SHA256_LEN], char *out, size_t size);

/** Writes @p digest as colon-separated upper-case hex (96 bytes with the NUL) into @p out. */
void smtpkit_fingerprint_format(const uint8_t digest[SMTPKIT_SHA256_LEN], char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
