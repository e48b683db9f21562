/*
 * cli_exit.h - exit codes of the smtpkit command and its one-line messages on stderr.
 *
 * The codes are those of sysexits.h, as msmtp and sendmail use them, defined here because
 * sysexits.h is not part of POSIX. cli_exit_code() is the only place that maps a failure of
 * the library to a code.
 */
#ifndef SMTPKIT_CLI_EXIT_H
#define SMTPKIT_CLI_EXIT_H

#include "smtpkit/error.h"
#include "smtpkit/session.h"

#if defined(__GNUC__) || defined(__clang__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 64,       /* EX_USAGE: bad arguments or addresses */
    CLI_EXIT_DATAERR = 65,     /* EX_DATAERR: an anchor file holds no certificate */
    CLI_EXIT_NOINPUT = 66,     /* EX_NOINPUT: a file given cannot be read */
    CLI_EXIT_NOHOST = 68,      /* EX_NOHOST: the server's name cannot be resolved */
    CLI_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: permanent failure (5xx) */
    CLI_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal error */
    CLI_EXIT_CANTCREAT = 73,   /* EX_CANTCREAT: an output file cannot be written */
    CLI_EXIT_IOERR = 74,       /* EX_IOERR: connection lost, I/O error */
    CLI_EXIT_TEMPFAIL = 75,    /* EX_TEMPFAIL: 4xx, connection refused, timeout */
    CLI_EXIT_PROTOCOL = 76,    /* EX_PROTOCOL: the server broke the protocol */
    CLI_EXIT_NOPERM = 77,      /* EX_NOPERM: TLS, certificate, or credentials refused */
    CLI_EXIT_CONFIG = 78       /* EX_CONFIG: configuration file error */
};

/** The exit code for a failure of the library (CLI_EXIT_OK for SMTPKIT_OK). */
int cli_exit_code(const smtpkit_error *err);

/** Prints "smtpkit: <message>" on stderr (control bytes shown as '?'); returns @p code. */
CLI_PRINTF(2, 3) int cli_fail(int code, const char *format, ...);

/** Prints "smtpkit: <smtpkit_error_format()>" and returns cli_exit_code(@p err). */
int cli_fail_error(const smtpkit_error *err);

/** As cli_fail_error(), with " (@p hint)" appended to the line when @p hint is not NULL. */
int cli_fail_error_hint(const smtpkit_error *err, const char *hint);

/**
 * @p hint when @p err may come from speaking STARTTLS (@p mode) to a server that speaks TLS
 * at once: the greeting timed out, or the first reply was not SMTP. NULL otherwise.
 */
const char *cli_scheme_hint(const smtpkit_error *err, smtpkit_tls_mode mode, const char *hint);

/** Prints "smtpkit: warning: <message>" on stderr. */
CLI_PRINTF(1, 2) void cli_warn(const char *format, ...);

/** Prints "smtpkit: <text>" on stderr, control bytes shown as '?'. */
void cli_print_line(const char *prefix, const char *text, size_t len);

/** A smtpkit_trace_fn for -v: "smtpkit: C: ...", "S: ..." or "* ..." on stderr. */
void cli_trace_line(void *ctx, smtpkit_trace_kind kind, const char *text, size_t len);

#endif
