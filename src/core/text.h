/*
 * text.h - bounded string building and byte classes shared by the core (internal).
 *
 * A builder appends into a caller's buffer, keeps it NUL-terminated and records when something
 * did not fit, so that error messages are cut and header writers can report SMTPKIT_E_BUFFER.
 * With a NULL buffer it only counts, which lets a writer measure a piece before placing it.
 */
#ifndef SMTPKIT_CORE_TEXT_H
#define SMTPKIT_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct smtpkit_text {
    char *buf;   /* NULL: count only */
    size_t size; /* capacity, the NUL included */
    size_t len;  /* bytes appended so far, also those that did not fit */
    bool cut;    /* something did not fit */
} smtpkit_text;

/** Starts a builder over @p buf (NULL to count only) of @p size bytes. */
void smtpkit_text_init(smtpkit_text *t, char *buf, size_t size);

/** Appends @p len bytes exactly as given. */
void smtpkit_text_raw(smtpkit_text *t, const char *bytes, size_t len);

/** Appends a NUL-terminated string exactly as given. */
void smtpkit_text_str(smtpkit_text *t, const char *str);

/** Appends @p len bytes for a human reader: control bytes (CR and LF too) become '?'. */
void smtpkit_text_clean(smtpkit_text *t, const char *bytes, size_t len);

/** Appends @p value in decimal, at least @p width digits (zero-padded). */
void smtpkit_text_uint(smtpkit_text *t, unsigned long value, unsigned width);

/** Length of what the builder holds (never more than size - 1). */
size_t smtpkit_text_stored(const smtpkit_text *t);

/** A C0 control byte or DEL: never allowed where a line of text is built. */
bool smtpkit_is_control(uint8_t c);

/** Whether @p len bytes at @p bytes hold a control byte. */
bool smtpkit_has_control(const char *bytes, size_t len);

/** ASCII case-insensitive comparison of @p len bytes with the NUL-terminated @p word. */
bool smtpkit_equal_nocase(const char *bytes, size_t len, const char *word);

/** Length of @p str, but at most @p max (to bound scans of caller strings). */
size_t smtpkit_strnlen(const char *str, size_t max);

#endif
