/*
 * transcript.h - scripted SMTP conversations for the unit tests of the session engine, the
 * trace and the blocking pump. The file format is described at the top of transcript.c.
 */
#ifndef SMTPKIT_TEST_TRANSCRIPT_H
#define SMTPKIT_TEST_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpkit/session.h"

#define TRANSCRIPT_ITEMS_MAX 128
#define TRANSCRIPT_RCPT_MAX 8
#define TRANSCRIPT_WHY_MAX 2048
#define TRANSCRIPT_NO_SPLIT ((size_t)-1)

typedef enum item_kind { ITEM_SERVER, ITEM_CLIENT, ITEM_TLS, ITEM_EOF } item_kind;

typedef struct transcript_item {
    item_kind kind;
    uint8_t *bytes; /* consecutive S: (or C:) lines joined */
    size_t len;
    int line; /* line of the file where the item starts */
} transcript_item;

typedef enum transcript_expect {
    EXPECT_SENT,   /* SENT seen, then DONE */
    EXPECT_DONE,   /* no message (no rcpt:), QUIT answered */
    EXPECT_FAILED, /* FAILED with status, stage, code [enhanced] */
    EXPECT_REFUSED /* smtpkit_session_mail() refused the envelope with status at stage */
} transcript_expect;

typedef struct transcript {
    char name[128];
    smtpkit_session_config config;
    char *helo, *user, *secret, *oauth_host, *from;
    char *rcpt[TRANSCRIPT_RCPT_MAX];
    size_t rcpt_count;
    uint8_t *body;
    size_t body_len;
    size_t size_hint;
    size_t out_size;
    transcript_expect expect;
    smtpkit_status expect_status;
    smtpkit_stage expect_stage;
    unsigned expect_code;
    char expect_enhanced[16];
    unsigned results[TRANSCRIPT_RCPT_MAX];
    size_t results_count;
    transcript_item items[TRANSCRIPT_ITEMS_MAX];
    size_t item_count;
} transcript;

/** How the server's bytes, the body and the output are cut while running. */
typedef struct transcript_mode {
    bool bytewise;     /* one byte per feed, per body() call and per written() */
    size_t split_item; /* this S item is fed in two pieces... */
    size_t split_at;   /* ...cut here (the body is cut here too); TRANSCRIPT_NO_SPLIT: none */
} transcript_mode;

typedef struct transcript_outcome {
    bool script_ok; /* the client's bytes matched and the script was used up */
    char why[TRANSCRIPT_WHY_MAX];
    bool sent;
    bool refused;
    smtpkit_status refusal;
    smtpkit_event final;
    smtpkit_status pump_status; /* transcript_run_pump() only */
    smtpkit_error error;
    smtpkit_rcpt_result results[TRANSCRIPT_RCPT_MAX];
    char *trace; /* "K: text\n" per trace line */
    size_t trace_len;
    smtpkit_stage stages[64]; /* transcript_run_pump(): what set_stage was told, in order */
    size_t stage_count;
} transcript_outcome;

/** Fault injection for transcript_run_pump_fault(): port and message-source calls are counted
 * from 1; call number @p fail_call fails with @p status. */
typedef struct transcript_fault {
    size_t fail_call;      /* 0: no fault */
    smtpkit_status status; /* set by the runner: IO for read/write/source, CERT for TLS */
    size_t calls;          /* calls made */
    size_t accepted_call;  /* the call that delivered the reply to the final dot, or 0 */
} transcript_fault;

bool transcript_load(const char *path, transcript *t, char *why, size_t why_size);
void transcript_free(transcript *t);

/** Loads DIR/NAME into a new transcript; on failure says why on stderr and returns NULL. */
transcript *transcript_open(const char *dir, const char *name);
/** Frees a transcript from transcript_open() (NULL is fine). */
void transcript_close(transcript *t);

/** Decodes the C escapes of the format into a new buffer (NUL-terminated beyond *len). */
bool transcript_unescape(const char *text, uint8_t **out, size_t *len);

/** Drives a session by hand through the script. */
void transcript_run_session(const transcript *t, const transcript_mode *mode,
                            transcript_outcome *o);

/** Runs the script through smtpkit_transport_send() and a scripted port. */
void transcript_run_pump(const transcript *t, transcript_outcome *o);

/** The same with one failing call (see transcript_fault). */
void transcript_run_pump_fault(const transcript *t, transcript_fault *fault, transcript_outcome *o);

/** Compares an outcome with the script's expectations; false with *why filled if it differs. */
bool transcript_check(const transcript *t, const transcript_outcome *o, bool pump, char *why,
                      size_t why_size);

/** The trace without its '*' lines (which may differ with the cut of the input). */
size_t transcript_wire_trace(const transcript_outcome *o, char *out, size_t size);

void transcript_outcome_free(transcript_outcome *o);

/** Sorted paths of the *.txt files in @p dir; returns the count, 0 on error. */
size_t transcript_list(const char *dir, char ***paths);
void transcript_list_free(char **paths, size_t count);

#endif
