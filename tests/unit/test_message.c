/*
 * test_message.c - mailboxes and the header block (src/core/message.c).
 *
 * The expected header blocks below were checked by hand with Python's email package: each was
 * parsed with email.message_from_bytes(..., policy=email.policy.default) and gave back the
 * From, To, Cc and Subject put in (including the RFC 2047 words and the folded To), with no
 * Bcc and no defects (see the comment above each).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtpkit/message.h"

static void expect_mailbox(const char *text, const char *display, const char *addr)
{
    smtpkit_mailbox mb;
    smtpkit_error err;

    assert_int_equal(smtpkit_mailbox_parse(text, &mb, &err), SMTPKIT_OK);
    assert_int_equal(mb.addr_len, strlen(addr));
    assert_memory_equal(mb.addr, addr, mb.addr_len);
    if (display == NULL) {
        assert_null(mb.display);
    } else {
        assert_non_null(mb.display);
        assert_int_equal(mb.display_len, strlen(display));
        assert_memory_equal(mb.display, display, mb.display_len);
    }
}

static void expect_bad_mailbox(const char *text)
{
    smtpkit_mailbox mb;
    smtpkit_error err;

    assert_int_equal(smtpkit_mailbox_parse(text, &mb, &err), SMTPKIT_E_USAGE);
    assert_true(strlen(err.message) > 0);
    assert_null(strpbrk(err.message, "\r\n"));
}

static void test_mailbox_good(void **state)
{
    (void)state;
    expect_mailbox("alice@example.test", NULL, "alice@example.test");
    expect_mailbox("<alice@example.test>", NULL, "alice@example.test");
    expect_mailbox("Alice Example <alice@example.test>", "Alice Example", "alice@example.test");
    expect_mailbox("  Alice   <a@b>  ", "Alice", "a@b");
    expect_mailbox("\"Doe, John\" <john@example.test>", "Doe, John", "john@example.test");
    expect_mailbox("\"a \\\"b\\\" c\" <x@y>", "a \\\"b\\\" c", "x@y");
    expect_mailbox("J\xc3\xb6rg <j@example.test>", "J\xc3\xb6rg", "j@example.test");
    expect_mailbox("\xc3\xb6@example.test", NULL, "\xc3\xb6@example.test");
}

static void test_mailbox_bad(void **state)
{
    char long_address[300];

    (void)state;
    expect_bad_mailbox("");
    expect_bad_mailbox("alice");
    expect_bad_mailbox("@example.test");
    expect_bad_mailbox("alice@");
    expect_bad_mailbox("al ice@example.test");
    expect_bad_mailbox("<alice@example.test");
    expect_bad_mailbox("alice@example.test>");
    expect_bad_mailbox("Alice <alice@example.test");
    expect_bad_mailbox("<>");
    expect_bad_mailbox("alice@example.test\r\nBcc: x@y");
    expect_bad_mailbox("alice@example.test\n");
    expect_bad_mailbox("Ali\rce <a@b>");
    expect_bad_mailbox("Ali\"ce <a@b>");
    expect_bad_mailbox("\"Alice <a@b>");
    expect_bad_mailbox("\"Ali\"ce\" <a@b>");
    expect_bad_mailbox("a\tb@example.test");
    expect_bad_mailbox("a@b@example.test");
    expect_bad_mailbox("a\"b\"@example.test");
    expect_bad_mailbox("a,b@example.test");
    expect_bad_mailbox("Alice <a;b@example.test>");
    memset(long_address, 'a', sizeof long_address);
    strcpy(long_address + 240, "@example.test"); /* 253 octets: fine */
    expect_mailbox(long_address, NULL, long_address);
    strcpy(long_address + 242, "@example.test"); /* 255 octets: too long */
    expect_bad_mailbox(long_address);
    assert_int_equal(smtpkit_mailbox_parse(NULL, &(smtpkit_mailbox){0}, NULL), SMTPKIT_E_USAGE);
}

static const smtpkit_datetime example_date = {2026, 12, 4, 7, 49, 48, 60, 5};

/* Parsed by Python: From "Alice Example <alice@example.test>", To the two mailboxes, Cc Carol,
 * Subject "Hello", Date 2026-12-04 07:49:48+01:00; no Bcc header. */
static const char example_block[] = "Date: Fri, 04 Dec 2026 07:49:48 +0100\r\n"
                                    "From: Alice Example <alice@example.test>\r\n"
                                    "To: bob@example.test, \"Doe, John\" <john@example.test>\r\n"
                                    "Cc: Carol <carol@example.test>\r\n"
                                    "Subject: Hello\r\n"
                                    "Message-ID: <0123456789abcdef@example.test>\r\n"
                                    "MIME-Version: 1.0\r\n"
                                    "Content-Type: text/plain; charset=UTF-8\r\n"
                                    "Content-Transfer-Encoding: 8bit\r\n"
                                    "\r\n";

static void example_headers(smtpkit_message_headers *h)
{
    static const char *const to[] = {"bob@example.test", "\"Doe, John\" <john@example.test>"};
    static const char *const cc[] = {"Carol <carol@example.test>"};

    memset(h, 0, sizeof *h);
    h->from = "Alice Example <alice@example.test>";
    h->to = to;
    h->to_count = 2;
    h->cc = cc;
    h->cc_count = 1;
    h->subject = "Hello";
    h->message_id = "<0123456789abcdef@example.test>";
    h->date = &example_date;
}

static void test_header_block(void **state)
{
    smtpkit_message_headers h;
    smtpkit_error err;
    char out[1024];
    size_t written = 0;

    (void)state;
    example_headers(&h);
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_OK);
    assert_int_equal(written, sizeof example_block - 1);
    assert_string_equal(out, example_block);
}

/* The block needs exactly its length plus the NUL: that size works, one byte less does not. */
static void test_header_block_exact_size(void **state)
{
    const size_t need = sizeof example_block;
    smtpkit_message_headers h;
    smtpkit_error err;
    char *out = malloc(need);
    size_t written = 0;

    (void)state;
    example_headers(&h);
    assert_int_equal(smtpkit_message_write_headers(&h, out, need, &written, &err), SMTPKIT_OK);
    assert_string_equal(out, example_block);
    assert_int_equal(smtpkit_message_write_headers(&h, out, need - 1, &written, &err),
                     SMTPKIT_E_BUFFER);
    assert_int_equal(written, 0);
    assert_int_equal(err.status, SMTPKIT_E_BUFFER);
    free(out);
}

/* Parsed by Python: To holds the five addresses, unfolded; every line within 78 columns. */
static void test_folded_to(void **state)
{
    static const char *const to[] = {"alice@example.test", "Bob Builder <bob@example.test>",
                                     "carol@example.test", "\"Doe, John\" <john.doe@example.test>",
                                     "eve@example.test"};
    static const char expected[] =
        "From: a@example.test\r\n"
        "To: alice@example.test, Bob Builder <bob@example.test>, carol@example.test,\r\n"
        " \"Doe, John\" <john.doe@example.test>, eve@example.test\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n";
    smtpkit_message_headers h = {0};
    char out[1024];
    size_t written;

    (void)state;
    h.from = "a@example.test";
    h.to = to;
    h.to_count = 5;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, NULL),
                     SMTPKIT_OK);
    assert_string_equal(out, expected);
}

/* Parsed by Python: From display name "Jörg Müller", Subject the long German sentence. */
static void test_encoded_words(void **state)
{
    static const char expected[] =
        "From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <j@example.test>\r\n"
        "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4g4oCTIGVpbiBCZXRyZWZmLCBkZXIg?=\r\n"
        " =?UTF-8?B?bMOkbmdlciBpc3QgYWxzIGbDvG5mdW5kdmllcnppZyBCeXRlcyBp?=\r\n"
        " =?UTF-8?B?biBVVEYtOA==?=\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n";
    smtpkit_message_headers h = {0};
    char out[1024];
    size_t written;

    (void)state;
    h.from = "J\xc3\xb6rg M\xc3\xbcller <j@example.test>";
    h.subject = "Gr\xc3\xbc\xc3\x9f"
                "e aus K\xc3\xb6ln \xe2\x80\x93 ein Betreff, der l\xc3\xa4nger "
                "ist als f\xc3\xbcnfundvierzig Bytes in UTF-8";
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, NULL),
                     SMTPKIT_OK);
    assert_string_equal(out, expected);
}

static void test_display_names_quoted_when_needed(void **state)
{
    static const char expected[] = "From: \"J. Doe\" <j@example.test>\r\n"
                                   "To: \"a \\\"b\\\" c\" <x@example.test>, Plain Name+tag"
                                   " <p@example.test>\r\n";
    static const char *const to[] = {"\"a \\\"b\\\" c\" <x@example.test>",
                                     "Plain Name+tag <p@example.test>"};
    smtpkit_message_headers h = {0};
    char out[1024];
    size_t written;

    (void)state;
    h.from = "J. Doe <j@example.test>";
    h.to = to;
    h.to_count = 2;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, NULL),
                     SMTPKIT_OK);
    assert_memory_equal(out, expected, sizeof expected - 1);
}

static void test_dates(void **state)
{
    smtpkit_datetime d = {1999, 1, 31, 23, 5, 9, -300, 0};
    smtpkit_message_headers h = {0};
    smtpkit_error err;
    char out[512];
    size_t written;

    (void)state;
    h.from = "a@example.test";
    h.date = &d;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_OK);
    assert_memory_equal(out, "Date: Sun, 31 Jan 1999 23:05:09 -0500\r\n", 39);
    d.utc_offset_minutes = 330;
    d.weekday = 5;
    d.month = 12;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_OK);
    assert_memory_equal(out, "Date: Fri, 31 Dec 1999 23:05:09 +0530\r\n", 39);
    d.month = 13;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
}

static void test_refused_input(void **state)
{
    static const char *const bad_to[] = {"b@example.test\r\nBcc: evil@example.test"};
    smtpkit_message_headers h = {0};
    smtpkit_error err;
    char out[512];
    size_t written;

    (void)state;
    h.from = "a@example.test";
    h.subject = "Hi\r\nBcc: evil@example.test";
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
    h.subject = "Hi\n";
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
    h.subject = NULL;
    h.to = bad_to;
    h.to_count = 1;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
    h.to_count = 0;
    h.message_id = "no-angle@example.test";
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
    h.message_id = NULL;
    h.from = "Alice\n <a@example.test>";
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
    h.from = NULL;
    assert_int_equal(smtpkit_message_write_headers(&h, out, sizeof out, &written, &err),
                     SMTPKIT_E_USAGE);
}

static void test_long_ascii_subject(void **state)
{
    smtpkit_message_headers h = {0};
    char subject[1000];
    char *out = malloc(4096);
    size_t written;

    (void)state;
    h.from = "a@example.test";
    memset(subject, 's', sizeof subject);
    subject[998 - 9] = '\0'; /* "Subject: " + 989 = 998 octets: allowed */
    h.subject = subject;
    assert_int_equal(smtpkit_message_write_headers(&h, out, 4096, &written, NULL), SMTPKIT_OK);
    subject[998 - 9] = 's';
    subject[998 - 8] = '\0';
    assert_int_equal(smtpkit_message_write_headers(&h, out, 4096, &written, NULL), SMTPKIT_E_USAGE);
    free(out);
}

static void test_make_id(void **state)
{
    static const uint8_t random[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    static const char expected[] = "<0123456789abcdef@example.test>";
    char out[64];

    (void)state;
    assert_int_equal(
        smtpkit_message_make_id(random, sizeof random, "example.test", out, sizeof expected),
        SMTPKIT_OK);
    assert_string_equal(out, expected);
    assert_int_equal(
        smtpkit_message_make_id(random, sizeof random, "example.test", out, sizeof expected - 1),
        SMTPKIT_E_BUFFER);
    assert_int_equal(smtpkit_message_make_id(random, sizeof random, "exa mple", out, sizeof out),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_message_make_id(random, sizeof random, "a\r\nb", out, sizeof out),
                     SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_message_make_id(random, 0, "example.test", out, sizeof out),
                     SMTPKIT_E_USAGE);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailbox_good),
        cmocka_unit_test(test_mailbox_bad),
        cmocka_unit_test(test_header_block),
        cmocka_unit_test(test_header_block_exact_size),
        cmocka_unit_test(test_folded_to),
        cmocka_unit_test(test_encoded_words),
        cmocka_unit_test(test_display_names_quoted_when_needed),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_refused_input),
        cmocka_unit_test(test_long_ascii_subject),
        cmocka_unit_test(test_make_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
