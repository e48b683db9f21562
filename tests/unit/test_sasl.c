/*
 * test_sasl.c - known answers of the SASL mechanisms (src/core/sasl.c).
 *
 * Every expected value below was computed outside smtpkit:
 *   PLAIN:       printf '\0user\0pass' | base64                      -> AHVzZXIAcGFzcw==
 *                python3: base64.b64encode(b"\0u\0" + b"p" * n)      (n = 45, 46, 47, 100)
 *   LOGIN:       printf 'user' | base64; printf 'pass' | base64
 *   CRAM-MD5:    RFC 2195 section 2 (tim / tanstaaftanstaaf), and python3:
 *                hmac.new(b"correct horse", b"<123.456@mx.example.test>", hashlib.md5)
 *                .hexdigest(), then base64 of "alice " + digest
 *   XOAUTH2:     Google's documented example (someuser@example.com), re-checked with
 *                base64.b64encode(b"user=...\x01auth=Bearer ...\x01\x01")
 *   OAUTHBEARER: RFC 7628 section 4.1 example, re-checked with python3 base64; the escaped
 *                user with base64.b64encode(b"n,a=a=3Db=2Cc@example.com,\x01auth=Bearer T\x01\x01")
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/sasl.h"

#define RFC2195_CHALLENGE "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
#define RFC2195_ANSWER "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"

static void test_plain(void **state)
{
    char out[256];
    size_t len = 99;

    (void)state;
    assert_int_equal(smtpkit_sasl_plain("user", "pass", out, sizeof out, &len), SMTPKIT_OK);
    assert_string_equal(out, "AHVzZXIAcGFzcw==");
    assert_int_equal(len, 16);
}

/* Raw lengths around the 48-byte block of the streaming encoder: 48, 49, 50 and 103. */
static void test_plain_across_blocks(void **state)
{
    static const struct {
        size_t n;
        const char *expected;
    } cases[] = {
        {45, "AHUAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw"},
        {46, "AHUAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcA=="},
        {47, "AHUAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHA="},
        {100, "AHUAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw"
              "cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcA=="},
    };
    char password[128];
    char out[256];
    size_t len, i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(password, 'p', cases[i].n);
        password[cases[i].n] = '\0';
        assert_int_equal(smtpkit_sasl_plain("u", password, out, sizeof out, &len), SMTPKIT_OK);
        assert_string_equal(out, cases[i].expected);
        assert_int_equal(len, strlen(cases[i].expected));
    }
}

/* The output buffer at the exact size (base64 plus the NUL) and one byte short. */
static void test_exact_size(void **state)
{
    char out[17];
    size_t len;

    (void)state;
    assert_int_equal(smtpkit_sasl_plain("user", "pass", out, 17, &len), SMTPKIT_OK);
    assert_string_equal(out, "AHVzZXIAcGFzcw==");
    assert_int_equal(smtpkit_sasl_plain("user", "pass", out, 16, &len), SMTPKIT_E_BUFFER);
    assert_int_equal(len, 0);
    assert_int_equal(smtpkit_sasl_login("user", out, 9, &len), SMTPKIT_OK);
    assert_string_equal(out, "dXNlcg==");
    assert_int_equal(smtpkit_sasl_login("user", out, 8, &len), SMTPKIT_E_BUFFER);
    assert_int_equal(smtpkit_sasl_login("user", out, 0, &len), SMTPKIT_E_BUFFER);
}

static void test_login(void **state)
{
    smtpkit_sasl_credentials cred = {"user", "pass", NULL, 0};
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(smtpkit_sasl_answer(SMTPKIT_AUTH_LOGIN, 0, &cred, "UGFzc3dvcmQ6", 12, out,
                                         sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "dXNlcg==");
    assert_int_equal(smtpkit_sasl_answer(SMTPKIT_AUTH_LOGIN, 1, &cred, "VXNlcm5hbWU6", 12, out,
                                         sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "cGFzcw==");
    assert_int_equal(
        smtpkit_sasl_answer(SMTPKIT_AUTH_LOGIN, 2, &cred, "", 0, out, sizeof out, &len),
        SMTPKIT_E_PROTOCOL);
    assert_false(smtpkit_sasl_has_initial(SMTPKIT_AUTH_LOGIN));
}

static void test_cram_md5(void **state)
{
    static const char challenge[] = RFC2195_CHALLENGE;
    char out[128];
    size_t len;

    (void)state;
    assert_int_equal(smtpkit_sasl_cram_md5("tim", "tanstaaftanstaaf", challenge,
                                           sizeof challenge - 1, out, sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, RFC2195_ANSWER);
    assert_int_equal(len, strlen(RFC2195_ANSWER));
    assert_int_equal(smtpkit_sasl_cram_md5("alice", "correct horse",
                                           "PDEyMy40NTZAbXguZXhhbXBsZS50ZXN0Pg==", 36, out,
                                           sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "YWxpY2UgZGJmZTNkOTQ4MTBhNDQ1ZWUxOGQxMjBjZGNlMzI1OTE=");
    assert_false(smtpkit_sasl_has_initial(SMTPKIT_AUTH_CRAM_MD5));
}

static void test_cram_md5_bad_challenges(void **state)
{
    char big[SMTPKIT_SASL_CHALLENGE_MAX * 2];
    char out[128];
    size_t len;

    (void)state;
    assert_int_equal(smtpkit_sasl_cram_md5("tim", "x", "!!!!", 4, out, sizeof out, &len),
                     SMTPKIT_E_PROTOCOL);
    assert_int_equal(smtpkit_sasl_cram_md5("tim", "x", "", 0, out, sizeof out, &len),
                     SMTPKIT_E_PROTOCOL);
    memset(big, 'A', sizeof big); /* decodes to 768 zero bytes: longer than accepted */
    assert_int_equal(smtpkit_sasl_cram_md5("tim", "x", big, sizeof big, out, sizeof out, &len),
                     SMTPKIT_E_PROTOCOL);
    assert_int_equal(smtpkit_sasl_cram_md5("tim", "tanstaaftanstaaf", RFC2195_CHALLENGE,
                                           strlen(RFC2195_CHALLENGE), out, 48, &len),
                     SMTPKIT_E_BUFFER);
}

static void test_xoauth2(void **state)
{
    smtpkit_sasl_credentials cred = {"someuser@example.com",
                                     "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL, 0};
    char out[256];
    size_t len;

    (void)state;
    assert_true(smtpkit_sasl_has_initial(SMTPKIT_AUTH_XOAUTH2));
    assert_int_equal(smtpkit_sasl_initial(SMTPKIT_AUTH_XOAUTH2, &cred, out, sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdD"
                             "RxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
    /* an error challenge is answered with an empty response */
    assert_int_equal(
        smtpkit_sasl_answer(SMTPKIT_AUTH_XOAUTH2, 0, &cred, "e30=", 4, out, sizeof out, &len),
        SMTPKIT_OK);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    assert_int_equal(
        smtpkit_sasl_answer(SMTPKIT_AUTH_XOAUTH2, 1, &cred, "e30=", 4, out, sizeof out, &len),
        SMTPKIT_E_PROTOCOL);
}

static void test_oauthbearer(void **state)
{
    smtpkit_sasl_credentials cred = {
        "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com",
        143};
    char out[256];
    size_t len;

    (void)state;
    assert_int_equal(smtpkit_sasl_initial(SMTPKIT_AUTH_OAUTHBEARER, &cred, out, sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcn"
                             "Q9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRH"
                             "RXVZMjl0Q2c9PQEB");
    cred.oauth_host = NULL;
    cred.oauth_port = 0;
    assert_int_equal(smtpkit_sasl_initial(SMTPKIT_AUTH_OAUTHBEARER, &cred, out, sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52Yj"
                             "NSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
    /* RFC 7628 section 3.2.3: a single 0x01 answers the error challenge */
    assert_int_equal(
        smtpkit_sasl_answer(SMTPKIT_AUTH_OAUTHBEARER, 0, &cred, "e30=", 4, out, sizeof out, &len),
        SMTPKIT_OK);
    assert_string_equal(out, "AQ==");
}

static void test_oauthbearer_escapes_user(void **state)
{
    char out[128];
    size_t len;

    (void)state;
    assert_int_equal(
        smtpkit_sasl_oauthbearer("a=b,c@example.com", "T", NULL, 0, out, sizeof out, &len),
        SMTPKIT_OK);
    assert_string_equal(out, "bixhPWE9M0RiPTJDY0BleGFtcGxlLmNvbSwBYXV0aD1CZWFyZXIgVAEB");
}

static void test_plain_has_no_challenge(void **state)
{
    smtpkit_sasl_credentials cred = {"user", "pass", NULL, 0};
    char out[64];
    size_t len;

    (void)state;
    assert_true(smtpkit_sasl_has_initial(SMTPKIT_AUTH_PLAIN));
    assert_int_equal(smtpkit_sasl_initial(SMTPKIT_AUTH_PLAIN, &cred, out, sizeof out, &len),
                     SMTPKIT_OK);
    assert_string_equal(out, "AHVzZXIAcGFzcw==");
    assert_int_equal(
        smtpkit_sasl_answer(SMTPKIT_AUTH_PLAIN, 0, &cred, "", 0, out, sizeof out, &len),
        SMTPKIT_E_PROTOCOL);
    assert_int_equal(smtpkit_sasl_initial(SMTPKIT_AUTH_LOGIN, &cred, out, sizeof out, &len),
                     SMTPKIT_E_INTERNAL);
}

static void test_lookup_and_wipe(void **state)
{
    smtpkit_auth_mech mech;
    char secret[] = "hunter2";
    size_t i;

    (void)state;
    assert_true(smtpkit_sasl_lookup("cram-md5", 8, &mech));
    assert_int_equal(mech, SMTPKIT_AUTH_CRAM_MD5);
    assert_true(smtpkit_sasl_lookup("PLAIN-CLIENTTOKEN", 5, &mech));
    assert_int_equal(mech, SMTPKIT_AUTH_PLAIN);
    assert_false(smtpkit_sasl_lookup("PLAIN-CLIENTTOKEN", 17, &mech));
    assert_false(smtpkit_sasl_lookup("AUTO", 4, &mech));
    assert_true(smtpkit_sasl_enabled(SMTPKIT_AUTH_CRAM_MD5));
    assert_false(smtpkit_sasl_enabled(SMTPKIT_AUTH_AUTO));
    smtpkit_sasl_wipe(secret, sizeof secret);
    for (i = 0; i < sizeof secret; i++) {
        assert_int_equal(secret[i], 0);
    }
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_plain_across_blocks),
        cmocka_unit_test(test_exact_size),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_cram_md5),
        cmocka_unit_test(test_cram_md5_bad_challenges),
        cmocka_unit_test(test_xoauth2),
        cmocka_unit_test(test_oauthbearer),
        cmocka_unit_test(test_oauthbearer_escapes_user),
        cmocka_unit_test(test_plain_has_no_challenge),
        cmocka_unit_test(test_lookup_and_wipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
