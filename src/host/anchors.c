/*
 * anchors.c - trust anchors, pins and expiry as a device sees them (smtpkit/anchors.h).
 *
 * The host's clock is read here and nowhere else in the verification: a reading before
 * SMTPKIT_TIME_PLAUSIBLE_MIN is a device that has not learned the time yet, and says so
 * instead of declaring every certificate "not yet valid". Pins are the SHA-256 of the
 * SubjectPublicKeyInfo in curl's notation (RFC 7469 section 2.4, "sha256//" and base64).
 */
#define _POSIX_C_SOURCE 200809L

#include "smtpkit/anchors.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/x509_crt.h>

#include "host/cert_x509.h"

#define PIN_PREFIX "sha256//"

enum {
    PIN_BASE64_LEN = 44, /* 32 bytes in base64, with one '=' */
    PIN_TEXT_SIZE = sizeof PIN_PREFIX - 1 + PIN_BASE64_LEN + 1,
    FINGERPRINT_SIZE = SMTPKIT_SHA256_LEN * 3
};

smtpkit_time smtpkit_time_resolve(smtpkit_time given)
{
    smtpkit_time t = given;

    if (given == SMTPKIT_TIME_HOST) {
        time_t now = time(NULL);

        t = now == (time_t)-1 ? SMTPKIT_TIME_UNKNOWN : (smtpkit_time)now;
    }
    return t < SMTPKIT_TIME_PLAUSIBLE_MIN ? SMTPKIT_TIME_UNKNOWN : t;
}

/* Summarizes the first certificate of @p cert, with the details when @p details. */
static smtpkit_status with_certificate(const unsigned char *cert, size_t len, smtpkit_time now,
                                       smtpkit_cert_details *out, bool details, smtpkit_error *err)
{
    mbedtls_x509_crt crt;
    smtpkit_status status;

    smtpkit_error_clear(err);
    memset(out, 0, sizeof *out);
    mbedtls_x509_crt_init(&crt);
    status = smtpkit_x509_parse(&crt, cert, len, "the certificate", err);
    if (status == SMTPKIT_OK) {
        smtpkit_x509_summarize(&crt, smtpkit_time_resolve(now), &out->summary);
        if (details) {
            smtpkit_x509_details(&crt, out);
        }
    }
    mbedtls_x509_crt_free(&crt);
    return status;
}

smtpkit_status smtpkit_cert_summarize(const unsigned char *cert, size_t len, smtpkit_time now,
                                      smtpkit_cert_summary *out, smtpkit_error *err)
{
    smtpkit_cert_details details;
    smtpkit_status status = with_certificate(cert, len, now, &details, false, err);

    *out = details.summary;
    return status;
}

smtpkit_status smtpkit_cert_describe(const unsigned char *cert, size_t len, smtpkit_time now,
                                     smtpkit_cert_details *out, smtpkit_error *err)
{
    return with_certificate(cert, len, now, out, true, err);
}

size_t smtpkit_chain_first_expiry(const smtpkit_chain_summary *chain)
{
    size_t first = SMTPKIT_CHAIN_MAX;
    size_t i;

    for (i = 0; chain != NULL && i < chain->count && i < SMTPKIT_CHAIN_MAX; i++) {
        if (first == SMTPKIT_CHAIN_MAX ||
            chain->certs[i].not_after < chain->certs[first].not_after) {
            first = i;
        }
    }
    return first;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* 64 hex digits, with or without a colon between pairs. */
static bool parse_hex(const char *text, uint8_t pin[SMTPKIT_SHA256_LEN])
{
    bool colons = strlen(text) == FINGERPRINT_SIZE - 1;
    size_t i;

    if (!colons && strlen(text) != SMTPKIT_SHA256_LEN * 2) {
        return false;
    }
    for (i = 0; i < SMTPKIT_SHA256_LEN; i++) {
        int high = hex_value(text[0]);
        int low = hex_value(text[1]);

        if (high < 0 || low < 0 || (colons && i > 0 && text[-1] != ':')) {
            return false;
        }
        pin[i] = (uint8_t)(high << 4 | low);
        text += colons ? 3 : 2;
    }
    return true;
}

bool smtpkit_pin_parse(const char *text, uint8_t pin[SMTPKIT_SHA256_LEN])
{
    uint8_t digest[SMTPKIT_SHA256_LEN + 3];
    size_t len = 0;

    if (text == NULL || pin == NULL) {
        return false;
    }
    if (strncmp(text, PIN_PREFIX, sizeof PIN_PREFIX - 1) != 0) {
        return parse_hex(text, pin);
    }
    text += sizeof PIN_PREFIX - 1;
    /* Room for more than 32 bytes, so that a longer digest is told from a short buffer. */
    if (strlen(text) != PIN_BASE64_LEN ||
        mbedtls_base64_decode(digest, sizeof digest, &len, (const unsigned char *)text,
                              PIN_BASE64_LEN) != 0 ||
        len != SMTPKIT_SHA256_LEN) {
        return false;
    }
    memcpy(pin, digest, SMTPKIT_SHA256_LEN);
    return true;
}

void smtpkit_pin_format(const uint8_t digest[SMTPKIT_SHA256_LEN], char *out, size_t size)
{
    size_t len = 0;

    if (out == NULL || size == 0) {
        return;
    }
    out[0] = '\0';
    if (size < PIN_TEXT_SIZE) {
        return;
    }
    memcpy(out, PIN_PREFIX, sizeof PIN_PREFIX - 1);
    if (mbedtls_base64_encode((unsigned char *)out + sizeof PIN_PREFIX - 1,
                              size - (sizeof PIN_PREFIX - 1), &len, digest,
                              SMTPKIT_SHA256_LEN) != 0) {
        out[0] = '\0';
    }
}

void smtpkit_fingerprint_format(const uint8_t digest[SMTPKIT_SHA256_LEN], char *out, size_t size)
{
    char *p = out;
    size_t i;

    if (out == NULL || size == 0) {
        return;
    }
    out[0] = '\0';
    if (size < FINGERPRINT_SIZE) {
        return;
    }
    for (i = 0; i < SMTPKIT_SHA256_LEN; i++) {
        p += snprintf(p, size - (size_t)(p - out), "%s%02X", i > 0 ? ":" : "", digest[i]);
    }
}
