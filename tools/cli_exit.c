/*
 * cli_exit.c - from a failure to an exit code, and the one line that tells the user.
 *
 * Every message the command prints goes through cli_print_line(), which replaces control
 * bytes: a server's text or a file name must not be able to move the cursor or forge a line.
 */
#include "cli_exit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Room for " (" and a hint and ")" after the library's message. */
enum { CLI_HINT_MAX = 128 };

/* The class decides the code, except where the server's reply is more telling (below). */
static const struct {
    smtpkit_status status;
    int code;
} exit_table[] = {
    {SMTPKIT_OK, CLI_EXIT_OK},
    {SMTPKIT_E_USAGE, CLI_EXIT_USAGE},
    {SMTPKIT_E_CONNECT, CLI_EXIT_TEMPFAIL},
    {SMTPKIT_E_TLS, CLI_EXIT_NOPERM},
    {SMTPKIT_E_CERT, CLI_EXIT_NOPERM},
    {SMTPKIT_E_PROTOCOL, CLI_EXIT_PROTOCOL},
    {SMTPKIT_E_AUTH, CLI_EXIT_NOPERM},
    {SMTPKIT_E_TEMPORARY, CLI_EXIT_TEMPFAIL},
    {SMTPKIT_E_PERMANENT, CLI_EXIT_UNAVAILABLE},
    {SMTPKIT_E_IO, CLI_EXIT_IOERR},
    {SMTPKIT_E_TIMEOUT, CLI_EXIT_TEMPFAIL},
    {SMTPKIT_E_BUFFER, CLI_EXIT_SOFTWARE},
    {SMTPKIT_E_STATE, CLI_EXIT_SOFTWARE},
    {SMTPKIT_E_INTERNAL, CLI_EXIT_SOFTWARE},
};

int cli_exit_code(const smtpkit_error *err)
{
    size_t i;

    /* smtpkit_net_connect(): no address was tried because the name did not resolve. */
    if (err->status == SMTPKIT_E_CONNECT && err->stage == SMTPKIT_STAGE_NONE) {
        return CLI_EXIT_NOHOST;
    }
    /* TLS and protocol failures keep their code even when a reply came with them (a 454 to
     * STARTTLS is still "no TLS"); otherwise the reply's first digit decides, so that a 535
     * to AUTH is a permanent failure and a 454 to AUTH a temporary one. */
    if (err->status != SMTPKIT_E_TLS && err->status != SMTPKIT_E_CERT &&
        err->status != SMTPKIT_E_PROTOCOL && err->status != SMTPKIT_OK) {
        if (err->reply_code >= 500 && err->reply_code <= 599) {
            return CLI_EXIT_UNAVAILABLE;
        }
        if (err->reply_code >= 400 && err->reply_code <= 499) {
            return CLI_EXIT_TEMPFAIL;
        }
    }
    for (i = 0; i < sizeof exit_table / sizeof exit_table[0]; i++) {
        if (exit_table[i].status == err->status) {
            return exit_table[i].code;
        }
    }
    return CLI_EXIT_SOFTWARE;
}

void cli_print_line(const char *prefix, const char *text, size_t len)
{
    size_t i;

    fputs("smtpkit: ", stderr);
    fputs(prefix, stderr);
    for (i = 0; i < len && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];
        unsigned char next = i + 1 < len ? (unsigned char)text[i + 1] : 0;

        /* C1 controls (0x80-0x9f, as raw bytes or UTF-8 C2 80..C2 9F) start terminal escape
         * sequences as surely as ESC does. */
        if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
            i++;
            c = '?';
        }
        fputc(c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) ? '?' : c, stderr);
    }
    fputc('\n', stderr);
}

void cli_trace_line(void *ctx, smtpkit_trace_kind kind, const char *text, size_t len)
{
    const char *prefix = kind == SMTPKIT_TRACE_CLIENT   ? "C: "
                         : kind == SMTPKIT_TRACE_SERVER ? "S: "
                                                        : "* ";

    (void)ctx;
    cli_print_line(prefix, text, len);
}

static void print_formatted(const char *prefix, const char *format, va_list args) CLI_PRINTF(2, 0);

static void print_formatted(const char *prefix, const char *format, va_list args)
{
    char line[1024];
    int len = vsnprintf(line, sizeof line, format, args);

    if (len < 0) {
        len = 0;
    }
    cli_print_line(prefix, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

int cli_fail(int code, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    print_formatted("", format, args);
    va_end(args);
    return code;
}

void cli_warn(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    print_formatted("warning: ", format, args);
    va_end(args);
}

int cli_fail_error(const smtpkit_error *err)
{
    return cli_fail_error_hint(err, NULL);
}

int cli_fail_error_hint(const smtpkit_error *err, const char *hint)
{
    char line[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + CLI_HINT_MAX];
    size_t len = smtpkit_error_format(err, line, sizeof line);

    len = len < sizeof line ? len : sizeof line - 1;
    if (hint != NULL) {
        int added = snprintf(line + len, sizeof line - len, " (%s)", hint);

        len += added > 0 ? (size_t)added : 0;
        len = len < sizeof line ? len : sizeof line - 1;
    }
    cli_print_line("", line, len);
    return cli_exit_code(err);
}

/* A STARTTLS client waits for the server's greeting while an implicit-TLS server waits for
 * the ClientHello, so the greeting times out. A greeting that is not SMTP comes from some
 * other plaintext service, where the hint would mislead. The library cannot know the port. */
const char *cli_scheme_hint(const smtpkit_error *err, smtpkit_tls_mode mode, const char *hint)
{
    bool at_greeting = err->stage == SMTPKIT_STAGE_GREETING && err->status == SMTPKIT_E_TIMEOUT;

    return mode == SMTPKIT_TLS_STARTTLS && at_greeting ? hint : NULL;
}
