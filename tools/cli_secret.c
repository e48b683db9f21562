/*
 * cli_secret.c - reads the secret from a file or a command's output.
 *
 * Only the first line counts (as msmtp's passwordeval), with its line end removed. Every
 * buffer that held the secret, stdio's included, is wiped before it is released. The command
 * runs with /dev/null as its standard input, because smtpkit's own standard input may be the
 * message body, which a password helper must not eat.
 *
 * A helper gets COMMAND_TIMEOUT_MS to print its line. Once the line is read, smtpkit stops
 * listening and gives the helper COMMAND_GRACE_MS to exit; then it and everything it started
 * (it runs in a process group of its own) are killed, so a helper that lingers or keeps
 * printing cannot hold the send up.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "cli_exit.h"

extern char **environ;

enum { COMMAND_TIMEOUT_MS = 30000, COMMAND_GRACE_MS = 2000, REAP_STEP_MS = 10 };

void cli_secret_free(cli_secret *s)
{
    if (s->text != NULL) {
        mbedtls_platform_zeroize(s->text, CLI_SECRET_MAX + 1);
        free(s->text);
    }
    s->text = NULL;
    s->len = 0;
}

static int allocate(cli_secret *s)
{
    cli_secret_free(s);
    s->text = calloc(1, CLI_SECRET_MAX + 1);
    return s->text != NULL ? 0 : -1;
}

/* Reads the first line of @p in into @p s. Returns NULL, or why it failed. */
static const char *read_first_line(cli_secret *s, FILE *in)
{
    int c;

    if (allocate(s) != 0) {
        return "out of memory";
    }
    while ((c = getc(in)) != EOF && c != '\n') {
        if (s->len == CLI_SECRET_MAX) {
            cli_secret_free(s);
            return "the secret is too long";
        }
        s->text[s->len++] = (char)c;
    }
    if (ferror(in)) {
        cli_secret_free(s);
        return "read error";
    }
    if (s->len > 0 && s->text[s->len - 1] == '\r') {
        s->text[--s->len] = '\0';
    }
    if (s->len == 0) {
        cli_secret_free(s);
        return "the first line is empty";
    }
    return NULL;
}

int cli_secret_from_file(cli_secret *s, const char *path, const char *what)
{
    char buffer[BUFSIZ];
    FILE *in = fopen(path, "r");
    const char *why;

    if (in == NULL) {
        return cli_fail(CLI_EXIT_NOINPUT, "%s %s: %s", what, path, strerror(errno));
    }
    setvbuf(in, buffer, _IOFBF, sizeof buffer);
    why = read_first_line(s, in);
    fclose(in);
    mbedtls_platform_zeroize(buffer, sizeof buffer);
    return why == NULL ? 0 : cli_fail(CLI_EXIT_NOINPUT, "%s %s: %s", what, path, why);
}

static pid_t spawn_shell(const char *command, int *out_fd)
{
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    pid_t pid = -1;
    int fds[2];

    if (pipe(fds) != 0) {
        return -1;
    }
    if (posix_spawn_file_actions_init(&actions) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    /* Its own process group, so that a timeout can stop whatever it started as well. */
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1) != 0 ||
        posix_spawn_file_actions_addclose(&actions, fds[0]) != 0 ||
        posix_spawn_file_actions_addclose(&actions, fds[1]) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0 ||
        posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ) != 0) {
        pid = -1;
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
    } else {
        *out_fd = fds[0];
    }
    return pid;
}

/* Whether @p fd has output (or EOF) within @p timeout_ms. */
static bool wait_output(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;

    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    return n > 0;
}

/* Waits up to @p grace_ms for the command to exit, then kills its process group and reaps it.
 * Returns its wait status, and sets *@p killed when it had to be killed. */
static int reap(pid_t pid, int grace_ms, bool *killed)
{
    struct timespec step = {0, REAP_STEP_MS * 1000000L};
    int status = 0;

    *killed = false;
    for (int waited = 0; waited < grace_ms; waited += REAP_STEP_MS) {
        pid_t done = waitpid(pid, &status, WNOHANG);

        if (done == pid || (done < 0 && errno != EINTR)) {
            return status;
        }
        nanosleep(&step, NULL);
    }
    *killed = true;
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* Whether the command ended because it wrote on after its line was read: SIGPIPE, or a shell
 * reporting it as 128 + SIGPIPE. */
static bool ended_by_sigpipe(int status)
{
    return (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) ||
           (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGPIPE);
}

/* NULL if the command did its job, else why not (in @p why_buf). A command that printed its
 * line and then died of SIGPIPE, or lingered and was killed, did its job. */
static const char *command_result(int status, bool killed, bool got_line, char *why_buf,
                                  size_t why_size)
{
    if (got_line && (killed || ended_by_sigpipe(status))) {
        return NULL;
    }
    if (killed) {
        snprintf(why_buf, why_size, "printed no line and did not exit");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return NULL;
    } else if (WIFEXITED(status)) {
        snprintf(why_buf, why_size, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(why_buf, why_size, "killed by signal %d",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    return why_buf;
}

int cli_secret_from_command(cli_secret *s, const char *command, const char *what, int fail_code)
{
    char buffer[BUFSIZ];
    char exit_why[64];
    int fd = -1;
    pid_t pid = spawn_shell(command, &fd);
    FILE *in;
    const char *read_why;
    const char *why;
    bool killed;
    bool timed_out;
    int status;

    if (pid < 0) {
        return cli_fail(fail_code, "%s: cannot run /bin/sh: %s", what, strerror(errno));
    }
    in = fdopen(fd, "r");
    if (in == NULL) {
        close(fd);
        (void)reap(pid, 0, &killed);
        return cli_fail(CLI_EXIT_SOFTWARE, "%s: %s", what, strerror(errno));
    }
    setvbuf(in, buffer, _IOFBF, sizeof buffer);
    timed_out = !wait_output(fd, COMMAND_TIMEOUT_MS);
    read_why = timed_out ? "printed no line within 30 s" : read_first_line(s, in);
    fclose(in);
    mbedtls_platform_zeroize(buffer, sizeof buffer);
    status = reap(pid, timed_out ? 0 : COMMAND_GRACE_MS, &killed);
    /* A failed command explains an empty output better than the empty output does. */
    why = timed_out ? NULL
                    : command_result(status, killed, read_why == NULL, exit_why, sizeof exit_why);
    why = why != NULL ? why : read_why;
    if (why != NULL) {
        cli_secret_free(s);
        return cli_fail(fail_code, "%s: %s", what, why);
    }
    return 0;
}

int cli_secret_from_string(cli_secret *s, const char *value)
{
    size_t len = strlen(value);

    if (len > CLI_SECRET_MAX) {
        return cli_fail(CLI_EXIT_USAGE, "the secret is longer than %d bytes", CLI_SECRET_MAX);
    }
    if (allocate(s) != 0) {
        return cli_fail(CLI_EXIT_SOFTWARE, "out of memory");
    }
    memcpy(s->text, value, len);
    s->len = len;
    return 0;
}
