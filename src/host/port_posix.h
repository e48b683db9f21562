/*
 * port_posix.h - the blocking transport port over POSIX sockets and the TLS port (private).
 *
 * Shared by smtpkit_client_send() (client.c), which hands it to the core's pump, and
 * smtpkit_client_probe() (client_probe.c), which drives the session itself up to STARTTLS.
 */
#ifndef SMTPKIT_HOST_PORT_POSIX_H
#define SMTPKIT_HOST_PORT_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/client.h"

/** Room for the default EHLO name: a host name of 253 characters and its NUL. */
#define SMTPKIT_PORT_HELO_SIZE 255

/* The state behind the transport callbacks. */
typedef struct smtpkit_posix_port {
    const smtpkit_client_options *opt;
    int fd;
    smtpkit_tls *tls; /* created before connecting, so that bad anchors fail first */
    bool tls_on;      /* the handshake is done: bytes go through tls */
    uint16_t port;
    char endpoint[300]; /* "host:port" for messages */
    smtpkit_stage stage;
    unsigned long long waiting_since; /* when the current wait for the server began */
    smtpkit_trace_fn trace;
    void *trace_ctx;
} smtpkit_posix_port;

/** The session's settings with the defaults filled in; @p helo holds the default EHLO name. */
void smtpkit_port_setup(smtpkit_posix_port *p, smtpkit_session_config *config, char *helo,
                        size_t helo_size);

/** Connects to the server, and for implicit TLS does the handshake. */
smtpkit_status smtpkit_port_connect(smtpkit_posix_port *p, smtpkit_error *err);

/** The TLS handshake over the connected socket, waiting up to the stage's timeout. */
smtpkit_status smtpkit_port_handshake(smtpkit_posix_port *p, smtpkit_error *err);

/** The transport callbacks (smtpkit/transport.h); @p ctx is the smtpkit_posix_port. */
smtpkit_status smtpkit_port_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                 smtpkit_error *err);
smtpkit_status smtpkit_port_write(void *ctx, const uint8_t *buf, size_t len, smtpkit_error *err);
smtpkit_status smtpkit_port_start_tls(void *ctx, smtpkit_error *err);
void smtpkit_port_set_stage(void *ctx, smtpkit_stage stage);

/** Sends close_notify if TLS is up, frees the TLS context and closes the socket. */
void smtpkit_port_close(smtpkit_posix_port *p);

/** Makes sure a failure of the connection says which server it was ("host:port: ..."). */
void smtpkit_port_name_server(const smtpkit_posix_port *p, smtpkit_error *err);

#endif
