/*
 * encode_dump.c - prints what smtpkit's encoders make of fixed inputs, for check_encode.py to
 * decode with Python's own decoders (base64, quopri, email) and compare with the inputs.
 *
 * One record per line, binary-safe: "kind<TAB>hex(input)<TAB>hex(output)". The body encoders
 * run three times per input, fed in chunks of 1, 7 and all bytes through a 16-byte and a
 * 4096-byte output buffer, so that the streaming state is exercised; each run is a record.
 */
#include <stdio.h>
#include <string.h>

#include "smtpkit/encode.h"

#define OUT_MAX 65536

static unsigned char out_buf[OUT_MAX];
static size_t out_len;

static void print_hex(const unsigned char *bytes, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        printf("%02x", bytes[i]);
    }
}

static void record(const char *kind, const void *in, size_t in_len)
{
    printf("%s\t", kind);
    print_hex(in, in_len);
    putchar('\t');
    print_hex(out_buf, out_len);
    putchar('\n');
}

static int append(const char *chunk, size_t n)
{
    if (out_len + n > OUT_MAX) {
        return -1;
    }
    memcpy(out_buf + out_len, chunk, n);
    out_len += n;
    return 0;
}

/* Runs one body encoder over @p in in chunks of @p step bytes, draining a @p size buffer. */
static int run_body(bool qp, const unsigned char *in, size_t len, size_t step, size_t size)
{
    smtpkit_b64_encoder b64;
    smtpkit_qp_encoder qpe;
    char buf[4096];
    size_t at = 0, used, made, n;

    smtpkit_b64_init(&b64);
    smtpkit_qp_init(&qpe);
    out_len = 0;
    while (at < len) {
        n = len - at < step ? len - at : step;
        if ((qp ? smtpkit_qp_update(&qpe, in + at, n, buf, size, &used, &made)
                : smtpkit_b64_update(&b64, in + at, n, buf, size, &used, &made)) != SMTPKIT_OK ||
            append(buf, made) != 0) {
            return -1;
        }
        at += used;
    }
    if ((qp ? smtpkit_qp_finish(&qpe, buf, size, &made)
            : smtpkit_b64_finish(&b64, buf, size, &made)) != SMTPKIT_OK) {
        return -1;
    }
    return append(buf, made);
}

static int body(bool qp, const void *in, size_t len)
{
    static const size_t steps[] = {1, 7, (size_t)-1};
    static const size_t sizes[] = {SMTPKIT_ENCODE_OUT_MIN, 4096, 4096};
    size_t i;

    for (i = 0; i < 3; i++) {
        if (run_body(qp, in, len, steps[i], sizes[i]) != 0) {
            fprintf(stderr, "encode_dump: body encoder failed\n");
            return -1;
        }
        record(qp ? "qp" : "b64", in, len);
    }
    return 0;
}

static int base64_cases(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 56, 57, 58, 76, 1000};
    static unsigned char data[1000];
    size_t i;
    int rc = 0;

    for (i = 0; i < sizeof data; i++) {
        data[i] = (unsigned char)(i * 7 + 3);
    }
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rc |= body(false, data, sizes[i]);
    }
    for (i = 0; i < 256; i++) {
        data[i] = (unsigned char)i;
    }
    return rc | body(false, data, 256);
}

static int qp_cases(void)
{
    static const char *const texts[] = {
        "",
        "plain line\n",
        "trailing spaces   \nand tab\t\r\nend ",
        ".\n",
        "a\n.\nb\r\n.\r\n",
        ".starts with a dot",
        "\r\n.\r\n",
        "\n.\n",
        "bare\rcr\rand\nlf\r\n\r\n",
        "From here on\nFrom the start",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 = equals",
        "x=y==z",
        " ",
        "\t\n",
        "nul\0byte",
    };
    static const size_t extra_len[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8};
    static char big[12000];
    size_t i;
    int rc = 0;

    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        rc |= body(true, texts[i], extra_len[i] ? extra_len[i] : strlen(texts[i]));
    }
    for (i = 0; i < 10000; i++) { /* a 10,000-character line with dots and spaces around */
        big[i] = i % 75 == 0 ? '.' : i % 13 == 0 ? ' ' : (char)('a' + i % 26);
    }
    rc |= body(true, big, 10000);
    for (i = 0; i < 256; i++) {
        big[i] = (char)i;
    }
    rc |= body(true, big, 256);
    memset(big, ' ', 200);
    big[200] = '\n';
    return rc | body(true, big, 201);
}

static int header_case(const char *field, const char *text)
{
    smtpkit_error err;
    size_t len = 0;

    if (smtpkit_encode_header_text(field, text, (char *)out_buf, OUT_MAX, &len, &err) !=
        SMTPKIT_OK) {
        fprintf(stderr, "encode_dump: %s\n", err.message);
        return -1;
    }
    out_len = len;
    record(field, text, strlen(text));
    return 0;
}

static int header_cases(void)
{
    static const char *const subjects[] = {
        "Hello",
        "",
        "Daily report for device 42: all sensors nominal, battery 87 percent, uptime 3 days",
        "Gr\xc3\xbc\xc3\x9f"
        "e aus K\xc3\xb6ln",
        "\xe2\x82\xac 100 invoice",
        "Smile \xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82\xf0\x9f\x98\x83\xf0\x9f\x98\x84"
        "\xf0\x9f\x98\x85\xf0\x9f\x98\x86\xf0\x9f\x98\x87\xf0\x9f\x98\x88\xf0\x9f\x98\x89"
        "\xf0\x9f\x98\x8a\xf0\x9f\x98\x8b\xf0\x9f\x98\x8c\xf0\x9f\x98\x8d end",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d\xe3\x81\xa7"
        "\xe3\x81\x99\xe3\x80\x82\xe9\x95\xb7\xe3\x81\x84\xe4\xbb\xb6\xe5\x90\x8d\xe3\x82\x92"
        "\xe6\x8a\x98\xe3\x82\x8a\xe8\xbf\x94\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x99\xe3\x80\x82"
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d\xe3\x81\xa7",
        "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongword",
        "looks like =?UTF-8?B?YQ==?= an encoded word",
        "mixed ASCII and \xc3\xa9 in a rather long subject line that needs to be folded more "
        "than once, with \xf0\x9f\x93\x88 charts and \xe2\x82\xac signs everywhere in it",
    };
    size_t i;
    int rc = 0;

    for (i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
        rc |= header_case("Subject", subjects[i]);
    }
    return rc | header_case("X-A-Rather-Long-Custom-Field-Name-For-Testing", subjects[6]);
}

static int filename_cases(void)
{
    static const char *const names[] = {
        "report.csv",
        "my \"quoted\" back\\slash.txt",
        "\xe2\x82\xac-rechnung 2024.pdf",
        "\xf0\x9f\x98\x80.png",
        "Gr\xc3\xbc\xc3\x9f"
        "e (1);a=b*c'd%e.txt",
    };
    smtpkit_error err;
    size_t i, len = 0;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (smtpkit_encode_filename_param(names[i], (char *)out_buf, OUT_MAX, &len, &err) !=
            SMTPKIT_OK) {
            fprintf(stderr, "encode_dump: %s\n", err.message);
            return -1;
        }
        out_len = len;
        record("filename", names[i], strlen(names[i]));
    }
    return 0;
}

int main(void)
{
    int rc = base64_cases() | qp_cases() | header_cases() | filename_cases();

    return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}
