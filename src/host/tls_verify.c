/*
 * tls_verify.c - the verify callback of the TLS port and the messages of its failures
 * (tls_verify.h).
 *
 * Mbed TLS checks dates only against its own clock, and only when built with
 * MBEDTLS_HAVE_TIME_DATE; a device may know a better time, or none. So the date flags Mbed TLS
 * sets are dropped and every certificate of the path is checked again against
 * smtpkit_time_resolve(trust->now). A problem found here is put back into Mbed TLS's flags, so
 * that a required verification still fails inside the handshake, before any credential is
 * sent. Pins are checked when the leaf, the last certificate of the walk, arrives (RFC 7469
 * section 2.6: some key of the path must be pinned).
 */
#define _POSIX_C_SOURCE 200809L

#include "host/tls_verify.h"

#include "host/cert_x509.h"

#include <stdlib.h>
#include <string.h>

#include "mbedtls_compat.h"

#define DATE_FLAGS ((uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))

void smtpkit_verifier_init(smtpkit_verifier *v, const smtpkit_trust *trust,
                           const mbedtls_x509_crt *anchors, const char *server_name, bool inspect)
{
    memset(v, 0, sizeof *v);
    v->trust = trust;
    v->anchors = anchors;
    v->server_name = server_name;
    v->inspect = inspect;
    v->chain.now = SMTPKIT_TIME_UNKNOWN;
}

static void free_copies(smtpkit_der *list, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        free(list[i].data);
        list[i].data = NULL;
        list[i].len = 0;
    }
}

void smtpkit_verifier_free(smtpkit_verifier *v)
{
    free_copies(v->sent, SMTPKIT_CHAIN_MAX);
    free_copies(v->path, SMTPKIT_CHAIN_MAX);
    v->sent_count = 0;
    v->sent_total = 0;
}

static void copy_der(smtpkit_verifier *v, smtpkit_der *to, const mbedtls_x509_crt *crt)
{
    free(to->data);
    to->len = 0;
    to->data = malloc(crt->raw.len);
    if (to->data == NULL) {
        v->out_of_memory = true;
        return;
    }
    memcpy(to->data, crt->raw.p, crt->raw.len);
    to->len = crt->raw.len;
}

/* The certificate list the server sent starts with the leaf that the callback sees last. */
static void copy_sent(smtpkit_verifier *v, const mbedtls_x509_crt *leaf)
{
    const mbedtls_x509_crt *crt;

    for (crt = leaf; crt != NULL && crt->raw.len > 0; crt = crt->next) {
        if (v->sent_count < SMTPKIT_CHAIN_MAX) {
            copy_der(v, &v->sent[v->sent_count++], crt);
        }
        v->sent_total++;
    }
}

unsigned smtpkit_verifier_map_flags(uint32_t flags)
{
    static const struct {
        uint32_t mbedtls;
        unsigned smtpkit;
    } map[] = {
        {MBEDTLS_X509_BADCERT_EXPIRED, SMTPKIT_CERT_EXPIRED},
        {MBEDTLS_X509_BADCERT_FUTURE, SMTPKIT_CERT_NOT_YET_VALID},
        {MBEDTLS_X509_BADCERT_CN_MISMATCH, SMTPKIT_CERT_NAME_MISMATCH},
        {MBEDTLS_X509_BADCERT_NOT_TRUSTED, SMTPKIT_CERT_UNTRUSTED},
        {MBEDTLS_X509_BADCERT_KEY_USAGE, SMTPKIT_CERT_BAD_USAGE},
        {MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, SMTPKIT_CERT_BAD_USAGE},
        {MBEDTLS_X509_BADCERT_NS_CERT_TYPE, SMTPKIT_CERT_BAD_USAGE},
        {MBEDTLS_X509_BADCERT_BAD_MD, SMTPKIT_CERT_WEAK},
        {MBEDTLS_X509_BADCERT_BAD_PK, SMTPKIT_CERT_WEAK},
        {MBEDTLS_X509_BADCERT_BAD_KEY, SMTPKIT_CERT_WEAK},
    };
    uint32_t known = 0;
    unsigned out = 0;
    size_t i;

    for (i = 0; i < sizeof map / sizeof map[0]; i++) {
        known |= map[i].mbedtls;
        if ((flags & map[i].mbedtls) != 0) {
            out |= map[i].smtpkit;
        }
    }
    return (flags & ~known) != 0 ? out | SMTPKIT_CERT_OTHER : out;
}

static bool is_anchor(const smtpkit_verifier *v, const mbedtls_x509_crt *crt)
{
    const mbedtls_x509_crt *a;

    for (a = v->anchors; a != NULL && a->raw.len > 0; a = a->next) {
        if (a == crt ||
            (a->raw.len == crt->raw.len && memcmp(a->raw.p, crt->raw.p, crt->raw.len) == 0)) {
            return true;
        }
    }
    return false;
}

static bool same_bytes(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static bool valid_at(const mbedtls_x509_crt *crt, smtpkit_time now)
{
    smtpkit_cert_summary summary;

    smtpkit_x509_summarize(crt, now, &summary);
    return (summary.problems & (SMTPKIT_CERT_EXPIRED | SMTPKIT_CERT_NOT_YET_VALID)) == 0;
}

/*
 * Mbed TLS picks the anchor that ends the path by its own clock, preferring one valid then; but
 * smtpkit judges dates at the caller's time, when another anchor may be the valid one. For a
 * root re-issued with the same name and the same key (SubjectPublicKeyInfo), the child's
 * signature verifies under either, so the path may end in the one valid at smtpkit's time.
 * Without this, the verdict would depend on the order of the anchors.
 */
static const mbedtls_x509_crt *anchor_valid_now(const smtpkit_verifier *v,
                                                const mbedtls_x509_crt *anchor)
{
    const mbedtls_x509_crt *a;

    if (v->chain.now == SMTPKIT_TIME_UNKNOWN || valid_at(anchor, v->chain.now)) {
        return anchor;
    }
    for (a = v->anchors; a != NULL && a->raw.len > 0; a = a->next) {
        if (a != anchor && same_bytes(&a->subject_raw, &anchor->subject_raw) &&
            same_bytes(&a->pk_raw, &anchor->pk_raw) && valid_at(a, v->chain.now)) {
            return a;
        }
    }
    return anchor;
}

/* The first call of a walk names the top of the path, so its depth gives the length. */
static void begin(smtpkit_verifier *v, const mbedtls_x509_crt *top, int depth)
{
    smtpkit_time given = v->trust != NULL ? v->trust->now : SMTPKIT_TIME_HOST;

    memset(&v->chain, 0, sizeof v->chain);
    v->chain.count = depth < SMTPKIT_CHAIN_MAX ? (size_t)depth + 1 : SMTPKIT_CHAIN_MAX;
    v->chain.now = smtpkit_time_resolve(given);
    v->accounted = 0;
    v->top = top;
    v->non_ca_issuer = 0;
    v->non_ca_subject[0] = '\0';
    v->running = true;
    v->seen = false;
    v->reported = false;
    smtpkit_verifier_free(v);
}

/* Summarizes one certificate of the path and sets Mbed TLS's flags from smtpkit's dates. */
static void record(smtpkit_verifier *v, const mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    bool refuse = v->trust == NULL || v->trust->unknown_time == SMTPKIT_UNKNOWN_TIME_REFUSE;
    smtpkit_cert_summary summary;
    uint32_t seen = *flags;

    if (crt == v->top && is_anchor(v, crt)) {
        crt = anchor_valid_now(v, crt);
    }
    smtpkit_x509_summarize(crt, v->chain.now, &summary);
    *flags &= ~DATE_FLAGS;
    summary.problems |= smtpkit_verifier_map_flags(*flags);
    if ((summary.problems & SMTPKIT_CERT_EXPIRED) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
    }
    if ((summary.problems & SMTPKIT_CERT_NOT_YET_VALID) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_FUTURE;
    }
    if ((summary.problems & SMTPKIT_CERT_DATES_UNCHECKED) != 0 && refuse) {
        summary.problems ^= SMTPKIT_CERT_DATES_UNCHECKED | SMTPKIT_CERT_NO_TIME;
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
    }
    summary.is_anchor = is_anchor(v, crt);
    v->accounted |= seen | *flags;
    v->chain.problems |= summary.problems;
    if (depth < SMTPKIT_CHAIN_MAX) {
        v->chain.certs[depth] = summary;
        if (v->inspect) {
            copy_der(v, &v->path[depth], crt);
        }
    }
}

static bool pinned(const smtpkit_verifier *v)
{
    size_t i;
    size_t k;

    for (i = 0; i < v->chain.count; i++) {
        for (k = 0; k < v->trust->pin_count; k++) {
            if (memcmp(v->chain.certs[i].spki_sha256, v->trust->pins[k], SMTPKIT_SHA256_LEN) == 0) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Mbed TLS takes only a CA (basicConstraints cA TRUE) as a parent, so an issuer the server sent
 * without it is left out of the path, which then seems to lack an anchor. The leaf's list is
 * the chain as sent: find such an issuer there, so that the verdict can name it.
 */
static void find_non_ca_issuer(smtpkit_verifier *v, const mbedtls_x509_crt *leaf)
{
    const mbedtls_x509_crt *crt;
    size_t position = 1;

    if (v->top == NULL || v->chain.anchored) {
        return;
    }
    for (crt = leaf->next; crt != NULL && crt->raw.len > 0; crt = crt->next, position++) {
        if (crt != v->top && same_bytes(&crt->subject_raw, &v->top->issuer_raw) &&
            SMTPKIT_X509_CRT_CA_ISTRUE(crt) == 0) {
            v->non_ca_issuer = position;
            smtpkit_x509_name_text(&crt->subject, v->non_ca_subject, sizeof v->non_ca_subject);
            return;
        }
    }
}

/* The leaf ends the walk: pins, and the copies of what the server sent. */
static void finish(smtpkit_verifier *v, const mbedtls_x509_crt *leaf, uint32_t *flags)
{
    if (v->trust != NULL && v->trust->pin_count > 0 && !pinned(v)) {
        v->chain.problems |= SMTPKIT_CERT_PIN_MISMATCH;
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
        v->accounted |= MBEDTLS_X509_BADCERT_OTHER;
    }
    v->chain.anchored = v->chain.count > 0 && v->chain.certs[v->chain.count - 1].is_anchor;
    find_non_ca_issuer(v, leaf);
    if (v->inspect) {
        copy_sent(v, leaf);
    }
    v->top = NULL;
    v->running = false;
    v->seen = true;
}

int smtpkit_verifier_callback(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    smtpkit_verifier *v = ctx;

    if (!v->running) {
        begin(v, crt, depth);
    }
    record(v, crt, depth, flags);
    if (depth == 0) {
        finish(v, crt, flags);
    }
    return 0;
}

void smtpkit_verifier_report(smtpkit_verifier *v)
{
    if (!v->seen || v->reported || v->trust == NULL || v->trust->on_chain == NULL) {
        return;
    }
    v->reported = true;
    v->trust->on_chain(v->trust->on_chain_ctx, &v->chain);
}
