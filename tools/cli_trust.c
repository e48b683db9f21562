/*
 * cli_trust.c - reads trust anchors from the files the user names, parses pins, and words the
 * validity of a certificate the same way everywhere in the CLI.
 *
 * An anchor file is split into single certificates here, rather than handed to Mbed TLS as a
 * whole, so that every anchor can be named by its file in messages ("anchor CN=... (root.pem)
 * expires in 9 days") and so that a C header exported for a firmware can be checked by the
 * very file that is compiled in. Only the PEM armour is removed here (Mbed TLS's pem module);
 * every certificate is then parsed by the library (smtpkit_cert_summarize).
 */
#define _POSIX_C_SOURCE 200809L

#include "cli_trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/pem.h>

#include "mbedtls_compat.h"

#include "cli_exit.h"
#include "smtpkit/civil_time.h"

/* Far above the system bundle (about 200 KB); a bigger file is not a list of anchors. */
enum { ANCHOR_FILE_MAX = 16 * 1024 * 1024 };

/* Longer than any pin: 95 characters of hex with colons, 52 of "sha256//" and base64. */
enum { PIN_TEXT_MAX = 128 };

static const char pin_usage[] =
    "give sha256// and the base64 of the SPKI SHA-256, or its 64 hex digits; ';' between pins";

enum { DER_SEQUENCE = 0x30, DER_LONG_LENGTH_1 = 0x81, DER_LONG_LENGTH_4 = 0x84 };

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

/* Reads @p path whole, NUL-terminated (PEM parsing needs the NUL). */
static int read_file(const char *option, const char *path, unsigned char **data, size_t *len)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    int rc = 0;

    if (f == NULL) {
        return cli_fail(CLI_EXIT_NOINPUT, "%s %s: %s", option, path, strerror(errno));
    }
    if (fstat(fileno(f), &st) != 0) {
        rc = cli_fail(CLI_EXIT_NOINPUT, "%s %s: %s", option, path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rc = cli_fail(CLI_EXIT_NOINPUT, "%s %s: is a directory, not a file", option, path);
    } else if (!S_ISREG(st.st_mode) || st.st_size > ANCHOR_FILE_MAX) {
        rc = cli_fail(CLI_EXIT_NOINPUT, "%s %s: not a file of certificates", option, path);
    }
    if (rc != 0) {
        fclose(f);
        return rc;
    }
    *len = (size_t)st.st_size;
    *data = malloc(*len + 1);
    if (*data == NULL) {
        rc = cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    } else if (fread(*data, 1, *len, f) != *len) {
        rc = cli_fail(CLI_EXIT_NOINPUT, "%s %s: read error", option, path);
    } else {
        (*data)[*len] = '\0';
    }
    fclose(f);
    return rc;
}

/* Takes ownership of @p der. */
static int add_cert(cli_anchor_set *set, const char *file, unsigned char *der, size_t len)
{
    cli_anchor_cert *certs = realloc(set->certs, (set->count + 1) * sizeof *certs);
    smtpkit_anchor *anchors;

    if (certs != NULL) {
        set->certs = certs;
    }
    anchors = certs != NULL ? realloc(set->anchors, (set->count + 1) * sizeof *anchors) : NULL;
    if (anchors == NULL) {
        free(der);
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    set->anchors = anchors;
    memset(&certs[set->count], 0, sizeof certs[set->count]);
    certs[set->count].der = der;
    certs[set->count].len = len;
    certs[set->count].file = file;
    anchors[set->count].data = der;
    anchors[set->count].len = len;
    set->count++;
    return 0;
}

static int add_copy(cli_anchor_set *set, const char *file, const unsigned char *der, size_t len)
{
    unsigned char *copy = malloc(len);

    if (copy == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    memcpy(copy, der, len);
    return add_cert(set, file, copy, len);
}

/* Every CERTIFICATE block of a PEM file; other blocks (keys, parameters) are skipped. */
static int load_pem(cli_anchor_set *set, const char *option, const char *file,
                    const unsigned char *text, int nocert_code)
{
    const unsigned char *at = text;
    int rc = 0;
    int index = 0;

    while (rc == 0 && (at = (const unsigned char *)strstr((const char *)at, pem_begin)) != NULL) {
        mbedtls_pem_context pem;
        size_t used = 0;

        mbedtls_pem_init(&pem);
        if (mbedtls_pem_read_buffer(&pem, pem_begin, pem_end, at, NULL, 0, &used) != 0) {
            rc = cli_fail(nocert_code,
                          "%s %s: certificate %d: broken PEM (bad base64 or no "
                          "END line)",
                          option, file, index);
        } else {
            rc = add_copy(set, file, pem.MBEDTLS_PRIVATE(buf), pem.MBEDTLS_PRIVATE(buflen));
        }
        mbedtls_pem_free(&pem);
        at += used > 0 ? used : strlen(pem_begin);
        index++;
    }
    return rc;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The bytes of the first "[] = { 0x.., ... }" array: what cert export --format c writes. */
static int load_c_array(cli_anchor_set *set, const char *option, const char *file, const char *text,
                        int nocert_code)
{
    const char *at = strstr(text, "[] = {");
    unsigned char *der = malloc(strlen(text) / 4 + 1); /* "0x30," is at least 4 characters */
    size_t len = 0;

    if (der == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    for (at = at + 6; *at != '}' && *at != '\0'; at++) {
        if (at[0] == '0' && (at[1] == 'x' || at[1] == 'X') && hex_value(at[2]) >= 0 &&
            hex_value(at[3]) >= 0) {
            der[len++] = (unsigned char)(hex_value(at[2]) * 16 + hex_value(at[3]));
            at += 3;
        } else if (*at != ',' && *at != ' ' && *at != '\n' && *at != '\r' && *at != '\t') {
            free(der);
            return cli_fail(nocert_code, "%s %s: the array holds something other than 0x.. bytes",
                            option, file);
        }
    }
    if (len == 0 || *at != '}') {
        free(der);
        return cli_fail(nocert_code, "%s %s: no certificate in its C array", option, file);
    }
    return add_cert(set, file, der, len);
}

/* Parses every certificate taken from @p file, so that a broken one is named now. */
static int summarize_new(cli_anchor_set *set, size_t first, const char *option, const char *file,
                         smtpkit_time now, int nocert_code)
{
    size_t i;

    if (first == set->count) {
        return cli_fail(nocert_code, "%s %s: no certificate in it", option, file);
    }
    for (i = first; i < set->count; i++) {
        cli_anchor_cert *cert = &set->certs[i];
        smtpkit_error err;

        cert->position = i - first;
        cert->file_count = set->count - first;
        smtpkit_error_clear(&err);
        if (smtpkit_cert_summarize(cert->der, cert->len, now, &cert->summary, &err) != SMTPKIT_OK) {
            return cli_fail(nocert_code, "%s %s: certificate %zu does not parse: %s", option, file,
                            i - first, err.message);
        }
    }
    return 0;
}

/* A SEQUENCE with a long-form length of 1 to 4 bytes: a certificate is never under 128 bytes,
 * and text (a comment line such as "0 root" above the PEM) never has 0x81-0x84 second. */
static bool is_der(const unsigned char *data, size_t len)
{
    return len > 1 && data[0] == DER_SEQUENCE && data[1] >= DER_LONG_LENGTH_1 &&
           data[1] <= DER_LONG_LENGTH_4;
}

/* PEM if it has the armour, else maybe a header. The text is searched as a C string, where a
 * stray NUL would end it and hide every certificate after it: NUL bytes become spaces first
 * (neither base64 nor the armour holds one). @p text has a NUL at @p len. */
static int load_text(cli_anchor_set *set, const char *option, const char *file, unsigned char *text,
                     size_t len, int nocert_code)
{
    size_t i;

    for (i = 0; i < len; i++) {
        text[i] = text[i] == '\0' ? ' ' : text[i];
    }
    if (strstr((const char *)text, pem_begin) != NULL) {
        return load_pem(set, option, file, text, nocert_code);
    }
    if (strstr((const char *)text, "[] = {") != NULL) {
        return load_c_array(set, option, file, (const char *)text, nocert_code);
    }
    return 0;
}

int cli_anchor_load(cli_anchor_set *set, const char *option, const char *file, smtpkit_time now,
                    int nocert_code)
{
    unsigned char *data = NULL;
    size_t len = 0;
    size_t first = set->count;
    int rc = read_file(option, file, &data, &len);

    if (rc != 0) {
        return rc;
    }

    rc = is_der(data, len) ? add_copy(set, file, data, len)
                           : load_text(set, option, file, data, len, nocert_code);
    free(data);

    return rc != 0 ? rc : summarize_new(set, first, option, file, now, nocert_code);
}

void cli_anchor_set_free(cli_anchor_set *set)
{
    size_t i;

    for (i = 0; i < set->count; i++) {
        free(set->certs[i].der);
    }
    free(set->certs);
    free(set->anchors);
    memset(set, 0, sizeof *set);
}

int cli_trust_ca_files(smtpkit_trust *trust, cli_anchor_set *set, const cli_list *files)
{
    size_t i;
    int rc = 0;

    /* One file keeps the library's own loading, which also takes a file of many roots. */
    if (files->count == 1) {
        trust->ca_file = files->items[0];
        return 0;
    }
    for (i = 0; i < files->count && rc == 0; i++) {
        rc = cli_anchor_load(set, "--ca-file", files->items[i], trust->now, CLI_EXIT_NOINPUT);
    }
    if (rc == 0 && set->count > 0) {
        trust->anchors = set->anchors;
        trust->anchor_count = set->count;
    }
    return rc;
}

int cli_trust_try(const smtpkit_trust *trust, const char *server_name)
{
    smtpkit_tls *tls = NULL;
    smtpkit_error err;

    smtpkit_error_clear(&err);
    if (smtpkit_tls_new(&tls, trust, server_name, &err) != SMTPKIT_OK) {
        return err.status == SMTPKIT_E_USAGE ? cli_fail(CLI_EXIT_NOINPUT, "%s", err.message)
                                             : cli_fail_error(&err);
    }
    smtpkit_tls_free(tls);
    return 0;
}

/* How many pins @p texts hold: each value may be a ';'-separated list, as curl's is. */
static size_t pin_count(const cli_list *texts)
{
    size_t count = 0;
    size_t i;
    const char *c;

    for (i = 0; i < texts->count; i++) {
        count++;
        for (c = texts->items[i]; *c != '\0'; c++) {
            count += *c == ';';
        }
    }
    return count;
}

/* Parses the pin of @p len bytes at @p text into @p pin; false when it is none. */
static bool parse_one_pin(const char *text, size_t len, uint8_t pin[SMTPKIT_SHA256_LEN])
{
    char one[PIN_TEXT_MAX];

    if (len == 0 || len >= sizeof one) {
        return false;
    }
    memcpy(one, text, len);
    one[len] = '\0';
    return smtpkit_pin_parse(one, pin);
}

int cli_trust_pins(smtpkit_trust *trust, uint8_t (**pins)[SMTPKIT_SHA256_LEN],
                   const cli_list *texts)
{
    size_t count = pin_count(texts);
    size_t n = 0;
    size_t i;

    *pins = NULL;
    if (count == 0) {
        return 0;
    }
    *pins = calloc(count, sizeof **pins);
    if (*pins == NULL) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    for (i = 0; i < texts->count; i++) {
        const char *at = texts->items[i];

        for (;;) {
            size_t len = strcspn(at, ";");

            if (!parse_one_pin(at, len, (*pins)[n++])) {
                return cli_fail(CLI_EXIT_USAGE, "--pinned-pubkey %s: \"%.*s\" is not a pin: %s",
                                texts->items[i], (int)len, at, pin_usage);
            }
            if (at[len] == '\0') {
                break;
            }
            at += len + 1;
        }
    }
    trust->pins = (const uint8_t(*)[SMTPKIT_SHA256_LEN]) * pins;
    trust->pin_count = count;
    return 0;
}

const char *cli_day_count(long long count, char *out, size_t size)
{
    if (count == 0) {
        snprintf(out, size, "less than a day");
    } else {
        snprintf(out, size, "%lld %s", count, count == 1 || count == -1 ? "day" : "days");
    }
    return out;
}

void cli_validity_note(const smtpkit_cert_summary *cert, smtpkit_time now, char *out, size_t size)
{
    char count[CLI_DAY_COUNT_MAX];

    if (now == SMTPKIT_TIME_UNKNOWN) {
        snprintf(out, size, "dates not checked: no trustworthy time");
    } else if (now < cert->not_before) {
        snprintf(out, size, "NOT YET VALID, starts in %s",
                 cli_day_count(smtpkit_days_between(now, cert->not_before), count, sizeof count));
    } else if (now > cert->not_after) {
        snprintf(out, size, "EXPIRED %s ago",
                 cli_day_count(smtpkit_days_between(cert->not_after, now), count, sizeof count));
    } else {
        snprintf(out, size, "%s left",
                 cli_day_count(smtpkit_days_between(now, cert->not_after), count, sizeof count));
    }
}

void cli_trust_trace_chain(void *ctx, const smtpkit_chain_summary *chain)
{
    char line[SMTPKIT_CERT_NAME_MAX + 160];
    size_t i;

    (void)ctx;
    for (i = 0; i < chain->count; i++) {
        const smtpkit_cert_summary *cert = &chain->certs[i];
        char date[32];
        char note[64];
        int64_t days = smtpkit_days_between(chain->now, cert->not_after);
        int len;

        (void)smtpkit_time_format(cert->not_after, date, sizeof date);
        cli_validity_note(cert, chain->now, note, sizeof note);
        len = snprintf(line, sizeof line, "certificate %zu: %s, expires %s (%s)", i, cert->subject,
                       date, note);
        cli_print_line("* ", line, len > 0 ? (size_t)len : 0);
        if (chain->now != SMTPKIT_TIME_UNKNOWN && days >= 0 && days < CLI_TRUST_WARN_DAYS) {
            char count[CLI_DAY_COUNT_MAX];

            len = snprintf(line, sizeof line, "warning: certificate %zu %s expires in %s", i,
                           cert->subject, cli_day_count(days, count, sizeof count));
            cli_print_line("* ", line, len > 0 ? (size_t)len : 0);
        }
    }
}
