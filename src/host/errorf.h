/*
 * errorf.h - printf-style failures for the host layer (private).
 *
 * The core's smtpkit_error_set() takes a finished message, because the core has no stdio. The
 * host layer's messages name hosts, files and errno texts, so it formats them here; a message
 * longer than SMTPKIT_ERROR_MESSAGE_MAX is cut, which is intended.
 */
#ifndef SMTPKIT_HOST_ERRORF_H
#define SMTPKIT_HOST_ERRORF_H

#include <stdarg.h>
#include <stdio.h>

#include "smtpkit/error.h"

#if defined(__GNUC__) || defined(__clang__)
#define SMTPKIT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SMTPKIT_PRINTF(fmt, args)
#endif

/* Records a failure with a formatted message; returns @p status. */
static inline SMTPKIT_PRINTF(4, 5) smtpkit_status
    smtpkit_errorf(smtpkit_error *err, smtpkit_status status, smtpkit_stage stage,
                   const char *format, ...)
{
    char message[SMTPKIT_ERROR_MESSAGE_MAX];
    va_list args;

    va_start(args, format);
    (void)vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return smtpkit_error_set(err, status, stage, message);
}

#endif
