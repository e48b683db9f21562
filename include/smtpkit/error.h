/*
 * smtpkit/error.h - the one error type of smtpkit.
 *
 * Every failure is a class (what kind of thing went wrong, which decides the exit code and
 * whether a retry can help), the stage of the session where it happened, the server's last
 * reply when there was one, and a one-line human message. The core fills it without stdio.
 */
#ifndef SMTPKIT_ERROR_H
#define SMTPKIT_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SMTPKIT_MUST_CHECK __attribute__((warn_unused_result))
#else
#define SMTPKIT_MUST_CHECK
#endif

/** Failure classes. 0 is success; every other value is a failure. */
typedef enum smtpkit_status {
    SMTPKIT_OK = 0,
    SMTPKIT_E_USAGE,     /**< bad argument, address, header or configuration */
    SMTPKIT_E_CONNECT,   /**< name resolution or TCP connect failed */
    SMTPKIT_E_TLS,       /**< TLS handshake or record layer failed, or TLS not offered */
    SMTPKIT_E_CERT,      /**< server certificate did not verify (chain or host name) */
    SMTPKIT_E_PROTOCOL,  /**< the server broke the SMTP grammar (bad reply, too long, ...) */
    SMTPKIT_E_AUTH,      /**< authentication refused or no usable mechanism */
    SMTPKIT_E_TEMPORARY, /**< the server answered 4xx: a later retry may succeed */
    SMTPKIT_E_PERMANENT, /**< the server answered 5xx: a retry will not help */
    SMTPKIT_E_IO,        /**< read or write failed, or the server closed the connection */
    SMTPKIT_E_TIMEOUT,   /**< the server did not answer within the configured time */
    SMTPKIT_E_BUFFER,    /**< a caller-provided buffer is too small */
    SMTPKIT_E_STATE,     /**< an API call that does not fit the session's current state */
    SMTPKIT_E_INTERNAL   /**< a library or system failure (out of memory, RNG failure) */
} smtpkit_status;

/** Where in a session a failure happened. */
typedef enum smtpkit_stage {
    SMTPKIT_STAGE_NONE = 0,
    SMTPKIT_STAGE_CONNECT,
    SMTPKIT_STAGE_GREETING,
    SMTPKIT_STAGE_EHLO,
    SMTPKIT_STAGE_HELO,
    SMTPKIT_STAGE_STARTTLS,
    SMTPKIT_STAGE_TLS,
    SMTPKIT_STAGE_AUTH,
    SMTPKIT_STAGE_MAIL,
    SMTPKIT_STAGE_RCPT,
    SMTPKIT_STAGE_DATA,
    SMTPKIT_STAGE_BODY,
    SMTPKIT_STAGE_QUIT
} smtpkit_stage;

/** Longest server text kept in an error; longer text is cut, never overflowed. */
#define SMTPKIT_ERROR_TEXT_MAX 256
/** Longest human message kept in an error. */
#define SMTPKIT_ERROR_MESSAGE_MAX 200

/** A failure, with the server's reply when the failure came from one. */
typedef struct smtpkit_error {
    smtpkit_status status;
    smtpkit_stage stage;
    uint16_t reply_code;                     /**< 0 when no reply was involved */
    char enhanced[16];                       /**< RFC 3463 code such as "5.7.8", or "" */
    char text[SMTPKIT_ERROR_TEXT_MAX];       /**< server text, control bytes replaced */
    char message[SMTPKIT_ERROR_MESSAGE_MAX]; /**< what smtpkit says happened */
} smtpkit_error;

/** Resets @p err to "no error". */
void smtpkit_error_clear(smtpkit_error *err);

/**
 * Records a failure without a server reply. @p message is copied and cut to fit.
 * Returns @p status so that callers can write `return smtpkit_error_set(...)`.
 */
smtpkit_status smtpkit_error_set(smtpkit_error *err, smtpkit_status status, smtpkit_stage stage,
                                 const char *message);

/** The short name of a status, such as "temporary failure". Never NULL. */
const char *smtpkit_error_status_name(smtpkit_status status);

/** The name of a stage as an SMTP user knows it, such as "RCPT TO". Never NULL. */
const char *smtpkit_error_stage_name(smtpkit_stage stage);

/**
 * Writes the error as one line into @p out (always NUL-terminated when @p size > 0), e.g.
 * `RCPT TO failed: 550 5.1.1 <x@y>: Recipient address rejected (permanent failure)`.
 * Returns the length written, without the NUL.
 */
size_t smtpkit_error_format(const smtpkit_error *err, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
