/*
 * test_reply.c - the incremental reply parser (src/core/reply.c): RFC 5321 section 4.2 reply
 * grammar, RFC 3463 enhanced codes, line and line-count limits, and independence from how the
 * bytes are cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtpkit/reply.h"

typedef struct parsed {
    smtpkit_reply_result result; /* DONE or ERROR, or MORE when the bytes ran out */
    size_t lines;                /* LINE and DONE results seen */
    size_t consumed;             /* bytes used up to the result */
    char line_texts[2048];       /* line texts joined by '|' */
} parsed;

/* Feeds @p len bytes of @p text in pieces of @p step bytes (0: all at once) until the reply
 * is complete or refused. */
static parsed feed(smtpkit_reply_parser *p, const char *text, size_t len, size_t step)
{
    parsed out = {SMTPKIT_REPLY_MORE, 0, 0, ""};
    size_t at = 0;

    while (at < len) {
        size_t piece = step == 0 || len - at < step ? len - at : step;
        size_t used = 0;
        const char *line;
        size_t line_len;

        out.result = smtpkit_reply_feed(p, (const uint8_t *)text + at, piece, &used);
        assert_true(used <= piece);
        at += used;
        out.consumed = at;
        if (out.result == SMTPKIT_REPLY_LINE || out.result == SMTPKIT_REPLY_DONE) {
            line = smtpkit_reply_line_text(p, &line_len);
            assert_int_equal(strlen(line), line_len);
            if (out.lines++ > 0) {
                strncat(out.line_texts, "|", sizeof out.line_texts - strlen(out.line_texts) - 1);
            }
            strncat(out.line_texts, line, sizeof out.line_texts - strlen(out.line_texts) - 1);
        }
        if (out.result == SMTPKIT_REPLY_DONE || out.result == SMTPKIT_REPLY_ERROR) {
            break;
        }
    }
    return out;
}

static parsed parse(smtpkit_reply_parser *p, const char *text)
{
    smtpkit_reply_init(p);
    return feed(p, text, strlen(text), 0);
}

static void expect_reply(const char *text, unsigned code, const char *enhanced, const char *body)
{
    smtpkit_reply_parser p;
    parsed r = parse(&p, text);
    const smtpkit_reply *reply = smtpkit_reply_get(&p);

    assert_int_equal(r.result, SMTPKIT_REPLY_DONE);
    assert_int_equal(r.consumed, strlen(text));
    assert_int_equal(reply->code, code);
    assert_string_equal(reply->enhanced, enhanced);
    assert_string_equal(reply->text, body);
}

static void expect_error(const char *text)
{
    smtpkit_reply_parser p;
    parsed r = parse(&p, text);

    assert_int_equal(r.result, SMTPKIT_REPLY_ERROR);
    assert_true(strlen(smtpkit_reply_error(&p)) > 0);
}

static void test_single_lines(void **state)
{
    (void)state;
    expect_reply("250 OK\r\n", 250, "", "OK");
    expect_reply("220 mx.example.test ESMTP ready\r\n", 220, "", "mx.example.test ESMTP ready");
    expect_reply("250\r\n", 250, "", "");
    expect_reply("250 \r\n", 250, "", "");
    expect_reply("221 bye\n", 221, "", "bye");
    expect_reply("354 End data with <CR><LF>.<CR><LF>\r\n", 354, "",
                 "End data with <CR><LF>.<CR><LF>");
    expect_reply("334 \r\n", 334, "", "");
    expect_reply("559 x\r\n", 559, "", "x");
    expect_reply("200 x\r\n", 200, "", "x");
}

static void test_multi_line(void **state)
{
    static const char ehlo[] = "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
                               "250 AUTH PLAIN LOGIN\r\n";
    smtpkit_reply_parser p;
    parsed r;

    (void)state;
    r = parse(&p, ehlo);
    assert_int_equal(r.result, SMTPKIT_REPLY_DONE);
    assert_int_equal(r.lines, 4);
    assert_string_equal(r.line_texts, "mx.example.test|PIPELINING|SIZE 1000|AUTH PLAIN LOGIN");
    assert_int_equal(smtpkit_reply_get(&p)->line_count, 4);
    assert_string_equal(smtpkit_reply_get(&p)->text,
                        "mx.example.test PIPELINING SIZE 1000 AUTH PLAIN LOGIN");
    expect_reply("250-first\n250-\n250 last\n", 250, "", "first last");
}

static void assert_same_reply(const smtpkit_reply *a, const smtpkit_reply *b)
{
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->line_count, b->line_count);
    assert_string_equal(a->enhanced, b->enhanced);
    assert_string_equal(a->text, b->text);
}

/* The same reply, fed whole, cut in two at every offset, and one byte at a time, gives the same
 * lines, code, enhanced code and text. */
static void test_any_cut_same_result(void **state)
{
    static const char text[] = "550-5.7.1 first line\r\n550-5.7.1 second\n550 5.7.1 third\r\n";
    const size_t len = sizeof text - 1;
    smtpkit_reply_parser p;
    smtpkit_reply whole;
    parsed reference, r;
    size_t cut;

    (void)state;
    reference = parse(&p, text);
    whole = *smtpkit_reply_get(&p);
    assert_string_equal(whole.enhanced, "5.7.1");
    assert_string_equal(whole.text, "first line second third");
    for (cut = 0; cut <= len; cut++) {
        smtpkit_reply_init(&p);
        r = feed(&p, text, cut, 0);
        if (r.result != SMTPKIT_REPLY_DONE) {
            parsed rest = feed(&p, text + r.consumed, len - r.consumed, 0);

            rest.lines += r.lines;
            r = rest;
        }
        assert_int_equal(r.result, SMTPKIT_REPLY_DONE);
        assert_same_reply(smtpkit_reply_get(&p), &whole);
    }
    smtpkit_reply_init(&p);
    r = feed(&p, text, len, 1);
    assert_int_equal(r.result, SMTPKIT_REPLY_DONE);
    assert_int_equal(r.lines, 3);
    assert_string_equal(r.line_texts, reference.line_texts);
    assert_same_reply(smtpkit_reply_get(&p), &whole);
}

static void test_enhanced_codes(void **state)
{
    (void)state;
    expect_reply("550 5.1.1 <x@y>: Recipient address rejected\r\n", 550, "5.1.1",
                 "<x@y>: Recipient address rejected");
    expect_reply("250 2.0.0\r\n", 250, "2.0.0", "");
    expect_reply("451 4.3.0 Error: queue file write error\r\n", 451, "4.3.0",
                 "Error: queue file write error");
    expect_reply("250 2.123.456 ok\r\n", 250, "2.123.456", "ok");
    /* class not the reply's first digit, 3xx, too many digits, no space after: plain text */
    expect_reply("550 4.1.1 x\r\n", 550, "", "4.1.1 x");
    expect_reply("334 3.0.0 x\r\n", 334, "", "3.0.0 x");
    expect_reply("550 5.1234.1 x\r\n", 550, "", "5.1234.1 x");
    expect_reply("550 5.1.1234 x\r\n", 550, "", "5.1.1234 x");
    expect_reply("550 5.1.1x\r\n", 550, "", "5.1.1x");
    expect_reply("550 5..1 x\r\n", 550, "", "5..1 x");
    expect_reply("550 5.1.1.1 x\r\n", 550, "", "5.1.1.1 x");
    expect_reply("550 5.1\r\n", 550, "", "5.1");
    expect_reply("535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 https://x\r\n", 535,
                 "5.7.8", "Username and Password not accepted. https://x");
}

static void test_bad_codes(void **state)
{
    (void)state;
    expect_error("199 x\r\n");
    expect_error("600 x\r\n");
    expect_error("25\r\n");
    expect_error("2500\r\n");
    expect_error("2500 x\r\n");
    expect_error("abc\r\n");
    expect_error("260 x\r\n");
    expect_error("2 0 x\r\n");
    expect_error("\r\n");
    expect_error("250x\r\n");
    expect_error("250_x\r\n");
    expect_error(" 250 x\r\n");
}

static void test_mixed_codes(void **state)
{
    smtpkit_reply_parser p;
    parsed r;

    (void)state;
    r = parse(&p, "250-a\r\n251 b\r\n");
    assert_int_equal(r.result, SMTPKIT_REPLY_ERROR);
    assert_int_equal(r.lines, 1);
    expect_error("250-a\r\n550 b\r\n");
}

static void test_control_and_8bit_bytes(void **state)
{
    static const char text[] = "250 a\0b\xc3\xa9\x01"
                               "c\x7f\td\re\r\n";
    smtpkit_reply_parser p;
    const char *line;
    size_t len;
    parsed r;

    (void)state;
    smtpkit_reply_init(&p);
    r = feed(&p, text, sizeof text - 1, 0);
    assert_int_equal(r.result, SMTPKIT_REPLY_DONE);
    assert_string_equal(smtpkit_reply_get(&p)->text, "a?b\xc3\xa9?c??d?e");
    line = smtpkit_reply_line_text(&p, &len);
    assert_int_equal(len, 12);
    assert_string_equal(line, "a?b\xc3\xa9?c??d?e");
}

static void make_line(char *buf, size_t text_len, const char *end)
{
    memcpy(buf, "250 ", 4);
    memset(buf + 4, 'x', text_len);
    strcpy(buf + 4 + text_len, end);
}

static void test_line_length_limit(void **state)
{
    char line[SMTPKIT_REPLY_LINE_MAX + 16];
    smtpkit_reply_parser p;
    parsed r;

    (void)state;
    make_line(line, SMTPKIT_REPLY_LINE_MAX - 4, "\r\n"); /* exactly the maximum */
    r = parse(&p, line);
    assert_int_equal(r.result, SMTPKIT_REPLY_DONE);
    assert_int_equal(strlen(smtpkit_reply_line_text(&p, &(size_t){0})), SMTPKIT_REPLY_LINE_MAX - 4);
    make_line(line, SMTPKIT_REPLY_LINE_MAX - 4, "\n");
    assert_int_equal(parse(&p, line).result, SMTPKIT_REPLY_DONE);

    make_line(line, SMTPKIT_REPLY_LINE_MAX - 3, "\r\n"); /* one byte more */
    r = parse(&p, line);
    assert_int_equal(r.result, SMTPKIT_REPLY_ERROR);
    assert_int_equal(r.consumed, SMTPKIT_REPLY_LINE_MAX + 1);
    make_line(line, SMTPKIT_REPLY_LINE_MAX - 3, "\n");
    assert_int_equal(parse(&p, line).result, SMTPKIT_REPLY_ERROR);
    make_line(line, SMTPKIT_REPLY_LINE_MAX - 4, "\r\r\n"); /* CR in the 1001st place */
    assert_int_equal(parse(&p, line).result, SMTPKIT_REPLY_ERROR);
}

static void test_endless_line_stops(void **state)
{
    size_t size = 64 * 1024;
    char *flood = malloc(size);
    smtpkit_reply_parser p;
    size_t used = 0;

    (void)state;
    memset(flood, 'x', size);
    memcpy(flood, "250 ", 4);
    smtpkit_reply_init(&p);
    assert_int_equal(smtpkit_reply_feed(&p, (const uint8_t *)flood, size, &used),
                     SMTPKIT_REPLY_ERROR);
    assert_int_equal(used, SMTPKIT_REPLY_LINE_MAX + 1);
    /* and it stays in error, taking nothing more */
    assert_int_equal(smtpkit_reply_feed(&p, (const uint8_t *)"250 ok\r\n", 8, &used),
                     SMTPKIT_REPLY_ERROR);
    assert_int_equal(used, 0);
    free(flood);
}

static void test_endless_continuation_stops(void **state)
{
    smtpkit_reply_parser p;
    smtpkit_reply_result result = SMTPKIT_REPLY_MORE;
    size_t lines = 0;
    size_t used;

    (void)state;
    smtpkit_reply_init(&p);
    while (lines < 10 * SMTPKIT_REPLY_LINES_MAX) {
        result = smtpkit_reply_feed(&p, (const uint8_t *)"250-x\r\n", 7, &used);
        if (result != SMTPKIT_REPLY_LINE) {
            break;
        }
        lines++;
    }
    assert_int_equal(result, SMTPKIT_REPLY_ERROR);
    assert_int_equal(lines, SMTPKIT_REPLY_LINES_MAX);
}

static void test_line_count_limit(void **state)
{
    char text[SMTPKIT_REPLY_LINES_MAX * 8 + 8] = "";
    smtpkit_reply_parser p;
    size_t i;

    (void)state;
    for (i = 0; i + 1 < SMTPKIT_REPLY_LINES_MAX; i++) {
        strcat(text, "250-x\r\n");
    }
    strcat(text, "250 x\r\n");
    assert_int_equal(parse(&p, text).result, SMTPKIT_REPLY_DONE);
    assert_int_equal(smtpkit_reply_get(&p)->line_count, SMTPKIT_REPLY_LINES_MAX);
}

static void test_text_is_cut_not_overflowed(void **state)
{
    char text[40 * 64 + 16] = "";
    smtpkit_reply_parser p;
    size_t i;

    (void)state;
    for (i = 0; i < 40; i++) {
        strcat(text, "250-0123456789012345678901234567890123456789012345678901234\r\n");
    }
    strcat(text, "250 end\r\n");
    assert_int_equal(parse(&p, text).result, SMTPKIT_REPLY_DONE);
    assert_int_equal(strlen(smtpkit_reply_get(&p)->text), SMTPKIT_ERROR_TEXT_MAX - 1);
}

static void test_two_replies_in_one_buffer(void **state)
{
    static const char text[] = "250 first\r\n354 second\r\n";
    smtpkit_reply_parser p;
    size_t used;

    (void)state;
    smtpkit_reply_init(&p);
    assert_int_equal(smtpkit_reply_feed(&p, (const uint8_t *)text, sizeof text - 1, &used),
                     SMTPKIT_REPLY_DONE);
    assert_int_equal(used, 11);
    assert_int_equal(smtpkit_reply_get(&p)->code, 250);
    smtpkit_reply_init(&p);
    assert_int_equal(
        smtpkit_reply_feed(&p, (const uint8_t *)text + used, sizeof text - 1 - used, &used),
        SMTPKIT_REPLY_DONE);
    assert_int_equal(smtpkit_reply_get(&p)->code, 354);
    assert_string_equal(smtpkit_reply_get(&p)->text, "second");
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_lines),
        cmocka_unit_test(test_multi_line),
        cmocka_unit_test(test_any_cut_same_result),
        cmocka_unit_test(test_enhanced_codes),
        cmocka_unit_test(test_bad_codes),
        cmocka_unit_test(test_mixed_codes),
        cmocka_unit_test(test_control_and_8bit_bytes),
        cmocka_unit_test(test_line_length_limit),
        cmocka_unit_test(test_endless_line_stops),
        cmocka_unit_test(test_endless_continuation_stops),
        cmocka_unit_test(test_line_count_limit),
        cmocka_unit_test(test_text_is_cut_not_overflowed),
        cmocka_unit_test(test_two_replies_in_one_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
