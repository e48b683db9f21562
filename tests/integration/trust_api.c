/*
 * trust_api.c - the trust options of smtpkit_client_send() and smtpkit_client_probe() against
 * the harness's real Postfix (run by it.py, case trust_api).
 *
 * Several anchors in memory, public-key pins, the caller's time and the policy for an unknown
 * time, the on_chain callback and smtpkit_cert_summarize(). Every expected value (names,
 * dates, pins, day counts) comes from it.py, which takes them from openssl and Python; the
 * mails sent carry tokens from it.py, which checks which of them arrived.
 *
 * Each sub-check prints one line, "ok NAME: ..." or "FAIL NAME: ..."; the exit status is 1 when
 * any failed, 2 when the environment lacks a setting. Settings (environment, all required):
 *   TA_HOST TA_PORT_CHAIN TA_PORT_EXPIRED     the server and its CHAIN and EXPIRED ports
 *   TA_USER TA_PASSWORD TA_RCPT               AUTH account and the one recipient
 *   TA_OTHER_CA_PEM TA_CHAIN_ROOT_DER         anchor files: unrelated CA, the chain's root
 *   TA_CA_FILE TA_SOON_ROOT                   test CA (EXPIRED port), root expiring in 10 days
 *   TA_PIN_RIGHT TA_PIN_WRONG                 64 hex digits: the intermediate's SPKI, another
 *   TA_CN_0 TA_CN_1 TA_CN_2                   CNs of leaf, intermediate, root
 *   TA_NOT_AFTER_0 TA_NOT_AFTER_1 TA_NOT_AFTER_2  their not-after, Unix time
 *   TA_FIRST_EXPIRY                           index of the chain's first expiry
 *   TA_TIME_LATE TA_TIME_VALID TA_TIME_OLD    after the root, within all three, before 2020
 *   TA_SOON_NOT_AFTER TA_SOON_DAYS            the SOON root's not-after, whole days left
 *   TA_TOKEN_<NAME>                           token of each send (see main)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/client.h"

static int failures;

/* Prints the one line of a sub-check; returns @p ok. */
static int report(int ok, const char *name, const char *detail)
{
    printf("%s %s: %s\n", ok ? "ok" : "FAIL", name, detail);
    fflush(stdout);
    if (!ok)
        failures++;
    return ok;
}

static const char *setting(const char *name)
{
    const char *value = getenv(name);

    if (value == NULL || *value == '\0') {
        printf("FAIL setup: %s is not set\n", name);
        exit(2);
    }
    return value;
}

static long long number(const char *name)
{
    const char *text = setting(name);
    char *end;
    long long value = strtoll(text, &end, 10);

    if (*end != '\0') {
        printf("FAIL setup: %s=%s is not a number\n", name, text);
        exit(2);
    }
    return value;
}

static void hex_pin(const char *name, uint8_t out[SMTPKIT_SHA256_LEN])
{
    const char *text = setting(name);
    size_t i;

    if (strlen(text) != 2 * SMTPKIT_SHA256_LEN) {
        printf("FAIL setup: %s is not 64 hex digits\n", name);
        exit(2);
    }
    for (i = 0; i < SMTPKIT_SHA256_LEN; i++) {
        unsigned byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) {
            printf("FAIL setup: %s is not 64 hex digits\n", name);
            exit(2);
        }
        out[i] = (uint8_t)byte;
    }
}

/* The bytes of a file, exactly (a PEM file thus without a final NUL). */
static smtpkit_anchor slurp(const char *name)
{
    const char *path = setting(name);
    static unsigned char store[4][16384];
    static size_t used;
    smtpkit_anchor a = {NULL, 0};
    FILE *f = fopen(path, "rb");

    if (f == NULL || used == 4) {
        printf("FAIL setup: cannot read %s\n", path);
        exit(2);
    }
    a.len = fread(store[used], 1, sizeof(store[used]), f);
    fclose(f);
    if (a.len == 0 || a.len == sizeof(store[used])) {
        printf("FAIL setup: %s is empty or too large\n", path);
        exit(2);
    }
    a.data = store[used++];
    return a;
}

/* What the on_chain callback saw: the number of calls and a copy of the last summary. */
static int chain_calls;
static smtpkit_chain_summary last_chain;

static void on_chain(void *ctx, const smtpkit_chain_summary *chain)
{
    (void)ctx;
    chain_calls++;
    last_chain = *chain;
}

/* What the session sent: whether AUTH or MAIL FROM left the client. */
static int sent_auth, sent_mail;

static void trace(void *ctx, smtpkit_trace_kind kind, const char *text, size_t len)
{
    (void)ctx;
    if (kind != SMTPKIT_TRACE_CLIENT)
        return;
    if (len >= 5 && memcmp(text, "AUTH ", 5) == 0)
        sent_auth = 1;
    if (len >= 10 && memcmp(text, "MAIL FROM:", 10) == 0)
        sent_mail = 1;
}

static smtpkit_client_options options(const char *port_name)
{
    smtpkit_client_options o;

    memset(&o, 0, sizeof(o));
    o.host = setting("TA_HOST");
    o.port = (uint16_t)number(port_name);
    o.tls_server_name = "localhost";
    o.timeout_ms = 30000;
    o.connect_timeout_ms = 10000;
    o.session.tls_mode = SMTPKIT_TLS_STARTTLS;
    o.session.helo_name = "trust-api.example.test";
    o.trust.on_chain = on_chain;
    return o;
}

/* Probes with @p o; the handshake must complete and on_chain run once. */
static int probe(const char *name, const smtpkit_client_options *o, smtpkit_probe *p)
{
    smtpkit_error err;
    char line[400];

    chain_calls = 0;
    smtpkit_error_clear(&err);
    if (smtpkit_client_probe(o, p, &err) != SMTPKIT_OK) {
        smtpkit_error_format(&err, line, sizeof(line));
        return report(0, name, line);
    }
    if (chain_calls != 1) {
        snprintf(line, sizeof(line), "on_chain called %d times in one handshake", chain_calls);
        return report(0, name, line);
    }
    return 1;
}

/* The probe's verdict is OK. */
static void probe_ok(const char *name, const smtpkit_client_options *o)
{
    smtpkit_probe p;
    char line[400];

    memset(&p, 0, sizeof(p));
    if (probe(name, o, &p)) {
        snprintf(line, sizeof(line), "verify %s (%s)", smtpkit_error_status_name(p.verify.status),
                 p.verify.status == SMTPKIT_OK ? "chain verifies" : p.verify.message);
        report(p.verify.status == SMTPKIT_OK && (p.chain.problems & SMTPKIT_CERT_FAILURES) == 0,
               name, line);
    }
    smtpkit_probe_free(&p);
}

/* The probe's verdict is SMTPKIT_E_CERT with @p needle in the message and @p flag set. */
static void probe_refused(const char *name, const smtpkit_client_options *o, const char *needle,
                          unsigned flag)
{
    smtpkit_probe p;
    char line[400];

    memset(&p, 0, sizeof(p));
    if (probe(name, o, &p)) {
        int ok = p.verify.status == SMTPKIT_E_CERT && strstr(p.verify.message, needle) != NULL &&
                 (p.chain.problems & flag) == flag && (last_chain.problems & flag) == flag;
        snprintf(line, sizeof(line), "verify %s: %s (problems 0x%x)",
                 smtpkit_error_status_name(p.verify.status), p.verify.message, p.chain.problems);
        report(ok, name, line);
    }
    smtpkit_probe_free(&p);
}

/* Sends one mail whose subject holds TA_TOKEN_<token>; returns the status. */
static smtpkit_status send_mail(smtpkit_client_options *o, const char *token, smtpkit_error *err)
{
    static char message[1024];
    static char name[64];
    static const char *rcpt[1];
    smtpkit_envelope env;
    smtpkit_buffer_source state;
    smtpkit_message_source src;
    const char *user = setting("TA_USER");
    int len;

    snprintf(name, sizeof(name), "TA_TOKEN_%s", token);
    rcpt[0] = setting("TA_RCPT");
    len = snprintf(message, sizeof(message),
                   "From: <%s>\r\nTo: <%s>\r\nSubject: trust_api %s\r\n"
                   "Message-ID: <%s@trust-api.example.test>\r\n\r\n"
                   "sent by trust_api.c, check %s\r\n",
                   user, rcpt[0], setting(name), setting(name), token);
    memset(&env, 0, sizeof(env));
    env.mail_from = user;
    env.rcpt = rcpt;
    env.rcpt_count = 1;
    env.size_hint = (size_t)len;
    smtpkit_buffer_source_init(&state, &src, message, (size_t)len);
    o->session.user = user;
    o->session.secret = setting("TA_PASSWORD");
    o->session.trace = trace;
    chain_calls = 0;
    sent_auth = sent_mail = 0;
    smtpkit_error_clear(err);
    return smtpkit_client_send(o, &env, &src, err);
}

/* The send succeeds, with one on_chain call. */
static void send_ok(const char *name, smtpkit_client_options o, const char *token)
{
    smtpkit_error err;
    char line[400];
    smtpkit_status s = send_mail(&o, token, &err);

    if (s != SMTPKIT_OK) {
        smtpkit_error_format(&err, line, sizeof(line));
        report(0, name, line);
        return;
    }
    snprintf(line, sizeof(line), "sent %s, on_chain called %d times", token, chain_calls);
    report(chain_calls == 1, name, line);
}

/* The send fails with SMTPKIT_E_CERT naming @p needle, before AUTH, with one on_chain call. */
static void send_refused(const char *name, smtpkit_client_options o, const char *token,
                         const char *needle)
{
    smtpkit_error err;
    char line[400];
    smtpkit_status s = send_mail(&o, token, &err);
    int ok = s == SMTPKIT_E_CERT && strstr(err.message, needle) != NULL && !sent_auth &&
             !sent_mail && chain_calls == 1;

    snprintf(line, sizeof(line), "%s: %s (AUTH sent %d, MAIL sent %d, on_chain %d)",
             smtpkit_error_status_name(s), s == SMTPKIT_OK ? "sent" : err.message, sent_auth,
             sent_mail, chain_calls);
    report(ok, name, line);
}

/* The summary of the last handshake against TA_CN_* and TA_NOT_AFTER_* (openssl's). */
static void check_summary(const char *name)
{
    char line[600];
    char cn[80];
    char setting_name[32];
    size_t i;
    int ok = last_chain.count == 3 && last_chain.anchored && last_chain.certs[2].is_anchor &&
             !last_chain.certs[0].is_anchor && !last_chain.certs[1].is_anchor &&
             (last_chain.problems & SMTPKIT_CERT_FAILURES) == 0;
    size_t pos =
        (size_t)snprintf(line, sizeof(line), "count %u, anchored %d, problems 0x%x;",
                         (unsigned)last_chain.count, last_chain.anchored, last_chain.problems);

    for (i = 0; i < 3 && i < last_chain.count; i++) {
        const smtpkit_cert_summary *c = &last_chain.certs[i];
        char date[24];

        snprintf(setting_name, sizeof(setting_name), "TA_CN_%u", (unsigned)i);
        snprintf(cn, sizeof(cn), "CN=%s", setting(setting_name));
        snprintf(setting_name, sizeof(setting_name), "TA_NOT_AFTER_%u", (unsigned)i);
        if (strstr(c->subject, cn) == NULL || c->not_after != number(setting_name))
            ok = 0;
        smtpkit_time_format(c->not_after, date, sizeof(date));
        if (pos < sizeof(line))
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, " [%u] %s until %s%s",
                                    (unsigned)i, c->subject, date, c->is_anchor ? " (anchor)" : "");
    }
    report(ok, name, line);
}

static void check_first_expiry(const char *name)
{
    char line[100];
    size_t first = smtpkit_chain_first_expiry(&last_chain);

    snprintf(line, sizeof(line), "certificate %u expires first", (unsigned)first);
    report(first == (size_t)number("TA_FIRST_EXPIRY"), name, line);
}

/* smtpkit_cert_summarize() of the SOON root: openssl's not-after, 9 or 10 days left. */
static void check_soon_root(const char *name, smtpkit_anchor soon)
{
    smtpkit_cert_summary s;
    smtpkit_error err;
    char line[400];
    char date[24];
    smtpkit_time now = smtpkit_time_resolve(SMTPKIT_TIME_HOST);
    long long want = number("TA_SOON_DAYS");
    long long days;

    if (smtpkit_cert_summarize(soon.data, soon.len, SMTPKIT_TIME_HOST, &s, &err) != SMTPKIT_OK) {
        report(0, name, err.message);
        return;
    }
    days = (long long)smtpkit_days_between(now, s.not_after);
    smtpkit_time_format(s.not_after, date, sizeof(date));
    snprintf(line, sizeof(line), "%s: not after %s, %lld days left (Python: %lld), problems 0x%x",
             s.subject, date, days, want, s.problems);
    report(s.not_after == number("TA_SOON_NOT_AFTER") && (days == want || days == want - 1) &&
               (days == 9 || days == 10) && s.problems == 0,
           name, line);
}

int main(void)
{
    smtpkit_anchor other = slurp("TA_OTHER_CA_PEM");
    smtpkit_anchor root = slurp("TA_CHAIN_ROOT_DER");
    smtpkit_anchor ca = slurp("TA_CA_FILE");
    smtpkit_anchor soon = slurp("TA_SOON_ROOT");
    smtpkit_anchor two[2];
    uint8_t right_pin[1][SMTPKIT_SHA256_LEN];
    uint8_t wrong_pin[1][SMTPKIT_SHA256_LEN];
    smtpkit_client_options o;
    smtpkit_probe p;
    char line[200];

    hex_pin("TA_PIN_RIGHT", right_pin[0]);
    hex_pin("TA_PIN_WRONG", wrong_pin[0]);
    two[0] = other;
    two[1] = root;

    /* Several anchors: an unrelated CA as PEM first, the chain's root as DER second. */
    o = options("TA_PORT_CHAIN");
    o.trust.anchors = two;
    o.trust.anchor_count = 2;
    probe_ok("anchors_two_probe", &o);
    send_ok("anchors_two_send", o, "ANCHORS");
    check_summary("on_chain_summary");
    check_first_expiry("on_chain_first_expiry");
    o.trust.anchor_count = 1;
    probe_refused("anchors_other_only_probe", &o, "no trust anchor completes the chain",
                  SMTPKIT_CERT_UNTRUSTED);
    send_refused("anchors_other_only_send", o, "OTHER_ONLY", "no trust anchor completes the chain");

    /* Pins, with the chain's root as the one anchor. */
    o = options("TA_PORT_CHAIN");
    o.trust.anchors = &root;
    o.trust.anchor_count = 1;
    o.trust.pins = (const uint8_t(*)[SMTPKIT_SHA256_LEN])right_pin;
    o.trust.pin_count = 1;
    probe_ok("pin_intermediate_probe", &o);
    report(memcmp(last_chain.certs[1].spki_sha256, right_pin[0], SMTPKIT_SHA256_LEN) == 0,
           "pin_intermediate_spki", "the summary's SPKI SHA-256 of certificate 1 is openssl's");
    send_ok("pin_intermediate_send", o, "PIN");
    o.trust.pins = (const uint8_t(*)[SMTPKIT_SHA256_LEN])wrong_pin;
    probe_refused("pin_wrong_probe", &o, "pinned public key", SMTPKIT_CERT_PIN_MISMATCH);
    send_refused("pin_wrong_send", o, "WRONG_PIN", "pinned public key");

    /* The caller's time. */
    o = options("TA_PORT_CHAIN");
    o.trust.anchors = &root;
    o.trust.anchor_count = 1;
    o.trust.now = (smtpkit_time)number("TA_TIME_LATE");
    probe_refused("time_late_probe", &o, "expired", SMTPKIT_CERT_EXPIRED);
    report(last_chain.now == o.trust.now, "time_late_now", "the summary's now is the time given");
    o.trust.now = (smtpkit_time)number("TA_TIME_VALID");
    probe_ok("time_valid_probe", &o);
    report(last_chain.now == o.trust.now, "time_valid_now", "the summary's now is the time given");
    send_ok("time_valid_send", o, "TIME_VALID");

    /* No trustworthy time: refused by default, and for a time before 2020. */
    o.trust.now = SMTPKIT_TIME_UNKNOWN;
    o.trust.unknown_time = SMTPKIT_UNKNOWN_TIME_REFUSE;
    probe_refused("time_unknown_refuse_probe", &o, "no trustworthy time", SMTPKIT_CERT_NO_TIME);
    report(last_chain.now == SMTPKIT_TIME_UNKNOWN, "time_unknown_now",
           "the summary's now is SMTPKIT_TIME_UNKNOWN");
    send_refused("time_unknown_refuse_send", o, "NO_TIME", "no trustworthy time");
    o.trust.now = (smtpkit_time)number("TA_TIME_OLD");
    probe_refused("time_old_refuse_probe", &o, "no trustworthy time", SMTPKIT_CERT_NO_TIME);

    /* SKIP_DATES against a leaf that expired in 2021: it verifies, and says dates went
     * unchecked; with REFUSE and the host's clock it is expired. */
    o = options("TA_PORT_EXPIRED");
    o.trust.anchors = &ca;
    o.trust.anchor_count = 1;
    o.trust.now = SMTPKIT_TIME_UNKNOWN;
    o.trust.unknown_time = SMTPKIT_UNKNOWN_TIME_SKIP_DATES;
    memset(&p, 0, sizeof(p));
    if (probe("expired_skip_dates_probe", &o, &p)) {
        unsigned all = p.chain.problems;
        size_t i;
        for (i = 0; i < p.chain.count && i < SMTPKIT_CHAIN_MAX; i++)
            all |= p.chain.certs[i].problems;
        snprintf(line, sizeof(line), "verify %s, problems 0x%x (all certificates: 0x%x)",
                 smtpkit_error_status_name(p.verify.status), p.chain.problems, all);
        report(p.verify.status == SMTPKIT_OK && (p.chain.problems & SMTPKIT_CERT_DATES_UNCHECKED) &&
                   (all & SMTPKIT_CERT_EXPIRED) == 0 &&
                   (last_chain.problems & SMTPKIT_CERT_EXPIRED) == 0,
               "expired_skip_dates_probe", line);
    }
    smtpkit_probe_free(&p);
    send_ok("expired_skip_dates_send", o, "SKIP_DATES");
    o.trust.now = SMTPKIT_TIME_HOST;
    o.trust.unknown_time = SMTPKIT_UNKNOWN_TIME_REFUSE;
    probe_refused("expired_refuse_host_probe", &o, "expired", SMTPKIT_CERT_EXPIRED);
    report(last_chain.count > 0 && (last_chain.certs[0].problems & SMTPKIT_CERT_EXPIRED),
           "expired_refuse_host_leaf", "the leaf's summary carries SMTPKIT_CERT_EXPIRED");

    /* An anchor's expiry without any connection. */
    check_soon_root("soon_root_summarize", soon);

    printf("%s: %d failed\n", failures ? "FAILED" : "done", failures);
    return failures ? 1 : 0;
}
