/*
 * session_mail.c - the mail transaction of the session engine: RFC 5321 section 3.3 (MAIL FROM,
 * RCPT TO, DATA), 4.1.1.2-4 (the commands), 4.5.2 (dot-stuffing) and 2.3.8 (CRLF line ends),
 * RFC 1870 (SIZE=), RFC 6152 (BODY=8BITMIME). Envelope addresses are checked before anything
 * is sent, so that a CR or LF in an address can never add a command.
 */
#include <string.h>

#include "smtpkit/message.h"
#include "core/session_internal.h"
#include "core/text.h"

/* Why @p address cannot go between '<' and '>', or NULL when it can. */
static const char *address_fault(const char *address, bool may_be_empty)
{
    size_t len = smtpkit_strnlen(address, SMTPKIT_ADDRESS_MAX + 1);
    size_t i;

    if (len == 0 && !may_be_empty) {
        return "empty address";
    }
    if (len > SMTPKIT_ADDRESS_MAX) {
        return "address longer than 254 octets";
    }
    for (i = 0; i < len; i++) {
        uint8_t c = (uint8_t)address[i];

        if (smtpkit_is_control(c) || c == ' ' || c == '<' || c == '>') {
            return "address holds a control byte, a space, '<' or '>'";
        }
    }
    return NULL;
}

/* Fails the session with SMTPKIT_E_USAGE, naming the address at fault. Nothing was sent, so
 * the server still waits for a command and QUIT may follow. */
static smtpkit_status refuse_envelope(smtpkit_session *s, const char *what, const char *address,
                                      const char *fault)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    smtpkit_text_init(&t, message, sizeof message);
    smtpkit_text_str(&t, what);
    if (address != NULL) {
        smtpkit_text_str(&t, " \"");
        smtpkit_text_clean(&t, address, smtpkit_strnlen(address, 64));
        smtpkit_text_str(&t, "\"");
    }
    smtpkit_text_str(&t, ": ");
    smtpkit_text_str(&t, fault);
    smtpkit_engine_fail(s, SMTPKIT_E_USAGE, SMTPKIT_STAGE_MAIL, message, true, NULL);
    return SMTPKIT_E_USAGE;
}

static smtpkit_status check_envelope(smtpkit_session *s, const smtpkit_envelope *env)
{
    const char *fault;
    size_t i;

    if (env->mail_from == NULL || (env->rcpt == NULL && env->rcpt_count > 0)) {
        return refuse_envelope(s, "envelope", NULL, "no sender or recipient list");
    }
    if (env->rcpt_count == 0) {
        return refuse_envelope(s, "envelope", NULL, "no recipient");
    }
    fault = address_fault(env->mail_from, true);
    if (fault != NULL) {
        return refuse_envelope(s, "sender", env->mail_from, fault);
    }
    for (i = 0; i < env->rcpt_count; i++) {
        fault = env->rcpt[i] == NULL ? "missing" : address_fault(env->rcpt[i], false);
        if (fault != NULL) {
            return refuse_envelope(s, "recipient", env->rcpt[i], fault);
        }
    }
    return SMTPKIT_OK;
}

/* RFC 1870 section 6: a message over the announced maximum would be refused after DATA, so it
 * fails here, before MAIL (QUIT may follow). */
static smtpkit_status check_size(smtpkit_session *s, const smtpkit_envelope *env)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    if ((s->caps & SMTPKIT_CAP_SIZE) == 0 || s->size_max == 0 || env->size_hint <= s->size_max) {
        return SMTPKIT_OK;
    }
    smtpkit_text_init(&t, message, sizeof message);
    smtpkit_text_str(&t, "message of ");
    smtpkit_text_uint(&t, env->size_hint, 1);
    smtpkit_text_str(&t, " bytes exceeds the server's SIZE limit of ");
    smtpkit_text_uint(&t, s->size_max, 1);
    smtpkit_text_str(&t, " bytes");
    smtpkit_engine_fail(s, SMTPKIT_E_PERMANENT, SMTPKIT_STAGE_MAIL, message, true, NULL);
    return SMTPKIT_E_PERMANENT;
}

static void send_mail(smtpkit_session *s)
{
    const smtpkit_envelope *env = s->envelope;
    char size[24];
    smtpkit_text t;
    smtpkit_command c;

    smtpkit_engine_set_state(s, ST_MAIL);
    smtpkit_command_begin(&c, s);
    smtpkit_command_put(&c, "MAIL FROM:<");
    smtpkit_command_put(&c, env->mail_from);
    smtpkit_command_put(&c, ">");
    if ((s->caps & SMTPKIT_CAP_SIZE) != 0 && env->size_hint > 0) {
        smtpkit_text_init(&t, size, sizeof size);
        smtpkit_text_uint(&t, env->size_hint, 1);
        smtpkit_command_put(&c, " SIZE=");
        smtpkit_command_put(&c, size);
    }
    if ((s->caps & SMTPKIT_CAP_8BITMIME) != 0) {
        /* The body may hold UTF-8 text sent as 8bit: declare it (RFC 6152) where we may. */
        smtpkit_command_put(&c, " BODY=8BITMIME");
    }
    smtpkit_command_end(&c, "MAIL FROM", NULL);
}

static void send_rcpt(smtpkit_session *s)
{
    smtpkit_command c;

    smtpkit_engine_set_state(s, ST_RCPT);
    smtpkit_command_begin(&c, s);
    smtpkit_command_put(&c, "RCPT TO:<");
    smtpkit_command_put(&c, s->envelope->rcpt[s->rcpt_next]);
    smtpkit_command_put(&c, ">");
    if (smtpkit_command_end(&c, "RCPT TO", NULL)) {
        s->rcpt_next++;
    }
}

void smtpkit_engine_on_mail(smtpkit_session *s, unsigned code)
{
    if (code == 250) {
        send_rcpt(s);
    } else {
        smtpkit_engine_reject(s, "sender refused");
    }
}

static void record_rcpt(smtpkit_session *s, size_t index)
{
    smtpkit_rcpt_result *result;

    if (s->envelope->results == NULL) {
        return;
    }
    result = &s->envelope->results[index];
    result->code = s->last_reply.code;
    memcpy(result->enhanced, s->last_reply.enhanced, sizeof result->enhanced);
    memcpy(result->text, s->last_reply.text, sizeof result->text);
}

/* A refused recipient fails the message only with rcpt_strict, on 421, or when none is left. */
void smtpkit_engine_on_rcpt(smtpkit_session *s, unsigned code)
{
    bool accepted = code == 250 || code == 251;

    record_rcpt(s, s->rcpt_done++);
    if (accepted) {
        s->rcpt_ok++;
    } else if (code < 400 || code == 421 || s->config->rcpt_strict) {
        smtpkit_engine_reject(s, "recipient refused");
        return;
    } else {
        smtpkit_engine_trace(s, SMTPKIT_TRACE_INFO, "recipient refused; going on with the others");
    }
    if (s->rcpt_next < s->envelope->rcpt_count) {
        send_rcpt(s);
    } else if (s->rcpt_ok == 0) {
        smtpkit_engine_reject(s, "all recipients refused");
    } else {
        smtpkit_engine_set_state(s, ST_DATA);
        smtpkit_engine_send(s, "DATA", NULL);
    }
}

void smtpkit_engine_on_data(smtpkit_session *s, unsigned code)
{
    if (code != 354) {
        smtpkit_engine_reject(s, "DATA refused");
        return;
    }
    s->body_line_start = true;
    s->body_cr = false;
    s->body_bytes = 0;
    smtpkit_engine_set_state(s, ST_BODY);
}

smtpkit_status smtpkit_session_mail(smtpkit_session *s, const smtpkit_envelope *envelope)
{
    smtpkit_status status;
    size_t i;

    if (s->state != ST_READY || envelope == NULL) {
        return s->state != ST_READY ? SMTPKIT_E_STATE : SMTPKIT_E_USAGE;
    }
    status = check_envelope(s, envelope);
    if (status == SMTPKIT_OK) {
        status = check_size(s, envelope);
    }
    if (status != SMTPKIT_OK) {
        return status;
    }
    for (i = 0; envelope->results != NULL && i < envelope->rcpt_count; i++) {
        memset(&envelope->results[i], 0, sizeof envelope->results[i]);
    }
    s->envelope = envelope;
    s->rcpt_next = 0;
    s->rcpt_done = 0;
    s->rcpt_ok = 0;
    send_mail(s);
    return smtpkit_engine_status(s);
}

/* RFC 5321 section 4.5.2: CRLF line ends everywhere, and a '.' opening a line doubled. A CR is
 * ended at once; a LF right after it (even in the next call) is then the same line end. */
static bool body_byte(smtpkit_session *s, uint8_t c)
{
    uint8_t *o = s->out + s->out_len;
    size_t n = 1;

    if (c == '\n' && s->body_cr) {
        s->body_cr = false;
        return true;
    }
    if (s->out_size - s->out_len < 2) {
        return false;
    }
    if (c == '\r' || c == '\n') {
        o[0] = '\r';
        o[1] = '\n';
        n = 2;
    } else if (c == '.' && s->body_line_start) {
        o[0] = '.';
        o[1] = '.';
        n = 2;
    } else {
        o[0] = c;
    }
    s->body_cr = c == '\r';
    s->body_line_start = c == '\r' || c == '\n';
    s->out_len += n;
    s->body_bytes += n;
    return true;
}

size_t smtpkit_session_body(smtpkit_session *s, const uint8_t *data, size_t len)
{
    size_t i;

    if (s->state != ST_BODY) {
        return 0;
    }
    if (s->out_sent == s->out_len) {
        s->out_len = 0;
        s->out_sent = 0;
    }
    for (i = 0; i < len && body_byte(s, data[i]); i++) {
    }
    return i;
}

smtpkit_status smtpkit_session_body_end(smtpkit_session *s)
{
    char line[64];
    smtpkit_text t;
    size_t need = s->body_line_start ? 3 : 5;

    if (s->state != ST_BODY) {
        return SMTPKIT_E_STATE;
    }
    if (s->out_sent == s->out_len) {
        s->out_len = 0;
        s->out_sent = 0;
    }
    if (s->out_size - s->out_len < need) {
        return SMTPKIT_E_BUFFER;
    }
    if (!s->body_line_start) {
        memcpy(s->out + s->out_len, "\r\n", 2);
        s->out_len += 2;
        s->body_bytes += 2;
    }
    smtpkit_text_init(&t, line, sizeof line);
    smtpkit_text_str(&t, "<message body, ");
    smtpkit_text_uint(&t, s->body_bytes, 1);
    smtpkit_text_str(&t, " bytes>");
    smtpkit_engine_trace(s, SMTPKIT_TRACE_CLIENT, line);
    smtpkit_engine_trace(s, SMTPKIT_TRACE_CLIENT, ".");
    memcpy(s->out + s->out_len, ".\r\n", 3);
    s->out_len += 3;
    s->pending++;
    smtpkit_engine_set_state(s, ST_DOT);
    return SMTPKIT_OK;
}
