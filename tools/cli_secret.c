/*
 * cli_secret.c - reads the secret from a file or a command's output.
 *
 * Only the first line counts (as msmtp's passwordeval), with its line end removed. Every
 * buffer that held the secret, stdio's included, is wiped before it is released. The command
 * runs with /dev/null as its standard input, because smtpkit's own standard input may be the
 * message body, which a password helper must not eat.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "cli_exit.h"

extern char **environ;

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
    if (posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1) != 0 ||
        posix_spawn_file_actions_addclose(&actions, fds[0]) != 0 ||
        posix_spawn_file_actions_addclose(&actions, fds[1]) != 0 ||
        posix_spawn(&pid, "/bin/sh", &actions, NULL, argv, environ) != 0) {
        pid = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
    } else {
        *out_fd = fds[0];
    }
    return pid;
}

/* Reads the rest of the output so that the command is not killed by SIGPIPE. */
static void drain(FILE *in)
{
    char scratch[512];

    while (fread(scratch, 1, sizeof scratch, in) > 0) {
    }
    mbedtls_platform_zeroize(scratch, sizeof scratch);
}

/* Waits for the command; NULL if it exited with 0, else why not (in @p why_buf). */
static const char *wait_command(pid_t pid, char *why_buf, size_t why_size)
{
    int status;

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return strerror(errno);
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return NULL;
    }
    if (WIFEXITED(status)) {
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

    if (pid < 0) {
        return cli_fail(fail_code, "%s: cannot run /bin/sh: %s", what, strerror(errno));
    }
    in = fdopen(fd, "r");
    if (in == NULL) {
        close(fd);
        (void)wait_command(pid, exit_why, sizeof exit_why);
        return cli_fail(CLI_EXIT_SOFTWARE, "%s: %s", what, strerror(errno));
    }
    setvbuf(in, buffer, _IOFBF, sizeof buffer);
    read_why = read_first_line(s, in);
    drain(in);
    fclose(in);
    mbedtls_platform_zeroize(buffer, sizeof buffer);
    /* A failed command explains an empty output better than the empty output does. */
    why = wait_command(pid, exit_why, sizeof exit_why);
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
