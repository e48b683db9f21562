/*
 * client_probe.c - smtpkit_client_probe(): what certificates a server presents, and whether
 * they verify, without sending credentials or mail (smtpkit/client.h).
 *
 * The connection is made exactly as smtpkit_client_send() makes it, so that its failures read
 * the same; for STARTTLS the core session runs without a user up to its START_TLS event (RFC
 * 3207: greeting, EHLO, STARTTLS). The handshake then runs in the TLS port's inspect mode,
 * which completes it whatever the chain. Since such a channel may not be authentic, nothing is
 * sent over it, not even QUIT: close_notify, then the socket is closed.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtpkit/client.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "host/port_posix.h"
#include "host/tls_internal.h"

/* The EHLO and STARTTLS exchange needs no more than the smallest session buffer. */
enum { PROBE_OUTPUT = SMTPKIT_SESSION_OUTPUT_MIN, PROBE_READ = 1024 };

/* Answers the session's events until it asks for TLS; its failure otherwise. */
static smtpkit_status until_start_tls(smtpkit_posix_port *p, smtpkit_session *s, smtpkit_error *err)
{
    uint8_t buffer[PROBE_READ];

    for (;;) {
        smtpkit_event event = smtpkit_session_next(s);
        const uint8_t *data;
        size_t len = 0;

        smtpkit_port_set_stage(p, smtpkit_session_stage(s));
        switch (event) {
        case SMTPKIT_EV_WRITE:
            data = smtpkit_session_output(s, &len);
            if (smtpkit_port_write(p, data, len, err) != SMTPKIT_OK) {
                return err->status;
            }
            smtpkit_session_written(s, len);
            break;
        case SMTPKIT_EV_READ:
            if (smtpkit_port_read(p, buffer, sizeof buffer, &len, err) != SMTPKIT_OK) {
                return err->status;
            }
            (void)(len == 0 ? smtpkit_session_eof(s) : smtpkit_session_feed(s, buffer, len));
            break;
        case SMTPKIT_EV_START_TLS:
            return SMTPKIT_OK;
        case SMTPKIT_EV_FAILED:
            *err = *smtpkit_session_error(s);
            return err->status;
        default:
            return smtpkit_error_set(err, SMTPKIT_E_STATE, smtpkit_session_stage(s),
                                     "the session did not ask for STARTTLS");
        }
    }
}

/* Greeting, EHLO and STARTTLS through the core, then the handshake. */
static smtpkit_status starttls(smtpkit_posix_port *p, const smtpkit_session_config *config,
                               smtpkit_error *err)
{
    uint8_t out[PROBE_OUTPUT];
    smtpkit_session session;
    smtpkit_status status = smtpkit_session_init(&session, config, out, sizeof out);

    if (status != SMTPKIT_OK) {
        *err = *smtpkit_session_error(&session);
        return status;
    }
    status = until_start_tls(p, &session, err);
    if (status == SMTPKIT_OK) {
        status = smtpkit_port_start_tls(p, err);
    }
    return status;
}

static smtpkit_status check_probe_arguments(const smtpkit_client_options *opt, smtpkit_probe *probe,
                                            smtpkit_error *err)
{
    if (opt == NULL || probe == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "smtpkit_client_probe: options and probe are needed");
    }
    if (opt->host == NULL || opt->host[0] == '\0') {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "no server host given");
    }
    if (opt->session.tls_mode == SMTPKIT_TLS_NONE) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "a certificate probe needs TLS (STARTTLS or implicit TLS)");
    }
    return SMTPKIT_OK;
}

/* Connects, reaches TLS and fills @p probe; the caller closes the port. */
static smtpkit_status probe_server(smtpkit_posix_port *p, const smtpkit_session_config *config,
                                   smtpkit_probe *probe, smtpkit_error *err)
{
    if (smtpkit_port_connect(p, err) != SMTPKIT_OK) {
        return err->status;
    }
    if (config->tls_mode == SMTPKIT_TLS_STARTTLS && starttls(p, config, err) != SMTPKIT_OK) {
        return err->status;
    }
    smtpkit_tls_describe(p->tls, probe->tls, sizeof probe->tls);
    return smtpkit_tls_take_inspection(p->tls, probe, err);
}

smtpkit_status smtpkit_client_probe(const smtpkit_client_options *opt, smtpkit_probe *probe,
                                    smtpkit_error *err)
{
    smtpkit_session_config config;
    char helo[SMTPKIT_PORT_HELO_SIZE];
    smtpkit_posix_port p = {.opt = opt, .fd = -1};
    smtpkit_status status;

    smtpkit_error_clear(err);
    if (probe != NULL) {
        memset(probe, 0, sizeof *probe);
    }
    if (check_probe_arguments(opt, probe, err) != SMTPKIT_OK) {
        return err->status;
    }
    smtpkit_port_setup(&p, &config, helo, sizeof helo);
    /* No credentials go near this connection, whatever the options hold. */
    config.user = NULL;
    config.secret = NULL;

    status = smtpkit_tls_new_inspect(
        &p.tls, &opt->trust, opt->tls_server_name != NULL ? opt->tls_server_name : opt->host, err);
    if (status == SMTPKIT_OK) {
        status = probe_server(&p, &config, probe, err);
    }
    smtpkit_port_close(&p);
    if (status != SMTPKIT_OK) {
        smtpkit_port_name_server(&p, err);
    } else if (probe->verify.status != SMTPKIT_OK) {
        /* Word for word what smtpkit_client_send() would have failed with. */
        smtpkit_port_name_server(&p, &probe->verify);
    }
    return status;
}

void smtpkit_probe_free(smtpkit_probe *probe)
{
    size_t i;

    if (probe == NULL) {
        return;
    }
    for (i = 0; i < SMTPKIT_CHAIN_MAX; i++) {
        free(probe->sent[i].data);
        free(probe->path[i].data);
    }
    mbedtls_platform_zeroize(probe, sizeof *probe);
}
