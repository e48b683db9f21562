/*
 * reply.c - incremental parser of SMTP replies: RFC 5321 section 4.2 (reply lines, multi-line
 * replies, codes 2xx-5xx) and 4.5.3.1.5 (line length), RFC 3463 (enhanced status codes) as
 * used by RFC 2034.
 *
 * The parser is strict, in the manner of OpenSMTPD: the code must be three digits in
 * [2-5][0-5][0-9], followed by ' ', '-' or the end of the line; every line of a reply carries
 * the same code; a line longer than SMTPKIT_REPLY_LINE_MAX or a reply of more than
 * SMTPKIT_REPLY_LINES_MAX lines is refused as soon as it is seen, so a hostile server cannot
 * make it buffer without end. Control bytes in a line (NUL included) are stored as '?'.
 */
#include <string.h>

#include "core/reply_internal.h"
#include "core/text.h"

void smtpkit_reply_init(smtpkit_reply_parser *p)
{
    p->line[0] = '\0';
    p->line_len = 0;
    p->line_complete = false;
    p->overflow = false;
    p->reply.code = 0;
    p->reply.enhanced[0] = '\0';
    p->reply.line_count = 0;
    p->reply.text[0] = '\0';
    p->text_len = 0;
    p->error = NULL;
}

static smtpkit_reply_result fail(smtpkit_reply_parser *p, const char *why)
{
    p->error = why;
    return SMTPKIT_REPLY_ERROR;
}

/* Stores one byte of the current line. The CR of a line that is exactly
 * SMTPKIT_REPLY_LINE_MAX long goes into the slot kept for the NUL and is dropped at the LF. */
static bool store_byte(smtpkit_reply_parser *p, uint8_t c)
{
    if (p->line_len < SMTPKIT_REPLY_LINE_MAX ||
        (p->line_len == SMTPKIT_REPLY_LINE_MAX && c == '\r')) {
        p->line[p->line_len++] = (char)c;
        return true;
    }
    p->overflow = true;
    return false;
}

/* RFC 3463: class "." subject "." detail, subject and detail of 1-3 digits, the class equal to
 * the reply's first digit (2, 4 or 5), then a space or the end. Returns the bytes to skip
 * (the code and its space) and copies the code into @p enhanced, or returns 0. */
static size_t digits(const char *s, size_t len, size_t *at)
{
    size_t n = 0;

    while (*at < len && s[*at] >= '0' && s[*at] <= '9') {
        (*at)++;
        n++;
    }
    return n;
}

static size_t parse_enhanced(const char *s, size_t len, char class_digit, char enhanced[16])
{
    size_t at = 2;
    size_t n;

    if (class_digit == '3' || len < 5 || s[0] != class_digit || s[1] != '.') {
        return 0;
    }
    n = digits(s, len, &at);
    if (n < 1 || n > 3 || at >= len || s[at] != '.') {
        return 0;
    }
    at++;
    n = digits(s, len, &at);
    if (n < 1 || n > 3 || (at < len && s[at] != ' ')) {
        return 0;
    }
    memcpy(enhanced, s, at);
    enhanced[at] = '\0';
    return at < len ? at + 1 : at;
}

static void append_text(smtpkit_reply_parser *p, const char *text, size_t len)
{
    char enhanced[16];
    size_t skip = parse_enhanced(text, len, p->line[0], enhanced);
    size_t room;
    size_t n;

    if (skip > 0 && p->reply.enhanced[0] == '\0') {
        memcpy(p->reply.enhanced, enhanced, sizeof enhanced);
    }
    text += skip;
    len -= skip;
    if (len == 0) {
        return;
    }
    room = sizeof p->reply.text - 1 - p->text_len;
    if (p->text_len > 0 && room > 0) {
        p->reply.text[p->text_len++] = ' ';
        room--;
    }
    n = len < room ? len : room;
    memcpy(p->reply.text + p->text_len, text, n);
    p->text_len += n;
    p->reply.text[p->text_len] = '\0';
}

static bool code_ok(const char *line, size_t len)
{
    return len >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '5' &&
           line[2] >= '0' && line[2] <= '9';
}

static smtpkit_reply_result finish_line(smtpkit_reply_parser *p)
{
    size_t len = p->line_len;
    uint16_t code;
    size_t i;

    if (len > 0 && p->line[len - 1] == '\r') {
        len--;
    }
    for (i = 0; i < len; i++) {
        if (smtpkit_is_control((uint8_t)p->line[i])) {
            p->line[i] = '?';
        }
    }
    p->line[len] = '\0';
    p->line_len = len;
    p->line_complete = true;

    if (p->reply.line_count >= SMTPKIT_REPLY_LINES_MAX) {
        return fail(p, "more than SMTPKIT_REPLY_LINES_MAX lines in one reply");
    }
    if (!code_ok(p->line, len)) {
        return fail(p, "reply line does not start with a code in 200..559");
    }
    if (len > 3 && p->line[3] != ' ' && p->line[3] != '-') {
        return fail(p, "reply code not followed by a space, a hyphen or the line end");
    }
    code = (uint16_t)((p->line[0] - '0') * 100 + (p->line[1] - '0') * 10 + (p->line[2] - '0'));
    if (p->reply.line_count > 0 && code != p->reply.code) {
        return fail(p, "lines of one reply carry different codes");
    }
    p->reply.code = code;
    p->reply.line_count++;
    append_text(p, p->line + (len > 3 ? 4 : 3), len > 3 ? len - 4 : 0);
    return (len > 3 && p->line[3] == '-') ? SMTPKIT_REPLY_LINE : SMTPKIT_REPLY_DONE;
}

smtpkit_reply_result smtpkit_reply_feed(smtpkit_reply_parser *p, const uint8_t *data, size_t len,
                                        size_t *consumed)
{
    size_t i;

    *consumed = 0;
    if (p->error != NULL) {
        return SMTPKIT_REPLY_ERROR;
    }
    for (i = 0; i < len; i++) {
        if (p->line_complete) {
            p->line_len = 0;
            p->line_complete = false;
        }
        if (data[i] == '\n') {
            *consumed = i + 1;
            return finish_line(p);
        }
        if (!store_byte(p, data[i])) {
            *consumed = i + 1;
            return fail(p, "reply line longer than SMTPKIT_REPLY_LINE_MAX");
        }
    }
    *consumed = len;
    return SMTPKIT_REPLY_MORE;
}

const char *smtpkit_reply_line_text(const smtpkit_reply_parser *p, size_t *len)
{
    size_t skip = p->line_len > 3 ? 4 : p->line_len;

    if (!p->line_complete) {
        *len = 0;
        return "";
    }
    *len = p->line_len - skip;
    return p->line + skip;
}

const char *smtpkit_reply_line_full(const smtpkit_reply_parser *p, size_t *len)
{
    *len = p->line_complete ? p->line_len : 0;
    return p->line_complete ? p->line : "";
}

const smtpkit_reply *smtpkit_reply_get(const smtpkit_reply_parser *p)
{
    return &p->reply;
}

const char *smtpkit_reply_error(const smtpkit_reply_parser *p)
{
    return p->error != NULL ? p->error : "no error";
}
