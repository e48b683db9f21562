/*
 * cli_options.c - parses the options of "smtpkit send" with getopt_long().
 *
 * Options a curl or msmtp user would guess. A single-valued option given again replaces the
 * earlier value, as in curl and msmtp, so that a wrapper script can append overrides. There
 * is deliberately no --password: a secret in argv is visible to every user through ps and
 * /proc; the option is recognized only to say so.
 */
#define _GNU_SOURCE /* getopt_long */

#include "cli_options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_exit.h"

enum { TIMEOUT_MAX_S = 24 * 60 * 60 };

enum option_id {
    OPT_SERVER = 256,
    OPT_FROM,
    OPT_TO,
    OPT_CC,
    OPT_BCC,
    OPT_SUBJECT,
    OPT_BODY_FILE,
    OPT_USER,
    OPT_PASSWORD,
    OPT_PASSWORD_FILE,
    OPT_PASSWORD_COMMAND,
    OPT_AUTH,
    OPT_CA_FILE,
    OPT_CA_DIR,
    OPT_CERT,
    OPT_KEY,
    OPT_TLS_SERVER_NAME,
    OPT_HELO,
    OPT_TIMEOUT,
    OPT_NO_TLS,
    OPT_ALLOW_PLAINTEXT_AUTH,
    OPT_RCPT_STRICT,
    OPT_CONFIG,
    OPT_ACCOUNT,
    OPT_PINNED_PUBKEY
};

static const struct option long_options[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"cc", required_argument, NULL, OPT_CC},
    {"bcc", required_argument, NULL, OPT_BCC},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"body-file", required_argument, NULL, OPT_BODY_FILE},
    {"user", required_argument, NULL, OPT_USER},
    {"password", optional_argument, NULL, OPT_PASSWORD},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"password-command", required_argument, NULL, OPT_PASSWORD_COMMAND},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"ca-dir", required_argument, NULL, OPT_CA_DIR},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME},
    {"helo", required_argument, NULL, OPT_HELO},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"no-tls", no_argument, NULL, OPT_NO_TLS},
    {"allow-plaintext-auth", no_argument, NULL, OPT_ALLOW_PLAINTEXT_AUTH},
    {"rcpt-strict", no_argument, NULL, OPT_RCPT_STRICT},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"pinned-pubkey", required_argument, NULL, OPT_PINNED_PUBKEY},
    {"pinnedpubkey", required_argument, NULL, OPT_PINNED_PUBKEY}, /* curl's spelling */
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Where each single-valued string option goes. */
static const struct {
    int id;
    size_t offset;
} string_options[] = {
    {OPT_SERVER, offsetof(cli_send_args, server)},
    {OPT_FROM, offsetof(cli_send_args, from)},
    {OPT_SUBJECT, offsetof(cli_send_args, subject)},
    {OPT_BODY_FILE, offsetof(cli_send_args, body_file)},
    {OPT_USER, offsetof(cli_send_args, user)},
    {OPT_PASSWORD_FILE, offsetof(cli_send_args, password_file)},
    {OPT_PASSWORD_COMMAND, offsetof(cli_send_args, password_command)},
    {OPT_AUTH, offsetof(cli_send_args, auth)},
    {OPT_CA_DIR, offsetof(cli_send_args, ca_dir)},
    {OPT_CERT, offsetof(cli_send_args, cert)},
    {OPT_KEY, offsetof(cli_send_args, key)},
    {OPT_TLS_SERVER_NAME, offsetof(cli_send_args, tls_server_name)},
    {OPT_HELO, offsetof(cli_send_args, helo)},
    {OPT_CONFIG, offsetof(cli_send_args, config)},
    {OPT_ACCOUNT, offsetof(cli_send_args, account)},
};

static const char help_text[] =
    "usage: smtpkit send --server URL --from ADDR --to ADDR [options] < body\n"
    "       smtpkit cert show|export|check URL [options]   (smtpkit cert --help)\n"
    "       smtpkit --help | --version\n"
    "Sends a plain-text message over SMTP with TLS, verifying the server certificate.\n"
    "\n"
    "  --server URL           smtp://host[:port] (STARTTLS, 587), smtps://host[:port]\n"
    "                         (TLS, 465) or host[:port]; IPv6 as [::1]:587\n"
    "  --from ADDR            sender (From header and envelope)\n"
    "  --to, --cc, --bcc ADDR recipients, repeatable; Bcc is never in the message\n"
    "  --subject TEXT         the Subject header\n"
    "  --body-file FILE       the body (default and \"-\": standard input)\n"
    "  --user NAME            log in; secret from $SMTPKIT_PASSWORD, or the first\n"
    "  --password-file FILE     line of FILE, or of what CMD prints (/bin/sh -c)\n"
    "  --password-command CMD\n"
    "  --auth MECH            plain, login, cram-md5, xoauth2, oauthbearer (token)\n"
    "  --ca-file FILE         trust anchors, PEM or DER, repeatable (default: the\n"
    "  --ca-dir DIR             system bundle); a directory of trust anchors\n"
    "  --pinned-pubkey HASH   also require this key in the chain: sha256//BASE64 or\n"
    "                         64 hex digits of the SPKI SHA-256, repeatable or\n"
    "                         ';'-separated (any one matches)\n"
    "  --cert FILE --key FILE client certificate and key\n"
    "  --tls-server-name NAME name to verify and send as SNI (default: the host)\n"
    "  --helo NAME            EHLO name (default: this machine's name)\n"
    "  --timeout SECONDS      connect and reply timeout (default: RFC 5321 times)\n"
    "  --no-tls               plain SMTP, unencrypted (AUTH then also needs\n"
    "  --allow-plaintext-auth   this option)\n"
    "  --rcpt-strict          fail if any recipient is rejected (default: warn)\n"
    "  --config FILE          msmtp configuration (default: $SMTPKIT_CONFIG)\n"
    "  --account NAME         account in it (default: \"default\")\n"
    "  -v, --verbose          trace the SMTP dialogue and the certificate chain on\n"
    "                         stderr (secrets redacted)\n"
    "Exit: 0 sent, 64 usage, 66 unreadable file, 68 unknown host, 69 5xx (535 login\n"
    "refused too), 70 internal error, 74 I/O, 75 4xx/refused/timeout, 76 protocol,\n"
    "77 TLS/certificate, TLS not offered, AUTH over plaintext or no common AUTH\n"
    "mechanism, 78 configuration file\n";

void cli_options_help(FILE *out)
{
    fputs(help_text, out);
}

static int append(cli_list *list, const char *value)
{
    const char **grown = realloc(list->items, (list->count + 1) * sizeof *grown);

    if (grown == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    list->items = grown;
    list->items[list->count++] = value;
    return 0;
}

int cli_option_number(const char *option, const char *text, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    unsigned long value = 0;
    size_t i;

    for (i = 0; text[i] >= '0' && text[i] <= '9' && i < 7; i++) {
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (i == 0 || text[i] != '\0' || value < min || value > max) {
        return cli_fail(CLI_EXIT_USAGE, "%s %s: give a whole number from %lu to %lu", option, text,
                        min, max);
    }
    *out = value;
    return 0;
}

static int parse_timeout(const char *text, unsigned *out)
{
    unsigned long value = 0;
    int rc = cli_option_number("--timeout", text, 1, TIMEOUT_MAX_S, &value);

    *out = (unsigned)value;
    return rc;
}

static int set_string(cli_send_args *args, int id, const char *value)
{
    size_t i;

    for (i = 0; i < sizeof string_options / sizeof string_options[0]; i++) {
        if (string_options[i].id == id) {
            const char **field = (const char **)(void *)((char *)args + string_options[i].offset);

            *field = value;
            return 0;
        }
    }
    return cli_fail(CLI_EXIT_SOFTWARE, "option %d has no place", id);
}

static int apply_option(cli_send_args *args, int id, const char *value)
{
    switch (id) {
    case 'v':
        args->verbose = true;
        return 0;
    case 'h':
        args->help = true;
        return 0;
    case OPT_TO:
        return append(&args->to, value);
    case OPT_CC:
        return append(&args->cc, value);
    case OPT_BCC:
        return append(&args->bcc, value);
    case OPT_CA_FILE:
        return append(&args->ca_files, value);
    case OPT_PINNED_PUBKEY:
        return append(&args->pins, value);
    case OPT_PASSWORD:
        return cli_fail(CLI_EXIT_USAGE, "--password is not supported: other users can read the "
                                        "command line; use SMTPKIT_PASSWORD, --password-file or "
                                        "--password-command");
    case OPT_TIMEOUT:
        return parse_timeout(value, &args->timeout_s);
    case OPT_NO_TLS:
        args->no_tls = true;
        return 0;
    case OPT_ALLOW_PLAINTEXT_AUTH:
        args->allow_plaintext_auth = true;
        return 0;
    case OPT_RCPT_STRICT:
        args->rcpt_strict = true;
        return 0;
    default:
        return set_string(args, id, value);
    }
}

int cli_option_error(int result, char **argv, const char *help)
{
    const char *text = optind > 0 ? argv[optind - 1] : "?";

    if (result == ':') {
        return cli_fail(CLI_EXIT_USAGE, "option %s needs an argument", text);
    }
    if (optopt != 0) {
        return cli_fail(CLI_EXIT_USAGE, "unknown option -%c; see '%s'", optopt, help);
    }
    return cli_fail(CLI_EXIT_USAGE, "unknown or ambiguous option %s; see '%s'", text, help);
}

static int check_combinations(const cli_send_args *args)
{
    if (args->password_file != NULL && args->password_command != NULL) {
        return cli_fail(CLI_EXIT_USAGE, "--password-file and --password-command exclude each "
                                        "other");
    }
    if ((args->cert == NULL) != (args->key == NULL)) {
        return cli_fail(CLI_EXIT_USAGE, "%s",
                        args->cert != NULL ? "--cert needs --key" : "--key needs --cert");
    }
    return 0;
}

int cli_options_parse(int argc, char **argv, cli_send_args *args)
{
    int result;
    int rc = 0;

    memset(args, 0, sizeof *args);
    opterr = 0;
    optind = 1;
    while (rc == 0 && (result = getopt_long(argc, argv, ":vh", long_options, NULL)) != -1) {
        rc = result == '?' || result == ':' ? cli_option_error(result, argv, "smtpkit --help")
                                            : apply_option(args, result, optarg);
    }
    if (rc == 0 && optind < argc) {
        rc = cli_fail(CLI_EXIT_USAGE, "unexpected argument '%s'; see 'smtpkit --help'",
                      argv[optind]);
    }
    return rc == 0 ? check_combinations(args) : rc;
}

void cli_options_free(cli_send_args *args)
{
    free(args->to.items);
    free(args->cc.items);
    free(args->bcc.items);
    free(args->ca_files.items);
    free(args->pins.items);
    memset(args, 0, sizeof *args);
}
