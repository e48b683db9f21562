/*
 * smtpkit/session.h - the sans-I/O SMTP client engine (RFC 5321, 3207, 4954, 6409).
 *
 * The session never touches a socket, a clock or the heap. The caller pumps it:
 *
 *     for (;;) switch (smtpkit_session_next(s)) {
 *     case SMTPKIT_EV_WRITE:     write smtpkit_session_output(), then smtpkit_session_written()
 *     case SMTPKIT_EV_READ:      read bytes, smtpkit_session_feed() (or _eof() on close)
 *     case SMTPKIT_EV_START_TLS: do the TLS handshake, then smtpkit_session_tls_started()
 *     case SMTPKIT_EV_READY:     smtpkit_session_mail(envelope), or smtpkit_session_quit()
 *     case SMTPKIT_EV_BODY:      smtpkit_session_body() as often as needed, then _body_end()
 *     case SMTPKIT_EV_SENT:      the message was accepted; READY follows
 *     case SMTPKIT_EV_DONE:      QUIT answered (or the server closed after it): close
 *     case SMTPKIT_EV_FAILED:    smtpkit_session_error() says what, where and the reply
 *     }
 *
 * Commands are counted as outstanding when queued, so that pipelining (RFC 2920) can later
 * queue several before reading; several messages can be sent over one session by calling
 * smtpkit_session_mail() again at each READY.
 */
#ifndef SMTPKIT_SESSION_H
#define SMTPKIT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"
#include "smtpkit/reply.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How TLS is used on the connection. */
typedef enum smtpkit_tls_mode {
    SMTPKIT_TLS_STARTTLS = 0, /**< plaintext greeting, then STARTTLS required (port 587) */
    SMTPKIT_TLS_IMPLICIT,     /**< TLS from the first byte (port 465); the caller does it */
    SMTPKIT_TLS_NONE          /**< no TLS at all: only for a trusted local relay */
} smtpkit_tls_mode;

/** SASL mechanisms, weakest first is NOT implied: see smtpkit_session_config.auth. */
typedef enum smtpkit_auth_mech {
    SMTPKIT_AUTH_AUTO = 0, /**< strongest offered: OAUTHBEARER/XOAUTH2 if a token is given,
                                else CRAM-MD5, PLAIN, LOGIN */
    SMTPKIT_AUTH_PLAIN,
    SMTPKIT_AUTH_LOGIN,
    SMTPKIT_AUTH_CRAM_MD5,
    SMTPKIT_AUTH_XOAUTH2,
    SMTPKIT_AUTH_OAUTHBEARER
} smtpkit_auth_mech;

/** Capabilities found in the server's EHLO reply (SMTPKIT_CAP_* bits). */
enum {
    SMTPKIT_CAP_STARTTLS = 1u << 0,
    SMTPKIT_CAP_AUTH = 1u << 1,
    SMTPKIT_CAP_SIZE = 1u << 2,
    SMTPKIT_CAP_PIPELINING = 1u << 3,
    SMTPKIT_CAP_8BITMIME = 1u << 4,
    SMTPKIT_CAP_SMTPUTF8 = 1u << 5,
    SMTPKIT_CAP_ENHANCEDSTATUSCODES = 1u << 6,
    SMTPKIT_CAP_DSN = 1u << 7,
    SMTPKIT_CAP_CHUNKING = 1u << 8
};

/** One bit per smtpkit_auth_mech (1u << mech) for the mechanisms the server offers. */
typedef uint32_t smtpkit_mech_set;

/** Kinds of trace lines handed to the trace callback. */
typedef enum smtpkit_trace_kind {
    SMTPKIT_TRACE_CLIENT = 'C', /**< a line the client sends (AUTH payloads redacted) */
    SMTPKIT_TRACE_SERVER = 'S', /**< a line the server sent */
    SMTPKIT_TRACE_INFO = '*'    /**< a state change or a note */
} smtpkit_trace_kind;

/** Trace sink. @p text is not NUL-terminated and never holds a secret. */
typedef void (*smtpkit_trace_fn)(void *ctx, smtpkit_trace_kind kind, const char *text, size_t len);

/** Settings of a session; the strings must outlive the session. */
typedef struct smtpkit_session_config {
    const char *helo_name; /**< EHLO/HELO argument (a domain or address literal) */
    smtpkit_tls_mode tls_mode;
    const char *user;          /**< NULL: no AUTH */
    const char *secret;        /**< password, or bearer token for the OAuth mechanisms */
    smtpkit_auth_mech auth;    /**< SMTPKIT_AUTH_AUTO or the mechanism the user named */
    bool secret_is_token;      /**< the secret is an OAuth2 token: AUTO picks an OAuth mech */
    bool allow_plaintext_auth; /**< allow AUTH without TLS (SMTPKIT_TLS_NONE only) */
    bool rcpt_strict;          /**< any rejected recipient fails the message */
    const char *oauth_host;    /**< OAUTHBEARER host= value, may be NULL */
    uint16_t oauth_port;       /**< OAUTHBEARER port= value, 0 to leave out */
    smtpkit_trace_fn trace;    /**< may be NULL */
    void *trace_ctx;
} smtpkit_session_config;

/** Outcome for one recipient of a message. */
typedef struct smtpkit_rcpt_result {
    uint16_t code; /**< the RCPT TO reply code, 0 if not tried */
    char enhanced[16];
    char text[SMTPKIT_ERROR_TEXT_MAX];
} smtpkit_rcpt_result;

/** The envelope of one message. */
typedef struct smtpkit_envelope {
    const char *mail_from;   /**< reverse path, "" for the null sender */
    const char *const *rcpt; /**< forward paths: To, Cc and Bcc together */
    size_t rcpt_count;
    size_t size_hint;             /**< message size for SIZE= (RFC 1870), 0 if unknown */
    smtpkit_rcpt_result *results; /**< rcpt_count entries to fill, or NULL */
    smtpkit_reply *accepted;      /**< receives the reply to the message ("250 2.0.0 Ok:
                                       queued as ..."), or NULL */
} smtpkit_envelope;

/** Events returned by smtpkit_session_next(). */
typedef enum smtpkit_event {
    SMTPKIT_EV_WRITE = 1, /**< bytes are waiting in smtpkit_session_output() */
    SMTPKIT_EV_READ,      /**< the session waits for the server's bytes */
    SMTPKIT_EV_START_TLS, /**< do the TLS handshake, then call smtpkit_session_tls_started() */
    SMTPKIT_EV_READY,     /**< logged in and idle: call smtpkit_session_mail() or _quit() */
    SMTPKIT_EV_BODY,      /**< the server waits for the message: smtpkit_session_body() */
    SMTPKIT_EV_SENT,      /**< the last message was accepted; returned once */
    SMTPKIT_EV_DONE,      /**< the session ended cleanly after QUIT: close the connection */
    SMTPKIT_EV_FAILED     /**< see smtpkit_session_error(); close the connection */
} smtpkit_event;

/** Smallest output buffer a session accepts: room for the longest ordinary command. */
#define SMTPKIT_SESSION_OUTPUT_MIN 1024u
/** Output buffer that also fits a large OAuth2 token (RFC 4954 allows 12288 octets). */
#define SMTPKIT_SESSION_OUTPUT_RECOMMENDED 16384u

/** Session state; treat as opaque. Size it with sizeof, place it anywhere. */
typedef struct smtpkit_session {
    const smtpkit_session_config *config;
    const smtpkit_envelope *envelope;
    smtpkit_reply_parser parser;
    uint8_t *out;
    size_t out_size;
    size_t out_len;  /* bytes queued */
    size_t out_sent; /* bytes of out already written */
    int state;
    int auth_step;
    smtpkit_auth_mech auth_mech;
    unsigned caps;
    smtpkit_mech_set mechs;
    unsigned long size_max;
    uint16_t pending; /* commands queued or sent whose reply has not arrived */
    size_t rcpt_next; /* next recipient to send */
    size_t rcpt_done; /* recipients whose reply arrived */
    size_t rcpt_ok;
    bool tls_active;
    bool early; /* the reply being read came before its command was written */
    bool body_line_start;
    bool body_cr;
    size_t body_bytes;
    smtpkit_reply last_reply;
    smtpkit_error error;
} smtpkit_session;

/**
 * Prepares a session. @p out (at least SMTPKIT_SESSION_OUTPUT_MIN bytes) holds what the
 * session wants written. For SMTPKIT_TLS_IMPLICIT the caller must have completed the TLS
 * handshake before feeding the greeting. Returns SMTPKIT_E_BUFFER or SMTPKIT_E_USAGE for a
 * small buffer or an unusable config (no helo_name, AUTH named without a user, ...).
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_session_init(smtpkit_session *s,
                                                       const smtpkit_session_config *config,
                                                       uint8_t *out, size_t out_size);

/**
 * What the caller must do next. SMTPKIT_EV_SENT is returned once (the call moves the session
 * to READY). SMTPKIT_EV_DONE and SMTPKIT_EV_FAILED stay once there, with one exception: after a
 * failure that came with a complete server reply (a 4xx/5xx), or a refusal of smtpkit while
 * the server waits for a command (no STARTTLS offered, no usable AUTH mechanism, a refused
 * envelope), smtpkit_session_quit() may queue QUIT; next() then gives WRITE, READ for the
 * reply, and FAILED again, with the first error kept.
 */
smtpkit_event smtpkit_session_next(smtpkit_session *s);

/** The bytes waiting to be written; *@p len receives their count (0 if none). */
const uint8_t *smtpkit_session_output(const smtpkit_session *s, size_t *len);

/** Tells the session that @p n bytes of its output were written. */
void smtpkit_session_written(smtpkit_session *s, size_t n);

/**
 * Feeds bytes read from the server. All @p len bytes are consumed. Bytes that arrive when no
 * reply is expected, or before the command they would answer has been written, are a protocol
 * error, except right after the 220 to STARTTLS, where any plaintext that follows is discarded
 * unread (RFC 3207 section 6, command injection).
 * Returns the session's status (SMTPKIT_OK or the failure it ended in).
 */
smtpkit_status smtpkit_session_feed(smtpkit_session *s, const uint8_t *data, size_t len);

/** Tells the session the server closed the connection (a read returned 0). */
smtpkit_status smtpkit_session_eof(smtpkit_session *s);

/** Tells the session that the TLS handshake succeeded; it sends EHLO again. */
smtpkit_status smtpkit_session_tls_started(smtpkit_session *s);

/**
 * Marks the session failed by the caller (I/O error, timeout, TLS failure); a stage of
 * SMTPKIT_STAGE_NONE in @p err is replaced by the current one. No QUIT can follow. A session that
 * has already failed keeps its first error.
 */
void smtpkit_session_fail(smtpkit_session *s, const smtpkit_error *err);

/**
 * Starts a mail transaction at SMTPKIT_EV_READY. The envelope must outlive the transaction.
 * Returns SMTPKIT_E_USAGE for an address with CR, LF, control bytes, a space, '<' or '>' or no
 * recipient, SMTPKIT_E_PERMANENT when size_hint exceeds the server's SIZE, and SMTPKIT_E_STATE
 * outside READY (the session is then left as it was). A refused envelope sends nothing and
 * fails the session (SMTPKIT_EV_FAILED, stage SMTPKIT_STAGE_MAIL); QUIT may still follow.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_session_mail(smtpkit_session *s,
                                                       const smtpkit_envelope *envelope);

/**
 * Adds message bytes at SMTPKIT_EV_BODY: line ends are normalized to CRLF (bare CR and bare LF
 * alike) and lines starting with '.' are dot-stuffed. Returns how many of @p len bytes were
 * taken; fewer when the output buffer is full (write it, then call again with the rest).
 */
size_t smtpkit_session_body(smtpkit_session *s, const uint8_t *data, size_t len);

/** Ends the message ("CRLF.CRLF"). SMTPKIT_E_BUFFER if the output is too full: write first. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_session_body_end(smtpkit_session *s);

/**
 * Queues QUIT at SMTPKIT_EV_READY, or after a failure that came with a server reply, to leave
 * politely (see smtpkit_session_next()). SMTPKIT_E_STATE otherwise (after EOF, an I/O or
 * protocol error, or a second time).
 */
smtpkit_status smtpkit_session_quit(smtpkit_session *s);

/** The failure after SMTPKIT_EV_FAILED. */
const smtpkit_error *smtpkit_session_error(const smtpkit_session *s);

/** The last complete reply of the server. */
const smtpkit_reply *smtpkit_session_last_reply(const smtpkit_session *s);

/** The stage the session is in now (for per-stage timeouts and messages). */
smtpkit_stage smtpkit_session_stage(const smtpkit_session *s);

/** SMTPKIT_CAP_* bits of the last EHLO reply. */
unsigned smtpkit_session_caps(const smtpkit_session *s);

/** Mechanisms offered by the last EHLO reply, one bit per smtpkit_auth_mech. */
smtpkit_mech_set smtpkit_session_mechs(const smtpkit_session *s);

/** Whether TLS is active (implicit, or after STARTTLS). */
bool smtpkit_session_tls_active(const smtpkit_session *s);

/**
 * Whether @p name can follow EHLO (RFC 5321 4.1.2): a domain (letters, digits and hyphens in
 * dot-separated labels of 1 to 63 characters, no hyphen at either end of a label, 253 at most)
 * or an address literal in brackets such as "[192.0.2.1]" or "[IPv6:2001:db8::1]".
 */
bool smtpkit_helo_name_valid(const char *name);

/** Name of a mechanism as in the AUTH command, such as "CRAM-MD5". */
const char *smtpkit_auth_mech_name(smtpkit_auth_mech mech);

/** Parses a mechanism name (case-insensitive); false if unknown. */
bool smtpkit_auth_mech_parse(const char *name, smtpkit_auth_mech *mech);

#ifdef __cplusplus
}
#endif

#endif
