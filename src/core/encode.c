/*
 * encode.c - the composer's encoders: streaming base64 (RFC 2045 6.8) and quoted-printable
 * (RFC 2045 6.7) bodies, RFC 2047 encoded-words for unstructured header text and the RFC 2231
 * filename parameter.
 *
 * The body encoders only start a step when the output has room for the most one step can
 * write (SMTPKIT_ENCODE_OUT_MIN), so they never keep half-written output in their state.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "smtpkit/encode.h"
#include "core/text.h"

/* The most one base64 group (4 characters and a CRLF) or one QP byte step writes. */
#define STEP_MAX 12
/* RFC 5322 2.1.1: header lines should stay within 78 characters. */
#define HEADER_LINE_MAX 78
/* RFC 2047 2: an encoded-word is at most 75 characters; "=?UTF-8?B?" and "?=" take 12. */
#define WORD_MAX 75
#define WORD_FRAME 12
#define NAME_MAX 76

static const char hex_digits[] = "0123456789ABCDEF";

static bool room(size_t size, size_t used)
{
    return size - used >= STEP_MAX;
}

void smtpkit_b64_init(smtpkit_b64_encoder *enc)
{
    memset(enc, 0, sizeof *enc);
}

/* Encodes the held group (1 to 3 bytes; fewer are padded) and ends the line at 76. */
static void b64_group(smtpkit_b64_encoder *enc, char *out, size_t *produced)
{
    unsigned char quad[5];
    size_t olen = 0;

    /* 3 bytes always fit 4 characters and the NUL, so this cannot fail. */
    (void)mbedtls_base64_encode(quad, sizeof quad, &olen, enc->group, enc->group_len);
    memcpy(out + *produced, quad, 4);
    *produced += 4;
    enc->group_len = 0;
    enc->column += 4;
    if (enc->column == SMTPKIT_ENCODE_LINE_MAX) {
        memcpy(out + *produced, "\r\n", 2);
        *produced += 2;
        enc->column = 0;
    }
}

smtpkit_status smtpkit_b64_update(smtpkit_b64_encoder *enc, const void *in, size_t in_len,
                                  char *out, size_t out_size, size_t *consumed, size_t *produced)
{
    const uint8_t *bytes = in;

    *consumed = 0;
    *produced = 0;
    if (out_size < SMTPKIT_ENCODE_OUT_MIN) {
        return SMTPKIT_E_BUFFER;
    }
    while (*consumed < in_len && room(out_size, *produced)) {
        enc->group[enc->group_len++] = bytes[(*consumed)++];
        if (enc->group_len == 3) {
            b64_group(enc, out, produced);
        }
    }
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_b64_finish(smtpkit_b64_encoder *enc, char *out, size_t out_size,
                                  size_t *produced)
{
    *produced = 0;
    if (out_size < SMTPKIT_ENCODE_OUT_MIN) {
        return SMTPKIT_E_BUFFER;
    }
    if (enc->group_len > 0) {
        b64_group(enc, out, produced);
    }
    if (enc->column > 0) {
        memcpy(out + *produced, "\r\n", 2);
        *produced += 2;
        enc->column = 0;
    }
    return SMTPKIT_OK;
}

void smtpkit_qp_init(smtpkit_qp_encoder *enc)
{
    memset(enc, 0, sizeof *enc);
}

/* One byte of text at the current column: literal when RFC 2045 6.7 rule 2 allows it and
 * @p encode is false, else =XX. A soft break ("=" CRLF, rule 5) comes first when the piece
 * would leave no room for a later '=' within 76 columns. A '.' that starts a line is encoded,
 * so that no line of the body can be the "." that ends DATA (RFC 5321 4.1.1.4). */
static void qp_put(smtpkit_qp_encoder *enc, uint8_t c, bool encode, char *out, size_t *produced)
{
    bool literal = !encode && ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t');
    size_t width = literal ? 1 : 3;

    if (enc->column + width > SMTPKIT_ENCODE_LINE_MAX - 1) {
        memcpy(out + *produced, "=\r\n", 3);
        *produced += 3;
        enc->column = 0;
    }
    if (enc->column == 0 && c == '.') {
        literal = false;
    }
    if (literal) {
        out[(*produced)++] = (char)c;
        enc->column += 1;
        return;
    }
    out[(*produced)++] = '=';
    out[(*produced)++] = hex_digits[c >> 4];
    out[(*produced)++] = hex_digits[c & 15];
    enc->column += 3;
}

/* Writes the held space or tab: encoded when the line ends right after it (rule 3). */
static void qp_release(smtpkit_qp_encoder *enc, bool at_line_end, char *out, size_t *produced)
{
    if (enc->has_space) {
        enc->has_space = false;
        qp_put(enc, enc->space, at_line_end, out, produced);
    }
}

static void qp_byte(smtpkit_qp_encoder *enc, uint8_t c, char *out, size_t *produced)
{
    bool after_cr = enc->cr_seen;

    enc->cr_seen = false;
    if (c == '\n' && after_cr) {
        return; /* the LF of a CRLF whose line already ended at the CR */
    }
    if (c == '\r' || c == '\n') {
        qp_release(enc, true, out, produced);
        memcpy(out + *produced, "\r\n", 2);
        *produced += 2;
        enc->column = 0;
        enc->cr_seen = c == '\r';
        return;
    }
    qp_release(enc, false, out, produced);
    if (c == ' ' || c == '\t') {
        enc->has_space = true;
        enc->space = c;
        return;
    }
    qp_put(enc, c, false, out, produced);
}

smtpkit_status smtpkit_qp_update(smtpkit_qp_encoder *enc, const void *in, size_t in_len, char *out,
                                 size_t out_size, size_t *consumed, size_t *produced)
{
    const uint8_t *bytes = in;

    *consumed = 0;
    *produced = 0;
    if (out_size < SMTPKIT_ENCODE_OUT_MIN) {
        return SMTPKIT_E_BUFFER;
    }
    while (*consumed < in_len && room(out_size, *produced)) {
        qp_byte(enc, bytes[(*consumed)++], out, produced);
    }
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_qp_finish(smtpkit_qp_encoder *enc, char *out, size_t out_size,
                                 size_t *produced)
{
    *produced = 0;
    if (out_size < SMTPKIT_ENCODE_OUT_MIN) {
        return SMTPKIT_E_BUFFER;
    }
    qp_release(enc, true, out, produced);
    enc->cr_seen = false;
    return SMTPKIT_OK;
}

/* Length of the well-formed UTF-8 character at @p s (RFC 3629 4), or 0: no overlong forms,
 * no surrogates, nothing above U+10FFFF, no truncated sequence. */
static size_t utf8_char(const uint8_t *s, size_t left)
{
    uint8_t c = s[0];
    size_t n = 0, i;
    uint8_t lo, hi;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
    }
    if (n == 0 || n > left) {
        return 0;
    }
    /* The second byte's range is what rules out overlong forms, surrogates and > U+10FFFF. */
    lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* Checks @p len bytes: no control byte, well-formed UTF-8. Returns what is wrong, or NULL;
 * *@p ascii tells whether every byte is ASCII. */
static const char *text_fault(const char *text, size_t len, bool *ascii)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0, n;

    *ascii = true;
    while (i < len) {
        if (smtpkit_is_control(s[i])) {
            return s[i] == '\r' || s[i] == '\n' ? "holds CR or LF" : "holds a control byte";
        }
        n = utf8_char(s + i, len - i);
        if (n == 0) {
            return "is not valid UTF-8";
        }
        *ascii = *ascii && n == 1;
        i += n;
    }
    return NULL;
}

/* A usage error "<what><name><between><fault>", the name shown with control bytes as '?'. */
static smtpkit_status refuse(smtpkit_error *err, const char *what, const char *name,
                             size_t name_len, const char *between, const char *fault)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    smtpkit_text_init(&t, message, sizeof message);
    smtpkit_text_str(&t, what);
    smtpkit_text_clean(&t, name, name_len);
    smtpkit_text_str(&t, between);
    smtpkit_text_str(&t, fault);
    return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, message);
}

typedef struct writer {
    smtpkit_text t;
    size_t line_start;
} writer;

static size_t column(const writer *w)
{
    return w->t.len - w->line_start;
}

static void fold(writer *w)
{
    smtpkit_text_raw(&w->t, "\r\n", 2);
    w->line_start = w->t.len;
}

/* Length of the run of spaces then non-spaces that starts at @p i. */
static size_t token_length(const char *text, size_t len, size_t i)
{
    size_t j = i;

    while (j < len && text[j] == ' ') {
        j++;
    }
    while (j < len && text[j] != ' ') {
        j++;
    }
    return j - i;
}

/* Plain text can stay as is when every token fits a line after a fold and no token could be
 * read as an encoded-word (RFC 2047 5 and 6.1). */
static bool plain_fits(const char *text, size_t len, size_t first_column)
{
    size_t i = 0, n;

    if (strstr(text, "=?") != NULL) {
        return false;
    }
    while (i < len) {
        n = token_length(text, len, i);
        if ((i == 0 ? first_column : 0) + n > HEADER_LINE_MAX) {
            return false;
        }
        i += n;
    }
    return true;
}

/* Folds before a token (at its first space) when it would pass column 78: unfolding (RFC 5322
 * 2.2.3) only removes the CRLF, so the text comes back unchanged. */
static void put_plain(writer *w, const char *text, size_t len)
{
    size_t i = 0, n;

    while (i < len) {
        n = token_length(text, len, i);
        if (i > 0 && column(w) + n > HEADER_LINE_MAX) {
            fold(w);
        }
        smtpkit_text_raw(&w->t, text + i, n);
        i += n;
    }
}

/* Bytes of whole UTF-8 characters from @p s that fit @p max_bytes. */
static size_t whole_chars(const uint8_t *s, size_t left, size_t max_bytes)
{
    size_t taken = 0, n;

    while (taken < left) {
        n = utf8_char(s + taken, left - taken);
        if (taken + n > max_bytes) {
            break;
        }
        taken += n;
    }
    return taken;
}

/* Input bytes a word may hold when its space starts at column @p col: a word is at most 75
 * characters and its line at most 78; base64 takes 4 characters per 3 bytes. */
static size_t word_capacity(size_t col)
{
    size_t width = HEADER_LINE_MAX - col - 1;

    if (col + 1 + WORD_FRAME + 4 > HEADER_LINE_MAX) {
        return 0;
    }
    width = width < WORD_MAX ? width : WORD_MAX;
    return (width - WORD_FRAME) / 4 * 3;
}

/* RFC 2047 6.2: white space between adjacent encoded-words is ignored, so the text's own
 * spaces go inside the words and each word holds whole characters (RFC 2047 5). */
static void put_words(writer *w, const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    unsigned char encoded[WORD_MAX];
    size_t i = 0, n, olen;

    while (i < len) {
        n = whole_chars(s + i, len - i, word_capacity(column(w)));
        if (n == 0) {
            fold(w);
            continue;
        }
        olen = 0;
        (void)mbedtls_base64_encode(encoded, sizeof encoded, &olen, s + i, n);
        smtpkit_text_str(&w->t, " =?UTF-8?B?");
        smtpkit_text_raw(&w->t, (const char *)encoded, olen);
        smtpkit_text_str(&w->t, "?=");
        i += n;
    }
}

static bool name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > NAME_MAX) {
        return false;
    }
    for (i = 0; i < len; i++) { /* RFC 5322 3.6.8: ftext is printable ASCII but ':' */
        if ((uint8_t)name[i] < 33 || (uint8_t)name[i] > 126 || name[i] == ':') {
            return false;
        }
    }
    return true;
}

static smtpkit_status finish_text(const smtpkit_text *t, size_t *len)
{
    *len = smtpkit_text_stored(t);
    return t->cut ? SMTPKIT_E_BUFFER : SMTPKIT_OK;
}

smtpkit_status smtpkit_encode_header_text(const char *field_name, const char *text, char *out,
                                          size_t out_size, size_t *len, smtpkit_error *err)
{
    size_t name_len = smtpkit_strnlen(field_name, NAME_MAX + 1);
    size_t text_len = strlen(text);
    const char *fault;
    bool ascii;
    writer w;

    *len = 0;
    if (!name_ok(field_name, name_len)) {
        return refuse(err, "header field name \"", field_name, name_len, "\" ", "is not valid");
    }
    fault = text_fault(text, text_len, &ascii);
    if (fault != NULL) {
        return refuse(err, "the text of header ", field_name, name_len, " ", fault);
    }
    smtpkit_text_init(&w.t, out, out_size);
    w.line_start = 0;
    smtpkit_text_raw(&w.t, field_name, name_len);
    smtpkit_text_raw(&w.t, ":", 1);
    if (ascii && plain_fits(text, text_len, name_len + 2)) {
        if (text_len > 0) {
            smtpkit_text_raw(&w.t, " ", 1);
        }
        put_plain(&w, text, text_len);
    } else {
        put_words(&w, text, text_len);
    }
    smtpkit_text_raw(&w.t, "\r\n", 2);
    if (w.t.cut) {
        return smtpkit_error_set(err, SMTPKIT_E_BUFFER, SMTPKIT_STAGE_NONE,
                                 "the header field does not fit the buffer");
    }
    return finish_text(&w.t, len);
}

/* RFC 2231 7 attribute-char: a token character (RFC 2045 5.1) other than '*', ''' and '%'. */
static bool attribute_char(uint8_t c)
{
    return c > 32 && c < 127 && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

static void put_filename(smtpkit_text *t, const char *name, size_t len, bool ascii)
{
    size_t i;
    uint8_t c;

    smtpkit_text_str(t, ascii ? "filename=\"" : "filename*=UTF-8''");
    for (i = 0; i < len; i++) {
        c = (uint8_t)name[i];
        if (ascii) { /* RFC 5322 3.2.4: a quoted-pair escapes '"' and '\' */
            if (c == '"' || c == '\\') {
                smtpkit_text_raw(t, "\\", 1);
            }
            smtpkit_text_raw(t, name + i, 1);
        } else if (attribute_char(c)) {
            smtpkit_text_raw(t, name + i, 1);
        } else {
            char pct[3] = {'%', hex_digits[c >> 4], hex_digits[c & 15]};
            smtpkit_text_raw(t, pct, 3);
        }
    }
    if (ascii) {
        smtpkit_text_raw(t, "\"", 1);
    }
}

smtpkit_status smtpkit_encode_filename_param(const char *name, char *out, size_t out_size,
                                             size_t *len, smtpkit_error *err)
{
    size_t name_len = smtpkit_strnlen(name, SMTPKIT_FILENAME_PARAM_MAX + 1);
    const char *fault;
    smtpkit_text measure;
    bool ascii;

    *len = 0;
    if (name_len > SMTPKIT_FILENAME_PARAM_MAX) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "the attachment's file name is too long to encode");
    }
    if (name_len == 0) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "the attachment's file name is empty");
    }
    fault = text_fault(name, name_len, &ascii);
    if (fault != NULL) {
        return refuse(err, "the attachment's file name \"", name, name_len, "\" ", fault);
    }
    smtpkit_text_init(&measure, NULL, 0);
    put_filename(&measure, name, name_len, ascii);
    if (measure.len > SMTPKIT_FILENAME_PARAM_MAX) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "the attachment's file name is too long to encode");
    }
    smtpkit_text_init(&measure, out, out_size);
    put_filename(&measure, name, name_len, ascii);
    if (measure.cut) {
        return smtpkit_error_set(err, SMTPKIT_E_BUFFER, SMTPKIT_STAGE_NONE,
                                 "the file name parameter does not fit the buffer");
    }
    return finish_text(&measure, len);
}
