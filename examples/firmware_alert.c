/*
 * firmware_alert.c - the shape of a device that mails an alert.
 *
 * Everything a firmware fixes at build time is a macro here: the server, the account, the
 * trust anchor (a CA certificate compiled in as a DER byte array, see anchor_gts_root_r1.h,
 * which is the root Gmail's chain ends in). The device connects, does STARTTLS, verifies the
 * server against that one anchor, logs in, sends one alert and closes. Only the password comes
 * from outside the image: a real device reads it from its secure storage, this one from the
 * environment variable ALERT_PASSWORD.
 *
 * CMake builds it as build/examples/firmware_alert for Gmail's root. For another server, make
 * the anchor header from its CA certificate and compile with the server's settings:
 *
 *     tests/harness/der2c.py my-ca.pem alert_anchor > my_ca.h
 *     cc -std=c11 -Iinclude -I. -DALERT_ANCHOR_HEADER='"my_ca.h"' \
 *        -DALERT_HOST='"127.0.0.1"' -DALERT_PORT=10587 -DALERT_TLS_NAME='"localhost"' \
 *        -DALERT_USER='"alice@example.test"' -DALERT_TO='"bob@example.test"' \
 *        examples/firmware_alert.c build/libsmtpkit.a build/libsmtpkit_core.a \
 *        -lmbedtls -lmbedx509 -lmbedcrypto -o firmware_alert
 *     ALERT_PASSWORD='...' ./firmware_alert
 *
 * ALERT_TLS_NAME is the name the certificate carries; it is needed when ALERT_HOST is an
 * address, because Mbed TLS 2.28 matches certificate names, not IP addresses.
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
#ifndef ALERT_TO
#define ALERT_TO "oncall@example.com"
#endif

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

    smtpkit_error_clear(&err);
    if (password == NULL) {
        fprintf(stderr, "firmware_alert: ALERT_PASSWORD is not set\n");
        return 64;
    }
    if (compose(message, sizeof(message), &len, &err) != SMTPKIT_OK)
        goto failed;

    opt.host = ALERT_HOST;
    opt.port = ALERT_PORT;
    opt.tls_server_name = ALERT_TLS_NAME;
    opt.trust.ca_mem = alert_anchor;
    opt.trust.ca_mem_len = alert_anchor_len;
    opt.timeout_ms = 30000;
    opt.session.tls_mode = SMTPKIT_TLS_STARTTLS;
    opt.session.helo_name = "sensor-17.example.com";
    opt.session.user = ALERT_USER;
    opt.session.secret = password;

    env.mail_from = "sensor-17@example.com";
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
