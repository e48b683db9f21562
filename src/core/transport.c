/*
 * transport.c - the blocking pump: one whole session (RFC 5321 section 3.3 mail transaction,
 * RFC 3207 STARTTLS, RFC 4954 AUTH) over a smtpkit_transport port, one message from a
 * smtpkit_message_source, then QUIT (section 4.1.1.10).
 *
 * It holds no protocol knowledge: it answers the session's events with the port's calls. For
 * SMTPKIT_TLS_IMPLICIT the port must have completed the TLS handshake before this is called;
 * the pump never calls start_tls in that mode. After a failure that came with a server reply
 * the pump sends QUIT best effort and still reports the first failure. A message the server
 * accepted counts as sent even if QUIT or the close fails afterwards.
 */
#include <string.h>

#include "smtpkit/transport.h"

/* Bytes read from the server per call, and message bytes per chunk. Both share one buffer:
 * the session never asks for server bytes while the body is being pushed. */
#define PUMP_BUFFER 1024

typedef struct pump {
    smtpkit_session session;
    const smtpkit_transport *t;
    const smtpkit_message_source *msg;
    const smtpkit_envelope *env;
    uint8_t buffer[PUMP_BUFFER];
    size_t chunk_len;
    size_t chunk_pos;
    bool body_eof;
    bool mailed;
    bool sent;
    bool quit_tried;
    smtpkit_stage stage;
} pump;

static smtpkit_status buffer_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                  smtpkit_error *err)
{
    smtpkit_buffer_source *state = ctx;
    size_t left = state->len - state->pos;
    size_t n = left < size ? left : size;

    (void)err;
    memcpy(buf, state->data + state->pos, n);
    state->pos += n;
    *got = n;
    return SMTPKIT_OK;
}

void smtpkit_buffer_source_init(smtpkit_buffer_source *state, smtpkit_message_source *src,
                                const void *data, size_t len)
{
    state->data = data;
    state->len = len;
    state->pos = 0;
    src->ctx = state;
    src->read = buffer_read;
}

static void notify_stage(pump *p)
{
    smtpkit_stage stage = smtpkit_session_stage(&p->session);

    if (stage != p->stage && p->t->set_stage != NULL) {
        p->t->set_stage(p->t->ctx, stage);
    }
    p->stage = stage;
}

static void port_failed(pump *p, smtpkit_error *err, smtpkit_status status)
{
    if (err->status == SMTPKIT_OK) {
        smtpkit_error_set(err, status != SMTPKIT_OK ? status : SMTPKIT_E_IO,
                          smtpkit_session_stage(&p->session), "transport failed");
    }
    smtpkit_session_fail(&p->session, err);
}

static void do_write(pump *p)
{
    smtpkit_error err;
    size_t len;
    const uint8_t *data = smtpkit_session_output(&p->session, &len);
    smtpkit_status status;

    smtpkit_error_clear(&err);
    status = p->t->write(p->t->ctx, data, len, &err);
    if (status != SMTPKIT_OK) {
        port_failed(p, &err, status);
        return;
    }
    smtpkit_session_written(&p->session, len);
}

static void do_read(pump *p)
{
    smtpkit_error err;
    size_t got = 0;
    smtpkit_status status;

    smtpkit_error_clear(&err);
    status = p->t->read(p->t->ctx, p->buffer, sizeof p->buffer, &got, &err);
    if (status != SMTPKIT_OK) {
        port_failed(p, &err, status);
    } else if (got == 0) {
        (void)smtpkit_session_eof(&p->session);
    } else {
        (void)smtpkit_session_feed(&p->session, p->buffer, got);
    }
}

static void do_start_tls(pump *p)
{
    smtpkit_error err;
    smtpkit_status status;

    smtpkit_error_clear(&err);
    status = p->t->start_tls != NULL ? p->t->start_tls(p->t->ctx, &err) : SMTPKIT_E_TLS;
    if (status != SMTPKIT_OK) {
        port_failed(p, &err, status);
        return;
    }
    (void)smtpkit_session_tls_started(&p->session);
}

/* Pushes message bytes until the output is full (the next event is then WRITE), or ends the
 * message when the source is exhausted. */
static void do_body(pump *p)
{
    smtpkit_error err;
    smtpkit_status status;

    if (p->chunk_pos == p->chunk_len && !p->body_eof) {
        smtpkit_error_clear(&err);
        status = p->msg->read(p->msg->ctx, p->buffer, sizeof p->buffer, &p->chunk_len, &err);
        if (status != SMTPKIT_OK) {
            port_failed(p, &err, status);
            return;
        }
        p->chunk_pos = 0;
        p->body_eof = p->chunk_len == 0;
    }
    if (p->body_eof) {
        /* SMTPKIT_E_BUFFER only means "write first": WRITE is the next event, then BODY again. */
        status = smtpkit_session_body_end(&p->session);
        if (status != SMTPKIT_OK && status != SMTPKIT_E_BUFFER) {
            smtpkit_error_set(&err, status, SMTPKIT_STAGE_BODY, "cannot end the message");
            smtpkit_session_fail(&p->session, &err);
        }
        return;
    }
    p->chunk_pos +=
        smtpkit_session_body(&p->session, p->buffer + p->chunk_pos, p->chunk_len - p->chunk_pos);
}

/* The first READY sends the envelope (a refused one fails the session, which then quits like
 * any other failure); the READY after the message is accepted quits. */
static void do_ready(pump *p)
{
    if (!p->mailed) {
        p->mailed = true;
        if (smtpkit_session_mail(&p->session, p->env) != SMTPKIT_E_STATE) {
            return;
        }
    }
    p->quit_tried = true;
    (void)smtpkit_session_quit(&p->session);
}

/* The result once the session is over: a message accepted is sent, whatever followed. */
static smtpkit_status finish(pump *p, smtpkit_event event, smtpkit_error *err)
{
    if (p->sent) {
        smtpkit_error_clear(err);
        return SMTPKIT_OK;
    }
    if (event == SMTPKIT_EV_FAILED) {
        *err = *smtpkit_session_error(&p->session);
    } else {
        smtpkit_error_set(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_NONE,
                          "session ended without sending the message");
    }
    return err->status;
}

static smtpkit_status run(pump *p, smtpkit_error *err)
{
    for (;;) {
        smtpkit_event event = smtpkit_session_next(&p->session);

        notify_stage(p);
        switch (event) {
        case SMTPKIT_EV_WRITE:
            do_write(p);
            break;
        case SMTPKIT_EV_READ:
            do_read(p);
            break;
        case SMTPKIT_EV_START_TLS:
            do_start_tls(p);
            break;
        case SMTPKIT_EV_READY:
            do_ready(p);
            break;
        case SMTPKIT_EV_BODY:
            do_body(p);
            break;
        case SMTPKIT_EV_SENT:
            p->sent = true;
            if (p->env->accepted != NULL) {
                *p->env->accepted = *smtpkit_session_last_reply(&p->session);
            }
            break;
        case SMTPKIT_EV_FAILED:
            if (p->sent || p->quit_tried || smtpkit_session_quit(&p->session) != SMTPKIT_OK) {
                return finish(p, event, err);
            }
            *err = *smtpkit_session_error(&p->session);
            p->quit_tried = true;
            break;
        default:
            return finish(p, event, err);
        }
    }
}

smtpkit_status smtpkit_transport_send(const smtpkit_transport *t,
                                      const smtpkit_session_config *config,
                                      const smtpkit_envelope *env,
                                      const smtpkit_message_source *msg, uint8_t *out,
                                      size_t out_size, smtpkit_error *err)
{
    pump p;
    smtpkit_status status;

    smtpkit_error_clear(err);
    if (t == NULL || t->read == NULL || t->write == NULL || env == NULL || msg == NULL ||
        msg->read == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "transport, envelope or message source missing");
    }
    memset(&p, 0, sizeof p);
    status = smtpkit_session_init(&p.session, config, out, out_size);
    if (status != SMTPKIT_OK) {
        *err = *smtpkit_session_error(&p.session);
        return status;
    }
    p.t = t;
    p.msg = msg;
    p.env = env;
    p.stage = SMTPKIT_STAGE_NONE;
    return run(&p, err);
}
