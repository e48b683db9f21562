/*
 * sasl.c - client responses of the SASL mechanisms used with SMTP AUTH (RFC 4954): PLAIN
 * (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195), XOAUTH2 (Google's and
 * Microsoft's bearer-token mechanism) and OAUTHBEARER (RFC 7628, with the gs2 header of
 * RFC 5801).
 *
 * Responses are base64-encoded through a streaming writer: the credential bytes go into a
 * 48-byte stack block that is encoded straight into the caller's buffer whenever it fills,
 * and wiped at the end, so no whole plaintext copy of a password or token ever exists.
 * Mbed TLS provides base64 and HMAC-MD5 (mbedtls_md_hmac may allocate through Mbed TLS's own
 * platform calloc; the core itself never does).
 */
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "mbedtls_compat.h"
#include "core/sasl.h"
#include "core/text.h"

static const char *const mech_names[] = {
    [SMTPKIT_AUTH_AUTO] = "AUTO",       [SMTPKIT_AUTH_PLAIN] = "PLAIN",
    [SMTPKIT_AUTH_LOGIN] = "LOGIN",     [SMTPKIT_AUTH_CRAM_MD5] = "CRAM-MD5",
    [SMTPKIT_AUTH_XOAUTH2] = "XOAUTH2", [SMTPKIT_AUTH_OAUTHBEARER] = "OAUTHBEARER",
};

#define MECH_COUNT (sizeof mech_names / sizeof mech_names[0])

const char *smtpkit_auth_mech_name(smtpkit_auth_mech mech)
{
    return (unsigned)mech < MECH_COUNT ? mech_names[mech] : "unknown";
}

bool smtpkit_auth_mech_parse(const char *name, smtpkit_auth_mech *mech)
{
    size_t len = smtpkit_strnlen(name, 32);

    if (smtpkit_equal_nocase(name, len, "AUTO")) {
        *mech = SMTPKIT_AUTH_AUTO;
        return true;
    }
    return smtpkit_sasl_lookup(name, len, mech);
}

bool smtpkit_sasl_lookup(const char *name, size_t len, smtpkit_auth_mech *mech)
{
    unsigned i;

    for (i = SMTPKIT_AUTH_PLAIN; i < MECH_COUNT; i++) {
        if (smtpkit_equal_nocase(name, len, mech_names[i])) {
            *mech = (smtpkit_auth_mech)i;
            return true;
        }
    }
    return false;
}

bool smtpkit_sasl_enabled(smtpkit_auth_mech mech)
{
    switch (mech) {
    case SMTPKIT_AUTH_PLAIN:
        return true;
    case SMTPKIT_AUTH_LOGIN:
        return SMTPKIT_WITH_LOGIN != 0;
    case SMTPKIT_AUTH_CRAM_MD5:
        return SMTPKIT_WITH_CRAM_MD5 != 0;
    case SMTPKIT_AUTH_XOAUTH2:
    case SMTPKIT_AUTH_OAUTHBEARER:
        return SMTPKIT_WITH_OAUTH != 0;
    default:
        return false;
    }
}

bool smtpkit_sasl_has_initial(smtpkit_auth_mech mech)
{
    return mech == SMTPKIT_AUTH_PLAIN || mech == SMTPKIT_AUTH_XOAUTH2 ||
           mech == SMTPKIT_AUTH_OAUTHBEARER;
}

void smtpkit_sasl_wipe(void *buf, size_t len)
{
    mbedtls_platform_zeroize(buf, len);
}

/* Streaming base64 writer. The block is a multiple of 3 bytes, so only the last flush pads. */
typedef struct b64_writer {
    unsigned char block[48];
    size_t block_len;
    char *out;
    size_t size;
    size_t len;
    bool full;
} b64_writer;

static void b64_begin(b64_writer *w, char *out, size_t size)
{
    w->block_len = 0;
    w->out = out;
    w->size = size;
    w->len = 0;
    w->full = size == 0;
    if (size > 0) {
        out[0] = '\0';
    }
}

static void b64_flush(b64_writer *w)
{
    size_t olen = 0;

    if (w->block_len > 0 && !w->full) {
        if (mbedtls_base64_encode((unsigned char *)w->out + w->len, w->size - w->len, &olen,
                                  w->block, w->block_len) != 0) {
            w->full = true;
        } else {
            w->len += olen;
        }
    }
    w->block_len = 0;
}

static void b64_put(b64_writer *w, const void *data, size_t len)
{
    const unsigned char *bytes = data;
    size_t i;

    for (i = 0; i < len; i++) {
        w->block[w->block_len++] = bytes[i];
        if (w->block_len == sizeof w->block) {
            b64_flush(w);
        }
    }
}

static void b64_put_str(b64_writer *w, const char *str)
{
    b64_put(w, str, strlen(str));
}

static smtpkit_status b64_end(b64_writer *w, size_t *len)
{
    b64_flush(w);
    smtpkit_sasl_wipe(w->block, sizeof w->block);
    if (w->full) {
        if (w->size > 0) {
            smtpkit_sasl_wipe(w->out, w->size);
        }
        *len = 0;
        return SMTPKIT_E_BUFFER;
    }
    *len = w->len;
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_sasl_plain(const char *user, const char *secret, char *out, size_t size,
                                  size_t *len)
{
    b64_writer w;

    b64_begin(&w, out, size);
    b64_put(&w, "", 1);
    b64_put_str(&w, user);
    b64_put(&w, "", 1);
    b64_put_str(&w, secret);
    return b64_end(&w, len);
}

smtpkit_status smtpkit_sasl_login(const char *text, char *out, size_t size, size_t *len)
{
    b64_writer w;

    b64_begin(&w, out, size);
    b64_put_str(&w, text);
    return b64_end(&w, len);
}

#if SMTPKIT_WITH_CRAM_MD5
static void hex_lower(const unsigned char *bytes, size_t len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
}

/* Keyed MD5 of the decoded challenge, as 32 lowercase hex digits (RFC 2195 section 2). */
static smtpkit_status cram_digest(const char *secret, const char *challenge, size_t challenge_len,
                                  char hex[32])
{
    unsigned char decoded[SMTPKIT_SASL_CHALLENGE_MAX];
    unsigned char digest[16];
    size_t decoded_len = 0;
    const mbedtls_md_info_t *md5 = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    smtpkit_status status = SMTPKIT_E_PROTOCOL;

    if (challenge_len > 0 &&
        mbedtls_base64_decode(decoded, sizeof decoded, &decoded_len,
                              (const unsigned char *)challenge, challenge_len) == 0 &&
        decoded_len > 0) {
        status = SMTPKIT_E_INTERNAL;
        if (md5 != NULL && mbedtls_md_hmac(md5, (const unsigned char *)secret, strlen(secret),
                                           decoded, decoded_len, digest) == 0) {
            hex_lower(digest, sizeof digest, hex);
            status = SMTPKIT_OK;
        }
    }
    smtpkit_sasl_wipe(digest, sizeof digest);
    return status;
}
#endif

smtpkit_status smtpkit_sasl_cram_md5(const char *user, const char *secret, const char *challenge,
                                     size_t challenge_len, char *out, size_t size, size_t *len)
{
#if SMTPKIT_WITH_CRAM_MD5
    char hex[32];
    b64_writer w;
    smtpkit_status status = cram_digest(secret, challenge, challenge_len, hex);

    *len = 0;
    if (status == SMTPKIT_OK) {
        b64_begin(&w, out, size);
        b64_put_str(&w, user);
        b64_put(&w, " ", 1);
        b64_put(&w, hex, sizeof hex);
        status = b64_end(&w, len);
    }
    smtpkit_sasl_wipe(hex, sizeof hex);
    return status;
#else
    (void)user;
    (void)secret;
    (void)challenge;
    (void)challenge_len;
    (void)out;
    (void)size;
    *len = 0;
    return SMTPKIT_E_INTERNAL;
#endif
}

smtpkit_status smtpkit_sasl_xoauth2(const char *user, const char *token, char *out, size_t size,
                                    size_t *len)
{
    b64_writer w;

    b64_begin(&w, out, size);
    b64_put_str(&w, "user=");
    b64_put_str(&w, user);
    b64_put_str(&w, "\x01"
                    "auth=Bearer ");
    b64_put_str(&w, token);
    b64_put(&w, "\x01\x01", 2);
    return b64_end(&w, len);
}

/* RFC 5801 section 4 saslname: ',' and '=' must be escaped in the gs2 header. */
static void put_saslname(b64_writer *w, const char *user)
{
    for (; *user != '\0'; user++) {
        if (*user == ',') {
            b64_put_str(w, "=2C");
        } else if (*user == '=') {
            b64_put_str(w, "=3D");
        } else {
            b64_put(w, user, 1);
        }
    }
}

smtpkit_status smtpkit_sasl_oauthbearer(const char *user, const char *token, const char *host,
                                        uint16_t port, char *out, size_t size, size_t *len)
{
    char digits[8];
    smtpkit_text port_text;
    b64_writer w;

    b64_begin(&w, out, size);
    b64_put_str(&w, "n,a=");
    put_saslname(&w, user);
    b64_put_str(&w, ",\x01");
    if (host != NULL && host[0] != '\0') {
        b64_put_str(&w, "host=");
        b64_put_str(&w, host);
        b64_put_str(&w, "\x01");
    }
    if (port != 0) {
        smtpkit_text_init(&port_text, digits, sizeof digits);
        smtpkit_text_uint(&port_text, port, 1);
        b64_put_str(&w, "port=");
        b64_put_str(&w, digits);
        b64_put_str(&w, "\x01");
    }
    b64_put_str(&w, "auth=Bearer ");
    b64_put_str(&w, token);
    b64_put(&w, "\x01\x01", 2);
    return b64_end(&w, len);
}

smtpkit_status smtpkit_sasl_initial(smtpkit_auth_mech mech, const smtpkit_sasl_credentials *cred,
                                    char *out, size_t size, size_t *len)
{
    *len = 0;
    switch (smtpkit_sasl_enabled(mech) ? mech : SMTPKIT_AUTH_AUTO) {
    case SMTPKIT_AUTH_PLAIN:
        return smtpkit_sasl_plain(cred->user, cred->secret, out, size, len);
    case SMTPKIT_AUTH_XOAUTH2:
        return smtpkit_sasl_xoauth2(cred->user, cred->secret, out, size, len);
    case SMTPKIT_AUTH_OAUTHBEARER:
        return smtpkit_sasl_oauthbearer(cred->user, cred->secret, cred->oauth_host,
                                        cred->oauth_port, out, size, len);
    default:
        return SMTPKIT_E_INTERNAL;
    }
}

/* An empty response (XOAUTH2) or "AQ==" (OAUTHBEARER) to the server's error challenge. */
static smtpkit_status oauth_error_answer(smtpkit_auth_mech mech, char *out, size_t size,
                                         size_t *len)
{
    const char *answer = mech == SMTPKIT_AUTH_OAUTHBEARER ? "AQ==" : "";
    size_t n = strlen(answer);

    if (size < n + 1) {
        return SMTPKIT_E_BUFFER;
    }
    memcpy(out, answer, n + 1);
    *len = n;
    return SMTPKIT_OK;
}

smtpkit_status smtpkit_sasl_answer(smtpkit_auth_mech mech, int step,
                                   const smtpkit_sasl_credentials *cred, const char *challenge,
                                   size_t challenge_len, char *out, size_t size, size_t *len)
{
    *len = 0;
    if (!smtpkit_sasl_enabled(mech)) {
        return SMTPKIT_E_INTERNAL;
    }
    if (mech == SMTPKIT_AUTH_LOGIN && step == 0) {
        return smtpkit_sasl_login(cred->user, out, size, len);
    }
    if (mech == SMTPKIT_AUTH_LOGIN && step == 1) {
        return smtpkit_sasl_login(cred->secret, out, size, len);
    }
    if (mech == SMTPKIT_AUTH_CRAM_MD5 && step == 0) {
        return smtpkit_sasl_cram_md5(cred->user, cred->secret, challenge, challenge_len, out, size,
                                     len);
    }
    if ((mech == SMTPKIT_AUTH_XOAUTH2 || mech == SMTPKIT_AUTH_OAUTHBEARER) && step == 0) {
        return oauth_error_answer(mech, out, size, len);
    }
    return SMTPKIT_E_PROTOCOL;
}
