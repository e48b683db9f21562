/*
 * cli_config.c - reads msmtp configuration files.
 *
 * The grammar is msmtp's: one "key argument" per line, blank lines and lines whose first
 * non-blank character is '#' ignored, an argument optionally in double quotes (which are
 * removed). "defaults" starts the settings every later account starts from; "account NAME"
 * starts an account, "account NAME : A, B" one that also takes the settings of the accounts A
 * and B (defined earlier), in that order; "account default : NAME" thus names the default.
 * Settings before any "account" or "defaults" line form the account "default", as in msmtp.
 *
 * smtpkit keeps its safe defaults where msmtp's differ: without a "tls" line TLS is on, and
 * a setting that would weaken or bypass verification (tls_certcheck off, tls_fingerprint,
 * proxies) is an error rather than silently ignored. msmtp keys that only concern features
 * smtpkit does not have (logging, aliases, DSN, header rewriting) are accepted and ignored.
 * Line buffers are wiped after use because a line may hold a password.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <mbedtls/platform_util.h>

#include "cli_exit.h"

enum {
    LINE_MAX_BYTES = 4096,
    TIMEOUT_MAX_S = 24 * 60 * 60,
    NO_ACCOUNT = -2, /* no "account" or "defaults" line yet */
    DEFAULTS = -1    /* settings go to the defaults */
};

typedef struct parser {
    const char *file_name;
    unsigned line;
    cli_account defaults;
    cli_account *accounts;
    size_t count;
    size_t capacity;
    long current; /* index into accounts, or NO_ACCOUNT, DEFAULTS */
    bool saw_password;
    char *why;
    size_t why_size;
} parser;

typedef enum key_kind {
    KEY_STRING,
    KEY_PATH,
    KEY_SWITCH,
    KEY_PORT,
    KEY_TIMEOUT,
    KEY_AUTH,
    KEY_CERTCHECK,
    KEY_NOSTARTTLS,
    KEY_PROTOCOL,
    KEY_IGNORED,
    KEY_REFUSED
} key_kind;

typedef struct key {
    const char *name;
    key_kind kind;
    size_t offset;      /* of the field in cli_account */
    const char *reason; /* for KEY_REFUSED */
} key;

#define FIELD(name) offsetof(cli_account, name)

static const key keys[] = {
    {"host", KEY_STRING, FIELD(host), NULL},
    {"port", KEY_PORT, FIELD(port), NULL},
    {"from", KEY_STRING, FIELD(from), NULL},
    {"user", KEY_STRING, FIELD(user), NULL},
    {"password", KEY_STRING, FIELD(password), NULL},
    {"passwordeval", KEY_STRING, FIELD(passwordeval), NULL},
    {"auth", KEY_AUTH, FIELD(auth), NULL},
    {"tls", KEY_SWITCH, FIELD(tls), NULL},
    {"tls_starttls", KEY_SWITCH, FIELD(tls_starttls), NULL},
    {"tls_nostarttls", KEY_NOSTARTTLS, FIELD(tls_starttls), NULL},
    {"tls_trust_file", KEY_PATH, FIELD(tls_trust_file), NULL},
    {"tls_cert_file", KEY_PATH, FIELD(tls_cert_file), NULL},
    {"tls_key_file", KEY_PATH, FIELD(tls_key_file), NULL},
    {"tls_host_override", KEY_STRING, FIELD(tls_server_name), NULL},
    {"tls_certcheck", KEY_CERTCHECK, 0, NULL},
    {"domain", KEY_STRING, FIELD(domain), NULL},
    {"timeout", KEY_TIMEOUT, FIELD(timeout_s), NULL},
    {"protocol", KEY_PROTOCOL, 0, NULL},
    {"tls_nocertcheck", KEY_REFUSED, 0, "smtpkit always verifies the server certificate"},
    {"tls_fingerprint", KEY_REFUSED, 0, "certificate pinning is not supported; use tls_trust_file"},
    {"tls_crl_file", KEY_REFUSED, 0, "CRL files are not supported"},
    {"proxy_host", KEY_REFUSED, 0, "proxies are not supported"},
    {"socket", KEY_REFUSED, 0, "local sockets are not supported"},
    {"eval", KEY_REFUSED, 0, "eval is not supported"},
    {"logfile", KEY_IGNORED, 0, NULL},
    {"logfile_time_format", KEY_IGNORED, 0, NULL},
    {"syslog", KEY_IGNORED, 0, NULL},
    {"aliases", KEY_IGNORED, 0, NULL},
    {"auto_from", KEY_IGNORED, 0, NULL},
    {"maildomain", KEY_IGNORED, 0, NULL},
    {"dsn_notify", KEY_IGNORED, 0, NULL},
    {"dsn_return", KEY_IGNORED, 0, NULL},
    {"keepbcc", KEY_IGNORED, 0, NULL},
    {"add_missing_from_header", KEY_IGNORED, 0, NULL},
    {"add_missing_date_header", KEY_IGNORED, 0, NULL},
    {"remove_bcc_headers", KEY_IGNORED, 0, NULL},
    {"undisclosed_recipients", KEY_IGNORED, 0, NULL},
    {"set_from_header", KEY_IGNORED, 0, NULL},
    {"set_date_header", KEY_IGNORED, 0, NULL},
    {"set_msgid_header", KEY_IGNORED, 0, NULL},
    {"allow_from_override", KEY_IGNORED, 0, NULL},
    {"from_full_name", KEY_IGNORED, 0, NULL},
    {"source_ip", KEY_IGNORED, 0, NULL},
    {"proxy_port", KEY_IGNORED, 0, NULL},
    {"ntlmdomain", KEY_IGNORED, 0, NULL},
    {"tls_priorities", KEY_IGNORED, 0, NULL},
    {"tls_min_dh_prime_bits", KEY_IGNORED, 0, NULL},
    {"tls_force_sslv3", KEY_IGNORED, 0, NULL},
};

static CLI_PRINTF(2, 3) bool fail(parser *p, const char *format, ...)
{
    char reason[CLI_CONFIG_WHY_MAX];
    va_list args;

    va_start(args, format);
    (void)vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    if (p->line > 0) {
        (void)snprintf(p->why, p->why_size, "%s:%u: %s", p->file_name, p->line, reason);
    } else {
        (void)snprintf(p->why, p->why_size, "%s: %s", p->file_name, reason);
    }
    return false;
}

static char **string_field(cli_account *acc, size_t offset)
{
    return (char **)(void *)((char *)acc + offset);
}

static const char *string_value(const cli_account *acc, size_t offset)
{
    return *(char *const *)(const void *)((const char *)acc + offset);
}

static void wipe_string(char *s)
{
    if (s != NULL) {
        mbedtls_platform_zeroize(s, strlen(s));
    }
}

void cli_account_free(cli_account *acc)
{
    size_t i;

    wipe_string(acc->password);
    free(acc->name);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (keys[i].kind == KEY_STRING || keys[i].kind == KEY_PATH || keys[i].kind == KEY_AUTH) {
            free(*string_field(acc, keys[i].offset));
        }
    }
    memset(acc, 0, sizeof *acc);
}

/* Replaces a string field; an empty value unsets it, as in msmtp. */
static bool set_string(parser *p, char **field, const char *value)
{
    char *copy = NULL;

    if (value != NULL && value[0] != '\0') {
        copy = strdup(value);
        if (copy == NULL) {
            return fail(p, "out of memory");
        }
    }
    free(*field);
    *field = copy;
    return true;
}

/* Takes every setting that @p from has over into @p to (account inheritance). */
static bool inherit(parser *p, cli_account *to, const cli_account *from)
{
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const key *k = &keys[i];
        const char *value;

        if (k->kind != KEY_STRING && k->kind != KEY_PATH && k->kind != KEY_AUTH) {
            continue;
        }
        value = string_value(from, k->offset);
        if (value != NULL && !set_string(p, string_field(to, k->offset), value)) {
            return false;
        }
    }
    to->port = from->port != 0 ? from->port : to->port;
    to->timeout_s = from->timeout_s != 0 ? from->timeout_s : to->timeout_s;
    to->tls = from->tls != CLI_SWITCH_UNSET ? from->tls : to->tls;
    to->tls_starttls =
        from->tls_starttls != CLI_SWITCH_UNSET ? from->tls_starttls : to->tls_starttls;
    return true;
}

static cli_account *find_account(parser *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->count; i++) {
        if (strcmp(p->accounts[i].name, name) == 0) {
            return &p->accounts[i];
        }
    }
    return NULL;
}

static cli_account *current_account(parser *p)
{
    return p->current == DEFAULTS ? &p->defaults : &p->accounts[p->current];
}

/* Appends an account named @p name that starts from the defaults. */
static bool add_account(parser *p, const char *name)
{
    cli_account *acc;

    if (find_account(p, name) != NULL) {
        return fail(p, "account %s is defined twice", name);
    }
    if (p->count == p->capacity) {
        size_t capacity = p->capacity == 0 ? 8 : p->capacity * 2;
        cli_account *grown = realloc(p->accounts, capacity * sizeof *grown);

        if (grown == NULL) {
            return fail(p, "out of memory");
        }
        p->accounts = grown;
        p->capacity = capacity;
    }
    acc = &p->accounts[p->count];
    memset(acc, 0, sizeof *acc);
    p->current = (long)p->count++;
    acc->found = true;
    acc->name = strdup(name);
    if (acc->name == NULL) {
        return fail(p, "out of memory");
    }
    return inherit(p, acc, &p->defaults);
}

static char *trim(char *s)
{
    size_t len;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        s[--len] = '\0';
    }
    return s;
}

/* "account NAME" or "account NAME : PARENT[, PARENT...]". */
static bool start_account(parser *p, char *arg)
{
    char *colon = strchr(arg, ':');
    char *parents = NULL;
    char *name;

    if (colon != NULL) {
        *colon = '\0';
        parents = colon + 1;
    }
    name = trim(arg);
    if (name[0] == '\0' || strchr(name, ',') != NULL) {
        return fail(p, "account needs a name without ':' or ','");
    }
    if (!add_account(p, name)) {
        return false;
    }
    while (parents != NULL) {
        char *comma = strchr(parents, ',');
        const cli_account *parent;

        if (comma != NULL) {
            *comma = '\0';
        }
        parent = find_account(p, trim(parents));
        if (parent == NULL) {
            return fail(p, "account %s is not defined (yet)", trim(parents));
        }
        if (!inherit(p, &p->accounts[p->current], parent)) {
            return false;
        }
        parents = comma != NULL ? comma + 1 : NULL;
    }
    return true;
}

static bool parse_number(const char *text, unsigned max, unsigned *out)
{
    unsigned long value = 0;
    size_t i;

    for (i = 0; text[i] != '\0'; i++) {
        if (!isdigit((unsigned char)text[i]) || i >= 9) {
            return false;
        }
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (i == 0 || value == 0 || value > max) {
        return false;
    }
    *out = (unsigned)value;
    return true;
}

static bool parse_switch(parser *p, const char *name, const char *arg, cli_switch *out)
{
    if (arg[0] == '\0' || strcasecmp(arg, "on") == 0) {
        *out = CLI_SWITCH_ON;
    } else if (strcasecmp(arg, "off") == 0) {
        *out = CLI_SWITCH_OFF;
    } else {
        return fail(p, "%s must be on or off, not '%s'", name, arg);
    }
    return true;
}

static bool set_auth(parser *p, char **field, const char *arg)
{
    static const char *const supported[] = {"on",       "off",     "plain",      "login",
                                            "cram-md5", "xoauth2", "oauthbearer"};
    char lower[32];
    size_t i;

    if (arg[0] == '\0') {
        arg = "on";
    }
    for (i = 0; arg[i] != '\0' && i + 1 < sizeof lower; i++) {
        lower[i] = (char)tolower((unsigned char)arg[i]);
    }
    lower[i] = '\0';
    for (i = 0; i < sizeof supported / sizeof supported[0]; i++) {
        if (strcmp(lower, supported[i]) == 0) {
            return set_string(p, field, lower);
        }
    }
    return fail(p,
                "auth %s is not supported (use on, off, plain, login, cram-md5, xoauth2 or "
                "oauthbearer)",
                arg);
}

/* "~/x" means $HOME/x in msmtp's file names. */
static bool set_path(parser *p, char **field, const char *arg)
{
    const char *home = getenv("HOME");
    char *expanded;
    bool ok;

    if (strncmp(arg, "~/", 2) != 0 || home == NULL) {
        return set_string(p, field, arg);
    }
    expanded = malloc(strlen(home) + strlen(arg));
    if (expanded == NULL) {
        return fail(p, "out of memory");
    }
    strcpy(expanded, home);
    strcat(expanded, arg + 1);
    ok = set_string(p, field, expanded);
    free(expanded);
    return ok;
}

static bool apply_number(parser *p, const key *k, cli_account *acc, const char *arg)
{
    unsigned *field = (unsigned *)(void *)((char *)acc + k->offset);

    if (k->kind == KEY_TIMEOUT && (arg[0] == '\0' || strcasecmp(arg, "off") == 0)) {
        *field = 0;
        return true;
    }
    if (k->kind == KEY_PORT && arg[0] == '\0') {
        *field = 0;
        return true;
    }
    if (!parse_number(arg, k->kind == KEY_PORT ? 65535u : TIMEOUT_MAX_S, field)) {
        return fail(p, "invalid %s '%s'", k->name, arg);
    }
    return true;
}

static bool apply_special(parser *p, const key *k, cli_account *acc, const char *arg)
{
    cli_switch on = CLI_SWITCH_ON;

    switch (k->kind) {
    case KEY_CERTCHECK:
        if (arg[0] != '\0' && !parse_switch(p, k->name, arg, &on)) {
            return false;
        }
        if (on == CLI_SWITCH_OFF) {
            return fail(p, "tls_certcheck off is not supported: smtpkit always verifies the "
                           "server certificate");
        }
        return true;
    case KEY_NOSTARTTLS:
        acc->tls_starttls = CLI_SWITCH_OFF;
        return true;
    case KEY_PROTOCOL:
        if (arg[0] != '\0' && strcasecmp(arg, "smtp") != 0) {
            return fail(p, "protocol %s is not supported (only smtp)", arg);
        }
        return true;
    case KEY_REFUSED:
        return fail(p, "%s: %s", k->name, k->reason);
    default:
        return true;
    }
}

static bool apply_key(parser *p, const key *k, const char *arg)
{
    cli_account *acc = current_account(p);

    switch (k->kind) {
    case KEY_STRING:
        if (k->offset == FIELD(host) && arg[0] == '\0') {
            return fail(p, "host needs an argument");
        }
        p->saw_password = p->saw_password || k->offset == FIELD(password);
        return set_string(p, string_field(acc, k->offset), arg);
    case KEY_PATH:
        if (k->offset == FIELD(tls_trust_file) && strcmp(arg, "system") == 0) {
            arg = ""; /* msmtp's name for the system's trust store, our default */
        }
        return set_path(p, string_field(acc, k->offset), arg);
    case KEY_AUTH:
        return set_auth(p, string_field(acc, k->offset), arg);
    case KEY_SWITCH:
        return parse_switch(p, k->name, arg, (cli_switch *)(void *)((char *)acc + k->offset));
    case KEY_PORT:
    case KEY_TIMEOUT:
        return apply_number(p, k, acc, arg);
    default:
        return apply_special(p, k, acc, arg);
    }
}

static bool apply_line(parser *p, const char *command, char *arg)
{
    size_t i;

    if (strcmp(command, "defaults") == 0) {
        if (arg[0] != '\0') {
            return fail(p, "defaults takes no argument");
        }
        p->current = DEFAULTS;
        return true;
    }
    if (strcmp(command, "account") == 0) {
        return start_account(p, arg);
    }
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(command, keys[i].name) == 0) {
            if (p->current == NO_ACCOUNT && !add_account(p, "default")) {
                return false;
            }
            return apply_key(p, &keys[i], arg);
        }
    }
    return fail(p, "unknown key '%s'", command);
}

/* Splits a line into its command and its argument (quotes removed); false for a blank or
 * comment line. */
static bool split_line(char *line, char **command, char **arg)
{
    char *rest;
    size_t len;

    line[strcspn(line, "\r\n")] = '\0';
    line = trim(line);
    if (line[0] == '\0' || line[0] == '#') {
        return false;
    }
    rest = line + strcspn(line, " \t");
    if (*rest != '\0') {
        *rest++ = '\0';
    }
    rest = trim(rest);
    len = strlen(rest);
    if (len >= 2 && rest[0] == '"' && rest[len - 1] == '"') {
        rest[len - 1] = '\0';
        rest++;
    }
    *command = line;
    *arg = rest;
    return true;
}

static bool read_lines(parser *p, FILE *in)
{
    char line[LINE_MAX_BYTES];
    bool ok = true;

    while (ok && fgets(line, sizeof line, in) != NULL) {
        char *command;
        char *arg;

        p->line++;
        if (strchr(line, '\n') == NULL && !feof(in)) {
            ok = fail(p, "line longer than %d bytes", LINE_MAX_BYTES - 2);
        } else if (split_line(line, &command, &arg)) {
            ok = apply_line(p, command, arg);
        }
        mbedtls_platform_zeroize(line, sizeof line);
    }
    if (ok && ferror(in)) {
        ok = fail(p, "read error");
    }
    return ok;
}

/* Moves the chosen account into @p out. */
static bool select_account(parser *p, const char *account_name, cli_account *out)
{
    cli_account *chosen = find_account(p, account_name != NULL ? account_name : "default");

    p->line = 0;
    if (chosen == NULL && account_name != NULL) {
        return fail(p, "no account %s", account_name);
    }
    if (chosen == NULL) {
        chosen = &p->defaults;
    }
    *out = *chosen;
    memset(chosen, 0, sizeof *chosen);
    return true;
}

static void free_parser(parser *p)
{
    size_t i;

    for (i = 0; i < p->count; i++) {
        cli_account_free(&p->accounts[i]);
    }
    free(p->accounts);
    cli_account_free(&p->defaults);
}

static bool read_config(FILE *in, const char *file_name, const char *account_name, cli_account *out,
                        char *why, size_t why_size, bool *saw_password)
{
    parser p;
    bool ok;

    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    p.file_name = file_name;
    p.current = NO_ACCOUNT;
    p.why = why;
    p.why_size = why_size;
    ok = read_lines(&p, in) && select_account(&p, account_name, out);
    *saw_password = p.saw_password;
    free_parser(&p);
    return ok;
}

bool cli_config_read(FILE *in, const char *file_name, const char *account_name, cli_account *out,
                     char *why, size_t why_size)
{
    bool saw_password;

    return read_config(in, file_name, account_name, out, why, why_size, &saw_password);
}

bool cli_config_load(const char *path, const char *account_name, cli_account *out, char *why,
                     size_t why_size)
{
    FILE *in = fopen(path, "r");
    char buffer[BUFSIZ]; /* stdio's copy of the lines, wiped below */
    struct stat st;
    bool saw_password = false;
    bool ok;

    memset(out, 0, sizeof *out);
    if (in == NULL) {
        (void)snprintf(why, why_size, "cannot read configuration file %s: %s", path,
                       strerror(errno));
        return false;
    }
    setvbuf(in, buffer, _IOFBF, sizeof buffer);
    ok = read_config(in, path, account_name, out, why, why_size, &saw_password);
    /* As msmtp: a password in a file others can read is a configuration error. */
    if (ok && saw_password && fstat(fileno(in), &st) == 0 && (st.st_mode & 077) != 0) {
        (void)snprintf(why, why_size,
                       "%s holds a password but other users can read it (chmod 600 %s)", path,
                       path);
        ok = false;
    }
    fclose(in);
    mbedtls_platform_zeroize(buffer, sizeof buffer);
    return ok;
}
