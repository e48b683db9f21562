/*
 * test_trace.c - what the session's trace shows (wire lines, states, the body as a size) and
 * what it never shows: for every transcript with credentials, in every AUTH mechanism, neither
 * the secret, nor its base64, nor the base64 of the user name (LOGIN's first answer), nor any
 * AUTH payload or challenge answer that the script says the client sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "transcript.h"

static const char *dir;

static transcript *load(const char *name)
{
    transcript *t = transcript_open(dir, name);

    assert_non_null(t);
    return t;
}

static void run(const transcript *t, transcript_outcome *o)
{
    transcript_mode mode = {false, TRANSCRIPT_NO_SPLIT, TRANSCRIPT_NO_SPLIT};
    char why[TRANSCRIPT_WHY_MAX];

    transcript_run_session(t, &mode, o);
    if (!transcript_check(t, o, false, why, sizeof why)) {
        fail_msg("%s", why);
    }
    assert_non_null(o->trace);
}

static void assert_absent(const transcript *t, const char *trace, const char *what,
                          const char *needle, size_t len)
{
    char copy[8192];

    if (len < 2) {
        return;
    }
    assert_true(len < sizeof copy);
    memcpy(copy, needle, len);
    copy[len] = '\0';
    if (strstr(trace, copy) != NULL) {
        fail_msg("%s: %s \"%s\" is in the trace:\n%s", t->name, what, copy, trace);
    }
}

static void assert_base64_absent(const transcript *t, const char *trace, const char *what,
                                 const char *plain)
{
    unsigned char encoded[8192];
    size_t len = 0;

    assert_int_equal(mbedtls_base64_encode(encoded, sizeof encoded, &len,
                                           (const unsigned char *)plain, strlen(plain)),
                     0);
    /* without its padding, so that a prefix of a longer payload is caught too */
    while (len > 0 && encoded[len - 1] == '=') {
        len--;
    }
    assert_absent(t, trace, what, (const char *)encoded, len);
}

/* Every client line of the script that carries credentials: the AUTH line's initial response
 * and each line that answers a 334. */
static void assert_payloads_absent(const transcript *t, const char *trace)
{
    bool after_334 = false;
    size_t i;

    for (i = 0; i < t->item_count; i++) {
        const transcript_item *item = &t->items[i];
        const char *line = (const char *)item->bytes;

        if (item->kind == ITEM_SERVER) {
            after_334 = item->len >= 4 && memcmp(line, "334", 3) == 0;
            continue;
        }
        if (item->kind != ITEM_CLIENT) {
            continue;
        }
        if (strncmp(line, "AUTH ", 5) == 0 && strchr(line + 5, ' ') != NULL) {
            const char *payload = strchr(line + 5, ' ') + 1;

            assert_absent(t, trace, "the AUTH initial response", payload, strcspn(payload, "\r"));
            assert_non_null(strstr(trace, "<redacted>"));
        } else if (after_334) {
            assert_absent(t, trace, "an AUTH answer", line, strcspn(line, "\r"));
            assert_non_null(strstr(trace, "C: <redacted>\n"));
        }
    }
}

static void check_transcript(const char *name)
{
    transcript *t = load(name);
    transcript_outcome o;

    run(t, &o);
    assert_null(strchr(o.trace, '\r'));
    if (t->user != NULL) {
        assert_absent(t, o.trace, "the secret", t->secret, strlen(t->secret));
        assert_base64_absent(t, o.trace, "the secret's base64", t->secret);
        assert_base64_absent(t, o.trace, "the user's base64", t->user);
        assert_payloads_absent(t, o.trace);
    }
    transcript_outcome_free(&o);
    transcript_close(t);
}

static void test_no_secret_in_any_trace(void **state)
{
    char **paths;
    size_t count = transcript_list(dir, &paths);
    size_t i;

    (void)state;
    assert_true(count > 0);
    for (i = 0; i < count; i++) {
        check_transcript(strrchr(paths[i], '/') + 1);
    }
    transcript_list_free(paths, count);
}

/* One transcript per mechanism, named, so that removing one cannot silently drop a check. */
static void test_each_mechanism(void **state)
{
    static const char *const names[] = {"starttls_auth_plain.txt",   "implicit_auth_login.txt",
                                        "auth_cram_md5.txt",         "auth_xoauth2.txt",
                                        "auth_xoauth2_error.txt",    "auth_oauthbearer.txt",
                                        "auth_oauthbearer_error.txt"};
    static const char *const shown[] = {"C: AUTH PLAIN <redacted>\n",
                                        "C: AUTH LOGIN\n",
                                        "C: AUTH CRAM-MD5\n",
                                        "C: AUTH XOAUTH2 <redacted>\n",
                                        "C: <redacted>\n",
                                        "C: AUTH OAUTHBEARER <redacted>\n",
                                        "C: <redacted>\n"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        transcript *t = load(names[i]);
        transcript_outcome o;

        check_transcript(names[i]);
        run(t, &o);
        if (strstr(o.trace, shown[i]) == NULL) {
            fail_msg("%s: no \"%s\" in the trace:\n%s", names[i], shown[i], o.trace);
        }
        transcript_outcome_free(&o);
        transcript_close(t);
    }
}

static void test_wire_state_and_body_lines(void **state)
{
    transcript *t = load("starttls_auth_plain.txt");
    transcript_outcome o;

    (void)state;
    run(t, &o);
    assert_non_null(strstr(o.trace, "S: 220 mx.example.test ESMTP Postfix\n"));
    assert_non_null(strstr(o.trace, "C: EHLO client.example\n"));
    assert_non_null(strstr(o.trace, "*: state GREETING -> EHLO\n"));
    assert_non_null(strstr(o.trace, "*: state STARTTLS -> TLS\n"));
    assert_non_null(strstr(o.trace, "*: TLS active\n"));
    /* "Hello Bob\n" goes out as "Hello Bob\r\n": 11 bytes, shown as one line */
    assert_non_null(strstr(o.trace, "C: <message body, 11 bytes>\nC: .\n"));
    assert_null(strstr(o.trace, "Hello Bob"));
    transcript_outcome_free(&o);
    transcript_close(t);
}

static void test_failure_is_traced(void **state)
{
    transcript *t = load("rcpt_all_refused.txt");
    transcript_outcome o;

    (void)state;
    run(t, &o);
    assert_non_null(strstr(o.trace, "*: RCPT TO failed: 550 5.1.1 <y@example.test>: Recipient "
                                    "address rejected (permanent failure)\n"));
    transcript_outcome_free(&o);
    transcript_close(t);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_secret_in_any_trace),
        cmocka_unit_test(test_each_mechanism),
        cmocka_unit_test(test_wire_state_and_body_lines),
        cmocka_unit_test(test_failure_is_traced),
    };

    dir = argc > 1 ? argv[1] : SMTPKIT_TRANSCRIPT_DIR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
