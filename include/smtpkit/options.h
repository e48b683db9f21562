/*
 * smtpkit/options.h - compile-time settings, each with a default and the reason for it.
 *
 * A firmware build may define any of these before including smtpkit headers (or with -D) to
 * trade features for flash and RAM. Impossible combinations stop the build below.
 */
#ifndef SMTPKIT_OPTIONS_H
#define SMTPKIT_OPTIONS_H

/* RFC 5321 4.5.3.1.5 caps a reply line at 512 octets; real servers sometimes overrun it with
 * long URLs in 5xx texts, so keep some room. A longer line is a protocol error. */
#ifndef SMTPKIT_REPLY_LINE_MAX
#define SMTPKIT_REPLY_LINE_MAX 1000
#endif

/* A multi-line reply beyond this many lines is treated as a hostile stream (an endless 250-
 * continuation), not read forever. EHLO replies of real servers have about a dozen lines. */
#ifndef SMTPKIT_REPLY_LINES_MAX
#define SMTPKIT_REPLY_LINES_MAX 100
#endif

/* CRAM-MD5 needs HMAC-MD5; a build that only talks to OAuth2 providers can drop it. */
#ifndef SMTPKIT_WITH_CRAM_MD5
#define SMTPKIT_WITH_CRAM_MD5 1
#endif

/* XOAUTH2 and OAUTHBEARER (RFC 7628): Gmail and Microsoft 365 want bearer tokens. */
#ifndef SMTPKIT_WITH_OAUTH
#define SMTPKIT_WITH_OAUTH 1
#endif

/* AUTH LOGIN is obsolete but still the only mechanism some relays offer. */
#ifndef SMTPKIT_WITH_LOGIN
#define SMTPKIT_WITH_LOGIN 1
#endif

#if SMTPKIT_REPLY_LINE_MAX < 512
#error "SMTPKIT_REPLY_LINE_MAX must be at least 512 (RFC 5321 4.5.3.1.5)"
#endif

#if SMTPKIT_REPLY_LINES_MAX < 2
#error "SMTPKIT_REPLY_LINES_MAX must allow multi-line replies"
#endif

#endif
