/*
 * smtpkit/civil_time.h - Unix time to and from UTC calendar dates (core, no clock).
 *
 * Certificates name their validity as calendar dates and messages carry dates; the core must
 * not read a clock or use <time.h>, so the conversion is done here on plain integers for the
 * proleptic Gregorian calendar. Leap seconds do not exist in Unix time and so not here.
 */
#ifndef SMTPKIT_CIVIL_TIME_H
#define SMTPKIT_CIVIL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Seconds since 1970-01-01T00:00:00Z, signed: the time type of every smtpkit API. */
typedef int64_t smtpkit_time;

/** "Use the host's clock": the default wherever a time can be given. */
#define SMTPKIT_TIME_HOST ((smtpkit_time)0)
/** "No trustworthy time is known", e.g. a device before its first SNTP answer. */
#define SMTPKIT_TIME_UNKNOWN ((smtpkit_time)-1)
/** 2020-01-01T00:00:00Z: a clock that reads earlier than this has not been set. */
#define SMTPKIT_TIME_PLAUSIBLE_MIN ((smtpkit_time)1577836800)

/** A UTC calendar date and time. */
typedef struct smtpkit_civil {
    int year;  /**< e.g. 2027 */
    int month; /**< 1 to 12 */
    int day;   /**< 1 to 31 */
    int hour;  /**< 0 to 23 */
    int min;   /**< 0 to 59 */
    int sec;   /**< 0 to 60 (60 is read as the next minute's 0) */
} smtpkit_civil;

/**
 * Converts @p c to Unix time in *@p t. False (and *@p t untouched) when a field is out of
 * range, including a day that the month does not have (2027-02-29), or the year is outside
 * 1 to 9999.
 */
bool smtpkit_time_from_civil(const smtpkit_civil *c, smtpkit_time *t);

/** Converts @p t (years 1 to 9999) to a calendar date; false when out of that range. */
bool smtpkit_time_to_civil(smtpkit_time t, smtpkit_civil *c);

/**
 * Writes @p t as "YYYY-MM-DD HH:MM:SS UTC" (24 bytes with the NUL) into @p out; false when
 * @p size is below 24 or @p t is out of range (then @p out holds "?" if it has room).
 */
bool smtpkit_time_format(smtpkit_time t, char *out, size_t size);

/**
 * Whole days from @p now until @p then, rounded toward minus infinity: 0 for later today or
 * less than 24 hours, -1 for anything up to 24 hours in the past.
 */
int64_t smtpkit_days_between(smtpkit_time now, smtpkit_time then);

#ifdef __cplusplus
}
#endif

#endif
