/*
 * cert_x509.h - Mbed TLS certificates to smtpkit's summaries (private to src/host).
 *
 * Shared by the anchors API (anchors.c), which summarizes one certificate, and the TLS port
 * (tls_mbedtls.c), which summarizes each certificate of the verified path during a handshake.
 */
#ifndef SMTPKIT_HOST_CERT_X509_H
#define SMTPKIT_HOST_CERT_X509_H

#include <stddef.h>

#include <mbedtls/x509_crt.h>

#include "smtpkit/anchors.h"

/**
 * Adds the certificates in @p data (DER, or PEM with or without a final NUL) to @p chain.
 * SMTPKIT_E_USAGE naming @p what ("anchor 2", "certificate") when none parses.
 */
smtpkit_status smtpkit_x509_parse(mbedtls_x509_crt *chain, const unsigned char *data, size_t len,
                                  const char *what, smtpkit_error *err);

/**
 * Names, dates and digests of @p crt into @p out; problems holds the date flags against
 * @p now, which must be resolved already (DATES_UNCHECKED for SMTPKIT_TIME_UNKNOWN).
 */
void smtpkit_x509_summarize(const mbedtls_x509_crt *crt, smtpkit_time now,
                            smtpkit_cert_summary *out);

/** EXPIRED, NOT_YET_VALID or DATES_UNCHECKED for @p summary at the resolved time @p now. */
unsigned smtpkit_x509_date_problems(const smtpkit_cert_summary *summary, smtpkit_time now);

/** @p dn as "O=..., CN=...", always readable, cut with "..." to fit @p size (at least 4). */
void smtpkit_x509_name_text(const mbedtls_x509_name *dn, char *out, size_t size);

/** The details beyond the summary: alternative names, key, signature, serial, CA, self-signed. */
void smtpkit_x509_details(const mbedtls_x509_crt *crt, smtpkit_cert_details *out);

#endif
