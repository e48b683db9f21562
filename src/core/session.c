/*
 * session.c - the sans-I/O SMTP client engine: RFC 5321 (greeting, EHLO/HELO, MAIL, RCPT,
 * DATA with dot-stuffing per section 4.5.2, QUIT), RFC 3207 (STARTTLS, with the discard of
 * plaintext after the 220 of section 6 and the new EHLO of section 4.2), RFC 4954 (AUTH) and
 * RFC 6409 (submission), RFC 1870 (SIZE).
 *
 * This file holds the state machine, the failure rules, the command writer, the greeting,
 * EHLO/HELO and STARTTLS, and the public API; AUTH is in session_auth.c, the mail transaction
 * and the body in session_mail.c (see session_internal.h). One function changes the state
 * (smtpkit_engine_set_state) and traces the change. Each command is queued by a send_*
 * function next to the handler of its reply (on_*). Replies are handled one at a
 * time: no command is queued before the reply to the previous one arrived, so the engine
 * speaks without pipelining; `pending` counts commands whose reply is due.
 *
 * After a failure that came with a complete server reply (or a refusal of smtpkit before any
 * command was sent) the state is FAILED and QUIT may still be sent (FAILED_QUIT); after an I/O
 * failure, EOF, a protocol error or the caller's smtpkit_session_fail() it is FAILED_FINAL.
 * The first failure recorded is the one kept.
 */
#include <string.h>

#include "smtpkit/session.h"
#include "core/caps.h"
#include "core/reply_internal.h"
#include "core/sasl.h"
#include "core/session_internal.h"
#include "core/text.h"

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

static void trace(const smtpkit_session *s, smtpkit_trace_kind kind, const char *text, size_t len)
{
    if (s->config != NULL && s->config->trace != NULL) {
        s->config->trace(s->config->trace_ctx, kind, text, len);
    }
}

void smtpkit_engine_trace(const smtpkit_session *s, smtpkit_trace_kind kind, const char *text)
{
    trace(s, kind, text, strlen(text));
}

static void trace_text(const smtpkit_session *s, smtpkit_trace_kind kind, const smtpkit_text *t)
{
    trace(s, kind, t->buf, smtpkit_text_stored(t));
}

void smtpkit_engine_set_state(smtpkit_session *s, int state)
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

/* Starts recording a failure: false when there is nothing to record, because the session is
 * over or has already failed (a second failure only closes it; the first one is kept). */
static bool begin_failure(smtpkit_session *s)
{
    if (s->state == ST_DONE || s->state == ST_FAILED_FINAL) {
        return false;
    }
    drop_output(s);
    s->pending = 0;
    if (is_failed(s)) {
        smtpkit_engine_set_state(s, ST_FAILED_FINAL);
        return false;
    }
    return true;
}

/* Traces the recorded failure and enters FAILED. @p can_quit: the server waits for a command,
 * so QUIT may still be sent politely. */
static void end_failure(smtpkit_session *s, bool can_quit)
{
    char line[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + 48];

    smtpkit_error_format(&s->error, line, sizeof line);
    smtpkit_engine_trace(s, SMTPKIT_TRACE_INFO, line);
    smtpkit_engine_set_state(s, can_quit ? ST_FAILED : ST_FAILED_FINAL);
}

static void copy_reply(smtpkit_error *err, const smtpkit_reply *reply)
{
    err->reply_code = reply->code;
    memcpy(err->enhanced, reply->enhanced, sizeof err->enhanced);
    memcpy(err->text, reply->text, sizeof err->text);
}

/* Ends the session in failure, with the server's @p reply when there is one. */
void smtpkit_engine_fail(smtpkit_session *s, smtpkit_status status, smtpkit_stage stage,
                         const char *message, bool can_quit, const smtpkit_reply *reply)
{
    if (!begin_failure(s)) {
        return;
    }
    smtpkit_error_set(&s->error, status, stage, message);
    if (reply != NULL) {
        copy_reply(&s->error, reply);
    }
    end_failure(s, can_quit);
}

static void fail(smtpkit_session *s, smtpkit_status status, const char *message, bool can_quit)
{
    smtpkit_engine_fail(s, status, states[s->state].stage, message, can_quit, NULL);
}

/* The class of failure a reply code stands for: 4xx may pass, 5xx will not, and anything else
 * was not a code the state could expect. */
static smtpkit_status reply_status(unsigned code)
{
    if (code >= 500) {
        return SMTPKIT_E_PERMANENT;
    }
    return code >= 400 ? SMTPKIT_E_TEMPORARY : SMTPKIT_E_PROTOCOL;
}

/* A 4xx or 5xx reply ends the session (TEMPORARY or PERMANENT, QUIT still possible); any
 * other code the current state did not expect is a protocol error. */
void smtpkit_engine_reject(smtpkit_session *s, const char *message)
{
    smtpkit_status status = reply_status(s->last_reply.code);
    bool protocol = status == SMTPKIT_E_PROTOCOL;

    smtpkit_engine_fail(s, status, states[s->state].stage, protocol ? "unexpected reply" : message,
                        !protocol, &s->last_reply);
}

/* Commands ------------------------------------------------------------------------------- */

void smtpkit_command_begin(smtpkit_command *c, smtpkit_session *s)
{
    if (s->out_sent == s->out_len) {
        s->out_len = 0;
        s->out_sent = 0;
    }
    c->s = s;
    c->start = s->out_len;
    c->full = false;
}

static void cmd_put(smtpkit_command *c, const char *text, size_t len)
{
    smtpkit_session *s = c->s;

    if (c->full || s->out_size - s->out_len < len) {
        c->full = true;
        return;
    }
    memcpy(s->out + s->out_len, text, len);
    s->out_len += len;
}

void smtpkit_command_put(smtpkit_command *c, const char *text)
{
    cmd_put(c, text, strlen(text));
}

/* Free space for a SASL response written in place, keeping room for its CRLF: a response
 * writer puts its NUL where the CR goes. */
char *smtpkit_command_space(smtpkit_command *c, size_t *size)
{
    size_t room = c->s->out_size - c->s->out_len;

    *size = (c->full || room < 2) ? 0 : room - 1;
    return (char *)c->s->out + c->s->out_len;
}

void smtpkit_command_wrote(smtpkit_command *c, size_t len)
{
    if (c->full || len > c->s->out_size - c->s->out_len) {
        c->full = true;
        return;
    }
    c->s->out_len += len;
}

/* Ends the line with CRLF, traces it (as @p shown when not NULL) and counts its reply due. */
bool smtpkit_command_end(smtpkit_command *c, const char *name, const char *shown)
{
    smtpkit_session *s = c->s;
    char message[96];
    smtpkit_text t;

    if (!c->full && s->out_size - s->out_len >= 2) {
        if (shown != NULL) {
            smtpkit_engine_trace(s, SMTPKIT_TRACE_CLIENT, shown);
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

bool smtpkit_engine_send(smtpkit_session *s, const char *verb, const char *argument)
{
    smtpkit_command c;

    smtpkit_command_begin(&c, s);
    smtpkit_command_put(&c, verb);
    if (argument != NULL) {
        smtpkit_command_put(&c, " ");
        smtpkit_command_put(&c, argument);
    }
    return smtpkit_command_end(&c, verb, NULL);
}

/* Greeting, EHLO, STARTTLS --------------------------------------------------------------- */

static void send_ehlo(smtpkit_session *s)
{
    s->caps = 0;
    s->mechs = 0;
    s->size_max = 0;
    smtpkit_engine_set_state(s, ST_EHLO);
    smtpkit_engine_send(s, "EHLO", s->config->helo_name);
}

static void send_helo(smtpkit_session *s)
{
    smtpkit_engine_set_state(s, ST_HELO);
    smtpkit_engine_send(s, "HELO", s->config->helo_name);
}

/* After EHLO or HELO: STARTTLS when required and not done yet, then AUTH, then READY. */
static void after_hello(smtpkit_session *s)
{
    if (s->config->tls_mode == SMTPKIT_TLS_STARTTLS && !s->tls_active) {
        if ((s->caps & SMTPKIT_CAP_STARTTLS) == 0) {
            smtpkit_engine_fail(s, SMTPKIT_E_TLS, SMTPKIT_STAGE_STARTTLS,
                                "server does not offer STARTTLS; refusing to continue without TLS",
                                true, NULL);
        } else {
            smtpkit_engine_set_state(s, ST_STARTTLS);
            smtpkit_engine_send(s, "STARTTLS", NULL);
        }
        return;
    }
    if (s->config->user != NULL) {
        smtpkit_engine_start_auth(s);
    } else {
        smtpkit_engine_set_state(s, ST_READY);
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
        smtpkit_engine_reject(s, "EHLO refused");
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

/* Replies -------------------------------------------------------------------------------- */

static void on_reply(smtpkit_session *s)
{
    unsigned code = s->last_reply.code;

    switch (s->state) {
    case ST_GREETING:
        if (code == 220) {
            send_ehlo(s);
        } else {
            smtpkit_engine_reject(s, "greeting refused");
        }
        break;
    case ST_EHLO:
        on_ehlo(s, code);
        break;
    case ST_HELO:
        if (code == 250) {
            after_hello(s);
        } else {
            smtpkit_engine_reject(s, "HELO refused");
        }
        break;
    case ST_STARTTLS:
        if (code == 220) {
            smtpkit_engine_set_state(s, ST_TLS);
        } else {
            smtpkit_engine_reject(s, "STARTTLS refused");
        }
        break;
    case ST_AUTH:
        smtpkit_engine_on_auth(s, code);
        break;
    case ST_MAIL:
        smtpkit_engine_on_mail(s, code);
        break;
    case ST_RCPT:
        smtpkit_engine_on_rcpt(s, code);
        break;
    case ST_DATA:
        smtpkit_engine_on_data(s, code);
        break;
    case ST_DOT:
        if (code == 250) {
            smtpkit_engine_set_state(s, ST_SENT);
        } else {
            smtpkit_engine_reject(s, "message refused");
        }
        break;
    case ST_QUIT:
        if (code == 221) {
            smtpkit_engine_set_state(s, ST_DONE);
        } else {
            smtpkit_engine_fail(s, reply_status(code), SMTPKIT_STAGE_QUIT, "QUIT refused", false,
                                &s->last_reply);
        }
        break;
    case ST_FAILED_QUIT:
        smtpkit_engine_set_state(s, ST_FAILED_FINAL);
        break;
    default:
        fail(s, SMTPKIT_E_PROTOCOL, "reply in a state that expects none", false);
        break;
    }
}

/* A reply that came before its command was written, or when none was due. RFC 5321 3.8 lets a
 * server that is shutting down send 421 at any moment, so that one ends the session as a
 * temporary failure with its text; anything else is a server talking out of turn. */
static void on_early_reply(smtpkit_session *s)
{
    const smtpkit_reply *reply = smtpkit_reply_get(&s->parser);

    if (reply->code == 421) {
        s->last_reply = *reply;
        smtpkit_engine_fail(s, SMTPKIT_E_TEMPORARY, states[s->state].stage,
                            "server is closing the connection", false, reply);
        return;
    }
    fail(s, SMTPKIT_E_PROTOCOL,
         s->pending == 0 ? "server sent data when no reply was due"
                         : "server replied before the command was sent",
         false);
}

static void on_parse(smtpkit_session *s, smtpkit_reply_result result)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    switch (result) {
    case SMTPKIT_REPLY_MORE:
        break;
    case SMTPKIT_REPLY_LINE:
        if (!s->early) {
            on_line(s);
        }
        break;
    case SMTPKIT_REPLY_DONE:
        if (s->early) {
            on_early_reply(s);
            break;
        }
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

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The inside of an address literal: digits, hex letters, '.', ':' and the "IPv6:" tag. */
static bool is_address_literal(const char *name, size_t len)
{
    size_t i;

    if (len < 3 || name[0] != '[' || name[len - 1] != ']') {
        return false;
    }
    for (i = 1; i < len - 1; i++) {
        if (!is_alnum(name[i]) && name[i] != '.' && name[i] != ':') {
            return false;
        }
    }
    return true;
}

bool smtpkit_helo_name_valid(const char *name)
{
    size_t len = name != NULL ? smtpkit_strnlen(name, 256) : 0;
    size_t label = 0;
    size_t i;

    if (len == 0 || len > 253) {
        return len > 0 && len < 256 && is_address_literal(name, len);
    }
    if (name[0] == '[') {
        return is_address_literal(name, len);
    }
    for (i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (label == 0 || name[i - 1] == '-') {
                return false;
            }
            label = 0;
        } else if (!(is_alnum(name[i]) || (name[i] == '-' && label > 0)) || ++label > 63) {
            return false;
        }
    }
    return label > 0 && name[len - 1] != '-';
}

static const char *config_fault(const smtpkit_session_config *c)
{
    bool token = c->secret_is_token || c->auth == SMTPKIT_AUTH_XOAUTH2 ||
                 c->auth == SMTPKIT_AUTH_OAUTHBEARER;

    if (!smtpkit_helo_name_valid(c->helo_name)) {
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
    smtpkit_engine_trace(s, SMTPKIT_TRACE_INFO, "state GREETING");
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
        smtpkit_engine_set_state(s, ST_READY);
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

smtpkit_status smtpkit_engine_status(const smtpkit_session *s)
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

    while (len > 0 && s->state != ST_DONE && s->state != ST_FAILED && s->state != ST_FAILED_FINAL) {
        if (s->state == ST_TLS) {
            discard_after_starttls(s, len);
            break;
        }
        if (s->pending == 0 || s->out_sent < s->out_len) {
            s->early = true; /* read it whole: it may be the 421 a server may send any time */
        }
        on_parse(s, smtpkit_reply_feed(&s->parser, data, len, &used));
        data += used;
        len -= used;
    }
    return smtpkit_engine_status(s);
}

smtpkit_status smtpkit_session_eof(smtpkit_session *s)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    smtpkit_text t;

    if (s->state == ST_QUIT) {
        smtpkit_engine_trace(s, SMTPKIT_TRACE_INFO, "server closed the connection after QUIT");
        smtpkit_engine_set_state(s, ST_DONE);
    } else if (is_failed(s)) {
        smtpkit_engine_set_state(s, ST_FAILED_FINAL);
    } else if (s->state != ST_DONE) {
        smtpkit_text_init(&t, message, sizeof message);
        smtpkit_text_str(&t, "server closed the connection ");
        smtpkit_text_str(&t, s->state == ST_READY ? "while the session was idle" : "during ");
        if (s->state != ST_READY) {
            smtpkit_text_str(&t, smtpkit_error_stage_name(states[s->state].stage));
        }
        fail(s, SMTPKIT_E_IO, message, false);
    }
    return smtpkit_engine_status(s);
}

smtpkit_status smtpkit_session_tls_started(smtpkit_session *s)
{
    if (s->state != ST_TLS) {
        return SMTPKIT_E_STATE;
    }
    s->tls_active = true;
    smtpkit_engine_trace(s, SMTPKIT_TRACE_INFO, "TLS active");
    smtpkit_reply_init(&s->parser);
    send_ehlo(s); /* RFC 3207 section 4.2: forget what was learnt in plaintext */
    return smtpkit_engine_status(s);
}

void smtpkit_session_fail(smtpkit_session *s, const smtpkit_error *err)
{
    smtpkit_stage stage = states[s->state].stage;

    if (!begin_failure(s)) {
        return;
    }
    if (err == NULL) {
        smtpkit_error_set(&s->error, SMTPKIT_E_INTERNAL, stage, "failed by the caller");
    } else {
        smtpkit_error_set(&s->error, err->status != SMTPKIT_OK ? err->status : SMTPKIT_E_INTERNAL,
                          err->stage != SMTPKIT_STAGE_NONE ? err->stage : stage, err->message);
        s->error.reply_code = err->reply_code;
        memcpy(s->error.enhanced, err->enhanced, sizeof s->error.enhanced);
        memcpy(s->error.text, err->text, sizeof s->error.text);
    }
    end_failure(s, false);
}

smtpkit_status smtpkit_session_quit(smtpkit_session *s)
{
    if (s->state == ST_READY) {
        smtpkit_engine_set_state(s, ST_QUIT);
        smtpkit_engine_send(s, "QUIT", NULL);
        return smtpkit_engine_status(s);
    }
    if (s->state == ST_FAILED) {
        smtpkit_engine_set_state(s, ST_FAILED_QUIT);
        smtpkit_engine_send(s, "QUIT", NULL);
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
