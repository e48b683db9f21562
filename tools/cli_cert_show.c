/*
 * cli_cert_show.c - "smtpkit cert show URL": the chain exactly as the server sent it, the
 * trust anchor that completes it when the server did not send it, and the verdict.
 *
 * The chain is printed even when it does not verify, because that is when a user needs to see
 * it; the verdict then names the reason, which also goes to stderr, and the exit code is the
 * one a send would have (77). Everything here is read from smtpkit_client_probe() and parsed
 * by smtpkit_cert_describe(); this file only lays it out.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cert.h"
#include "cli_exit.h"
#include "smtpkit/civil_time.h"

/* Writes one line to stdout with control bytes replaced: subjects come from the server. */
static void print_text(const char *value)
{
    const unsigned char *c;

    for (c = (const unsigned char *)value; *c != '\0'; c++) {
        putchar(*c < 0x20 || *c == 0x7f ? '?' : *c);
    }
    putchar('\n');
}

static void print_field(const char *label, const char *value)
{
    printf("  %-13s ", label); /* values in one column; "Expires first:" pushes its own */
    print_text(value);
}

static void print_date(const char *label, smtpkit_time t, const char *note)
{
    char date[32];
    char line[200];

    (void)smtpkit_time_format(t, date, sizeof date);
    if (note != NULL) {
        snprintf(line, sizeof line, "%s (%s)", date, note);
    } else {
        snprintf(line, sizeof line, "%s", date);
    }
    print_field(label, line);
}

static void print_details(const smtpkit_cert_details *d, smtpkit_time now)
{
    char text[128];

    print_field("Subject:", d->summary.subject);
    print_field("Issuer:", d->summary.issuer);
    print_date("Not before:", d->summary.not_before, NULL);
    cli_validity_note(&d->summary, now, text, sizeof text);
    print_date("Not after:", d->summary.not_after, text);
    print_field("Alt names:", d->alt_names[0] != '\0' ? d->alt_names : "(none)");
    print_field("Key:", d->key);
    print_field("Signature:", d->signature);
    smtpkit_fingerprint_format(d->summary.sha256, text, sizeof text);
    print_field("SHA-256:", text);
    smtpkit_fingerprint_format(d->summary.spki_sha256, text, sizeof text);
    print_field("SPKI SHA-256:", text);
    smtpkit_pin_format(d->summary.spki_sha256, text, sizeof text);
    print_field("Pin:", text);
}

static const char *position_name(size_t index, const smtpkit_cert_details *d)
{
    if (index == 0) {
        return d->self_signed ? "leaf, self-signed" : "leaf";
    }
    return d->self_signed ? "root, self-signed" : "intermediate";
}

static int describe(const smtpkit_der *der, smtpkit_time now, smtpkit_cert_details *out)
{
    smtpkit_error err;

    smtpkit_error_clear(&err);
    if (smtpkit_cert_describe(der->data, der->len, now, out, &err) != SMTPKIT_OK) {
        memset(out, 0, sizeof *out);
        snprintf(out->summary.subject, sizeof out->summary.subject, "(does not parse: %s)",
                 err.message);
        return -1;
    }
    return 0;
}

/* The first certificate before @p index with the same bytes, or @p index itself. */
static size_t first_copy(const smtpkit_probe *probe, size_t index)
{
    const smtpkit_der *der = &probe->sent[index];
    size_t i;

    for (i = 0; i < index; i++) {
        if (probe->sent[i].len == der->len &&
            memcmp(probe->sent[i].data, der->data, der->len) == 0) {
            return i;
        }
    }
    return index;
}

static void print_sent(const cli_cert_target *target, const smtpkit_probe *probe, smtpkit_time now)
{
    size_t i;

    printf("Server: %s (%s), %s\n", target->where,
           target->server.mode == SMTPKIT_TLS_IMPLICIT ? "TLS" : "STARTTLS", probe->tls);
    printf("Chain sent by the server: %zu certificate%s", probe->sent_total,
           probe->sent_total == 1 ? "" : "s");
    if (probe->sent_count < probe->sent_total) {
        printf(" (the first %zu shown)", probe->sent_count);
    }
    putchar('\n');
    for (i = 0; i < probe->sent_count; i++) {
        smtpkit_cert_details d;

        (void)describe(&probe->sent[i], now, &d);
        if (first_copy(probe, i) < i) {
            printf("\nCertificate %zu (duplicate of certificate %zu)\n", i, first_copy(probe, i));
        } else {
            printf("\nCertificate %zu (%s)\n", i, position_name(i, &d));
        }
        print_details(&d, now);
    }
}

/* The anchor completing the path, when it is one; *sent tells whether the server sent it. */
static const smtpkit_cert_summary *path_anchor(const smtpkit_probe *probe, bool *sent)
{
    const smtpkit_chain_summary *chain = &probe->chain;
    const smtpkit_cert_summary *anchor;
    size_t i;

    *sent = false;
    if (!chain->anchored || chain->count == 0) {
        return NULL;
    }
    anchor = &chain->certs[chain->count - 1];
    for (i = 0; i < probe->sent_count; i++) {
        smtpkit_cert_summary s;
        smtpkit_error err;

        if (smtpkit_cert_summarize(probe->sent[i].data, probe->sent[i].len, SMTPKIT_TIME_UNKNOWN,
                                   &s, &err) == SMTPKIT_OK &&
            memcmp(s.sha256, anchor->sha256, sizeof s.sha256) == 0) {
            *sent = true;
        }
    }
    return anchor;
}

static void print_anchor(const smtpkit_probe *probe, smtpkit_time now)
{
    bool sent = false;
    smtpkit_cert_details d;

    if (path_anchor(probe, &sent) == NULL || sent) {
        return;
    }
    (void)describe(&probe->path[probe->chain.count - 1], now, &d);
    printf("\nTrust anchor (from the trust store, not sent by the server)\n");
    print_details(&d, now);
}

/* "CA file a.pem, CA directory d" in the order of the command line, or the system bundle. */
static void print_store(const cli_cert_args *args)
{
    char line[1024];
    size_t used = 0;
    size_t i;

    line[0] = '\0';
    for (i = 0; i < args->ca_files.count && used < sizeof line; i++) {
        used += (size_t)snprintf(line + used, sizeof line - used, "%sCA file %s",
                                 used > 0 ? ", " : "", args->ca_files.items[i]);
    }
    if (args->ca_dir != NULL && used < sizeof line) {
        snprintf(line + used, sizeof line - used, "%sCA directory %s", used > 0 ? ", " : "",
                 args->ca_dir);
    }
    if (line[0] == '\0') {
        snprintf(line, sizeof line, "system bundle %s", SMTPKIT_SYSTEM_CA_FILE);
    }
    print_field("Trust store:", line);
}

/* "trust anchor (SUBJECT)" for the anchor, "certificate N (SUBJECT)" for the others: the
 * anchor may be one the server never sent, so it has no number in what the server sent. */
static void cert_name(const smtpkit_chain_summary *chain, size_t index, char *out, size_t size)
{
    if (chain->certs[index].is_anchor) {
        snprintf(out, size, "trust anchor (%s)", chain->certs[index].subject);
    } else {
        snprintf(out, size, "certificate %zu (%s)", index, chain->certs[index].subject);
    }
}

/* The first problem of the path, in words; the library's verdict has the full reason. */
static void chain_reason(const smtpkit_chain_summary *chain, smtpkit_time now, char *out,
                         size_t size)
{
    static const struct {
        unsigned flag;
        const char *text;
    } reasons[] = {
        {SMTPKIT_CERT_NO_TIME, "no trustworthy time to check the dates against"},
        {SMTPKIT_CERT_BAD_USAGE, "its key usage does not allow this use"},
        {SMTPKIT_CERT_WEAK, "its hash or key is too weak"},
        {SMTPKIT_CERT_OTHER, "Mbed TLS reports another problem"},
    };
    char name[SMTPKIT_CERT_NAME_MAX + 32];
    size_t i;
    size_t k;

    for (i = 0; i < chain->count; i++) {
        const smtpkit_cert_summary *c = &chain->certs[i];
        char note[64];

        if (c->problems & (SMTPKIT_CERT_EXPIRED | SMTPKIT_CERT_NOT_YET_VALID)) {
            cli_validity_note(c, now, note, sizeof note);
            cert_name(chain, i, name, sizeof name);
            snprintf(out, size, "%s: %s", name, note);
            return;
        }
    }
    for (k = 0; k < sizeof reasons / sizeof reasons[0]; k++) {
        for (i = 0; i < chain->count; i++) {
            if (chain->certs[i].problems & reasons[k].flag) {
                cert_name(chain, i, name, sizeof name);
                snprintf(out, size, "%s: %s", name, reasons[k].text);
                return;
            }
        }
    }
    for (i = 0; chain->anchored && i < chain->count; i++) {
        if (chain->certs[i].problems & SMTPKIT_CERT_UNTRUSTED) {
            cert_name(chain, i, name, sizeof name);
            snprintf(out, size, "%s: not correctly signed by its issuer", name);
            return;
        }
    }
    if (chain->count > 0 && !chain->anchored &&
        strcmp(chain->certs[chain->count - 1].subject, chain->certs[chain->count - 1].issuer) ==
            0) {
        snprintf(out, size, "certificate %zu (%s) is self-signed and not in the trust store",
                 chain->count - 1, chain->certs[chain->count - 1].subject);
        return;
    }
    /* Untrusted, or no flag at all: say whose signature the trust store lacks. */
    snprintf(out, size,
             "no trust anchor in the trust store completes the chain (last "
             "certificate issued by %s)",
             chain->count > 0 ? chain->certs[chain->count - 1].issuer : "?");
}

static void print_chain_line(const smtpkit_probe *probe, smtpkit_time now)
{
    const unsigned path_failures = SMTPKIT_CERT_FAILURES & ~(unsigned)SMTPKIT_CERT_NAME_MISMATCH &
                                   ~(unsigned)SMTPKIT_CERT_PIN_MISMATCH;
    bool sent = false;
    const smtpkit_cert_summary *anchor = path_anchor(probe, &sent);
    char line[SMTPKIT_CERT_NAME_MAX + 200];

    if (anchor != NULL && (probe->chain.problems & path_failures) == 0) {
        snprintf(line, sizeof line, "verifies, anchor %s%s", anchor->subject,
                 sent ? " (sent by the server and in the trust store)" : "");
    } else {
        char reason[SMTPKIT_CERT_NAME_MAX + 100];

        chain_reason(&probe->chain, now, reason, sizeof reason);
        snprintf(line, sizeof line, "does not verify: %s", reason);
    }
    print_field("Chain:", line);
}

static void print_name_line(const cli_cert_target *target, const smtpkit_probe *probe,
                            smtpkit_time now)
{
    const char *name = target->client.tls_server_name != NULL ? target->client.tls_server_name
                                                              : target->server.host;
    char line[CLI_HOST_MAX + 600];
    smtpkit_cert_details leaf;

    if (probe->sent_count == 0 || describe(&probe->sent[0], now, &leaf) != 0) {
        snprintf(line, sizeof line, "%s not checked: no certificate", name);
    } else if (probe->chain.problems & SMTPKIT_CERT_NAME_MISMATCH) {
        snprintf(line, sizeof line, "%s does not match (certificate names: %s)", name,
                 leaf.alt_names[0] != '\0' ? leaf.alt_names : leaf.summary.subject);
    } else {
        snprintf(line, sizeof line, "%s matches", name);
    }
    print_field("Host name:", line);
}

static void print_pin_line(const cli_cert_target *target, const smtpkit_probe *probe)
{
    if (target->client.trust.pin_count == 0) {
        return;
    }
    print_field("Pinned key:", probe->chain.problems & SMTPKIT_CERT_PIN_MISMATCH
                                   ? "no certificate in the chain has a pinned public key"
                                   : "found in the chain");
}

/* "Expires first: leaf SUBJECT on DATE (N days left)", and a warning on stderr when that is
 * within CLI_TRUST_WARN_DAYS: an OK today that ends next week deserves a word. */
static void print_first_expiry(const smtpkit_chain_summary *chain, smtpkit_time now)
{
    size_t first = smtpkit_chain_first_expiry(chain);
    const smtpkit_cert_summary *cert;
    const char *role;
    char date[32];
    char note[64];
    char line[SMTPKIT_CERT_NAME_MAX + 160];
    int64_t days;

    if (first >= chain->count) {
        return;
    }
    cert = &chain->certs[first];
    role = cert->is_anchor ? "trust anchor" : first == 0 ? "leaf" : "intermediate";
    (void)smtpkit_time_format(cert->not_after, date, sizeof date);
    cli_validity_note(cert, now, note, sizeof note);
    snprintf(line, sizeof line, "%s %s on %s (%s)", role, cert->subject, date, note);
    print_field("Expires first:", line);

    days = smtpkit_days_between(now, cert->not_after);
    if (now != SMTPKIT_TIME_UNKNOWN && now >= cert->not_before && now <= cert->not_after &&
        days <= CLI_TRUST_WARN_DAYS) {
        char count[CLI_DAY_COUNT_MAX];

        fflush(stdout);
        cli_warn("%s %s expires %s, in %s", role, cert->subject, date,
                 cli_day_count(days, count, sizeof count));
    }
}

static int print_verdict(const cli_cert_args *args, const cli_cert_target *target,
                         const smtpkit_probe *probe)
{
    char reason[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + 64];
    bool ok = probe->verify.status == SMTPKIT_OK;

    printf("\nVerdict\n");
    print_store(args);
    print_chain_line(probe, args->now);
    print_name_line(target, probe, args->now);
    print_pin_line(target, probe);
    print_first_expiry(&probe->chain, args->now);
    if (ok) {
        print_field("Result:", "OK");
        return CLI_EXIT_OK;
    }
    (void)smtpkit_error_format(&probe->verify, reason, sizeof reason);
    printf("  %-13s FAILED: ", "Result:");
    print_text(reason);
    fflush(stdout);
    return cli_fail_error(&probe->verify);
}

int cli_cert_show(const cli_cert_args *args, const cli_cert_target *target)
{
    smtpkit_probe probe;
    smtpkit_error err;
    int rc;

    if (cli_cert_probe(target, &probe, &err) != SMTPKIT_OK) {
        smtpkit_probe_free(&probe);
        return cli_fail_error_hint(&err, cli_cert_scheme_hint(target, &err));
    }

    print_sent(target, &probe, args->now);
    print_anchor(&probe, args->now);
    rc = print_verdict(args, target, &probe);

    smtpkit_probe_free(&probe);
    return rc;
}
