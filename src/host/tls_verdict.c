/*
 * tls_verdict.c - the one-line reason a server certificate does not verify (tls_verify.h).
 *
 * Said from smtpkit's summary of the path, so that the message names the certificate at
 * fault and the date it is about: "certificate 0 (CN=localhost) expired 2021-01-01 00:00:00
 * UTC". Mbed TLS's own texts are used only when no path was summarized.
 */
#define _POSIX_C_SOURCE 200809L

#include "host/tls_verify.h"

#include "host/errorf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mbedtls_compat.h"

static const char prefix[] = "server certificate does not verify";

/* Appends "; " (or ": " first) and the formatted reason to @p out, cutting to fit. */
static SMTPKIT_PRINTF(3, 4) void add_reason(char *out, size_t size, const char *format, ...)
{
    size_t used = strlen(out);
    va_list args;

    if (used + 3 >= size) {
        return;
    }
    memcpy(out + used, strcmp(out, prefix) == 0 ? ": " : "; ", 3);
    used += 2;
    va_start(args, format);
    (void)vsnprintf(out + used, size - used, format, args);
    va_end(args);
}

/* Whether @p name is an IPv4 or IPv6 address, which Mbed TLS 2.28 cannot match in a SAN. */
static bool is_ip_literal(const char *name)
{
    unsigned char addr[16];

    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* "certificate 1 (O=..., CN=...)", or "trust anchor (...)" for the anchor. */
static void cert_name(const smtpkit_chain_summary *chain, size_t i, char *out, size_t size)
{
    const smtpkit_cert_summary *c = &chain->certs[i];

    if (c->is_anchor) {
        snprintf(out, size, "trust anchor (%s)", c->subject);
    } else {
        snprintf(out, size, "certificate %zu (%s)", i, c->subject);
    }
}

static void date_reason(const smtpkit_chain_summary *chain, size_t i, char *out, size_t size)
{
    const smtpkit_cert_summary *c = &chain->certs[i];
    char name[SMTPKIT_CERT_NAME_MAX + 32];
    char date[24];

    cert_name(chain, i, name, sizeof name);
    if ((c->problems & SMTPKIT_CERT_EXPIRED) != 0) {
        smtpkit_time_format(c->not_after, date, sizeof date);
        add_reason(out, size, "%s expired %s", name, date);
    } else {
        smtpkit_time_format(c->not_before, date, sizeof date);
        add_reason(out, size, "%s is not valid before %s", name, date);
    }
}

/* The first certificate out of its validity period, leaf first, and how many more are. */
static void date_reasons(const smtpkit_chain_summary *chain, char *out, size_t size)
{
    const unsigned dates = SMTPKIT_CERT_EXPIRED | SMTPKIT_CERT_NOT_YET_VALID;
    size_t more = 0;
    size_t first;
    size_t i;

    for (first = 0; first < chain->count; first++) {
        if ((chain->certs[first].problems & dates) != 0) {
            break;
        }
    }
    if (first == chain->count) {
        return;
    }
    date_reason(chain, first, out, size);
    for (i = first + 1; i < chain->count; i++) {
        more += (chain->certs[i].problems & dates) != 0 ? 1 : 0;
    }
    if (more > 0) {
        add_reason(out, size, "%zu more certificate%s of the chain out of date", more,
                   more > 1 ? "s" : "");
    }
}

/* Other problems of single certificates: usage, weak algorithms, the rest. */
static void usage_reasons(const smtpkit_chain_summary *chain, char *out, size_t size)
{
    size_t i;

    for (i = 0; i < chain->count; i++) {
        const smtpkit_cert_summary *c = &chain->certs[i];
        char name[SMTPKIT_CERT_NAME_MAX + 32];

        cert_name(chain, i, name, sizeof name);
        if ((c->problems & SMTPKIT_CERT_BAD_USAGE) != 0) {
            add_reason(out, size, "%s is not meant for a TLS server (key usage)", name);
        }
        if ((c->problems & SMTPKIT_CERT_WEAK) != 0) {
            add_reason(out, size, "%s uses a hash, key type or key size not allowed", name);
        }
        if ((c->problems & SMTPKIT_CERT_OTHER) != 0) {
            add_reason(out, size, "%s is refused (revoked or otherwise invalid)", name);
        }
    }
}

/* The path ends short of an anchor, or a signature in it does not verify. */
static void trust_reason(const smtpkit_verifier *v, char *out, size_t size)
{
    const smtpkit_chain_summary *chain = &v->chain;
    const smtpkit_cert_summary *top = &chain->certs[chain->count - 1];
    size_t i;

    /* A message only: the subject naming itself as issuer is what users call self-signed. */
    if (!chain->anchored && strcmp(top->subject, top->issuer) == 0) {
        add_reason(out, size, "certificate %zu (%s) is self-signed and not a trust anchor",
                   chain->count - 1, top->subject);
        return;
    }
    if (!chain->anchored && v->non_ca_issuer > 0) {
        add_reason(out, size,
                   "certificate %zu (%s) issued the chain but is not a CA (basicConstraints)",
                   v->non_ca_issuer, v->non_ca_subject);
        return;
    }
    if (!chain->anchored) {
        add_reason(out, size, "no trust anchor completes the chain (last certificate issued by %s)",
                   top->issuer);
        return;
    }
    for (i = 0; i < chain->count; i++) {
        if ((chain->certs[i].problems & SMTPKIT_CERT_UNTRUSTED) != 0) {
            char name[SMTPKIT_CERT_NAME_MAX + 32];

            cert_name(chain, i, name, sizeof name);
            add_reason(out, size, "%s is not correctly signed by its issuer", name);
            return;
        }
    }
}

static void name_reason(const smtpkit_verifier *v, char *out, size_t size)
{
    add_reason(out, size, "its names (CN/SAN) do not match %s%s", v->server_name,
               is_ip_literal(v->server_name)
                   ? " (Mbed TLS matches no IP address: give the certificate's host name as TLS "
                     "server name)"
                   : "");
}

static void time_reason(const smtpkit_verifier *v, char *out, size_t size)
{
    bool host = v->trust == NULL || v->trust->now == SMTPKIT_TIME_HOST;

    add_reason(out, size, "no trustworthy time to check certificate dates (%s)",
               host ? "clock unset" : "the time given is unknown or before 2020");
}

static void pin_reason(const smtpkit_chain_summary *chain, char *out, size_t size)
{
    char pin[64];

    smtpkit_pin_format(chain->certs[0].spki_sha256, pin, sizeof pin);
    add_reason(out, size, "no certificate in the chain has a pinned public key (leaf key %s)", pin);
}

/* Mbed TLS's texts for @p flags, its lines joined with "; ": when no path was summarized. */
static void library_reasons(uint32_t flags, char *out, size_t size)
{
    char info[512];
    char *line;

    if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) <= 0) {
        return;
    }
    for (line = info; *line != '\0';) {
        size_t len = strcspn(line, "\n");

        line[0] = (char)tolower((unsigned char)line[0]);
        add_reason(out, size, "%.*s", (int)len, line);
        line += len + (line[len] == '\n' ? 1 : 0);
    }
}

smtpkit_status smtpkit_verifier_failed(smtpkit_verifier *v, uint32_t flags, smtpkit_error *err)
{
    smtpkit_chain_summary *chain = &v->chain;
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    unsigned extra = 0;

    snprintf(message, sizeof message, "%s", prefix);
    if (!v->seen || chain->count == 0) {
        if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0) {
            name_reason(v, message, sizeof message);
        }
        library_reasons(flags & ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH, message,
                        sizeof message);
        return smtpkit_error_set(err, SMTPKIT_E_CERT, SMTPKIT_STAGE_TLS, message);
    }
    /* What Mbed TLS found after the walk (key usage of the leaf) belongs to the leaf. */
    if ((flags & ~v->accounted) != 0) {
        extra = smtpkit_verifier_map_flags(flags & ~v->accounted) & ~chain->problems;
    }
    chain->certs[0].problems |= extra;
    chain->problems |= extra;

    if ((chain->problems & SMTPKIT_CERT_NO_TIME) != 0) {
        time_reason(v, message, sizeof message);
    }
    if (!chain->anchored || (chain->problems & SMTPKIT_CERT_UNTRUSTED) != 0) {
        trust_reason(v, message, sizeof message);
    }
    date_reasons(chain, message, sizeof message);
    if ((chain->problems & SMTPKIT_CERT_NAME_MISMATCH) != 0) {
        name_reason(v, message, sizeof message);
    }
    usage_reasons(chain, message, sizeof message);
    if ((chain->problems & SMTPKIT_CERT_PIN_MISMATCH) != 0) {
        pin_reason(chain, message, sizeof message);
    }
    return smtpkit_error_set(err, SMTPKIT_E_CERT, SMTPKIT_STAGE_TLS, message);
}
