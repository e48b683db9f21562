/*
 * smtpkit/message.h - addresses and the header block of a plain text message (RFC 5322).
 *
 * Part of the portable core: no clock, no randomness of its own. The caller passes the date
 * and the random bytes of the Message-ID. MIME parts come in a later module.
 */
#ifndef SMTPKIT_MESSAGE_H
#define SMTPKIT_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** RFC 5321 4.5.3.1.3: a path is at most 256 octets, so an address at most 254. */
#define SMTPKIT_ADDRESS_MAX 254

/** A mailbox split into its parts; both point into the caller's string. */
typedef struct smtpkit_mailbox {
    const char *display; /**< display name (unquoted span), or NULL */
    size_t display_len;
    const char *addr; /**< the addr-spec local@domain */
    size_t addr_len;
} smtpkit_mailbox;

/**
 * Parses "local@domain", "<local@domain>" or "Display Name <local@domain>". Refuses, with a
 * message naming the fault: control bytes (CR, LF, NUL, ...), no '@', an empty local part or
 * domain, spaces or '<', '>' in the address, an address over SMTPKIT_ADDRESS_MAX octets.
 * 8-bit bytes are accepted (SMTPUTF8 is the server's business).
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_mailbox_parse(const char *text, smtpkit_mailbox *out,
                                                        smtpkit_error *err);

/** A civil date and time with its offset from UTC, as the host's clock gives it. */
typedef struct smtpkit_datetime {
    int year, month, day; /**< month 1..12, day 1..31 */
    int hour, minute, second;
    int utc_offset_minutes; /**< e.g. +60 for CET */
    int weekday;            /**< 0 = Sunday .. 6 */
} smtpkit_datetime;

/** The headers of a plain text message. */
typedef struct smtpkit_message_headers {
    const char *from; /**< a mailbox as smtpkit_mailbox_parse() takes */
    const char *const *to;
    size_t to_count;
    const char *const *cc;
    size_t cc_count;
    const char *subject;          /**< may be NULL; CR, LF and control bytes refused */
    const char *message_id;       /**< "<...@...>", from smtpkit_message_make_id() */
    const smtpkit_datetime *date; /**< NULL leaves Date out (a clock that is not set) */
    bool mime_follows; /**< stop after MIME-Version: the MIME composer adds Content-Type */
} smtpkit_message_headers;

/**
 * Writes the header block (Date, From, To, Cc, Subject, Message-ID, MIME-Version, a text/plain
 * UTF-8 Content-Type and 8bit Content-Transfer-Encoding, each line ending in CRLF, then the
 * empty line) into @p out, followed by a NUL that *@p written does not count: @p size must be
 * the length plus one. To and Cc fold after a comma before column 78; a non-ASCII display name
 * or subject becomes RFC 2047 encoded-words. Bcc never appears. With h->mime_follows, the block
 * stops after MIME-Version (no Content-Type, no empty line), for smtpkit_composer. Returns
 * SMTPKIT_E_USAGE for a bad address, subject, date or Message-ID and SMTPKIT_E_BUFFER when @p size
 * is too small.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_message_write_headers(const smtpkit_message_headers *h,
                                                                char *out, size_t size,
                                                                size_t *written,
                                                                smtpkit_error *err);

/**
 * Makes a Message-ID "<hex@domain>" (NUL-terminated) from @p random_len random bytes (16
 * recommended) and the sender's domain. SMTPKIT_E_BUFFER if it does not fit, SMTPKIT_E_USAGE
 * for no random bytes or a domain with a control byte, a space, '<', '>', '@' or '"'.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_message_make_id(const uint8_t *random, size_t random_len,
                                                          const char *domain, char *out,
                                                          size_t size);

#ifdef __cplusplus
}
#endif

#endif
