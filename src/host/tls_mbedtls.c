/*
 * tls_mbedtls.c - the TLS port over Mbed TLS 2.28 or 3.x (smtpkit/tls.h).
 *
 * A client that always verifies: VERIFY_REQUIRED, TLS 1.2 at least (RFC 8314 section 4.1,
 * RFC 8996), the expected name set with mbedtls_ssl_set_hostname() so that it is both sent as
 * SNI and checked against the certificate (RFC 6125). Anchors come from a file, a directory,
 * memory, a list of compiled-in anchors or the system bundle. The chain is judged once more by
 * the verify callback of tls_verify.c (dates against the caller's time, pins, the summary of
 * the path). The record layer runs over the non-blocking socket port, so
 * every call may ask to be repeated; socket failures seen inside Mbed TLS's callbacks are kept
 * and reported as the I/O errors they are, not as an opaque TLS error. Version differences
 * between Mbed TLS 2.28 and 3.x live in mbedtls_compat.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtpkit/tls.h"

#include "host/cert_x509.h"
#include "host/errorf.h"
#include "host/tls_internal.h"
#include "host/tls_verify.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "mbedtls_compat.h"

struct smtpkit_tls {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt anchors;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    smtpkit_verifier verifier;
    smtpkit_error verdict; /* inspect mode: the failure a verifying handshake would report */
    int fd;
    bool inspect;           /* complete the handshake whatever the chain (the probe) */
    bool closed;            /* close_notify sent */
    smtpkit_error io_error; /* a socket failure seen by the callbacks */
    char server_name[256];  /* for messages */
};

/* Mbed TLS's text for @p ret, with the code, e.g. "SSL - ... (-0x7280)". */
static void describe(int ret, char *out, size_t size)
{
    char text[120];

    mbedtls_strerror(ret, text, sizeof text);
    snprintf(out, size, "%s (-0x%04x)", text, (unsigned)-ret);
}

static smtpkit_status file_error(smtpkit_error *err, const char *what, const char *path, int ret)
{
    char reason[140];

    describe(ret, reason, sizeof reason);
    return smtpkit_errorf(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "cannot use %s %s: %s", what,
                          path, reason);
}

/* Mbed TLS says only "file I/O error": check first, so that the message can say why. */
static smtpkit_status check_readable(const char *what, const char *path, bool is_dir,
                                     smtpkit_error *err)
{
    if (is_dir) {
        DIR *dir = opendir(path);

        if (dir != NULL) {
            closedir(dir);
            return SMTPKIT_OK;
        }
    } else {
        struct stat st;
        FILE *file;

        /* fopen() opens a directory too, and Mbed TLS then fails with an allocation error. */
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            return smtpkit_errorf(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                  "cannot read %s %s: it is a directory", what, path);
        }
        file = fopen(path, "rb");
        if (file != NULL) {
            fclose(file);
            return SMTPKIT_OK;
        }
    }
    return smtpkit_errorf(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE, "cannot read %s %s: %s", what,
                          path, strerror(errno));
}

static smtpkit_status load_ca_file(smtpkit_tls *t, const char *what, const char *path,
                                   smtpkit_error *err)
{
    int ret;

    if (check_readable(what, path, false, err) != SMTPKIT_OK) {
        return err->status;
    }
    /* A positive result counts certificates that did not parse next to ones that did (a
     * system bundle may hold a few Mbed TLS cannot read): usable. None at all is negative. */
    ret = mbedtls_x509_crt_parse_file(&t->anchors, path);
    return ret < 0 ? file_error(err, what, path, ret) : SMTPKIT_OK;
}

static smtpkit_status load_ca_dir(smtpkit_tls *t, const char *path, smtpkit_error *err)
{
    size_t before = SMTPKIT_X509_CRT_RAW_LEN(&t->anchors);
    int ret;

    if (check_readable("CA directory", path, true, err) != SMTPKIT_OK) {
        return err->status;
    }
    ret = mbedtls_x509_crt_parse_path(&t->anchors, path);
    if (ret < 0) {
        return file_error(err, "CA directory", path, ret);
    }
    if (before == 0 && SMTPKIT_X509_CRT_RAW_LEN(&t->anchors) == 0) {
        return file_error(err, "CA directory", path, MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT);
    }
    return SMTPKIT_OK;
}

/* Each anchor is DER or PEM; a failure names it by its index in trust->anchors. */
static smtpkit_status load_anchor_list(smtpkit_tls *t, const smtpkit_trust *trust,
                                       smtpkit_error *err)
{
    size_t i;

    for (i = 0; i < trust->anchor_count; i++) {
        char what[32];

        snprintf(what, sizeof what, "anchor %zu", i);
        if (smtpkit_x509_parse(&t->anchors, trust->anchors[i].data, trust->anchors[i].len, what,
                               err) != SMTPKIT_OK) {
            return err->status;
        }
    }
    return SMTPKIT_OK;
}

static smtpkit_status load_anchors(smtpkit_tls *t, const smtpkit_trust *trust, smtpkit_error *err)
{
    bool given = false;

    if (trust != NULL && trust->ca_file != NULL) {
        given = true;
        if (load_ca_file(t, "CA file", trust->ca_file, err) != SMTPKIT_OK) {
            return err->status;
        }
    }
    if (trust != NULL && trust->ca_dir != NULL) {
        given = true;
        if (load_ca_dir(t, trust->ca_dir, err) != SMTPKIT_OK) {
            return err->status;
        }
    }
    if (trust != NULL && trust->ca_mem != NULL) {
        given = true;
        if (smtpkit_x509_parse(&t->anchors, trust->ca_mem, trust->ca_mem_len,
                               "CA certificates in memory", err) != SMTPKIT_OK) {
            return err->status;
        }
    }
    if (trust != NULL && trust->anchor_count > 0) {
        given = true;
        if (trust->anchors == NULL) {
            return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                     "anchor_count is set but anchors is NULL");
        }
        if (load_anchor_list(t, trust, err) != SMTPKIT_OK) {
            return err->status;
        }
    }
    if (!given) {
        return load_ca_file(t, "system CA bundle", SMTPKIT_SYSTEM_CA_FILE, err);
    }
    return SMTPKIT_OK;
}

static smtpkit_status load_client_cert(smtpkit_tls *t, const smtpkit_trust *trust,
                                       smtpkit_error *err)
{
    const char *cert = trust != NULL ? trust->client_cert_file : NULL;
    const char *key = trust != NULL ? trust->client_key_file : NULL;
    int ret;

    if (cert == NULL && key == NULL) {
        return SMTPKIT_OK;
    }
    if (cert == NULL || key == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "a client certificate needs both a certificate and a key file");
    }
    if (check_readable("client certificate", cert, false, err) != SMTPKIT_OK ||
        check_readable("client key", key, false, err) != SMTPKIT_OK) {
        return err->status;
    }
    ret = mbedtls_x509_crt_parse_file(&t->own_cert, cert);
    if (ret != 0) {
        return file_error(err, "client certificate", cert,
                          ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
    }
    ret = SMTPKIT_PK_PARSE_KEYFILE(&t->own_key, key, NULL, mbedtls_ctr_drbg_random, &t->drbg);
    if (ret != 0) {
        return file_error(err, "client key", key, ret);
    }
    ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->own_cert, &t->own_key);
    return ret != 0 ? file_error(err, "client certificate", cert, ret) : SMTPKIT_OK;
}

/* Socket callbacks for Mbed TLS: smtpkit_net_* underneath, failures kept for the caller. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    smtpkit_tls *t = ctx;
    smtpkit_io want;
    size_t put;

    if (len > INT_MAX) {
        len = INT_MAX;
    }
    if (smtpkit_net_write(t->fd, buf, len, &put, &want, &t->io_error) != SMTPKIT_OK) {
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
    if (want != SMTPKIT_IO_DONE) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    return (int)put;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    smtpkit_tls *t = ctx;
    smtpkit_io want;
    size_t got;

    if (len > INT_MAX) {
        len = INT_MAX;
    }
    if (smtpkit_net_read(t->fd, buf, len, &got, &want, &t->io_error) != SMTPKIT_OK) {
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    if (want != SMTPKIT_IO_DONE) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    return (int)got;
}

static smtpkit_status library_error(smtpkit_error *err, const char *what, int ret)
{
    char reason[140];

    describe(ret, reason, sizeof reason);
    return smtpkit_errorf(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_NONE, "%s: %s", what, reason);
}

static smtpkit_status configure(smtpkit_tls *t, const smtpkit_trust *trust, smtpkit_error *err)
{
    static const unsigned char personalization[] = "smtpkit tls";
    int ret;

    if (SMTPKIT_PSA_CRYPTO_INIT() != 0) {
        return library_error(err, "PSA crypto init", MBEDTLS_ERR_SSL_INTERNAL_ERROR);
    }
    ret = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, personalization,
                                sizeof personalization - 1);
    if (ret != 0) {
        return library_error(err, "seeding the random generator", ret);
    }
    ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        return library_error(err, "TLS configuration", ret);
    }
    /* The probe must see the chain even when it does not verify; it never sends anything
     * over such a connection, and its verdict is computed from the same flags. */
    mbedtls_ssl_conf_authmode(&t->conf, t->inspect ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                   : MBEDTLS_SSL_VERIFY_REQUIRED);
    SMTPKIT_SSL_CONF_MIN_TLS12(&t->conf);
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);

    if (load_anchors(t, trust, err) != SMTPKIT_OK ||
        load_client_cert(t, trust, err) != SMTPKIT_OK) {
        return err->status;
    }
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->anchors, NULL);
    mbedtls_ssl_conf_verify(&t->conf, smtpkit_verifier_callback, &t->verifier);
    return SMTPKIT_OK;
}

static smtpkit_status setup_session(smtpkit_tls *t, const char *server_name, smtpkit_error *err)
{
    int ret = mbedtls_ssl_setup(&t->ssl, &t->conf);

    if (ret != 0) {
        return library_error(err, "TLS setup", ret);
    }
    /* Both the SNI extension and the name the certificate must carry. */
    ret = mbedtls_ssl_set_hostname(&t->ssl, server_name);
    if (ret != 0) {
        return library_error(err, "TLS server name", ret);
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    return SMTPKIT_OK;
}

static smtpkit_status create(smtpkit_tls **tls, const smtpkit_trust *trust, const char *server_name,
                             bool inspect, smtpkit_error *err)
{
    smtpkit_tls *t;

    *tls = NULL;
    if (server_name == NULL || server_name[0] == '\0' || strlen(server_name) > 253) {
        return smtpkit_error_set(err, SMTPKIT_E_USAGE, SMTPKIT_STAGE_NONE,
                                 "TLS needs the server's name (1 to 253 characters) to verify");
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_NONE,
                                 "out of memory creating the TLS context");
    }
    t->fd = -1;
    t->inspect = inspect;
    snprintf(t->server_name, sizeof t->server_name, "%s", server_name);
    smtpkit_verifier_init(&t->verifier, trust, &t->anchors, t->server_name, inspect);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_ssl_init(&t->ssl);
    mbedtls_x509_crt_init(&t->anchors);
    mbedtls_x509_crt_init(&t->own_cert);
    mbedtls_pk_init(&t->own_key);

    if (configure(t, trust, err) != SMTPKIT_OK ||
        setup_session(t, server_name, err) != SMTPKIT_OK) {
        smtpkit_tls_free(t);
        return err->status;
    }
    *tls = t;
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_tls_new(smtpkit_tls **tls, const smtpkit_trust *trust,
                               const char *server_name, smtpkit_error *err)
{
    return create(tls, trust, server_name, false, err);
}

smtpkit_status smtpkit_tls_new_inspect(smtpkit_tls **tls, const smtpkit_trust *trust,
                                       const char *server_name, smtpkit_error *err)
{
    return create(tls, trust, server_name, true, err);
}

void smtpkit_tls_free(smtpkit_tls *tls)
{
    if (tls == NULL) {
        return;
    }
    smtpkit_verifier_free(&tls->verifier);
    mbedtls_ssl_free(&tls->ssl);
    mbedtls_ssl_config_free(&tls->conf);
    mbedtls_pk_free(&tls->own_key);
    mbedtls_x509_crt_free(&tls->own_cert);
    mbedtls_x509_crt_free(&tls->anchors);
    mbedtls_ctr_drbg_free(&tls->drbg);
    mbedtls_entropy_free(&tls->entropy);
    mbedtls_platform_zeroize(tls, sizeof *tls);
    free(tls);
}

void smtpkit_tls_set_fd(smtpkit_tls *tls, int fd)
{
    tls->fd = fd;
}

/* After a failed Mbed TLS call: the socket's own failure if there was one, else TLS's. */
static smtpkit_status record_failed(smtpkit_tls *t, const char *what, int ret, smtpkit_error *err)
{
    char reason[140];

    if (t->io_error.status != SMTPKIT_OK) {
        *err = t->io_error;
        return err->status;
    }
    describe(ret, reason, sizeof reason);
    return smtpkit_errorf(err, SMTPKIT_E_TLS, SMTPKIT_STAGE_TLS, "%s: %s", what, reason);
}

/*
 * A handshake that failed before or outside the verification of the chain. Two of Mbed TLS's
 * codes are made plain: MBEDTLS_ERR_X509_FATAL_ERROR, which its chain verification returns
 * (with smtpkit's verify callback, which never fails, and no CA callback) only for a path of
 * more than MBEDTLS_X509_MAX_INTERMEDIATE_CA intermediates; it stops before calling the verify
 * callback, so no certificate was seen and the probe returns this error without a chain. And
 * MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE, also its answer to a handshake message it cannot hold.
 */
static smtpkit_status handshake_failed(smtpkit_tls *t, int ret, smtpkit_error *err)
{
    char reason[140];

    if (t->io_error.status != SMTPKIT_OK) {
        *err = t->io_error;
        return err->status;
    }
    if (ret == MBEDTLS_ERR_X509_FATAL_ERROR) {
        /* Split only to stay within 100 columns; each part is whole words to grep. */
        return smtpkit_errorf(err, SMTPKIT_E_CERT, SMTPKIT_STAGE_TLS,
                              "server certificate does not verify: "
                              "the server's chain is longer than the %d "
                              "intermediate certificates Mbed TLS accepts",
                              MBEDTLS_X509_MAX_INTERMEDIATE_CA);
    }
    if (ret == MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE) {
        describe(ret, reason, sizeof reason);
        return smtpkit_errorf(err, SMTPKIT_E_TLS, SMTPKIT_STAGE_TLS,
                              "TLS: %s (Mbed TLS also says this when a handshake message, "
                              "such as a very large certificate chain, "
                              "exceeds its 16 KB input buffer)",
                              reason);
    }
    return record_failed(t, "TLS", ret, err);
}

/* Maps Mbed TLS's "call again" codes; true when @p ret is one of them. */
static bool wants_more(int ret, smtpkit_io *want)
{
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
        *want = SMTPKIT_IO_WANT_READ;
        return true;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        *want = SMTPKIT_IO_WANT_WRITE;
        return true;
    }
    return false;
}

/* A completed handshake: in inspect mode, the verdict a verifying context would give. */
static smtpkit_status handshake_done(smtpkit_tls *tls)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&tls->ssl);

    smtpkit_error_clear(&tls->verdict);
    if (tls->inspect && flags != 0) {
        (void)smtpkit_verifier_failed(&tls->verifier, flags, &tls->verdict);
    }
    smtpkit_verifier_report(&tls->verifier);
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_tls_handshake(smtpkit_tls *tls, smtpkit_io *want, smtpkit_error *err)
{
    uint32_t flags;
    int ret;

    *want = SMTPKIT_IO_DONE;
    smtpkit_error_clear(&tls->io_error);
    do {
        ret = mbedtls_ssl_handshake(&tls->ssl);
    } while (SMTPKIT_SSL_IS_RETRY(ret));

    if (wants_more(ret, want)) {
        return SMTPKIT_OK;
    }
    if (ret == 0) {
        return handshake_done(tls);
    }
    /* (uint32_t)-1 means verification did not run (no certificate received yet). */
    flags = mbedtls_ssl_get_verify_result(&tls->ssl);
    if (flags != 0 && flags != (uint32_t)-1) {
        smtpkit_status status = smtpkit_verifier_failed(&tls->verifier, flags, err);

        smtpkit_verifier_report(&tls->verifier);
        return status;
    }
    return handshake_failed(tls, ret, err);
}

smtpkit_status smtpkit_tls_read(smtpkit_tls *tls, uint8_t *buf, size_t size, size_t *got,
                                smtpkit_io *want, smtpkit_error *err)
{
    int ret;

    *got = 0;
    *want = SMTPKIT_IO_DONE;
    smtpkit_error_clear(&tls->io_error);
    do {
        ret = mbedtls_ssl_read(&tls->ssl, buf, size);
    } while (SMTPKIT_SSL_IS_RETRY(ret));

    if (ret > 0) {
        *got = (size_t)ret;
        return SMTPKIT_OK;
    }
    /* close_notify, or a TCP close without it: SMTP replies are self-delimiting, so a
     * truncation is caught by the reply parser; report both as the end of the stream. */
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        return SMTPKIT_OK;
    }
    if (wants_more(ret, want)) {
        return SMTPKIT_OK;
    }
    return record_failed(tls, "TLS read", ret, err);
}

smtpkit_status smtpkit_tls_write(smtpkit_tls *tls, const uint8_t *buf, size_t len, size_t *put,
                                 smtpkit_io *want, smtpkit_error *err)
{
    int ret;

    *put = 0;
    *want = SMTPKIT_IO_DONE;
    smtpkit_error_clear(&tls->io_error);
    ret = mbedtls_ssl_write(&tls->ssl, buf, len);
    if (ret >= 0) {
        *put = (size_t)ret;
        return SMTPKIT_OK;
    }
    if (wants_more(ret, want)) {
        return SMTPKIT_OK;
    }
    return record_failed(tls, "TLS write", ret, err);
}

void smtpkit_tls_close_notify(smtpkit_tls *tls)
{
    if (tls == NULL || tls->closed || tls->fd < 0) {
        return;
    }
    tls->closed = true;
    (void)mbedtls_ssl_close_notify(&tls->ssl);
}

void smtpkit_tls_describe(const smtpkit_tls *tls, char *out, size_t size)
{
    snprintf(out, size, "%s, %s", mbedtls_ssl_get_version(&tls->ssl),
             mbedtls_ssl_get_ciphersuite(&tls->ssl));
}

const smtpkit_chain_summary *smtpkit_tls_chain(const smtpkit_tls *tls)
{
    return &tls->verifier.chain;
}

/* Hands the copies over: the probe frees them from now on. */
static void move_copies(smtpkit_der *to, smtpkit_der *from)
{
    size_t i;

    for (i = 0; i < SMTPKIT_CHAIN_MAX; i++) {
        to[i] = from[i];
        from[i].data = NULL;
        from[i].len = 0;
    }
}

smtpkit_status smtpkit_tls_take_inspection(smtpkit_tls *tls, smtpkit_probe *probe,
                                           smtpkit_error *err)
{
    smtpkit_verifier *v = &tls->verifier;

    if (v->out_of_memory) {
        return smtpkit_error_set(err, SMTPKIT_E_INTERNAL, SMTPKIT_STAGE_TLS,
                                 "out of memory copying the server's certificates");
    }
    move_copies(probe->sent, v->sent);
    move_copies(probe->path, v->path);
    probe->sent_count = v->sent_count;
    probe->sent_total = v->sent_total;
    v->sent_count = 0;
    v->sent_total = 0;
    probe->chain = v->chain;
    probe->verify = tls->verdict;
    return SMTPKIT_OK;
}
