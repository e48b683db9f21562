/*
 * firmware_alert.c - the shape of a device that mails an alert.
 *
 * Everything a firmware fixes at build time is a macro here: the server, the account, the
 * trust anchors (CA certificates compiled in as DER byte arrays, see anchor_gts_root_r1.h,
 * which is the root Gmail's chain ends in). The device connects, does STARTTLS, verifies the
 * server against its anchors, logs in, sends one alert and closes. Only the password comes
 * from outside the image: a real device reads it from its secure storage, this one from the
 * environment variable ALERT_PASSWORD.
 *
 * It also watches its own future: at start-up it logs how long each anchor it carries has
 * left, and during the handshake how long the server's certificate has, so that a device can
 * put "my anchor expires in 40 days" into its own reports long before it stops working.
 *
 * CMake builds it as build/examples/firmware_alert for Gmail's root. For another server, let
 * smtpkit find and export the anchor, then compile with the server's settings:
 *
 *     smtpkit cert show smtp://mail.example.com:587
 *     smtpkit cert export smtp://mail.example.com:587 --format c --name alert_anchor \
 *         -o anchor.h
 *     cc -std=c11 -Iinclude -I. -DALERT_ANCHOR_HEADER='"anchor.h"' \
 *        -DALERT_HOST='"mail.example.com"' -DALERT_PORT=587 \
 *        -DALERT_USER='"alice@example.com"' -DALERT_TO='"bob@example.com"' \
 *        examples/firmware_alert.c build/libsmtpkit.a build/libsmtpkit_core.a \
 *        -lmbedtls -lmbedx509 -lmbedcrypto -o firmware_alert
 *     ALERT_PASSWORD='...' ./firmware_alert
 *
 * Optional settings:
 * - ALERT_NEXT_ANCHOR_HEADER: a second anchor header (cert export --name alert_next_anchor),
 *   the root the server will move to, shipped before the current one expires. Either anchor
 *   verifies the server.
 * - ALERT_PIN: "sha256//BASE64" of a public key (cert show prints it as Pin); the chain must
 *   then also hold that key. A pin outlives a root change only if the key stays the same.
 * - ALERT_TLS_NAME: the name the certificate carries; needed when ALERT_HOST is an address,
 *   because Mbed TLS 2.28 matches certificate names, not IP addresses.
 * - ALERT_IMPLICIT_TLS: defined for a port that speaks TLS at once (465) instead of STARTTLS.
 * - ALERT_FROM: the From header ("Sensor 17 <sensor-17@example.com>"); ALERT_ENVELOPE_FROM:
 *   the address for MAIL FROM, by default ALERT_USER, since providers usually accept mail only
 *   from the account that logged in.
 *
 * The header files must name their arrays alert_anchor and alert_next_anchor: export them with
 * --name alert_anchor and --name alert_next_anchor.
 *
 * Time: certificate dates are checked against trust.now, or the host clock when it is
 * SMTPKIT_TIME_HOST (0). A clock before 2020 counts as unset. On Linux the clock is set; a
 * device without a real-time clock gives the time it learned from SNTP in trust.now, and
 * before it knows one, the default policy SMTPKIT_UNKNOWN_TIME_REFUSE fails the handshake.
 * SMTPKIT_UNKNOWN_TIME_SKIP_DATES verifies everything but the dates; choose it only for an
 * alert that matters more than the small risk of an expired certificate.
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpkit/client.h"
#include "smtpkit/message.h"

#ifndef ALERT_ANCHOR_HEADER
#define ALERT_ANCHOR_HEADER "anchor_gts_root_r1.h"
#endif
#include ALERT_ANCHOR_HEADER
#ifdef ALERT_NEXT_ANCHOR_HEADER
#include ALERT_NEXT_ANCHOR_HEADER
#endif

#ifndef ALERT_HOST
#define ALERT_HOST "smtp.gmail.com"
#endif
#ifndef ALERT_PORT
#define ALERT_PORT 587
#endif
#ifndef ALERT_TLS_NAME
#define ALERT_TLS_NAME ALERT_HOST
#endif
#ifndef ALERT_USER
#define ALERT_USER "sensor-17@example.com"
#endif
#ifndef ALERT_FROM
#define ALERT_FROM "Sensor 17 <sensor-17@example.com>"
#endif
#ifndef ALERT_ENVELOPE_FROM
#define ALERT_ENVELOPE_FROM ALERT_USER
#endif
#ifndef ALERT_TO
#define ALERT_TO "oncall@example.com"
#endif

/* This year's anchor, and next year's when the build has one. */
static const smtpkit_anchor anchors[] = {
    {alert_anchor, alert_anchor_len},
#ifdef ALERT_NEXT_ANCHOR_HEADER
    {alert_next_anchor, alert_next_anchor_len},
#endif
};

enum { ANCHOR_COUNT = sizeof(anchors) / sizeof(anchors[0]) };

/* Logs the days left of every anchor compiled in; a device would report the smallest. */
static void log_anchors(void)
{
    smtpkit_time now = smtpkit_time_resolve(SMTPKIT_TIME_HOST);
    smtpkit_cert_summary s;
    smtpkit_error err;
    size_t i;

    for (i = 0; i < ANCHOR_COUNT; i++) {
        if (smtpkit_cert_summarize(anchors[i].data, anchors[i].len, now, &s, &err) != SMTPKIT_OK) {
            printf("firmware_alert: anchor %u does not parse: %s\n", (unsigned)i, err.message);
        } else if (now == SMTPKIT_TIME_UNKNOWN) {
            printf("firmware_alert: anchor %u: no trustworthy time yet\n", (unsigned)i);
        } else {
            printf("firmware_alert: anchor %u expires in %lld days\n", (unsigned)i,
                   (long long)smtpkit_days_between(now, s.not_after));
        }
    }
}

/* Called during the handshake, before the password is sent: what the server presented. Dates
 * of a chain that does not verify are the server's claims, not facts: they are not reported. */
static void log_chain(void *ctx, const smtpkit_chain_summary *chain)
{
    size_t first = smtpkit_chain_first_expiry(chain);

    (void)ctx;
    if (chain->count == 0 || chain->now == SMTPKIT_TIME_UNKNOWN) {
        return;
    }
    if ((chain->problems & SMTPKIT_CERT_FAILURES) != 0) {
        printf("firmware_alert: server certificate does not verify\n");
        return;
    }
    printf("firmware_alert: server certificate expires in %lld days\n",
           (long long)smtpkit_days_between(chain->now, chain->certs[0].not_after));
    if (first != 0 && first < chain->count) {
        printf("firmware_alert: but certificate %u of its chain expires first, in %lld days\n",
               (unsigned)first,
               (long long)smtpkit_days_between(chain->now, chain->certs[first].not_after));
    }
}

/* A device clock may not be set; smtpkit then leaves Date out and the server adds it. */
static void read_clock(smtpkit_datetime *dt)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    dt->year = tm.tm_year + 1900;
    dt->month = tm.tm_mon + 1;
    dt->day = tm.tm_mday;
    dt->hour = tm.tm_hour;
    dt->minute = tm.tm_min;
    dt->second = tm.tm_sec;
    dt->weekday = tm.tm_wday;
    dt->utc_offset_minutes = 0;
}

/* Builds the alert: headers from the core's composer, then a short body. */
static int compose(char *buf, size_t size, size_t *len, smtpkit_error *err)
{
    static const char *const to[] = {ALERT_TO};
    static const uint8_t id_random[16] = {0x17, 0x2a, 0x03, 0x99, 0x41, 0x5e, 0x60, 0x71,
                                          0x8c, 0x9d, 0xae, 0xbf, 0xc0, 0xd1, 0xe2, 0xf3};
    char message_id[128];
    smtpkit_datetime now;
    smtpkit_message_headers h = {0};
    size_t head = 0;
    const char *body = "Temperature in cabinet 3 is 71.5 C (limit 60 C).\r\n";

    read_clock(&now);
    if (smtpkit_message_make_id(id_random, sizeof(id_random), "example.com", message_id,
                                sizeof(message_id)) != SMTPKIT_OK)
        return smtpkit_error_set(err, SMTPKIT_E_BUFFER, SMTPKIT_STAGE_NONE, "Message-ID");

    h.from = ALERT_FROM;
    h.to = to;
    h.to_count = 1;
    h.subject = "ALERT: cabinet 3 over temperature";
    h.message_id = message_id;
    h.date = now.year >= 2020 ? &now : NULL;
    if (smtpkit_message_write_headers(&h, buf, size, &head, err) != SMTPKIT_OK)
        return err->status;

    if (head + strlen(body) > size)
        return smtpkit_error_set(err, SMTPKIT_E_BUFFER, SMTPKIT_STAGE_NONE, "alert too long");
    memcpy(buf + head, body, strlen(body));
    *len = head + strlen(body);
    return SMTPKIT_OK;
}

int main(void)
{
    static const char *const rcpt[] = {ALERT_TO};
    static char message[2048];
    smtpkit_client_options opt = {0};
    smtpkit_envelope env = {0};
    smtpkit_buffer_source state;
    smtpkit_message_source src;
    smtpkit_error err;
    char line[512];
    size_t len = 0;
    const char *password = getenv("ALERT_PASSWORD");
#ifdef ALERT_PIN
    static uint8_t pin[1][SMTPKIT_SHA256_LEN];
#endif

    smtpkit_error_clear(&err);
    if (password == NULL) {
        fprintf(stderr, "firmware_alert: ALERT_PASSWORD is not set\n");
        return 64;
    }
    log_anchors();
#ifdef ALERT_PIN
    if (!smtpkit_pin_parse(ALERT_PIN, pin[0])) {
        fprintf(stderr, "firmware_alert: ALERT_PIN is not sha256//BASE64\n");
        return 64;
    }
    opt.trust.pins = (const uint8_t(*)[SMTPKIT_SHA256_LEN])pin;
    opt.trust.pin_count = 1;
#endif
    if (compose(message, sizeof(message), &len, &err) != SMTPKIT_OK)
        goto failed;

    opt.host = ALERT_HOST;
    opt.port = ALERT_PORT;
    opt.tls_server_name = ALERT_TLS_NAME;
    opt.trust.anchors = anchors;
    opt.trust.anchor_count = ANCHOR_COUNT;
    opt.trust.now = SMTPKIT_TIME_HOST; /* or the time from SNTP, see the comment at the top */
    opt.trust.unknown_time = SMTPKIT_UNKNOWN_TIME_REFUSE;
    opt.trust.on_chain = log_chain;
    opt.timeout_ms = 30000;
#ifdef ALERT_IMPLICIT_TLS
    opt.session.tls_mode = SMTPKIT_TLS_IMPLICIT;
#else
    opt.session.tls_mode = SMTPKIT_TLS_STARTTLS;
#endif
    opt.session.helo_name = "sensor-17.example.com";
    opt.session.user = ALERT_USER;
    opt.session.secret = password;

    env.mail_from = ALERT_ENVELOPE_FROM;
    env.rcpt = rcpt;
    env.rcpt_count = 1;
    env.size_hint = len;
    smtpkit_buffer_source_init(&state, &src, message, len);

    if (smtpkit_client_send(&opt, &env, &src, &err) != SMTPKIT_OK)
        goto failed;
    printf("firmware_alert: alert sent to %s\n", ALERT_TO);
    return 0;

failed:
    smtpkit_error_format(&err, line, sizeof(line));
    fprintf(stderr, "firmware_alert: %s\n", line);
    return 1;
}
