/*
 * sasl.h - the client side of the SASL mechanisms smtpkit speaks (internal to the core).
 *
 * Every function writes the base64 text of one client response, NUL-terminated, into a
 * caller's buffer (the session passes the free end of its output buffer, so a response is
 * never copied). Credential bytes pass through a small stack buffer that is wiped before
 * returning. Returns: SMTPKIT_OK; SMTPKIT_E_BUFFER when @p size is too small (base64 length
 * plus the NUL); SMTPKIT_E_PROTOCOL for a challenge that cannot be answered (not base64, too
 * long, or a step the mechanism does not have); SMTPKIT_E_INTERNAL when Mbed TLS fails.
 */
#ifndef SMTPKIT_CORE_SASL_H
#define SMTPKIT_CORE_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"
#include "smtpkit/session.h"

/** Longest decoded CRAM-MD5 challenge accepted (RFC 2195 uses a short msg-id). */
#define SMTPKIT_SASL_CHALLENGE_MAX 512

/** What a mechanism needs to answer. */
typedef struct smtpkit_sasl_credentials {
    const char *user;
    const char *secret;     /* password, or bearer token */
    const char *oauth_host; /* OAUTHBEARER host=, or NULL */
    uint16_t oauth_port;    /* OAUTHBEARER port=, or 0 */
} smtpkit_sasl_credentials;

/** Whether @p mech is compiled in (SMTPKIT_WITH_* in smtpkit/options.h). */
bool smtpkit_sasl_enabled(smtpkit_auth_mech mech);

/** Finds a mechanism by its name of @p len bytes (case-insensitive); AUTO is not a name here. */
bool smtpkit_sasl_lookup(const char *name, size_t len, smtpkit_auth_mech *mech);

/** Whether @p mech sends its first response on the AUTH line (RFC 4954 section 4). */
bool smtpkit_sasl_has_initial(smtpkit_auth_mech mech);

/** The initial response of PLAIN, XOAUTH2 or OAUTHBEARER. */
smtpkit_status smtpkit_sasl_initial(smtpkit_auth_mech mech, const smtpkit_sasl_credentials *cred,
                                    char *out, size_t size, size_t *len);

/**
 * The answer to the 334 challenge number @p step (0 for the first) whose base64 text is
 * @p challenge. LOGIN answers the user name, then the password; CRAM-MD5 the keyed digest;
 * XOAUTH2 an empty line and OAUTHBEARER "AQ==" (a single 0x01, RFC 7628 section 3.2.3) to an
 * error challenge, so that the server can send its final 5xx.
 */
smtpkit_status smtpkit_sasl_answer(smtpkit_auth_mech mech, int step,
                                   const smtpkit_sasl_credentials *cred, const char *challenge,
                                   size_t challenge_len, char *out, size_t size, size_t *len);

/** PLAIN (RFC 4616): base64 of "\0user\0secret", the authorization identity left empty. */
smtpkit_status smtpkit_sasl_plain(const char *user, const char *secret, char *out, size_t size,
                                  size_t *len);

/** Base64 of @p text: LOGIN's answers. */
smtpkit_status smtpkit_sasl_login(const char *text, char *out, size_t size, size_t *len);

/** CRAM-MD5 (RFC 2195): base64 of "user " and the lowercase hex HMAC-MD5 of the challenge. */
smtpkit_status smtpkit_sasl_cram_md5(const char *user, const char *secret, const char *challenge,
                                     size_t challenge_len, char *out, size_t size, size_t *len);

/** XOAUTH2: base64 of "user=U\x01auth=Bearer T\x01\x01". */
smtpkit_status smtpkit_sasl_xoauth2(const char *user, const char *token, char *out, size_t size,
                                    size_t *len);

/**
 * OAUTHBEARER (RFC 7628 section 3.1): base64 of "n,a=U,\x01[host=H\x01][port=P\x01]auth=Bearer
 * T\x01\x01", with ',' and '=' in the user escaped as RFC 5801 requires.
 */
smtpkit_status smtpkit_sasl_oauthbearer(const char *user, const char *token, const char *host,
                                        uint16_t port, char *out, size_t size, size_t *len);

/** Overwrites @p len bytes with zeros in a way the compiler cannot drop. */
void smtpkit_sasl_wipe(void *buf, size_t len);

#endif
