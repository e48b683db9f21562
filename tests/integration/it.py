#!/usr/bin/python3
"""Integration tests of `smtpkit send` against the real Postfix + Dovecot of tests/harness.

Each test case is a function named case_*; ctest runs one per process:
    it.py CASE
with SMTPKIT_BIN (the CLI), SMTPKIT_IT_DIR (the harness directory, holding `env`) and, for the
example cases, SMTPKIT_SRC, SMTPKIT_LIBS and SMTPKIT_EXAMPLE_POLL in the environment.

The `smtpkit cert` cases check what the CLI prints about the certificates of the harness's
cert ports against what openssl says about the very files the servers present.

Delivered mail is read from the Maildirs and compared byte for byte with a message the test
builds itself: the only values taken from the delivered copy are the Date and Message-ID that
smtpkit generated, and those are checked for form (and the Date for being now) with Python's
email package before they are used.
"""
import base64
import calendar
import contextlib
import email
import email.policy
import email.utils
import hashlib
import os
import re
import shlex
import socket
import ssl
import stat
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


# --- smtpkit cert: what the servers present, checked against openssl -----------------------

def openssl(*args, stdin=None):
    p = subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True, check=True)
    return p.stdout


def openssl_time(text):
    """`notAfter=Dec  4 09:50:06 2027 GMT` -> seconds since the epoch."""
    value = " ".join(text.split("=", 1)[1].split())
    return calendar.timegm(time.strptime(value, "%b %d %H:%M:%S %Y %Z"))


def utc_text(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def colon_hex(digest):
    return ":".join(f"{b:02X}" for b in digest)


def cert_facts(path):
    """What openssl (and hashlib over openssl's DER) says about the certificate in @path."""
    der = openssl("x509", "-in", path, "-outform", "DER")
    spki = openssl("pkey", "-pubin", "-outform", "DER",
                   stdin=openssl("x509", "-in", path, "-pubkey", "-noout"))
    fingerprint = openssl("x509", "-in", path, "-noout", "-fingerprint", "-sha256").decode()
    names = openssl("x509", "-in", path, "-noout", "-subject", "-issuer",
                    "-nameopt", "RFC2253").decode().splitlines()
    cn = [re.search(r"CN=([^,]+)", n).group(1) for n in names]
    spki_digest = hashlib.sha256(spki).digest()
    return {
        "der": der,
        "pem": openssl("x509", "-in", path, "-outform", "PEM"),
        "sha256": fingerprint.strip().split("=", 1)[1],
        "spki_sha256": colon_hex(spki_digest),
        "spki_hex": spki_digest.hex(),
        "pin": "sha256//" + base64.b64encode(spki_digest).decode(),
        "not_before": openssl_time(openssl("x509", "-in", path, "-noout",
                                           "-startdate").decode().strip()),
        "not_after": openssl_time(openssl("x509", "-in", path, "-noout",
                                          "-enddate").decode().strip()),
        "subject_cn": cn[0],
        "issuer_cn": cn[1],
    }


def same_hex(a, b):
    return a.replace(":", "").strip().upper() == b.replace(":", "").strip().upper()


def days_match(n, seconds):
    """@n whole days for @seconds: floor or, for calendar-day counting, one more."""
    return n in (seconds // 86400, seconds // 86400 + 1)


def parse_show(text):
    """`cert show` stdout -> [(title, {label: value})]; a title is a line without indent."""
    blocks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            blocks.append((line.strip(), {}))
        elif blocks and ":" in line:
            label, _, value = line.strip().partition(":")
            blocks[-1][1][label.strip()] = value.strip()
    return blocks


def cert_blocks(blocks):
    return [(t, f) for t, f in blocks if t.startswith(("Certificate ", "Trust anchor"))]


def verdict(blocks):
    found = [f for t, f in blocks if t == "Verdict"]
    check(len(found) == 1, "no Verdict block")
    return found[0]


def check_block(title, fields, facts):
    """A certificate block shows the facts openssl gives for the file the server uses."""
    print(f"checking block {title!r}")
    for label in ("Subject", "Issuer", "Not before", "Not after", "SHA-256", "SPKI SHA-256"):
        check(label in fields, f"{title}: no {label} line")
    check(same_hex(fields["SHA-256"], facts["sha256"]),
          f"{title}: SHA-256 {fields['SHA-256']} is not openssl's {facts['sha256']}")
    check(same_hex(fields["SPKI SHA-256"], facts["spki_sha256"]),
          f"{title}: SPKI SHA-256 {fields['SPKI SHA-256']} != {facts['spki_sha256']}")
    if "Pin" in fields:
        check(fields["Pin"] == facts["pin"], f"{title}: Pin {fields['Pin']} != {facts['pin']}")
    check(fields["Not before"].startswith(utc_text(facts["not_before"])),
          f"{title}: Not before {fields['Not before']} != {utc_text(facts['not_before'])}")
    check(fields["Not after"].startswith(utc_text(facts["not_after"])),
          f"{title}: Not after {fields['Not after']} != {utc_text(facts['not_after'])}")
    check(f"CN={facts['subject_cn']}" in fields["Subject"].replace(" = ", "="),
          f"{title}: Subject {fields['Subject']} lacks CN={facts['subject_cn']}")
    check(f"CN={facts['issuer_cn']}" in fields["Issuer"].replace(" = ", "="),
          f"{title}: Issuer {fields['Issuer']} lacks CN={facts['issuer_cn']}")
    now = int(time.time())
    m = re.search(r"\((\d+) days left\)", fields["Not after"])
    if facts["not_before"] <= now < facts["not_after"]:
        check(m and days_match(int(m.group(1)), facts["not_after"] - now),
              f"{title}: wrong days left in {fields['Not after']!r}")


def cert(args, timeout=60):
    return run(args, password=False, timeout=timeout, command="cert")


def local_url(name, scheme="smtp"):
    return f"{scheme}://127.0.0.1:{port(name)}"


LOCALHOST = ["--tls-server-name", "localhost"]


def no_error_lines(p):
    lines = [l for l in p.err.splitlines() if l.startswith("smtpkit: ")
             and not l.startswith(("smtpkit: warning", "smtpkit: *"))]
    check(not lines, f"unexpected error lines on stderr: {lines}")


def show_chain(url, implicit):
    p = cert(["show", url, "--ca-dir", ENV["CHAIN_CA_DIR"]] + LOCALHOST)
    out = p.stdout.decode()
    print(out)
    check(p.returncode == 0, f"exit {p.returncode}")
    no_error_lines(p)
    server = [l for l in out.splitlines() if l.startswith("Server:")]
    check(len(server) == 1 and url.split("//")[1] in server[0], f"bad Server line {server}")
    check(("STARTTLS" in server[0]) != implicit, f"Server line {server[0]!r}: wrong mode")
    check(re.search(r"^Chain sent by the server: 2 certificates$", out, re.M),
          "not 'Chain sent by the server: 2 certificates'")
    blocks = parse_show(out)
    certs = cert_blocks(blocks)
    titles = [t for t, _ in certs]
    check(titles == ["Certificate 0 (leaf)", "Certificate 1 (intermediate)",
                     "Trust anchor (from the trust store, not sent by the server)"],
          f"certificate blocks {titles}")
    files = [ENV["CHAIN_LEAF_FILE"], ENV["CHAIN_INTERMEDIATE_FILE"], ENV["CHAIN_ROOT_FILE"]]
    for (title, fields), path in zip(certs, files):
        check_block(title, fields, cert_facts(path))
    check("DNS:localhost" in certs[0][1].get("Alt names", ""), "leaf Alt names lack localhost")
    v = verdict(blocks)
    check(v.get("Result") == "OK", f"Result {v.get('Result')!r}")
    check(ENV["CHAIN_CA_DIR"] in v.get("Trust store", ""), f"Trust store {v.get('Trust store')}")
    check(v.get("Chain", "").startswith("verifies") and
          "smtpkit Chain Root CA" in v["Chain"], f"Chain {v.get('Chain')!r}")
    check(v.get("Host name") == "localhost matches", f"Host name {v.get('Host name')!r}")


def case_cert_show_chain():
    show_chain(local_url("CHAIN"), implicit=False)


def case_cert_show_chain_smtps():
    show_chain(local_url("CHAIN_TLS", "smtps"), implicit=True)


def show_fails(url, ca_args, leaf_file, reason_re, validity_re=None, leaf_title=None,
               no_anchor=False):
    """cert show: exit 77, the chain still printed, the reason in the verdict and on stderr."""
    p = cert(["show", url] + ca_args + LOCALHOST)
    out = p.stdout.decode()
    print(out)
    line = one_line_error(p, EX_NOPERM)
    check(re.search(reason_re, line, re.I), f"stderr {line!r} does not match {reason_re!r}")
    blocks = parse_show(out)
    certs = cert_blocks(blocks)
    check(certs, "no certificate printed")
    title, fields = certs[0]
    check(title == (leaf_title or "Certificate 0 (leaf)"), f"first block {title!r}")
    facts = cert_facts(leaf_file)
    check_block(title, fields, facts)
    if validity_re:
        check(re.search(validity_re, fields["Not after"] + " " + fields["Not before"]),
              f"validity lines do not say {validity_re!r}")
    result = verdict(blocks).get("Result", "")
    check(result.startswith("FAILED: "), f"Result {result!r}")
    check(re.search(reason_re, result, re.I), f"Result {result!r} does not match {reason_re!r}")
    check(result[len("FAILED: "):].strip() in line, "stderr and the Result give other reasons")
    if no_anchor:
        check(not [t for t, _ in certs if t.startswith("Trust anchor")], "an anchor block")
        check(verdict(blocks).get("Chain", "").startswith("does not verify"),
              f"Chain {verdict(blocks).get('Chain')!r}")
    return p, blocks


def case_cert_show_expired():
    _, blocks = show_fails(local_url("EXPIRED"), ["--ca-file", ENV["CA_FILE"]],
                           ENV["EXPIRED_LEAF_FILE"], r"expired", r"\(EXPIRED (\d+) days ago\)")
    fields = cert_blocks(blocks)[0][1]
    n = int(re.search(r"EXPIRED (\d+) days ago", fields["Not after"]).group(1))
    ago = int(time.time()) - calendar.timegm((2021, 1, 1, 0, 0, 0))
    check(days_match(n, ago), f"EXPIRED {n} days ago, but it is {ago // 86400} days")


def case_cert_show_not_yet_valid():
    _, blocks = show_fails(local_url("FUTURE"), ["--ca-file", ENV["CA_FILE"]],
                           ENV["FUTURE_LEAF_FILE"], r"not yet valid|not valid before 2040-01-01",
                           r"\(NOT YET VALID, starts in (\d+) days\)")
    fields = cert_blocks(blocks)[0][1]
    text = fields["Not after"] + " " + fields["Not before"]
    n = int(re.search(r"starts in (\d+) days", text).group(1))
    ahead = calendar.timegm((2040, 1, 1, 0, 0, 0)) - int(time.time())
    check(n in (ahead // 86400, ahead // 86400 + 1), f"starts in {n} days, expected "
          f"{ahead // 86400}")


def case_cert_show_wrong_host():
    wrong = os.path.join(ENV["SMTPKIT_TEST_DIR"], "ca", "wrong.pem")
    _, blocks = show_fails(local_url("WRONGHOST"), ["--ca-file", ENV["CA_FILE"]], wrong,
                           r"match")
    host = verdict(blocks).get("Host name", "")
    check(host.startswith("localhost does not match") and "DNS:wrong.example" in host,
          f"Host name {host!r}")


def case_cert_show_self_signed():
    show_fails(local_url("SELFSIGNED"), ["--ca-file", ENV["CA_FILE"]], ENV["SELFSIGNED_FILE"],
               r"self-signed|trust anchor|not trusted|trusted CA",
               leaf_title="Certificate 0 (leaf, self-signed)", no_anchor=True)


def case_cert_show_unknown_root():
    show_fails(local_url("UNKNOWN"), ["--ca-file", ENV["CA_FILE"]], ENV["UNKNOWN_LEAF_FILE"],
               r"trust anchor|not trusted|trusted CA|issuer", no_anchor=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    number = s.getsockname()[1]
    s.close()
    return number


def case_cert_show_connection_refused():
    closed = free_port()
    p = cert(["show", f"smtp://127.0.0.1:{closed}", "--timeout", "5"] + LOCALHOST)
    one_line_error(p, EX_TEMPFAIL, f"127.0.0.1:{closed}")
    check(not p.stdout.strip(), "something on stdout although nothing was received")


# --- cert export --------------------------------------------------------------------------

def export(args, which=None, fmt=None, url=None, ca=None):
    args = ["export", url or local_url("CHAIN")] + (ca or ["--ca-dir", ENV["CHAIN_CA_DIR"]]) \
        + LOCALHOST + list(args)
    if which:
        args += ["--which", which]
    if fmt:
        args += ["--format", fmt]
    return cert(args)


def export_file(work, name, *args, **kw):
    path = os.path.join(work, name)
    p = export(list(args) + ["-o", path], **kw)
    check(p.returncode == 0, f"export {args} {kw}: exit {p.returncode}")
    check(os.stat(path).st_mode & 0o777 == 0o644, f"{name} is not mode 0644")
    with open(path, "rb") as f:
        return f.read()


def case_cert_export_der_pem():
    work = tempfile.mkdtemp()
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    check(export_file(work, "root.der", fmt="der") == root["der"], "DER differs from openssl's")
    with open(ENV["CHAIN_ROOT_DER"], "rb") as f:
        check(f.read() == root["der"], "CHAIN_ROOT_DER is not openssl's DER (harness)")
    check(export_file(work, "root2.der", fmt="der", which="root") == root["der"],
          "--which root is not the default")
    pem = export_file(work, "root.pem", fmt="pem")
    check(pem == root["pem"], "PEM differs from `openssl x509 -outform PEM`")
    check(export_file(work, "default.pem") == root["pem"], "the default format is not PEM")
    p = export([], fmt="pem")
    check(p.returncode == 0 and p.stdout == root["pem"], "PEM on stdout differs")
    check(export_file(work, "again.pem", fmt="pem") == pem, "a second export differs")


def case_cert_export_which():
    work = tempfile.mkdtemp()
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    inter = cert_facts(ENV["CHAIN_INTERMEDIATE_FILE"])
    check(export_file(work, "leaf.der", fmt="der", which="leaf") == leaf["der"],
          "--which leaf is not the server's leaf")
    check(export_file(work, "0.der", fmt="der", which="0") == leaf["der"],
          "--which 0 is not the server's leaf")
    check(export_file(work, "1.pem", fmt="pem", which="1") == inter["pem"],
          "--which 1 is not the intermediate")
    p = export(["-o", os.path.join(work, "2.pem")], which="2")
    one_line_error(p, EX_USAGE)
    check(not os.path.exists(os.path.join(work, "2.pem")), "--which 2 wrote a file")
    # A chain that does not verify: the root cannot be named, what was sent can be exported.
    unknown = cert_facts(ENV["UNKNOWN_LEAF_FILE"])
    ca = ["--ca-file", ENV["CA_FILE"]]
    p = export(["-o", os.path.join(work, "r.pem")], url=local_url("UNKNOWN"), ca=ca)
    line = one_line_error(p, EX_NOPERM)
    check("--which leaf" in line or "--which" in p.err, f"no hint at --which leaf: {line}")
    check(not os.path.exists(os.path.join(work, "r.pem")), "a failed export wrote a file")
    got = export_file(work, "u.der", fmt="der", which="leaf", url=local_url("UNKNOWN"), ca=ca)
    check(got == unknown["der"], "--which leaf of an unverified chain differs")
    # A wrong host name is about the connection: the chain's anchor is exported, with a warning.
    p = export(["-o", os.path.join(work, "w.der")], fmt="der", url=local_url("WRONGHOST"), ca=ca)
    check(p.returncode == 0, f"export of the anchor behind a wrong host name: exit {p.returncode}")
    check("smtpkit: warning:" in p.err and "do not match" in p.err,
          f"no warning about the host name: {p.err!r}")
    with open(os.path.join(work, "w.der"), "rb") as f:
        check(f.read() == cert_facts(ENV["CA_FILE"])["der"], "the anchor exported is not CA_FILE")


def exported_header(work, name="alert_anchor"):
    return export_file(work, f"{name}.h", "--name", name, fmt="c")


HEADER_PROGRAM = r"""#include <stdio.h>
#include "alert_anchor.h"
int main(void)
{
    unsigned int i;
    if (sizeof alert_anchor != alert_anchor_len) return 1;
    for (i = 0; i < alert_anchor_len; i++) printf("%02x", alert_anchor[i]);
    printf("\n%s\n%s\n%s\n%lld\n%s\n", ALERT_ANCHOR_SUBJECT, ALERT_ANCHOR_ISSUER,
           ALERT_ANCHOR_NOT_AFTER, (long long)ALERT_ANCHOR_NOT_AFTER_UNIX, ALERT_ANCHOR_SHA256);
    return 0;
}
"""


def case_cert_export_c_header():
    work = tempfile.mkdtemp()
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    header = exported_header(work)
    print(header.decode())
    check(exported_header(tempfile.mkdtemp()) == header, "a second export differs")
    # Deterministic and anonymous: no date of generation (the root was made today, but only
    # its Not after, ten years on, belongs in the header), no host name.
    for banned in (b"localhost", b"127.0.0.1", time.strftime("%Y-%m-%d").encode()):
        check(banned not in header, f"the header contains {banned!r}")
    prog = os.path.join(work, "prog.c")
    with open(prog, "w") as f:
        f.write(HEADER_PROGRAM)
    compilers = [["cc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"],
                 ["c++", "-x", "c++", "-Wall", "-Wextra", "-pedantic", "-Werror"]]
    for compiler in compilers:
        exe = os.path.join(work, compiler[0].replace("+", "x"))
        cmd = compiler + [f"-I{work}", prog, "-o", exe]
        print("$ " + " ".join(shlex.quote(c) for c in cmd))
        built = subprocess.run(cmd, capture_output=True)
        check(built.returncode == 0, f"{compiler[0]}: " + built.stderr.decode())
        out = subprocess.run([exe], capture_output=True, check=True).stdout.decode()
        hexdump, subject, issuer, not_after, unix, sha = out.split("\n")[:6]
        check(bytes.fromhex(hexdump) == root["der"], f"{compiler[0]}: the array is not the DER")
        check("CN=smtpkit Chain Root CA" in subject, f"SUBJECT {subject!r}")
        check("CN=smtpkit Chain Root CA" in issuer, f"ISSUER {issuer!r}")
        check(not_after == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(root["not_after"])),
              f"NOT_AFTER {not_after!r}")
        check(int(unix) == root["not_after"], f"NOT_AFTER_UNIX {unix} != {root['not_after']}")
        check(sha == root["sha256"], f"SHA256 {sha!r} != openssl's {root['sha256']}")
    # Without --name: smtpkit_anchor_ + the CN in lower case, other characters as one `_`.
    default = export_file(work, "default.h", fmt="c")
    check(b"static const unsigned char smtpkit_anchor_smtpkit_chain_root_ca[]" in default,
          "default array name is not smtpkit_anchor_smtpkit_chain_root_ca")
    for bad in ("1abc", "a-b", "x" * 64):
        p = export(["--name", bad, "-o", os.path.join(work, "bad.h")], fmt="c")
        one_line_error(p, EX_USAGE)


def case_cert_export_firmware_alert():
    """The exported header is all the firmware example needs to reach the CHAIN port."""
    work = tempfile.mkdtemp()
    header = os.path.join(work, "alert_anchor.h")
    exported_header(work)
    exe = build_firmware_alert(work, header, port("CHAIN"), "dave")
    run_firmware_alert(exe, "dave")


# --- cert check ---------------------------------------------------------------------------

def cert_check(args):
    p = cert(["check"] + args)
    p.out = p.stdout.decode()
    print(p.out)
    return p


def findings(p, word):
    return [l for l in p.out.splitlines() if l.startswith(word + ":")]


def check_findings_form(p):
    for line in p.out.splitlines():
        check(re.match(r"(ok|expiring|expired|fail|error): ", line), f"odd line {line!r}")


def case_cert_check_chain():
    url = local_url("CHAIN")
    p = cert_check([url, "--anchor", ENV["CHAIN_ROOT_FILE"]] + LOCALHOST)
    check(p.returncode == 0, f"exit {p.returncode}")
    check_findings_form(p)
    ok = findings(p, "ok")
    check(len(ok) == 1 and f"127.0.0.1:{port('CHAIN')}" in ok[0] and
          "smtpkit Chain Root CA" in ok[0], f"ok lines {ok}")
    check(not findings(p, "expiring") and not findings(p, "fail"), "unexpected findings")
    work = tempfile.mkdtemp()
    exported_header(work)
    p = cert_check([url, "--anchor", os.path.join(work, "alert_anchor.h")] + LOCALHOST)
    check(p.returncode == 0, f"with the exported C header: exit {p.returncode}")
    check(findings(p, "ok"), "no ok line with the C header")
    p = cert_check([url, "--anchor", ENV["CHAIN_ROOT_DER"]] + LOCALHOST)
    check(p.returncode == 0, f"with the DER anchor: exit {p.returncode}")
    p = cert_check([local_url("CHAIN_TLS", "smtps"), "--anchor", ENV["CHAIN_ROOT_FILE"]]
                   + LOCALHOST)
    check(p.returncode == 0, f"over smtps: exit {p.returncode}")


def case_cert_check_expiring_anchor():
    soon = cert_facts(ENV["SOON_ROOT_FILE"])
    args = [local_url("ANCHOR_SOON"), "--anchor", ENV["SOON_ROOT_FILE"]] + LOCALHOST
    p = cert_check(args)
    check(p.returncode == 1, f"exit {p.returncode}, expected 1")
    check_findings_form(p)
    exp = findings(p, "expiring")
    check(len(exp) == 1, f"expiring lines {exp}")
    line = exp[0]
    check(line.startswith("expiring: anchor ") and "smtpkit Soon Expiring Root CA" in line and
          os.path.basename(ENV["SOON_ROOT_FILE"]) in line, f"line {line!r}")
    check(utc_text(soon["not_after"]) in line, f"{line!r} lacks {utc_text(soon['not_after'])}")
    m = re.search(r"in (\d+) days?", line)
    check(m and days_match(int(m.group(1)), soon["not_after"] - int(time.time())),
          f"wrong day count in {line!r}")
    p = cert_check(args + ["--warn-days", "5"])
    check(p.returncode == 0, f"--warn-days 5: exit {p.returncode}")
    check(not findings(p, "expiring"), "still expiring with --warn-days 5")
    p = cert_check(args + ["--warn-days", "0"])
    check(p.returncode == 0, f"--warn-days 0: exit {p.returncode}")


def case_cert_check_expired_anchor():
    args = [local_url("ANCHOR_EXPIRED"), "--anchor", ENV["EXPIRED_ROOT_FILE"]] + LOCALHOST
    p = cert_check(args)
    check(p.returncode == 2, f"exit {p.returncode}, expected 2")
    check_findings_form(p)
    exp = findings(p, "expired")
    check(exp and any("smtpkit Expired Root CA" in l and "2021-01-01 00:00:00 UTC" in l
                      for l in exp), f"expired lines {exp}")


def case_cert_check_failures():
    p = cert_check([local_url("CHAIN"), "--anchor", ENV["OTHER_CA_FILE"]] + LOCALHOST)
    check(p.returncode == 2, f"wrong anchor: exit {p.returncode}, expected 2")
    fail = findings(p, "fail")
    check(len(fail) == 1 and f"127.0.0.1:{port('CHAIN')}" in fail[0], f"fail lines {fail}")
    check(not findings(p, "ok"), "an ok line for a chain that does not verify")
    p = cert_check([local_url("WRONGHOST"), "--anchor", ENV["CA_FILE"]] + LOCALHOST)
    check(p.returncode == 2 and findings(p, "fail"), f"wrong host: exit {p.returncode}")
    closed = free_port()
    p = cert_check([f"smtp://127.0.0.1:{closed}", "--anchor", ENV["CHAIN_ROOT_FILE"],
                    "--timeout", "5"] + LOCALHOST)
    check(p.returncode == 3, f"closed port: exit {p.returncode}, expected 3")
    err = findings(p, "error")
    check(len(err) == 1 and f"127.0.0.1:{closed}" in err[0], f"error lines {err}")
    p = cert_check([local_url("CHAIN"), "--anchor", ENV["CHAIN_ROOT_FILE"], "--ca-file",
                    ENV["CA_FILE"]] + LOCALHOST)
    check(p.returncode == EX_USAGE, f"check with --ca-file: exit {p.returncode}")


def case_cert_check_anchors_only():
    p = cert_check(["--anchor", ENV["CHAIN_ROOT_FILE"]])
    check(p.returncode == 0, f"chain root: exit {p.returncode}")
    check_findings_form(p)
    check(not findings(p, "expiring") and not findings(p, "expired"), "unexpected findings")
    p = cert_check(["--anchor", ENV["SOON_ROOT_FILE"]])
    check(p.returncode == 1, f"soon root: exit {p.returncode}, expected 1")
    check(len(findings(p, "expiring")) == 1, "no expiring line")
    p = cert_check(["--anchor", ENV["EXPIRED_ROOT_FILE"]])
    check(p.returncode == 2, f"expired root: exit {p.returncode}, expected 2")
    check(len(findings(p, "expired")) == 1, "no expired line")
    p = cert_check(["--anchor", ENV["CHAIN_ROOT_FILE"], "--anchor", ENV["SOON_ROOT_FILE"],
                    "--anchor", ENV["EXPIRED_ROOT_FILE"]])
    check(p.returncode == 2, f"all three: exit {p.returncode}, expected 2")
    check(len(findings(p, "expiring")) == 1 and len(findings(p, "expired")) == 1,
          "not one expiring and one expired line")


def case_cert_check_bad_anchor_files():
    p = cert_check(["--anchor", "/nonexistent/anchor.pem"])
    check(p.returncode == EX_NOINPUT, f"a missing file: exit {p.returncode}, expected 66")
    check("/nonexistent/anchor.pem" in p.err + p.out, "the missing file is not named")
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
        f.write("this is a text file,\nnot a certificate\n")
    try:
        for args in (["--anchor", f.name],
                     [local_url("CHAIN"), "--anchor", f.name] + LOCALHOST):
            p = cert_check(args)
            check(p.returncode == 65, f"a text file: exit {p.returncode}, expected 65")
            check(f.name in p.err + p.out, "the file that holds no certificate is not named")
    finally:
        os.unlink(f.name)


def at_text(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def case_cert_check_at():
    """--at judges the dates as of another time: the chain's future, and a clock before 2020."""
    url = local_url("CHAIN")
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    base = [url, "--anchor", ENV["CHAIN_ROOT_FILE"]] + LOCALHOST
    # 2040: everything in the path has expired, the anchor included.
    p = cert_check(base + ["--at", "2040-01-01"])
    check(p.returncode == 2, f"--at 2040-01-01: exit {p.returncode}, expected 2")
    check_findings_form(p)
    check(len(findings(p, "fail")) == 1, "no fail line for a chain that has expired")
    anchor = [l for l in findings(p, "expired") if l.startswith("expired: anchor ")]
    check(len(anchor) == 1 and "smtpkit Chain Root CA" in anchor[0] and
          utc_text(root["not_after"]) in anchor[0], f"expired lines {findings(p, 'expired')}")
    check(not findings(p, "ok"), "an ok line in 2040")
    # The day before the leaf's expiry (the first in the path): valid, but expiring.
    p = cert_check(base + ["--at", at_text(leaf["not_after"] - 86400), "--warn-days", "30"])
    check(p.returncode == 1, f"a day before the leaf's expiry: exit {p.returncode}, expected 1")
    check_findings_form(p)
    exp = findings(p, "expiring")
    check(len(exp) == 1 and exp[0].startswith("expiring: leaf ") and
          utc_text(leaf["not_after"]) in exp[0], f"expiring lines {exp}")
    m = re.search(r"in (\d+) days?", exp[0])
    check(m and int(m.group(1)) == 1, f"not 'in 1 day' as of a day before: {exp[0]!r}")
    # The day before the anchor's expiry: the anchor alone is expiring (exit 1); with the
    # server, its leaf and intermediate expired years before, so it does not verify (exit 2).
    the_day_before = ["--at", at_text(root["not_after"] - 86400), "--warn-days", "30"]
    p = cert_check(["--anchor", ENV["CHAIN_ROOT_FILE"]] + the_day_before)
    check(p.returncode == 1, f"anchor alone, a day before its expiry: exit {p.returncode}")
    exp = findings(p, "expiring")
    check(len(exp) == 1 and "smtpkit Chain Root CA" in exp[0] and
          utc_text(root["not_after"]) in exp[0], f"expiring lines {exp}")
    p = cert_check(base + the_day_before)
    check(p.returncode == 2, f"server, a day before the anchor's expiry: exit {p.returncode}")
    check(any(l.startswith("expired: leaf ") for l in findings(p, "expired")),
          "the leaf is not reported expired")
    check(any(l.startswith("expiring: anchor ") for l in findings(p, "expiring")),
          "the anchor is not reported expiring")
    # A time before 2020 is what an unset clock reads: refused as a usage error.
    p = cert_check(base + ["--at", "2019-06-01"])
    one_line_error(p, EX_USAGE, "2019-06-01", "2020")
    check(not p.out.strip(), f"findings printed for a refused --at: {p.out!r}")


# --- hostile chains from a real TLS server: openssl s_server on loopback ------------------

LEAF_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n")
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n"


def new_key(work, name):
    path = os.path.join(work, name + ".key")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def self_signed(work, name, cn, days, key=None):
    """A root CA, on @key when given (a re-issue: same name, same key, other dates)."""
    key = key or new_key(work, name)
    path = os.path.join(work, name + ".pem")
    addext = []
    for line in CA_EXT.splitlines():
        addext += ["-addext", line]
    openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", str(days),
            "-config", os.devnull, "-out", path, *addext)
    return path, key


def issued(work, name, cn, issuer, issuer_key, ext_text, days=365):
    """A certificate for a new key, signed by @issuer, with the extensions in @ext_text."""
    key = new_key(work, name)
    csr = os.path.join(work, name + ".csr")
    ext = os.path.join(work, name + ".ext")
    path = os.path.join(work, name + ".pem")
    with open(ext, "w") as f:
        f.write(ext_text)
    openssl("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-config", os.devnull,
            "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", issuer, "-CAkey", issuer_key,
            "-CAcreateserial", "-days", str(days), "-extfile", ext, "-out", path)
    return path, key


def concat(work, name, paths):
    out = os.path.join(work, name)
    with open(out, "wb") as f:
        for path in paths:
            with open(path, "rb") as part:
                f.write(part.read())
    return out


class OpensslServer:
    """openssl s_server on 127.0.0.1 (implicit TLS) for one connection, presenting @leaf and
    the certificates of @chain (a file, or None); stopped by its pid. Its stdin stays open:
    at end of input, s_server drops the connection."""

    def __init__(self, leaf, key, chain=None):
        self.port = free_port()
        args = ["openssl", "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert", leaf,
                "-key", key, "-naccept", "1"]
        if chain:
            args += ["-cert_chain", chain]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        said = []
        while not said or not said[-1].startswith("ACCEPT"):
            line = self.proc.stdout.readline().decode()
            check(line, f"openssl s_server did not start: {said}")
            said.append(line)

    def url(self):
        return f"smtps://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.communicate(timeout=10)


def case_cert_check_reissued_anchor():
    """Two anchors with one name and key, the first expired at --at: order does not matter."""
    with tempfile.TemporaryDirectory() as work:
        old, root_key = self_signed(work, "root_old", "smtpkit Reissued Root", 30)
        new, _ = self_signed(work, "root_new", "smtpkit Reissued Root", 3000, key=root_key)
        leaf, leaf_key = issued(work, "leaf", "localhost", old, root_key, LEAF_EXT, days=1000)
        at = at_text(time.time() + 100 * 86400)
        for anchors in ([old, new], [new, old]):
            with OpensslServer(leaf, leaf_key) as srv:
                args = [srv.url(), "--at", at] + LOCALHOST
                for anchor in anchors:
                    args += ["--anchor", anchor]
                p = cert_check(args)
            check(p.returncode in (0, 1), f"anchors {anchors}: exit {p.returncode}, expected 0/1")
            check(not findings(p, "fail"), f"a fail line: {findings(p, 'fail')}")


def case_cert_show_chain_too_long():
    """Nine intermediates, one more than Mbed TLS's limit: a certificate failure that says so."""
    with tempfile.TemporaryDirectory() as work:
        root, issuer_key = self_signed(work, "root", "smtpkit Long Root", 365)
        issuer, intermediates = root, []
        for i in range(9):
            issuer, issuer_key = issued(work, f"int{i}", f"smtpkit Intermediate {i}", issuer,
                                        issuer_key, CA_EXT)
            intermediates.insert(0, issuer)
        leaf, leaf_key = issued(work, "leaf", "localhost", issuer, issuer_key, LEAF_EXT)
        chain = concat(work, "chain.pem", intermediates)
        with OpensslServer(leaf, leaf_key, chain) as srv:
            p = cert(["show", srv.url(), "--ca-file", root] + LOCALHOST)
        one_line_error(p, EX_NOPERM,
                       "the server's chain is longer than the 8 intermediate certificates "
                       "Mbed TLS accepts", "certificate verification failure")


def case_cert_show_chain_over_16k():
    """A certificate message over 16 KB: the TLS error explains Mbed TLS's odd text."""
    with tempfile.TemporaryDirectory() as work:
        root, root_key = self_signed(work, "root", "smtpkit Big Root", 365)
        names = ",".join(f"DNS:host-{i:04d}.many-names.example" for i in range(800))
        leaf, leaf_key = issued(work, "leaf", "localhost", root, root_key,
                                LEAF_EXT.replace("DNS:localhost", "DNS:localhost," + names))
        check(os.path.getsize(leaf) > 16384 * 4 // 3, "the leaf is not over 16 KB")
        with OpensslServer(leaf, leaf_key) as srv:
            p = cert(["show", srv.url(), "--ca-file", root] + LOCALHOST)
        one_line_error(p, EX_NOPERM, "-0x7080", "exceeds its 16 KB input buffer")


def case_cert_show_non_ca_issuer():
    """The server sends the leaf's issuer, but it is no CA: the verdict names it."""
    with tempfile.TemporaryDirectory() as work:
        root, root_key = self_signed(work, "root", "smtpkit Root", 365)
        kinds = {"ca_false": "basicConstraints=critical,CA:FALSE\n",
                 "no_basic": "keyUsage=keyCertSign,digitalSignature\n"}
        for name, ext in kinds.items():
            middle, middle_key = issued(work, name, "smtpkit Not a CA", root, root_key, ext)
            leaf, leaf_key = issued(work, name + "_leaf", "localhost", middle, middle_key,
                                    LEAF_EXT)
            with OpensslServer(leaf, leaf_key, middle) as srv:
                p = cert(["show", srv.url(), "--ca-file", root] + LOCALHOST)
            print(p.stdout.decode())
            one_line_error(p, EX_NOPERM, "certificate 1 (CN=smtpkit Not a CA) issued the chain "
                           "but is not a CA (basicConstraints)")


# --- send --pinned-pubkey -----------------------------------------------------------------

def chain_send(extra, t, server=None):
    args = ["--server", server or local_url("CHAIN"), "--ca-file", ENV["CHAIN_ROOT_FILE"],
            "--tls-server-name", "localhost", "--user", USER, "--from", USER,
            "--to", "bob@example.test", "--subject", t, "-v"] + extra
    return run(args, stdin=b"pinned\n")


def case_send_pinned_pubkey():
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    for pin in (leaf["pin"], leaf["spki_hex"]):
        t = token()
        p = chain_send(["--pinned-pubkey", pin], t)
        check(p.returncode == 0, f"--pinned-pubkey {pin}: exit {p.returncode}")
        wait_delivered("bob", t)
    t = token()
    p = chain_send(["--pinnedpubkey", leaf["pin"], "--pinned-pubkey",
                    cert_facts(ENV["OTHER_CA_FILE"])["pin"]], t)
    check(p.returncode == 0, f"one right pin of two: exit {p.returncode}")
    wait_delivered("bob", t)
    # curl's list: a wrong pin and the right one in one value, ';' between; hex with colons.
    wrong = cert_facts(ENV["OTHER_CA_FILE"])["pin"]
    for pins in (f"{wrong};{leaf['pin']}", f"{wrong};{colon_hex(bytes.fromhex(leaf['spki_hex']))}"):
        t = token()
        p = chain_send(["--pinned-pubkey", pins], t)
        check(p.returncode == 0, f"--pinned-pubkey {pins}: exit {p.returncode}")
        wait_delivered("bob", t)
    for bad in (f"{leaf['pin']};junk", f"{leaf['pin']};"):
        p = chain_send(["--pinned-pubkey", bad], token())
        one_line_error(p, EX_USAGE, "--pinned-pubkey", "is not a pin")
    # The same lists in the cert commands, which share the parser.
    p = cert(["show", local_url("CHAIN"), "--ca-dir", ENV["CHAIN_CA_DIR"], "--pinned-pubkey",
              f"{wrong};{leaf['pin']}"] + LOCALHOST)
    check(p.returncode == 0 and "found in the chain" in p.stdout.decode(),
          f"cert show with a list of pins: exit {p.returncode}")
    p = cert_check([local_url("CHAIN"), "--anchor", ENV["CHAIN_ROOT_FILE"], "--pinned-pubkey",
                    f"{wrong};{wrong}"] + LOCALHOST)
    check(p.returncode == 2 and findings(p, "fail"), f"cert check, wrong pins: {p.returncode}")


def case_send_wrong_pin():
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    wrong = cert_facts(ENV["OTHER_CA_FILE"])
    t = token()
    p = chain_send(["--pinned-pubkey", wrong["pin"]], t)
    line = one_line_error(p, EX_NOPERM, "pin")
    check(leaf["pin"] in line, f"the error does not name the leaf's key {leaf['pin']}")
    trace_has_no_auth(p)
    check("C: STARTTLS" in p.err, "the failure came before TLS")
    assert_not_delivered(t, users=("bob",))


def case_send_verbose_shows_chain():
    t = token()
    p = chain_send([], t)
    check(p.returncode == 0, f"exit {p.returncode}")
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    lines = [l for l in p.err.splitlines() if l.startswith("smtpkit: * certificate ")]
    check(len(lines) >= 2, f"no certificate lines in the -v trace: {lines}")
    check("CN=localhost" in lines[0] and utc_text(leaf["not_after"]) in lines[0],
          f"certificate 0 line {lines[0]!r}")
    check(not re.search(r"warning: .*expires", p.err), "a warning for a chain far from expiry")
    wait_delivered("bob", t)
    # A root that expires in 10 days: a warning with -v, silence without.
    t = token()
    args = ["--server", local_url("ANCHOR_SOON"), "--ca-file", ENV["SOON_ROOT_FILE"],
            "--tls-server-name", "localhost", "--user", USER, "--from", USER,
            "--to", "bob@example.test", "--subject", t]
    p = run(args + ["-v"], stdin=b"soon\n")
    check(p.returncode == 0, f"soon root, -v: exit {p.returncode}")
    check(re.search(r"^smtpkit: \* warning: .*smtpkit Soon Expiring Root CA.*expires in \d+ day",
                    p.err, re.M), "no expiry warning with -v")
    p = run(args, stdin=b"soon\n")
    check(p.returncode == 0 and not p.err.strip(), f"without -v: exit {p.returncode}, "
          f"stderr {p.err!r}")
    wait_delivered("bob", t, count=2)


# --- the library's trust options through the C API (tests/integration/trust_api.c) --------

TRUST_API_CHECKS = [
    "anchors_two_probe", "anchors_two_send", "on_chain_summary", "on_chain_first_expiry",
    "anchors_other_only_probe", "anchors_other_only_send",
    "pin_intermediate_probe", "pin_intermediate_spki", "pin_intermediate_send",
    "pin_wrong_probe", "pin_wrong_send",
    "time_late_probe", "time_late_now", "time_valid_probe", "time_valid_now", "time_valid_send",
    "time_unknown_refuse_probe", "time_unknown_now", "time_unknown_refuse_send",
    "time_old_refuse_probe",
    "expired_skip_dates_probe", "expired_skip_dates_send", "expired_refuse_host_probe",
    "expired_refuse_host_leaf", "soon_root_summarize"]
TRUST_API_SENT = ("ANCHORS", "PIN", "TIME_VALID", "SKIP_DATES")
TRUST_API_REFUSED = ("OTHER_ONLY", "WRONG_PIN", "NO_TIME")


def case_trust_api():
    """smtpkit_client_send/probe with anchors in memory, pins, the caller's time, on_chain."""
    chain = [cert_facts(ENV[name]) for name in
             ("CHAIN_LEAF_FILE", "CHAIN_INTERMEDIATE_FILE", "CHAIN_ROOT_FILE")]
    other = cert_facts(ENV["OTHER_CA_FILE"])
    soon = cert_facts(ENV["SOON_ROOT_FILE"])
    late = calendar.timegm((2040, 1, 1, 0, 0, 0))
    start = max(c["not_before"] for c in chain)
    end = min(c["not_after"] for c in chain)
    valid = end - 86400  # the day before the first expiry: all three valid, not today
    check(late > chain[2]["not_after"] and start < valid, "harness: unexpected chain dates")
    soon_days = (soon["not_after"] - int(time.time())) // 86400
    check(soon_days in (9, 10), f"harness: the SOON root has {soon_days} days left, not 9 or 10")
    tokens = {name: token() for name in TRUST_API_SENT + TRUST_API_REFUSED}
    env = dict(os.environ, TA_HOST="127.0.0.1", TA_PORT_CHAIN=port("CHAIN"),
               TA_PORT_EXPIRED=port("EXPIRED"), TA_USER=USER, TA_PASSWORD=PASSWORD,
               TA_RCPT="alice@example.test", TA_OTHER_CA_PEM=ENV["OTHER_CA_FILE"],
               TA_CHAIN_ROOT_DER=ENV["CHAIN_ROOT_DER"], TA_CA_FILE=ENV["CA_FILE"],
               TA_SOON_ROOT=ENV["SOON_ROOT_FILE"], TA_PIN_RIGHT=chain[1]["spki_hex"],
               TA_PIN_WRONG=other["spki_hex"],
               TA_FIRST_EXPIRY=str(min(range(3), key=lambda i: chain[i]["not_after"])),
               TA_TIME_LATE=str(late), TA_TIME_VALID=str(valid),
               TA_TIME_OLD=str(calendar.timegm((2019, 6, 1, 0, 0, 0))),
               TA_SOON_NOT_AFTER=str(soon["not_after"]), TA_SOON_DAYS=str(soon_days))
    for i, facts in enumerate(chain):
        env[f"TA_CN_{i}"] = facts["subject_cn"]
        env[f"TA_NOT_AFTER_{i}"] = str(facts["not_after"])
    for name, value in tokens.items():
        env["TA_TOKEN_" + name] = value
    with open(ENV["CHAIN_ROOT_DER"], "rb") as f:
        check(f.read() == chain[2]["der"], "harness: CHAIN_ROOT_DER is not the chain's root")
    p = subprocess.run([os.environ["SMTPKIT_TRUST_API"]], env=env, capture_output=True,
                       timeout=100)
    out = p.stdout.decode("utf-8", "replace")
    print(out, p.stderr.decode("utf-8", "replace"))
    results = {}
    for line in out.splitlines():
        m = re.match(r"(ok|FAIL) (\w+): ", line)
        if m:
            results[m.group(2)] = m.group(1)
    failed = [name for name, verdict in results.items() if verdict != "ok"]
    missing = [name for name in TRUST_API_CHECKS if name not in results]
    check(not failed, f"sub-checks failed: {failed}")
    check(not missing, f"sub-checks not run: {missing}")
    check(p.returncode == 0, f"trust_api exit {p.returncode}")
    for name in TRUST_API_SENT:
        t = tokens[name]
        delivered = wait_delivered("alice", t)
        check(len(delivered) == 1, f"{name}: {len(delivered)} copies of {t}")
        msg = email.message_from_bytes(strip_trace(delivered[0]), policy=email.policy.default)
        check(msg["Subject"] == f"trust_api {t}", f"{name}: Subject {msg['Subject']!r}")
        check(msg.get_content() == f"sent by trust_api.c, check {name}\n",
              f"{name}: body {msg.get_content()!r}")
    for i, name in enumerate(TRUST_API_REFUSED):
        assert_not_delivered(tokens[name], wait=2.0 if i == 0 else 0)


# --- the two examples, built and run against the real server ------------------------------

def build_firmware_alert(work, header, alert_port, to_user, extra=()):
    """Compiles examples/firmware_alert.c with the anchor in @header (array alert_anchor) and
    the compiler arguments @extra (further -D settings of the example)."""
    exe = os.path.join(work, "firmware_alert")
    src = os.environ["SMTPKIT_SRC"]
    cmd = ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
           f"-I{src}/include", f"-I{os.path.dirname(header)}",
           f'-DALERT_ANCHOR_HEADER="{os.path.basename(header)}"', '-DALERT_HOST="127.0.0.1"',
           f"-DALERT_PORT={alert_port}", '-DALERT_TLS_NAME="localhost"',
           f'-DALERT_USER="{USER}"', f'-DALERT_FROM="Sensor <{USER}>"',
           f'-DALERT_TO="{to_user}@example.test"',
           *extra, os.path.join(src, "examples", "firmware_alert.c"), "-o", exe]
    cmd += os.environ["SMTPKIT_LIBS"].split(":") + ["-lmbedtls", "-lmbedx509", "-lmbedcrypto"]
    print("$ " + " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True)
    return exe


def run_firmware_alert(exe, to_user):
    """Runs the alert program, waits for its mail in @to_user's Maildir, returns the run."""
    before = set(map(bytes, messages_with(to_user, "cabinet 3")))
    p = subprocess.run([exe], env=dict(os.environ, ALERT_PASSWORD=PASSWORD),
                       capture_output=True, timeout=60)
    print(p.stdout.decode(), p.stderr.decode())
    check(p.returncode == 0, f"firmware_alert exit {p.returncode}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [m for m in messages_with(to_user, "cabinet 3") if m not in before]
        if new:
            msg = email.message_from_bytes(new[0], policy=email.policy.default)
            check(msg["Subject"] == "ALERT: cabinet 3 over temperature", "wrong subject")
            check(msg.get_content() == "Temperature in cabinet 3 is 71.5 C (limit 60 C).\n",
                  "wrong body")
            # The envelope sender is the account that logged in (ALERT_ENVELOPE_FROM default).
            check(msg["Return-Path"] == f"<{USER}>", f"Return-Path {msg['Return-Path']!r}")
            return p
        time.sleep(0.1)
    raise Failure(f"the alert did not arrive in {to_user}'s Maildir")


def case_example_firmware_alert():
    work = tempfile.mkdtemp()
    header = os.path.join(work, "test_anchor.h")
    with open(header, "w") as f:
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "harness", "der2c.py"),
                        ENV["CA_FILE"], "alert_anchor"], stdout=f, check=True)
    exe = build_firmware_alert(work, header, port("SUBMISSION"), "carol")
    run_firmware_alert(exe, "carol")
    # The same device on the implicit-TLS port.
    exe = build_firmware_alert(work, header, port("SMTPS"), "carol", ["-DALERT_IMPLICIT_TLS"])
    run_firmware_alert(exe, "carol")


def case_example_firmware_alert_two_anchors_pin():
    """firmware_alert with an unrelated anchor, the chain's root as the next one, and a pin."""
    work = tempfile.mkdtemp()
    der2c = os.path.join(HERE, "..", "harness", "der2c.py")
    headers = {"alert_anchor": ENV["OTHER_CA_FILE"], "alert_next_anchor": ENV["CHAIN_ROOT_FILE"]}
    for name, path in headers.items():
        with open(os.path.join(work, name + ".h"), "w") as f:
            subprocess.run(["/usr/bin/python3", der2c, path, name], stdout=f, check=True)
    other = cert_facts(ENV["OTHER_CA_FILE"])
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    inter = cert_facts(ENV["CHAIN_INTERMEDIATE_FILE"])
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    extra = ['-DALERT_NEXT_ANCHOR_HEADER="alert_next_anchor.h"',
             f'-DALERT_PIN="{root["pin"]}"']
    exe = build_firmware_alert(work, os.path.join(work, "alert_anchor.h"), port("CHAIN"),
                               "alice", extra)
    before = int(time.time())
    p = run_firmware_alert(exe, "alice")
    after = int(time.time())
    out = p.stdout.decode()

    def days_left(what, pattern, not_after):
        found = re.findall(pattern, out, re.M)
        check(len(found) == 1, f"{what}: {len(found)} lines match {pattern!r}")
        n = int(found[0])
        check((not_after - after) // 86400 <= n <= (not_after - before) // 86400,
              f"{what}: {n} days, but openssl's not-after is {utc_text(not_after)}")

    days_left("anchor 0", r"^firmware_alert: anchor 0 expires in (-?\d+) days$",
              other["not_after"])
    days_left("anchor 1", r"^firmware_alert: anchor 1 expires in (-?\d+) days$",
              root["not_after"])
    days_left("server", r"^firmware_alert: server certificate expires in (-?\d+) days$",
              leaf["not_after"])
    first_is_leaf = leaf["not_after"] <= min(inter["not_after"], root["not_after"])
    check(first_is_leaf == ("expires first" not in out),
          "the 'expires first' line does not match openssl's dates")
    # A wrong pin: the same build with the unrelated CA's key pinned must not send.
    extra[1] = f'-DALERT_PIN="{other["pin"]}"'
    exe = build_firmware_alert(work, os.path.join(work, "alert_anchor.h"), port("CHAIN"),
                               "alice", extra)
    p = subprocess.run([exe], env=dict(os.environ, ALERT_PASSWORD=PASSWORD),
                       capture_output=True, timeout=60)
    print(p.stdout.decode(), p.stderr.decode())
    check(p.returncode == 1 and "pinned public key" in p.stderr.decode(),
          f"wrong pin: exit {p.returncode}")
    # Dates of a chain that failed are not reported as facts.
    out = p.stdout.decode()
    check("server certificate does not verify" in out and "server certificate expires" not in out,
          "the example reported the dates of a chain that did not verify")


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


# --- cert: outputs, trust inputs and names that broke before -----------------------------

def case_cert_export_special_outputs():
    """-o to a symlink or a FIFO writes through it; a directory is 73 (no test touches /dev)."""
    root_pem = cert_facts(ENV["CHAIN_ROOT_FILE"])["pem"]
    with tempfile.TemporaryDirectory() as work:
        real, link = os.path.join(work, "real.pem"), os.path.join(work, "link.pem")
        with open(real, "w") as f:
            f.write("old\n")
        os.symlink("real.pem", link)
        p = export(["-o", link])
        check(p.returncode == 0, f"-o symlink: exit {p.returncode}")
        check(os.path.islink(link), "the symlink was replaced")
        with open(real, "rb") as f:
            check(f.read() == root_pem, "the symlink's target does not hold the PEM")
        fifo, got = os.path.join(work, "fifo"), []
        os.mkfifo(fifo)
        reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
        reader.start()
        p = export(["-o", fifo])
        reader.join(10)
        check(p.returncode == 0, f"-o FIFO: exit {p.returncode}")
        check(got == [root_pem], f"the FIFO's reader got {got!r}")
        check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced")
        p = export(["-o", work])
        one_line_error(p, 73, work, "directory")
        check(sorted(os.listdir(work)) == ["fifo", "link.pem", "real.pem"],
              f"files left beside the directory: {os.listdir(work)}")


def case_cert_unusable_ca_exit_66():
    """An unusable --ca-file or --ca-dir: exit 66 and the same line as send, for show and
    export, before connecting (the port is closed)."""
    closed = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as text:
        text.write("no certificate here\n")
        text.flush()
        for ca in (["--ca-file", "/nonexistent/ca.pem"], ["--ca-dir", "/nonexistent/dir"],
                   ["--ca-file", text.name]):
            sent = run(["--server", f"smtp://127.0.0.1:{closed}", "--from", USER, "--to",
                        "bob@example.test"] + ca + LOCALHOST, password=False)
            send_line = one_line_error(sent, EX_NOINPUT, ca[1])
            for command in ("show", "export"):
                p = cert([command, f"smtp://127.0.0.1:{closed}"] + ca + LOCALHOST)
                line = one_line_error(p, EX_NOINPUT, ca[1])
                check(line == send_line, f"cert {command}: {line!r}, send: {send_line!r}")
                check("usage error" not in line, f"cert {command}: {line!r}")


def case_cert_export_header_names():
    """Keywords and reserved names are refused; the guard cannot take a library guard."""
    work = tempfile.mkdtemp()
    for bad in ("int", "class", "delete", "new", "and", "not", "or", "xor_eq", "_Bool", "main",
                "errno", "_x", "__x", "a__b", "_Anchor"):
        p = export(["--name", bad, "-o", os.path.join(work, "bad.h")], fmt="c")
        one_line_error(p, EX_USAGE, f"--name {bad}")
        check(not os.path.exists(os.path.join(work, "bad.h")), f"--name {bad} wrote a file")
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    header = export_file(work, "smtpkit_anchors.h", "--name", "smtpkit_anchors", fmt="c")
    guard = "SMTPKIT_ANCHORS_H_" + root["sha256"].replace(":", "")[:8].upper()
    check(f"#ifndef {guard}\n#define {guard}\n".encode() in header, f"no guard {guard}")
    prog = os.path.join(work, "both.c")
    with open(prog, "w") as f:
        f.write('#include "smtpkit/anchors.h"\n#include "smtpkit_anchors.h"\n'
                "int main(void) { return smtpkit_anchors_len == sizeof smtpkit_anchors &&\n"
                "    SMTPKIT_ANCHORS_NOT_AFTER_UNIX > 0 ? 0 : 1; }\n")
    include = os.path.join(os.environ["SMTPKIT_SRC"], "include")
    for compiler in (["cc", "-std=c11"], ["c++", "-x", "c++", "-std=c++17"]):
        cmd = compiler + ["-Wall", "-Wextra", "-pedantic", "-Werror", f"-I{include}", f"-I{work}",
                          prog, "-o", os.path.join(work, "both")]
        print("$ " + " ".join(shlex.quote(c) for c in cmd))
        built = subprocess.run(cmd, capture_output=True)
        check(built.returncode == 0, f"{compiler[0]}: " + built.stderr.decode())
        check(subprocess.run([os.path.join(work, "both")]).returncode == 0, "the array")


def serve_chain_once(sock, ctx):
    """Answers one probe on @sock: the TLS handshake, the greeting, EHLO and QUIT."""
    conn, _ = sock.accept()
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            f = tls.makefile("rwb", buffering=0)
            f.write(b"220 chain server\r\n")
            for line in iter(f.readline, b""):
                word = line[:4].upper()
                f.write(b"250 ok\r\n" if word in (b"EHLO", b"HELO") else b"221 bye\r\n")
                if word == b"QUIT":
                    return
    except (OSError, ssl.SSLError) as e:
        print(f"chain server: {e}")


@contextlib.contextmanager
def chain_server(chain, key):
    """The smtps:// URL of one implicit-TLS connection served by Python's ssl module, which
    sends the certificates of @chain (PEM, leaf first) exactly as the file holds them,
    duplicates included (openssl s_server builds its own chain)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=serve_chain_once, args=(sock, ctx), daemon=True)
    thread.start()
    try:
        yield f"smtps://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
        thread.join(10)


def ca_dir_file(name):
    return os.path.join(os.path.dirname(ENV["CHAIN_ROOT_FILE"]), name)


def case_cert_show_duplicate_certificates():
    """A chain sent as [leaf, intermediate, intermediate, leaf]: the repeats are named."""
    leaf, inter = ENV["CHAIN_LEAF_FILE"], ENV["CHAIN_INTERMEDIATE_FILE"]
    with tempfile.TemporaryDirectory() as work:
        chain = os.path.join(work, "chain.pem")
        with open(chain, "wb") as f:
            for path in (leaf, inter, inter, leaf):
                f.write(cert_facts(path)["pem"])
        with chain_server(chain, ca_dir_file("chain-leaf-key.pem")) as url:
            p = cert(["show", url, "--ca-dir", ENV["CHAIN_CA_DIR"]] + LOCALHOST)
    print(p.stdout.decode())
    check(p.returncode == 0, f"exit {p.returncode}")
    titles = [t for t, _ in cert_blocks(parse_show(p.stdout.decode()))]
    check(titles[:4] == ["Certificate 0 (leaf)", "Certificate 1 (intermediate)",
                         "Certificate 2 (duplicate of certificate 1)",
                         "Certificate 3 (duplicate of certificate 0)"], f"titles {titles}")


def case_cert_export_default_name_without_cn():
    """No CN, or a CN of symbols only: smtpkit_anchor_ and 8 hex digits of the SHA-256."""
    with tempfile.TemporaryDirectory() as work:
        for subject in ("/O=smtpkit No CN", "/CN=*** ---"):
            key, path = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-subj", subject, "-days", "30",
                    "-config", os.devnull, "-out", path)
            der = openssl("x509", "-in", path, "-outform", "DER")
            digest = hashlib.sha256(der).hexdigest()[:8]
            with chain_server(path, key) as url:
                p = cert(["export", url, "--which", "leaf", "--format", "c",
                          "--ca-file", path] + LOCALHOST)
            header = p.stdout.decode()
            print(header)
            check(p.returncode == 0, f"{subject}: exit {p.returncode}")
            check(f"unsigned char smtpkit_anchor_{digest.lower()}[]" in header,
                  f"{subject}: the array is not smtpkit_anchor_{digest.lower()}")
            check(f"#ifndef SMTPKIT_ANCHOR_{digest.upper()}_H_{digest.upper()}\n" in header,
                  f"{subject}: guard")


def case_cert_check_anchor_file_detection():
    """PEM after a line that starts with '0' is not DER; a NUL byte hides no certificate."""
    with open(ENV["CHAIN_ROOT_FILE"], "rb") as f:
        chain_root = f.read()
    with open(ENV["SOON_ROOT_FILE"], "rb") as f:
        soon_root = f.read()
    with tempfile.TemporaryDirectory() as work:
        commented = os.path.join(work, "commented.pem")
        with open(commented, "wb") as f:
            f.write(b"0 root of the chain servers\n" + chain_root)
        p = cert_check(["--anchor", commented])
        check(p.returncode == 0, f"a leading '0' line: exit {p.returncode}, expected 0")
        no_error_lines(p)
        with_nul = os.path.join(work, "nul.pem")
        with open(with_nul, "wb") as f:
            f.write(chain_root + b"\0\n" + soon_root)
        p = cert_check(["--anchor", with_nul])
        check(p.returncode == 1, f"root, NUL, soon root: exit {p.returncode}, expected 1")
        exp = findings(p, "expiring")
        check(len(exp) == 1 and "smtpkit Soon Expiring Root CA" in exp[0] and
              "certificate 1" in exp[0], f"expiring lines {exp}")


def case_cert_number_ranges():
    """--timeout 0 and -1 get one message, with the range that is accepted."""
    for value in ("0", "-1", "86401"):
        p = cert(["show", "smtp://127.0.0.1:1", "--timeout", value])
        one_line_error(p, EX_USAGE, f"--timeout {value}: give a whole number from 1 to 86400")
    p = run(["--timeout", "0"], password=False)
    one_line_error(p, EX_USAGE, "--timeout 0: give a whole number from 1 to 86400")


# --- findings of a new user's first run through the README -------------------------------

def case_cert_check_anchor_warn_days():
    """--warn-days for the leaf and intermediates, --anchor-warn-days for anchors."""
    # Harness lifetimes: leaf 365 days, intermediate 1825, root 3650 (make_cert_pki).
    base = [local_url("CHAIN"), "--anchor", ENV["CHAIN_ROOT_FILE"]] + LOCALHOST
    p = cert_check(base + ["--warn-days", "30", "--anchor-warn-days", "4000"])
    check(p.returncode == 1, f"--anchor-warn-days 4000: exit {p.returncode}, expected 1")
    check_findings_form(p)
    exp = findings(p, "expiring")
    check(len(exp) == 1 and exp[0].startswith("expiring: anchor ") and
          "smtpkit Chain Root CA" in exp[0], f"expiring lines {exp}")
    p = cert_check(base + ["--warn-days", "400"])
    check(p.returncode == 1, f"--warn-days 400: exit {p.returncode}, expected 1")
    exp = findings(p, "expiring")
    check(len(exp) == 1 and exp[0].startswith("expiring: leaf ") and "CN=localhost" in exp[0],
          f"expiring lines {exp} (the anchor follows --warn-days only by default)")
    p = cert_check(base + ["--warn-days", "400", "--anchor-warn-days", "30"])
    exp = findings(p, "expiring")
    check(p.returncode == 1 and len(exp) == 1 and exp[0].startswith("expiring: leaf "),
          f"--warn-days 400 --anchor-warn-days 30: exit {p.returncode}, {exp}")
    # The README's advice: anchors a year ahead, leaves at the default; a fresh chain is green.
    p = cert_check(base + ["--anchor-warn-days", "400"])
    check(p.returncode == 0 and not findings(p, "expiring"), f"README advice: {p.returncode}")
    # Without a URL too: the soon root (10 days) is quiet with --anchor-warn-days 5.
    p = cert_check(["--anchor", ENV["SOON_ROOT_FILE"], "--anchor-warn-days", "5"])
    check(p.returncode == 0, f"soon root, --anchor-warn-days 5: exit {p.returncode}")
    p = cert_check(["--anchor", ENV["SOON_ROOT_FILE"], "--warn-days", "5"])
    check(p.returncode == 0, f"soon root, --warn-days 5 (the default for anchors): exit "
          f"{p.returncode}")
    p = cert(["show", local_url("CHAIN"), "--anchor-warn-days", "5"])
    one_line_error(p, EX_USAGE, "--anchor-warn-days", "cert check")


def case_cert_check_ok_says_first_expiry():
    """A passing check says what expires first; without a URL, each fine anchor's expiry."""
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    p = cert_check([local_url("CHAIN"), "--anchor", ENV["CHAIN_ROOT_FILE"]] + LOCALHOST)
    check(p.returncode == 0, f"exit {p.returncode}")
    ok = findings(p, "ok")
    check(len(ok) == 1, f"ok lines {ok}")
    m = re.search(r"verifies against anchor .*smtpkit Chain Root CA \(.*\); first to expire: "
                  r"leaf .*CN=localhost on (.*), in (\d+) days$", ok[0])
    check(m, f"ok line {ok[0]!r} does not name the first expiry")
    check(m.group(1) == utc_text(leaf["not_after"]), f"date {m.group(1)!r}")
    check(days_match(int(m.group(2)), leaf["not_after"] - int(time.time())),
          f"{m.group(2)} days to {utc_text(leaf['not_after'])}")
    p = cert_check(["--anchor", ENV["CHAIN_ROOT_FILE"], "--anchor", ENV["SOON_ROOT_FILE"]])
    check(p.returncode == 1, f"two anchors: exit {p.returncode}, expected 1")
    check_findings_form(p)
    ok = findings(p, "ok")
    check(len(ok) == 1 and ok[0].startswith("ok: anchor ") and
          "smtpkit Chain Root CA" in ok[0] and os.path.basename(ENV["CHAIN_ROOT_FILE"]) in ok[0],
          f"ok lines {ok} (one, for the anchor that is fine)")
    m = re.search(r" expires (.*), in (\d+) days$", ok[0])
    check(m and m.group(1) == utc_text(root["not_after"]) and
          days_match(int(m.group(2)), root["not_after"] - int(time.time())), f"{ok[0]!r}")
    check(len(findings(p, "expiring")) == 1, "the soon root is not (only) expiring")


def case_cert_soon_anchor_warnings():
    """export and show of a chain whose anchor expires in 10 days say so on stderr."""
    soon = cert_facts(ENV["SOON_ROOT_FILE"])
    ca = ["--ca-file", ENV["SOON_ROOT_FILE"]]
    warning = (r"^smtpkit: warning: .*smtpkit Soon Expiring Root CA expires "
               + re.escape(utc_text(soon["not_after"])) + r", in (\d+) days?$")
    work = tempfile.mkdtemp()
    p = export(["-o", os.path.join(work, "soon.der")], fmt="der", url=local_url("ANCHOR_SOON"),
               ca=ca)
    check(p.returncode == 0, f"export: exit {p.returncode}, expected 0")
    m = re.search(warning, p.err, re.M)
    check(m and days_match(int(m.group(1)), soon["not_after"] - int(time.time())),
          f"no expiry warning from export: {p.err!r}")
    with open(os.path.join(work, "soon.der"), "rb") as f:
        check(f.read() == soon["der"], "the exported anchor is not SOON_ROOT_FILE")
    p = export([], which="leaf", url=local_url("ANCHOR_SOON"), ca=ca)
    check(p.returncode == 0 and "warning" not in p.err, f"leaf (a year left): {p.err!r}")
    p = export([])
    check(p.returncode == 0 and "warning" not in p.err, f"chain root (10 years): {p.err!r}")
    p = cert(["show", local_url("ANCHOR_SOON")] + ca + LOCALHOST)
    out = p.stdout.decode()
    print(out)
    check(p.returncode == 0, f"show: exit {p.returncode}")
    v = verdict(parse_show(out))
    check(v.get("Result") == "OK", f"Result {v.get('Result')!r}")
    first = v.get("Expires first", "")
    m = re.match(r"trust anchor .*smtpkit Soon Expiring Root CA on (.*) \((\d+) days? left\)$",
                 first)
    check(m and m.group(1) == utc_text(soon["not_after"]) and
          days_match(int(m.group(2)), soon["not_after"] - int(time.time())),
          f"Expires first {first!r}")
    check(re.search(warning, p.err, re.M), f"no expiry warning from show: {p.err!r}")
    no_error_lines(p)
    p = cert(["show", local_url("CHAIN"), "--ca-dir", ENV["CHAIN_CA_DIR"]] + LOCALHOST)
    first = verdict(parse_show(p.stdout.decode())).get("Expires first", "")
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    check(re.match(r"leaf .*CN=localhost on " + re.escape(utc_text(leaf["not_after"])) +
                   r" \(\d+ days left\)$", first), f"Expires first {first!r}")
    check("warning" not in p.err, f"a warning for a chain a year from expiry: {p.err!r}")


HINT = "(if the server speaks TLS at once, use smtps:// or --tls)"


def case_cert_scheme_hint():
    """STARTTLS to an implicit-TLS port: the greeting times out, and the error says why."""
    bare = f"127.0.0.1:{port('CHAIN_TLS')}"
    p = cert(["show", bare, "--timeout", "2"] + LOCALHOST)
    line = one_line_error(p, EX_TEMPFAIL, bare)
    check(line.endswith(HINT), f"no scheme hint: {line!r}")
    p = cert_check([bare, "--anchor", ENV["CHAIN_ROOT_FILE"], "--timeout", "2"] + LOCALHOST)
    err = findings(p, "error")
    check(p.returncode == 3 and len(err) == 1 and err[0].endswith(HINT),
          f"check: exit {p.returncode}, {err}")
    p = cert(["show", bare, "--tls", "--ca-dir", ENV["CHAIN_CA_DIR"]] + LOCALHOST)
    check(p.returncode == 0, f"--tls as the hint says: exit {p.returncode}")
    closed = free_port()
    p = cert(["show", f"127.0.0.1:{closed}", "--timeout", "2"] + LOCALHOST)
    line = one_line_error(p, EX_TEMPFAIL)
    check("smtps://" not in line, f"a scheme hint for a refused connection: {line!r}")
    p = run(["--server", f"smtp://{bare}", "--timeout", "2", "--ca-file",
             ENV["CHAIN_ROOT_FILE"], "--tls-server-name", "localhost", "--user", USER,
             "--from", USER, "--to", "bob@example.test"], stdin=b"hint\n")
    line = one_line_error(p, EX_TEMPFAIL)
    check(line.endswith("(if the server speaks TLS at once, use smtps://)"),
          f"send: no scheme hint: {line!r}")


def case_cert_show_expired_anchor():
    """The expired anchor the server did not send is a trust anchor, not 'certificate 1'."""
    p = cert(["show", local_url("ANCHOR_EXPIRED"), "--ca-file", ENV["EXPIRED_ROOT_FILE"]]
             + LOCALHOST)
    out = p.stdout.decode()
    print(out)
    one_line_error(p, EX_NOPERM, "trust anchor")
    check(re.search(r"^Chain sent by the server: 1 certificate$", out, re.M),
          "the server sent more than its leaf")
    chain = verdict(parse_show(out)).get("Chain", "")
    check(re.match(r"does not verify: trust anchor \(.*smtpkit Expired Root CA\): "
                   r"EXPIRED \d+ days ago$", chain), f"Chain {chain!r}")


def readme_exit_codes():
    """The codes of the README's table under '### Exit codes' (send's)."""
    with open(os.path.join(os.environ["SMTPKIT_SRC"], "README.md")) as f:
        text = f.read()
    table = text.split("### Exit codes", 1)[1].split("\n\n")[2]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}


def case_help_exit_codes():
    """smtpkit --help lists exactly the README's exit codes, and 535 under 69, not 77."""
    p = run(["--help"], password=False, command=None)
    text = p.stdout.decode()
    check(p.returncode == 0, f"exit {p.returncode}")
    exit_text = text[text.index("Exit:"):]
    help_codes = {int(n) for n in re.findall(r"(?<![\w/])(\d{1,2})(?![\w/])", exit_text)}
    check(help_codes == readme_exit_codes(),
          f"--help lists {sorted(help_codes)}, README {sorted(readme_exit_codes())}")
    check(re.search(r"69 5xx \(535", exit_text), f"69 does not mention 535: {exit_text!r}")
    check("AUTH refused" not in exit_text, "--help still says 77 for a refused AUTH")
    # case_wrong_password checks that a 535 does exit 69.


def case_cert_less_than_a_day():
    """--at an hour either side of an expiry or a start: 'less than a day', never '0 days'."""
    leaf = cert_facts(ENV["CHAIN_LEAF_FILE"])
    show = ["show", local_url("CHAIN"), "--ca-dir", ENV["CHAIN_CA_DIR"]] + LOCALHOST
    base = [local_url("CHAIN"), "--anchor", ENV["CHAIN_ROOT_FILE"]] + LOCALHOST
    after = ["--at", at_text(leaf["not_after"] + 3600)]
    before = ["--at", at_text(leaf["not_after"] - 3600)]
    p = cert(show + after)
    out = p.stdout.decode()
    check(p.returncode == EX_NOPERM and "(EXPIRED less than a day ago)" in out,
          f"an hour after: exit {p.returncode}\n{out}")
    p = cert(show + before)
    out = p.stdout.decode()
    check(p.returncode == 0 and "(less than a day left)" in out,
          f"an hour before: exit {p.returncode}\n{out}")
    check(re.search(r"^smtpkit: warning: leaf .* in less than a day$", p.err, re.M),
          f"no warning an hour before the expiry: {p.err!r}")
    p = cert(show + ["--at", at_text(leaf["not_before"] - 3600)])
    out = p.stdout.decode()
    check(p.returncode == EX_NOPERM and "(NOT YET VALID, starts in less than a day)" in out,
          f"an hour before the start: exit {p.returncode}\n{out}")
    p = cert_check(base + after)
    exp = [l for l in findings(p, "expired") if l.startswith("expired: leaf ")]
    check(len(exp) == 1 and exp[0].endswith(", less than a day ago"), f"expired lines {exp}")
    p = cert_check(base + before)
    exp = findings(p, "expiring")
    check(p.returncode == 1 and len(exp) == 1 and exp[0].endswith(", in less than a day"),
          f"expiring lines {exp}")
    check(findings(p, "ok")[0].endswith(", in less than a day"), "ok line's first expiry")
    for text in (p.out, out):
        check(" 0 days" not in text, f"'0 days' in {text!r}")


def case_cert_output_edges():
    """A lost stdout is exit 74, a FIFO without reader 73 at once, a replaced file keeps its
    mode, --which names the range sent, an anchor not valid yet is exit 1."""
    url = [local_url("CHAIN"), "--ca-dir", ENV["CHAIN_CA_DIR"]] + LOCALHOST
    # stdout closed: the shell runs smtpkit with descriptor 1 closed.
    p = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", BIN, "cert", "show"] + url,
                       capture_output=True, timeout=60)
    p.err = p.stderr.decode("utf-8", "replace")
    print(p.err)
    one_line_error(p, EX_IOERR, "cannot write to standard output")
    with tempfile.TemporaryDirectory() as work:
        fifo = os.path.join(work, "fifo")
        os.mkfifo(fifo)
        p = cert(["export"] + url + ["-o", fifo], timeout=20)
        one_line_error(p, 73, fifo, "no process reads it")
        kept = os.path.join(work, "kept.pem")
        with open(kept, "w") as f:
            f.write("old\n")
        os.chmod(kept, 0o600)
        p = cert(["export"] + url + ["-o", kept])
        check(p.returncode == 0, f"export over a file: exit {p.returncode}")
        check(os.stat(kept).st_mode & 0o777 == 0o600, "the replaced file lost its mode 0600")
        with open(kept, "rb") as f:
            check(f.read() == cert_facts(ENV["CHAIN_ROOT_FILE"])["pem"], "the file is not the PEM")
    p = cert(["export"] + url + ["--which", "5"])
    one_line_error(p, EX_USAGE, "the server sent 2 certificates (0 to 1)")
    # The chain root was made at server start: 200 days before that it is not valid yet.
    root = cert_facts(ENV["CHAIN_ROOT_FILE"])
    at = time.strftime("%Y-%m-%d", time.gmtime(root["not_before"] - 200 * 86400))
    p = cert_check(["--anchor", ENV["CHAIN_ROOT_FILE"], "--at", at])
    check(p.returncode == 1, f"an anchor not valid yet: exit {p.returncode}, expected 1")
    check(re.search(r"^not-yet-valid: anchor .*smtpkit Chain Root CA", p.out, re.M),
          "no not-yet-valid line")


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
