/*
 * smtpkit/compose.h - the streaming MIME composer (RFC 2045, RFC 2046): a header block, a
 * text/plain body, an optional text/html alternative and any number of attachments, written
 * into the caller's buffer piece by piece.
 *
 * Part of the portable core: no malloc, no I/O, no clock. Part contents come through read
 * callbacks in small chunks, so memory is the composer's fixed state plus the caller's buffer,
 * whatever the size of the message. Boundaries come from the caller's random bytes.
 */
#ifndef SMTPKIT_COMPOSE_H
#define SMTPKIT_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/encode.h"
#include "smtpkit/error.h"
#include "smtpkit/message.h"
#include "smtpkit/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of part content pulled through a read callback at a time. */
#define SMTPKIT_COMPOSE_CHUNK 57

/** Staging space: the header block of the message must fit in it (SMTPKIT_E_BUFFER if not). */
#define SMTPKIT_COMPOSE_STAGE 2048

/** Random bytes used for the boundaries: at least 8, at most this many. */
#define SMTPKIT_COMPOSE_RANDOM_MAX 16

/** Longest attachment content type, e.g. "application/pdf". */
#define SMTPKIT_COMPOSE_TYPE_MAX 127

/** An attachment: sent as base64 with Content-Disposition: attachment. */
typedef struct smtpkit_compose_attachment {
    const char *filename;           /**< UTF-8; RFC 2231 encoded when not ASCII */
    const char *content_type;       /**< "type/subtype", printable ASCII, no ';' parameters */
    smtpkit_message_source content; /**< the bytes; got == 0 ends them */
} smtpkit_compose_attachment;

/** What to compose. The composer keeps a pointer to it: it must outlive the composition. */
typedef struct smtpkit_compose_parts {
    const smtpkit_message_headers *headers; /**< mime_follows is set by the composer's copy */
    smtpkit_message_source text;            /**< the text/plain body, UTF-8 */
    const smtpkit_message_source *html;     /**< a text/html alternative, or NULL */
    const smtpkit_compose_attachment *attachments;
    size_t attachment_count;
    const uint8_t *random; /**< 8..SMTPKIT_COMPOSE_RANDOM_MAX bytes for the boundaries */
    size_t random_len;
    bool eight_bit_ok; /**< the server has 8BITMIME: text goes 8bit instead of quoted-printable */
} smtpkit_compose_parts;

/** Which part is being written; internal to the composer. */
typedef enum smtpkit_compose_step {
    SMTPKIT_COMPOSE_HEADERS,
    SMTPKIT_COMPOSE_TEXT_HEAD,
    SMTPKIT_COMPOSE_HTML_HEAD,
    SMTPKIT_COMPOSE_ALT_END,
    SMTPKIT_COMPOSE_ATT_HEAD,
    SMTPKIT_COMPOSE_MIXED_END,
    SMTPKIT_COMPOSE_TEXT_END,
    SMTPKIT_COMPOSE_DONE
} smtpkit_compose_step;

/** The caller-owned state of one composition; smtpkit_composer_init() sets it up. */
typedef struct smtpkit_composer {
    const smtpkit_compose_parts *parts;
    char hex[2 * SMTPKIT_COMPOSE_RANDOM_MAX + 1]; /* the random bytes, for the boundaries */
    smtpkit_compose_step step;
    size_t attachment; /* index of the attachment being written */
    /* The body being encoded: its source, encoder and the chunk read from it. */
    const smtpkit_message_source *body;
    int body_kind;
    smtpkit_b64_encoder b64;
    smtpkit_qp_encoder qp;
    size_t column; /* 8bit: octets on the current line */
    bool cr_seen;  /* 8bit: the last byte was a CR */
    bool body_eof;
    bool ended_line; /* the text body's output ended with CRLF */
    uint8_t chunk[SMTPKIT_COMPOSE_CHUNK];
    size_t chunk_len, chunk_pos;
    /* Output waiting for the caller's buffer. */
    char stage[SMTPKIT_COMPOSE_STAGE];
    size_t stage_len, stage_pos;
    smtpkit_status failed; /* a failure is final: every later read returns it */
} smtpkit_composer;

/**
 * Starts composing @p parts. Returns SMTPKIT_E_USAGE for missing headers or text callback, a
 * random_len out of range, an attachment without a filename, a content type that is not
 * "type/subtype" or a NULL attachments array with a count.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_composer_init(smtpkit_composer *c,
                                                        const smtpkit_compose_parts *parts,
                                                        smtpkit_error *err);

/**
 * Writes the next bytes of the message into @p buf (any size from 1). *@p got is 0 only at the
 * end. Errors: those of the part callbacks and of smtpkit_message_write_headers(), and
 * SMTPKIT_E_USAGE for a bad filename, and, in 8bit mode, for a NUL byte or a line over 998
 * octets in a text body (compose as quoted-printable then). After an error, the composition is
 * over.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_composer_read(smtpkit_composer *c, uint8_t *buf,
                                                        size_t size, size_t *got,
                                                        smtpkit_error *err);

/** Makes @p src read the composed message from @p c, for smtpkit_transport_send(). */
void smtpkit_composer_source(smtpkit_composer *c, smtpkit_message_source *src);

#ifdef __cplusplus
}
#endif

#endif
