/*
 * cli_url.c - parses the --server argument.
 *
 * smtp:// means a plaintext greeting and then STARTTLS (RFC 3207, port 587 per RFC 6409),
 * smtps:// TLS from the first byte (RFC 8314, port 465); a bare host[:port] means smtp://.
 * An IPv6 address needs its brackets, as in a URL (RFC 3986), so that "::1" and "[::1]:25"
 * cannot be misread. Credentials in the URL are refused: they would end up in the process
 * list and the shell's history.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool cli_port_parse(const char *text, size_t len, uint16_t *port)
{
    unsigned long value = 0;
    size_t i;

    if (len == 0 || len > 5) {
        return false;
    }
    for (i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value == 0 || value > 65535) {
        return false;
    }
    *port = (uint16_t)value;
    return true;
}

static const char *strip_scheme(const char *text, smtpkit_tls_mode *mode)
{
    static const struct {
        const char *prefix;
        smtpkit_tls_mode mode;
    } schemes[] = {{"smtp://", SMTPKIT_TLS_STARTTLS}, {"smtps://", SMTPKIT_TLS_IMPLICIT}};
    size_t i;

    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t len = strlen(schemes[i].prefix);

        if (strncasecmp(text, schemes[i].prefix, len) == 0) {
            *mode = schemes[i].mode;
            return text + len;
        }
    }
    *mode = SMTPKIT_TLS_STARTTLS;
    return strstr(text, "://") != NULL ? NULL : text;
}

static bool host_chars_ok(const char *host, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];

        if (c <= ' ' || c == 0x7f || strchr("/?#@[]", c) != NULL) {
            return false;
        }
    }
    return true;
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port" (the part after the scheme). */
static bool split_authority(const char *rest, size_t len, cli_server *out, char *why,
                            size_t why_size)
{
    const char *host = rest;
    size_t host_len = len;
    const char *colon;

    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', len);

        if (close == NULL) {
            snprintf(why, why_size, "missing ']' after the IPv6 address");
            return false;
        }
        host = rest + 1;
        host_len = (size_t)(close - host);
        colon = close + 1 < rest + len ? close + 1 : NULL;
        if (colon != NULL && *colon != ':') {
            snprintf(why, why_size, "unexpected text after ']'");
            return false;
        }
    } else {
        colon = memchr(rest, ':', len);
        host_len = colon != NULL ? (size_t)(colon - rest) : len;
        if (colon != NULL && memchr(colon + 1, ':', len - host_len - 1) != NULL) {
            snprintf(why, why_size, "an IPv6 address must be in brackets, as in [::1]:587");
            return false;
        }
    }
    if (colon != NULL && !cli_port_parse(colon + 1, (size_t)(rest + len - colon - 1), &out->port)) {
        snprintf(why, why_size, "the port must be a number from 1 to 65535");
        return false;
    }
    if (host_len == 0 || host_len > CLI_HOST_MAX || !host_chars_ok(host, host_len)) {
        snprintf(why, why_size, "no valid host name");
        return false;
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    return true;
}

bool cli_url_parse(const char *text, cli_server *out, char *why, size_t why_size)
{
    const char *rest;
    size_t len;

    memset(out, 0, sizeof *out);
    rest = strip_scheme(text, &out->mode);
    if (rest == NULL) {
        snprintf(why, why_size, "only smtp:// and smtps:// are supported");
        return false;
    }
    len = strlen(rest);
    if (len > 0 && rest[len - 1] == '/') {
        len--;
    }
    if (memchr(rest, '@', len) != NULL) {
        snprintf(why, why_size, "no user or password in the URL; use --user");
        return false;
    }
    if (memchr(rest, '/', len) != NULL) {
        snprintf(why, why_size, "no path allowed after the host");
        return false;
    }
    return split_authority(rest, len, out, why, why_size);
}
