/*
 * session_auth.c - the AUTH exchange of the session engine: RFC 4954 (AUTH, initial response,
 * 334 challenges, 235), with the mechanisms of sasl.c. Credentials are never sent without TLS
 * unless the configuration allows it for TLS_NONE; the trace shows "AUTH <MECH> <redacted>"
 * and "<redacted>" for every answer, and the output buffer is wiped once an AUTH line is
 * written (smtpkit_session_written()).
 */
#include "core/reply_internal.h"
#include "core/sasl.h"
#include "core/session_internal.h"
#include "core/text.h"

static bool offered(const smtpkit_session *s, smtpkit_auth_mech mech)
{
    return (s->mechs & (1u << mech)) != 0 && smtpkit_sasl_enabled(mech);
}

/* AUTO: OAUTHBEARER, then XOAUTH2 for a token; CRAM-MD5 (keeps the password off the wire even
 * inside TLS), then PLAIN, then LOGIN for a password. */
static bool choose_mech(const smtpkit_session *s, smtpkit_auth_mech *mech)
{
    static const smtpkit_auth_mech token_order[] = {SMTPKIT_AUTH_OAUTHBEARER, SMTPKIT_AUTH_XOAUTH2};
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
    bool any = false;
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
            any = true;
        }
    }
    smtpkit_text_str(&t, any ? ")" : " none that smtpkit knows)");
    smtpkit_engine_fail(s, SMTPKIT_E_AUTH, SMTPKIT_STAGE_AUTH, message, true, NULL);
}

static smtpkit_sasl_credentials credentials(const smtpkit_session *s)
{
    smtpkit_sasl_credentials cred = {s->config->user, s->config->secret, s->config->oauth_host,
                                     s->config->oauth_port};
    return cred;
}

/* Accounts for a SASL response that the mechanism wrote in place. A response too big for the
 * output buffer makes smtpkit_command_end() fail with SMTPKIT_E_BUFFER; any other error of the
 * mechanism fails the session here (false). */
static bool put_sasl(smtpkit_session *s, smtpkit_command *c, smtpkit_status status, size_t len)
{
    if (status == SMTPKIT_OK) {
        smtpkit_command_wrote(c, len);
        return true;
    }
    if (status == SMTPKIT_E_BUFFER) {
        c->full = true;
        return true;
    }
    smtpkit_engine_fail(s, status, SMTPKIT_STAGE_AUTH,
                        status == SMTPKIT_E_PROTOCOL ? "AUTH challenge cannot be answered"
                                                     : "AUTH response could not be computed",
                        false, NULL);
    return false;
}

static void send_auth(smtpkit_session *s, smtpkit_auth_mech mech)
{
    smtpkit_sasl_credentials cred = credentials(s);
    const char *name = smtpkit_auth_mech_name(mech);
    char shown[40];
    smtpkit_text t;
    smtpkit_command c;
    size_t size;
    size_t len = 0;
    char *space;
    smtpkit_status status;

    s->auth_mech = mech;
    s->auth_step = 0;
    smtpkit_engine_set_state(s, ST_AUTH);
    smtpkit_text_init(&t, shown, sizeof shown);
    smtpkit_text_str(&t, "AUTH ");
    smtpkit_text_str(&t, name);
    smtpkit_command_begin(&c, s);
    smtpkit_command_put(&c, shown);
    if (smtpkit_sasl_has_initial(mech)) {
        smtpkit_text_str(&t, " <redacted>");
        smtpkit_command_put(&c, " ");
        space = smtpkit_command_space(&c, &size);
        status = smtpkit_sasl_initial(mech, &cred, space, size, &len);
        if (!put_sasl(s, &c, status, len)) {
            return;
        }
    }
    smtpkit_command_end(&c, "AUTH", shown);
}

void smtpkit_engine_start_auth(smtpkit_session *s)
{
    smtpkit_auth_mech mech;
    bool plaintext_ok = s->config->tls_mode == SMTPKIT_TLS_NONE && s->config->allow_plaintext_auth;

    if (!s->tls_active && !plaintext_ok) {
        smtpkit_engine_fail(s, SMTPKIT_E_AUTH, SMTPKIT_STAGE_AUTH,
                            "credentials are not sent without TLS (allow_plaintext_auth is off)",
                            true, NULL);
    } else if ((s->caps & SMTPKIT_CAP_AUTH) == 0) {
        smtpkit_engine_fail(s, SMTPKIT_E_AUTH, SMTPKIT_STAGE_AUTH, "server offers no AUTH", true,
                            NULL);
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
    smtpkit_command c;
    size_t size;
    size_t len = 0;
    char *space;
    smtpkit_status status;

    smtpkit_command_begin(&c, s);
    space = smtpkit_command_space(&c, &size);
    status = smtpkit_sasl_answer(s->auth_mech, s->auth_step, &cred, challenge, challenge_len, space,
                                 size, &len);
    if (put_sasl(s, &c, status, len) && smtpkit_command_end(&c, "AUTH response", "<redacted>")) {
        s->auth_step++;
    }
}

void smtpkit_engine_on_auth(smtpkit_session *s, unsigned code)
{
    if (code == 235) {
        smtpkit_engine_set_state(s, ST_READY);
    } else if (code == 334) {
        answer_challenge(s);
    } else {
        smtpkit_engine_reject(s, "authentication refused");
    }
}
