/*
 * session.c - the sans-I/O SMTP client engine: RFC 5321 (greeting, EHLO/HELO, MAIL, RCPT,
 * DATA with dot-stuffing per section 4.5.2, QUIT), RFC 3207 (STARTTLS, with the discard of
 * plaintext after the 220 of section 6 and the new EHLO of section 4.2), RFC 4954 (AUTH) and
 * RFC 6409 (submission), RFC 1870 (SIZE).
 *
 * One function changes the state (set_state) and traces the change. Each command is queued
 * by a send_* function next to the handler of its reply (on_*). Replies are handled one at a
 * time: no command is queued before the reply to the previous one arrived, so the engine
 * speaks without pipelining; `pending` counts commands whose reply is due.
 *
 * After a failure that came with a complete server reply (or a refusal of smtpkit before any
 * command was sent) the state is FAILED and QUIT may still be sent (FAILED_QUIT); after an I/O
 * failure, EOF, a protocol error or the caller's smtpkit_session_fail() it is FAILED_FINAL.
 * The first failure recorded is the one kept.
 */
#include <string.h>

#include "smtpkit/message.h"
#include "smtpkit/session.h"
#include "core/caps.h"
#include "core/reply_internal.h"
#include "core/sasl.h"
#include "core/text.h"

enum state {
    ST_GREETING,
    ST_EHLO,
    ST_HELO,
    ST_STARTTLS,
    ST_TLS, /* the 220 to STARTTLS arrived: the caller does the handshake */
    ST_AUTH,
    ST_READY,
    ST_MAIL,
    ST_RCPT,
    ST_DATA,
    ST_BODY, /* the caller pushes the message */
    ST_DOT,  /* the end of data was queued: the reply is due */
    ST_SENT, /* the message was accepted: EV_SENT is returned once */
    ST_QUIT,
    ST_DONE,
    ST_FAILED,       /* failed; QUIT may still be sent */
    ST_FAILED_QUIT,  /* failed; QUIT queued, its reply is due */
    ST_FAILED_FINAL, /* failed; nothing more is sent */
    ST_COUNT
};

static const struct {
    const char *name;
    smtpkit_stage stage;
} states[ST_COUNT] = {
    [ST_GREETING] = {"GREETING", SMTPKIT_STAGE_GREETING},
    [ST_EHLO] = {"EHLO", SMTPKIT_STAGE_EHLO},
    [ST_HELO] = {"HELO", SMTPKIT_STAGE_HELO},
    [ST_STARTTLS] = {"STARTTLS", SMTPKIT_STAGE_STARTTLS},
    [ST_TLS] = {"TLS", SMTPKIT_STAGE_TLS},
    [ST_AUTH] = {"AUTH", SMTPKIT_STAGE_AUTH},
    [ST_READY] = {"READY", SMTPKIT_STAGE_NONE},
    [ST_MAIL] = {"MAIL", SMTPKIT_STAGE_MAIL},
    [ST_RCPT] = {"RCPT", SMTPKIT_STAGE_RCPT},
    [ST_DATA] = {"DATA", SMTPKIT_STAGE_DATA},
    [ST_BODY] = {"BODY", SMTPKIT_STAGE_BODY},
    [ST_DOT] = {"END-OF-DATA", SMTPKIT_STAGE_BODY},
    [ST_SENT] = {"SENT", SMTPKIT_STAGE_NONE},
    [ST_QUIT] = {"QUIT", SMTPKIT_STAGE_QUIT},
    [ST_DONE] = {"DONE", SMTPKIT_STAGE_NONE},
    [ST_FAILED] = {"FAILED", SMTPKIT_STAGE_NONE},
    [ST_FAILED_QUIT] = {"FAILED+QUIT", SMTPKIT_STAGE_QUIT},
    [ST_FAILED_FINAL] = {"FAILED", SMTPKIT_STAGE_NONE},
};

/* Trace, state and failure ---------------------------------------------------------------- */

static void trace(const smtpkit_session *s, smtpkit_trace_kind kind, const char *text,
                  size_t len)
{
    if (s->config != NULL && s->config->trace != NULL) {
        s->config->trace(s->config->trace_ctx, kind, text, len);
    }
}

static void trace_str(const smtpkit_session *s, smtpkit_trace_kind kind, const char *text)
{
    trace(s, kind, text, strlen(text));
}

static void trace_text(const smtpkit_session *s, smtpkit_trace_kind kind, const smtpkit_text *t)
{
    trace(s, kind, t->buf, smtpkit_text_stored(t));
}

static void set_state(smtpkit_session *s, int state)
{
    char line[64];
    smtpkit_text t;

    if (s->state == state) {
        return;
    }
    smtpkit_text_init(&t, line, sizeof line);
    smtpkit_text_str(&t, "state ");
    smtpkit_text_str(&t, states[s->state].name);
    smtpkit_text_str(&t, " -> ");
    smtpkit_text_str(&t, states[state].name);
    trace_text(s, SMTPKIT_TRACE_INFO, &t);
    s->state = state;
}

static bool is_failed(const smtpkit_session *s)
{
    return s->state == ST_FAILED || s->state == ST_FAILED_QUIT || s->state == ST_FAILED_FINAL;
}

static void drop_output(smtpkit_session *s)
{
    smtpkit_sasl_wipe(s->out, s->out_len);
    s->out_len = 0;
    s->out_sent = 0;
}

/* Ends the session in failure. @p can_quit: the server waits for a command, so QUIT may still
 * be sent politely. A failure while already failed only closes the session. */
static void fail_at(smtpkit_session *s, smtpkit_status status, smtpkit_stage stage,
                    const char *message, bool can_quit)
{
    char line[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + 48];

    if (s->state == ST_DONE || s->state == ST_FAILED_FINAL) {
        return;
    }
    drop_output(s);
    s->pending = 0;
    if (is_failed(s)) {
        set_state(s, ST_FAILED_FINAL);
        return;
    }
    smtpkit_error_set(&s->error, status, stage, message);
    smtpkit_error_format(&s->error, line, sizeof line);
    trace_str(s, SMTPKIT_TRACE_INFO, line);
    set_state(s, can_quit ? ST_FAILED : ST_FAILED_FINAL);
}

static void fail(smtpkit_session *s, smtpkit_status status, const char *message, bool can_quit)
{
    fail_at(s, status, states[s->state].stage, message, can_quit);
}

static void copy_reply(smtpkit_error *err, const smtpkit_reply *reply)
{
    err->reply_code = reply->code;
    memcpy(err->enhanced, reply->enhanced, sizeof err->enhanced);
    memcpy(err->text, reply->text, sizeof err->text);
}

/* A 4xx or 5xx reply ends the session (TEMPORARY or PERMANENT, QUIT still possible); any
 * other code the current state did not expect is a protocol error. */
static void reject(smtpkit_session *s, const char *message)
{
    smtpkit_stage stage = states[s->state].stage;
    unsigned code = s->last_reply.code;

    if (code >= 400) {
        fail_at(s, code < 500 ? SMTPKIT_E_TEMPORARY : SMTPKIT_E_PERMANENT, stage, message, true);
        copy_reply(&s->error, &s->last_reply);
    } else {
        fail_at(s, SMTPKIT_E_PROTOCOL, stage, "unexpected reply", false);
        copy_reply(&s->error, &s->last_reply);
    }
}

/* Commands ------------------------------------------------------------------------------- */

/* A command line being appended to the output; it is committed whole or not at all. */
typedef struct command {
    smtpkit_session *s;
    size_t start;
    bool full;
} command;

static void cmd_begin(command *c, smtpkit_session *s)
{
    if (s->out_sent == s->out_len) {
        s->out_len = 0;
        s->out_sent = 0;
    }
    c->s = s;
    c->start = s->out_len;
    c->full = false;
}

static void cmd_put(command *c, const char *text, size_t len)
{
    smtpkit_session *s = c->s;

    if (c->full || s->out_size - s->out_len < len) {
        c->full = true;
        return;
    }
    memcpy(s->out + s->out_len, text, len);
    s->out_len += len;
}

static void cmd_str(command *c, const char *text)
{
    cmd_put(c, text, strlen(text));
}

/* Free space for a SASL response written in place, keeping room for its CRLF: a response
 * writer puts its NUL where the CR goes. */
static char *cmd_space(command *c, size_t *size)
{
    size_t room = c->s->out_size - c->s->out_len;

    *size = (c->full || room < 2) ? 0 : room - 1;
    return (char *)c->s->out + c->s->out_len;
}

/* Ends the line with CRLF, traces it (as @p shown when not NULL) and counts its reply due. */
static bool cmd_end(command *c, const char *name, const char *shown)
{
    smtpkit_session *s = c->s;
    char message[96];
    smtpkit_text t;

    if (!c->full && s->out_size - s->out_len >= 2) {
        if (shown != NULL) {
            trace_str(s, SMTPKIT_TRACE_CLIENT, shown);
        } else {
            trace(s, SMTPKIT_TRACE_CLIENT, (const char *)s->out + c->start, s->out_len - c->start);
        }
        cmd_put(c, "\r\n", 2);
        s->pending++;
        return true;
    }
    smtpkit_sasl_wipe(s->out + c->start, s->out_len - c->start);
    s->out_len = c->start;
    smtpkit_text_init(&t, message, sizeof message);
    smtpkit_text_str(&t, "output buffer too small for ");
    smtpkit_text_str(&t, name);
    fail(s, SMTPKIT_E_BUFFER, message, true);
    return false;
}

static bool send_simple(smtpkit_session *s, const char *verb, const char *argument)
{
    command c;

    cmd_begin(&c, s);
    cmd_str(&c, verb);
    if (argument != NULL) {
        cmd_str(&c, " ");
        cmd_str(&c, argument);
    }
    return cmd_end(&c, verb, NULL);
}

/* Greeting, EHLO, STARTTLS --------------------------------------------------------------- */

static void start_auth(smtpkit_session *s);

static void send_ehlo(smtpkit_session *s)
{
    s->caps = 0;
    s->mechs = 0;
    s->size_max = 0;
    set_state(s, ST_EHLO);
    send_simple(s, "EHLO", s->config->helo_name);
}

static void send_helo(smtpkit_session *s)
{
    set_state(s, ST_HELO);
    send_simple(s, "HELO", s->config->helo_name);
}

/* After EHLO or HELO: STARTTLS when required and not done yet, then AUTH, then READY. */
static void after_hello(smtpkit_session *s)
{
    if (s->config->tls_mode == SMTPKIT_TLS_STARTTLS && !s->tls_active) {
        if ((s->caps & SMTPKIT_CAP_STARTTLS) == 0) {
            fail_at(s, SMTPKIT_E_TLS, SMTPKIT_STAGE_STARTTLS,
                    "server does not offer STARTTLS; refusing to continue without TLS", true);
        } else {
            set_state(s, ST_STARTTLS);
            send_simple(s, "STARTTLS", NULL);
        }
        return;
    }
    if (s->config->user != NULL) {
        start_auth(s);
    } else {
        set_state(s, ST_READY);
    }
}

/* RFC 5321 section 3.2: a server that does not know EHLO answers 5xx; HELO then works. */
static void on_ehlo(smtpkit_session *s, unsigned code)
{
    if (code == 250) {
        after_hello(s);
    } else if (code >= 500) {
        send_helo(s);
    } else {
        reject(s, "EHLO refused");
    }
}

static void on_line(smtpkit_session *s)
{
    const smtpkit_reply *reply = smtpkit_reply_get(&s->parser);
    smtpkit_caps caps = {s->caps, s->mechs, s->size_max};
    const char *text;
    size_t len;

    text = smtpkit_reply_line_full(&s->parser, &len);
    trace(s, SMTPKIT_TRACE_SERVER, text, len);
    if (s->state != ST_EHLO || reply->code != 250 || reply->line_count < 2) {
        return;
    }
    text = smtpkit_reply_line_text(&s->parser, &len);
    smtpkit_caps_parse_line(&caps, text, len);
    s->caps = caps.bits;
    s->mechs = caps.mechs;
    s->size_max = caps.size_max;
}

/* AUTH ----------------------------------------------------------------------------------- */

static bool offered(const smtpkit_session *s, smtpkit_auth_mech mech)
{
    return (s->mechs & (1u << mech)) != 0 && smtpkit_sasl_enabled(mech);
}

/* AUTO: OAUTHBEARER, then XOAUTH2 for a token; CRAM-MD5 (keeps the password off the wire even
 * inside TLS), then PLAIN, then LOGIN for a password. */
static bool choose_mech(const smtpkit_session *s, smtpkit_auth_mech *mech)
{
    static const smtpkit_auth_mech token_order[] = {SMTPKIT_AUTH_OAUTHBEARER,
                                                    SMTPKIT_AUTH_XOAUTH2};
    static const smtpkit_auth_mech password_order[] = {SMTPKIT_AUTH_CRAM_MD5, SMTPKIT_AUTH_PLAIN,
                                                       SMTPKIT_AUTH_LOGIN};
    const smtpkit_auth_mech *order = s->config->secret_is_token ? token_order : password_order;
    size_t count = s->config->secret_is_token ? 2 : 3;
    size_t i;

    if (s->config->auth != SMTPKIT_AUTH_AUTO) {
        *mech = s->config->auth;
        return offered(s, *mech);
    }
    for (i = 0; i < count; i++) {
        if (offered(s, order[i])) {
            *mech = order[i];
            return true;
        }
    }
    return false;
}

static void fail_no_mech(smtpkit_session *s)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;
    const char *separator = "";
    unsigned i;

    smtpkit_text_init(&t, message, sizeof message);
    if (s->config->auth != SMTPKIT_AUTH_AUTO) {
        smtpkit_text_str(&t, "server does not offer AUTH ");
        smtpkit_text_str(&t, smtpkit_auth_mech_name(s->config->auth));
    } else {
        smtpkit_text_str(&t, s->config->secret_is_token ? "server offers no OAuth2 mechanism"
                                                        : "server offers no password mechanism");
    }
    smtpkit_text_str(&t, " (offers:");
    for (i = SMTPKIT_AUTH_PLAIN; i <= SMTPKIT_AUTH_OAUTHBEARER; i++) {
        if ((s->mechs & (1u << i)) != 0) {
            smtpkit_text_str(&t, " ");
            smtpkit_text_str(&t, smtpkit_auth_mech_name((smtpkit_auth_mech)i));
            separator = " ";
        }
    }
    smtpkit_text_str(&t, separator[0] == '\0' ? " none that smtpkit knows)" : ")");
    fail_at(s, SMTPKIT_E_AUTH, SMTPKIT_STAGE_AUTH, message, true);
}

static smtpkit_sasl_credentials credentials(const smtpkit_session *s)
{
    smtpkit_sasl_credentials cred = {s->config->user, s->config->secret, s->config->oauth_host,
                                     s->config->oauth_port};
    return cred;
}

/* Writes one SASL response in place; traces only @p shown. */
static bool put_sasl(smtpkit_session *s, command *c, smtpkit_status status, size_t len)
{
    if (status == SMTPKIT_OK) {
        c->s->out_len += len;
        return true;
    }
    if (status == SMTPKIT_E_BUFFER) {
        c->full = true;
        return true;
    }
    fail_at(s, status, SMTPKIT_STAGE_AUTH,
            status == SMTPKIT_E_PROTOCOL ? "AUTH challenge cannot be answered"
                                         : "AUTH response could not be computed",
            false);
    return false;
}

static void send_auth(smtpkit_session *s, smtpkit_auth_mech mech)
{
    smtpkit_sasl_credentials cred = credentials(s);
    const char *name = smtpkit_auth_mech_name(mech);
    char shown[40];
    smtpkit_text t;
    command c;
    size_t size;
    size_t len = 0;
    char *space;

    s->auth_mech = mech;
    s->auth_step = 0;
    set_state(s, ST_AUTH);
    smtpkit_text_init(&t, shown, sizeof shown);
    smtpkit_text_str(&t, "AUTH ");
    smtpkit_text_str(&t, name);
    cmd_begin(&c, s);
    cmd_str(&c, shown);
    if (smtpkit_sasl_has_initial(mech)) {
        smtpkit_text_str(&t, " <redacted>");
        cmd_str(&c, " ");
        space = cmd_space(&c, &size);
        if (!put_sasl(s, &c, smtpkit_sasl_initial(mech, &cred, space, size, &len), len)) {
            return;
        }
    }
    cmd_end(&c, "AUTH", shown);
}

static void start_auth(smtpkit_session *s)
{
    smtpkit_auth_mech mech;
    bool plaintext_ok =
        s->config->tls_mode == SMTPKIT_TLS_NONE && s->config->allow_plaintext_auth;

    if (!s->tls_active && !plaintext_ok) {
        fail_at(s, SMTPKIT_E_AUTH, SMTPKIT_STAGE_AUTH,
                "credentials are not sent without TLS (allow_plaintext_auth is off)", true);
    } else if ((s->caps & SMTPKIT_CAP_AUTH) == 0) {
        fail_at(s, SMTPKIT_E_AUTH, SMTPKIT_STAGE_AUTH, "server offers no AUTH", true);
    } else if (!choose_mech(s, &mech)) {
        fail_no_mech(s);
    } else {
        send_auth(s, mech);
    }
}

/* RFC 4954 section 4: a 334 carries a base64 challenge that the mechanism answers. */
static void answer_challenge(smtpkit_session *s)
{
    smtpkit_sasl_credentials cred = credentials(s);
    size_t challenge_len;
    const char *challenge = smtpkit_reply_line_text(&s->parser, &challenge_len);
    command c;
    size_t size;
    size_t len = 0;
    char *space;
    smtpkit_status status;

    cmd_begin(&c, s);
    space = cmd_space(&c, &size);
    status = smtpkit_sasl_answer(s->auth_mech, s->auth_step, &cred, challenge, challenge_len,
                                 space, size, &len);
    if (put_sasl(s, &c, status, len) && cmd_end(&c, "AUTH response", "<redacted>")) {
        s->auth_step++;
    }
}

static void on_auth(smtpkit_session *s, unsigned code)
{
    if (code == 235) {
        set_state(s, ST_READY);
    } else if (code == 334) {
        answer_challenge(s);
    } else {
        reject(s, "authentication refused");
    }
}

/* Mail transaction ----------------------------------------------------------------------- */

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
    return smtpkit_error_set(&s->error, SMTPKIT_E_USAGE, SMTPKIT_STAGE_MAIL, message);
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

/* RFC 1870 section 6: a message over the announced maximum would be refused after DATA. */
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
    return smtpkit_error_set(&s->error, SMTPKIT_E_PERMANENT, SMTPKIT_STAGE_MAIL, message);
}

static void send_mail(smtpkit_session *s)
{
    const smtpkit_envelope *env = s->envelope;
    char size[24];
    smtpkit_text t;
    command c;

    set_state(s, ST_MAIL);
    cmd_begin(&c, s);
    cmd_str(&c, "MAIL FROM:<");
    cmd_str(&c, env->mail_from);
    cmd_str(&c, ">");
    if ((s->caps & SMTPKIT_CAP_SIZE) != 0 && env->size_hint > 0) {
        smtpkit_text_init(&t, size, sizeof size);
        smtpkit_text_uint(&t, env->size_hint, 1);
        cmd_str(&c, " SIZE=");
        cmd_str(&c, size);
    }
    cmd_end(&c, "MAIL FROM", NULL);
}

static void send_rcpt(smtpkit_session *s)
{
    command c;

    set_state(s, ST_RCPT);
    cmd_begin(&c, s);
    cmd_str(&c, "RCPT TO:<");
    cmd_str(&c, s->envelope->rcpt[s->rcpt_next]);
    cmd_str(&c, ">");
    if (cmd_end(&c, "RCPT TO", NULL)) {
        s->rcpt_next++;
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
static void on_rcpt(smtpkit_session *s, unsigned code)
{
    bool accepted = code == 250 || code == 251;

    record_rcpt(s, s->rcpt_done++);
    if (accepted) {
        s->rcpt_ok++;
    } else if (code < 400 || code == 421 || s->config->rcpt_strict) {
        reject(s, "recipient refused");
        return;
    } else {
        trace_str(s, SMTPKIT_TRACE_INFO, "recipient refused; going on with the others");
    }
    if (s->rcpt_next < s->envelope->rcpt_count) {
        send_rcpt(s);
    } else if (s->rcpt_ok == 0) {
        reject(s, "all recipients refused");
    } else {
        set_state(s, ST_DATA);
        send_simple(s, "DATA", NULL);
    }
}

static void on_data(smtpkit_session *s, unsigned code)
{
    if (code != 354) {
        reject(s, "DATA refused");
        return;
    }
    s->body_line_start = true;
    s->body_cr = false;
    s->body_bytes = 0;
    set_state(s, ST_BODY);
}

/* Replies -------------------------------------------------------------------------------- */

static void on_reply(smtpkit_session *s)
{
    unsigned code = s->last_reply.code;

    switch (s->state) {
    case ST_GREETING:
        if (code == 220) {
            send_ehlo(s);
        } else {
            reject(s, "greeting refused");
        }
        break;
    case ST_EHLO:
        on_ehlo(s, code);
        break;
    case ST_HELO:
        if (code == 250) {
            after_hello(s);
        } else {
            reject(s, "HELO refused");
        }
        break;
    case ST_STARTTLS:
        if (code == 220) {
            set_state(s, ST_TLS);
        } else {
            reject(s, "STARTTLS refused");
        }
        break;
    case ST_AUTH:
        on_auth(s, code);
        break;
    case ST_MAIL:
        if (code == 250) {
            send_rcpt(s);
        } else {
            reject(s, "sender refused");
        }
        break;
    case ST_RCPT:
        on_rcpt(s, code);
        break;
    case ST_DATA:
        on_data(s, code);
        break;
    case ST_DOT:
        if (code == 250) {
            set_state(s, ST_SENT);
        } else {
            reject(s, "message refused");
        }
        break;
    case ST_QUIT:
        if (code == 221) {
            set_state(s, ST_DONE);
        } else {
            reject(s, "QUIT refused");
        }
        break;
    case ST_FAILED_QUIT:
        set_state(s, ST_FAILED_FINAL);
        break;
    default:
        fail(s, SMTPKIT_E_PROTOCOL, "reply in a state that expects none", false);
        break;
    }
}

static void on_parse(smtpkit_session *s, smtpkit_reply_result result)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    switch (result) {
    case SMTPKIT_REPLY_MORE:
        break;
    case SMTPKIT_REPLY_LINE:
        on_line(s);
        break;
    case SMTPKIT_REPLY_DONE:
        on_line(s);
        s->last_reply = *smtpkit_reply_get(&s->parser);
        s->pending--;
        on_reply(s);
        smtpkit_reply_init(&s->parser);
        break;
    default:
        smtpkit_text_init(&t, message, sizeof message);
        smtpkit_text_str(&t, "malformed reply: ");
        smtpkit_text_str(&t, smtpkit_reply_error(&s->parser));
        fail(s, SMTPKIT_E_PROTOCOL, message, false);
        break;
    }
}

/* Public API ----------------------------------------------------------------------------- */

static const char *config_fault(const smtpkit_session_config *c)
{
    const char *helo = c->helo_name;
    size_t helo_len = helo != NULL ? smtpkit_strnlen(helo, 256) : 0;
    bool token = c->secret_is_token || c->auth == SMTPKIT_AUTH_XOAUTH2 ||
                 c->auth == SMTPKIT_AUTH_OAUTHBEARER;

    if (helo_len == 0 || helo_len > 255 || smtpkit_has_control(helo, helo_len) ||
        memchr(helo, ' ', helo_len) != NULL) {
        return "helo_name must be a domain or an address literal";
    }
    if ((unsigned)c->tls_mode > SMTPKIT_TLS_NONE) {
        return "unknown tls_mode";
    }
    if ((unsigned)c->auth > SMTPKIT_AUTH_OAUTHBEARER) {
        return "unknown AUTH mechanism";
    }
    if (c->auth != SMTPKIT_AUTH_AUTO && !smtpkit_sasl_enabled(c->auth)) {
        return "the AUTH mechanism named is not compiled in";
    }
    if (c->user == NULL) {
        return c->auth != SMTPKIT_AUTH_AUTO ? "an AUTH mechanism is named but no user" : NULL;
    }
    if (c->user[0] == '\0' || smtpkit_has_control(c->user, strlen(c->user))) {
        return "user must be non-empty and free of control bytes";
    }
    if (c->secret == NULL) {
        return "a user is given without a secret";
    }
    if (token && smtpkit_has_control(c->secret, strlen(c->secret))) {
        return "a bearer token must be free of control bytes";
    }
    if (c->oauth_host != NULL && smtpkit_has_control(c->oauth_host, strlen(c->oauth_host))) {
        return "oauth_host must be free of control bytes";
    }
    return NULL;
}

smtpkit_status smtpkit_session_init(smtpkit_session *s, const smtpkit_session_config *config,
                                    uint8_t *out, size_t out_size)
{
    const char *fault;

    memset(s, 0, sizeof *s);
    s->state = ST_FAILED_FINAL;
    if (config == NULL) {
        return smtpkit_error_set(&s->error, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "no config");
    }
    if (out == NULL || out_size < SMTPKIT_SESSION_OUTPUT_MIN) {
        return smtpkit_error_set(&s->error, SMTPKIT_E_BUFFER, SMTPKIT_STAGE_NONE,
                                 "output buffer smaller than SMTPKIT_SESSION_OUTPUT_MIN");
    }
    fault = config_fault(config);
    if (fault != NULL) {
        return smtpkit_error_set(&s->error, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, fault);
    }
    s->config = config;
    s->out = out;
    s->out_size = out_size;
    smtpkit_reply_init(&s->parser);
    s->tls_active = config->tls_mode == SMTPKIT_TLS_IMPLICIT;
    s->pending = 1; /* the greeting */
    s->state = ST_GREETING;
    trace_str(s, SMTPKIT_TRACE_INFO, "state GREETING");
    return SMTPKIT_OK;
}

smtpkit_event smtpkit_session_next(smtpkit_session *s)
{
    if (s->out_sent < s->out_len) {
        return SMTPKIT_EV_WRITE;
    }
    switch (s->state) {
    case ST_TLS:
        return SMTPKIT_EV_START_TLS;
    case ST_READY:
        return SMTPKIT_EV_READY;
    case ST_BODY:
        return SMTPKIT_EV_BODY;
    case ST_SENT:
        set_state(s, ST_READY);
        return SMTPKIT_EV_SENT;
    case ST_DONE:
        return SMTPKIT_EV_DONE;
    case ST_FAILED:
    case ST_FAILED_FINAL:
        return SMTPKIT_EV_FAILED;
    default:
        return SMTPKIT_EV_READ;
    }
}

const uint8_t *smtpkit_session_output(const smtpkit_session *s, size_t *len)
{
    *len = s->out_len - s->out_sent;
    return s->out + s->out_sent;
}

void smtpkit_session_written(smtpkit_session *s, size_t n)
{
    size_t left = s->out_len - s->out_sent;

    s->out_sent += n < left ? n : left;
    if (s->out_sent == s->out_len) {
        if (s->state == ST_AUTH) {
            smtpkit_sasl_wipe(s->out, s->out_len);
        }
        s->out_len = 0;
        s->out_sent = 0;
    }
}

static smtpkit_status session_status(const smtpkit_session *s)
{
    return is_failed(s) ? s->error.status : SMTPKIT_OK;
}

static void discard_after_starttls(smtpkit_session *s, size_t len)
{
    char line[96];
    smtpkit_text t;

    smtpkit_text_init(&t, line, sizeof line);
    smtpkit_text_str(&t, "discarded ");
    smtpkit_text_uint(&t, len, 1);
    smtpkit_text_str(&t, " plaintext bytes received after the 220 to STARTTLS");
    trace_text(s, SMTPKIT_TRACE_INFO, &t);
}

smtpkit_status smtpkit_session_feed(smtpkit_session *s, const uint8_t *data, size_t len)
{
    size_t used;

    while (len > 0 && s->state != ST_DONE && s->state != ST_FAILED &&
           s->state != ST_FAILED_FINAL) {
        if (s->state == ST_TLS) {
            discard_after_starttls(s, len);
            break;
        }
        if (s->pending == 0) {
            fail(s, SMTPKIT_E_PROTOCOL, "server sent data when no reply was due", false);
            break;
        }
        if (s->out_sent < s->out_len) {
            fail(s, SMTPKIT_E_PROTOCOL, "server replied before the command was sent", false);
            break;
        }
        on_parse(s, smtpkit_reply_feed(&s->parser, data, len, &used));
        data += used;
        len -= used;
    }
    return session_status(s);
}

smtpkit_status smtpkit_session_eof(smtpkit_session *s)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    if (s->state == ST_QUIT) {
        trace_str(s, SMTPKIT_TRACE_INFO, "server closed the connection after QUIT");
        set_state(s, ST_DONE);
    } else if (is_failed(s)) {
        set_state(s, ST_FAILED_FINAL);
    } else if (s->state != ST_DONE) {
        smtpkit_text_init(&t, message, sizeof message);
        smtpkit_text_str(&t, "server closed the connection ");
        smtpkit_text_str(&t, s->state == ST_READY ? "while the session was idle" : "during ");
        if (s->state != ST_READY) {
            smtpkit_text_str(&t, smtpkit_error_stage_name(states[s->state].stage));
        }
        fail(s, SMTPKIT_E_IO, message, false);
    }
    return session_status(s);
}

smtpkit_status smtpkit_session_tls_started(smtpkit_session *s)
{
    if (s->state != ST_TLS) {
        return SMTPKIT_E_STATE;
    }
    s->tls_active = true;
    trace_str(s, SMTPKIT_TRACE_INFO, "TLS active");
    smtpkit_reply_init(&s->parser);
    send_ehlo(s); /* RFC 3207 section 4.2: forget what was learnt in plaintext */
    return session_status(s);
}

void smtpkit_session_fail(smtpkit_session *s, const smtpkit_error *err)
{
    smtpkit_stage stage = states[s->state].stage;

    if (s->state == ST_DONE || s->state == ST_FAILED_FINAL) {
        return;
    }
    if (is_failed(s)) {
        drop_output(s);
        s->pending = 0;
        set_state(s, ST_FAILED_FINAL);
        return;
    }
    if (err == NULL) {
        fail(s, SMTPKIT_E_INTERNAL, "failed by the caller", false);
        return;
    }
    fail_at(s, err->status != SMTPKIT_OK ? err->status : SMTPKIT_E_INTERNAL,
            err->stage != SMTPKIT_STAGE_NONE ? err->stage : stage, err->message, false);
    s->error.reply_code = err->reply_code;
    memcpy(s->error.enhanced, err->enhanced, sizeof s->error.enhanced);
    memcpy(s->error.text, err->text, sizeof s->error.text);
}

smtpkit_status smtpkit_session_mail(smtpkit_session *s, const smtpkit_envelope *envelope)
{
    smtpkit_status status;
    size_t i;

    if (s->state != ST_READY || envelope == NULL) {
        return s->state != ST_READY ? SMTPKIT_E_STATE : SMTPKIT_E_USAGE;
    }
    smtpkit_error_clear(&s->error);
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
    return session_status(s);
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
    trace_text(s, SMTPKIT_TRACE_CLIENT, &t);
    trace(s, SMTPKIT_TRACE_CLIENT, ".", 1);
    memcpy(s->out + s->out_len, ".\r\n", 3);
    s->out_len += 3;
    s->pending++;
    set_state(s, ST_DOT);
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_session_quit(smtpkit_session *s)
{
    if (s->state == ST_READY) {
        set_state(s, ST_QUIT);
        send_simple(s, "QUIT", NULL);
        return session_status(s);
    }
    if (s->state == ST_FAILED) {
        set_state(s, ST_FAILED_QUIT);
        send_simple(s, "QUIT", NULL);
        return s->state == ST_FAILED_QUIT ? SMTPKIT_OK : s->error.status;
    }
    return SMTPKIT_E_STATE;
}

const smtpkit_error *smtpkit_session_error(const smtpkit_session *s)
{
    return &s->error;
}

const smtpkit_reply *smtpkit_session_last_reply(const smtpkit_session *s)
{
    return &s->last_reply;
}

smtpkit_stage smtpkit_session_stage(const smtpkit_session *s)
{
    if (s->state == ST_FAILED || s->state == ST_FAILED_FINAL) {
        return s->error.stage;
    }
    return states[s->state].stage;
}

unsigned smtpkit_session_caps(const smtpkit_session *s)
{
    return s->caps;
}

smtpkit_mech_set smtpkit_session_mechs(const smtpkit_session *s)
{
    return s->mechs;
}

bool smtpkit_session_tls_active(const smtpkit_session *s)
{
    return s->tls_active;
}
