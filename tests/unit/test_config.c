/*
 * test_config.c - unit tests of the msmtp configuration parser of the smtpkit command
 * (tools/cli_config.c): grammar, inheritance, account selection, refused and ignored keys,
 * and the permission check of cli_config_load(). Built by tools/CMakeLists.txt.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_config.h"

typedef struct parsed {
    cli_account acc;
    bool ok;
    char why[CLI_CONFIG_WHY_MAX];
} parsed;

static parsed *parse(const char *text, const char *account)
{
    parsed *p = calloc(1, sizeof *p);
    FILE *in;

    assert_non_null(p);
    in = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(in);
    p->ok = cli_config_read(in, "test.conf", account, &p->acc, p->why, sizeof p->why);
    fclose(in);
    return p;
}

static void release(parsed *p)
{
    cli_account_free(&p->acc);
    free(p);
}

static void test_defaults_and_accounts(void **state)
{
    static const char text[] = "# comment\n"
                               "defaults\n"
                               "tls on\n"
                               "tls_trust_file /etc/ca.pem\n"
                               "\n"
                               "account work\n"
                               "host smtp.example.com\n"
                               "port 587\n"
                               "from me@example.com\n"
                               "user me\n"
                               "auth CRAM-MD5\n"
                               "timeout 30\n"
                               "domain client.example.com\n";
    parsed *p = parse(text, "work");

    (void)state;
    assert_true(p->ok);
    assert_string_equal(p->acc.name, "work");
    assert_string_equal(p->acc.host, "smtp.example.com");
    assert_int_equal(p->acc.port, 587);
    assert_string_equal(p->acc.from, "me@example.com");
    assert_string_equal(p->acc.user, "me");
    assert_string_equal(p->acc.auth, "cram-md5");
    assert_int_equal(p->acc.timeout_s, 30);
    assert_string_equal(p->acc.domain, "client.example.com");
    assert_int_equal(p->acc.tls, CLI_SWITCH_ON);
    assert_string_equal(p->acc.tls_trust_file, "/etc/ca.pem");
    assert_true(p->acc.found);
    release(p);
}

static void test_parent_and_default_alias(void **state)
{
    static const char text[] = "account base\n"
                               "host mx.example.com\n"
                               "user base-user\n"
                               "tls_starttls off\n"
                               "account child : base\n"
                               "user child-user\n"
                               "account default : child\n";
    parsed *p = parse(text, NULL);

    (void)state;
    assert_true(p->ok);
    assert_string_equal(p->acc.name, "default");
    assert_string_equal(p->acc.host, "mx.example.com");
    assert_string_equal(p->acc.user, "child-user");
    assert_int_equal(p->acc.tls_starttls, CLI_SWITCH_OFF);
    release(p);
}

static void test_several_parents_in_order(void **state)
{
    static const char text[] = "account a\nhost a.example\nport 25\n"
                               "account b\nhost b.example\n"
                               "account c : a, b\n";
    parsed *p = parse(text, "c");

    (void)state;
    assert_true(p->ok);
    assert_string_equal(p->acc.host, "b.example");
    assert_int_equal(p->acc.port, 25);
    release(p);
}

static void test_defaults_apply_only_to_later_accounts(void **state)
{
    static const char text[] = "account early\nhost e.example\n"
                               "defaults\nport 2525\n"
                               "account late\nhost l.example\n";
    parsed *early = parse(text, "early");
    parsed *late = parse(text, "late");

    (void)state;
    assert_true(early->ok);
    assert_int_equal(early->acc.port, 0);
    assert_true(late->ok);
    assert_int_equal(late->acc.port, 2525);
    release(early);
    release(late);
}

static void test_quotes_blanks_and_crlf(void **state)
{
    static const char text[] = "account q\r\n"
                               "   host   \"smtp.example.com\"  \r\n"
                               "\tpasswordeval \"pass show mail # not a comment\"\r\n"
                               "  # indented comment\r\n"
                               "password \"two words\"\r\n";
    parsed *p = parse(text, "q");

    (void)state;
    assert_true(p->ok);
    assert_string_equal(p->acc.host, "smtp.example.com");
    assert_string_equal(p->acc.passwordeval, "pass show mail # not a comment");
    assert_string_equal(p->acc.password, "two words");
    release(p);
}

static void test_keys_before_any_account_form_default(void **state)
{
    static const char text[] = "host legacy.example\nfrom old@example.com\n";
    parsed *p = parse(text, NULL);

    (void)state;
    assert_true(p->ok);
    assert_string_equal(p->acc.name, "default");
    assert_string_equal(p->acc.host, "legacy.example");
    release(p);
}

static void test_no_default_account_gives_defaults(void **state)
{
    static const char text[] = "defaults\nfrom d@example.com\naccount other\nhost o.example\n";
    parsed *p = parse(text, NULL);

    (void)state;
    assert_true(p->ok);
    assert_false(p->acc.found);
    assert_null(p->acc.host);
    assert_string_equal(p->acc.from, "d@example.com");
    release(p);
}

static void test_ignored_msmtp_keys(void **state)
{
    static const char text[] = "account a\nhost h\nlogfile ~/.msmtp.log\nsyslog LOG_MAIL\n"
                               "aliases /etc/aliases\ndsn_notify off\nkeepbcc on\n"
                               "protocol smtp\ntls_certcheck on\n";
    parsed *p = parse(text, "a");

    (void)state;
    assert_true(p->ok);
    release(p);
}

static void expect_error(const char *text, const char *account, const char *needle)
{
    parsed *p = parse(text, account);

    assert_false(p->ok);
    if (strstr(p->why, needle) == NULL) {
        fail_msg("'%s' does not contain '%s'", p->why, needle);
    }
    release(p);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("account a\nhost h\nfrobnicate yes\n", "a",
                 "test.conf:3: unknown key 'frobnicate'");
    expect_error("account a\nport 70000\n", "a", "test.conf:2: invalid port '70000'");
    expect_error("account a\nport 0\n", "a", "test.conf:2:");
    expect_error("account a\ntimeout soon\n", "a", "test.conf:2: invalid timeout");
    expect_error("account a\ntls maybe\n", "a", "test.conf:2: tls must be on or off");
    expect_error("account a\nhost\n", "a", "test.conf:2: host needs an argument");
    expect_error("defaults extra\n", NULL, "test.conf:1: defaults takes no argument");
}

static void test_refused_settings(void **state)
{
    (void)state;
    expect_error("account a\ntls_certcheck off\n", "a", "test.conf:2: tls_certcheck off");
    expect_error("account a\ntls_fingerprint AA:BB\n", "a", "test.conf:2: tls_fingerprint");
    expect_error("account a\nauth scram-sha-1\n", "a", "test.conf:2: auth scram-sha-1");
    expect_error("account a\nprotocol lmtp\n", "a", "test.conf:2: protocol lmtp");
    expect_error("account a\nproxy_host 127.0.0.1\n", "a", "test.conf:2: proxy_host");
}

static void test_account_errors(void **state)
{
    (void)state;
    expect_error("account a\nhost h\n", "missing", "test.conf: no account missing");
    expect_error("account a\naccount a\n", "a", "test.conf:2: account a is defined twice");
    expect_error("account b : nowhere\n", "b", "test.conf:1: account nowhere is not defined");
    expect_error("account \n", NULL, "test.conf:1: account needs a name");
}

static void test_switches_and_paths(void **state)
{
    static const char text[] = "account a\ntls off\ntls_nostarttls\ntimeout off\n"
                               "tls_trust_file ~/ca.pem\ntls_cert_file system\n"
                               "tls_host_override mx.example\nauth\n";
    const char *home = getenv("HOME");
    char expected[512];
    parsed *p;

    (void)state;
    setenv("HOME", "/home/tester", 1);
    p = parse(text, "a");
    assert_true(p->ok);
    assert_int_equal(p->acc.tls, CLI_SWITCH_OFF);
    assert_int_equal(p->acc.tls_starttls, CLI_SWITCH_OFF);
    assert_int_equal(p->acc.timeout_s, 0);
    snprintf(expected, sizeof expected, "%s", "/home/tester/ca.pem");
    assert_string_equal(p->acc.tls_trust_file, expected);
    assert_string_equal(p->acc.tls_server_name, "mx.example");
    assert_string_equal(p->acc.auth, "on");
    release(p);
    if (home != NULL) {
        setenv("HOME", home, 1);
    }
}

static void test_overlong_line(void **state)
{
    size_t len = 5000;
    char *text = malloc(len + 16);

    (void)state;
    assert_non_null(text);
    strcpy(text, "account a\nhost ");
    memset(text + 15, 'x', len - 15);
    text[len] = '\n';
    text[len + 1] = '\0';
    expect_error(text, "a", "test.conf:2: line longer than");
    free(text);
}

static char *write_temp(const char *text, mode_t mode)
{
    char *path = strdup("/tmp/smtpkit_test_config_XXXXXX");
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static void test_load_refuses_readable_password(void **state)
{
    static const char text[] = "account a\nhost h\npassword secret\n";
    char *path = write_temp(text, 0644);
    char why[CLI_CONFIG_WHY_MAX];
    cli_account acc;

    (void)state;
    assert_false(cli_config_load(path, "a", &acc, why, sizeof why));
    assert_non_null(strstr(why, "other users can read it"));
    assert_null(strstr(why, "secret"));
    cli_account_free(&acc);
    assert_int_equal(chmod(path, 0600), 0);
    assert_true(cli_config_load(path, "a", &acc, why, sizeof why));
    assert_string_equal(acc.password, "secret");
    cli_account_free(&acc);
    unlink(path);
    free(path);
}

static void test_load_missing_file(void **state)
{
    char why[CLI_CONFIG_WHY_MAX];
    cli_account acc;

    (void)state;
    assert_false(cli_config_load("/nonexistent/smtpkit.conf", NULL, &acc, why, sizeof why));
    assert_non_null(strstr(why, "/nonexistent/smtpkit.conf"));
    cli_account_free(&acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_accounts),
        cmocka_unit_test(test_parent_and_default_alias),
        cmocka_unit_test(test_several_parents_in_order),
        cmocka_unit_test(test_defaults_apply_only_to_later_accounts),
        cmocka_unit_test(test_quotes_blanks_and_crlf),
        cmocka_unit_test(test_keys_before_any_account_form_default),
        cmocka_unit_test(test_no_default_account_gives_defaults),
        cmocka_unit_test(test_ignored_msmtp_keys),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_refused_settings),
        cmocka_unit_test(test_account_errors),
        cmocka_unit_test(test_switches_and_paths),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_load_refuses_readable_password),
        cmocka_unit_test(test_load_missing_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
