/*
 * cli_cert.h - "smtpkit cert show|export|check": the parsed command line, the connection to
 * the server, and the three commands, which share both.
 */
#ifndef SMTPKIT_CLI_CERT_H
#define SMTPKIT_CLI_CERT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_options.h"
#include "cli_trust.h"
#include "cli_url.h"
#include "smtpkit/client.h"

typedef enum cli_cert_command { CLI_CERT_SHOW, CLI_CERT_EXPORT, CLI_CERT_CHECK } cli_cert_command;

typedef enum cli_cert_format { CLI_CERT_PEM, CLI_CERT_DER, CLI_CERT_C } cli_cert_format;

/** --which root (the default) or a position in the chain the server sent. */
#define CLI_CERT_WHICH_ROOT (-1)

typedef struct cli_cert_args {
    cli_cert_command command;
    const char *url; /* NULL only for check without a server */
    bool starttls;   /* --starttls */
    bool tls;        /* --tls */
    cli_list ca_files;
    const char *ca_dir;
    cli_list anchor_files;
    cli_list pins;
    const char *tls_server_name;
    const char *helo;
    unsigned timeout_s; /* 0: not given */
    smtpkit_time at;    /* --at; SMTPKIT_TIME_HOST when not given */
    smtpkit_time now;   /* the time dates are judged against: --at or the clock */
    cli_cert_format format;
    long which;                /* CLI_CERT_WHICH_ROOT or a position */
    const char *name;          /* --name */
    const char *output;        /* -o */
    unsigned warn_days;        /* --warn-days, 30 by default: the leaf and intermediates */
    unsigned anchor_warn_days; /* --anchor-warn-days, --warn-days by default: anchors */
    bool anchor_warn_days_given;
    bool verbose;
    bool help;
} cli_cert_args;

/** The server to probe and how to judge it. */
typedef struct cli_cert_target {
    cli_server server;
    char where[CLI_HOST_MAX + 16]; /* "host:port", IPv6 in brackets, for messages */
    smtpkit_client_options client;
    cli_anchor_set anchors;              /* --anchor files, or several --ca-file */
    uint8_t (*pins)[SMTPKIT_SHA256_LEN]; /* --pinned-pubkey */
} cli_cert_target;

/** Runs "smtpkit cert" with @p argv[0] = "cert"; returns the exit code. */
int cli_cert_main(int argc, char **argv);

/** Prints the help of "smtpkit cert" (one screen). */
void cli_cert_help(FILE *out);

/**
 * Probes the server of @p target (smtpkit_client_probe). On a connection failure returns the
 * failure with @p err filled in; the caller words it.
 */
smtpkit_status cli_cert_probe(const cli_cert_target *target, smtpkit_probe *probe,
                              smtpkit_error *err);

/**
 * The hint to add to @p err when the server may speak TLS at once although @p target uses
 * STARTTLS (cli_scheme_hint()), or NULL.
 */
const char *cli_cert_scheme_hint(const cli_cert_target *target, const smtpkit_error *err);

int cli_cert_show(const cli_cert_args *args, const cli_cert_target *target);
int cli_cert_export(const cli_cert_args *args, const cli_cert_target *target);
int cli_cert_check(const cli_cert_args *args, const cli_cert_target *target);

/**
 * Writes @p der as the C header of "cert export --format c" to @p out, named @p name (NULL:
 * derived from the subject's CN). Returns 0 or an exit code with its line printed.
 */
int cli_cert_write_header(FILE *out, const unsigned char *der, size_t len, const char *name);

/**
 * NULL when @p name can name the array of "cert export --format c": a C identifier of 1 to 63
 * characters that is neither a C or C++ keyword (alternative tokens such as "and" included),
 * nor reserved (a leading underscore, a double underscore), nor a macro of the standard
 * headers or main. Otherwise what is wrong with it, for the usage line.
 */
const char *cli_cert_name_problem(const char *name);

#endif
