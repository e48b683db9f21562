/*
 * test_session.c - the session engine (src/core/session.c).
 *
 * Part one runs every transcript of tests/unit/transcripts/ (format: tests/unit/transcript.c)
 * as its own cmocka test: once with each server segment fed whole, once one byte per feed (and
 * one byte per body() call and per written()), and once for every cut of every server segment
 * into two feeds (the body is cut at the same offset). Every run must give the client bytes of
 * the script, the expected outcome, and the same wire trace. The directory is argv[1], or
 * SMTPKIT_TRANSCRIPT_DIR from the build.
 *
 * Part two covers what a transcript cannot show: init checks, capabilities, calls out of
 * sequence, a full output buffer, and the error kept through a polite QUIT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/session.h"
#include "transcript.h"

#define TRACE_MAX (256 * 1024)

/* Part one: transcripts ---------------------------------------------------------------------- */

static void run_and_check(const transcript *t, const transcript_mode *mode, const char *expected,
                          char *trace, const char *how)
{
    transcript_outcome o;
    char why[TRANSCRIPT_WHY_MAX];

    transcript_run_session(t, mode, &o);
    if (!transcript_check(t, &o, false, why, sizeof why)) {
        transcript_outcome_free(&o);
        fail_msg("%s [%s]", why, how);
    }
    transcript_wire_trace(&o, trace, TRACE_MAX);
    transcript_outcome_free(&o);
    if (expected != NULL && strcmp(expected, trace) != 0) {
        fail_msg("%s: the wire trace differs [%s]:\n%s\n--- instead of ---\n%s", t->name, how,
                 trace, expected);
    }
}

static void run_transcript(void **state)
{
    transcript *t = calloc(1, sizeof *t);
    char *reference = malloc(TRACE_MAX);
    char *trace = malloc(TRACE_MAX);
    transcript_mode mode = {false, TRANSCRIPT_NO_SPLIT, TRANSCRIPT_NO_SPLIT};
    char why[TRANSCRIPT_WHY_MAX];
    char how[64];
    size_t i, k;

    assert_non_null(t);
    if (!transcript_load(*state, t, why, sizeof why)) {
        fail_msg("%s", why);
    }
    run_and_check(t, &mode, NULL, reference, "whole segments");
    mode.bytewise = true;
    run_and_check(t, &mode, reference, trace, "one byte at a time");
    mode.bytewise = false;
    for (i = 0; i < t->item_count; i++) {
        for (k = 1; t->items[i].kind == ITEM_SERVER && k < t->items[i].len; k++) {
            mode.split_item = i;
            mode.split_at = k;
            snprintf(how, sizeof how, "segment at line %d cut at %zu", t->items[i].line, k);
            run_and_check(t, &mode, reference, trace, how);
        }
    }
    transcript_free(t);
    free(t);
    free(reference);
    free(trace);
}

/* Part two: the API around the transcripts ------------------------------------------------- */

typedef struct fixture {
    smtpkit_session s;
    smtpkit_session_config config;
    uint8_t out[SMTPKIT_SESSION_OUTPUT_MIN];
    char wire[4096]; /* what the client wrote */
    size_t wire_len;
} fixture;

static void fixture_init(fixture *f, smtpkit_tls_mode tls)
{
    memset(f, 0, sizeof *f);
    f->config.helo_name = "client.example";
    f->config.tls_mode = tls;
    assert_int_equal(smtpkit_session_init(&f->s, &f->config, f->out, sizeof f->out), SMTPKIT_OK);
}

/* Writes everything the session has queued into f->wire (without calling next(), which would
 * use up a SENT event). */
static void drain(fixture *f)
{
    size_t len;
    const uint8_t *data;

    while (data = smtpkit_session_output(&f->s, &len), len > 0) {
        assert_true(f->wire_len + len < sizeof f->wire);
        memcpy(f->wire + f->wire_len, data, len);
        f->wire_len += len;
        f->wire[f->wire_len] = '\0';
        smtpkit_session_written(&f->s, len);
    }
}

static smtpkit_status server(fixture *f, const char *text)
{
    smtpkit_status status = smtpkit_session_feed(&f->s, (const uint8_t *)text, strlen(text));

    drain(f);
    return status;
}

static void to_ready(fixture *f, const char *ehlo_reply)
{
    fixture_init(f, SMTPKIT_TLS_NONE);
    assert_int_equal(server(f, "220 mx ESMTP\r\n"), SMTPKIT_OK);
    assert_int_equal(server(f, ehlo_reply), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&f->s), SMTPKIT_EV_READY);
}

static void test_init_checks(void **state)
{
    smtpkit_session_config config = {0};
    uint8_t out[SMTPKIT_SESSION_OUTPUT_MIN];
    smtpkit_session s;

    (void)state;
    assert_int_equal(smtpkit_session_init(&s, NULL, out, sizeof out), SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
    config.helo_name = "client.example";
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out - 1), SMTPKIT_E_BUFFER);
    assert_int_equal(smtpkit_session_next(&s), SMTPKIT_EV_FAILED);
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&s), SMTPKIT_EV_READ);
    assert_int_equal(smtpkit_session_stage(&s), SMTPKIT_STAGE_GREETING);

    config.helo_name = "client example";
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
    config.helo_name = "client.example\r\nMAIL FROM:<x>";
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
    config.helo_name = "client.example";
    config.auth = SMTPKIT_AUTH_PLAIN;
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
    config.user = "alice";
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
    config.secret = "pw";
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_OK);
    config.auth = SMTPKIT_AUTH_XOAUTH2;
    config.secret = "tok\x01"
                    "en";
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
    config.secret = "token";
    config.tls_mode = (smtpkit_tls_mode)7;
    assert_int_equal(smtpkit_session_init(&s, &config, out, sizeof out), SMTPKIT_E_USAGE);
}

static void test_capabilities(void **state)
{
    fixture f;

    (void)state;
    to_ready(&f, "250-mx.example.test Hello\r\n250-STARTTLS\r\n250-Auth=LOGIN\r\n"
                 "250-AUTH PLAIN CRAM-MD5 GSSAPI xoauth2 OAUTHBEARER\r\n250-SIZE 35882577\r\n"
                 "250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n"
                 "250-DSN\r\n250 CHUNKING\r\n");
    assert_int_equal(smtpkit_session_caps(&f.s),
                     SMTPKIT_CAP_STARTTLS | SMTPKIT_CAP_AUTH | SMTPKIT_CAP_SIZE |
                         SMTPKIT_CAP_PIPELINING | SMTPKIT_CAP_8BITMIME | SMTPKIT_CAP_SMTPUTF8 |
                         SMTPKIT_CAP_ENHANCEDSTATUSCODES | SMTPKIT_CAP_DSN | SMTPKIT_CAP_CHUNKING);
    assert_int_equal(smtpkit_session_mechs(&f.s),
                     (1u << SMTPKIT_AUTH_LOGIN) | (1u << SMTPKIT_AUTH_PLAIN) |
                         (1u << SMTPKIT_AUTH_CRAM_MD5) | (1u << SMTPKIT_AUTH_XOAUTH2) |
                         (1u << SMTPKIT_AUTH_OAUTHBEARER));
    assert_false(smtpkit_session_tls_active(&f.s));
    assert_string_equal(f.wire, "EHLO client.example\r\n");
    assert_int_equal(smtpkit_session_last_reply(&f.s)->line_count, 11);
}

static void test_first_line_is_not_a_capability(void **state)
{
    fixture f;

    (void)state;
    to_ready(&f, "250-STARTTLS\r\n250 SIZE\r\n");
    assert_int_equal(smtpkit_session_caps(&f.s), SMTPKIT_CAP_SIZE);
}

static void test_out_of_sequence(void **state)
{
    smtpkit_envelope env = {0};
    fixture f;

    (void)state;
    fixture_init(&f, SMTPKIT_TLS_NONE);
    assert_int_equal(smtpkit_session_mail(&f.s, &env), SMTPKIT_E_STATE);
    assert_int_equal(smtpkit_session_quit(&f.s), SMTPKIT_E_STATE);
    assert_int_equal(smtpkit_session_tls_started(&f.s), SMTPKIT_E_STATE);
    assert_int_equal(smtpkit_session_body(&f.s, (const uint8_t *)"x", 1), 0);
    assert_int_equal(smtpkit_session_body_end(&f.s), SMTPKIT_E_STATE);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_READ);
}

static void test_partial_writes(void **state)
{
    fixture f;
    size_t len;
    const uint8_t *data;

    (void)state;
    fixture_init(&f, SMTPKIT_TLS_NONE);
    assert_int_equal(smtpkit_session_feed(&f.s, (const uint8_t *)"220 hi\r\n", 8), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_WRITE);
    data = smtpkit_session_output(&f.s, &len);
    assert_int_equal(len, 21);
    smtpkit_session_written(&f.s, 5);
    data = smtpkit_session_output(&f.s, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(data, "client.example\r\n", 16);
    smtpkit_session_written(&f.s, 100); /* more than queued: clamped */
    data = smtpkit_session_output(&f.s, &len);
    assert_int_equal(len, 0);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_READ);
}

static void start_body(fixture *f, smtpkit_envelope *env, const char *const *rcpt)
{
    to_ready(f, "250 mx\r\n");
    env->mail_from = "a@example.test";
    env->rcpt = rcpt;
    env->rcpt_count = 1;
    assert_int_equal(smtpkit_session_mail(&f->s, env), SMTPKIT_OK);
    drain(f);
    assert_int_equal(server(f, "250 ok\r\n"), SMTPKIT_OK);
    assert_int_equal(server(f, "250 ok\r\n"), SMTPKIT_OK);
    assert_int_equal(server(f, "354 go\r\n"), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&f->s), SMTPKIT_EV_BODY);
}

static void test_body_output_full(void **state)
{
    static const char *const rcpt[] = {"b@example.test"};
    smtpkit_envelope env = {0};
    uint8_t body[3000];
    fixture f;
    size_t taken, len;

    (void)state;
    memset(body, 'x', sizeof body);
    start_body(&f, &env, rcpt);
    taken = smtpkit_session_body(&f.s, body, sizeof body);
    assert_true(taken > 1000 && taken < sizeof f.out);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_WRITE);
    assert_int_equal(smtpkit_session_body_end(&f.s), SMTPKIT_E_BUFFER);
    smtpkit_session_output(&f.s, &len);
    smtpkit_session_written(&f.s, len);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_BODY);
    assert_int_equal(smtpkit_session_body_end(&f.s), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_stage(&f.s), SMTPKIT_STAGE_BODY);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_WRITE);
}

static void test_two_messages_one_session(void **state)
{
    static const char *const rcpt[] = {"b@example.test"};
    smtpkit_envelope env = {0};
    fixture f;

    (void)state;
    start_body(&f, &env, rcpt);
    assert_int_equal(smtpkit_session_body_end(&f.s), SMTPKIT_OK);
    drain(&f);
    assert_int_equal(server(&f, "250 queued\r\n"), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_SENT);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_READY);
    f.wire_len = 0;
    assert_int_equal(smtpkit_session_mail(&f.s, &env), SMTPKIT_OK);
    drain(&f);
    assert_string_equal(f.wire, "MAIL FROM:<a@example.test>\r\n");
}

/* A refused envelope sends nothing and fails the session; QUIT may still be sent. */
static void refuse(const char *from, const char *const *rcpt, size_t count, const char *fault)
{
    smtpkit_envelope env = {0};
    fixture f;

    to_ready(&f, "250 mx\r\n");
    f.wire_len = 0;
    env.mail_from = from;
    env.rcpt = rcpt;
    env.rcpt_count = count;
    assert_int_equal(smtpkit_session_mail(&f.s, &env), SMTPKIT_E_USAGE);
    assert_non_null(strstr(smtpkit_session_error(&f.s)->message, fault));
    assert_int_equal(smtpkit_session_error(&f.s)->stage, SMTPKIT_STAGE_MAIL);
    assert_int_equal(f.wire_len, 0);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_FAILED);
    assert_int_equal(smtpkit_session_quit(&f.s), SMTPKIT_OK);
    drain(&f);
    assert_string_equal(f.wire, "QUIT\r\n");
}

static void test_refused_envelopes(void **state)
{
    static const char *const space[] = {"b c@example.test"};
    static const char *const good[] = {"b@example.test"};
    static const char *const crlf[] = {"b@example.test>\r\nDATA"};
    static const char *const missing[] = {NULL};

    (void)state;
    refuse("a@example.test", space, 1, "recipient \"b c@example.test\"");
    refuse("a@example.test", crlf, 1, "recipient");
    refuse("a@example.test", missing, 1, "missing");
    refuse("a@example.test", good, 0, "no recipient");
    refuse("a@b>", good, 1, "sender");
    refuse(NULL, good, 1, "no sender");
}

static void test_envelope_out_of_state(void **state)
{
    static const char *const good[] = {"b@example.test"};
    smtpkit_envelope env = {0};
    fixture f;

    (void)state;
    fixture_init(&f, SMTPKIT_TLS_NONE);
    env.mail_from = "a@example.test";
    env.rcpt = good;
    env.rcpt_count = 1;
    assert_int_equal(smtpkit_session_mail(&f.s, &env), SMTPKIT_E_STATE);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_READ);
    assert_int_equal(smtpkit_session_error(&f.s)->status, SMTPKIT_OK);
}

static void test_error_kept_through_quit(void **state)
{
    static const char *const rcpt[] = {"x@y"};
    smtpkit_envelope env = {0};
    smtpkit_error io;
    char line[400];
    fixture f;

    (void)state;
    to_ready(&f, "250 mx\r\n");
    env.mail_from = "a@example.test";
    env.rcpt = rcpt;
    env.rcpt_count = 1;
    assert_int_equal(smtpkit_session_mail(&f.s, &env), SMTPKIT_OK);
    drain(&f);
    assert_int_equal(server(&f, "250 ok\r\n"), SMTPKIT_OK);
    assert_int_equal(server(&f, "550 5.1.1 <x@y>: Recipient address rejected\r\n"),
                     SMTPKIT_E_PERMANENT);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_FAILED);
    smtpkit_error_format(smtpkit_session_error(&f.s), line, sizeof line);
    assert_string_equal(line, "RCPT TO failed: 550 5.1.1 <x@y>: Recipient address rejected "
                              "(permanent failure)");

    f.wire_len = 0;
    assert_int_equal(smtpkit_session_quit(&f.s), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_WRITE);
    drain(&f);
    assert_string_equal(f.wire, "QUIT\r\n");
    assert_int_equal(smtpkit_session_stage(&f.s), SMTPKIT_STAGE_QUIT);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_READ);
    assert_int_equal(server(&f, "221 bye\r\n"), SMTPKIT_E_PERMANENT);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_FAILED);
    assert_int_equal(smtpkit_session_error(&f.s)->reply_code, 550);
    assert_int_equal(smtpkit_session_stage(&f.s), SMTPKIT_STAGE_RCPT);
    assert_int_equal(smtpkit_session_quit(&f.s), SMTPKIT_E_STATE);

    smtpkit_error_set(&io, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "later failure");
    smtpkit_session_fail(&f.s, &io);
    assert_int_equal(smtpkit_session_error(&f.s)->status, SMTPKIT_E_PERMANENT);
}

static void test_caller_failure(void **state)
{
    smtpkit_error err;
    fixture f;

    (void)state;
    fixture_init(&f, SMTPKIT_TLS_STARTTLS);
    assert_int_equal(server(&f, "220 hi\r\n"), SMTPKIT_OK);
    assert_int_equal(server(&f, "250-mx\r\n250 STARTTLS\r\n"), SMTPKIT_OK);
    assert_int_equal(server(&f, "220 go\r\n"), SMTPKIT_OK);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_START_TLS);
    assert_int_equal(smtpkit_session_stage(&f.s), SMTPKIT_STAGE_TLS);
    smtpkit_error_set(&err, SMTPKIT_E_CERT, SMTPKIT_STAGE_NONE, "certificate expired");
    smtpkit_session_fail(&f.s, &err);
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_FAILED);
    assert_int_equal(smtpkit_session_error(&f.s)->status, SMTPKIT_E_CERT);
    assert_int_equal(smtpkit_session_error(&f.s)->stage, SMTPKIT_STAGE_TLS);
    /* no polite QUIT after a failed handshake: the stream is not plaintext SMTP any more */
    assert_int_equal(smtpkit_session_quit(&f.s), SMTPKIT_E_STATE);
}

static void test_eof_while_idle(void **state)
{
    fixture f;

    (void)state;
    to_ready(&f, "250 mx\r\n");
    assert_int_equal(smtpkit_session_eof(&f.s), SMTPKIT_E_IO);
    assert_non_null(strstr(smtpkit_session_error(&f.s)->message, "idle"));
    assert_int_equal(smtpkit_session_next(&f.s), SMTPKIT_EV_FAILED);
}

static void test_mech_names(void **state)
{
    smtpkit_auth_mech mech;

    (void)state;
    assert_string_equal(smtpkit_auth_mech_name(SMTPKIT_AUTH_CRAM_MD5), "CRAM-MD5");
    assert_true(smtpkit_auth_mech_parse("cram-md5", &mech));
    assert_int_equal(mech, SMTPKIT_AUTH_CRAM_MD5);
    assert_true(smtpkit_auth_mech_parse("OAuthBearer", &mech));
    assert_int_equal(mech, SMTPKIT_AUTH_OAUTHBEARER);
    assert_true(smtpkit_auth_mech_parse("auto", &mech));
    assert_int_equal(mech, SMTPKIT_AUTH_AUTO);
    assert_false(smtpkit_auth_mech_parse("GSSAPI", &mech));
    assert_false(smtpkit_auth_mech_parse("PLAINX", &mech));
}

static const struct CMUnitTest api_tests[] = {
    cmocka_unit_test(test_init_checks),
    cmocka_unit_test(test_capabilities),
    cmocka_unit_test(test_first_line_is_not_a_capability),
    cmocka_unit_test(test_out_of_sequence),
    cmocka_unit_test(test_partial_writes),
    cmocka_unit_test(test_body_output_full),
    cmocka_unit_test(test_two_messages_one_session),
    cmocka_unit_test(test_refused_envelopes),
    cmocka_unit_test(test_envelope_out_of_state),
    cmocka_unit_test(test_error_kept_through_quit),
    cmocka_unit_test(test_caller_failure),
    cmocka_unit_test(test_eof_while_idle),
    cmocka_unit_test(test_mech_names),
};

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : SMTPKIT_TRANSCRIPT_DIR;
    struct CMUnitTest *tests;
    char **paths;
    size_t count = transcript_list(dir, &paths);
    size_t i;
    int failed;

    if (count == 0) {
        fprintf(stderr, "no transcripts in %s\n", dir);
        return 1;
    }
    tests = calloc(count, sizeof *tests);
    for (i = 0; i < count; i++) {
        tests[i].name = strrchr(paths[i], '/') + 1;
        tests[i].test_func = run_transcript;
        tests[i].initial_state = paths[i];
    }
    failed = _cmocka_run_group_tests("transcripts", tests, count, NULL, NULL);
    failed += cmocka_run_group_tests_name("session_api", api_tests, NULL, NULL);
    free(tests);
    transcript_list_free(paths, count);
    return failed;
}
