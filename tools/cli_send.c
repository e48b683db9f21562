/*
 * cli_send.c - "smtpkit send": merges the command line with the configuration file, checks
 * everything that can be checked before connecting, then sends with smtpkit_client_send().
 *
 * The order matters. Arguments, addresses and the configuration are checked first and fail
 * without side effects (exit 64, 77 or 78). Then the inputs are opened: trust anchors (loaded
 * once as a trial, so that a bad CA file is exit 66 and not a failure halfway through a
 * session), the body, and last the secret, so that a password command is not run for a
 * command line that was wrong anyway. Only then does smtpkit connect.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_config.h"
#include "cli_exit.h"
#include "cli_message.h"
#include "cli_options.h"
#include "cli_secret.h"
#include "cli_trust.h"
#include "cli_url.h"
#include "smtpkit/client.h"

enum { SECOND_MS = 1000 };

/* Added to a STARTTLS greeting that times out or is not SMTP (cli_scheme_hint()). */
static const char scheme_hint[] = "if the server speaks TLS at once, use smtps://";

typedef struct cli_request {
    const cli_send_args *args;
    const cli_account *account;
    const char *config_path; /* NULL when no configuration file is read */
    cli_server server;
    smtpkit_client_options client;
    cli_secret env_secret; /* SMTPKIT_PASSWORD, taken out of the environment at start */
    cli_secret secret;
    char *mail_from;
    char **rcpt;
    size_t rcpt_count;
    smtpkit_rcpt_result *results;
    cli_message message;
    cli_anchor_set ca_anchors;           /* several --ca-file, read into anchors */
    uint8_t (*pins)[SMTPKIT_SHA256_LEN]; /* --pinned-pubkey */
} cli_request;

static bool has_control(const char *text, bool allow_tab)
{
    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;

        if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* The first of @p cmdline (from an option) and @p config (from the file) that is set; *where
 * names it for messages: "--from" or "from in FILE". */
static const char *pick(const cli_request *req, const char *cmdline, const char *option,
                        const char *config, const char *key, char *where, size_t where_size)
{
    if (cmdline != NULL || config == NULL) {
        snprintf(where, where_size, "--%s", option);
        return cmdline;
    }
    snprintf(where, where_size, "%s in %s", key, req->config_path);
    return config;
}

/* ---- server ---- */

static smtpkit_tls_mode config_tls_mode(const cli_account *acc)
{
    if (acc->tls == CLI_SWITCH_OFF) {
        return SMTPKIT_TLS_NONE;
    }
    return acc->tls_starttls == CLI_SWITCH_OFF ? SMTPKIT_TLS_IMPLICIT : SMTPKIT_TLS_STARTTLS;
}

static int server_from_config(cli_request *req)
{
    const char *host = req->account->host;
    size_t len = strlen(host);

    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len > CLI_HOST_MAX || has_control(host, false) || strchr(host, ' ') != NULL) {
        return cli_fail(CLI_EXIT_CONFIG, "host in %s: not a valid host name", req->config_path);
    }
    memcpy(req->server.host, host, len);
    req->server.host[len] = '\0';
    req->server.port = (uint16_t)req->account->port;
    req->server.mode = config_tls_mode(req->account);
    return 0;
}

static int resolve_server(cli_request *req)
{
    const cli_send_args *args = req->args;
    char why[160];
    int rc = 0;

    if (args->server != NULL) {
        if (!cli_url_parse(args->server, &req->server, why, sizeof why)) {
            return cli_fail(CLI_EXIT_USAGE, "--server %s: %s", args->server, why);
        }
    } else if (req->account->host != NULL) {
        rc = server_from_config(req);
    } else {
        return cli_fail(CLI_EXIT_USAGE, "no server given: use --server URL");
    }
    if (rc == 0 && args->no_tls) {
        if (args->server != NULL && req->server.mode == SMTPKIT_TLS_IMPLICIT) {
            return cli_fail(CLI_EXIT_USAGE, "--no-tls contradicts smtps:// in --server");
        }
        req->server.mode = SMTPKIT_TLS_NONE;
    }
    req->client.host = req->server.host;
    req->client.port = req->server.port;
    req->client.session.tls_mode = req->server.mode;
    return rc;
}

/* ---- addresses ---- */

static int parse_address(const char *where, const char *text, char **addr_out)
{
    smtpkit_mailbox mailbox;
    smtpkit_error err;

    smtpkit_error_clear(&err);
    if (has_control(text, false)) {
        return cli_fail(CLI_EXIT_USAGE, "%s: the address contains a control character", where);
    }
    if (smtpkit_mailbox_parse(text, &mailbox, &err) != SMTPKIT_OK) {
        return cli_fail(CLI_EXIT_USAGE, "%s %s: %s", where, text, err.message);
    }
    if (addr_out == NULL) {
        return 0;
    }
    *addr_out = malloc(mailbox.addr_len + 1);
    if (*addr_out == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    memcpy(*addr_out, mailbox.addr, mailbox.addr_len);
    (*addr_out)[mailbox.addr_len] = '\0';
    return 0;
}

/* Adds the addr-specs of @p list to the envelope, once each. */
static int add_recipients(cli_request *req, const cli_list *list, const char *option)
{
    size_t i;
    size_t j;

    for (i = 0; i < list->count; i++) {
        char *addr = NULL;
        int rc = parse_address(option, list->items[i], &addr);

        if (rc != 0) {
            return rc;
        }
        for (j = 0; j < req->rcpt_count && strcmp(req->rcpt[j], addr) != 0; j++) {
        }
        if (j < req->rcpt_count) {
            free(addr);
            continue;
        }
        req->rcpt[req->rcpt_count++] = addr;
    }
    return 0;
}

static int resolve_addresses(cli_request *req)
{
    const cli_send_args *args = req->args;
    size_t total = args->to.count + args->cc.count + args->bcc.count;
    char where[300];
    const char *from =
        pick(req, args->from, "from", req->account->from, "from", where, sizeof where);
    int rc;

    if (from == NULL) {
        return cli_fail(CLI_EXIT_USAGE, "no sender given: use --from ADDR");
    }
    if (total == 0) {
        return cli_fail(CLI_EXIT_USAGE, "no recipient given: use --to, --cc or --bcc");
    }
    if (args->subject != NULL && has_control(args->subject, true)) {
        return cli_fail(CLI_EXIT_USAGE, "--subject: CR, LF and other control characters are "
                                        "not allowed");
    }
    rc = parse_address(where, from, &req->mail_from);
    req->rcpt = calloc(total, sizeof *req->rcpt);
    req->results = calloc(total, sizeof *req->results);
    if (rc == 0 && (req->rcpt == NULL || req->results == NULL)) {
        rc = cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    rc = rc != 0 ? rc : add_recipients(req, &args->to, "--to");
    rc = rc != 0 ? rc : add_recipients(req, &args->cc, "--cc");
    return rc != 0 ? rc : add_recipients(req, &args->bcc, "--bcc");
}

/* ---- authentication ---- */

static int parse_mechanism(const char *where, const char *name, smtpkit_auth_mech *mech)
{
    if (strcmp(name, "on") == 0) {
        *mech = SMTPKIT_AUTH_AUTO;
        return 0;
    }
    if (!smtpkit_auth_mech_parse(name, mech)) {
        return cli_fail(CLI_EXIT_USAGE,
                        "%s %s: use plain, login, cram-md5, xoauth2 or "
                        "oauthbearer",
                        where, name);
    }
    return 0;
}

static int resolve_auth(cli_request *req)
{
    const cli_send_args *args = req->args;
    const cli_account *acc = req->account;
    smtpkit_session_config *session = &req->client.session;
    bool config_auth_off = acc->auth != NULL && strcmp(acc->auth, "off") == 0;
    int rc = 0;

    session->user = args->user != NULL ? args->user : (config_auth_off ? NULL : acc->user);
    if (args->auth != NULL) {
        rc = parse_mechanism("--auth", args->auth, &session->auth);
    } else if (acc->auth != NULL && !config_auth_off) {
        rc = parse_mechanism("auth in configuration", acc->auth, &session->auth);
    }
    if (rc != 0) {
        return rc;
    }
    if (session->user == NULL &&
        (args->auth != NULL || args->password_file != NULL || args->password_command != NULL)) {
        return cli_fail(CLI_EXIT_USAGE, "%s needs --user NAME",
                        args->auth != NULL ? "--auth" : "a password option");
    }
    session->secret_is_token =
        session->auth == SMTPKIT_AUTH_XOAUTH2 || session->auth == SMTPKIT_AUTH_OAUTHBEARER;
    session->allow_plaintext_auth = args->allow_plaintext_auth;
    return 0;
}

/* ---- TLS and the rest of the settings ---- */

static int resolve_tls(cli_request *req)
{
    const cli_send_args *args = req->args;
    const cli_account *acc = req->account;
    smtpkit_trust *trust = &req->client.trust;
    bool config_trust = args->ca_files.count == 0 && args->ca_dir == NULL;

    /* Several --ca-file are read in open_inputs(), with the other files. */
    trust->ca_file = config_trust ? acc->tls_trust_file : NULL;
    trust->ca_dir = args->ca_dir;
    trust->client_cert_file = args->cert != NULL ? args->cert : acc->tls_cert_file;
    trust->client_key_file = args->key != NULL ? args->key : acc->tls_key_file;
    req->client.tls_server_name =
        args->tls_server_name != NULL ? args->tls_server_name : acc->tls_server_name;
    if (args->verbose) {
        trust->on_chain = cli_trust_trace_chain;
    }
    return cli_trust_pins(trust, &req->pins, &args->pins);
}

static int check_name(const char *where, const char *name)
{
    if (name != NULL && (name[0] == '\0' || has_control(name, false) || strchr(name, ' '))) {
        return cli_fail(CLI_EXIT_USAGE, "%s: not a valid name", where);
    }
    return 0;
}

static int check_helo(const char *name)
{
    if (name != NULL && !smtpkit_helo_name_valid(name)) {
        return cli_fail(CLI_EXIT_USAGE, "--helo: not a domain or an address literal such as "
                                        "[192.0.2.1]");
    }
    return 0;
}

static int resolve_settings(cli_request *req)
{
    const cli_send_args *args = req->args;
    const cli_account *acc = req->account;
    unsigned timeout_s = args->timeout_s != 0 ? args->timeout_s : acc->timeout_s;
    int rc = resolve_tls(req);

    if (rc != 0) {
        return rc;
    }
    if ((req->client.trust.client_cert_file == NULL) !=
        (req->client.trust.client_key_file == NULL)) {
        return cli_fail(CLI_EXIT_USAGE, "a client certificate needs both --cert and --key "
                                        "(tls_cert_file and tls_key_file)");
    }
    req->client.session.helo_name = args->helo != NULL ? args->helo : acc->domain;
    rc = check_helo(req->client.session.helo_name);
    rc = rc != 0 ? rc : check_name("--tls-server-name", req->client.tls_server_name);
    req->client.connect_timeout_ms = timeout_s * SECOND_MS;
    req->client.timeout_ms = timeout_s * SECOND_MS;
    req->client.session.rcpt_strict = args->rcpt_strict;
    return rc;
}

/* Credentials never travel in clear unless the user says so twice. */
static int check_plaintext(const cli_request *req)
{
    if (req->server.mode != SMTPKIT_TLS_NONE || req->client.session.user == NULL ||
        req->args->allow_plaintext_auth) {
        return 0;
    }
    return cli_fail(CLI_EXIT_NOPERM, "logging in without TLS would send the password "
                                     "unencrypted; add --allow-plaintext-auth to allow it");
}

static void warn_plaintext(const cli_request *req)
{
    if (req->server.mode != SMTPKIT_TLS_NONE) {
        return;
    }
    if (req->args->no_tls) {
        cli_warn("--no-tls: the message and envelope travel unencrypted");
    } else {
        cli_warn("tls off in %s: the message and envelope travel unencrypted", req->config_path);
    }
}

/* ---- inputs ---- */

/* Loads the anchors once, so that an unreadable or broken file stops us before connecting. */
static int try_trust(const cli_request *req)
{
    const char *name =
        req->client.tls_server_name != NULL ? req->client.tls_server_name : req->server.host;

    return req->server.mode == SMTPKIT_TLS_NONE ? 0 : cli_trust_try(&req->client.trust, name);
}

static int read_secret(cli_request *req)
{
    const cli_send_args *args = req->args;
    const cli_account *acc = req->account;
    int rc = 0;

    if (req->client.session.user == NULL) {
        return 0;
    }
    if (args->password_file != NULL) {
        rc = cli_secret_from_file(&req->secret, args->password_file, "--password-file");
    } else if (args->password_command != NULL) {
        rc = cli_secret_from_command(&req->secret, args->password_command, "--password-command",
                                     CLI_EXIT_NOINPUT);
    } else if (req->env_secret.text != NULL) {
        req->secret = req->env_secret;
        req->env_secret.text = NULL;
    } else if (acc->password != NULL) {
        rc = cli_secret_from_string(&req->secret, acc->password);
    } else if (acc->passwordeval != NULL) {
        rc = cli_secret_from_command(&req->secret, acc->passwordeval, "passwordeval",
                                     CLI_EXIT_CONFIG);
    } else {
        return cli_fail(CLI_EXIT_USAGE,
                        "--user %s needs a secret: set SMTPKIT_PASSWORD or use "
                        "--password-file or --password-command",
                        req->client.session.user);
    }
    req->client.session.secret = req->secret.text;
    return rc;
}

static int compose(cli_request *req)
{
    const cli_send_args *args = req->args;
    smtpkit_message_headers headers;
    char where[300];

    memset(&headers, 0, sizeof headers);
    headers.from = pick(req, args->from, "from", req->account->from, "from", where, sizeof where);
    headers.to = args->to.items;
    headers.to_count = args->to.count;
    headers.cc = args->cc.items;
    headers.cc_count = args->cc.count;
    headers.subject = args->subject;
    return cli_message_compose(&req->message, &headers);
}

static int open_inputs(cli_request *req)
{
    int rc = req->server.mode == SMTPKIT_TLS_NONE
                 ? 0
                 : cli_trust_ca_files(&req->client.trust, &req->ca_anchors, &req->args->ca_files);

    rc = rc != 0 ? rc : try_trust(req);
    rc = rc != 0 ? rc : cli_message_open_body(&req->message, req->args->body_file);
    rc = rc != 0 ? rc : read_secret(req);
    return rc != 0 ? rc : compose(req);
}

/* ---- sending ---- */

static void report_recipients(const cli_request *req)
{
    size_t i;

    for (i = 0; i < req->rcpt_count; i++) {
        const smtpkit_rcpt_result *r = &req->results[i];

        if (r->code >= 400) {
            cli_warn("recipient %s rejected: %u%s%s %s", req->rcpt[i], (unsigned)r->code,
                     r->enhanced[0] != '\0' ? " " : "", r->enhanced, r->text);
        }
    }
}

static int send_message(cli_request *req)
{
    smtpkit_message_source source;
    smtpkit_envelope envelope;
    smtpkit_reply accepted;
    smtpkit_error err;

    memset(&envelope, 0, sizeof envelope);
    envelope.mail_from = req->mail_from;
    envelope.rcpt = (const char *const *)req->rcpt;
    envelope.rcpt_count = req->rcpt_count;
    envelope.size_hint = cli_message_size_hint(&req->message);
    envelope.results = req->results;
    cli_message_source(&req->message, &source);
    memset(&accepted, 0, sizeof accepted);
    envelope.accepted = &accepted;
    if (req->args->verbose) {
        req->client.session.trace = cli_trace_line;
    }

    warn_plaintext(req);
    if (smtpkit_client_send(&req->client, &envelope, &source, &err) != SMTPKIT_OK) {
        return cli_fail_error_hint(&err, cli_scheme_hint(&err, req->server.mode, scheme_hint));
    }
    report_recipients(req);
    if (req->args->verbose) {
        printf("smtpkit: message accepted: %u%s%s %s\n", (unsigned)accepted.code,
               accepted.enhanced[0] != '\0' ? " " : "", accepted.enhanced, accepted.text);
    }
    return 0;
}

/* ---- configuration file ---- */

static const char *user_config_file(char *buf, size_t size)
{
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    FILE *probe;

    if (home != NULL && home[0] != '\0') {
        snprintf(buf, size, "%s/.msmtprc", home);
        if ((probe = fopen(buf, "r")) != NULL) {
            fclose(probe);
            return buf;
        }
    }
    if (xdg != NULL && xdg[0] != '\0') {
        snprintf(buf, size, "%s/msmtp/config", xdg);
    } else if (home != NULL && home[0] != '\0') {
        snprintf(buf, size, "%s/.config/msmtp/config", home);
    } else {
        return NULL;
    }
    if ((probe = fopen(buf, "r")) != NULL) {
        fclose(probe);
        return buf;
    }
    return NULL;
}

/* --config, else $SMTPKIT_CONFIG, else (only with --account) msmtp's own files. */
static int load_account(const cli_send_args *args, cli_account *acc, char *path_buf,
                        size_t path_size, const char **path_out)
{
    const char *path = args->config;
    char why[CLI_CONFIG_WHY_MAX];

    *path_out = NULL;
    if (path == NULL && getenv("SMTPKIT_CONFIG") != NULL && getenv("SMTPKIT_CONFIG")[0] != '\0') {
        path = getenv("SMTPKIT_CONFIG");
    }
    if (path == NULL && args->account != NULL) {
        path = user_config_file(path_buf, path_size);
        if (path == NULL) {
            return cli_fail(CLI_EXIT_CONFIG,
                            "--account %s: no configuration file (use --config "
                            "FILE)",
                            args->account);
        }
    }
    if (path == NULL) {
        return 0;
    }
    if (!cli_config_load(path, args->account, acc, why, sizeof why)) {
        return cli_fail(CLI_EXIT_CONFIG, "%s", why);
    }
    *path_out = path;
    return 0;
}

static int prepare(cli_request *req)
{
    int rc = resolve_server(req);

    rc = rc != 0 ? rc : resolve_addresses(req);
    rc = rc != 0 ? rc : resolve_auth(req);
    rc = rc != 0 ? rc : resolve_settings(req);
    rc = rc != 0 ? rc : check_plaintext(req);
    return rc != 0 ? rc : open_inputs(req);
}

/* Copies SMTPKIT_PASSWORD and removes it from the environment, so that no command smtpkit
 * runs (a password helper) inherits it. */
static int take_env_secret(cli_secret *secret)
{
    const char *value = getenv("SMTPKIT_PASSWORD");
    int rc = 0;

    if (value != NULL && value[0] != '\0') {
        rc = cli_secret_from_string(secret, value);
    }
    (void)unsetenv("SMTPKIT_PASSWORD");
    return rc;
}

static void free_request(cli_request *req)
{
    size_t i;

    for (i = 0; i < req->rcpt_count; i++) {
        free(req->rcpt[i]);
    }
    free(req->rcpt);
    free(req->results);
    free(req->mail_from);
    cli_secret_free(&req->secret);
    cli_secret_free(&req->env_secret);
    cli_message_close(&req->message);
    cli_anchor_set_free(&req->ca_anchors);
    free(req->pins);
}

int cli_send_main(int argc, char **argv)
{
    cli_send_args args;
    cli_account account;
    cli_request req;
    char path_buf[4096];
    int rc;

    memset(&args, 0, sizeof args);
    memset(&account, 0, sizeof account);
    memset(&req, 0, sizeof req);
    cli_message_init(&req.message);
    rc = take_env_secret(&req.env_secret);
    rc = rc != 0 ? rc : cli_options_parse(argc, argv, &args);
    if (rc == 0 && args.help) {
        cli_options_help(stdout);
    } else if (rc == 0) {
        req.args = &args;
        req.account = &account;
        rc = load_account(&args, &account, path_buf, sizeof path_buf, &req.config_path);
        rc = rc != 0 ? rc : prepare(&req);
        rc = rc != 0 ? rc : send_message(&req);
    }
    free_request(&req);
    cli_account_free(&account);
    cli_options_free(&args);
    return rc;
}
