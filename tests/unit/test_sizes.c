/*
 * test_sizes.c - prints the sizes of the core's structs (for firmware budgets) and keeps the
 * session within a budget that fits a small MCU's RAM next to its buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "smtpkit/anchors.h"
#include "smtpkit/session.h"

static void test_sizes(void **state)
{
    (void)state;
    printf("sizeof(smtpkit_session)      = %zu\n", sizeof(smtpkit_session));
    printf("sizeof(smtpkit_reply_parser) = %zu\n", sizeof(smtpkit_reply_parser));
    printf("sizeof(smtpkit_reply)        = %zu\n", sizeof(smtpkit_reply));
    printf("sizeof(smtpkit_error)        = %zu\n", sizeof(smtpkit_error));
    printf("SMTPKIT_SESSION_OUTPUT_MIN   = %u\n", SMTPKIT_SESSION_OUTPUT_MIN);
    printf("sizeof(smtpkit_cert_summary) = %zu\n", sizeof(smtpkit_cert_summary));
    printf("sizeof(smtpkit_chain_summary) = %zu\n", sizeof(smtpkit_chain_summary));
    assert_true(sizeof(smtpkit_session) <= 4096);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
