/*
 * session_internal.h - what the files of the session engine share (internal to the core).
 *
 * session.c holds the state machine, the failure rules, the command writer and the public API;
 * session_auth.c the AUTH exchange (RFC 4954); session_mail.c the mail transaction and the
 * message body (RFC 5321 sections 3.3 and 4.5.2). Only smtpkit_engine_set_state() changes the
 * state, and only smtpkit_engine_fail() records a failure.
 */
#ifndef SMTPKIT_CORE_SESSION_INTERNAL_H
#define SMTPKIT_CORE_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpkit/session.h"

/* The states of smtpkit_session.state; names for the trace are in session.c. */
enum smtpkit_engine_state {
    ST_GREETING,
    ST_EHLO,
    ST_HELO,
    ST_STARTTLS,
    ST_TLS, /* the 220 to STARTTLS arrived: the caller does the handshake */
    ST_AUTH,
    ST_READY,
    ST_MAIL,
    ST_RCPT,
    ST_DATA,
    ST_BODY, /* the caller pushes the message */
    ST_DOT,  /* the end of data was queued: the reply is due */
    ST_SENT, /* the message was accepted: EV_SENT is returned once */
    ST_QUIT,
    ST_DONE,
    ST_FAILED,       /* failed; QUIT may still be sent */
    ST_FAILED_QUIT,  /* failed; QUIT queued, its reply is due */
    ST_FAILED_FINAL, /* failed; nothing more is sent */
    ST_COUNT
};

/** Moves to @p state and traces the change ("state EHLO -> STARTTLS"). */
void smtpkit_engine_set_state(smtpkit_session *s, int state);

/** SMTPKIT_OK, or the status of the failure the session ended in. */
smtpkit_status smtpkit_engine_status(const smtpkit_session *s);

/** Hands a NUL-terminated line to the trace callback, if there is one. */
void smtpkit_engine_trace(const smtpkit_session *s, smtpkit_trace_kind kind, const char *text);

/**
 * Ends the session in failure with the server's @p reply (or NULL). @p can_quit: the server
 * waits for a command, so a polite QUIT may still follow. A session that already failed keeps
 * its first error and only closes.
 */
void smtpkit_engine_fail(smtpkit_session *s, smtpkit_status status, smtpkit_stage stage,
                         const char *message, bool can_quit, const smtpkit_reply *reply);

/** Fails on the last reply: TEMPORARY for 4xx, PERMANENT for 5xx, else PROTOCOL. */
void smtpkit_engine_reject(smtpkit_session *s, const char *message);

/** A command line being appended to the output; it is committed whole or not at all. */
typedef struct smtpkit_command {
    smtpkit_session *s;
    size_t start; /* where the line starts in the output */
    bool full;    /* something did not fit: smtpkit_command_end() fails with SMTPKIT_E_BUFFER */
} smtpkit_command;

void smtpkit_command_begin(smtpkit_command *c, smtpkit_session *s);

/** Appends a NUL-terminated piece of the line. */
void smtpkit_command_put(smtpkit_command *c, const char *text);

/**
 * The free space for a piece written in place (a SASL response), keeping room for the CRLF: the
 * writer may put its NUL where the CR goes. Then smtpkit_command_wrote() with its length.
 */
char *smtpkit_command_space(smtpkit_command *c, size_t *size);
void smtpkit_command_wrote(smtpkit_command *c, size_t len);

/**
 * Ends the line with CRLF, traces it (as @p shown when not NULL, to hide a payload) and counts
 * its reply as due. When it does not fit, the line is dropped and the session fails with
 * SMTPKIT_E_BUFFER, naming the command @p name; returns false then.
 */
bool smtpkit_command_end(smtpkit_command *c, const char *name, const char *shown);

/** Queues "VERB" or "VERB argument". */
bool smtpkit_engine_send(smtpkit_session *s, const char *verb, const char *argument);

/* session_auth.c */

/** After EHLO with credentials: refuses plaintext, picks the mechanism, sends AUTH. */
void smtpkit_engine_start_auth(smtpkit_session *s);

/** The reply in the AUTH state: 235, a 334 challenge, or a refusal. */
void smtpkit_engine_on_auth(smtpkit_session *s, unsigned code);

/* session_mail.c */

/** The replies to MAIL FROM, RCPT TO and DATA. */
void smtpkit_engine_on_mail(smtpkit_session *s, unsigned code);
void smtpkit_engine_on_rcpt(smtpkit_session *s, unsigned code);
void smtpkit_engine_on_data(smtpkit_session *s, unsigned code);

#endif
