/*
 * main.c - the smtpkit command: dispatches to its commands and answers --help and --version.
 *
 * "send" sends a message; "cert" shows, exports and checks a server's certificates and the
 * trust anchors a device carries. "send" is also the default when the first argument is an
 * option ("smtpkit --server ... --to ..."), as msmtp users expect; every other command is a
 * word, so it cannot be confused with an option.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/version.h>

#include "cli_cert.h"
#include "cli_exit.h"
#include "cli_options.h"
#include "cli_send.h"

#ifndef SMTPKIT_VERSION
#define SMTPKIT_VERSION "unknown"
#endif

/* What cert prints on stdout is its result: a success whose output was lost (a full disk, a
 * closed stdout) must not read as one. send is left alone: its message is sent either way,
 * and a failure there would invite sending it twice. */
static int cert_output_written(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int saved = errno;

        if (rc == CLI_EXIT_OK) {
            return cli_fail(CLI_EXIT_IOERR, "cannot write to standard output: %s",
                            strerror(saved != 0 ? saved : EIO));
        }
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *command = argc > 1 ? argv[1] : NULL;

    if (command == NULL) {
        return cli_fail(CLI_EXIT_USAGE, "no command given; see 'smtpkit --help'");
    }
    if (strcmp(command, "send") == 0) {
        return cli_send_main(argc - 1, argv + 1);
    }
    if (strcmp(command, "cert") == 0) {
        return cert_output_written(cli_cert_main(argc - 1, argv + 1));
    }
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
        cli_options_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0) {
        printf("smtpkit %s (built with Mbed TLS %s)\n", SMTPKIT_VERSION, MBEDTLS_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (command[0] == '-') {
        argv[0] = "send"; /* options without a command: send, which names a bad option */
        return cli_send_main(argc, argv);
    }
    return cli_fail(CLI_EXIT_USAGE, "unknown command '%s'; see 'smtpkit --help'", command);
}
