/*
 * cli_cert_check.c - "smtpkit cert check [URL] --anchor FILE...": for a build pipeline or a
 * cron job, does the server still verify against exactly the anchors a firmware carries, and
 * does anything in the verified path or among those anchors expire soon.
 *
 * One line per finding on stdout, each starting with a word a script can match (ok, fail,
 * error, expiring, expired, not-yet-valid), and an exit code that ranks the worst finding:
 * 0 ok, 1 something expires within --warn-days (the leaf, intermediates) or
 * --anchor-warn-days (anchors), or an anchor the server does not need has expired, 2 the chain
 * does not verify or a needed anchor has expired, 3 the server cannot be reached or TLS fails
 * before verification. A passing check still says what expires first, so that a log of
 * green runs shows the time left.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cert.h"
#include "cli_exit.h"
#include "smtpkit/civil_time.h"

enum check_result { CHECK_OK = 0, CHECK_EXPIRING = 1, CHECK_FAIL = 2, CHECK_UNREACHABLE = 3 };

/* Room for where an anchor came from: a path (PATH_MAX is 4096) and ", certificate N". */
enum { ORIGIN_MAX = 4200 };

typedef struct check_run {
    const cli_cert_args *args;
    const cli_cert_target *target;
    const smtpkit_probe *probe; /* NULL without a URL or when the server was not reached */
    int result;
} check_run;

static void raise_result(check_run *run, int result)
{
    run->result = result > run->result ? result : run->result;
}

/* One finding on stdout; control bytes from certificates or the server become '?'. */
static void finding(const char *word, const char *text)
{
    const unsigned char *c;

    printf("%s: ", word);
    for (c = (const unsigned char *)text; *c != '\0'; c++) {
        putchar(*c < 0x20 || *c == 0x7f ? '?' : *c);
    }
    putchar('\n');
}

/* The error's own message, or the formatted reply when the server's words say more. */
static void error_text(const smtpkit_error *err, char *out, size_t size)
{
    if (err->reply_code == 0 && err->message[0] != '\0') {
        snprintf(out, size, "%s", err->message);
    } else {
        (void)smtpkit_error_format(err, out, size);
    }
}

/* "root.pem", or "bundle.pem, certificate 3" when the file holds several. */
static void anchor_origin(const cli_anchor_cert *anchor, char *out, size_t size)
{
    if (anchor->file_count > 1) {
        snprintf(out, size, "%s, certificate %zu", anchor->file, anchor->position);
    } else {
        snprintf(out, size, "%s", anchor->file);
    }
}

static const cli_anchor_cert *anchor_by_digest(const cli_anchor_set *set, const uint8_t *sha256)
{
    size_t i;

    for (i = 0; i < set->count; i++) {
        if (memcmp(set->certs[i].summary.sha256, sha256, SMTPKIT_SHA256_LEN) == 0) {
            return &set->certs[i];
        }
    }
    return NULL;
}

/* The anchor the verified path ends in, when there is one. */
static const smtpkit_cert_summary *needed_anchor(const check_run *run)
{
    const smtpkit_chain_summary *chain = run->probe != NULL ? &run->probe->chain : NULL;

    if (chain == NULL || !chain->anchored || chain->count == 0) {
        return NULL;
    }
    return &chain->certs[chain->count - 1];
}

/* What certificate @p index of the verified path is: "leaf", "intermediate" or "anchor". */
static const char *path_role(const smtpkit_chain_summary *chain, size_t index)
{
    if (chain->certs[index].is_anchor) {
        return "anchor";
    }
    return index == 0 ? "leaf" : "intermediate";
}

/* Says "expired" or "expiring" for @p cert when it is, or with @p say_ok when its dates are
 * fine, "ok" and its expiry; returns the result it deserves. */
static int judge_dates(const check_run *run, const char *role, const smtpkit_cert_summary *cert,
                       const char *origin, unsigned warn_days, bool say_ok)
{
    smtpkit_time now = run->args->now;
    char date[32];
    char count[CLI_DAY_COUNT_MAX];
    char line[SMTPKIT_CERT_NAME_MAX + ORIGIN_MAX + 100];
    char where[ORIGIN_MAX + 4] = "";
    int64_t days = smtpkit_days_between(now, cert->not_after);

    (void)smtpkit_time_format(cert->not_after, date, sizeof date);
    if (origin != NULL) {
        snprintf(where, sizeof where, " (%s)", origin);
    }
    if (now > cert->not_after) {
        snprintf(line, sizeof line, "%s %s%s expired %s, %s ago", role, cert->subject, where, date,
                 cli_day_count(smtpkit_days_between(cert->not_after, now), count, sizeof count));
        finding("expired", line);
        return CHECK_FAIL;
    }
    if (now < cert->not_before) {
        (void)smtpkit_time_format(cert->not_before, date, sizeof date);
        snprintf(line, sizeof line, "%s %s%s is valid from %s, in %s", role, cert->subject, where,
                 date,
                 cli_day_count(smtpkit_days_between(now, cert->not_before), count, sizeof count));
        /* Nothing verifies against it yet: as urgent as one about to expire. */
        finding("not-yet-valid", line);
        return CHECK_EXPIRING;
    }
    snprintf(line, sizeof line, "%s %s%s expires %s, in %s", role, cert->subject, where, date,
             cli_day_count(days, count, sizeof count));
    if (warn_days > 0 && days <= (int64_t)warn_days) {
        finding("expiring", line);
        return CHECK_EXPIRING;
    }
    if (say_ok) {
        finding("ok", line);
    }
    return CHECK_OK;
}

/* "ok: host:port verifies against anchor SUBJECT (FILE); first to expire: leaf SUBJECT on
 * DATE, in N days". */
static void report_ok(const check_run *run)
{
    const smtpkit_chain_summary *chain = &run->probe->chain;
    const smtpkit_cert_summary *needed = needed_anchor(run);
    const cli_anchor_cert *anchor =
        needed != NULL ? anchor_by_digest(&run->target->anchors, needed->sha256) : NULL;
    size_t first = smtpkit_chain_first_expiry(chain);
    char origin[ORIGIN_MAX] = "sent by the server";
    char expiry[SMTPKIT_CERT_NAME_MAX + 100] = "";
    char text[2 * SMTPKIT_CERT_NAME_MAX + sizeof origin + CLI_HOST_MAX + 164];

    if (anchor != NULL) {
        anchor_origin(anchor, origin, sizeof origin);
    }
    if (first < chain->count) {
        char date[32];
        char count[CLI_DAY_COUNT_MAX];

        (void)smtpkit_time_format(chain->certs[first].not_after, date, sizeof date);
        snprintf(expiry, sizeof expiry, "; first to expire: %s %s on %s, in %s",
                 path_role(chain, first), chain->certs[first].subject, date,
                 cli_day_count(smtpkit_days_between(run->args->now, chain->certs[first].not_after),
                               count, sizeof count));
    }
    snprintf(text, sizeof text, "%s verifies against anchor %s (%s)%s", run->target->where,
             needed != NULL ? needed->subject : "?", origin, expiry);
    finding("ok", text);
}

static void check_server(check_run *run, smtpkit_probe *probe)
{
    char text[2 * (SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX) + CLI_HOST_MAX + 128];
    smtpkit_error err;

    if (cli_cert_probe(run->target, probe, &err) != SMTPKIT_OK) {
        char reason[SMTPKIT_ERROR_MESSAGE_MAX + SMTPKIT_ERROR_TEXT_MAX + 64];
        const char *hint = cli_cert_scheme_hint(run->target, &err);

        error_text(&err, reason, sizeof reason);
        /* The library names host:port in connection failures; add it where it does not. */
        snprintf(text, sizeof text, "cannot connect: %s%s%s%s%s%s",
                 strstr(reason, run->target->where) == NULL ? run->target->where : "",
                 strstr(reason, run->target->where) == NULL ? ": " : "", reason,
                 hint != NULL ? " (" : "", hint != NULL ? hint : "", hint != NULL ? ")" : "");
        finding("error", text);
        raise_result(run, CHECK_UNREACHABLE);
        return;
    }
    run->probe = probe;
    if (probe->verify.status != SMTPKIT_OK) {
        error_text(&probe->verify, text, sizeof text);
        finding("fail", text);
        raise_result(run, CHECK_FAIL);
        return;
    }
    report_ok(run);
}

/* The leaf and intermediates of the path; the anchors are judged with their files below. */
static void check_path(check_run *run)
{
    const smtpkit_chain_summary *chain = &run->probe->chain;
    size_t i;

    for (i = 0; i < chain->count; i++) {
        const smtpkit_cert_summary *cert = &chain->certs[i];

        if (cert->is_anchor && anchor_by_digest(&run->target->anchors, cert->sha256) != NULL) {
            continue;
        }
        raise_result(
            run, judge_dates(run, path_role(chain, i), cert, NULL,
                             cert->is_anchor ? run->args->anchor_warn_days : run->args->warn_days,
                             false));
    }
}

/* Every --anchor: an expired one fails the check when the server needs it or none is
 * checked; otherwise it is a warning, as it only needs removing from the firmware. */
static void check_anchors(check_run *run)
{
    const cli_anchor_set *set = &run->target->anchors;
    const smtpkit_cert_summary *needed = needed_anchor(run);
    size_t i;

    for (i = 0; i < set->count; i++) {
        const cli_anchor_cert *anchor = &set->certs[i];
        bool is_needed = needed != NULL &&
                         memcmp(needed->sha256, anchor->summary.sha256, SMTPKIT_SHA256_LEN) == 0;
        char origin[ORIGIN_MAX];
        int result;

        anchor_origin(anchor, origin, sizeof origin);
        result = judge_dates(run, "anchor", &anchor->summary, origin, run->args->anchor_warn_days,
                             run->args->url == NULL);

        if (result == CHECK_FAIL && run->args->url != NULL && !is_needed) {
            result = CHECK_EXPIRING;
        }
        raise_result(run, result);
    }
}

int cli_cert_check(const cli_cert_args *args, const cli_cert_target *target)
{
    check_run run = {args, target, NULL, CHECK_OK};
    smtpkit_probe probe;

    if (args->now == SMTPKIT_TIME_UNKNOWN) {
        return cli_fail(CLI_EXIT_USAGE, "this machine's clock reads before 2020, so no expiry "
                                        "can be judged; give --at YYYY-MM-DD");
    }
    memset(&probe, 0, sizeof probe);
    if (args->url != NULL) {
        check_server(&run, &probe);
    }
    if (run.probe != NULL) {
        check_path(&run);
    }
    check_anchors(&run);
    smtpkit_probe_free(&probe);
    fflush(stdout);
    return run.result;
}
