/*
 * test_transport.c - the blocking pump smtpkit_transport_send() (src/core/transport.c): every
 * transcript through a scripted port, the stages reported to the port, every port and message
 * source call failed in turn, and the in-memory message source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/transport.h"
#include "transcript.h"

static const char *dir;

static transcript *load(const char *name)
{
    transcript *t = transcript_open(dir, name);

    assert_non_null(t);
    return t;
}

static void test_all_transcripts(void **state)
{
    char why[TRANSCRIPT_WHY_MAX];
    char **paths;
    size_t count = transcript_list(dir, &paths);
    size_t i;

    (void)state;
    assert_true(count > 0);
    for (i = 0; i < count; i++) {
        transcript *t = load(strrchr(paths[i], '/') + 1);
        transcript_outcome o;

        transcript_run_pump(t, &o);
        if (!transcript_check(t, &o, true, why, sizeof why)) {
            fail_msg("%s", why);
        }
        transcript_outcome_free(&o);
        transcript_close(t);
    }
    transcript_list_free(paths, count);
}

static void test_stages_reported(void **state)
{
    static const smtpkit_stage expected[] = {
        SMTPKIT_STAGE_GREETING, SMTPKIT_STAGE_EHLO, SMTPKIT_STAGE_STARTTLS, SMTPKIT_STAGE_TLS,
        SMTPKIT_STAGE_EHLO,     SMTPKIT_STAGE_AUTH, SMTPKIT_STAGE_NONE,     SMTPKIT_STAGE_MAIL,
        SMTPKIT_STAGE_RCPT,     SMTPKIT_STAGE_DATA, SMTPKIT_STAGE_BODY,     SMTPKIT_STAGE_NONE,
        SMTPKIT_STAGE_QUIT,     SMTPKIT_STAGE_NONE};
    transcript *t = load("starttls_auth_plain.txt");
    transcript_outcome o;
    size_t i;

    (void)state;
    transcript_run_pump(t, &o);
    assert_int_equal(o.pump_status, SMTPKIT_OK);
    for (i = 0; i < o.stage_count && i < sizeof expected / sizeof expected[0]; i++) {
        if (o.stages[i] != expected[i]) {
            fail_msg("stage %zu is %d, expected %d", i, (int)o.stages[i], (int)expected[i]);
        }
    }
    assert_int_equal(o.stage_count, sizeof expected / sizeof expected[0]);
    transcript_outcome_free(&o);
    transcript_close(t);
}

/* Fails call 1, 2, 3, ... of the port and the message source until a run needs no failure.
 * A failure before the server accepted the message is reported with the injected class; one
 * after it (QUIT, 221) does not undo the delivery. */
static void fail_each_call(const char *name)
{
    transcript *t = load(name);
    transcript_fault fault;
    transcript_outcome o;
    size_t k;

    for (k = 1;; k++) {
        memset(&fault, 0, sizeof fault);
        fault.fail_call = k;
        transcript_run_pump_fault(t, &fault, &o);
        transcript_outcome_free(&o);
        if (fault.calls < k) {
            break; /* the run completed without reaching call k */
        }
        if (fault.accepted_call != 0 && k > fault.accepted_call) {
            assert_int_equal(o.pump_status, SMTPKIT_OK);
            continue;
        }
        if (o.pump_status != SMTPKIT_E_IO && o.pump_status != SMTPKIT_E_CERT) {
            fail_msg("%s: call %zu failed, pump returned %d (%s)", name, k, (int)o.pump_status,
                     o.error.message);
        }
        assert_int_equal(o.error.status, o.pump_status);
        assert_true(strlen(o.error.message) > 0);
    }
    assert_true(k > 10);
    transcript_close(t);
}

static void test_every_call_failed_in_turn(void **state)
{
    (void)state;
    fail_each_call("starttls_auth_plain.txt");
    fail_each_call("implicit_auth_login.txt");
    fail_each_call("big_body.txt");
}

static void test_buffer_source(void **state)
{
    static const char text[] = "0123456789";
    smtpkit_buffer_source state_;
    smtpkit_message_source src;
    smtpkit_error err;
    uint8_t buf[4];
    size_t got;

    (void)state;
    smtpkit_buffer_source_init(&state_, &src, text, 10);
    assert_int_equal(src.read(src.ctx, buf, 4, &got, &err), SMTPKIT_OK);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "0123", 4);
    assert_int_equal(src.read(src.ctx, buf, 4, &got, &err), SMTPKIT_OK);
    assert_int_equal(src.read(src.ctx, buf, 4, &got, &err), SMTPKIT_OK);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "89", 2);
    assert_int_equal(src.read(src.ctx, buf, 4, &got, &err), SMTPKIT_OK);
    assert_int_equal(got, 0);
}

static void test_bad_arguments(void **state)
{
    smtpkit_session_config config = {0};
    smtpkit_transport port = {0};
    smtpkit_envelope env = {0};
    smtpkit_message_source src = {0};
    uint8_t out[SMTPKIT_SESSION_OUTPUT_MIN];
    smtpkit_error err;

    (void)state;
    assert_int_equal(smtpkit_transport_send(&port, &config, &env, &src, out, sizeof out, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(err.status, SMTPKIT_E_USAGE);
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_transcripts),
        cmocka_unit_test(test_stages_reported),
        cmocka_unit_test(test_every_call_failed_in_turn),
        cmocka_unit_test(test_buffer_source),
        cmocka_unit_test(test_bad_arguments),
    };

    dir = argc > 1 ? argv[1] : SMTPKIT_TRANSCRIPT_DIR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
