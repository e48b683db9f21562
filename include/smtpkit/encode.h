/*
 * smtpkit/encode.h - the encoders of the message composer: base64 and quoted-printable bodies
 * (RFC 2045), encoded-words in header text (RFC 2047) and the filename parameter (RFC 2231).
 *
 * Part of the portable core: no malloc, no I/O. The body encoders stream: the caller owns a
 * small state, hands in any number of input bytes and drains the output through a buffer of
 * its own, so memory does not grow with the size of an attachment.
 */
#ifndef SMTPKIT_ENCODE_H
#define SMTPKIT_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Smallest output buffer the streaming encoders accept: one step never writes more. */
#define SMTPKIT_ENCODE_OUT_MIN 16

/** RFC 2045 6.7 and 6.8: encoded body lines are at most 76 characters before the CRLF. */
#define SMTPKIT_ENCODE_LINE_MAX 76

/** Longest filename parameter written, NUL excluded (no RFC 2231 continuations). */
#define SMTPKIT_FILENAME_PARAM_MAX 900

/** State of a streaming base64 encoder; smtpkit_b64_init() sets it up. */
typedef struct smtpkit_b64_encoder {
    uint8_t group[3]; /* input bytes waiting for a full 3-byte group */
    size_t group_len;
    size_t column; /* characters on the current output line */
} smtpkit_b64_encoder;

/** Starts a base64 encoder. */
void smtpkit_b64_init(smtpkit_b64_encoder *enc);

/**
 * Encodes as much of @p in as fits into @p out: lines of exactly 76 characters, each ended by
 * CRLF. *@p consumed tells how many input bytes were taken (all of them unless @p out filled
 * up: drain it and call again with the rest); *@p produced how many output bytes were written
 * (no NUL). Returns SMTPKIT_E_BUFFER when @p out_size < SMTPKIT_ENCODE_OUT_MIN.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_b64_update(smtpkit_b64_encoder *enc, const void *in,
                                                     size_t in_len, char *out, size_t out_size,
                                                     size_t *consumed, size_t *produced);

/**
 * Ends the data: the last 1 or 2 bytes with '=' padding and the CRLF of a partial last line.
 * Writes nothing after empty input. Returns SMTPKIT_E_BUFFER when @p out_size <
 * SMTPKIT_ENCODE_OUT_MIN.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_b64_finish(smtpkit_b64_encoder *enc, char *out,
                                                     size_t out_size, size_t *produced);

/** State of a streaming quoted-printable encoder; smtpkit_qp_init() sets it up. */
typedef struct smtpkit_qp_encoder {
    size_t column;  /* characters on the current output line */
    bool cr_seen;   /* the last byte was a CR: a LF right after it ends the same line */
    bool has_space; /* a space or tab is held until we know whether the line ends after it */
    uint8_t space;  /* the byte held */
} smtpkit_qp_encoder;

/** Starts a quoted-printable encoder. */
void smtpkit_qp_init(smtpkit_qp_encoder *enc);

/**
 * Encodes text (UTF-8 or any bytes) as quoted-printable, with the same contract as
 * smtpkit_b64_update(). CRLF, bare LF and bare CR all end a line and become CRLF. '=', bytes
 * outside printable ASCII, a space or tab before a line end, and a '.' that starts an output
 * line become =XX. Soft line breaks keep every output line at most 76 characters, the '=' of
 * a soft break included. The output ends with CRLF only if the input ended with a line end:
 * the composer adds the CRLF that belongs to the next boundary.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_qp_update(smtpkit_qp_encoder *enc, const void *in,
                                                    size_t in_len, char *out, size_t out_size,
                                                    size_t *consumed, size_t *produced);

/** Ends the text: writes a held trailing space or tab, encoded. Same errors as the update. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_qp_finish(smtpkit_qp_encoder *enc, char *out,
                                                    size_t out_size, size_t *produced);

/**
 * Writes the header field "@p field_name: @p text" and its CRLF into @p out, NUL-terminated
 * (*@p len does not count the NUL), folded (CRLF and a space) so that no line passes 78
 * characters. Text of printable ASCII and spaces is kept as is and folded at its spaces. Text
 * with a non-ASCII byte, a word too long to fold, or "=?" becomes RFC 2047 B encoded-words
 * of at most 75 characters, each holding whole UTF-8 characters. Returns SMTPKIT_E_USAGE, with
 * a message naming the field, for a field name that is empty, longer than 76 or not printable
 * ASCII without ':', for text holding CR, LF or another control byte, or for invalid UTF-8;
 * SMTPKIT_E_BUFFER when @p out_size is too small.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_encode_header_text(const char *field_name,
                                                             const char *text, char *out,
                                                             size_t out_size, size_t *len,
                                                             smtpkit_error *err);

/**
 * Writes the Content-Disposition filename parameter for @p name (UTF-8), NUL-terminated:
 * filename="report.csv" for printable ASCII ('"' and '\' escaped), filename*=UTF-8''%E2%82%AC
 * (RFC 2231 section 4, percent-encoded) otherwise. Returns SMTPKIT_E_USAGE for an empty name,
 * control bytes, invalid UTF-8 or a parameter longer than SMTPKIT_FILENAME_PARAM_MAX;
 * SMTPKIT_E_BUFFER when @p out_size is too small.
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_encode_filename_param(const char *name, char *out,
                                                                size_t out_size, size_t *len,
                                                                smtpkit_error *err);

#ifdef __cplusplus
}
#endif

#endif
