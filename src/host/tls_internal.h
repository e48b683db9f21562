/*
 * tls_internal.h - the TLS port's inspect mode, for smtpkit_client_probe() (private).
 *
 * An inspecting context completes the handshake whatever the chain (Mbed TLS's
 * VERIFY_OPTIONAL), keeps copies of the certificates the server sent and of the verified path,
 * and computes the failure a verifying context would have reported, word for word. It must
 * never carry credentials or mail: the probe closes the connection after the handshake.
 */
#ifndef SMTPKIT_HOST_TLS_INTERNAL_H
#define SMTPKIT_HOST_TLS_INTERNAL_H

#include "smtpkit/client.h"
#include "smtpkit/tls.h"

/** As smtpkit_tls_new(), for a context that inspects instead of refusing. */
smtpkit_status smtpkit_tls_new_inspect(smtpkit_tls **tls, const smtpkit_trust *trust,
                                       const char *server_name, smtpkit_error *err);

/**
 * After a completed handshake of an inspecting context: moves the copies, the path summary
 * and the verdict into @p probe (whose sent, path and verify it overwrites). SMTPKIT_E_INTERNAL
 * when a copy could not be allocated.
 */
smtpkit_status smtpkit_tls_take_inspection(smtpkit_tls *tls, smtpkit_probe *probe,
                                           smtpkit_error *err);

#endif
