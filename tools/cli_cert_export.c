/*
 * cli_cert_export.c - "smtpkit cert export URL": writes one certificate of the server's chain
 * as PEM, DER or a C header for a firmware.
 *
 * The default is the trust anchor that completes the verified chain, which is what a device
 * must carry; it is only known when the chain verifies, so without verification the command
 * refuses and points to --which, which exports what the server sent. A file given with -o is
 * written beside its final name and renamed, so that a build never compiles half a header;
 * a device, FIFO, socket or symbolic link given with -o is written in place instead, since a
 * rename would replace it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/pem.h>

#include "cli_cert.h"
#include "cli_exit.h"
#include "smtpkit/civil_time.h"

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----\n";
static const char pem_end[] = "-----END CERTIFICATE-----\n";

/* PEM as openssl x509 writes it: base64 in lines of 64 between the two armour lines. */
static int write_pem(FILE *out, const unsigned char *der, size_t len)
{
    size_t size = len * 2 + sizeof pem_begin + sizeof pem_end + 16;
    unsigned char *pem = malloc(size);
    size_t written = 0;
    int rc = 0;

    if (pem == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    if (mbedtls_pem_write_buffer(pem_begin, pem_end, der, len, pem, size, &written) != 0 ||
        written == 0) {
        rc = cli_fail(CLI_EXIT_SOFTWARE, "cannot encode the certificate as PEM");
    } else {
        (void)fwrite(pem, 1, written - 1, out); /* written counts the final NUL */
    }
    free(pem);
    return rc;
}

static int write_format(FILE *out, const cli_cert_args *args, const unsigned char *der, size_t len)
{
    switch (args->format) {
    case CLI_CERT_DER:
        (void)fwrite(der, 1, len, out);
        return 0;
    case CLI_CERT_C:
        return cli_cert_write_header(out, der, len, args->name);
    default:
        return write_pem(out, der, len);
    }
}

static int write_stdout(const cli_cert_args *args, const unsigned char *der, size_t len)
{
    int rc;

    if (args->format == CLI_CERT_DER && isatty(STDOUT_FILENO)) {
        return cli_fail(CLI_EXIT_USAGE, "--format der: binary output to a terminal; use -o FILE "
                                        "or redirect standard output");
    }
    rc = write_format(stdout, args, der, len);
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        rc = cli_fail(CLI_EXIT_IOERR, "cannot write to standard output: %s", strerror(errno));
    }
    return rc;
}

/* -o naming a device, a FIFO, a socket or a symbolic link: written where it leads, as any
 * tool's -o would, since a rename would replace the node or the link with a regular file. */
static int write_in_place(const cli_cert_args *args, const unsigned char *der, size_t len)
{
    /* O_NONBLOCK: a FIFO nobody reads fails (ENXIO) instead of waiting forever; cleared at
     * once so that the writes themselves block as usual. A reader that goes away gives
     * EPIPE, reported, rather than SIGPIPE, which would end the process without a word. */
    int fd = open(args->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644);
    FILE *out = NULL;
    int rc;

    (void)signal(SIGPIPE, SIG_IGN);
    if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0) {
        out = fdopen(fd, "wb");
    }

    if (out == NULL) {
        rc = cli_fail(CLI_EXIT_CANTCREAT, "-o %s: %s", args->output,
                      errno == ENXIO ? "no process reads it" : strerror(errno));
        if (fd >= 0) {
            (void)close(fd);
        }
        return rc;
    }
    rc = write_format(out, args, der, len);
    if (rc == 0 && (fflush(out) != 0 || ferror(out))) {
        rc = cli_fail(CLI_EXIT_IOERR, "-o %s: %s", args->output, strerror(errno));
    }
    if (fclose(out) != 0 && rc == 0) {
        rc = cli_fail(CLI_EXIT_IOERR, "-o %s: %s", args->output, strerror(errno));
    }
    return rc;
}

/* Writes a temporary file beside @p path, then renames it, so that readers see all or none. */
static int write_file(const cli_cert_args *args, const unsigned char *der, size_t len, mode_t mode)
{
    size_t tmp_size = strlen(args->output) + sizeof ".XXXXXX";
    char *tmp = malloc(tmp_size);
    int fd = -1;
    FILE *out = NULL;
    int rc = 0;

    if (tmp == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    snprintf(tmp, tmp_size, "%s.XXXXXX", args->output);
    fd = mkstemp(tmp);
    if (fd < 0 || fchmod(fd, mode) != 0 || (out = fdopen(fd, "wb")) == NULL) {
        rc = cli_fail(CLI_EXIT_CANTCREAT, "-o %s: %s", args->output, strerror(errno));
    }
    rc = rc != 0 ? rc : write_format(out, args, der, len);
    if (rc == 0 && (fflush(out) != 0 || ferror(out) || fsync(fd) != 0)) {
        rc = cli_fail(CLI_EXIT_CANTCREAT, "-o %s: %s", args->output, strerror(errno));
    }
    if (out != NULL && fclose(out) != 0 && rc == 0) {
        rc = cli_fail(CLI_EXIT_CANTCREAT, "-o %s: %s", args->output, strerror(errno));
    } else if (out == NULL && fd >= 0) {
        (void)close(fd);
    }
    if (rc == 0 && rename(tmp, args->output) != 0) {
        rc = cli_fail(CLI_EXIT_CANTCREAT, "-o %s: %s", args->output, strerror(errno));
    }
    if (rc != 0 && fd >= 0) {
        (void)unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* A new or regular file is replaced whole; anything else is written in place. */
static int write_output(const cli_cert_args *args, const unsigned char *der, size_t len)
{
    struct stat st;

    if (lstat(args->output, &st) != 0) {
        return errno == ENOENT
                   ? write_file(args, der, len, 0644)
                   : cli_fail(CLI_EXIT_CANTCREAT, "-o %s: %s", args->output, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return cli_fail(CLI_EXIT_CANTCREAT, "-o %s: is a directory; give a file name",
                        args->output);
    }
    /* A file replaced keeps its permissions, as an editor's save would. */
    return S_ISREG(st.st_mode) ? write_file(args, der, len, st.st_mode & 07777)
                               : write_in_place(args, der, len);
}

static int pick_root(const smtpkit_probe *probe, const smtpkit_der **der)
{
    char reason[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + 64];

    /* A wrong host name or pin is about this connection, not the anchor: export, but say so. */
    const unsigned not_path = SMTPKIT_CERT_NAME_MISMATCH | SMTPKIT_CERT_PIN_MISMATCH;
    bool path_ok = (probe->chain.problems & SMTPKIT_CERT_FAILURES & ~not_path) == 0;

    (void)smtpkit_error_format(&probe->verify, reason, sizeof reason);
    if (probe->chain.anchored && probe->chain.count > 0 && path_ok) {
        if (probe->verify.status != SMTPKIT_OK) {
            cli_warn("%s; the chain itself verifies, so its anchor is exported", reason);
        }
        *der = &probe->path[probe->chain.count - 1];
        return 0;
    }
    return cli_fail(CLI_EXIT_NOPERM,
                    "%s; without a verified chain there is no anchor to export "
                    "(--which leaf or --which N export what the server sent)",
                    reason);
}

static int pick_sent(const smtpkit_probe *probe, long which, const smtpkit_der **der)
{
    char reason[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + 64];

    if (which < 0 || (size_t)which >= probe->sent_count) {
        return cli_fail(CLI_EXIT_USAGE,
                        "--which %ld: the server sent %zu certificate%s (%s0 to %zu)", which,
                        probe->sent_total, probe->sent_total == 1 ? "" : "s",
                        probe->sent_total > probe->sent_count ? "the first ones kept: " : "",
                        probe->sent_count > 0 ? probe->sent_count - 1 : 0);
    }
    if (probe->verify.status != SMTPKIT_OK) {
        (void)smtpkit_error_format(&probe->verify, reason, sizeof reason);
        cli_warn("the chain did not verify (%s); exporting certificate %ld as the server sent it",
                 reason, which);
    }
    *der = &probe->sent[which];
    return 0;
}

/* A certificate that a device is about to carry and that expires within
 * CLI_TRUST_WARN_DAYS, has expired, or is not valid yet: exported all the same, with a word. */
static void warn_dates(const smtpkit_der *der, smtpkit_time now)
{
    smtpkit_cert_summary s;
    smtpkit_error err;
    char date[32];
    char count[CLI_DAY_COUNT_MAX];
    int64_t days;

    smtpkit_error_clear(&err);
    if (now == SMTPKIT_TIME_UNKNOWN ||
        smtpkit_cert_summarize(der->data, der->len, now, &s, &err) != SMTPKIT_OK) {
        return;
    }
    days = smtpkit_days_between(now, s.not_after);
    (void)smtpkit_time_format(s.not_after, date, sizeof date);
    if (now > s.not_after) {
        cli_warn("the exported certificate %s expired %s, %s ago", s.subject, date,
                 cli_day_count(smtpkit_days_between(s.not_after, now), count, sizeof count));
    } else if (now < s.not_before) {
        (void)smtpkit_time_format(s.not_before, date, sizeof date);
        cli_warn("the exported certificate %s is valid from %s, in %s", s.subject, date,
                 cli_day_count(smtpkit_days_between(now, s.not_before), count, sizeof count));
    } else if (days <= CLI_TRUST_WARN_DAYS) {
        cli_warn("the exported certificate %s expires %s, in %s", s.subject, date,
                 cli_day_count(days, count, sizeof count));
    }
}

int cli_cert_export(const cli_cert_args *args, const cli_cert_target *target)
{
    smtpkit_probe probe;
    smtpkit_error err;
    const smtpkit_der *der = NULL;
    int rc;

    if (cli_cert_probe(target, &probe, &err) != SMTPKIT_OK) {
        smtpkit_probe_free(&probe);
        return cli_fail_error_hint(&err, cli_cert_scheme_hint(target, &err));
    }

    rc = args->which == CLI_CERT_WHICH_ROOT ? pick_root(&probe, &der)
                                            : pick_sent(&probe, args->which, &der);
    if (rc == 0) {
        rc = args->output != NULL ? write_output(args, der->data, der->len)
                                  : write_stdout(args, der->data, der->len);
    }
    if (rc == 0) {
        warn_dates(der, args->now);
    }

    smtpkit_probe_free(&probe);
    return rc;
}
