/*
 * text.c - bounded string building and byte classes for the core (see text.h).
 *
 * No stdio: error messages, trace lines and header lines are assembled here with explicit
 * bounds. Nothing in this file knows about SMTP.
 */
#include "core/text.h"

#include <string.h>

void smtpkit_text_init(smtpkit_text *t, char *buf, size_t size)
{
    t->buf = buf;
    t->size = buf != NULL ? size : 0;
    t->len = 0;
    t->cut = false;
    if (t->size > 0) {
        buf[0] = '\0';
    }
}

size_t smtpkit_text_stored(const smtpkit_text *t)
{
    if (t->size == 0) {
        return 0;
    }
    return t->len < t->size - 1 ? t->len : t->size - 1;
}

static void put(smtpkit_text *t, const char *bytes, size_t len, bool clean)
{
    size_t at = smtpkit_text_stored(t);
    size_t room = t->size > 0 ? t->size - 1 - at : 0;
    size_t n = len < room ? len : room;
    size_t i;

    if (t->size > 0) {
        for (i = 0; i < n; i++) {
            uint8_t c = (uint8_t)bytes[i];
            t->buf[at + i] = (clean && smtpkit_is_control(c)) ? '?' : (char)c;
        }
        t->buf[at + n] = '\0';
    }
    if (t->buf != NULL && n < len) {
        t->cut = true;
    }
    t->len += len;
}

void smtpkit_text_raw(smtpkit_text *t, const char *bytes, size_t len)
{
    put(t, bytes, len, false);
}

void smtpkit_text_str(smtpkit_text *t, const char *str)
{
    put(t, str, strlen(str), false);
}

void smtpkit_text_clean(smtpkit_text *t, const char *bytes, size_t len)
{
    put(t, bytes, len, true);
}

void smtpkit_text_uint(smtpkit_text *t, unsigned long value, unsigned width)
{
    char digits[24];
    size_t n = 0;

    do {
        digits[sizeof digits - 1 - n] = (char)('0' + value % 10);
        value /= 10;
        n++;
    } while ((value > 0 || n < width) && n < sizeof digits);
    put(t, digits + sizeof digits - n, n, false);
}

bool smtpkit_is_control(uint8_t c)
{
    return c < 0x20 || c == 0x7f;
}

bool smtpkit_has_control(const char *bytes, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (smtpkit_is_control((uint8_t)bytes[i])) {
            return true;
        }
    }
    return false;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool smtpkit_equal_nocase(const char *bytes, size_t len, const char *word)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (word[i] == '\0' || lower(bytes[i]) != lower(word[i])) {
            return false;
        }
    }
    return word[len] == '\0';
}

size_t smtpkit_strnlen(const char *str, size_t max)
{
    size_t n = 0;

    while (n < max && str[n] != '\0') {
        n++;
    }
    return n;
}
