/*
 * test_compose.c - the streaming MIME composer (smtpkit/compose.h): the four shapes of a
 * message (RFC 2046 5.1), byte for byte as worked out by hand, and its refusals.
 * check_compose.py parses many larger messages with Python's email package.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtpkit/compose.h"

#define HEAD "From: a@example.test\r\nTo: b@example.test\r\nMIME-Version: 1.0\r\n"
#define M "=_m0001020304050607"
#define A "=_a0001020304050607"
#define TEXT_QP                                                                                    \
    "Content-Type: text/plain; charset=UTF-8\r\n"                                                  \
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
#define TEXT_8BIT                                                                                  \
    "Content-Type: text/plain; charset=UTF-8\r\n"                                                  \
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
#define HTML_8BIT                                                                                  \
    "Content-Type: text/html; charset=UTF-8\r\n"                                                   \
    "Content-Transfer-Encoding: 8bit\r\n\r\n"

static const uint8_t random_bytes[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const char *const to[] = {"b@example.test"};

typedef struct fixture {
    smtpkit_message_headers h;
    smtpkit_compose_parts parts;
    smtpkit_buffer_source text, html, att[2];
    smtpkit_message_source html_src;
    smtpkit_compose_attachment atts[2];
} fixture;

static char out[8192];
static size_t out_len;

static void setup(fixture *f, const char *text, const char *html, bool eight)
{
    memset(f, 0, sizeof *f);
    f->h.from = "a@example.test";
    f->h.to = to;
    f->h.to_count = 1;
    f->parts.headers = &f->h;
    f->parts.random = random_bytes;
    f->parts.random_len = sizeof random_bytes;
    f->parts.eight_bit_ok = eight;
    smtpkit_buffer_source_init(&f->text, &f->parts.text, text, strlen(text));
    if (html != NULL) {
        smtpkit_buffer_source_init(&f->html, &f->html_src, html, strlen(html));
        f->parts.html = &f->html_src;
    }
}

static void attach(fixture *f, const char *name, const char *type, const void *data, size_t len)
{
    smtpkit_compose_attachment *a = &f->atts[f->parts.attachment_count];

    a->filename = name;
    a->content_type = type;
    smtpkit_buffer_source_init(&f->att[f->parts.attachment_count], &a->content, data, len);
    f->parts.attachments = f->atts;
    f->parts.attachment_count++;
}

/* Composes through @p size-byte reads via the message source adapter; returns the status. */
static smtpkit_status compose(fixture *f, size_t size)
{
    smtpkit_composer c;
    smtpkit_message_source src;
    smtpkit_error err;
    smtpkit_status status;
    size_t got = 0;

    out_len = 0;
    f->text.pos = f->html.pos = f->att[0].pos = f->att[1].pos = 0; /* each run reads anew */
    status = smtpkit_composer_init(&c, &f->parts, &err);
    smtpkit_composer_source(&c, &src);
    while (status == SMTPKIT_OK) {
        status = src.read(src.ctx, (uint8_t *)out + out_len, size, &got, &err);
        out_len += got;
        if (got == 0 || out_len + size >= sizeof out) {
            break;
        }
    }
    out[out_len] = '\0';
    return status;
}

static void expect(fixture *f, const char *want)
{
    size_t sizes[] = {1, 7, 4096}, i;

    for (i = 0; i < 3; i++) {
        assert_int_equal(compose(f, sizes[i]), SMTPKIT_OK);
        assert_string_equal(out, want);
    }
}

static void test_text_only(void **state)
{
    fixture f;

    (void)state;
    setup(&f, "Hi =\n", NULL, false);
    expect(&f, HEAD TEXT_QP "Hi =3D\r\n");
    /* No line end at the end: a soft break ends the message without adding to the text. */
    setup(&f, "Hi", NULL, false);
    expect(&f, HEAD TEXT_QP "Hi=\r\n");
    setup(&f, "a\rb\n\r\nc", NULL, true);
    expect(&f, HEAD TEXT_8BIT "a\r\nb\r\n\r\nc\r\n");
}

static void test_alternative(void **state)
{
    fixture f;

    (void)state;
    setup(&f, "T\rx", "<b>H</b>", true);
    expect(&f, HEAD "Content-Type: multipart/alternative; boundary=\"" A "\"\r\n\r\n"
                    "--" A "\r\n" TEXT_8BIT "T\r\nx\r\n--" A "\r\n" HTML_8BIT "<b>H</b>\r\n"
                    "--" A "--\r\n");
}

static void test_mixed(void **state)
{
    fixture f;

    (void)state;
    setup(&f, "T", NULL, false);
    attach(&f, "a.bin", "application/octet-stream", "abc", 3);
    expect(&f, HEAD "Content-Type: multipart/mixed; boundary=\"" M "\"\r\n\r\n"
                    "--" M "\r\n" TEXT_QP "T\r\n--" M "\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Transfer-Encoding: base64\r\n"
                    "Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\n"
                    "YWJj\r\n\r\n--" M "--\r\n");
}

static void test_mixed_alternative(void **state)
{
    fixture f;

    (void)state;
    setup(&f, "T\n", "H", true);
    attach(&f, "\xe2\x82\xac.txt", "text/plain", "", 0);
    expect(&f, HEAD "Content-Type: multipart/mixed; boundary=\"" M "\"\r\n\r\n"
                    "--" M "\r\nContent-Type: multipart/alternative; boundary=\"" A "\"\r\n\r\n"
                    "--" A "\r\n" TEXT_8BIT "T\r\n\r\n--" A "\r\n" HTML_8BIT "H\r\n"
                    "--" A "--\r\n\r\n--" M "\r\n"
                    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n"
                    "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.txt\r\n\r\n"
                    "\r\n--" M "--\r\n");
}

static void test_refusals(void **state)
{
    fixture f;

    (void)state;
    setup(&f, "T", NULL, false);
    f.parts.random_len = 7;
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
    setup(&f, "T", NULL, false);
    attach(&f, "a", "text plain", "", 0);
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
    setup(&f, "T", NULL, false);
    attach(&f, "a", "text/plain;x=1", "", 0);
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
    setup(&f, "T", NULL, false);
    attach(&f, "a\nb", "text/plain", "", 0);
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
    setup(&f, "T", NULL, false);
    f.h.from = "no address";
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
}

/* 8bit data may hold neither NUL nor a line over 998 octets (RFC 6152, RFC 5321 4.5.3.1.6). */
static void test_8bit_refusals(void **state)
{
    static char long_line[1000];
    fixture f;

    (void)state;
    setup(&f, "T", NULL, true);
    smtpkit_buffer_source_init(&f.text, &f.parts.text, "a\0b", 3);
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
    memset(long_line, 'x', sizeof long_line - 1);
    setup(&f, long_line, NULL, true);
    assert_int_equal(compose(&f, 64), SMTPKIT_E_USAGE);
    long_line[998] = '\0';
    setup(&f, long_line, NULL, true);
    assert_int_equal(compose(&f, 64), SMTPKIT_OK);
}

static smtpkit_status failing_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                   smtpkit_error *err)
{
    (void)ctx;
    (void)buf;
    (void)size;
    *got = 0;
    return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "disk gone");
}

/* A part callback's failure ends the composition with its own status and message. */
static void test_callback_failure(void **state)
{
    smtpkit_composer c;
    smtpkit_error err;
    uint8_t buf[4096];
    size_t got = 0;
    fixture f;

    (void)state;
    setup(&f, "T", NULL, false);
    f.parts.text.read = failing_read;
    assert_int_equal(smtpkit_composer_init(&c, &f.parts, &err), SMTPKIT_OK);
    assert_int_equal(smtpkit_composer_read(&c, buf, sizeof buf, &got, &err), SMTPKIT_E_IO);
    assert_string_equal(err.message, "disk gone");
    assert_int_equal(smtpkit_composer_read(&c, buf, sizeof buf, &got, &err), SMTPKIT_E_IO);
    assert_int_equal(got, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_only),
        cmocka_unit_test(test_alternative),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_mixed_alternative),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_8bit_refusals),
        cmocka_unit_test(test_callback_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
