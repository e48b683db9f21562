/*
 * cli_cert_header.c - the C header of "smtpkit cert export --format c": a certificate as a
 * byte array a firmware compiles in, with its subject, issuer, expiry and fingerprint as
 * comments and macros.
 *
 * The output depends on the certificate and the name only (no date of generation, no host),
 * so that regenerating an unchanged anchor gives the same file and a build or a review sees
 * no change. Text from the certificate is escaped for where it lands: in a string literal,
 * quotes, backslashes and '?' (trigraphs) are escaped and any other byte outside printable
 * ASCII becomes a 3-digit octal escape; in a comment, "*" "/" pairs are split and bytes
 * outside printable ASCII become '?'. The whole body sits between clang-format off and on,
 * because a fingerprint macro is longer than any column limit and must stay one line.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli_cert.h"
#include "cli_exit.h"
#include "smtpkit/civil_time.h"

enum {
    IDENT_MAX = 63,         /* C99's minimum of significant characters in an identifier */
    COMMENT_VALUE_MAX = 85, /* " * Subject:    " is 15 columns; lines stay within 100 */
    BYTES_PER_LINE = 12,
    FINGERPRINT_SPLIT = 48 /* 16 of the 32 "AB:" groups on the first comment line */
};

static const char ident_prefix[] = "smtpkit_anchor_";

/* Words a C11 or C++17 (and C++20, C23 or GNU C) compiler does not take as a name, and names
 * of the standard headers that are macros or special (main), which the array cannot shadow. */
static const char *const taken_names[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "co_await", "co_return",
    "co_yield", "compl", "concept", "const", "const_cast", "consteval", "constexpr", "constinit",
    "continue", "decltype", "default", "delete", "do", "double", "dynamic_cast", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline",
    "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr",
    "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "restrict", "return", "short", "signed", "sizeof", "static", "static_assert",
    "static_cast", "struct", "switch", "template", "this", "thread_local", "throw", "true", "try",
    "typedef", "typeid", "typename", "typeof", "typeof_unqual", "union", "unsigned", "using",
    "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    /* not keywords, but macros of the standard headers, or main */
    "EOF", "I", "NULL", "assert", "complex", "errno", "imaginary", "main", "noreturn", "offsetof",
    "setjmp", "stderr", "stdin", "stdout", "va_arg", "va_copy", "va_end", "va_start"};

const char *cli_cert_name_problem(const char *name)
{
    size_t i;

    if (name[0] == '\0' || isdigit((unsigned char)name[0]) || strlen(name) > IDENT_MAX) {
        return "give a C identifier of at most 63 characters";
    }
    for (i = 0; name[i] != '\0'; i++) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '_') {
            return "give a C identifier of at most 63 characters";
        }
    }
    /* Any leading '_' is reserved for a name at file scope, and its macros would be _X... */
    if (name[0] == '_' || strstr(name, "__") != NULL) {
        return "a reserved identifier (a leading underscore or a double underscore)";
    }
    for (i = 0; i < sizeof taken_names / sizeof taken_names[0]; i++) {
        if (strcmp(name, taken_names[i]) == 0) {
            return "a C or C++ keyword or a name of the standard library; choose another";
        }
    }
    return NULL;
}

/* Length of an attribute value: up to the next ", " that Mbed TLS did not escape as "\,". */
static size_t value_length(const char *value)
{
    size_t len = 0;

    while (value[len] != '\0') {
        if (value[len] == ',' && value[len + 1] == ' ' && (len == 0 || value[len - 1] != '\\')) {
            break;
        }
        len++;
    }
    return len;
}

/* The value of the CN attribute of @p dn ("O=x, CN=y"), or "" when it has none. */
static void common_name(const char *dn, char *out, size_t size)
{
    const char *at = dn;
    size_t len;

    while ((at = strstr(at, "CN=")) != NULL && at != dn && !(at >= dn + 2 && at[-2] == ',')) {
        at += 3;
    }
    if (at == NULL) {
        out[0] = '\0';
        return;
    }
    at += 3;
    len = value_length(at);
    len = len < size - 1 ? len : size - 1;
    memcpy(out, at, len);
    out[len] = '\0';
}

/* smtpkit_anchor_ and the CN, lower-case, every run of other characters one '_'; when the CN
 * has no letter or digit to give (none, only symbols, or bytes outside ASCII), the first 8 hex
 * digits of the SHA-256 instead, so that such anchors still get names of their own. */
static void default_name(const smtpkit_cert_summary *s, char *out, size_t size)
{
    char cn[SMTPKIT_CERT_NAME_MAX];
    size_t len = strlen(ident_prefix);
    bool named = false;
    size_t i;

    common_name(s->subject, cn, sizeof cn);
    memcpy(out, ident_prefix, len);
    for (i = 0; cn[i] != '\0' && len < size - 1; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)cn[i]);

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[len++] = (char)c;
            named = true;
        } else if (out[len - 1] != '_') {
            out[len++] = '_';
        }
    }
    if (!named) {
        snprintf(out + strlen(ident_prefix), size - strlen(ident_prefix), "%02x%02x%02x%02x",
                 s->sha256[0], s->sha256[1], s->sha256[2], s->sha256[3]);
        return;
    }
    while (out[len - 1] == '_') {
        len--;
    }
    out[len] = '\0';
}

static void put_string_literal(FILE *out, const char *text)
{
    const unsigned char *c;

    putc('"', out);
    for (c = (const unsigned char *)text; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\' || *c == '?') {
            fprintf(out, "\\%c", *c);
        } else if (*c < 0x20 || *c > 0x7e) {
            fprintf(out, "\\%03o", *c);
        } else {
            putc(*c, out);
        }
    }
    putc('"', out);
}

/* A comment line's value, made safe and then cut with "..." to stay within 100 columns. */
static void put_comment_text(FILE *out, const char *text)
{
    char safe[2 * SMTPKIT_CERT_NAME_MAX + 1];
    size_t len = 0;
    size_t i;

    for (i = 0; text[i] != '\0' && len + 2 < sizeof safe; i++) {
        unsigned char c = (unsigned char)text[i];

        c = c < 0x20 || c > 0x7e ? '?' : c;
        /* "*" "/" would end the comment, "/" "*" warns, "??x" may be a trigraph. */
        if (len > 0 && ((safe[len - 1] == '*' && c == '/') || (safe[len - 1] == '/' && c == '*') ||
                        (len > 1 && safe[len - 2] == '?' && safe[len - 1] == '?' &&
                         strchr("=/'()!<>-", c) != NULL))) {
            safe[len++] = ' ';
        }
        safe[len++] = (char)c;
    }
    if (len > COMMENT_VALUE_MAX) {
        fprintf(out, "%.*s...\n", COMMENT_VALUE_MAX - 3, safe);
    } else {
        fprintf(out, "%.*s\n", (int)len, safe);
    }
}

static void put_comment(FILE *out, const smtpkit_cert_summary *s, const char *not_after)
{
    char fingerprint[100];

    smtpkit_fingerprint_format(s->sha256, fingerprint, sizeof fingerprint);
    fputs("/*\n * Trust anchor for smtpkit, written by \"smtpkit cert export --format c\".\n"
          " *\n * Subject:    ",
          out);
    put_comment_text(out, s->subject);
    fputs(" * Issuer:     ", out);
    put_comment_text(out, s->issuer);
    fprintf(out, " * Not after:  %s\n", not_after);
    fprintf(out, " * SHA-256:    %.*s\n", FINGERPRINT_SPLIT, fingerprint);
    fprintf(out, " *             %s\n */\n", fingerprint + FINGERPRINT_SPLIT);
}

/* NAME_H_ and the first 8 hex digits of the SHA-256: "--name smtpkit_anchors" must not take
 * the guard of smtpkit/anchors.h, and two anchors of one name can be included together. */
static void put_guard(FILE *out, const char *upper, const uint8_t *sha256)
{
    char guard[IDENT_MAX + sizeof "_H_12345678"];

    snprintf(guard, sizeof guard, "%s_H_%02X%02X%02X%02X", upper, sha256[0], sha256[1], sha256[2],
             sha256[3]);
    fprintf(out, "#ifndef %s\n#define %s\n\n/* clang-format off */\n", guard, guard);
}

static void put_macro(FILE *out, const char *upper, const char *suffix, const char *value)
{
    fprintf(out, "#define %s_%s ", upper, suffix);
    put_string_literal(out, value);
    putc('\n', out);
}

static void put_macros(FILE *out, const char *upper, const smtpkit_cert_summary *s)
{
    smtpkit_civil c = {0, 0, 0, 0, 0, 0};
    char iso[32];
    char fingerprint[100];

    (void)smtpkit_time_to_civil(s->not_after, &c);
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
             c.min, c.sec);
    smtpkit_fingerprint_format(s->sha256, fingerprint, sizeof fingerprint);
    put_macro(out, upper, "SUBJECT", s->subject);
    put_macro(out, upper, "ISSUER", s->issuer);
    put_macro(out, upper, "NOT_AFTER", iso);
    fprintf(out, "#define %s_NOT_AFTER_UNIX %lldLL\n", upper, (long long)s->not_after);
    put_macro(out, upper, "SHA256", fingerprint);
}

static void put_array(FILE *out, const char *name, const unsigned char *der, size_t len)
{
    size_t i;

    fprintf(out, "static const unsigned char %s[] = {\n", name);
    for (i = 0; i < len; i++) {
        fprintf(out, "%s0x%02x,", i % BYTES_PER_LINE == 0 ? "    " : " ", der[i]);
        if (i % BYTES_PER_LINE == BYTES_PER_LINE - 1 || i == len - 1) {
            putc('\n', out);
        }
    }
    fprintf(out, "};\nstatic const unsigned int %s_len = %zuu;\n", name, len);
}

int cli_cert_write_header(FILE *out, const unsigned char *der, size_t len, const char *name)
{
    smtpkit_cert_summary s;
    smtpkit_error err;
    char ident[IDENT_MAX + 1];
    char upper[IDENT_MAX + 1];
    char not_after[32];
    size_t i;

    smtpkit_error_clear(&err);
    if (smtpkit_cert_summarize(der, len, SMTPKIT_TIME_HOST, &s, &err) != SMTPKIT_OK) {
        return cli_fail(CLI_EXIT_SOFTWARE, "the certificate to export does not parse: %s",
                        err.message);
    }
    if (name != NULL) {
        snprintf(ident, sizeof ident, "%s", name);
    } else {
        default_name(&s, ident, sizeof ident);
    }
    for (i = 0; i <= strlen(ident); i++) {
        upper[i] = (char)toupper((unsigned char)ident[i]);
    }
    (void)smtpkit_time_format(s.not_after, not_after, sizeof not_after);

    put_comment(out, &s, not_after);
    put_guard(out, upper, s.sha256);
    put_macros(out, upper, &s);
    putc('\n', out);
    put_array(out, ident, der, len);
    fputs("/* clang-format on */\n\n#endif\n", out);
    return 0;
}
