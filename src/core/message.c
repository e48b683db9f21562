/*
 * message.c - mailboxes and the header block of a plain text message: RFC 5322 section 3.3
 * (date-time), 3.4 (mailbox, name-addr, display names as atoms or quoted strings), 3.6
 * (header fields: From, To, Cc, Subject, Date, Message-ID), 2.1.1 (998 octets per line,
 * folding at 78); RFC 2045 (MIME-Version, Content-Type, Content-Transfer-Encoding); RFC 2047
 * (display names and subjects that are not ASCII become "=?UTF-8?B?...?=" encoded words).
 *
 * Input is never copied into a line unchecked: control bytes (CR and LF among them) are
 * refused, so a caller's string cannot add a header. Bcc is never written: its addresses
 * belong in the envelope only.
 */
#include <string.h>

#include <mbedtls/base64.h>

#include "smtpkit/message.h"
#include "core/text.h"

/* RFC 5322 section 2.1.1: lines SHOULD stay within 78 columns and MUST within 998. */
#define LINE_SOFT_MAX 78
#define LINE_HARD_MAX 998
/* Bytes of text per encoded word: 39 give 52 base64 characters, 64 with "=?UTF-8?B?" and "?=",
 * so that even "Subject: " and the first word stay within 78 columns. */
#define WORD_BYTES 39

static smtpkit_status refuse(smtpkit_error *err, const char *message)
{
    smtpkit_error local;

    return smtpkit_error_set(err != NULL ? err : &local, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                             message);
}

/* Mailboxes ------------------------------------------------------------------------------ */

static void trim(const char *text, size_t *begin, size_t *end)
{
    while (*begin < *end && text[*begin] == ' ') {
        (*begin)++;
    }
    while (*end > *begin && text[*end - 1] == ' ') {
        (*end)--;
    }
}

/* The inside of a quoted-string: a backslash escapes the next byte, a bare '"' ends it. */
static bool quoted_ok(const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (text[i] == '\\') {
            i++;
            if (i == len) {
                return false;
            }
        } else if (text[i] == '"') {
            return false;
        }
    }
    return true;
}

static const char *display_fault(const char *text, size_t len, smtpkit_mailbox *out)
{
    if (len == 0) {
        return NULL;
    }
    if (text[0] == '"') {
        if (len < 2 || text[len - 1] != '"' || !quoted_ok(text + 1, len - 2)) {
            return "display name has unbalanced quotes";
        }
        out->display = text + 1;
        out->display_len = len - 2;
        return NULL;
    }
    if (memchr(text, '"', len) != NULL || memchr(text, '<', len) != NULL ||
        memchr(text, '>', len) != NULL) {
        return "display name holds '\"', '<' or '>' outside quotes";
    }
    out->display = text;
    out->display_len = len;
    return NULL;
}

static const char *addr_fault(const char *addr, size_t len)
{
    const char *at = NULL;
    size_t i;

    if (len == 0) {
        return "empty address";
    }
    if (len > SMTPKIT_ADDRESS_MAX) {
        return "address longer than 254 octets";
    }
    for (i = 0; i < len; i++) {
        if (addr[i] == ' ' || addr[i] == '<' || addr[i] == '>') {
            return "address holds a space, '<' or '>'";
        }
        /* Quoted local parts and comments are legal but rare and easy to get wrong on the
         * way to the envelope: refuse them rather than send something the user did not mean. */
        if (memchr("\"\\(),;", addr[i], 6) != NULL) {
            return "address holds a quote, backslash, parenthesis, comma or semicolon";
        }
        if (addr[i] == '@' && at != NULL) {
            return "address has more than one '@'";
        }
        if (addr[i] == '@') {
            at = addr + i;
        }
    }
    if (at == NULL) {
        return "address has no '@'";
    }
    if (at == addr || at == addr + len - 1) {
        return "address has an empty local part or domain";
    }
    return NULL;
}

smtpkit_status smtpkit_mailbox_parse(const char *text, smtpkit_mailbox *out, smtpkit_error *err)
{
    size_t begin = 0;
    size_t end = text != NULL ? smtpkit_strnlen(text, LINE_HARD_MAX + 1) : 0;
    const char *fault = NULL;
    size_t lt;

    memset(out, 0, sizeof *out);
    if (text == NULL || end > LINE_HARD_MAX) {
        return refuse(err, text == NULL ? "no mailbox" : "mailbox longer than 998 octets");
    }
    if (smtpkit_has_control(text, end)) {
        return refuse(err, "mailbox holds a control byte (CR, LF, NUL, ...)");
    }
    trim(text, &begin, &end);
    if (end > begin && text[end - 1] == '>') {
        for (lt = end - 1; lt > begin && text[lt - 1] != '<'; lt--) {
        }
        if (lt == begin) {
            return refuse(err, "mailbox has '>' without '<'");
        }
        out->addr = text + lt;
        out->addr_len = end - 1 - lt;
        end = lt - 1;
        trim(text, &begin, &end);
        fault = display_fault(text + begin, end - begin, out);
    } else {
        out->addr = text + begin;
        out->addr_len = end - begin;
    }
    if (fault == NULL) {
        fault = addr_fault(out->addr, out->addr_len);
    }
    return fault != NULL ? refuse(err, fault) : SMTPKIT_OK;
}

/* Header writer -------------------------------------------------------------------------- */

typedef struct writer {
    smtpkit_text t;
    size_t line_start; /* offset of the current line in the output */
} writer;

static size_t column(const writer *w)
{
    return w->t.len - w->line_start;
}

static void put(writer *w, const char *bytes, size_t len)
{
    smtpkit_text_raw(&w->t, bytes, len);
}

static void put_str(writer *w, const char *str)
{
    smtpkit_text_raw(&w->t, str, strlen(str));
}

static void end_line(writer *w)
{
    put(w, "\r\n", 2);
    w->line_start = w->t.len;
}

/* Puts the space before a piece of @p len columns, folding the line first (CRLF, then the
 * space) when the piece would pass column 78. */
static void fold_before(writer *w, size_t len)
{
    if (column(w) + 1 + len > LINE_SOFT_MAX) {
        end_line(w);
    }
    put(w, " ", 1);
}

static bool is_atext_or_space(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool has_8bit(const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if ((uint8_t)text[i] >= 0x80) {
            return true;
        }
    }
    return false;
}

/* UTF-8 sequence length from its first byte (1 for ASCII, continuation or invalid bytes). */
static size_t sequence_length(uint8_t c)
{
    if (c >= 0xf0 && c < 0xf8) {
        return 4;
    }
    if (c >= 0xe0 && c < 0xf0) {
        return 3;
    }
    return c >= 0xc0 && c < 0xe0 ? 2 : 1;
}

/* One RFC 2047 encoded word, preceded by a space (folding if needed) unless it is first. */
static void put_word(writer *w, const unsigned char *bytes, size_t len, bool first, bool fold)
{
    char encoded[WORD_BYTES / 3 * 4 + 8];
    size_t olen = 0;

    if (mbedtls_base64_encode((unsigned char *)encoded, sizeof encoded, &olen, bytes, len) != 0) {
        w->t.cut = true;
        return;
    }
    if (!first) {
        if (fold) {
            fold_before(w, olen + 12);
        } else {
            put(w, " ", 1);
        }
    }
    put_str(w, "=?UTF-8?B?");
    put(w, encoded, olen);
    put_str(w, "?=");
}

/* Encodes @p text as encoded words cut at UTF-8 character boundaries; @p quoted: the text is
 * the inside of a quoted-string, whose backslash escapes are removed first. */
static void put_encoded(writer *w, const char *text, size_t len, bool quoted, bool fold)
{
    unsigned char block[WORD_BYTES + 3];
    size_t block_len = 0;
    bool first = true;
    size_t i;

    for (i = 0; i < len; i++) {
        uint8_t c = (uint8_t)text[i];

        if (quoted && c == '\\' && i + 1 < len) {
            c = (uint8_t)text[++i];
        }
        if (((c & 0xc0) != 0x80 && block_len + sequence_length(c) > WORD_BYTES) ||
            block_len == sizeof block) {
            put_word(w, block, block_len, first, fold);
            first = false;
            block_len = 0;
        }
        block[block_len++] = c;
    }
    if (block_len > 0 || first) {
        put_word(w, block, block_len, first, fold);
    }
}

/* @p quoted: the display name was given as a quoted-string (mb->display is its inside). */
static void put_display(writer *w, const smtpkit_mailbox *mb, bool quoted)
{
    size_t i;

    if (has_8bit(mb->display, mb->display_len)) {
        put_encoded(w, mb->display, mb->display_len, quoted, false);
        return;
    }
    for (i = 0; !quoted && i < mb->display_len; i++) {
        if (!is_atext_or_space((uint8_t)mb->display[i])) {
            break;
        }
    }
    if (!quoted && i == mb->display_len) {
        put(w, mb->display, mb->display_len);
        return;
    }
    put(w, "\"", 1);
    for (i = 0; i < mb->display_len; i++) {
        char c = mb->display[i];

        if (!quoted && (c == '"' || c == '\\')) {
            put(w, "\\", 1);
        }
        put(w, &c, 1);
    }
    put(w, "\"", 1);
}

/* @p text is the string @p mb was parsed from. */
static void put_mailbox(writer *w, const smtpkit_mailbox *mb, const char *text)
{
    if (mb->display == NULL || mb->display_len == 0) {
        put(w, mb->addr, mb->addr_len);
        return;
    }
    put_display(w, mb, mb->display > text && mb->display[-1] == '"');
    put(w, " <", 2);
    put(w, mb->addr, mb->addr_len);
    put(w, ">", 1);
}

/* Columns a mailbox takes, measured by writing it into a counting writer. */
static size_t mailbox_width(const smtpkit_mailbox *mb, const char *text)
{
    writer counter;

    smtpkit_text_init(&counter.t, NULL, 0);
    counter.line_start = 0;
    put_mailbox(&counter, mb, text);
    return counter.t.len;
}

static smtpkit_status put_address_field(writer *w, const char *name, const char *const *list,
                                        size_t count, smtpkit_error *err)
{
    smtpkit_mailbox mb;
    smtpkit_status status;
    size_t i;

    if (count == 0) {
        return SMTPKIT_OK;
    }
    if (list == NULL) {
        return refuse(err, "address list is NULL");
    }
    put_str(w, name);
    put(w, ":", 1);
    for (i = 0; i < count; i++) {
        status = smtpkit_mailbox_parse(list[i], &mb, err);
        if (status != SMTPKIT_OK) {
            return status;
        }
        if (i > 0) {
            put(w, ",", 1);
            fold_before(w, mailbox_width(&mb, list[i]) + (i + 1 < count ? 1 : 0));
        } else {
            put(w, " ", 1);
        }
        put_mailbox(w, &mb, list[i]);
        if (column(w) + (i + 1 < count ? 1 : 0) > LINE_HARD_MAX) {
            return refuse(err, "an address line is longer than 998 octets");
        }
    }
    end_line(w);
    return SMTPKIT_OK;
}

static smtpkit_status put_subject(writer *w, const char *subject, smtpkit_error *err)
{
    size_t len;

    if (subject == NULL) {
        return SMTPKIT_OK;
    }
    len = smtpkit_strnlen(subject, LINE_HARD_MAX + 1);
    if (smtpkit_has_control(subject, len)) {
        return refuse(err, "subject holds a control byte (CR, LF, NUL, ...)");
    }
    put_str(w, "Subject: ");
    if (has_8bit(subject, len)) {
        put_encoded(w, subject, len, false, true);
    } else if (len + column(w) > LINE_HARD_MAX) {
        return refuse(err, "subject longer than a 998-octet header line allows");
    } else {
        put(w, subject, len);
    }
    end_line(w);
    return SMTPKIT_OK;
}

static bool date_ok(const smtpkit_datetime *d)
{
    return d->year >= 1900 && d->year <= 9999 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= 31 && d->hour >= 0 && d->hour <= 23 && d->minute >= 0 && d->minute <= 59 &&
           d->second >= 0 && d->second <= 60 && d->weekday >= 0 && d->weekday <= 6 &&
           d->utc_offset_minutes > -24 * 60 && d->utc_offset_minutes < 24 * 60;
}

/* RFC 5322 section 3.3: "Fri, 04 Dec 2026 07:49:48 +0100". */
static smtpkit_status put_date(writer *w, const smtpkit_datetime *d, smtpkit_error *err)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int offset = d->utc_offset_minutes < 0 ? -d->utc_offset_minutes : d->utc_offset_minutes;

    if (!date_ok(d)) {
        return refuse(err, "date out of range");
    }
    put_str(w, "Date: ");
    put(w, days + 3 * d->weekday, 3);
    put(w, ", ", 2);
    smtpkit_text_uint(&w->t, (unsigned long)d->day, 2);
    put(w, " ", 1);
    put(w, months + 3 * (d->month - 1), 3);
    put(w, " ", 1);
    smtpkit_text_uint(&w->t, (unsigned long)d->year, 4);
    put(w, " ", 1);
    smtpkit_text_uint(&w->t, (unsigned long)d->hour, 2);
    put(w, ":", 1);
    smtpkit_text_uint(&w->t, (unsigned long)d->minute, 2);
    put(w, ":", 1);
    smtpkit_text_uint(&w->t, (unsigned long)d->second, 2);
    put(w, d->utc_offset_minutes < 0 ? " -" : " +", 2);
    smtpkit_text_uint(&w->t, (unsigned long)(offset / 60), 2);
    smtpkit_text_uint(&w->t, (unsigned long)(offset % 60), 2);
    end_line(w);
    return SMTPKIT_OK;
}

/* "<left@right>" with no control byte or space, as smtpkit_message_make_id() makes them. */
static smtpkit_status put_message_id(writer *w, const char *id, smtpkit_error *err)
{
    size_t len;

    if (id == NULL) {
        return SMTPKIT_OK;
    }
    len = smtpkit_strnlen(id, LINE_HARD_MAX);
    if (len < 5 || id[0] != '<' || id[len - 1] != '>' || memchr(id, '@', len) == NULL ||
        memchr(id, ' ', len) != NULL || smtpkit_has_control(id, len) || len + 12 > LINE_HARD_MAX) {
        return refuse(err, "Message-ID must look like <left@right>");
    }
    put_str(w, "Message-ID: ");
    put(w, id, len);
    end_line(w);
    return SMTPKIT_OK;
}

static smtpkit_status write_fields(writer *w, const smtpkit_message_headers *h, smtpkit_error *err)
{
    smtpkit_status status = SMTPKIT_OK;

    if (h->date != NULL) {
        status = put_date(w, h->date, err);
    }
    if (status == SMTPKIT_OK) {
        status = put_address_field(w, "From", &h->from, 1, err);
    }
    if (status == SMTPKIT_OK) {
        status = put_address_field(w, "To", h->to, h->to_count, err);
    }
    if (status == SMTPKIT_OK) {
        status = put_address_field(w, "Cc", h->cc, h->cc_count, err);
    }
    if (status == SMTPKIT_OK) {
        status = put_subject(w, h->subject, err);
    }
    if (status == SMTPKIT_OK) {
        status = put_message_id(w, h->message_id, err);
    }
    return status;
}

smtpkit_status smtpkit_message_write_headers(const smtpkit_message_headers *h, char *out,
                                             size_t size, size_t *written, smtpkit_error *err)
{
    smtpkit_error local;
    smtpkit_status status;
    writer w;

    *written = 0;
    err = err != NULL ? err : &local;
    smtpkit_error_clear(err);
    if (h == NULL || h->from == NULL || out == NULL) {
        return refuse(err, "no headers, no From or no output buffer");
    }
    smtpkit_text_init(&w.t, out, size);
    w.line_start = 0;
    status = write_fields(&w, h, err);
    if (status != SMTPKIT_OK) {
        return status;
    }
    put_str(&w, "MIME-Version: 1.0\r\n");
    if (!h->mime_follows) {
        put_str(&w, "Content-Type: text/plain; charset=UTF-8\r\n");
        put_str(&w, "Content-Transfer-Encoding: 8bit\r\n");
        put_str(&w, "\r\n");
    }
    if (w.t.cut) {
        return smtpkit_error_set(err, SMTPKIT_E_BUFFER, SMTPKIT_STAGE_NONE,
                                 "header buffer too small");
    }
    *written = w.t.len;
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_message_make_id(const uint8_t *random, size_t random_len, const char *domain,
                                       char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t domain_len = domain != NULL ? smtpkit_strnlen(domain, 256) : 0;
    smtpkit_text t;
    size_t i;

    if (random == NULL || random_len == 0 || domain_len == 0 || domain_len > 255 ||
        smtpkit_has_control(domain, domain_len) || strpbrk(domain, " <>@\"") != NULL) {
        return SMTPKIT_E_USAGE;
    }
    smtpkit_text_init(&t, out, size);
    smtpkit_text_raw(&t, "<", 1);
    for (i = 0; i < random_len; i++) {
        smtpkit_text_raw(&t, &hex[random[i] >> 4], 1);
        smtpkit_text_raw(&t, &hex[random[i] & 0x0f], 1);
    }
    smtpkit_text_raw(&t, "@", 1);
    smtpkit_text_raw(&t, domain, domain_len);
    smtpkit_text_raw(&t, ">", 1);
    if (t.cut || size == 0) {
        if (size > 0) {
            out[0] = '\0';
        }
        return SMTPKIT_E_BUFFER;
    }
    return SMTPKIT_OK;
}
