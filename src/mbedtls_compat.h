/*
 * mbedtls_compat.h - the differences between Mbed TLS 2.28 and 3.x that smtpkit meets.
 *
 * Every version test on Mbed TLS lives here, so that the core and the host layer read the same
 * on both lines. The core includes this header for the MD5 check only; the macros that name
 * TLS and X.509 functions expand to nothing until used, so including it pulls in no TLS code.
 */
#ifndef SMTPKIT_MBEDTLS_COMPAT_H
#define SMTPKIT_MBEDTLS_COMPAT_H

#include "smtpkit/options.h"

/* 2.28 configures through mbedtls/config.h (version.h includes it); 3.x through build_info.h. */
#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <mbedtls/build_info.h>
#endif

#if MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "smtpkit needs Mbed TLS 2.28 or later"
#endif

/* 3.x made most struct members private and names them through MBEDTLS_PRIVATE(member). */
#ifndef MBEDTLS_PRIVATE
#define MBEDTLS_PRIVATE(member) member
#endif

/* MD5 for CRAM-MD5: MBEDTLS_MD5_C on 2.28 and 3.0-3.4; 3.5+ may offer it through PSA only. */
#if defined(MBEDTLS_MD_CAN_MD5) || defined(MBEDTLS_MD5_C)
#define SMTPKIT_MBEDTLS_HAS_MD5 1
#else
#define SMTPKIT_MBEDTLS_HAS_MD5 0
#endif

#if SMTPKIT_WITH_CRAM_MD5 && !SMTPKIT_MBEDTLS_HAS_MD5
#error "SMTPKIT_WITH_CRAM_MD5 needs MD5 in Mbed TLS; build with -DSMTPKIT_WITH_CRAM_MD5=0"
#endif

/* Parsing a private key takes an RNG (for blinding) since 3.0. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define SMTPKIT_PK_PARSE_KEYFILE(pk, path, password, f_rng, p_rng)                                 \
    mbedtls_pk_parse_keyfile((pk), (path), (password), (f_rng), (p_rng))
#define SMTPKIT_PK_PARSE_KEY(pk, key, keylen, password, pwdlen, f_rng, p_rng)                      \
    mbedtls_pk_parse_key((pk), (key), (keylen), (password), (pwdlen), (f_rng), (p_rng))
#else
#define SMTPKIT_PK_PARSE_KEYFILE(pk, path, password, f_rng, p_rng)                                 \
    ((void)(f_rng), (void)(p_rng), mbedtls_pk_parse_keyfile((pk), (path), (password)))
#define SMTPKIT_PK_PARSE_KEY(pk, key, keylen, password, pwdlen, f_rng, p_rng)                      \
    ((void)(f_rng), (void)(p_rng),                                                                 \
     mbedtls_pk_parse_key((pk), (key), (keylen), (password), (pwdlen)))
#endif

/* The lowest protocol version is set by an enum since 3.2 (major/minor pairs before). */
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
#define SMTPKIT_SSL_CONF_MIN_TLS12(conf)                                                           \
    mbedtls_ssl_conf_min_tls_version((conf), MBEDTLS_SSL_VERSION_TLS1_2)
#else
#define SMTPKIT_SSL_CONF_MIN_TLS12(conf)                                                           \
    mbedtls_ssl_conf_min_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
#endif

/* TLS 1.3 on 3.x runs through PSA, which must be started once before a handshake. */
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#define SMTPKIT_PSA_CRYPTO_INIT() (psa_crypto_init() == PSA_SUCCESS ? 0 : -1)
#else
#define SMTPKIT_PSA_CRYPTO_INIT() 0
#endif

/* A TLS 1.3 server may send session tickets at any time after the handshake; 3.3+ reports
 * them from mbedtls_ssl_read() and _handshake() as MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
 * (-0x7B00, a gap in the error space before), which only means "call again". */
#if MBEDTLS_VERSION_MAJOR >= 3
#define SMTPKIT_SSL_IS_RETRY(ret) ((ret) == -0x7B00)
#else
#define SMTPKIT_SSL_IS_RETRY(ret) (0 && (ret))
#endif

/* Length of the DER bytes of a parsed certificate (0 for an empty chain): 3.0 made the
 * members private, 3.1 made them public again. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03010000
#define SMTPKIT_X509_CRT_RAW_LEN(crt) ((crt)->MBEDTLS_PRIVATE(raw).MBEDTLS_PRIVATE(len))
#else
#define SMTPKIT_X509_CRT_RAW_LEN(crt) ((crt)->raw.len)
#endif

/* The X.509 members that 3.x keeps private (raw, pk_raw, v3_ext and the names are public again
 * since 3.1): basicConstraints CA, and the signature with its algorithms, which smtpkit reads to
 * describe a certificate and to tell whether it signed itself. */
#define SMTPKIT_X509_CRT_CA_ISTRUE(crt) ((crt)->MBEDTLS_PRIVATE(ca_istrue))
#define SMTPKIT_X509_CRT_SIG(crt) (&(crt)->MBEDTLS_PRIVATE(sig))
#define SMTPKIT_X509_CRT_SIG_MD(crt) ((crt)->MBEDTLS_PRIVATE(sig_md))
#define SMTPKIT_X509_CRT_SIG_PK(crt) ((crt)->MBEDTLS_PRIVATE(sig_pk))
#define SMTPKIT_X509_CRT_SIG_OPTS(crt) ((crt)->MBEDTLS_PRIVATE(sig_opts))

#endif
