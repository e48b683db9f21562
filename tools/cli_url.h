/*
 * cli_url.h - the --server argument: smtp://host[:port], smtps://host[:port] or host[:port].
 */
#ifndef SMTPKIT_CLI_URL_H
#define SMTPKIT_CLI_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/session.h"

/** Longest host name (RFC 1035) or address literal accepted. */
#define CLI_HOST_MAX 253

typedef struct cli_server {
    char host[CLI_HOST_MAX + 1]; /* without the brackets of an IPv6 literal */
    uint16_t port;               /* 0: not given */
    smtpkit_tls_mode mode;       /* STARTTLS for smtp:// and a bare host, IMPLICIT for smtps:// */
} cli_server;

/**
 * Parses @p text into @p out. On failure returns false with a reason in @p why, such as
 * "port 70000 is not in 1..65535".
 */
bool cli_url_parse(const char *text, cli_server *out, char *why, size_t why_size);

/** Parses a decimal port 1..65535 of @p len characters; false if it is not one. */
bool cli_port_parse(const char *text, size_t len, uint16_t *port);

#endif
