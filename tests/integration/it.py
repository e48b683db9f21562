#!/usr/bin/python3
"""Integration tests of `smtpkit send` against the real Postfix + Dovecot of tests/harness.

Each test case is a function named case_*; ctest runs one per process:
    it.py CASE
with SMTPKIT_BIN (the CLI), SMTPKIT_IT_DIR (the harness directory, holding `env`) and, for the
example cases, SMTPKIT_SRC, SMTPKIT_LIBS and SMTPKIT_EXAMPLE_POLL in the environment.

Delivered mail is read from the Maildirs and compared byte for byte with a message the test
builds itself: the only values taken from the delivered copy are the Date and Message-ID that
smtpkit generated, and those are checked for form (and the Date for being now) with Python's
email package before they are used.
"""
import base64
import email
import email.policy
import email.utils
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))

EX_USAGE, EX_NOINPUT, EX_NOHOST, EX_UNAVAILABLE = 64, 66, 68, 69
EX_IOERR, EX_TEMPFAIL, EX_PROTOCOL, EX_NOPERM, EX_CONFIG = 74, 75, 76, 77, 78
SKIP = 99  # ctest's SKIP_RETURN_CODE for these tests


def load_env():
    path = os.path.join(os.environ["SMTPKIT_IT_DIR"], "env")
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                env[key] = shlex.split(value)[0] if value else ""
    return env


ENV = load_env()
BIN = os.environ.get("SMTPKIT_BIN", "smtpkit")
USER = ENV["SMTPKIT_TEST_USER"]
PASSWORD = ENV["SMTPKIT_TEST_PASSWORD"]
MAILROOT = ENV["SMTPKIT_MAILDIR_ROOT"]


def port(name):
    return ENV["SMTPKIT_PORT_" + name]


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def run(args, stdin=b"", env_extra=None, password=True, timeout=60, command="send"):
    env = dict(os.environ)
    env.pop("SMTPKIT_PASSWORD", None)
    env.pop("SMTPKIT_CONFIG", None)
    if password:
        env["SMTPKIT_PASSWORD"] = PASSWORD
    env.update(env_extra or {})
    started = time.monotonic()
    args = ([command] if command else []) + args
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, env=env, timeout=timeout)
    p.elapsed = time.monotonic() - started
    p.err = p.stderr.decode("utf-8", "replace")
    print("$ smtpkit " + " ".join(shlex.quote(a) for a in args))
    print(f"  exit {p.returncode} after {p.elapsed:.2f}s; stderr:\n" + p.err)
    return p


def messages_with(user, token):
    found = []
    for sub in ("new", "cur"):
        d = os.path.join(MAILROOT, user, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                data = f.read()
            if token.encode() in data:
                found.append(data)
    return found


def wait_delivered(user, token, count=1, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = messages_with(user, token)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise Failure(f"no message with {token} delivered to {user} within {timeout}s")


def assert_not_delivered(token, users=("alice", "bob", "carol", "dave"), wait=2.0):
    time.sleep(wait)
    for user in users:
        check(not messages_with(user, token), f"a message with {token} reached {user}")


def strip_trace(data):
    """Removes the trace headers Postfix prepends on delivery (Return-Path and the like)."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(rb"(Return-Path|Delivered-To|X-Original-To|Received):", line):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
            continue
        break
    return b"\n".join(lines[i:])


def checked_date_and_id(delivered):
    msg = email.message_from_bytes(delivered, policy=email.policy.default)
    date = msg["Date"]
    check(date is not None, "no Date header")
    when = email.utils.parsedate_to_datetime(str(date))
    drift = abs((datetime.now(timezone.utc) - when).total_seconds())
    check(drift < 300, f"Date {date} is {drift:.0f}s away from now")
    check(re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}",
                       str(date)), f"Date {date!r} is not in RFC 5322 form")
    mid = str(msg["Message-ID"])
    check(re.fullmatch(r"<[0-9A-Za-z.\-_]+@[0-9A-Za-z.\-]+>", mid), f"bad Message-ID {mid!r}")
    return str(date), mid


def expected_message(date, mid, sender, to, subject, body, cc=()):
    head = [f"Date: {date}", f"From: {sender}", "To: " + ", ".join(to)]
    if cc:
        head.append("Cc: " + ", ".join(cc))
    head += [f"Subject: {subject}", f"Message-ID: {mid}", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 8bit"]
    return ("\n".join(head) + "\n\n").encode() + body


def assert_delivered_exactly(user, token, sender, to, subject, body, cc=()):
    delivered = strip_trace(wait_delivered(user, token)[0])
    date, mid = checked_date_and_id(delivered)
    want = expected_message(date, mid, sender, to, subject, body, cc)
    if delivered != want:
        print("delivered:\n" + delivered.decode("utf-8", "replace"))
        print("expected:\n" + want.decode("utf-8", "replace"))
        raise Failure("the delivered message differs from what was sent")
    return delivered


def submission(extra=(), server=None):
    return ["--server", server or f"smtp://127.0.0.1:{port('SUBMISSION')}",
            "--ca-file", ENV["CA_FILE"], "--tls-server-name", "localhost",
            "--user", USER] + list(extra)


def token():
    return "tok-" + uuid.uuid4().hex[:12]


def send_and_check(extra, server=None, auth=None, user_dir="bob"):
    t = token()
    subject = f"hello {t}"
    body = b"First line.\n.starts with a dot\n..two dots\nlast line without newline"
    args = submission(extra, server) + ["--from", USER, "--to", f"{user_dir}@example.test",
                                        "--subject", subject, "-v"]
    if auth:
        args += ["--auth", auth]
    p = run(args, stdin=body.replace(b"\n", b"\r\n", 1))
    check(p.returncode == 0, f"exit {p.returncode}")
    assert_secret_absent(p.err)
    want_body = b"First line.\n.starts with a dot\n..two dots\nlast line without newline\n"
    assert_delivered_exactly(user_dir, t, USER, [f"{user_dir}@example.test"], subject,
                             want_body)
    return p


def assert_secret_absent(text):
    secret = PASSWORD.encode()
    forms = [PASSWORD, base64.b64encode(secret).decode(),
             base64.b64encode(b"\0" + USER.encode() + b"\0" + secret).decode(),
             base64.b64encode(b"\0" + USER.encode() + b"\0" + secret).decode()[:16]]
    for form in forms:
        check(form not in text, "a secret appears in the trace")


# --- the main job: STARTTLS or implicit TLS, AUTH, delivered byte for byte -----------------

def case_starttls_auth_plain():
    p = send_and_check([], auth="plain")
    check("C: STARTTLS" in p.err, "no STARTTLS in the trace")
    check(p.err.index("C: STARTTLS") < p.err.index("C: AUTH PLAIN"), "AUTH before STARTTLS")
    check("C: AUTH PLAIN <redacted>" in p.err, "AUTH PLAIN not shown redacted")


def case_starttls_auth_login():
    p = send_and_check([], auth="login")
    check("C: AUTH LOGIN" in p.err, "AUTH LOGIN not used")


def case_starttls_auth_cram_md5():
    p = send_and_check([], auth="cram-md5")
    check("C: AUTH CRAM-MD5" in p.err, "AUTH CRAM-MD5 not used")


def case_auth_auto_picks_strongest():
    p = send_and_check([])
    check("C: AUTH CRAM-MD5" in p.err, "CRAM-MD5 is offered but another mechanism was chosen")


def case_smtps_implicit_tls():
    p = send_and_check([], server=f"smtps://127.0.0.1:{port('SMTPS')}")
    check("C: STARTTLS" not in p.err, "STARTTLS used on an implicit TLS port")


def case_ipv6():
    if ENV.get("SMTPKIT_HAVE_IPV6") != "1":
        print("skipped: the servers do not listen on ::1 on this machine")
        sys.exit(SKIP)
    p = send_and_check([], server=f"smtp://[::1]:{port('SUBMISSION')}")
    check("C: STARTTLS" in p.err, "no STARTTLS over IPv6")


def case_ca_dir_and_der():
    send_and_check(["--ca-dir", ENV["CA_DIR"]])
    send_and_check(["--ca-file", ENV["CA_DER"]])


def case_cc_bcc_delivered_without_bcc_header():
    t = token()
    subject = f"cc and bcc {t}"
    body = b"to three people\n"
    args = submission(["--from", f"Alice Example <{USER}>", "--to", "bob@example.test",
                       "--cc", "carol@example.test", "--bcc", "dave@example.test",
                       "--subject", subject])
    p = run(args, stdin=body)
    check(p.returncode == 0, f"exit {p.returncode}")
    for user in ("bob", "carol", "dave"):
        got = assert_delivered_exactly(user, t, f"Alice Example <{USER}>",
                                       ["bob@example.test"], subject, body,
                                       cc=["carol@example.test"])
        check(b"dave" not in got, f"the Bcc address shows in the copy {user} received")


def case_body_file_crlf_normalization():
    t = token()
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(b"bare cr\rbare lf\ncrlf\r\n.\r\n.\nend")
    p = run(submission(["--from", USER, "--to", "bob@example.test", "--subject", t,
                        "--body-file", f.name]))
    os.unlink(f.name)
    check(p.returncode == 0, f"exit {p.returncode}")
    assert_delivered_exactly("bob", t, USER, ["bob@example.test"], t,
                             b"bare cr\nbare lf\ncrlf\n.\n.\nend\n")


def case_password_file_and_command():
    with tempfile.NamedTemporaryFile("w", delete=False) as f:
        f.write(PASSWORD + "\n")
    try:
        t = token()
        p = run(submission(["--from", USER, "--to", "bob@example.test", "--subject", t,
                            "--password-file", f.name]), stdin=b"x\n", password=False)
        check(p.returncode == 0, f"--password-file: exit {p.returncode}")
        wait_delivered("bob", t)
        t = token()
        p = run(submission(["--from", USER, "--to", "bob@example.test", "--subject", t,
                            "--password-command", f"cat {shlex.quote(f.name)}"]),
                stdin=b"x\n", password=False)
        check(p.returncode == 0, f"--password-command: exit {p.returncode}")
        wait_delivered("bob", t)
    finally:
        os.unlink(f.name)


def case_msmtp_config_file():
    t = token()
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".msmtprc") as f:
        f.write(f"""# an msmtp configuration
defaults
tls on
tls_starttls on
tls_trust_file {ENV['CA_FILE']}
logfile ~/.msmtp.log

account work
host localhost
port {port('SUBMISSION')}
auth plain
user {USER}
passwordeval "printf '%s\\n' '{PASSWORD}'"
from {USER}

account default : work
""")
    try:
        p = run(["--config", f.name, "--to", "bob@example.test", "--subject", t],
                stdin=b"configured\n", password=False)
        check(p.returncode == 0, f"exit {p.returncode}")
        assert_delivered_exactly("bob", t, USER, ["bob@example.test"], t, b"configured\n")
    finally:
        os.unlink(f.name)


def case_no_tls_local_relay():
    t = token()
    p = run(["--server", f"smtp://127.0.0.1:{port('PLAIN')}", "--no-tls", "--from", USER,
             "--to", "bob@example.test", "--subject", t], stdin=b"plain\n", password=False)
    check(p.returncode == 0, f"exit {p.returncode}")
    check("unencrypted" in p.err, "--no-tls was not said loudly on stderr")
    assert_delivered_exactly("bob", t, USER, ["bob@example.test"], t, b"plain\n")


# --- what must fail, and how -------------------------------------------------------------

def one_line_error(p, code, *needles):
    trace = ("smtpkit: warning", "smtpkit: C:", "smtpkit: S:", "smtpkit: *")
    lines = [l for l in p.err.splitlines() if l.startswith("smtpkit: ")
             and not l.startswith(trace)]
    check(p.returncode == code, f"exit {p.returncode}, expected {code}")
    check(len(lines) == 1, f"expected one error line, got {lines}")
    for needle in needles:
        check(needle.lower() in lines[0].lower(), f"error line lacks {needle!r}: {lines[0]}")
    return lines[0]


def case_wrong_password():
    t = token()
    p = run(submission(["--from", USER, "--to", "bob@example.test", "--subject", t]),
            stdin=b"x\n", env_extra={"SMTPKIT_PASSWORD": "wrong horse"}, password=False)
    one_line_error(p, EX_UNAVAILABLE, "535", "AUTH")
    check("wrong horse" not in p.err, "the password shows in the error")
    assert_not_delivered(t)


def trace_has_no_auth(p):
    check("C: AUTH" not in p.err, "AUTH was sent")
    check("C: MAIL" not in p.err, "MAIL was sent")


def assert_refused_before_auth(needle, server=None, ca_file=None):
    """The send fails with exit 77 naming @needle, before AUTH or MAIL, and nothing arrives."""
    t = token()
    args = submission(["--from", USER, "--to", "bob@example.test", "--subject", t, "-v"],
                      server)
    if ca_file:
        args[args.index("--ca-file") + 1] = ca_file
    p = run(args, stdin=b"x\n")
    one_line_error(p, EX_NOPERM, needle)
    trace_has_no_auth(p)
    assert_not_delivered(t)


def case_untrusted_certificate():
    assert_refused_before_auth("certificate", ca_file=ENV["OTHER_CA_FILE"])


def case_wrong_host_certificate():
    assert_refused_before_auth("certificate", server=f"smtp://127.0.0.1:{port('WRONGHOST')}")


def case_starttls_not_offered():
    assert_refused_before_auth("STARTTLS", server=f"smtp://127.0.0.1:{port('PLAIN')}")


def case_plaintext_auth_needs_consent():
    t = token()
    base = ["--server", f"smtp://127.0.0.1:{port('PLAINAUTH')}", "--no-tls", "--user", USER,
            "--from", USER, "--to", "bob@example.test", "--subject", t, "-v"]
    p = run(base, stdin=b"x\n")
    one_line_error(p, EX_NOPERM, "TLS")
    trace_has_no_auth(p)
    p = run(base + ["--allow-plaintext-auth"], stdin=b"consented\n")
    check(p.returncode == 0, f"with --allow-plaintext-auth: exit {p.returncode}")
    assert_secret_absent(p.err)
    wait_delivered("bob", t)


def case_connection_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free_port = s.getsockname()[1]
    s.close()
    p = run(submission(["--from", USER, "--to", "bob@example.test", "--timeout", "5"],
                       server=f"smtp://127.0.0.1:{free_port}"), stdin=b"x\n")
    one_line_error(p, EX_TEMPFAIL, f"127.0.0.1:{free_port}")
    check(p.elapsed < 5, "a refused connection took the whole timeout")


def case_too_many_bad_recipients():
    """Postfix answers the 21st refused RCPT with 550 and, at once, 421 (hard error limit)."""
    t = token()
    args = submission(["--from", USER, "--subject", t])
    for i in range(25):
        args += ["--to", f"nobody{i}@example.test"]
    p = run(args + ["--to", "bob@example.test"], stdin=b"x\n")
    one_line_error(p, EX_TEMPFAIL, "421")
    assert_not_delivered(t, users=("bob",))


class SilentServer:
    """Accepts connections and never says a word; counts what it accepted."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)


def case_silent_server_times_out():
    server = SilentServer()
    p = run(submission(["--from", USER, "--to", "bob@example.test", "--timeout", "2"],
                       server=f"smtp://127.0.0.1:{server.port}"), stdin=b"x\n")
    one_line_error(p, EX_TEMPFAIL, "timed out" if "timed out" in p.err else "time")
    check(1.5 < p.elapsed < 10, f"gave up after {p.elapsed:.1f}s with --timeout 2")


def case_bad_arguments():
    server = SilentServer()
    url = f"smtp://127.0.0.1:{server.port}"
    good = ["--server", url, "--from", USER, "--to", "bob@example.test", "--subject", "s"]
    bad_cases = [
        (["--server", url, "--from", "not-an-address", "--to", "bob@example.test"], "from"),
        (["--server", url, "--from", USER, "--to", "bob@"], "bob@"),
        (["--server", url, "--from", USER, "--to", "bob@example.test\r\nRCPT TO:<x@y>"],
         "to"),
        (good[:-2] + ["--subject", "two\r\nBcc: evil@example.test"], "subject"),
        (good[:-2] + ["--subject", "line\nfeed"], "subject"),
        (["--server", url, "--from", USER, "--subject", "s"], "recipient"),
        (good + ["--frobnicate"], "frobnicate"),
        (good + ["--timeout", "soon"], "timeout"),
        (["--from", USER, "--to", "bob@example.test"], "server"),
        (good + ["--auth", "md4"], "md4"),
        (good + ["--helo", "a;b"], "--helo"),
        (["--server", url, "--from", "a@b@example.test", "--to", "bob@example.test"], "'@'"),
        (["--server", url, "--from", USER, "--to", '"q"@example.test'], "quote"),
    ]
    for args, needle in bad_cases:
        p = run(args, stdin=b"x\n")
        one_line_error(p, EX_USAGE, needle)
    p = run([], command="frobnicate")
    check(p.returncode == EX_USAGE, "an unknown command is not a usage error")
    p = run(good + ["--body-file", "/nonexistent/body"])
    one_line_error(p, EX_NOINPUT, "/nonexistent/body")
    p = run(good + ["--ca-file", ENV["CA_DIR"]])
    one_line_error(p, EX_NOINPUT, "directory")
    time.sleep(0.3)
    check(not server.accepted, "a connection was made despite bad arguments")


# --- the two examples, built and run against the real server ------------------------------

def case_example_firmware_alert():
    work = tempfile.mkdtemp()
    header = os.path.join(work, "test_anchor.h")
    with open(header, "w") as f:
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "harness", "der2c.py"),
                        ENV["CA_FILE"], "alert_anchor"], stdout=f, check=True)
    t = token()
    exe = os.path.join(work, "firmware_alert")
    src = os.environ["SMTPKIT_SRC"]
    cmd = ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
           f"-I{src}/include", f"-I{work}",
           '-DALERT_ANCHOR_HEADER="test_anchor.h"', '-DALERT_HOST="127.0.0.1"',
           f"-DALERT_PORT={port('SUBMISSION')}", '-DALERT_TLS_NAME="localhost"',
           f'-DALERT_USER="{USER}"', f'-DALERT_FROM="Sensor <{USER}>"',
           f'-DALERT_TO="carol@example.test"',
           os.path.join(src, "examples", "firmware_alert.c"), "-o", exe]
    cmd += os.environ["SMTPKIT_LIBS"].split(":") + ["-lmbedtls", "-lmbedx509", "-lmbedcrypto"]
    print("$ " + " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True)
    before = set(map(bytes, messages_with("carol", "cabinet 3")))
    p = subprocess.run([exe], env=dict(os.environ, ALERT_PASSWORD=PASSWORD),
                       capture_output=True, timeout=60)
    print(p.stdout.decode(), p.stderr.decode())
    check(p.returncode == 0, f"firmware_alert exit {p.returncode}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [m for m in messages_with("carol", "cabinet 3") if m not in before]
        if new:
            msg = email.message_from_bytes(new[0], policy=email.policy.default)
            check(msg["Subject"] == "ALERT: cabinet 3 over temperature", "wrong subject")
            check(msg.get_content() == "Temperature in cabinet 3 is 71.5 C (limit 60 C).\n",
                  "wrong body")
            return
        time.sleep(0.1)
    raise Failure(f"the alert did not arrive ({t})")


def case_example_poll_loop():
    exe = os.environ["SMTPKIT_EXAMPLE_POLL"]
    before = set(messages_with("dave", "No call in this program blocked."))
    p = subprocess.run([exe, "127.0.0.1", port("SUBMISSION"), ENV["CA_FILE"], "localhost",
                        USER, USER, "dave@example.test"],
                       env=dict(os.environ, SMTPKIT_PASSWORD=PASSWORD), capture_output=True,
                       timeout=60)
    print(p.stdout.decode(), p.stderr.decode())
    check(p.returncode == 0, f"poll_loop exit {p.returncode}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [m for m in messages_with("dave", "No call in this program blocked.")
               if m not in before]
        if new:
            msg = email.message_from_bytes(new[0], policy=email.policy.default)
            check(msg["Subject"] == "from a poll loop", "wrong subject")
            return
        time.sleep(0.1)
    raise Failure("the poll loop's message did not arrive")


def main():
    if len(sys.argv) != 2 or not callable(globals().get("case_" + sys.argv[1])):
        names = sorted(n[5:] for n in globals() if n.startswith("case_"))
        print("usage: it.py CASE\ncases: " + " ".join(names), file=sys.stderr)
        return 2
    try:
        globals()["case_" + sys.argv[1]]()
    except Failure as e:
        print(f"FAIL {sys.argv[1]}: {e}")
        return 1
    print(f"ok {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
