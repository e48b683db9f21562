/*
 * reply_internal.h - what the session needs of the reply parser beyond reply.h (internal).
 */
#ifndef SMTPKIT_CORE_REPLY_INTERNAL_H
#define SMTPKIT_CORE_REPLY_INTERNAL_H

#include <stddef.h>

#include "smtpkit/reply.h"

/**
 * The whole line completed by the last feed, code and separator included, control bytes
 * replaced by '?', for the wire trace. *@p len receives its length.
 */
const char *smtpkit_reply_line_full(const smtpkit_reply_parser *p, size_t *len);

#endif
