/*
 * smtpkit/reply.h - incremental parser of SMTP replies (RFC 5321 4.2, RFC 3463).
 *
 * Bytes are fed as they arrive, split anywhere. The parser hands back each completed line (so
 * that EHLO capabilities can be read line by line) and tells when the final line of a reply has
 * arrived. It owns no memory beyond its struct and never reads past the bytes it is given.
 */
#ifndef SMTPKIT_REPLY_H
#define SMTPKIT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"
#include "smtpkit/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What one call to smtpkit_reply_feed() found. */
typedef enum smtpkit_reply_result {
    SMTPKIT_REPLY_MORE = 0, /**< all bytes consumed, the line is not complete yet */
    SMTPKIT_REPLY_LINE,     /**< a continuation line ("250-...") is complete */
    SMTPKIT_REPLY_DONE,     /**< the final line is complete: the reply is whole */
    SMTPKIT_REPLY_ERROR     /**< the bytes are not a valid reply; see the parser's error */
} smtpkit_reply_result;

/** A complete reply, as far as smtpkit keeps it. */
typedef struct smtpkit_reply {
    uint16_t code;                     /**< 200..599 */
    char enhanced[16];                 /**< "x.y.z" from RFC 3463 when present, else "" */
    uint16_t line_count;               /**< number of lines in the reply */
    char text[SMTPKIT_ERROR_TEXT_MAX]; /**< the lines' texts joined by " ", cut to fit */
} smtpkit_reply;

/** Parser state. Treat as opaque; it may live on the stack or in a static. */
typedef struct smtpkit_reply_parser {
    char line[SMTPKIT_REPLY_LINE_MAX + 1]; /* current line, without CRLF, NUL-terminated */
    size_t line_len;
    bool line_complete;  /* line[] holds a finished line; the next byte starts a new one */
    bool overflow;       /* the current line went past SMTPKIT_REPLY_LINE_MAX */
    smtpkit_reply reply; /* the reply being assembled, valid after SMTPKIT_REPLY_DONE */
    size_t text_len;
    const char *error; /* static string naming the fault after SMTPKIT_REPLY_ERROR */
} smtpkit_reply_parser;

/** Prepares @p p for a new reply. Call once before the first feed and after each DONE. */
void smtpkit_reply_init(smtpkit_reply_parser *p);

/**
 * Feeds up to @p len bytes. Stops right after the first line that completes, so that the
 * caller can act on it; *@p consumed says how many bytes were used (the rest must be fed again).
 * A line may end in CRLF or a bare LF. Returns SMTPKIT_REPLY_ERROR on: a line longer than
 * SMTPKIT_REPLY_LINE_MAX, a code not of the form [2-5][0-5][0-9], a separator other than ' ',
 * '-' or end of line, lines of one reply with different codes, more than
 * SMTPKIT_REPLY_LINES_MAX lines. After an error the parser stays in error.
 */
smtpkit_reply_result smtpkit_reply_feed(smtpkit_reply_parser *p, const uint8_t *data, size_t len,
                                        size_t *consumed);

/**
 * The text of the line completed by the last feed (after the code and separator), NUL-free
 * (NUL bytes are replaced by '?'), NUL-terminated; *@p len receives its length.
 */
const char *smtpkit_reply_line_text(const smtpkit_reply_parser *p, size_t *len);

/** The complete reply after SMTPKIT_REPLY_DONE. */
const smtpkit_reply *smtpkit_reply_get(const smtpkit_reply_parser *p);

/** A static string that names what was wrong after SMTPKIT_REPLY_ERROR. */
const char *smtpkit_reply_error(const smtpkit_reply_parser *p);

#ifdef __cplusplus
}
#endif

#endif
