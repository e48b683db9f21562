/*
 * compose.c - the streaming MIME composer: RFC 2045 (header fields of a MIME entity, transfer
 * encodings) and RFC 2046 section 5.1 (multipart/mixed and multipart/alternative).
 *
 * Output goes through a fixed staging buffer: each step writes one piece (a header block, the
 * fields of a part, a boundary, or the encoding of one chunk of content) into it, and reads
 * drain it into the caller's buffer, however small.
 */
#include <string.h>

#include "smtpkit/compose.h"

/* RFC 5322 2.1.1 and RFC 5321 4.5.3.1.6: a line is at most 998 octets before its CRLF. */
#define LINE_HARD_MAX 998

enum { BODY_QP, BODY_8BIT, BODY_B64 };

static smtpkit_status fail(smtpkit_composer *c, smtpkit_error *err, smtpkit_status status,
                           const char *why)
{
    c->failed = status;
    return smtpkit_error_set(err, status, SMTPKIT_STAGE_NONE, why);
}

static bool is_mixed(const smtpkit_composer *c)
{
    return c->parts->attachment_count > 0;
}

static bool is_alt(const smtpkit_composer *c)
{
    return c->parts->html != NULL;
}

/* Appends to the stage; false when it does not fit. */
static bool put(smtpkit_composer *c, const char *s)
{
    size_t len = strlen(s);

    if (len > sizeof c->stage - c->stage_len) {
        return false;
    }
    memcpy(c->stage + c->stage_len, s, len);
    c->stage_len += len;
    return true;
}

/* RFC 2046 5.1.1: a boundary must not occur in the parts. "=_" cannot occur in base64 or
 * quoted-printable output; for 8bit text, the caller's random hex makes a match improbable. */
static bool put_boundary(smtpkit_composer *c, const char *before, char kind, const char *after)
{
    char tag[4] = {'=', '_', kind, '\0'};

    return put(c, before) && put(c, tag) && put(c, c->hex) && put(c, after);
}

static bool put_multipart_type(smtpkit_composer *c, const char *subtype, char kind)
{
    return put(c, "Content-Type: multipart/") && put(c, subtype) &&
           put_boundary(c, "; boundary=\"", kind, "\"\r\n\r\n");
}

/* RFC 2045 5.1: type and subtype are tokens, which exclude spaces, controls and tspecials. */
static bool type_ok(const char *type)
{
    size_t len = strlen(type), i, slashes = 0;

    if (len < 3 || len > SMTPKIT_COMPOSE_TYPE_MAX || type[0] == '/' || type[len - 1] == '/') {
        return false;
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)type[i];

        slashes += ch == '/';
        if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"[]?=", ch) != NULL) {
            return false;
        }
    }
    return slashes == 1;
}

static smtpkit_status check_parts(const smtpkit_compose_parts *p, smtpkit_error *err)
{
    size_t i;

    if (p->headers == NULL || p->text.read == NULL || (p->html && p->html->read == NULL)) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "compose: no headers, or a body without a read callback");
    }
    if (p->random == NULL || p->random_len < 8 || p->random_len > SMTPKIT_COMPOSE_RANDOM_MAX) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "compose: boundaries need 8 to 16 random bytes");
    }
    if (p->attachment_count > 0 && p->attachments == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "compose: attachment count without attachments");
    }
    for (i = 0; i < p->attachment_count; i++) {
        const smtpkit_compose_attachment *a = &p->attachments[i];

        if (a->filename == NULL || a->content.read == NULL || a->content_type == NULL ||
            !type_ok(a->content_type)) {
            return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                     "compose: attachment without filename or callback, or "
                                     "a content type that is not type/subtype");
        }
    }
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_composer_init(smtpkit_composer *c, const smtpkit_compose_parts *parts,
                                     smtpkit_error *err)
{
    static const char digits[] = "0123456789abcdef";
    smtpkit_error local;
    smtpkit_status status;
    size_t i;

    memset(c, 0, sizeof *c);
    err = err != NULL ? err : &local;
    smtpkit_error_clear(err);
    if (parts == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "compose: no parts");
    }
    status = check_parts(parts, err);
    if (status != SMTPKIT_OK) {
        return status;
    }
    c->parts = parts;
    for (i = 0; i < parts->random_len; i++) {
        c->hex[2 * i] = digits[parts->random[i] >> 4];
        c->hex[2 * i + 1] = digits[parts->random[i] & 0x0f];
    }
    c->step = SMTPKIT_COMPOSE_HEADERS;
    return SMTPKIT_OK;
}

static void start_body(smtpkit_composer *c, const smtpkit_message_source *src, int kind)
{
    c->body = src;
    c->body_kind = kind;
    c->body_eof = false;
    c->chunk_len = c->chunk_pos = 0;
    c->column = 0;
    c->cr_seen = false;
    c->ended_line = true;
    smtpkit_b64_init(&c->b64);
    smtpkit_qp_init(&c->qp);
}

/* RFC 2045 6.1: the text is quoted-printable unless the server takes 8bit (RFC 6152). */
static bool put_text_part(smtpkit_composer *c, const smtpkit_message_source *src,
                          const char *subtype)
{
    bool eight = c->parts->eight_bit_ok;

    if (!put(c, "Content-Type: text/") || !put(c, subtype) || !put(c, "; charset=UTF-8\r\n") ||
        !put(c, "Content-Transfer-Encoding: ") || !put(c, eight ? "8bit" : "quoted-printable") ||
        !put(c, "\r\n\r\n")) {
        return false;
    }
    start_body(c, src, eight ? BODY_8BIT : BODY_QP);
    return true;
}

static smtpkit_status put_headers(smtpkit_composer *c, smtpkit_error *err)
{
    smtpkit_message_headers h = *c->parts->headers;
    smtpkit_status status;
    size_t written = 0;

    h.mime_follows = true;
    status = smtpkit_message_write_headers(&h, c->stage, sizeof c->stage, &written, err);
    if (status != SMTPKIT_OK) {
        c->failed = status;
        return status;
    }
    c->stage_len = written;
    if ((is_mixed(c) && !put_multipart_type(c, "mixed", 'm')) ||
        (!is_mixed(c) && is_alt(c) && !put_multipart_type(c, "alternative", 'a'))) {
        return fail(c, err, SMTPKIT_E_BUFFER, "compose: header block too long");
    }
    c->step = SMTPKIT_COMPOSE_TEXT_HEAD;
    return SMTPKIT_OK;
}

/* The first part of each multipart is the text: in mixed, the alternative holding it. */
static bool put_text_head(smtpkit_composer *c)
{
    if (is_mixed(c) && !put_boundary(c, "--", 'm', "\r\n")) {
        return false;
    }
    if (is_mixed(c) && is_alt(c) && !put_multipart_type(c, "alternative", 'a')) {
        return false;
    }
    if (is_alt(c) && !put_boundary(c, "--", 'a', "\r\n")) {
        return false;
    }
    c->step = is_alt(c)     ? SMTPKIT_COMPOSE_HTML_HEAD
              : is_mixed(c) ? SMTPKIT_COMPOSE_ATT_HEAD
                            : SMTPKIT_COMPOSE_TEXT_END;
    return put_text_part(c, &c->parts->text, "plain");
}

/* RFC 2183: the attachment's filename goes in Content-Disposition, RFC 2231 encoded. */
static smtpkit_status put_attachment_head(smtpkit_composer *c, smtpkit_error *err)
{
    const smtpkit_compose_attachment *a = &c->parts->attachments[c->attachment];
    smtpkit_status status;
    size_t len = 0;

    if (!put_boundary(c, "\r\n--", 'm', "\r\n") || !put(c, "Content-Type: ") ||
        !put(c, a->content_type) || !put(c, "\r\nContent-Transfer-Encoding: base64\r\n") ||
        !put(c, "Content-Disposition: attachment; ")) {
        return fail(c, err, SMTPKIT_E_BUFFER, "compose: attachment header too long");
    }
    status = smtpkit_encode_filename_param(a->filename, c->stage + c->stage_len,
                                           sizeof c->stage - c->stage_len, &len, err);
    if (status != SMTPKIT_OK) {
        c->failed = status;
        return status;
    }
    c->stage_len += len;
    if (!put(c, "\r\n\r\n")) {
        return fail(c, err, SMTPKIT_E_BUFFER, "compose: attachment header too long");
    }
    start_body(c, &a->content, BODY_B64);
    c->attachment++;
    c->step = c->attachment < c->parts->attachment_count ? SMTPKIT_COMPOSE_ATT_HEAD
                                                         : SMTPKIT_COMPOSE_MIXED_END;
    return SMTPKIT_OK;
}

/* A text-only message whose text does not end with a line end still ends with CRLF, as the
 * DATA terminator needs; in quoted-printable a soft break adds no byte to the text. */
static bool put_text_end(smtpkit_composer *c)
{
    c->step = SMTPKIT_COMPOSE_DONE;
    if (c->ended_line) {
        return true;
    }
    return put(c, c->body_kind == BODY_QP ? "=\r\n" : "\r\n");
}

static smtpkit_status next_piece(smtpkit_composer *c, smtpkit_error *err)
{
    bool ok = true;

    switch (c->step) {
    case SMTPKIT_COMPOSE_HEADERS:
        return put_headers(c, err);
    case SMTPKIT_COMPOSE_TEXT_HEAD:
        ok = put_text_head(c);
        break;
    case SMTPKIT_COMPOSE_HTML_HEAD:
        c->step = SMTPKIT_COMPOSE_ALT_END;
        ok = put_boundary(c, "\r\n--", 'a', "\r\n") && put_text_part(c, c->parts->html, "html");
        break;
    case SMTPKIT_COMPOSE_ALT_END:
        c->step = is_mixed(c) ? SMTPKIT_COMPOSE_ATT_HEAD : SMTPKIT_COMPOSE_DONE;
        ok = put_boundary(c, "\r\n--", 'a', "--\r\n");
        break;
    case SMTPKIT_COMPOSE_ATT_HEAD:
        return put_attachment_head(c, err);
    case SMTPKIT_COMPOSE_MIXED_END:
        c->step = SMTPKIT_COMPOSE_DONE;
        ok = put_boundary(c, "\r\n--", 'm', "--\r\n");
        break;
    case SMTPKIT_COMPOSE_TEXT_END:
        ok = put_text_end(c);
        break;
    case SMTPKIT_COMPOSE_DONE:
        break;
    }
    return ok ? SMTPKIT_OK : fail(c, err, SMTPKIT_E_BUFFER, "compose: stage overflow");
}

/* 8bit text (RFC 6152): CRLF, bare CR and bare LF all become CRLF, so that no input can end
 * the DATA phase early; NUL and lines over 998 octets are not allowed in 8bit data. */
static smtpkit_status eight_update(smtpkit_composer *c, size_t *produced, smtpkit_error *err)
{
    char *out = c->stage + c->stage_len;
    size_t room = sizeof c->stage - c->stage_len, n = 0;

    while (c->chunk_pos < c->chunk_len && n + 2 <= room) {
        uint8_t b = c->chunk[c->chunk_pos++];
        bool after_cr = c->cr_seen;

        c->cr_seen = b == '\r';
        if (b == '\n' && after_cr) {
            continue;
        }
        if (b == '\r' || b == '\n') {
            out[n++] = '\r';
            out[n++] = '\n';
            c->column = 0;
        } else if (b == 0 || c->column >= LINE_HARD_MAX) {
            return fail(c, err, SMTPKIT_E_USAGE,
                        "compose: 8bit text with a NUL byte or a line over 998 octets");
        } else {
            out[n++] = (char)b;
            c->column++;
        }
    }
    *produced = n;
    return SMTPKIT_OK;
}

static smtpkit_status encode_chunk(smtpkit_composer *c, size_t *produced, smtpkit_error *err)
{
    const uint8_t *in = c->chunk + c->chunk_pos;
    size_t len = c->chunk_len - c->chunk_pos, used = 0;
    char *out = c->stage + c->stage_len;
    size_t room = sizeof c->stage - c->stage_len;
    smtpkit_status status;

    if (c->body_kind == BODY_8BIT) {
        return eight_update(c, produced, err);
    }
    status = c->body_kind == BODY_QP
                 ? smtpkit_qp_update(&c->qp, in, len, out, room, &used, produced)
                 : smtpkit_b64_update(&c->b64, in, len, out, room, &used, produced);
    c->chunk_pos += used;
    return status;
}

static smtpkit_status finish_body(smtpkit_composer *c, size_t *produced)
{
    char *out = c->stage + c->stage_len;
    size_t room = sizeof c->stage - c->stage_len;

    c->body = NULL;
    *produced = 0;
    if (c->body_kind == BODY_QP) {
        return smtpkit_qp_finish(&c->qp, out, room, produced);
    }
    if (c->body_kind == BODY_B64) {
        return smtpkit_b64_finish(&c->b64, out, room, produced);
    }
    return SMTPKIT_OK;
}

/* One step of the body: read a chunk when the last one is used up, or encode some of it. */
static smtpkit_status pump_body(smtpkit_composer *c, smtpkit_error *err)
{
    size_t got = 0, produced = 0;
    smtpkit_status status;

    if (c->chunk_pos == c->chunk_len && !c->body_eof) {
        status = c->body->read(c->body->ctx, c->chunk, sizeof c->chunk, &got, err);
        if (status != SMTPKIT_OK) {
            c->failed = status; /* the callback's own error says what went wrong */
            return status;
        }
        if (got > sizeof c->chunk) {
            return fail(c, err, SMTPKIT_E_USAGE, "compose: a part callback overran its buffer");
        }
        c->chunk_len = got;
        c->chunk_pos = 0;
        c->body_eof = got == 0;
        return SMTPKIT_OK;
    }
    status =
        c->chunk_pos < c->chunk_len ? encode_chunk(c, &produced, err) : finish_body(c, &produced);
    if (status != SMTPKIT_OK) {
        return c->failed != SMTPKIT_OK ? status : fail(c, err, status, "compose: encoder");
    }
    if (produced > 0) {
        c->ended_line = c->stage[c->stage_len + produced - 1] == '\n';
    }
    c->stage_len += produced;
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_composer_read(smtpkit_composer *c, uint8_t *buf, size_t size, size_t *got,
                                     smtpkit_error *err)
{
    smtpkit_status status = SMTPKIT_OK;
    smtpkit_error local;
    size_t n = 0;

    *got = 0;
    err = err != NULL ? err : &local;
    if (c->failed != SMTPKIT_OK) {
        return smtpkit_error_set(err, c->failed, SMTPKIT_STAGE_NONE, "compose: failed before");
    }
    while (n < size && status == SMTPKIT_OK) {
        if (c->stage_pos < c->stage_len) {
            size_t take = c->stage_len - c->stage_pos;

            take = take < size - n ? take : size - n;
            memcpy(buf + n, c->stage + c->stage_pos, take);
            c->stage_pos += take;
            n += take;
            continue;
        }
        c->stage_len = c->stage_pos = 0;
        if (c->body != NULL) {
            status = pump_body(c, err);
        } else if (c->step == SMTPKIT_COMPOSE_DONE) {
            break;
        } else {
            status = next_piece(c, err);
        }
    }
    *got = n;
    return status;
}

static smtpkit_status composer_source_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                           smtpkit_error *err)
{
    return smtpkit_composer_read(ctx, buf, size, got, err);
}

void smtpkit_composer_source(smtpkit_composer *c, smtpkit_message_source *src)
{
    src->ctx = c;
    src->read = composer_source_read;
}
