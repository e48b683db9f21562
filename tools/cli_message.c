/*
 * cli_message.c - composes the message of smtpkit send.
 *
 * The body is never held in memory as a whole: it is read in chunks while the session sends
 * it, so a large log file costs no more memory than a short note. The Date header uses the
 * local time and its offset (RFC 5322 3.3); a clock before 2020 has evidently not been set
 * (a device without RTC or NTP), and a wrong Date is worse than none, so it is left out and
 * the receiving server adds its own. The Message-ID's random part comes from Mbed TLS's
 * CTR-DRBG seeded from the system's entropy sources.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include "cli_message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "cli_exit.h"

enum {
    EARLIEST_PLAUSIBLE_YEAR = 2020,
    MESSAGE_ID_RANDOM_BYTES = 16,
    HEADERS_SIZE_START = 4096,
    HEADERS_SIZE_MAX = 1024 * 1024
};

void cli_message_init(cli_message *m)
{
    memset(m, 0, sizeof *m);
    m->body_fd = -1;
}

int cli_message_open_body(cli_message *m, const char *path)
{
    struct stat st;

    if (path == NULL || strcmp(path, "-") == 0) {
        m->body_fd = STDIN_FILENO;
        m->body_name = "standard input";
    } else {
        m->body_fd = open(path, O_RDONLY | O_CLOEXEC);
        m->body_name = path;
        if (m->body_fd < 0) {
            return cli_fail(CLI_EXIT_NOINPUT, "--body-file %s: %s", path, strerror(errno));
        }
        m->close_body = true;
    }
    if (fstat(m->body_fd, &st) != 0) {
        return cli_fail(CLI_EXIT_NOINPUT, "body %s: %s", m->body_name, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return cli_fail(CLI_EXIT_NOINPUT, "body %s: %s", m->body_name, strerror(EISDIR));
    }
    if (S_ISREG(st.st_mode)) {
        m->body_size = (size_t)st.st_size;
    }
    return 0;
}

/* Local time, or false when the clock cannot be trusted. */
static bool local_date(smtpkit_datetime *date)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == (time_t)-1 || localtime_r(&now, &tm) == NULL ||
        tm.tm_year + 1900 < EARLIEST_PLAUSIBLE_YEAR) {
        return false;
    }
    date->year = tm.tm_year + 1900;
    date->month = tm.tm_mon + 1;
    date->day = tm.tm_mday;
    date->hour = tm.tm_hour;
    date->minute = tm.tm_min;
    date->second = tm.tm_sec > 59 ? 59 : tm.tm_sec;
    date->utc_offset_minutes = (int)(tm.tm_gmtoff / 60);
    date->weekday = tm.tm_wday;
    return true;
}

static int random_bytes(unsigned char *out, size_t len)
{
    static const unsigned char personalization[] = "smtpkit message-id";
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    int ret;

    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, personalization,
                                sizeof personalization - 1);
    if (ret == 0) {
        ret = mbedtls_ctr_drbg_random(&drbg, out, len);
    }
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return ret;
}

/* The Message-ID: "<32 hex digits@domain of the sender>". */
static int make_message_id(const char *from, char *out, size_t size)
{
    unsigned char random[MESSAGE_ID_RANDOM_BYTES];
    char domain[SMTPKIT_ADDRESS_MAX + 1];
    smtpkit_mailbox mailbox;
    smtpkit_error err;
    const char *at;
    size_t domain_len;

    if (smtpkit_mailbox_parse(from, &mailbox, &err) != SMTPKIT_OK) {
        return cli_fail(CLI_EXIT_USAGE, "--from: %s", err.message);
    }
    at = mailbox.addr + mailbox.addr_len;
    while (at > mailbox.addr && at[-1] != '@') {
        at--;
    }
    domain_len = (size_t)(mailbox.addr + mailbox.addr_len - at);
    memcpy(domain, at, domain_len);
    domain[domain_len] = '\0';
    if (random_bytes(random, sizeof random) != 0) {
        return cli_fail(CLI_EXIT_SOFTWARE, "no random bytes for the Message-ID");
    }
    if (smtpkit_message_make_id(random, sizeof random, domain, out, size) != SMTPKIT_OK) {
        return cli_fail(CLI_EXIT_SOFTWARE, "the Message-ID does not fit");
    }
    return 0;
}

/* Writes the headers into a buffer that grows until they fit. */
static int write_headers(cli_message *m, const smtpkit_message_headers *h)
{
    size_t size;

    for (size = HEADERS_SIZE_START; size <= HEADERS_SIZE_MAX; size *= 2) {
        smtpkit_error err;
        smtpkit_status status;
        char *grown = realloc(m->headers, size);

        if (grown == NULL) {
            return cli_fail(CLI_EXIT_SOFTWARE, "out of memory for the message headers");
        }
        m->headers = grown;
        smtpkit_error_clear(&err);
        status = smtpkit_message_write_headers(h, m->headers, size, &m->headers_len, &err);
        if (status == SMTPKIT_OK) {
            return 0;
        }
        if (status != SMTPKIT_E_BUFFER) {
            return cli_fail_error(&err);
        }
    }
    return cli_fail(CLI_EXIT_USAGE, "the message headers are longer than %d bytes",
                    HEADERS_SIZE_MAX);
}

int cli_message_compose(cli_message *m, smtpkit_message_headers *h)
{
    char message_id[SMTPKIT_ADDRESS_MAX + 2 * MESSAGE_ID_RANDOM_BYTES + 8];
    smtpkit_datetime date;
    int rc = make_message_id(h->from, message_id, sizeof message_id);

    if (rc != 0) {
        return rc;
    }
    h->message_id = message_id;
    h->date = local_date(&date) ? &date : NULL;
    rc = write_headers(m, h);
    h->message_id = NULL;
    h->date = NULL;
    return rc;
}

static smtpkit_status message_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                   smtpkit_error *err)
{
    cli_message *m = ctx;
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    ssize_t n;

    if (m->headers_pos < m->headers_len) {
        size_t left = m->headers_len - m->headers_pos;

        *got = left < size ? left : size;
        memcpy(buf, m->headers + m->headers_pos, *got);
        m->headers_pos += *got;
        return SMTPKIT_OK;
    }
    do {
        n = read(m->body_fd, buf, size);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        *got = (size_t)n;
        return SMTPKIT_OK;
    }
    *got = 0;
    if (snprintf(message, sizeof message, "cannot read the message body (%s): %s", m->body_name,
                 strerror(errno)) < 0) {
        message[0] = '\0';
    }
    return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_BODY, message);
}

void cli_message_source(cli_message *m, smtpkit_message_source *src)
{
    src->ctx = m;
    src->read = message_read;
}

size_t cli_message_size_hint(const cli_message *m)
{
    return m->body_size == 0 ? 0 : m->headers_len + m->body_size;
}

void cli_message_close(cli_message *m)
{
    if (m->close_body && m->body_fd >= 0) {
        close(m->body_fd);
    }
    free(m->headers);
    cli_message_init(m);
}
