/*
 * cert_x509.c - what smtpkit tells about a certificate, read from Mbed TLS's parse of it
 * (cert_x509.h): RFC 5280 names, validity, digests of the certificate and of its
 * SubjectPublicKeyInfo (the pin of RFC 7469 section 2.4), subjectAltName (section 4.2.1.6),
 * key, signature algorithm, serial and basicConstraints.
 *
 * Mbed TLS 2.28 keeps only dNSName and otherName in its list of alternative names, so the
 * extension is walked here from the raw extensions, which also gives IP addresses.
 */
#define _POSIX_C_SOURCE 200809L

#include "host/cert_x509.h"

#include "host/errorf.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>

#include "mbedtls_compat.h"

/* GeneralName choices (RFC 5280 section 4.2.1.6), context-specific tags. */
enum { SAN_EMAIL = 1, SAN_DNS = 2, SAN_URI = 6, SAN_IP = 7 };

/* How much of one attribute value of a distinguished name the fallback formatter shows. */
enum { DN_VALUE_SHOWN = 100 };

smtpkit_status smtpkit_x509_parse(mbedtls_x509_crt *chain, const unsigned char *data, size_t len,
                                  const char *what, smtpkit_error *err)
{
    unsigned char *copy = NULL;
    char reason[120];
    int ret;

    if (data == NULL || len == 0) {
        return smtpkit_errorf(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                              "cannot use %s: it is empty", what);
    }
    /* DER starts with a SEQUENCE; anything else is text, which Mbed TLS reads as PEM only
     * when its NUL is counted, and callers forget it. */
    if (data[0] != 0x30 && data[len - 1] != '\0') {
        copy = malloc(len + 1);
        if (copy == NULL) {
            return smtpkit_errorf(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_NONE,
                                  "out of memory reading %s", what);
        }
        memcpy(copy, data, len);
        copy[len] = '\0';
        data = copy;
        len++;
    }
    /* A positive result counts certificates that did not parse next to ones that did. */
    ret = mbedtls_x509_crt_parse(chain, data, len);
    free(copy);
    if (ret >= 0) {
        return SMTPKIT_OK;
    }
    mbedtls_strerror(ret, reason, sizeof reason);
    return smtpkit_errorf(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "cannot use %s: %s (-0x%04x)",
                          what, reason, (unsigned)-ret);
}

/* Appends @p text to the NUL-terminated @p out; false (and "..." at the end) when cut. */
static bool append(char *out, size_t size, const char *text)
{
    size_t used = strlen(out);
    size_t len = strlen(text);

    if (used + len < size) {
        memcpy(out + used, text, len + 1);
        return true;
    }
    if (size >= 4) {
        memcpy(out + size - 4, "...", 4);
    }
    return false;
}

/* An attribute type as its short name ("CN"), or in dotted form when Mbed TLS has none. */
static void attribute_type(const mbedtls_x509_buf *oid, char *out, size_t size)
{
    const char *short_name = NULL;

    if (mbedtls_oid_get_attr_short_name(oid, &short_name) == 0) {
        snprintf(out, size, "%s", short_name);
    } else if (mbedtls_oid_get_numeric_string(out, size, oid) < 0) {
        snprintf(out, size, "?");
    }
}

/* An attribute value, its first DN_VALUE_SHOWN bytes then "...", a control byte as '?' so
 * that a hostile name cannot disturb a terminal. @p out holds DN_VALUE_SHOWN + 4 bytes. */
static void attribute_value(const mbedtls_x509_buf *value, char *out)
{
    size_t shown = value->len < DN_VALUE_SHOWN ? value->len : DN_VALUE_SHOWN;
    size_t i;

    for (i = 0; i < shown; i++) {
        out[i] = value->p[i] < 0x20 || value->p[i] == 0x7f ? '?' : (char)value->p[i];
    }
    memcpy(out + shown, shown < value->len ? "..." : "", shown < value->len ? 4 : 1);
}

/* The names as mbedtls_x509_dn_gets() writes them ("O=..., CN=...", " + " inside a
 * multi-valued RDN), for the names it refuses: a value over its 255 bytes, or a name longer
 * than the buffer. Each value is cut, and the whole is cut to @p size with "...". */
static void dn_fallback(const mbedtls_x509_name *dn, char *out, size_t size)
{
    const mbedtls_x509_name *name;
    bool merged = false;

    out[0] = '\0';
    for (name = dn; name != NULL; name = name->next) {
        char type[64];
        char value[DN_VALUE_SHOWN + 4];

        if (name->oid.p == NULL) {
            continue;
        }
        attribute_type(&name->oid, type, sizeof type);
        attribute_value(&name->val, value);
        if ((out[0] != '\0' && !append(out, size, merged ? " + " : ", ")) ||
            !append(out, size, type) || !append(out, size, "=") || !append(out, size, value)) {
            return;
        }
        merged = name->MBEDTLS_PRIVATE(next_merged) != 0;
    }
}

/* @p dn as "O=..., CN=...", cut with "..." when it does not fit. */
void smtpkit_x509_name_text(const mbedtls_x509_name *dn, char *out, size_t size)
{
    char text[1024];

    if (mbedtls_x509_dn_gets(text, sizeof text, dn) < 0) {
        dn_fallback(dn, text, sizeof text);
    }
    if (strlen(text) >= size) {
        memcpy(text + size - 4, "...", 4);
    }
    snprintf(out, size, "%s", text);
}

static smtpkit_time x509_time(const mbedtls_x509_time *t)
{
    smtpkit_civil c = {t->year, t->mon, t->day, t->hour, t->min, t->sec};
    smtpkit_time out = 0;

    return smtpkit_time_from_civil(&c, &out) ? out : 0;
}

static void sha256(const unsigned char *data, size_t len, uint8_t out[SMTPKIT_SHA256_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

    if (md == NULL || mbedtls_md(md, data, len, out) != 0) {
        memset(out, 0, SMTPKIT_SHA256_LEN);
    }
}

unsigned smtpkit_x509_date_problems(const smtpkit_cert_summary *summary, smtpkit_time now)
{
    if (now == SMTPKIT_TIME_UNKNOWN) {
        return SMTPKIT_CERT_DATES_UNCHECKED;
    }
    /* Both ends are part of the validity period (RFC 5280 section 4.1.2.5). */
    if (now > summary->not_after) {
        return SMTPKIT_CERT_EXPIRED;
    }
    return now < summary->not_before ? SMTPKIT_CERT_NOT_YET_VALID : 0;
}

void smtpkit_x509_summarize(const mbedtls_x509_crt *crt, smtpkit_time now,
                            smtpkit_cert_summary *out)
{
    memset(out, 0, sizeof *out);
    smtpkit_x509_name_text(&crt->subject, out->subject, sizeof out->subject);
    smtpkit_x509_name_text(&crt->issuer, out->issuer, sizeof out->issuer);
    out->not_before = x509_time(&crt->valid_from);
    out->not_after = x509_time(&crt->valid_to);
    sha256(crt->raw.p, crt->raw.len, out->sha256);
    sha256(crt->pk_raw.p, crt->pk_raw.len, out->spki_sha256);
    out->problems = smtpkit_x509_date_problems(out, now);
}

/* One GeneralName as "DNS:name" or "IP:addr" in @p out; false for a kind not shown. */
static bool general_name(int kind, const unsigned char *p, size_t len, char *out, size_t size)
{
    static const char *const prefixes[] = {
        [SAN_EMAIL] = "email:", [SAN_DNS] = "DNS:", [SAN_URI] = "URI:"};
    size_t used;
    size_t i;

    if (kind == SAN_IP && (len == 4 || len == 16)) {
        char addr[INET6_ADDRSTRLEN];

        if (inet_ntop(len == 4 ? AF_INET : AF_INET6, p, addr, sizeof addr) == NULL) {
            return false;
        }
        snprintf(out, size, "IP:%s", addr);
        return true;
    }
    if (kind != SAN_EMAIL && kind != SAN_DNS && kind != SAN_URI) {
        return false;
    }
    used = (size_t)snprintf(out, size, "%s", prefixes[kind]);
    /* IA5String: shown as is, but a byte that could disturb a terminal becomes '?'. */
    for (i = 0; i < len && used + 1 < size; i++) {
        out[used++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    }
    out[used] = '\0';
    return true;
}

/* Lists the GeneralNames of a subjectAltName value (a SEQUENCE) into @p out. */
static void list_alt_names(unsigned char *p, const unsigned char *end, char *out, size_t size)
{
    size_t len;

    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
        0) {
        return;
    }
    end = p + len;
    while (p < end) {
        int kind = *p & MBEDTLS_ASN1_TAG_VALUE_MASK;
        char name[300];

        p++;
        if (mbedtls_asn1_get_len(&p, end, &len) != 0) {
            return;
        }
        if (general_name(kind, p, len, name, sizeof name)) {
            if ((out[0] != '\0' && !append(out, size, ", ")) || !append(out, size, name)) {
                return;
            }
        }
        p += len;
    }
}

/* Finds subjectAltName among the extensions (RFC 5280 section 4.1: a SEQUENCE of
 * SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }). */
static void alt_names(const mbedtls_x509_crt *crt, char *out, size_t size)
{
    static const char san_oid[] = MBEDTLS_OID_SUBJECT_ALT_NAME;
    unsigned char *p = crt->v3_ext.p;
    const unsigned char *end = p + crt->v3_ext.len;
    size_t len;

    out[0] = '\0';
    if (p == NULL || mbedtls_asn1_get_tag(&p, end, &len,
                                          MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
        return;
    }
    end = p + len;
    while (p < end) {
        const unsigned char *ext_end;
        bool is_san;

        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0) {
            return;
        }
        ext_end = p + len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID) != 0) {
            return;
        }
        is_san = len == sizeof san_oid - 1 && memcmp(p, san_oid, len) == 0;
        p += len;
        if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
            mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_BOOLEAN) == 0) {
            p += len;
        }
        if (is_san && mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) == 0) {
            list_alt_names(p, p + len, out, size);
            return;
        }
        p = (unsigned char *)ext_end;
    }
}

static const char *signature_key_name(mbedtls_pk_type_t type)
{
    switch (type) {
    case MBEDTLS_PK_RSA:
        return "RSA";
    case MBEDTLS_PK_ECDSA:
    case MBEDTLS_PK_ECKEY:
        return "ECDSA";
    case MBEDTLS_PK_RSASSA_PSS:
        return "RSASSA-PSS";
    default:
        return "unknown";
    }
}

static void serial_text(const mbedtls_x509_buf *serial, char *out, size_t size)
{
    size_t used = 0;
    size_t i;

    out[0] = '\0';
    for (i = 0; i < serial->len && used + 4 <= size; i++) {
        used += (size_t)snprintf(out + used, size - used, "%s%02X", i > 0 ? ":" : "", serial->p[i]);
    }
}

/* Subject equals issuer, and the certificate's own key verifies its signature. */
static bool signs_itself(const mbedtls_x509_crt *crt)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(SMTPKIT_X509_CRT_SIG_MD(crt));
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    const mbedtls_x509_buf *sig = SMTPKIT_X509_CRT_SIG(crt);

    if (crt->subject_raw.len != crt->issuer_raw.len ||
        memcmp(crt->subject_raw.p, crt->issuer_raw.p, crt->subject_raw.len) != 0 || md == NULL ||
        mbedtls_md(md, crt->tbs.p, crt->tbs.len, hash) != 0) {
        return false;
    }
    /* Mbed TLS wants a mutable key context for a check that does not change it. */
    return mbedtls_pk_verify_ext(SMTPKIT_X509_CRT_SIG_PK(crt), SMTPKIT_X509_CRT_SIG_OPTS(crt),
                                 (mbedtls_pk_context *)&crt->pk, SMTPKIT_X509_CRT_SIG_MD(crt), hash,
                                 mbedtls_md_get_size(md), sig->p, sig->len) == 0;
}

void smtpkit_x509_details(const mbedtls_x509_crt *crt, smtpkit_cert_details *out)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(SMTPKIT_X509_CRT_SIG_MD(crt));

    alt_names(crt, out->alt_names, sizeof out->alt_names);
    snprintf(out->key, sizeof out->key, "%s %u bits", mbedtls_pk_get_name(&crt->pk),
             (unsigned)mbedtls_pk_get_bitlen(&crt->pk));
    snprintf(out->signature, sizeof out->signature, "%s with %s",
             signature_key_name(SMTPKIT_X509_CRT_SIG_PK(crt)),
             md != NULL ? mbedtls_md_get_name(md) : "unknown hash");
    serial_text(&crt->serial, out->serial, sizeof out->serial);
    out->is_ca = SMTPKIT_X509_CRT_CA_ISTRUE(crt) != 0;
    out->self_signed = signs_itself(crt);
}
