/*
 * cli_config.h - msmtp configuration files (https://marlam.de/msmtp/msmtp.html, section
 * "Configuration files"), so that an msmtp user can point smtpkit at the file they have.
 */
#ifndef SMTPKIT_CLI_CONFIG_H
#define SMTPKIT_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** on/off settings: unset until a line says otherwise. */
typedef enum cli_switch { CLI_SWITCH_UNSET = 0, CLI_SWITCH_OFF, CLI_SWITCH_ON } cli_switch;

/** The settings of one account; NULL, 0 or CLI_SWITCH_UNSET mean "not set". */
typedef struct cli_account {
    char *name;
    char *host;
    unsigned port;
    char *from;
    char *user;
    char *password; /* wiped when freed */
    char *passwordeval;
    char *auth; /* "on", "off" or a mechanism in lower case */
    cli_switch tls;
    cli_switch tls_starttls;
    char *tls_trust_file;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_server_name; /* msmtp's tls_host_override */
    char *domain;          /* the EHLO name */
    unsigned timeout_s;
    bool found; /* the account was in the file (not only the defaults) */
} cli_account;

/** Size for the reason of a failure: "FILE:LINE: ..." */
#define CLI_CONFIG_WHY_MAX 512

/**
 * Reads a configuration from @p in (named @p file_name in messages) and fills @p out with the
 * account @p account_name, or, when that is NULL, with the account "default" if there is one,
 * else with the "defaults" section. Returns false with "FILE:LINE: ..." in @p why for a syntax
 * error, an unknown key, a setting smtpkit refuses (tls_certcheck off, ...), or a missing
 * account. @p out must be freed with cli_account_free() in every case.
 */
bool cli_config_read(FILE *in, const char *file_name, const char *account_name, cli_account *out,
                     char *why, size_t why_size);

/**
 * Opens @p path and reads it as cli_config_read() does. Also refuses a file that holds a
 * password and can be read by other users.
 */
bool cli_config_load(const char *path, const char *account_name, cli_account *out, char *why,
                     size_t why_size);

/** Frees what @p acc holds (the password wiped first) and resets it. */
void cli_account_free(cli_account *acc);

#endif
