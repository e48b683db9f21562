/*
 * transcript.c - loader and runners of the scripted SMTP conversations in
 * tests/unit/transcripts/ (one .txt file per conversation).
 *
 * FORMAT. A transcript is a text file; lines starting with '#' are comments, blank lines are
 * skipped. First come settings, one "key: value" per line (values take the escapes below):
 *
 *   tls: starttls | implicit | none   TLS mode (default starttls)
 *   helo: NAME                        EHLO argument (default client.example)
 *   user: U                           AUTH is attempted when a user is set
 *   secret: S                         password, or bearer token with "token: yes"
 *   token: yes                        secret_is_token
 *   auth: auto | plain | login | cram-md5 | xoauth2 | oauthbearer
 *   plaintext-auth: yes               allow_plaintext_auth
 *   strict: yes                       rcpt_strict
 *   oauth-host: H, oauth-port: P      OAUTHBEARER host= and port=
 *   from: ADDR                        reverse path ("from:" with nothing: the null sender)
 *   rcpt: A, B, ...                   forward paths; without rcpt: no message is sent
 *   body: TEXT                        the message as handed to smtpkit_session_body()
 *   size: N                           envelope size_hint
 *   out-size: N                       size of the output buffer (default 16384)
 *   expect: sent | done | failed STATUS STAGE CODE [ENHANCED] | refused STATUS STAGE
 *           STATUS and STAGE are enum names without their prefix (PERMANENT, RCPT, NONE...);
 *           "refused": smtpkit_session_mail() itself returned STATUS (the session failed)
 *   results: CODE CODE ...            the RCPT reply code per recipient (0: never tried)
 *
 * Then the script, in order:
 *
 *   S: BYTES   the server sends BYTES; consecutive S: lines are one segment, fed together
 *   C: BYTES   the client must write exactly BYTES; consecutive C: lines are joined
 *   TLS        the client must ask for the TLS handshake here (SMTPKIT_EV_START_TLS)
 *   EOF        the server closes the connection
 *
 * Escapes: \r \n \t \\ \0 \xHH, and \{N:c} for the character c repeated N times. Nothing is
 * implied: every line end is written out. The runner sends the envelope at the first READY and
 * QUIT at the next one; after a FAILED it asks once for a polite QUIT, as
 * smtpkit_transport_send() does, so a failure after a server reply (or a refused envelope) is
 * followed by "C: QUIT\r\n" in the script.
 */
#define _POSIX_C_SOURCE 200809L

#include "transcript.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "smtpkit/transport.h"

static const char *const status_names[] = {"OK",       "USAGE",  "CONNECT",   "TLS",       "CERT",
                                           "PROTOCOL", "AUTH",   "TEMPORARY", "PERMANENT", "IO",
                                           "TIMEOUT",  "BUFFER", "STATE",     "INTERNAL"};
static const char *const stage_names[] = {"NONE",     "CONNECT", "GREETING", "EHLO", "HELO",
                                          "STARTTLS", "TLS",     "AUTH",     "MAIL", "RCPT",
                                          "DATA",     "BODY",    "QUIT"};

static int lookup(const char *const *names, size_t count, const char *name)
{
    size_t i;

    for (i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Escapes ---------------------------------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

static bool append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *bytes, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = (*len + n + 1) * 2;
        uint8_t *grown = realloc(*buf, want);

        if (grown == NULL) {
            return false;
        }
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, bytes, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

/* One escape after the backslash at text[*i]; *i is left on its last character. */
static bool unescape_one(const char *text, size_t *i, uint8_t **buf, size_t *len, size_t *cap)
{
    static const char simple_in[] = {'r', 'n', 't', '\\', '0', '\0'};
    static const char simple_out[] = {'\r', '\n', '\t', '\\', '\0'};
    const char *simple = strchr(simple_in, text[*i + 1]);
    uint8_t c;

    if (text[*i + 1] != '\0' && simple != NULL) {
        c = (uint8_t)simple_out[simple - simple_in];
        *i += 1;
        return append(buf, len, cap, &c, 1);
    }
    if (text[*i + 1] == 'x' && hex_value(text[*i + 2]) >= 0 && hex_value(text[*i + 3]) >= 0) {
        c = (uint8_t)(hex_value(text[*i + 2]) * 16 + hex_value(text[*i + 3]));
        *i += 3;
        return append(buf, len, cap, &c, 1);
    }
    if (text[*i + 1] == '{') {
        char *end = NULL;
        unsigned long count = strtoul(text + *i + 2, &end, 10);

        if (end == NULL || end[0] != ':' || end[1] == '\0' || end[2] != '}') {
            return false;
        }
        c = (uint8_t)end[1];
        *i = (size_t)(end + 2 - text);
        while (count-- > 0) {
            if (!append(buf, len, cap, &c, 1)) {
                return false;
            }
        }
        return true;
    }
    return false;
}

bool transcript_unescape(const char *text, uint8_t **out, size_t *len)
{
    size_t cap = 0;
    size_t i;

    *out = NULL;
    *len = 0;
    if (!append(out, len, &cap, (const uint8_t *)"", 0)) {
        return false;
    }
    for (i = 0; text[i] != '\0'; i++) {
        bool ok = text[i] == '\\' ? unescape_one(text, &i, out, len, &cap)
                                  : append(out, len, &cap, (const uint8_t *)&text[i], 1);
        if (!ok) {
            free(*out);
            *out = NULL;
            return false;
        }
    }
    return true;
}

/* Bytes shown C-escaped in a message, cut at @p size. */
static void escape(const uint8_t *bytes, size_t len, char *out, size_t size)
{
    size_t used = 0;
    size_t i;

    out[0] = '\0';
    for (i = 0; i < len && used + 8 < size; i++) {
        uint8_t c = bytes[i];

        if (c == '\r') {
            used += (size_t)snprintf(out + used, size - used, "\\r");
        } else if (c == '\n') {
            used += (size_t)snprintf(out + used, size - used, "\\n");
        } else if (c < 0x20 || c >= 0x7f || c == '\\') {
            used += (size_t)snprintf(out + used, size - used, "\\x%02x", c);
        } else {
            out[used++] = (char)c;
            out[used] = '\0';
        }
    }
    if (i < len && used + 4 < size) {
        snprintf(out + used, size - used, "...");
    }
}

/* Loading ---------------------------------------------------------------------------------- */

static char *unescape_string(const char *value)
{
    uint8_t *bytes;
    size_t len;

    return transcript_unescape(value, &bytes, &len) ? (char *)bytes : NULL;
}

static bool parse_expect(transcript *t, char *value)
{
    char *words[6] = {0};
    size_t n = 0;
    char *save = NULL;
    char *word;

    for (word = strtok_r(value, " ", &save); word != NULL && n < 6;
         word = strtok_r(NULL, " ", &save)) {
        words[n++] = word;
    }
    if (n == 1 && strcmp(words[0], "sent") == 0) {
        t->expect = EXPECT_SENT;
        return true;
    }
    if (n == 1 && strcmp(words[0], "done") == 0) {
        t->expect = EXPECT_DONE;
        return true;
    }
    if (n < 3 || lookup(status_names, 14, words[1]) < 0 || lookup(stage_names, 13, words[2]) < 0) {
        return false;
    }
    t->expect_status = (smtpkit_status)lookup(status_names, 14, words[1]);
    t->expect_stage = (smtpkit_stage)lookup(stage_names, 13, words[2]);
    if (strcmp(words[0], "refused") == 0 && n == 3) {
        t->expect = EXPECT_REFUSED;
        return true;
    }
    if (strcmp(words[0], "failed") != 0 || n < 4) {
        return false;
    }
    t->expect = EXPECT_FAILED;
    t->expect_code = (unsigned)strtoul(words[3], NULL, 10);
    snprintf(t->expect_enhanced, sizeof t->expect_enhanced, "%s", n > 4 ? words[4] : "");
    return true;
}

static bool parse_list(char *value, char **list, size_t *count, bool codes, unsigned *numbers)
{
    char *save = NULL;
    char *word;

    for (word = strtok_r(value, codes ? " " : ",", &save); word != NULL;
         word = strtok_r(NULL, codes ? " " : ",", &save)) {
        while (*word == ' ') {
            word++;
        }
        if (*count == TRANSCRIPT_RCPT_MAX) {
            return false;
        }
        if (codes) {
            numbers[(*count)++] = (unsigned)strtoul(word, NULL, 10);
        } else if ((list[(*count)++] = unescape_string(word)) == NULL) {
            return false;
        }
    }
    return true;
}

static bool parse_mech(const char *value, smtpkit_auth_mech *mech)
{
    return smtpkit_auth_mech_parse(value, mech);
}

static bool parse_tls(const char *value, smtpkit_tls_mode *mode)
{
    static const char *const names[] = {"starttls", "implicit", "none"};
    int i = lookup(names, 3, value);

    *mode = (smtpkit_tls_mode)i;
    return i >= 0;
}

static bool set_string(char **field, const char *value)
{
    if (field == NULL) {
        return false; /* unknown key */
    }
    free(*field);
    *field = unescape_string(value);
    return *field != NULL;
}

static bool parse_setting(transcript *t, const char *key, char *value)
{
    smtpkit_session_config *c = &t->config;

    if (strcmp(key, "tls") == 0) {
        return parse_tls(value, &c->tls_mode);
    }
    if (strcmp(key, "auth") == 0) {
        return parse_mech(value, &c->auth);
    }
    if (strcmp(key, "token") == 0 || strcmp(key, "plaintext-auth") == 0 ||
        strcmp(key, "strict") == 0) {
        bool yes = strcmp(value, "yes") == 0;

        *(strcmp(key, "token") == 0    ? &c->secret_is_token
          : strcmp(key, "strict") == 0 ? &c->rcpt_strict
                                       : &c->allow_plaintext_auth) = yes;
        return yes || strcmp(value, "no") == 0;
    }
    if (strcmp(key, "oauth-port") == 0 || strcmp(key, "size") == 0 ||
        strcmp(key, "out-size") == 0) {
        unsigned long n = strtoul(value, NULL, 10);

        if (strcmp(key, "oauth-port") == 0) {
            c->oauth_port = (uint16_t)n;
        } else {
            *(strcmp(key, "size") == 0 ? &t->size_hint : &t->out_size) = n;
        }
        return true;
    }
    if (strcmp(key, "body") == 0) {
        free(t->body);
        return transcript_unescape(value, &t->body, &t->body_len);
    }
    if (strcmp(key, "rcpt") == 0) {
        return parse_list(value, t->rcpt, &t->rcpt_count, false, NULL);
    }
    if (strcmp(key, "results") == 0) {
        return parse_list(value, NULL, &t->results_count, true, t->results);
    }
    if (strcmp(key, "expect") == 0) {
        return parse_expect(t, value);
    }
    return set_string(strcmp(key, "helo") == 0         ? &t->helo
                      : strcmp(key, "user") == 0       ? &t->user
                      : strcmp(key, "secret") == 0     ? &t->secret
                      : strcmp(key, "oauth-host") == 0 ? &t->oauth_host
                      : strcmp(key, "from") == 0       ? &t->from
                                                       : NULL,
                      value);
}

static bool add_item(transcript *t, item_kind kind, const char *payload, int line)
{
    transcript_item *last = t->item_count > 0 ? &t->items[t->item_count - 1] : NULL;
    transcript_item *item;
    uint8_t *bytes;
    size_t len;

    if (payload != NULL && !transcript_unescape(payload, &bytes, &len)) {
        return false;
    }
    if (payload != NULL && last != NULL && last->kind == kind) {
        uint8_t *joined = realloc(last->bytes, last->len + len + 1);

        if (joined == NULL) {
            free(bytes);
            return false;
        }
        memcpy(joined + last->len, bytes, len + 1);
        last->bytes = joined;
        last->len += len;
        free(bytes);
        return true;
    }
    if (t->item_count == TRANSCRIPT_ITEMS_MAX) {
        free(payload != NULL ? bytes : NULL);
        return false;
    }
    item = &t->items[t->item_count++];
    item->kind = kind;
    item->bytes = payload != NULL ? bytes : NULL;
    item->len = payload != NULL ? len : 0;
    item->line = line;
    return true;
}

static bool parse_line(transcript *t, char *line, int lineno)
{
    char *colon;

    if (strncmp(line, "S: ", 3) == 0 || strncmp(line, "C: ", 3) == 0) {
        return add_item(t, line[0] == 'S' ? ITEM_SERVER : ITEM_CLIENT, line + 3, lineno);
    }
    if (strcmp(line, "TLS") == 0 || strcmp(line, "EOF") == 0) {
        return add_item(t, line[0] == 'T' ? ITEM_TLS : ITEM_EOF, NULL, lineno);
    }
    colon = strchr(line, ':');
    if (t->item_count > 0 || colon == NULL) {
        return false;
    }
    *colon = '\0';
    return parse_setting(t, line, colon[1] == ' ' ? colon + 2 : colon + 1);
}

static void set_name(transcript *t, const char *path)
{
    const char *base = strrchr(path, '/');

    snprintf(t->name, sizeof t->name, "%s", base != NULL ? base + 1 : path);
}

bool transcript_load(const char *path, transcript *t, char *why, size_t why_size)
{
    FILE *f = fopen(path, "r");
    char line[16384];
    int lineno = 0;
    bool ok = true;

    memset(t, 0, sizeof *t);
    set_name(t, path);
    t->helo = strdup("client.example");
    t->from = strdup("");
    t->out_size = 16384;
    t->expect = EXPECT_FAILED;
    t->expect_status = SMTPKIT_E_INTERNAL; /* a transcript without expect: never passes */
    if (f == NULL) {
        snprintf(why, why_size, "%s: cannot open", path);
        return false;
    }
    while (ok && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        lineno++;
        if (line[0] != '#' && line[0] != '\0') {
            ok = parse_line(t, line, lineno);
        }
    }
    fclose(f);
    if (!ok) {
        snprintf(why, why_size, "%s:%d: cannot parse this line", path, lineno);
    }
    return ok;
}

void transcript_free(transcript *t)
{
    size_t i;

    free(t->helo);
    free(t->user);
    free(t->secret);
    free(t->oauth_host);
    free(t->from);
    free(t->body);
    for (i = 0; i < t->rcpt_count; i++) {
        free(t->rcpt[i]);
    }
    for (i = 0; i < t->item_count; i++) {
        free(t->items[i].bytes);
    }
    memset(t, 0, sizeof *t);
}

transcript *transcript_open(const char *dir, const char *name)
{
    transcript *t = calloc(1, sizeof *t);
    char path[1024];
    char why[TRANSCRIPT_WHY_MAX];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (t != NULL && transcript_load(path, t, why, sizeof why)) {
        return t;
    }
    fprintf(stderr, "%s\n", t != NULL ? why : "out of memory");
    free(t);
    return NULL;
}

void transcript_close(transcript *t)
{
    if (t != NULL) {
        transcript_free(t);
        free(t);
    }
}

/* Script cursor ---------------------------------------------------------------------------- */

typedef struct cursor {
    const transcript *t;
    size_t cur; /* item */
    size_t pos; /* offset in a C: or S: item */
    transcript_outcome *o;
} cursor;

static bool script_fail(transcript_outcome *o, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static bool script_fail(transcript_outcome *o, const char *format, ...)
{
    va_list ap;

    if (o->script_ok) {
        o->script_ok = false;
        va_start(ap, format);
        vsnprintf(o->why, sizeof o->why, format, ap);
        va_end(ap);
    }
    return false;
}

static const char *item_name(item_kind kind)
{
    static const char *const names[] = {"server bytes (S:)", "client bytes (C:)", "TLS", "EOF"};

    return names[kind];
}

/* The client wrote @p len bytes: they must be the next bytes of C: items. */
static bool cursor_client(cursor *c, const uint8_t *data, size_t len)
{
    char got[256];
    char want[256];
    size_t i;

    for (i = 0; i < len; i++) {
        const transcript_item *item = c->cur < c->t->item_count ? &c->t->items[c->cur] : NULL;

        escape(data + i, len - i, got, sizeof got);
        if (item == NULL || item->kind != ITEM_CLIENT) {
            return script_fail(c->o, "%s: client wrote \"%s\" where the script has %s (line %d)",
                               c->t->name, got, item ? item_name(item->kind) : "ended",
                               item ? item->line : 0);
        }
        if (data[i] != item->bytes[c->pos]) {
            escape(item->bytes + c->pos, item->len - c->pos, want, sizeof want);
            return script_fail(c->o, "%s:%d: client wrote \"%s\", script expects \"%s\"",
                               c->t->name, item->line, got, want);
        }
        if (++c->pos == item->len) {
            c->cur++;
            c->pos = 0;
        }
    }
    return true;
}

/* The client wants @p kind (read, or TLS) next; NULL when the script has something else. */
static const transcript_item *cursor_take(cursor *c, const char *doing, bool server)
{
    const transcript_item *item = c->cur < c->t->item_count ? &c->t->items[c->cur] : NULL;
    char want[256] = "";

    if (item != NULL &&
        (server ? item->kind == ITEM_SERVER || item->kind == ITEM_EOF : item->kind == ITEM_TLS)) {
        return item;
    }
    if (item != NULL && item->kind == ITEM_CLIENT) {
        escape(item->bytes + c->pos, item->len - c->pos, want, sizeof want);
    }
    script_fail(c->o, "%s: client %s, but the script has %s (line %d) %s", c->t->name, doing,
                item ? item_name(item->kind) : "ended", item ? item->line : 0, want);
    return NULL;
}

/* Trace ------------------------------------------------------------------------------------ */

static void trace_collect(void *ctx, smtpkit_trace_kind kind, const char *text, size_t len)
{
    transcript_outcome *o = ctx;
    char *grown = realloc(o->trace, o->trace_len + len + 5);

    if (grown == NULL) {
        return;
    }
    o->trace = grown;
    o->trace_len += (size_t)sprintf(o->trace + o->trace_len, "%c: ", (char)kind);
    memcpy(o->trace + o->trace_len, text, len);
    o->trace_len += len;
    o->trace[o->trace_len++] = '\n';
    o->trace[o->trace_len] = '\0';
}

size_t transcript_wire_trace(const transcript_outcome *o, char *out, size_t size)
{
    const char *line = o->trace != NULL ? o->trace : "";
    size_t used = 0;

    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t n = (size_t)(end - line) + 1;

        if (line[0] != '*' && used + n < size) {
            memcpy(out + used, line, n);
            used += n;
        }
        line += n;
    }
    out[used] = '\0';
    return used;
}

void transcript_outcome_free(transcript_outcome *o)
{
    free(o->trace);
    o->trace = NULL;
    o->trace_len = 0;
}

/* Session runner --------------------------------------------------------------------------- */

typedef struct runner {
    const transcript *t;
    const transcript_mode *mode;
    transcript_outcome *o;
    cursor c;
    smtpkit_session_config config;
    smtpkit_envelope env;
    smtpkit_session s;
    bool mailed;
    bool quit_tried;
    size_t body_pos;
} runner;

static void setup(runner *r, const transcript *t, transcript_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->script_ok = true;
    r->t = t;
    r->o = o;
    r->c.t = t;
    r->c.cur = 0;
    r->c.pos = 0;
    r->c.o = o;
    r->config = t->config;
    r->config.helo_name = t->helo;
    r->config.user = t->user;
    r->config.secret = t->secret;
    r->config.oauth_host = t->oauth_host;
    r->config.trace = trace_collect;
    r->config.trace_ctx = o;
    memset(&r->env, 0, sizeof r->env);
    r->env.mail_from = t->from;
    r->env.rcpt = (const char *const *)t->rcpt;
    r->env.rcpt_count = t->rcpt_count;
    r->env.size_hint = t->size_hint;
    r->env.results = o->results;
    r->mailed = false;
    r->quit_tried = false;
    r->body_pos = 0;
}

static void feed_segment(runner *r, const transcript_item *item)
{
    size_t at = 0;

    while (at < item->len) {
        size_t n = item->len - at;

        if (r->mode->bytewise) {
            n = 1;
        } else if (r->mode->split_item == r->c.cur && at < r->mode->split_at) {
            n = r->mode->split_at - at;
        }
        (void)smtpkit_session_feed(&r->s, item->bytes + at, n);
        at += n;
    }
}

static void on_read(runner *r)
{
    const transcript_item *item = cursor_take(&r->c, "reads", true);

    if (item == NULL) {
        return;
    }
    if (item->kind == ITEM_EOF) {
        (void)smtpkit_session_eof(&r->s);
    } else {
        feed_segment(r, item);
    }
    r->c.cur++;
}

static void on_ready(runner *r)
{
    smtpkit_status status;

    if (!r->mailed && r->t->rcpt_count > 0) {
        r->mailed = true;
        status = smtpkit_session_mail(&r->s, &r->env);
        if (status == SMTPKIT_OK) {
            return;
        }
        r->o->refused = true;
        r->o->refusal = status;
        return; /* the session has failed: FAILED comes next, then the polite QUIT */
    }
    r->quit_tried = true;
    if (smtpkit_session_quit(&r->s) != SMTPKIT_OK) {
        script_fail(r->o, "%s: QUIT at READY refused", r->t->name);
    }
}

static void on_body(runner *r)
{
    size_t end = r->t->body_len;
    size_t before;
    size_t taken;

    if (r->body_pos == r->t->body_len) {
        smtpkit_status status = smtpkit_session_body_end(&r->s);

        smtpkit_session_output(&r->s, &before);
        if (status != SMTPKIT_OK && (status != SMTPKIT_E_BUFFER || before == 0)) {
            script_fail(r->o, "%s: body_end() failed with %d", r->t->name, (int)status);
        }
        return;
    }
    if (r->mode->bytewise) {
        end = r->body_pos + 1;
    } else if (r->mode->split_at > r->body_pos && r->mode->split_at < end) {
        end = r->mode->split_at;
    }
    taken = smtpkit_session_body(&r->s, r->t->body + r->body_pos, end - r->body_pos);
    r->body_pos += taken;
    smtpkit_session_output(&r->s, &before);
    if (taken == 0 && before == 0) {
        script_fail(r->o, "%s: body() takes nothing with an empty output", r->t->name);
    }
}

/* Handles one event; false when the session is over. */
static bool step(runner *r, smtpkit_event event)
{
    size_t len;
    const uint8_t *data;

    switch (event) {
    case SMTPKIT_EV_WRITE:
        data = smtpkit_session_output(&r->s, &len);
        len = r->mode->bytewise ? 1 : len;
        if (cursor_client(&r->c, data, len)) {
            smtpkit_session_written(&r->s, len);
        }
        return true;
    case SMTPKIT_EV_READ:
        on_read(r);
        return true;
    case SMTPKIT_EV_START_TLS:
        if (cursor_take(&r->c, "asks for TLS", false) != NULL) {
            r->c.cur++;
            (void)smtpkit_session_tls_started(&r->s);
        }
        return true;
    case SMTPKIT_EV_READY:
        on_ready(r);
        return true;
    case SMTPKIT_EV_BODY:
        on_body(r);
        return true;
    case SMTPKIT_EV_SENT:
        r->o->sent = true;
        return true;
    case SMTPKIT_EV_FAILED:
        if (!r->quit_tried) {
            r->quit_tried = true;
            if (smtpkit_session_quit(&r->s) == SMTPKIT_OK) {
                return true;
            }
        }
        r->o->final = event;
        return false;
    default:
        r->o->final = event;
        return false;
    }
}

static void finish_script(cursor *c)
{
    if (c->o->script_ok && c->cur < c->t->item_count) {
        script_fail(c->o, "%s: the session ended before the script (line %d, %s)", c->t->name,
                    c->t->items[c->cur].line, item_name(c->t->items[c->cur].kind));
    }
}

void transcript_run_session(const transcript *t, const transcript_mode *mode, transcript_outcome *o)
{
    uint8_t *out = malloc(t->out_size);
    runner r;
    long steps;

    setup(&r, t, o);
    r.mode = mode;
    if (smtpkit_session_init(&r.s, &r.config, out, t->out_size) != SMTPKIT_OK) {
        script_fail(o, "%s: init failed: %s", t->name, smtpkit_session_error(&r.s)->message);
        free(out);
        return;
    }
    for (steps = 0; steps < 10000000 && o->script_ok; steps++) {
        if (!step(&r, smtpkit_session_next(&r.s))) {
            break;
        }
    }
    finish_script(&r.c);
    o->error = *smtpkit_session_error(&r.s);
    free(out);
}

/* Pump runner ------------------------------------------------------------------------------ */

typedef struct pump_port {
    cursor c;
    transcript_fault *fault;
    size_t dot_reply_item; /* the S: item that answers the final dot */
    smtpkit_buffer_source body;
    smtpkit_message_source source;
} pump_port;

/* Counts a call; true when this one must fail. */
static bool faulty(pump_port *port)
{
    port->fault->calls++;
    return port->fault->calls == port->fault->fail_call;
}

static smtpkit_status port_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                smtpkit_error *err)
{
    pump_port *port = ctx;
    cursor *c = &port->c;
    const transcript_item *item;
    size_t n;

    *got = 0;
    if (faulty(port)) {
        return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "injected read failure");
    }
    item = cursor_take(c, "reads", true);
    if (item == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "script: no read here");
    }
    if (item->kind == ITEM_EOF) {
        c->cur++;
        return SMTPKIT_OK;
    }
    n = item->len - c->pos < size ? item->len - c->pos : size;
    memcpy(buf, item->bytes + c->pos, n);
    c->pos += n;
    *got = n;
    if (c->pos == item->len) {
        if (c->cur == port->dot_reply_item) {
            port->fault->accepted_call = port->fault->calls;
        }
        c->cur++;
        c->pos = 0;
    }
    return SMTPKIT_OK;
}

static smtpkit_status port_write(void *ctx, const uint8_t *buf, size_t len, smtpkit_error *err)
{
    pump_port *port = ctx;

    if (faulty(port)) {
        return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "injected write failure");
    }
    if (!cursor_client(&port->c, buf, len)) {
        return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "script: bad write");
    }
    return SMTPKIT_OK;
}

static smtpkit_status port_start_tls(void *ctx, smtpkit_error *err)
{
    pump_port *port = ctx;

    if (faulty(port)) {
        return smtpkit_error_set(err, SMTPKIT_E_CERT, SMTPKIT_STAGE_NONE, "injected: bad cert");
    }
    if (cursor_take(&port->c, "asks for TLS", false) == NULL) {
        return smtpkit_error_set(err, SMTPKIT_E_TLS, SMTPKIT_STAGE_TLS, "script: no TLS here");
    }
    port->c.cur++;
    return SMTPKIT_OK;
}

static void port_set_stage(void *ctx, smtpkit_stage stage)
{
    pump_port *port = ctx;
    transcript_outcome *o = port->c.o;

    if (o->stage_count < sizeof o->stages / sizeof o->stages[0]) {
        o->stages[o->stage_count++] = stage;
    }
}

static smtpkit_status source_read(void *ctx, uint8_t *buf, size_t size, size_t *got,
                                  smtpkit_error *err)
{
    pump_port *port = ctx;

    *got = 0;
    if (faulty(port)) {
        return smtpkit_error_set(err, SMTPKIT_E_IO, SMTPKIT_STAGE_NONE, "injected source failure");
    }
    return port->source.read(port->source.ctx, buf, size, got, err);
}

/* The S: item right after the C: item that ends the message with "\r\n.\r\n". */
static size_t find_dot_reply(const transcript *t)
{
    size_t i;

    for (i = 0; i + 1 < t->item_count; i++) {
        const transcript_item *item = &t->items[i];

        if (item->kind == ITEM_CLIENT && item->len >= 3 &&
            memcmp(item->bytes + item->len - 3, ".\r\n", 3) == 0 &&
            (item->len == 3 || item->bytes[item->len - 4] == '\n')) {
            return i + 1;
        }
    }
    return (size_t)-1;
}

void transcript_run_pump_fault(const transcript *t, transcript_fault *fault, transcript_outcome *o)
{
    uint8_t *out = malloc(t->out_size);
    smtpkit_transport transport = {0};
    smtpkit_message_source counted;
    transcript_fault none = {0};
    pump_port port;
    runner r;

    setup(&r, t, o);
    memset(&port, 0, sizeof port);
    port.c = r.c;
    port.fault = fault != NULL ? fault : &none;
    port.dot_reply_item = find_dot_reply(t);
    transport.ctx = &port;
    transport.read = port_read;
    transport.write = port_write;
    transport.start_tls = port_start_tls;
    transport.set_stage = port_set_stage;
    smtpkit_buffer_source_init(&port.body, &port.source,
                               t->body != NULL ? t->body : (const uint8_t *)"", t->body_len);
    counted.ctx = &port;
    counted.read = source_read;
    o->pump_status = smtpkit_transport_send(&transport, &r.config, &r.env, &counted, out,
                                            t->out_size, &o->error);
    if (port.fault->fail_call == 0) {
        finish_script(&port.c);
    }
    free(out);
}

void transcript_run_pump(const transcript *t, transcript_outcome *o)
{
    transcript_run_pump_fault(t, NULL, o);
}

/* Checks ----------------------------------------------------------------------------------- */

static bool check_fail(char *why, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static bool check_fail(char *why, size_t size, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vsnprintf(why, size, format, ap);
    va_end(ap);
    return false;
}

static bool check_error(const transcript *t, const smtpkit_error *e, char *why, size_t size)
{
    char line[600];

    smtpkit_error_format(e, line, sizeof line);
    if (strpbrk(line, "\r\n") != NULL) {
        return check_fail(why, size, "%s: error line holds CR or LF", t->name);
    }
    if (e->status != t->expect_status || e->stage != t->expect_stage ||
        (t->expect == EXPECT_FAILED &&
         (e->reply_code != t->expect_code || strcmp(e->enhanced, t->expect_enhanced) != 0))) {
        return check_fail(why, size, "%s: got \"%s\" (status %s, stage %s, code %u, %s)", t->name,
                          line, status_names[e->status], stage_names[e->stage], e->reply_code,
                          e->enhanced);
    }
    return true;
}

/* Neither the secret nor its base64 may reach the trace (short test secrets are skipped). */
static bool check_secret(const transcript *t, const transcript_outcome *o, char *why, size_t size)
{
    unsigned char encoded[4096];
    size_t olen = 0;

    if (t->secret == NULL || strlen(t->secret) < 4 || o->trace == NULL) {
        return true;
    }
    if (strstr(o->trace, t->secret) != NULL) {
        return check_fail(why, size, "%s: the secret is in the trace", t->name);
    }
    if (mbedtls_base64_encode(encoded, sizeof encoded, &olen, (const unsigned char *)t->secret,
                              strlen(t->secret)) == 0 &&
        strstr(o->trace, (const char *)encoded) != NULL) {
        return check_fail(why, size, "%s: the secret's base64 is in the trace", t->name);
    }
    return true;
}

static bool check_results(const transcript *t, const transcript_outcome *o, char *why, size_t size)
{
    size_t i;

    for (i = 0; i < t->results_count; i++) {
        if (o->results[i].code != t->results[i]) {
            return check_fail(why, size, "%s: recipient %zu got %u, expected %u", t->name, i,
                              o->results[i].code, t->results[i]);
        }
    }
    return true;
}

static bool check_session(const transcript *t, const transcript_outcome *o, char *why, size_t size)
{
    switch (t->expect) {
    case EXPECT_SENT:
        if (!o->sent || o->final != SMTPKIT_EV_DONE) {
            return check_fail(why, size, "%s: not sent and done (sent %d, final event %d): %s",
                              t->name, o->sent, (int)o->final, o->error.message);
        }
        return true;
    case EXPECT_DONE:
        if (o->sent || o->refused || o->final != SMTPKIT_EV_DONE) {
            return check_fail(why, size, "%s: expected done, final event %d", t->name,
                              (int)o->final);
        }
        return true;
    case EXPECT_REFUSED:
        if (!o->refused || o->refusal != t->expect_status || o->final != SMTPKIT_EV_FAILED) {
            return check_fail(why, size, "%s: expected a refused envelope, then FAILED", t->name);
        }
        return check_error(t, &o->error, why, size);
    default:
        if (o->sent || o->final != SMTPKIT_EV_FAILED) {
            return check_fail(why, size, "%s: expected FAILED, final event %d", t->name,
                              (int)o->final);
        }
        return check_error(t, &o->error, why, size);
    }
}

/* The pump reports SMTPKIT_OK for sent; a transcript without a message ("done") makes it
 * quit after smtpkit_session_mail() refused the empty envelope with SMTPKIT_E_USAGE. */
static bool check_pump(const transcript *t, const transcript_outcome *o, char *why, size_t size)
{
    switch (t->expect) {
    case EXPECT_SENT:
        if (o->pump_status != SMTPKIT_OK) {
            return check_fail(why, size, "%s: pump returned %d: %s", t->name, (int)o->pump_status,
                              o->error.message);
        }
        return true;
    case EXPECT_DONE:
        if (o->pump_status != SMTPKIT_E_USAGE) {
            return check_fail(why, size, "%s: pump returned %d", t->name, (int)o->pump_status);
        }
        return true;
    default:
        if (o->pump_status != t->expect_status) {
            return check_fail(why, size, "%s: pump returned %d: %s", t->name, (int)o->pump_status,
                              o->error.message);
        }
        return check_error(t, &o->error, why, size);
    }
}

bool transcript_check(const transcript *t, const transcript_outcome *o, bool pump, char *why,
                      size_t why_size)
{
    if (!o->script_ok) {
        return check_fail(why, why_size, "%s", o->why);
    }
    if (!(pump ? check_pump(t, o, why, why_size) : check_session(t, o, why, why_size))) {
        return false;
    }
    return check_results(t, o, why, why_size) && check_secret(t, o, why, why_size);
}

/* Listing ---------------------------------------------------------------------------------- */

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t transcript_list(const char *dir, char ***paths)
{
    DIR *d = opendir(dir);
    struct dirent *entry;
    size_t count = 0;

    *paths = NULL;
    if (d == NULL) {
        return 0;
    }
    while ((entry = readdir(d)) != NULL) {
        size_t len = strlen(entry->d_name);
        char **grown;

        if (len < 5 || strcmp(entry->d_name + len - 4, ".txt") != 0) {
            continue;
        }
        grown = realloc(*paths, (count + 1) * sizeof **paths);
        if (grown == NULL) {
            break;
        }
        *paths = grown;
        (*paths)[count] = malloc(strlen(dir) + len + 2);
        sprintf((*paths)[count], "%s/%s", dir, entry->d_name);
        count++;
    }
    closedir(d);
    qsort(*paths, count, sizeof **paths, compare_paths);
    return count;
}

void transcript_list_free(char **paths, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        free(paths[i]);
    }
    free(paths);
}
