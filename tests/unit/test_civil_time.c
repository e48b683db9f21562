/*
 * test_civil_time.c - Unix time to calendar and back (src/core/civil_time.c).
 *
 * The known values were computed with `date -u -d @N` and Python's datetime, never with the
 * code under test. The sweep checks that consecutive days are consecutive dates, from year 1 to
 * 9999, with a successor rule written independently of the conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "smtpkit/civil_time.h"

typedef struct known {
    smtpkit_time t;
    const char *text;
} known;

static const known known_times[] = {
    {0, "1970-01-01 00:00:00 UTC"},
    {-1, "1969-12-31 23:59:59 UTC"},
    {951782400, "2000-02-29 00:00:00 UTC"},
    {2147483647, "2038-01-19 03:14:07 UTC"},
    {253402300799, "9999-12-31 23:59:59 UTC"},
    {-62135596800, "0001-01-01 00:00:00 UTC"},
    {1577836800, "2020-01-01 00:00:00 UTC"},
    {4107542400, "2100-03-01 00:00:00 UTC"},
    {1709164800, "2024-02-29 00:00:00 UTC"},
    {-2208988800, "1900-01-01 00:00:00 UTC"},
    {68169600, "1972-02-29 00:00:00 UTC"},
    {-5000000000, "1811-07-23 15:06:40 UTC"},
    {1234567890, "2009-02-13 23:31:30 UTC"},
    {4102444799, "2099-12-31 23:59:59 UTC"},
    {32503680000, "3000-01-01 00:00:00 UTC"},
    {100000000000, "5138-11-16 09:46:40 UTC"},
};

static void test_known_values(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof known_times / sizeof known_times[0]; i++) {
        char text[24];
        smtpkit_civil c;
        smtpkit_time back = 12345;

        assert_true(smtpkit_time_format(known_times[i].t, text, sizeof text));
        assert_string_equal(text, known_times[i].text);
        assert_true(smtpkit_time_to_civil(known_times[i].t, &c));
        assert_true(smtpkit_time_from_civil(&c, &back));
        assert_int_equal(back, known_times[i].t);
    }
}

static void test_from_civil_fields(void **state)
{
    const smtpkit_civil leap = {2000, 2, 29, 0, 0, 0};
    const smtpkit_civil y2038 = {2038, 1, 19, 3, 14, 7};
    const smtpkit_civil leap_second = {2016, 12, 31, 23, 59, 60};
    smtpkit_time t = 0;

    (void)state;
    assert_true(smtpkit_time_from_civil(&leap, &t));
    assert_int_equal(t, 951782400);
    assert_true(smtpkit_time_from_civil(&y2038, &t));
    assert_int_equal(t, 2147483647);
    /* 60 reads as the next minute's 0: 2017-01-01 00:00:00 is 1483228800. */
    assert_true(smtpkit_time_from_civil(&leap_second, &t));
    assert_int_equal(t, 1483228800);
}

static void test_invalid_dates_refused(void **state)
{
    static const smtpkit_civil bad[] = {
        {2027, 2, 29, 0, 0, 0}, {1900, 2, 29, 0, 0, 0}, {2100, 2, 29, 0, 0, 0},
        {2027, 4, 31, 0, 0, 0}, {2027, 13, 1, 0, 0, 0}, {2027, 0, 1, 0, 0, 0},
        {2027, 1, 0, 0, 0, 0},  {2027, 1, 32, 0, 0, 0}, {2027, 1, 1, 24, 0, 0},
        {2027, 1, 1, 0, 60, 0}, {2027, 1, 1, 0, 0, 61}, {2027, 1, 1, -1, 0, 0},
        {0, 12, 31, 0, 0, 0},   {10000, 1, 1, 0, 0, 0}, {2027, 1, 1, 0, -1, 0},
        {2027, 1, 1, 0, 0, -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtpkit_time t = 777;

        assert_false(smtpkit_time_from_civil(&bad[i], &t));
        assert_int_equal(t, 777);
    }
}

static void test_out_of_range_times(void **state)
{
    char text[24];
    smtpkit_civil c;

    (void)state;
    assert_false(smtpkit_time_to_civil(253402300800, &c));
    assert_false(smtpkit_time_to_civil(-62135596801, &c));
    assert_false(smtpkit_time_to_civil(INT64_MIN, &c));
    assert_false(smtpkit_time_to_civil(INT64_MAX, &c));
    assert_false(smtpkit_time_format(253402300800, text, sizeof text));
    assert_string_equal(text, "?");
}

static void test_format_buffer_sizes(void **state)
{
    char text[24];

    (void)state;
    assert_true(smtpkit_time_format(0, text, 24));
    assert_string_equal(text, "1970-01-01 00:00:00 UTC");
    assert_false(smtpkit_time_format(0, text, 23));
    assert_string_equal(text, "?");
    text[0] = 'x';
    assert_false(smtpkit_time_format(0, text, 1));
    assert_int_equal(text[0], '\0');
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

static void next_day(smtpkit_civil *c)
{
    if (++c->day <= days_in_month(c->year, c->month)) {
        return;
    }
    c->day = 1;
    if (++c->month <= 12) {
        return;
    }
    c->month = 1;
    c->year++;
}

/* Every day from 0001-01-01 to 9999-12-31 at noon: the next day is the next date. */
static void test_every_day_in_range(void **state)
{
    smtpkit_civil expected = {1, 1, 1, 12, 0, 0};
    smtpkit_time t = -62135596800 + 43200;
    long days = 0;

    (void)state;
    while (t <= 253402300799) {
        smtpkit_civil c;
        smtpkit_time back;

        assert_true(smtpkit_time_to_civil(t, &c));
        assert_memory_equal(&c, &expected, sizeof c);
        assert_true(smtpkit_time_from_civil(&c, &back));
        assert_int_equal(back, t);
        next_day(&expected);
        t += 86400;
        days++;
    }
    /* 9999 years of 365.2425 days on average. */
    assert_int_equal(days, 3652059);
}

static void test_days_between_rounds_down(void **state)
{
    const smtpkit_time now = 1800000000;

    (void)state;
    assert_int_equal(smtpkit_days_between(now, now), 0);
    assert_int_equal(smtpkit_days_between(now, now + 1), 0);
    assert_int_equal(smtpkit_days_between(now, now + 86399), 0);
    assert_int_equal(smtpkit_days_between(now, now + 86400), 1);
    assert_int_equal(smtpkit_days_between(now, now + 10 * 86400 - 1), 9);
    assert_int_equal(smtpkit_days_between(now, now - 1), -1);
    assert_int_equal(smtpkit_days_between(now, now - 86400), -1);
    assert_int_equal(smtpkit_days_between(now, now - 86401), -2);
    assert_int_equal(smtpkit_days_between(-1, 0), 0);
    assert_int_equal(smtpkit_days_between(0, -1), -1);
    /* No overflow at the extremes. */
    assert_int_equal(smtpkit_days_between(INT64_MIN, INT64_MAX), 213503982334601);
    assert_int_equal(smtpkit_days_between(INT64_MAX, INT64_MIN), -213503982334602);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_from_civil_fields),
        cmocka_unit_test(test_invalid_dates_refused),
        cmocka_unit_test(test_out_of_range_times),
        cmocka_unit_test(test_format_buffer_sizes),
        cmocka_unit_test(test_every_day_in_range),
        cmocka_unit_test(test_days_between_rounds_down),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
