#!/usr/bin/python3
"""check_compose.py DUMP_PROGRAM - runs compose_dump into a temporary directory and parses
every composed message with Python's email package (default policy): the output read through
a 7-byte and a 4096-byte buffer is identical; every line ends in CRLF and is at most 998
octets; the structure, the decoded subject, the text and HTML (line ends as CRLF) and the
attachments (bytes, filename, content type) match the inputs. Exit 0 when all cases pass."""
import email
import email.policy
import os
import re
import subprocess
import sys
import tempfile

failures = []


def fail(case, why):
    failures.append(f"{case}: {why}")


def read(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path, "rb") as f:
        return f.read()


def normalize(data):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def check_lines(case, raw):
    if not raw.endswith(b"\r\n"):
        return fail(case, "message does not end with CRLF")
    for n, line in enumerate(raw[:-2].split(b"\r\n")):
        if b"\r" in line or b"\n" in line:
            return fail(case, f"bare CR or LF in line {n}")
        if len(line) > 998:
            return fail(case, f"line {n} is {len(line)} octets")


def expected_types(html, atts):
    text = ["text/plain"] if html is None else ["multipart/alternative", "text/plain",
                                                 "text/html"]
    return text if not atts else ["multipart/mixed"] + text + ["application/x"] * len(atts)


def check_text(case, part, want, subtype, eight):
    got = part.get_payload(decode=True)
    cte = part["Content-Transfer-Encoding"]
    if cte != ("8bit" if eight else "quoted-printable"):
        fail(case, f"{subtype}: transfer encoding {cte}")
    if part.get_content_charset() != "utf-8":
        fail(case, f"{subtype}: charset {part.get_content_charset()}")
    if got != normalize(want):
        fail(case, f"{subtype}: decoded {got[:60]!r}... differs from the input")


def check_case(case, folder):
    raw = read(os.path.join(folder, "out.7"))
    if raw != read(os.path.join(folder, "out.4096")):
        return fail(case, "7-byte and 4096-byte reads differ")
    check_lines(case, raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if msg.defects:
        fail(case, f"defects {msg.defects}")
    if str(msg["Subject"]) != read(os.path.join(folder, "subject")).decode():
        fail(case, f"subject {msg['Subject']!r}")
    html, eight = read(os.path.join(folder, "html")), read(os.path.join(folder, "eight"))
    atts = []
    while os.path.exists(os.path.join(folder, f"att.{len(atts)}")):
        base = os.path.join(folder, f"att.{len(atts)}")
        atts.append((read(base), read(base + ".name").decode(), read(base + ".type").decode()))
    parts = list(msg.walk())
    types = [p.get_content_type() for p in parts]
    want = expected_types(html, atts)
    if len(types) != len(want) or any(w != "application/x" and w != t
                                      for w, t in zip(want, types)):
        return fail(case, f"structure {types}, expected {want}")
    leaves = [p for p in parts if not p.is_multipart()]
    check_text(case, leaves[0], read(os.path.join(folder, "text")), "plain", eight)
    if html is not None:
        check_text(case, leaves[1], html, "html", eight)
    for part, (data, name, ctype) in zip(leaves[len(leaves) - len(atts):], atts):
        if part.get_content_type() != ctype or part.get_filename() != name:
            fail(case, f"attachment {part.get_content_type()} {part.get_filename()!r}")
        if part.get_content_disposition() != "attachment":
            fail(case, f"{name}: disposition {part.get_content_disposition()}")
        if part.get_payload(decode=True) != data:
            fail(case, f"{name}: {len(part.get_payload(decode=True))} bytes, not {len(data)}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.argv[1], tmp], check=True)
        cases = sorted(os.listdir(tmp))
        for case in cases:
            check_case(case, os.path.join(tmp, case))
    for f in failures:
        print("FAIL", f)
    print(f"{len(cases)} cases, {len(failures)} failures")
    return 1 if failures or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
