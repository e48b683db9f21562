/*
 * cli_cert.c - "smtpkit cert show|export|check": parses the command line, sets up the
 * connection and the trust store, and hands over to the command.
 *
 * The three commands share one option table so that a user who learned one knows the others;
 * an option that means nothing to a command is refused with a line that says which command
 * it belongs to, rather than ignored. A bare host:port may say --starttls or --tls; without
 * either, port 465 means implicit TLS (RFC 8314) and anything else STARTTLS (RFC 3207).
 */
#define _GNU_SOURCE /* getopt_long */

#include "cli_cert.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_exit.h"
#include "cli_options.h"

enum {
    SECOND_MS = 1000,
    TIMEOUT_DEFAULT_S = 30, /* a probe in CI or cron should not wait RFC 5321's 5 minutes */
    TIMEOUT_MAX_S = 24 * 60 * 60,
    WARN_DAYS_DEFAULT = 30,
    WARN_DAYS_MAX = 100000,
    PORT_IMPLICIT_TLS = 465,
    PORT_SUBMISSION = 587
};

enum cert_option {
    OPT_STARTTLS = 256,
    OPT_TLS,
    OPT_CA_FILE,
    OPT_CA_DIR,
    OPT_ANCHOR,
    OPT_PIN,
    OPT_TLS_SERVER_NAME,
    OPT_HELO,
    OPT_TIMEOUT,
    OPT_AT,
    OPT_FORMAT,
    OPT_WHICH,
    OPT_NAME,
    OPT_WARN_DAYS,
    OPT_ANCHOR_WARN_DAYS
};

static const struct option long_options[] = {
    {"starttls", no_argument, NULL, OPT_STARTTLS},
    {"tls", no_argument, NULL, OPT_TLS},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"ca-dir", required_argument, NULL, OPT_CA_DIR},
    {"anchor", required_argument, NULL, OPT_ANCHOR},
    {"pinned-pubkey", required_argument, NULL, OPT_PIN},
    {"pinnedpubkey", required_argument, NULL, OPT_PIN},
    {"tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME},
    {"helo", required_argument, NULL, OPT_HELO},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"at", required_argument, NULL, OPT_AT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"which", required_argument, NULL, OPT_WHICH},
    {"name", required_argument, NULL, OPT_NAME},
    {"output", required_argument, NULL, 'o'},
    {"warn-days", required_argument, NULL, OPT_WARN_DAYS},
    {"anchor-warn-days", required_argument, NULL, OPT_ANCHOR_WARN_DAYS},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Options that belong to one command only. */
static const struct {
    int id;
    const char *name;
    cli_cert_command command;
} owned_options[] = {
    {OPT_FORMAT, "--format", CLI_CERT_EXPORT},
    {OPT_WHICH, "--which", CLI_CERT_EXPORT},
    {OPT_NAME, "--name", CLI_CERT_EXPORT},
    {'o', "-o", CLI_CERT_EXPORT},
    {OPT_ANCHOR, "--anchor", CLI_CERT_CHECK},
    {OPT_WARN_DAYS, "--warn-days", CLI_CERT_CHECK},
    {OPT_ANCHOR_WARN_DAYS, "--anchor-warn-days", CLI_CERT_CHECK},
};

static const char *const command_names[] = {"show", "export", "check"};

static const char help_text[] =
    "usage: smtpkit cert show   URL [options]\n"
    "       smtpkit cert export URL [--format c|pem|der] [--which root|leaf|N]\n"
    "                               [--name IDENT] [-o FILE] [options]\n"
    "       smtpkit cert check  [URL] --anchor FILE [--anchor FILE ...] [--warn-days N]\n"
    "                               [--anchor-warn-days N]\n"
    "Shows the certificate chain of a mail server, exports the trust anchor a device\n"
    "needs, and checks that given anchors still verify the server and when they expire.\n"
    "\n"
    "  URL                    smtp://host[:port] (STARTTLS, 587), smtps://host[:port]\n"
    "                         (TLS, 465), or host[:port] (465 means TLS); [::1]:587\n"
    "  --starttls, --tls      how to start TLS with a bare host[:port]\n"
    "  --ca-file FILE         trust anchors, PEM or DER, repeatable (show, export;\n"
    "  --ca-dir DIR             default: the system bundle)\n"
    "  --anchor FILE          check: anchors, PEM, DER or a header from --format c\n"
    "  --warn-days N          check: warn N days before the leaf or an intermediate\n"
    "                         expires (30; 0: never)\n"
    "  --anchor-warn-days N   check: the same for anchors (default: --warn-days)\n"
    "  --pinned-pubkey HASH   sha256//BASE64 or 64 hex digits of a key, repeatable\n"
    "                         or ';'-separated\n"
    "  --format c|pem|der     export: output format (default pem)\n"
    "  --which root|leaf|N    export: the anchor (default), the leaf, or certificate N\n"
    "  --name IDENT           export --format c: name of the array\n"
    "  -o, --output FILE      export: write FILE instead of standard output\n"
    "  --tls-server-name NAME name to verify and send as SNI (default: the host)\n"
    "  --helo NAME            EHLO name (default: this machine's name)\n"
    "  --timeout SECONDS      connect and reply timeout (default 30)\n"
    "  --at TIME              judge dates as of YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n"
    "  -v, --verbose          trace the SMTP dialogue and the chain on stderr\n"
    "Exit: show, export: 0 ok, 64 usage, 66 unreadable file, 68 unknown host, 73 -o\n"
    "not writable, 74 I/O, 75 refused/timeout, 76 protocol, 77 TLS or certificate.\n"
    "check: 0 ok, 1 expires within --warn-days, 2 does not verify or expired,\n"
    "3 cannot connect, 64 usage, 65 no certificate in an --anchor file, 66 unreadable.\n";

void cli_cert_help(FILE *out)
{
    fputs(help_text, out);
}

/* ---- option values ---- */

static bool digits(const char *text, size_t count, int *out)
{
    size_t i;

    *out = 0;
    for (i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        *out = *out * 10 + (text[i] - '0');
    }
    return true;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ", UTC. */
static int parse_at(const char *text, smtpkit_time *out)
{
    smtpkit_civil c = {0, 0, 0, 0, 0, 0};
    size_t len = strlen(text);
    bool ok = (len == 10 || len == 20) && digits(text, 4, &c.year) && text[4] == '-' &&
              digits(text + 5, 2, &c.month) && text[7] == '-' && digits(text + 8, 2, &c.day);

    if (ok && len == 20) {
        ok = text[10] == 'T' && digits(text + 11, 2, &c.hour) && text[13] == ':' &&
             digits(text + 14, 2, &c.min) && text[16] == ':' && digits(text + 17, 2, &c.sec) &&
             text[19] == 'Z';
    }
    if (!ok || !smtpkit_time_from_civil(&c, out)) {
        return cli_fail(CLI_EXIT_USAGE, "--at %s: give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)",
                        text);
    }
    if (*out < SMTPKIT_TIME_PLAUSIBLE_MIN) {
        return cli_fail(CLI_EXIT_USAGE,
                        "--at %s: before 2020, which smtpkit takes for an unset "
                        "clock",
                        text);
    }
    return 0;
}

static int parse_format(const char *text, cli_cert_format *out)
{
    static const char *const names[] = {"pem", "der", "c"};
    static const cli_cert_format formats[] = {CLI_CERT_PEM, CLI_CERT_DER, CLI_CERT_C};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = formats[i];
            return 0;
        }
    }
    return cli_fail(CLI_EXIT_USAGE, "--format %s: use c, pem or der", text);
}

static int parse_which(const char *text, long *out)
{
    unsigned long position = 0;

    if (strcmp(text, "root") == 0) {
        *out = CLI_CERT_WHICH_ROOT;
        return 0;
    }
    if (strcmp(text, "leaf") == 0) {
        *out = 0;
        return 0;
    }
    if (cli_option_number("--which", text, 0, SMTPKIT_CHAIN_MAX - 1, &position) != 0) {
        return CLI_EXIT_USAGE;
    }
    *out = (long)position;
    return 0;
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

/* ---- the command line ---- */

static int check_owner(const cli_cert_args *args, int id)
{
    size_t i;

    for (i = 0; i < sizeof owned_options / sizeof owned_options[0]; i++) {
        if (owned_options[i].id == id && owned_options[i].command != args->command) {
            return cli_fail(CLI_EXIT_USAGE, "%s is an option of 'smtpkit cert %s', not of %s",
                            owned_options[i].name, command_names[owned_options[i].command],
                            command_names[args->command]);
        }
    }
    return 0;
}

static int apply_value(cli_cert_args *args, int id, const char *value)
{
    unsigned long number = 0;
    int rc;

    switch (id) {
    case OPT_TIMEOUT:
        rc = cli_option_number("--timeout", value, 1, TIMEOUT_MAX_S, &number);
        args->timeout_s = (unsigned)number;
        return rc;
    case OPT_WARN_DAYS:
        rc = cli_option_number("--warn-days", value, 0, WARN_DAYS_MAX, &number);
        args->warn_days = (unsigned)number;
        return rc;
    case OPT_ANCHOR_WARN_DAYS:
        rc = cli_option_number("--anchor-warn-days", value, 0, WARN_DAYS_MAX, &number);
        args->anchor_warn_days = (unsigned)number;
        args->anchor_warn_days_given = true;
        return rc;
    case OPT_AT:
        return parse_at(value, &args->at);
    case OPT_FORMAT:
        return parse_format(value, &args->format);
    case OPT_WHICH:
        return parse_which(value, &args->which);
    default:
        return cli_fail(CLI_EXIT_SOFTWARE, "option %d has no place", id);
    }
}

static int apply_option(cli_cert_args *args, int id, const char *value)
{
    int rc = check_owner(args, id);

    if (rc != 0) {
        return rc;
    }
    switch (id) {
    case 'v':
        args->verbose = true;
        return 0;
    case 'h':
        args->help = true;
        return 0;
    case OPT_STARTTLS:
        args->starttls = true;
        return 0;
    case OPT_TLS:
        args->tls = true;
        return 0;
    case OPT_CA_FILE:
        return append(&args->ca_files, value);
    case OPT_ANCHOR:
        return append(&args->anchor_files, value);
    case OPT_PIN:
        return append(&args->pins, value);
    case OPT_CA_DIR:
        args->ca_dir = value;
        return 0;
    case OPT_TLS_SERVER_NAME:
        args->tls_server_name = value;
        return 0;
    case OPT_HELO:
        args->helo = value;
        return 0;
    case OPT_NAME:
        args->name = value;
        return 0;
    case 'o':
        args->output = value;
        return 0;
    default:
        return apply_value(args, id, value);
    }
}

static int positional(cli_cert_args *args, int argc, char **argv)
{
    if (optind < argc) {
        args->url = argv[optind++];
    }
    if (optind < argc) {
        return cli_fail(CLI_EXIT_USAGE, "unexpected argument '%s' after the URL", argv[optind]);
    }
    return 0;
}

static int check_combinations(const cli_cert_args *args)
{
    if (args->help) {
        return 0;
    }
    if (args->url == NULL && args->command != CLI_CERT_CHECK) {
        return cli_fail(CLI_EXIT_USAGE,
                        "cert %s needs the server's URL, such as "
                        "smtp://smtp.example.com:587",
                        command_names[args->command]);
    }
    if (args->command == CLI_CERT_CHECK && (args->ca_files.count > 0 || args->ca_dir != NULL)) {
        return cli_fail(CLI_EXIT_USAGE, "cert check verifies against exactly its --anchor "
                                        "files; --ca-file and --ca-dir are for show and export");
    }
    if (args->command == CLI_CERT_CHECK && args->anchor_files.count == 0) {
        return cli_fail(CLI_EXIT_USAGE, "cert check needs at least one --anchor FILE");
    }
    if (args->starttls && args->tls) {
        return cli_fail(CLI_EXIT_USAGE, "--starttls and --tls exclude each other");
    }
    if (args->name != NULL && cli_cert_name_problem(args->name) != NULL) {
        return cli_fail(CLI_EXIT_USAGE, "--name %s: %s", args->name,
                        cli_cert_name_problem(args->name));
    }
    if (args->name != NULL && args->format != CLI_CERT_C) {
        return cli_fail(CLI_EXIT_USAGE, "--name is for --format c");
    }
    return 0;
}

static int parse_args(int argc, char **argv, cli_cert_args *args)
{
    int result;
    int rc = 0;

    args->which = CLI_CERT_WHICH_ROOT;
    args->warn_days = WARN_DAYS_DEFAULT;
    opterr = 0;
    optind = 1;
    while (rc == 0 && (result = getopt_long(argc, argv, ":vho:", long_options, NULL)) != -1) {
        rc = result == '?' || result == ':' ? cli_option_error(result, argv, "smtpkit cert --help")
                                            : apply_option(args, result, optarg);
    }
    rc = rc != 0 ? rc : positional(args, argc, argv);
    if (!args->anchor_warn_days_given) {
        args->anchor_warn_days = args->warn_days;
    }
    return rc != 0 ? rc : check_combinations(args);
}

/* ---- the server and the trust store ---- */

static int resolve_server(const cli_cert_args *args, cli_cert_target *target)
{
    cli_server *server = &target->server;
    bool bare = strstr(args->url, "://") == NULL;
    char why[160];

    if (!cli_url_parse(args->url, server, why, sizeof why)) {
        return cli_fail(CLI_EXIT_USAGE, "%s: %s", args->url, why);
    }
    if (!bare && (args->starttls || args->tls)) {
        return cli_fail(CLI_EXIT_USAGE,
                        "%s: --starttls and --tls are for a bare host:port; the "
                        "scheme already says how TLS starts",
                        args->url);
    }
    if (bare) {
        server->mode = args->tls || (!args->starttls && server->port == PORT_IMPLICIT_TLS)
                           ? SMTPKIT_TLS_IMPLICIT
                           : SMTPKIT_TLS_STARTTLS;
    }
    if (server->port == 0) {
        server->port = server->mode == SMTPKIT_TLS_IMPLICIT ? PORT_IMPLICIT_TLS : PORT_SUBMISSION;
    }
    snprintf(target->where, sizeof target->where,
             strchr(server->host, ':') != NULL ? "[%s]:%u" : "%s:%u", server->host,
             (unsigned)server->port);
    return 0;
}

static int resolve_trust(const cli_cert_args *args, cli_cert_target *target)
{
    smtpkit_trust *trust = &target->client.trust;
    size_t i;
    int rc = 0;

    trust->now = args->at;
    trust->ca_dir = args->ca_dir;
    if (args->verbose) {
        trust->on_chain = cli_trust_trace_chain;
    }
    for (i = 0; i < args->anchor_files.count && rc == 0; i++) {
        rc = cli_anchor_load(&target->anchors, "--anchor", args->anchor_files.items[i], args->now,
                             CLI_EXIT_DATAERR);
    }
    if (rc == 0 && args->anchor_files.count > 0) {
        trust->anchors = target->anchors.anchors;
        trust->anchor_count = target->anchors.count;
    }
    rc = rc != 0 ? rc : cli_trust_ca_files(trust, &target->anchors, &args->ca_files);
    return rc != 0 ? rc : cli_trust_pins(trust, &target->pins, &args->pins);
}

static void resolve_client(const cli_cert_args *args, cli_cert_target *target)
{
    smtpkit_client_options *client = &target->client;
    unsigned timeout_s = args->timeout_s != 0 ? args->timeout_s : TIMEOUT_DEFAULT_S;

    client->host = target->server.host;
    client->port = target->server.port;
    client->tls_server_name = args->tls_server_name;
    client->connect_timeout_ms = timeout_s * SECOND_MS;
    client->timeout_ms = timeout_s * SECOND_MS;
    client->session.tls_mode = target->server.mode;
    client->session.helo_name = args->helo;
    if (args->verbose) {
        client->session.trace = cli_trace_line;
    }
}

static int check_names(const cli_cert_args *args)
{
    if (args->helo != NULL && !smtpkit_helo_name_valid(args->helo)) {
        return cli_fail(CLI_EXIT_USAGE, "--helo: not a domain or an address literal such as "
                                        "[192.0.2.1]");
    }
    if (args->tls_server_name != NULL &&
        (args->tls_server_name[0] == '\0' || strpbrk(args->tls_server_name, " \t\r\n"))) {
        return cli_fail(CLI_EXIT_USAGE, "--tls-server-name: not a valid name");
    }
    return 0;
}

static int prepare(cli_cert_args *args, cli_cert_target *target)
{
    int rc = check_names(args);

    args->now = smtpkit_time_resolve(args->at);
    if (rc == 0 && args->url != NULL) {
        rc = resolve_server(args, target);
        resolve_client(args, target);
    }
    rc = rc != 0 ? rc : resolve_trust(args, target);

    /* As send does: an unusable --ca-file or --ca-dir is exit 66 before connecting. check has
     * neither, and words its own anchor problems. */
    if (rc == 0 && args->command != CLI_CERT_CHECK) {
        rc = cli_trust_try(&target->client.trust, args->tls_server_name != NULL
                                                      ? args->tls_server_name
                                                      : target->server.host);
    }
    return rc;
}

const char *cli_cert_scheme_hint(const cli_cert_target *target, const smtpkit_error *err)
{
    return cli_scheme_hint(err, target->server.mode,
                           "if the server speaks TLS at once, use smtps:// or --tls");
}

smtpkit_status cli_cert_probe(const cli_cert_target *target, smtpkit_probe *probe,
                              smtpkit_error *err)
{
    smtpkit_error_clear(err);
    memset(probe, 0, sizeof *probe);
    return smtpkit_client_probe(&target->client, probe, err);
}

/* ---- dispatch ---- */

static int find_command(const char *word, cli_cert_command *command)
{
    size_t i;

    for (i = 0; i < sizeof command_names / sizeof command_names[0]; i++) {
        if (strcmp(word, command_names[i]) == 0) {
            *command = (cli_cert_command)i;
            return 0;
        }
    }
    return cli_fail(CLI_EXIT_USAGE, "unknown cert command '%s': use show, export or check", word);
}

static int run(const cli_cert_args *args, const cli_cert_target *target)
{
    switch (args->command) {
    case CLI_CERT_SHOW:
        return cli_cert_show(args, target);
    case CLI_CERT_EXPORT:
        return cli_cert_export(args, target);
    default:
        return cli_cert_check(args, target);
    }
}

int cli_cert_main(int argc, char **argv)
{
    cli_cert_args args;
    cli_cert_target target;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_cert_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    memset(&args, 0, sizeof args);
    memset(&target, 0, sizeof target);
    rc = find_command(argv[1], &args.command);
    rc = rc != 0 ? rc : parse_args(argc - 1, argv + 1, &args);
    if (rc == 0 && args.help) {
        cli_cert_help(stdout);
    } else if (rc == 0) {
        rc = prepare(&args, &target);
        rc = rc != 0 ? rc : run(&args, &target);
    }
    cli_anchor_set_free(&target.anchors);
    free(target.pins);
    free(args.ca_files.items);
    free(args.anchor_files.items);
    free(args.pins.items);
    return rc;
}
