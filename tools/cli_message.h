/*
 * cli_message.h - the message smtpkit send composes: a header block made by the core's
 * smtpkit_message_write_headers(), then the body streamed from a file or standard input.
 */
#ifndef SMTPKIT_CLI_MESSAGE_H
#define SMTPKIT_CLI_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpkit/message.h"
#include "smtpkit/transport.h"

typedef struct cli_message {
    char *headers;
    size_t headers_len;
    size_t headers_pos; /* header bytes already handed out */
    int body_fd;
    bool close_body;
    const char *body_name; /* for messages: the file, or "standard input" */
    size_t body_size;      /* known for a regular file, else 0 */
} cli_message;

/** Prepares @p m with no body open. */
void cli_message_init(cli_message *m);

/**
 * Opens the body: @p path, or standard input when it is NULL or "-". Returns 0, or prints a
 * line naming the file and returns CLI_EXIT_NOINPUT.
 */
int cli_message_open_body(cli_message *m, const char *path);

/**
 * Writes the header block from @p h, adding the Date (left out when the clock says it is
 * before 2020) and a Message-ID with 16 random bytes and the domain of @p h->from. Returns 0,
 * or prints the failure and returns its exit code.
 */
int cli_message_compose(cli_message *m, smtpkit_message_headers *h);

/** The message as a source for smtpkit_client_send(): the headers, then the body. */
void cli_message_source(cli_message *m, smtpkit_message_source *src);

/** Size of the message for SIZE= (RFC 1870), 0 if the body's size is not known. */
size_t cli_message_size_hint(const cli_message *m);

/** Closes the body and frees the headers. */
void cli_message_close(cli_message *m);

#endif
