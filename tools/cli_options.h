/*
 * cli_options.h - the command line of "smtpkit send", as parsed, before the configuration
 * file is merged in.
 */
#ifndef SMTPKIT_CLI_OPTIONS_H
#define SMTPKIT_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** A repeatable option's values (pointers into argv). */
typedef struct cli_list {
    const char **items;
    size_t count;
} cli_list;

typedef struct cli_send_args {
    const char *server;
    const char *from;
    cli_list to;
    cli_list cc;
    cli_list bcc;
    const char *subject;
    const char *body_file;
    const char *user;
    const char *password_file;
    const char *password_command;
    const char *auth;
    cli_list ca_files; /* --ca-file, repeatable */
    cli_list pins;     /* --pinned-pubkey, repeatable */
    const char *ca_dir;
    const char *cert;
    const char *key;
    const char *tls_server_name;
    const char *helo;
    unsigned timeout_s; /* 0: not given */
    const char *config;
    const char *account;
    bool no_tls;
    bool allow_plaintext_auth;
    bool rcpt_strict;
    bool verbose;
    bool help;
} cli_send_args;

/**
 * Parses the arguments of "smtpkit send" (@p argv[0] is "send"). Returns 0, or prints one
 * line naming the option at fault and returns CLI_EXIT_USAGE. Free with cli_options_free().
 */
int cli_options_parse(int argc, char **argv, cli_send_args *args);

/**
 * getopt_long's complaint (@p result '?' or ':') as one line that points to @p help, such as
 * "smtpkit --help"; returns CLI_EXIT_USAGE.
 */
int cli_option_error(int result, char **argv, const char *help);

/**
 * Parses @p text as a whole number from @p min to @p max for @p option. Returns 0, or prints
 * "OPTION TEXT: give a whole number from MIN to MAX" and returns CLI_EXIT_USAGE.
 */
int cli_option_number(const char *option, const char *text, unsigned long min, unsigned long max,
                      unsigned long *out);

/** Frees the lists of @p args. */
void cli_options_free(cli_send_args *args);

/** Prints the help of smtpkit (one screen) to @p out. */
void cli_options_help(FILE *out);

#endif
