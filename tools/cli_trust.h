/*
 * cli_trust.h - trust inputs of the command line: anchor files (PEM, DER or a C header that
 * "smtpkit cert export --format c" wrote), repeated --ca-file, public-key pins, and the
 * one-line descriptions of certificate dates that send -v and the cert commands print.
 */
#ifndef SMTPKIT_CLI_TRUST_H
#define SMTPKIT_CLI_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli_options.h"
#include "smtpkit/anchors.h"
#include "smtpkit/tls.h"

/** One certificate read from an anchor file. */
typedef struct cli_anchor_cert {
    unsigned char *der;
    size_t len;
    const char *file;             /* the file it came from, as the user wrote it */
    size_t position;              /* its place in that file, from 0 */
    size_t file_count;            /* how many certificates that file holds */
    smtpkit_cert_summary summary; /* dates checked against the time given to the loader */
} cli_anchor_cert;

/** Every certificate of the anchor files given, and the array smtpkit_trust points to. */
typedef struct cli_anchor_set {
    cli_anchor_cert *certs;
    smtpkit_anchor *anchors; /* same order as certs */
    size_t count;
} cli_anchor_set;

/**
 * Adds every certificate of @p file to @p set: all certificates of a PEM file, a DER file,
 * or the array of a C header written by "cert export --format c". Summaries are made against
 * @p now. Returns 0, or prints one line naming @p option and @p file and returns
 * CLI_EXIT_NOINPUT when the file cannot be read, @p nocert_code when it holds no certificate
 * or one that does not parse.
 */
int cli_anchor_load(cli_anchor_set *set, const char *option, const char *file, smtpkit_time now,
                    int nocert_code);

/** Frees what @p set holds. */
void cli_anchor_set_free(cli_anchor_set *set);

/**
 * Points @p trust at the --ca-file values: one file goes to trust->ca_file as it always did,
 * several are read into @p set and given as trust->anchors. Returns 0 or an exit code
 * (CLI_EXIT_NOINPUT for a file that cannot be read or holds no certificate).
 */
int cli_trust_ca_files(smtpkit_trust *trust, cli_anchor_set *set, const cli_list *files);

/**
 * Sets up TLS once with @p trust for @p server_name and frees it again, so that a CA file or
 * directory that cannot be used stops the command before it connects. Returns 0, or prints one
 * line and returns CLI_EXIT_NOINPUT for trust the library refuses as a usage error (a CA file
 * or directory that cannot be read or holds no certificate), cli_exit_code() for the rest.
 */
int cli_trust_try(const smtpkit_trust *trust, const char *server_name);

/**
 * Parses the --pinned-pubkey values into a new array for trust->pins (free it with free()).
 * A value may be one pin or a ';'-separated list of them, as curl's --pinnedpubkey takes;
 * each is what smtpkit_pin_parse() accepts. Returns 0, or CLI_EXIT_USAGE with a line naming
 * the bad value.
 */
int cli_trust_pins(smtpkit_trust *trust, uint8_t (**pins)[SMTPKIT_SHA256_LEN],
                   const cli_list *texts);

/** Room for the text of cli_day_count(). */
#define CLI_DAY_COUNT_MAX 32

/**
 * Writes "1 day", "12 days", or "less than a day" for a whole-day count of 0, into @p out
 * (CLI_DAY_COUNT_MAX bytes are enough); returns @p out.
 */
const char *cli_day_count(long long count, char *out, size_t size);

/**
 * Describes @p cert's validity at @p now: "365 days left", "EXPIRED 3 days ago",
 * "NOT YET VALID, starts in 12 days" (a count of 0 reads "less than a day"), or "dates not
 * checked: no trustworthy time".
 */
void cli_validity_note(const smtpkit_cert_summary *cert, smtpkit_time now, char *out, size_t size);

/**
 * A smtpkit_chain_fn for -v: one "* certificate N: SUBJECT, expires DATE (NOTE)" line per
 * certificate of the path on stderr, and "* warning: ..." for any that expires within
 * CLI_TRUST_WARN_DAYS. @p ctx is unused.
 */
void cli_trust_trace_chain(void *ctx, const smtpkit_chain_summary *chain);

/** Days ahead of an expiry that send -v warns. */
#define CLI_TRUST_WARN_DAYS 30

#endif
