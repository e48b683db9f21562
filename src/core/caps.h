/*
 * caps.h - reading the service extensions of an EHLO reply (internal to the core).
 */
#ifndef SMTPKIT_CORE_CAPS_H
#define SMTPKIT_CORE_CAPS_H

#include <stddef.h>

#include "smtpkit/session.h"

/** What an EHLO reply advertised. */
typedef struct smtpkit_caps {
    unsigned bits;          /* SMTPKIT_CAP_* */
    smtpkit_mech_set mechs; /* 1u << mechanism, for the mechanisms smtpkit knows */
    unsigned long size_max; /* SIZE argument; 0 when absent or unlimited */
} smtpkit_caps;

/**
 * Records the extension named by one EHLO line's text (the part after "250-" or "250 "):
 * keywords are case-insensitive, AUTH is read in both "AUTH a b" and the old "AUTH=a b" forms,
 * unknown keywords and mechanisms are ignored.
 */
void smtpkit_caps_parse_line(smtpkit_caps *caps, const char *text, size_t len);

#endif
