/*
 * test_anchors.c - pins, fingerprints, time resolution and chain expiry (src/host/anchors.c).
 *
 * The digest vectors are SHA-256 of fixed strings, computed with sha256sum and with
 * `openssl dgst -sha256 -binary | base64`, not with the code under test:
 *   "smtpkit": 493fe620...ee26, ST/mIAErLI4KyPhpFWfKRXSZretghG4hRE+3/CuX7iY=
 *   "":        e3b0c442...b855, 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "smtpkit/anchors.h"

static const uint8_t smtpkit_digest[SMTPKIT_SHA256_LEN] = {
    0x49, 0x3f, 0xe6, 0x20, 0x01, 0x2b, 0x2c, 0x8e, 0x0a, 0xc8, 0xf8, 0x69, 0x15, 0x67, 0xca, 0x45,
    0x74, 0x99, 0xad, 0xeb, 0x60, 0x84, 0x6e, 0x21, 0x44, 0x4f, 0xb7, 0xfc, 0x2b, 0x97, 0xee, 0x26,
};
static const char smtpkit_pin[] = "sha256//ST/mIAErLI4KyPhpFWfKRXSZretghG4hRE+3/CuX7iY=";
static const char smtpkit_hex[] =
    "493fe620012b2c8e0ac8f8691567ca457499adeb60846e21444fb7fc2b97ee26";
static const char smtpkit_colons[] = "49:3F:E6:20:01:2B:2C:8E:0A:C8:F8:69:15:67:CA:45:74:99:AD:EB:"
                                     "60:84:6E:21:44:4F:B7:FC:2B:97:EE:26";

static void test_pin_format(void **state)
{
    char text[53];

    (void)state;
    smtpkit_pin_format(smtpkit_digest, text, sizeof text);
    assert_string_equal(text, smtpkit_pin);
    /* One byte short: nothing rather than a cut pin. */
    smtpkit_pin_format(smtpkit_digest, text, sizeof text - 1);
    assert_string_equal(text, "");
}

static void test_pin_parse(void **state)
{
    static const char empty_pin[] = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    static const uint8_t empty_start[4] = {0xe3, 0xb0, 0xc4, 0x42};
    uint8_t pin[SMTPKIT_SHA256_LEN];

    (void)state;
    memset(pin, 0, sizeof pin);
    assert_true(smtpkit_pin_parse(smtpkit_pin, pin));
    assert_memory_equal(pin, smtpkit_digest, sizeof pin);
    memset(pin, 0, sizeof pin);
    assert_true(smtpkit_pin_parse(smtpkit_hex, pin));
    assert_memory_equal(pin, smtpkit_digest, sizeof pin);
    memset(pin, 0, sizeof pin);
    assert_true(smtpkit_pin_parse(smtpkit_colons, pin));
    assert_memory_equal(pin, smtpkit_digest, sizeof pin);
    assert_true(smtpkit_pin_parse(empty_pin, pin));
    assert_memory_equal(pin, empty_start, sizeof empty_start);
}

static void test_pin_parse_refuses(void **state)
{
    static const char *const bad[] = {
        "",
        "sha256//",
        "sha256//ST/mIAErLI4KyPhpFWfKRXSZretghG4hRE+3/CuX7iY",   /* no padding */
        "sha256//ST/mIAErLI4KyPhpFWfKRXSZretghG4hRE+3/CuX7iY==", /* too long */
        "sha256//ST/mIAErLI4KyPhpFWfKRXSZretghG4hRE+3/CuX7i!=",  /* not base64 */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* 33 bytes */
        "SHA256//ST/mIAErLI4KyPhpFWfKRXSZretghG4hRE+3/CuX7iY=",  /* curl's prefix is lower case */
        "493fe620012b2c8e0ac8f8691567ca457499adeb60846e21444fb7fc2b97ee2",   /* 63 digits */
        "493fe620012b2c8e0ac8f8691567ca457499adeb60846e21444fb7fc2b97ee266", /* 65 digits */
        "g93fe620012b2c8e0ac8f8691567ca457499adeb60846e21444fb7fc2b97ee26",  /* not hex */
        "49-3F:E6:20:01:2B:2C:8E:0A:C8:F8:69:15:67:CA:45:74:99:AD:EB:60:84:6E:21:44:4F:B7:FC:2B:"
        "97:EE:26",
    };
    uint8_t pin[SMTPKIT_SHA256_LEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(smtpkit_pin_parse(bad[i], pin));
    }
    assert_false(smtpkit_pin_parse(NULL, pin));
}

static void test_fingerprint_format(void **state)
{
    char text[96];

    (void)state;
    smtpkit_fingerprint_format(smtpkit_digest, text, sizeof text);
    assert_string_equal(text, smtpkit_colons);
    smtpkit_fingerprint_format(smtpkit_digest, text, sizeof text - 1);
    assert_string_equal(text, "");
}

static void test_time_resolve(void **state)
{
    smtpkit_time host;

    (void)state;
    assert_int_equal(smtpkit_time_resolve(SMTPKIT_TIME_UNKNOWN), SMTPKIT_TIME_UNKNOWN);
    assert_int_equal(smtpkit_time_resolve(1577836799), SMTPKIT_TIME_UNKNOWN);
    assert_int_equal(smtpkit_time_resolve(1577836800), 1577836800);
    assert_int_equal(smtpkit_time_resolve(4102444800), 4102444800);
    assert_int_equal(smtpkit_time_resolve(-5), SMTPKIT_TIME_UNKNOWN);
    /* The machine running the tests has a set clock. */
    host = smtpkit_time_resolve(SMTPKIT_TIME_HOST);
    assert_true(host >= SMTPKIT_TIME_PLAUSIBLE_MIN);
}

static void test_chain_first_expiry(void **state)
{
    static smtpkit_chain_summary chain;

    (void)state;
    assert_int_equal(smtpkit_chain_first_expiry(&chain), SMTPKIT_CHAIN_MAX);
    assert_int_equal(smtpkit_chain_first_expiry(NULL), SMTPKIT_CHAIN_MAX);
    chain.count = 3;
    chain.certs[0].not_after = 2000000000;
    chain.certs[1].not_after = 1900000000;
    chain.certs[2].not_after = 1900000000;
    assert_int_equal(smtpkit_chain_first_expiry(&chain), 1);
    chain.certs[2].not_after = 1800000000;
    assert_int_equal(smtpkit_chain_first_expiry(&chain), 2);
}

static void test_summarize_refuses_garbage(void **state)
{
    static const unsigned char not_der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    static const char not_pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    smtpkit_cert_summary summary;
    smtpkit_error err;

    (void)state;
    assert_int_equal(smtpkit_cert_summarize(not_der, sizeof not_der, 0, &summary, &err),
                     SMTPKIT_E_USAGE);
    assert_non_null(strstr(err.message, "cannot use the certificate"));
    assert_int_equal(
        smtpkit_cert_summarize((const unsigned char *)not_pem, strlen(not_pem), 0, &summary, &err),
        SMTPKIT_E_USAGE);
    assert_int_equal(smtpkit_cert_summarize(NULL, 0, 0, &summary, &err), SMTPKIT_E_USAGE);
}

/* Self-signed, subject and issuer "O=smtpkit test, CN=L\aLLL..." with a 300-byte CN, more than
 * the 255 bytes mbedtls_x509_dn_gets() takes. Made with Python's cryptography package
 * (NameAttribute(..., _validate=False)): openssl refuses a CN over 64 characters. */
static const char long_cn_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDmTCCAz+gAwIBAgIBATAKBggqhkjOPQQDAjCCAVQxFTATBgNVBAoMDHNtdHBr\n"
    "aXQgdGVzdDGCATkwggE1BgNVBAMMggEsTAdMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMMB4XDTI0MDEwMTAw\n"
    "MDAwMFoXDTMzMTIyOTAwMDAwMFowggFUMRUwEwYDVQQKDAxzbXRwa2l0IHRlc3Qx\n"
    "ggE5MIIBNQYDVQQDDIIBLEwHTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM\n"
    "TExMTExMTExMTExMTExMTExMTExMTExMTExMTDBZMBMGByqGSM49AgEGCCqGSM49\n"
    "AwEHA0IABBdGQiP/usmm5peiR7mwM+ONZU9VR6etWJ7FqK3pyn8PH+2cpnSZwJOM\n"
    "aCAaIcMoiUvI7YhDkz6pOuORrnfMi1IwCgYIKoZIzj0EAwIDSAAwRQIgYxCJpyog\n"
    "NRDST99qwt8dmFQBGwXMwI/eLVkCGhF+lEoCIQDmLt8SjcC4vXPPcK1boFTNyywl\n"
    "SUKdDPL4GqweLUEOEg==\n"
    "-----END CERTIFICATE-----\n";

static void test_summarize_long_name(void **state)
{
    smtpkit_cert_summary summary;
    smtpkit_error err;
    char expected[160];

    (void)state;
    /* The CN's first 100 bytes, its control byte as '?', then "...". */
    memset(expected, 'L', sizeof expected);
    memcpy(expected, "O=smtpkit test, CN=L?", 21);
    memcpy(expected + 19 + 100, "...", 4);
    assert_int_equal(smtpkit_cert_summarize((const unsigned char *)long_cn_pem, strlen(long_cn_pem),
                                            0, &summary, &err),
                     SMTPKIT_OK);
    assert_string_equal(summary.subject, expected);
    assert_string_equal(summary.issuer, expected);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_format),
        cmocka_unit_test(test_pin_parse),
        cmocka_unit_test(test_pin_parse_refuses),
        cmocka_unit_test(test_fingerprint_format),
        cmocka_unit_test(test_time_resolve),
        cmocka_unit_test(test_chain_first_expiry),
        cmocka_unit_test(test_summarize_refuses_garbage),
        cmocka_unit_test(test_summarize_long_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
