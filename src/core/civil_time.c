/*
 * civil_time.c - Unix time to and from proleptic Gregorian UTC dates (smtpkit/civil_time.h).
 *
 * Plain integer arithmetic, so that the core can name certificate dates without <time.h> or a
 * clock. Days are counted from 0001-01-01: whole years first (365 each, plus the leap days of
 * the 4/100/400 rule), then whole months of the year, then the day. The reverse peels off
 * 400-year, 100-year, 4-year and 1-year blocks. Unix time has no leap seconds (POSIX 4.16).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtpkit/civil_time.h"

enum {
    SECONDS_PER_DAY = 86400,
    DAYS_PER_400_YEARS = 146097,
    DAYS_PER_100_YEARS = 36524,
    DAYS_PER_4_YEARS = 1461,
    DAYS_PER_YEAR = 365,
    YEAR_MIN = 1,
    YEAR_MAX = 9999,
    FORMAT_SIZE = 24 /* "YYYY-MM-DD HH:MM:SS UTC" and the NUL */
};

/* Days from 0001-01-01 to 1970-01-01. */
#define UNIX_EPOCH_DAYS ((int64_t)719162)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define TIME_MIN (-UNIX_EPOCH_DAYS * SECONDS_PER_DAY)
#define TIME_MAX ((int64_t)253402300799)

static bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int month_days(int year, int month)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return days[month - 1] + (month == 2 && is_leap(year) ? 1 : 0);
}

/* Days from 0001-01-01 to @p year-@p month-@p day (all valid). */
static int64_t days_from_civil(int year, int month, int day)
{
    int64_t before = year - 1;
    int64_t days = before * DAYS_PER_YEAR + before / 4 - before / 100 + before / 400;
    int m;

    for (m = 1; m < month; m++) {
        days += month_days(year, m);
    }
    return days + day - 1;
}

/* Block count of @p days in blocks of @p size, where the last block of the enclosing period
 * is one day longer: a count of @p max means the extra day and is folded back. */
static int64_t whole_blocks(int64_t *days, int64_t size, int64_t max)
{
    int64_t n = *days / size;

    if (n == max) {
        n = max - 1;
    }
    *days -= n * size;
    return n;
}

/* The date @p days after 0001-01-01 (0 <= days). */
static void civil_from_days(int64_t days, smtpkit_civil *c)
{
    int64_t year = 1 + 400 * (days / DAYS_PER_400_YEARS);
    int month = 1;

    days %= DAYS_PER_400_YEARS;
    year += 100 * whole_blocks(&days, DAYS_PER_100_YEARS, 4);
    year += 4 * whole_blocks(&days, DAYS_PER_4_YEARS, 25);
    year += whole_blocks(&days, DAYS_PER_YEAR, 4);
    c->year = (int)year;
    while (days >= month_days(c->year, month)) {
        days -= month_days(c->year, month);
        month++;
    }
    c->month = month;
    c->day = (int)days + 1;
}

bool smtpkit_time_from_civil(const smtpkit_civil *c, smtpkit_time *t)
{
    int64_t days;

    if (c == NULL || t == NULL || c->year < YEAR_MIN || c->year > YEAR_MAX || c->month < 1 ||
        c->month > 12 || c->day < 1 || c->day > month_days(c->year, c->month) || c->hour < 0 ||
        c->hour > 23 || c->min < 0 || c->min > 59 || c->sec < 0 || c->sec > 60) {
        return false;
    }
    days = days_from_civil(c->year, c->month, c->day) - UNIX_EPOCH_DAYS;
    *t = days * SECONDS_PER_DAY + c->hour * 3600 + c->min * 60 + c->sec;
    return true;
}

bool smtpkit_time_to_civil(smtpkit_time t, smtpkit_civil *c)
{
    int64_t days;
    int64_t seconds;

    if (c == NULL || t < TIME_MIN || t > TIME_MAX) {
        return false;
    }
    /* Shifted to 0001-01-01 first, everything is non-negative and plain division floors. */
    days = (t - TIME_MIN) / SECONDS_PER_DAY;
    seconds = (t - TIME_MIN) % SECONDS_PER_DAY;
    civil_from_days(days, c);
    c->hour = (int)(seconds / 3600);
    c->min = (int)(seconds / 60 % 60);
    c->sec = (int)(seconds % 60);
    return true;
}

/* Writes @p value as exactly @p width decimal digits. */
static char *put_digits(char *out, int value, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return out + width;
}

bool smtpkit_time_format(smtpkit_time t, char *out, size_t size)
{
    static const char suffix[] = " UTC";
    smtpkit_civil c;
    char *p = out;

    if (out == NULL) {
        return false;
    }
    if (size < FORMAT_SIZE || !smtpkit_time_to_civil(t, &c)) {
        if (size >= 2) {
            memcpy(out, "?", 2);
        } else if (size == 1) {
            out[0] = '\0';
        }
        return false;
    }
    p = put_digits(p, c.year, 4);
    *p++ = '-';
    p = put_digits(p, c.month, 2);
    *p++ = '-';
    p = put_digits(p, c.day, 2);
    *p++ = ' ';
    p = put_digits(p, c.hour, 2);
    *p++ = ':';
    p = put_digits(p, c.min, 2);
    *p++ = ':';
    p = put_digits(p, c.sec, 2);
    memcpy(p, suffix, sizeof suffix);
    return true;
}

/* Floor division by a day, for either sign. */
static int64_t floor_days(smtpkit_time t, int64_t *rest)
{
    int64_t days = t / SECONDS_PER_DAY;

    *rest = t % SECONDS_PER_DAY;
    if (*rest < 0) {
        *rest += SECONDS_PER_DAY;
        days--;
    }
    return days;
}

int64_t smtpkit_days_between(smtpkit_time now, smtpkit_time then)
{
    int64_t now_rest;
    int64_t then_rest;
    /* Split into days and seconds so that no subtraction of two extreme values overflows. */
    int64_t days = floor_days(then, &then_rest) - floor_days(now, &now_rest);

    return then_rest < now_rest ? days - 1 : days;
}
