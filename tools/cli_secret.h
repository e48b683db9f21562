/*
 * cli_secret.h - the password or OAuth2 token: from the environment, a file or a command,
 * never from the command line (where every user of the machine could read it in ps).
 */
#ifndef SMTPKIT_CLI_SECRET_H
#define SMTPKIT_CLI_SECRET_H

#include <stddef.h>

/** Longest secret accepted: room for an OAuth2 access token. */
#define CLI_SECRET_MAX 8192

typedef struct cli_secret {
    char *text; /* NUL-terminated, or NULL when none was read */
    size_t len;
} cli_secret;

/**
 * Reads the first line of @p path (trailing CR/LF removed). On failure prints a line naming
 * @p what (e.g. "--password-file") and returns CLI_EXIT_NOINPUT; 0 on success.
 */
int cli_secret_from_file(cli_secret *s, const char *path, const char *what);

/**
 * Runs @p command with /bin/sh -c, standard input from /dev/null, and takes the first line
 * it prints. A non-zero exit, no output or an empty line is an error: printed, naming
 * @p what, and @p fail_code returned; 0 on success.
 */
int cli_secret_from_command(cli_secret *s, const char *command, const char *what, int fail_code);

/** Copies @p value; 0, or CLI_EXIT_SOFTWARE when out of memory. */
int cli_secret_from_string(cli_secret *s, const char *value);

/** Wipes and frees the secret. */
void cli_secret_free(cli_secret *s);

#endif
