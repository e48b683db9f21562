/*
 * caps.c - service extensions from EHLO reply lines: RFC 5321 section 4.1.1.1 (ehlo-line
 * grammar), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 1870 (SIZE), RFC 2920 (PIPELINING),
 * RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 2034 (ENHANCEDSTATUSCODES), RFC 3461 (DSN),
 * RFC 3030 (CHUNKING).
 */
#include <string.h>

#include "core/caps.h"
#include "core/sasl.h"
#include "core/text.h"

static const struct {
    const char *keyword;
    unsigned bit;
} keywords[] = {
    {"STARTTLS", SMTPKIT_CAP_STARTTLS},
    {"AUTH", SMTPKIT_CAP_AUTH},
    {"SIZE", SMTPKIT_CAP_SIZE},
    {"PIPELINING", SMTPKIT_CAP_PIPELINING},
    {"8BITMIME", SMTPKIT_CAP_8BITMIME},
    {"SMTPUTF8", SMTPKIT_CAP_SMTPUTF8},
    {"ENHANCEDSTATUSCODES", SMTPKIT_CAP_ENHANCEDSTATUSCODES},
    {"DSN", SMTPKIT_CAP_DSN},
    {"CHUNKING", SMTPKIT_CAP_CHUNKING},
};

/* Length of the token at @p text, which ends at a space, or also at '=' when @p at_equals. */
static size_t token_length(const char *text, size_t len, bool at_equals)
{
    size_t n = 0;

    while (n < len && text[n] != ' ' && !(at_equals && text[n] == '=')) {
        n++;
    }
    return n;
}

static void parse_mechanisms(smtpkit_caps *caps, const char *text, size_t len)
{
    smtpkit_auth_mech mech;
    size_t at = 0;

    while (at < len) {
        size_t n = token_length(text + at, len - at, false);

        if (n > 0 && smtpkit_sasl_lookup(text + at, n, &mech)) {
            caps->mechs |= 1u << mech;
        }
        at += n + 1;
    }
}

/* SIZE with a decimal argument; absent, zero or unreadable means no limit is announced. */
static void parse_size(smtpkit_caps *caps, const char *text, size_t len)
{
    const unsigned long max = (unsigned long)-1;
    unsigned long value = 0;
    size_t i;

    for (i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        unsigned digit = (unsigned)(text[i] - '0');

        value = value > (max - digit) / 10 ? max : value * 10 + digit;
    }
    caps->size_max = (i == len) ? value : 0;
}

void smtpkit_caps_parse_line(smtpkit_caps *caps, const char *text, size_t len)
{
    size_t n = token_length(text, len, true);
    size_t args_at = n < len ? n + 1 : len;
    size_t i;

    for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (smtpkit_equal_nocase(text, n, keywords[i].keyword)) {
            caps->bits |= keywords[i].bit;
            break;
        }
    }
    if (i == sizeof keywords / sizeof keywords[0]) {
        return;
    }
    if (keywords[i].bit == SMTPKIT_CAP_AUTH) {
        parse_mechanisms(caps, text + args_at, len - args_at);
    } else if (keywords[i].bit == SMTPKIT_CAP_SIZE) {
        parse_size(caps, text + args_at, len - args_at);
    }
}
