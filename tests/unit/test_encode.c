/*
 * test_encode.c - the composer's encoders (smtpkit/encode.h) against values worked out by hand
 * from RFC 2045, RFC 2047 and RFC 2231. check_encode.py decodes many more outputs with
 * Python's own decoders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtpkit/encode.h"

static char out[4096];
static size_t out_len;

static void b64(const void *in, size_t len)
{
    smtpkit_b64_encoder enc;
    size_t used = 0, made = 0;

    smtpkit_b64_init(&enc);
    assert_int_equal(smtpkit_b64_update(&enc, in, len, out, sizeof out, &used, &made), SMTPKIT_OK);
    assert_int_equal(used, len);
    out_len = made;
    assert_int_equal(smtpkit_b64_finish(&enc, out + out_len, sizeof out - out_len, &made),
                     SMTPKIT_OK);
    out_len += made;
    out[out_len] = '\0';
}

static void qp(const char *in)
{
    smtpkit_qp_encoder enc;
    size_t used = 0, made = 0;

    smtpkit_qp_init(&enc);
    assert_int_equal(smtpkit_qp_update(&enc, in, strlen(in), out, sizeof out, &used, &made),
                     SMTPKIT_OK);
    assert_int_equal(used, strlen(in));
    out_len = made;
    assert_int_equal(smtpkit_qp_finish(&enc, out + out_len, sizeof out - out_len, &made),
                     SMTPKIT_OK);
    out_len += made;
    out[out_len] = '\0';
}

static void test_b64_groups(void **state)
{
    (void)state;
    b64("", 0);
    assert_string_equal(out, "");
    b64("M", 1);
    assert_string_equal(out, "TQ==\r\n");
    b64("Ma", 2);
    assert_string_equal(out, "TWE=\r\n");
    b64("Man", 3);
    assert_string_equal(out, "TWFu\r\n");
}

static void test_b64_line_boundaries(void **state)
{
    static const uint8_t zeros[58];
    char line[80];

    (void)state;
    memset(line, 'A', 76);
    memcpy(line + 76, "\r\n", 3);
    b64(zeros, 57); /* 57 bytes are exactly 76 characters: one full line */
    assert_string_equal(out, line);
    b64(zeros, 58);
    assert_int_equal(out_len, 78 + 6);
    assert_memory_equal(out, line, 78);
    assert_string_equal(out + 78, "AA==\r\n");
}

static void test_b64_streams_through_small_buffer(void **state)
{
    smtpkit_b64_encoder enc;
    char small[SMTPKIT_ENCODE_OUT_MIN];
    size_t used = 0, made = 0;

    (void)state;
    smtpkit_b64_init(&enc);
    assert_int_equal(smtpkit_b64_update(&enc, "Man", 3, small, sizeof small - 1, &used, &made),
                     SMTPKIT_E_BUFFER);
    assert_int_equal(
        smtpkit_b64_update(&enc, "ManManManManMan", 15, small, sizeof small, &used, &made),
        SMTPKIT_OK);
    assert_true(used > 0 && used < 15); /* stopped when the buffer could not take a group */
    assert_memory_equal(small, "TWFuTWFu", 8);
}

static void test_qp_rules(void **state)
{
    (void)state;
    qp("a=b");
    assert_string_equal(out, "a=3Db");
    qp("caf\xc3\xa9");
    assert_string_equal(out, "caf=C3=A9");
    qp("end \nx\t");
    assert_string_equal(out, "end=20\r\nx=09");
    qp("two  spaces");
    assert_string_equal(out, "two  spaces");
    qp(".\n..x\n");
    assert_string_equal(out, "=2E\r\n=2E.x\r\n");
    qp("From me");
    assert_string_equal(out, "From me");
}

static void test_qp_line_ends(void **state)
{
    (void)state;
    qp("a\rb\nc\r\nd\n\re");
    assert_string_equal(out, "a\r\nb\r\nc\r\nd\r\n\r\ne");
    qp("x\r");
    assert_string_equal(out, "x\r\n");
}

static void test_qp_soft_breaks(void **state)
{
    char in[77], expect[96];

    (void)state;
    memset(in, 'a', 76);
    in[76] = '\0';
    qp(in); /* 75 characters and the '=' of the soft break make a line of 76 */
    memset(expect, 'a', 75);
    strcpy(expect + 75, "=\r\na");
    assert_string_equal(out, expect);
    memset(in, 'a', 74);
    strcpy(in + 74, "\xc3\xa9"); /* =C3 would pass column 75: it moves to the next line */
    qp(in);
    memset(expect, 'a', 74);
    strcpy(expect + 74, "=\r\n=C3=A9");
    assert_string_equal(out, expect);
}

static void test_header_ascii(void **state)
{
    smtpkit_error err;
    size_t len = 0;

    (void)state;
    assert_int_equal(smtpkit_encode_header_text("Subject", "Hello", out, sizeof out, &len, &err),
                     SMTPKIT_OK);
    assert_string_equal(out, "Subject: Hello\r\n");
    assert_int_equal(len, 16);
    assert_int_equal(smtpkit_encode_header_text("Subject",
                                                "0123456789 0123456789 0123456789 0123456789 "
                                                "0123456789 0123456789 0123456789",
                                                out, sizeof out, &len, &err),
                     SMTPKIT_OK);
    assert_string_equal(out, "Subject: 0123456789 0123456789 0123456789 0123456789 0123456789 "
                             "0123456789\r\n 0123456789\r\n");
}

static void test_header_encoded(void **state)
{
    smtpkit_error err;
    size_t len = 0;

    (void)state;
    /* U+20AC is E2 82 AC; base64 of those three bytes is 4oKs. */
    assert_int_equal(
        smtpkit_encode_header_text("Subject", "\xe2\x82\xac", out, sizeof out, &len, &err),
        SMTPKIT_OK);
    assert_string_equal(out, "Subject: =?UTF-8?B?4oKs?=\r\n");
    assert_int_equal(smtpkit_encode_header_text("Subject", "\xe2\x82\xac", out, 20, &len, &err),
                     SMTPKIT_E_BUFFER);
}

static void test_header_refusals(void **state)
{
    smtpkit_error err;
    size_t len = 0;

    (void)state;
    assert_int_equal(
        smtpkit_encode_header_text("Subject", "a\r\nBcc: x@y", out, sizeof out, &len, &err),
        SMTPKIT_E_USAGE);
    assert_non_null(strstr(err.message, "Subject"));
    assert_non_null(strstr(err.message, "CR or LF"));
    assert_int_equal(smtpkit_encode_header_text("Subject", "a\x01", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_encode_header_text("Subject", "\xc3(", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_non_null(strstr(err.message, "UTF-8"));
    /* overlong '/', a surrogate, a code point above U+10FFFF */
    assert_int_equal(smtpkit_encode_header_text("X", "\xc0\xaf", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_encode_header_text("X", "\xed\xa0\x80", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(
        smtpkit_encode_header_text("X", "\xf4\x90\x80\x80", out, sizeof out, &len, &err),
        SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_encode_header_text("Bad Name", "x", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_encode_header_text("", "x", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
}

static void test_filename(void **state)
{
    smtpkit_error err;
    size_t len = 0;

    (void)state;
    assert_int_equal(smtpkit_encode_filename_param("report.csv", out, sizeof out, &len, &err),
                     SMTPKIT_OK);
    assert_string_equal(out, "filename=\"report.csv\"");
    assert_int_equal(len, 21);
    assert_int_equal(smtpkit_encode_filename_param("a\"b\\c", out, sizeof out, &len, &err),
                     SMTPKIT_OK);
    assert_string_equal(out, "filename=\"a\\\"b\\\\c\"");
    assert_int_equal(
        smtpkit_encode_filename_param("\xe2\x82\xac 1.txt", out, sizeof out, &len, &err),
        SMTPKIT_OK);
    assert_string_equal(out, "filename*=UTF-8''%E2%82%AC%201.txt");
    assert_int_equal(smtpkit_encode_filename_param("report.csv", out, 21, &len, &err),
                     SMTPKIT_E_BUFFER);
}

static void test_filename_refusals(void **state)
{
    static char name[SMTPKIT_FILENAME_PARAM_MAX + 2];
    smtpkit_error err;
    size_t len = 0;

    (void)state;
    assert_int_equal(smtpkit_encode_filename_param("", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_encode_filename_param("a\nb", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_encode_filename_param("\xff.bin", out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
    memset(name, 'a', 300);
    memcpy(name + 300, "\xc3\xa9", 2); /* 300 + 6 of "%C3%A9" + 17 of the prefix: fits */
    assert_int_equal(smtpkit_encode_filename_param(name, out, sizeof out, &len, &err), SMTPKIT_OK);
    assert_int_equal(len, 17 + 300 + 6);
    memset(name, 'a', SMTPKIT_FILENAME_PARAM_MAX + 1);
    assert_int_equal(smtpkit_encode_filename_param(name, out, sizeof out, &len, &err),
                     SMTPKIT_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_groups),
        cmocka_unit_test(test_b64_line_boundaries),
        cmocka_unit_test(test_b64_streams_through_small_buffer),
        cmocka_unit_test(test_qp_rules),
        cmocka_unit_test(test_qp_line_ends),
        cmocka_unit_test(test_qp_soft_breaks),
        cmocka_unit_test(test_header_ascii),
        cmocka_unit_test(test_header_encoded),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_filename),
        cmocka_unit_test(test_filename_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
