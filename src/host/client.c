/*
 * client.c - the blocking client (smtpkit/client.h): one message over POSIX sockets and
 * Mbed TLS, driven by the core's smtpkit_transport_send() over the blocking port of
 * port_posix.c.
 *
 * The anchors are loaded before connecting, so that a bad CA file fails without touching the
 * network. The session's output buffer, which held the AUTH exchange, is wiped before it is
 * freed.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtpkit/client.h"

#include <stdlib.h>

#include <mbedtls/platform_util.h>

#include "host/port_posix.h"

/* The session proper: transport over the connected port, output buffer wiped afterwards. */
static smtpkit_status run_session(smtpkit_posix_port *p, const smtpkit_session_config *config,
                                  const smtpkit_envelope *env, const smtpkit_message_source *msg,
                                  smtpkit_error *err)
{
    const smtpkit_transport transport = {
        .ctx = p,
        .read = smtpkit_port_read,
        .write = smtpkit_port_write,
        .start_tls = smtpkit_port_start_tls,
        .set_stage = smtpkit_port_set_stage,
    };
    size_t out_size = SMTPKIT_SESSION_OUTPUT_RECOMMENDED;
    uint8_t *out = malloc(out_size);
    smtpkit_status status;

    if (out == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_NONE,
                                 "out of memory for the session buffer");
    }
    status = smtpkit_transport_send(&transport, config, env, msg, out, out_size, err);
    mbedtls_platform_zeroize(out, out_size);
    free(out);
    return status;
}

static smtpkit_status check_arguments(const smtpkit_client_options *opt,
                                      const smtpkit_envelope *env,
                                      const smtpkit_message_source *msg, smtpkit_error *err)
{
    if (opt == NULL || env == NULL || msg == NULL || msg->read == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "smtpkit_client_send: options, envelope and message are needed");
    }
    if (opt->host == NULL || opt->host[0] == '\0') {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "no server host given");
    }
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_client_send(const smtpkit_client_options *opt, const smtpkit_envelope *env,
                                   const smtpkit_message_source *msg, smtpkit_error *err)
{
    smtpkit_session_config config;
    char helo[SMTPKIT_PORT_HELO_SIZE];
    smtpkit_posix_port p = {.opt = opt, .fd = -1};
    smtpkit_status status;

    smtpkit_error_clear(err);
    if (check_arguments(opt, env, msg, err) != SMTPKIT_OK) {
        return err->status;
    }
    smtpkit_port_setup(&p, &config, helo, sizeof helo);

    /* Anchors first: a bad CA file must fail before any traffic. */
    status = SMTPKIT_OK;
    if (config.tls_mode != SMTPKIT_TLS_NONE) {
        const char *name = opt->tls_server_name != NULL ? opt->tls_server_name : opt->host;

        status = smtpkit_tls_new(&p.tls, &opt->trust, name, err);
    }
    if (status == SMTPKIT_OK) {
        status = smtpkit_port_connect(&p, err);
    }
    if (status == SMTPKIT_OK) {
        status = run_session(&p, &config, env, msg, err);
    }
    smtpkit_port_close(&p);
    if (status != SMTPKIT_OK) {
        smtpkit_port_name_server(&p, err);
    }
    return status;
}
