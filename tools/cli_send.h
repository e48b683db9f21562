/*
 * cli_send.h - the "send" command of the smtpkit tool.
 */
#ifndef SMTPKIT_CLI_SEND_H
#define SMTPKIT_CLI_SEND_H

/**
 * Runs "smtpkit send" with @p argv[0] = "send". Returns the exit code; every failure has
 * printed exactly one line on stderr.
 */
int cli_send_main(int argc, char **argv);

#endif
