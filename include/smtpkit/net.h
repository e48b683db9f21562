/*
 * smtpkit/net.h - the POSIX socket port: connect with a timeout, non-blocking reads and
 * writes, and a wait with a timeout. Used by the blocking client and by event loops alike.
 */
#ifndef SMTPKIT_NET_H
#define SMTPKIT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "smtpkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a non-blocking call waits for before it can go on. */
typedef enum smtpkit_io {
    SMTPKIT_IO_DONE = 0,  /**< the call made progress or finished */
    SMTPKIT_IO_WANT_READ, /**< call again when the socket is readable */
    SMTPKIT_IO_WANT_WRITE /**< call again when the socket is writable */
} smtpkit_io;

/**
 * Resolves @p host (getaddrinfo, IPv4 and IPv6) and connects to the first address that
 * answers within @p timeout_ms each. The socket is left non-blocking with TCP_NODELAY.
 * Returns SMTPKIT_E_CONNECT (resolution, refused, unreachable) or SMTPKIT_E_TIMEOUT; the
 * message names host:port. A name that cannot be resolved fails with stage
 * SMTPKIT_STAGE_NONE (no address was tried), every other failure with SMTPKIT_STAGE_CONNECT,
 * so that callers can tell "no such host" from "host did not answer".
 */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_net_connect(const char *host, uint16_t port,
                                                      unsigned timeout_ms, int *fd,
                                                      smtpkit_error *err);

/** Waits until @p fd is ready for @p want; SMTPKIT_E_TIMEOUT after @p timeout_ms. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_net_wait(int fd, smtpkit_io want, unsigned timeout_ms,
                                                   smtpkit_error *err);

/** Reads what is there; *@p got = 0 with *@p want = DONE means the peer closed. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_net_read(int fd, uint8_t *buf, size_t size, size_t *got,
                                                   smtpkit_io *want, smtpkit_error *err);

/** Writes what fits now (never raises SIGPIPE); *@p put receives the count. */
SMTPKIT_MUST_CHECK smtpkit_status smtpkit_net_write(int fd, const uint8_t *buf, size_t len,
                                                    size_t *put, smtpkit_io *want,
                                                    smtpkit_error *err);

/** Closes @p fd if it is open (>= 0). */
void smtpkit_net_close(int fd);

#ifdef __cplusplus
}
#endif

#endif
