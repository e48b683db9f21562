/*
 * error.c - the one error type: names of statuses and stages, recording a failure, and the
 * one-line rendering used by the CLI and the logs.
 *
 * The rendering follows the shape of RFC 5321 section 4.2 replies so that a user can search
 * for it: "RCPT TO failed: 550 5.1.1 <x@y>: Recipient address rejected (permanent failure)".
 * Every byte that reaches a message or a rendering passes through smtpkit_text_clean(), so no
 * CR, LF or other control byte can ever appear in one.
 */
#include <string.h>

#include "smtpkit/error.h"
#include "core/text.h"

static const char *const status_names[] = {
    [SMTPKIT_OK] = "success",
    [SMTPKIT_E_USAGE] = "usage error",
    [SMTPKIT_E_CONNECT] = "connection failure",
    [SMTPKIT_E_TLS] = "TLS failure",
    [SMTPKIT_E_CERT] = "certificate verification failure",
    [SMTPKIT_E_PROTOCOL] = "protocol error",
    [SMTPKIT_E_AUTH] = "authentication failure",
    [SMTPKIT_E_TEMPORARY] = "temporary failure",
    [SMTPKIT_E_PERMANENT] = "permanent failure",
    [SMTPKIT_E_IO] = "I/O error",
    [SMTPKIT_E_TIMEOUT] = "timeout",
    [SMTPKIT_E_BUFFER] = "buffer too small",
    [SMTPKIT_E_STATE] = "call out of sequence",
    [SMTPKIT_E_INTERNAL] = "internal error",
};

static const char *const stage_names[] = {
    [SMTPKIT_STAGE_NONE] = "session",      [SMTPKIT_STAGE_CONNECT] = "connect",
    [SMTPKIT_STAGE_GREETING] = "greeting", [SMTPKIT_STAGE_EHLO] = "EHLO",
    [SMTPKIT_STAGE_HELO] = "HELO",         [SMTPKIT_STAGE_STARTTLS] = "STARTTLS",
    [SMTPKIT_STAGE_TLS] = "TLS handshake", [SMTPKIT_STAGE_AUTH] = "AUTH",
    [SMTPKIT_STAGE_MAIL] = "MAIL FROM",    [SMTPKIT_STAGE_RCPT] = "RCPT TO",
    [SMTPKIT_STAGE_DATA] = "DATA",         [SMTPKIT_STAGE_BODY] = "message body",
    [SMTPKIT_STAGE_QUIT] = "QUIT",
};

void smtpkit_error_clear(smtpkit_error *err)
{
    memset(err, 0, sizeof *err);
}

smtpkit_status smtpkit_error_set(smtpkit_error *err, smtpkit_status status, smtpkit_stage stage,
                                 const char *message)
{
    smtpkit_text t;

    smtpkit_error_clear(err);
    err->status = status;
    err->stage = stage;
    smtpkit_text_init(&t, err->message, sizeof err->message);
    if (message != NULL) {
        smtpkit_text_clean(&t, message, strlen(message));
    }
    return status;
}

const char *smtpkit_error_status_name(smtpkit_status status)
{
    if ((unsigned)status >= sizeof status_names / sizeof status_names[0]) {
        return "unknown status";
    }
    return status_names[status];
}

const char *smtpkit_error_stage_name(smtpkit_stage stage)
{
    if ((unsigned)stage >= sizeof stage_names / sizeof stage_names[0]) {
        return "unknown stage";
    }
    return stage_names[stage];
}

static void put_clean(smtpkit_text *t, const char *str, size_t max)
{
    smtpkit_text_clean(t, str, smtpkit_strnlen(str, max));
}

/* "550 5.1.1 text", prefixed by smtpkit's message when the reply alone does not explain the
 * failure (a protocol error on a well-formed reply, say). */
static void put_reply(smtpkit_text *t, const smtpkit_error *err)
{
    bool from_server = err->status == SMTPKIT_E_TEMPORARY || err->status == SMTPKIT_E_PERMANENT;

    if (!from_server && err->message[0] != '\0') {
        put_clean(t, err->message, sizeof err->message);
        smtpkit_text_str(t, ": ");
    }
    smtpkit_text_uint(t, err->reply_code, 3);
    if (err->enhanced[0] != '\0') {
        smtpkit_text_str(t, " ");
        put_clean(t, err->enhanced, sizeof err->enhanced);
    }
    if (err->text[0] != '\0') {
        smtpkit_text_str(t, " ");
        put_clean(t, err->text, sizeof err->text);
    }
}

size_t smtpkit_error_format(const smtpkit_error *err, char *out, size_t size)
{
    smtpkit_text t;

    smtpkit_text_init(&t, out, size);
    if (err->status == SMTPKIT_OK) {
        smtpkit_text_str(&t, "no error");
        return smtpkit_text_stored(&t);
    }
    if (err->stage != SMTPKIT_STAGE_NONE) {
        smtpkit_text_str(&t, smtpkit_error_stage_name(err->stage));
        smtpkit_text_str(&t, " failed: ");
    }
    if (err->reply_code != 0) {
        put_reply(&t, err);
    } else if (err->message[0] != '\0') {
        put_clean(&t, err->message, sizeof err->message);
    } else {
        smtpkit_text_str(&t, "failed");
    }
    smtpkit_text_str(&t, " (");
    smtpkit_text_str(&t, smtpkit_error_status_name(err->status));
    smtpkit_text_str(&t, ")");
    return smtpkit_text_stored(&t);
}
