/*
 * compose_dump.c DIR - composes fixed messages with smtpkit's composer and writes, per case,
 * a directory DIR/NAME holding the inputs (subject, text, html, att.N with att.N.name and
 * att.N.type) and the composed message read through a 7-byte (out.7) and a 4096-byte
 * (out.4096) buffer, for check_compose.py to parse with Python's email package.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smtpkit/compose.h"

#define MAX_ATT 8
#define BLOB_LEN (100 * 1024)

typedef struct blob {
    const char *name;
    const char *type;
    const uint8_t *data;
    size_t len;
} blob;

typedef struct dump_case {
    const char *name;
    const char *subject;
    const char *text;
    size_t text_len;
    const char *html;
    bool eight_bit_ok;
    blob att[MAX_ATT];
    size_t att_count;
} dump_case;

static uint8_t all_bytes[256];
static uint8_t big[BLOB_LEN];
static const char *out_dir;

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    FILE *f;
    int ok;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Composes @p k reading through @p size-byte buffers into the file @p name. */
static int compose_to(const dump_case *k, const char *dir, size_t size, const char *name)
{
    static const uint8_t random[12] = {0x5e, 0x11, 0xa0, 0x7c, 1, 2, 3, 4, 5, 6, 7, 0xff};
    static const char *const to[] = {"Bob <bob@example.test>"};
    smtpkit_buffer_source text_state, html_state, att_state[MAX_ATT];
    smtpkit_compose_attachment att[MAX_ATT];
    smtpkit_message_source html;
    smtpkit_message_headers h = {0};
    smtpkit_compose_parts parts = {0};
    smtpkit_composer c;
    smtpkit_error err;
    uint8_t buf[4096];
    size_t got = 0, i;
    char path[1024];
    FILE *f;

    h.from = "J\xc3\xbcrgen <juergen@example.test>";
    h.to = to;
    h.to_count = 1;
    h.subject = k->subject;
    h.message_id = "<0123456789abcdef@example.test>";
    parts.headers = &h;
    smtpkit_buffer_source_init(&text_state, &parts.text, k->text, k->text_len);
    if (k->html != NULL) {
        smtpkit_buffer_source_init(&html_state, &html, k->html, strlen(k->html));
        parts.html = &html;
    }
    for (i = 0; i < k->att_count; i++) {
        att[i].filename = k->att[i].name;
        att[i].content_type = k->att[i].type;
        smtpkit_buffer_source_init(&att_state[i], &att[i].content, k->att[i].data, k->att[i].len);
    }
    parts.attachments = att;
    parts.attachment_count = k->att_count;
    parts.random = random;
    parts.random_len = sizeof random;
    parts.eight_bit_ok = k->eight_bit_ok;
    if (smtpkit_composer_init(&c, &parts, &err) != SMTPKIT_OK) {
        fprintf(stderr, "%s: init: %s\n", k->name, err.message);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    do {
        if (smtpkit_composer_read(&c, buf, size, &got, &err) != SMTPKIT_OK) {
            fprintf(stderr, "%s: read: %s\n", k->name, err.message);
            fclose(f);
            return -1;
        }
        fwrite(buf, 1, got, f);
    } while (got > 0);
    return fclose(f) == 0 ? 0 : -1;
}

static int dump(const dump_case *k)
{
    char dir[1024], name[32];
    size_t i;
    int rc = 0;

    snprintf(dir, sizeof dir, "%s/%s", out_dir, k->name);
    mkdir(dir, 0777);
    rc |= write_file(dir, "subject", k->subject, strlen(k->subject));
    rc |= write_file(dir, "text", k->text, k->text_len);
    rc |= k->eight_bit_ok ? write_file(dir, "eight", "1", 1) : 0;
    rc |= k->html != NULL ? write_file(dir, "html", k->html, strlen(k->html)) : 0;
    for (i = 0; i < k->att_count; i++) {
        snprintf(name, sizeof name, "att.%zu", i);
        rc |= write_file(dir, name, k->att[i].data, k->att[i].len);
        snprintf(name, sizeof name, "att.%zu.name", i);
        rc |= write_file(dir, name, k->att[i].name, strlen(k->att[i].name));
        snprintf(name, sizeof name, "att.%zu.type", i);
        rc |= write_file(dir, name, k->att[i].type, strlen(k->att[i].type));
    }
    rc |= compose_to(k, dir, 7, "out.7");
    rc |= compose_to(k, dir, 4096, "out.4096");
    return rc;
}

static char long_text[12000];
static size_t long_len;

static void make_inputs(void)
{
    uint32_t x = 12345;
    size_t i;

    for (i = 0; i < 256; i++) {
        all_bytes[i] = (uint8_t)i;
    }
    for (i = 0; i < BLOB_LEN; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)(x >> 16);
    }
    strcpy(long_text, ".dot first\r\n.\r\nbare LF\nbare CR\rtrail space \r\nGr\xc3\xbc\xc3\x9f"
                      "e \xe2\x82\xac =3D\r\n\n.\nNUL:\0:end\r\n");
    i = strlen(long_text);
    i += strlen(long_text + i + 1) + 1; /* past the NUL */
    memset(long_text + i, 'x', 10000);
    memcpy(long_text + i + 10000, "\r\nlast line without end", 23);
    long_len = i + 10000 + 23;
}

#define CASE_TEXT(n, s, t, h, e)                                                                   \
    {                                                                                              \
        n, s, t, sizeof t - 1, h, e, {{0}}, 0                                                      \
    }

int main(int argc, char **argv)
{
    static const char utf8_subject[] =
        "Gr\xc3\xbc\xc3\x9f"
        "e aus K\xc3\xb6ln \xe2\x80\x93 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e report";
    static const char text[] = "Hello,\r\nthe log is attached.\n\xe2\x82\xac 5\r\n";
    static const char html[] = "<p>Hello, <b>the log</b> is attached. \xe2\x82\xac</p>\n";
    dump_case cases[] = {
        CASE_TEXT("text_qp", "Plain", text, NULL, false),
        CASE_TEXT("text_8bit", utf8_subject, text, NULL, true),
        CASE_TEXT("alt_qp", "Alt", text, html, false),
        CASE_TEXT("alt_8bit", "Alt", text, html, true),
        CASE_TEXT("mixed", utf8_subject, text, NULL, false),
        CASE_TEXT("mixed_alt", "Both", text, html, true),
        CASE_TEXT("long_qp", "Long", "", NULL, false),
    };
    size_t i;
    int rc = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: compose_dump DIR\n");
        return 2;
    }
    out_dir = argv[1];
    make_inputs();
    cases[6].text = long_text;
    cases[6].text_len = long_len;
    {
        blob b[] = {{"bytes.bin", "application/octet-stream", all_bytes, 256},
                    {"empty.txt", "text/plain", all_bytes, 0},
                    {"one.bin", "application/octet-stream", all_bytes + 65, 1},
                    {"57.bin", "application/octet-stream", big, 57},
                    {"58.bin", "application/octet-stream", big, 58},
                    {"blob.bin", "application/octet-stream", big, BLOB_LEN},
                    {"Gr\xc3\xb6\xc3\x9f"
                     "e \xe2\x82\xac.csv",
                     "text/csv", (const uint8_t *)"a;b\r\n1;2\r\n", 10}};
        memcpy(cases[4].att, b, sizeof b);
        cases[4].att_count = sizeof b / sizeof b[0];
        memcpy(cases[5].att, b, 2 * sizeof b[0]);
        cases[5].att_count = 2;
    }
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rc |= dump(&cases[i]);
    }
    return rc == 0 ? 0 : 1;
}
