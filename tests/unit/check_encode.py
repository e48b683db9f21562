#!/usr/bin/python3
"""check_encode.py DUMP_PROGRAM - decodes every output of encode_dump with Python's own
decoders (base64, quopri, email with the default policy) and compares it with the input;
checks line lengths and line ends. Exit 0 when every record passes."""
import base64
import binascii
import email
import email.policy
import quopri
import re
import subprocess
import sys

failures = []


def fail(kind, data, why):
    failures.append(f"{kind} {data[:40]!r}...: {why}")


def lines_of(out):
    """The output split at CRLF; a CR or LF anywhere else is a failure."""
    body = out[:-2] if out.endswith(b"\r\n") else out
    parts = body.split(b"\r\n") if body else []
    if any(b"\r" in p or b"\n" in p for p in parts):
        return None
    return parts


def normalize(text):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", text)


def check_b64(data, out):
    lines = lines_of(out)
    if lines is None or (data and not out.endswith(b"\r\n")) or (not data and out):
        return fail("b64", data, "bad line ends")
    if any(len(l) != 76 for l in lines[:-1]) or (lines and not 0 < len(lines[-1]) <= 76):
        return fail("b64", data, "line lengths " + str([len(l) for l in lines]))
    if base64.b64decode(b"".join(lines), validate=True) != data:
        fail("b64", data, "decodes to something else")


def check_qp(data, out):
    lines = lines_of(out)
    if lines is None:
        return fail("qp", data, "bare CR or LF in output")
    for line in lines:
        if len(line) > 76 or any(c < 32 and c != 9 or c > 126 for c in line):
            return fail("qp", data, f"bad line {line!r}")
        if line[-1:] in (b" ", b"\t") or line == b"." or line.startswith(b"."):
            return fail("qp", data, f"line ends in space or starts with a dot: {line!r}")
    if quopri.decodestring(out).replace(b"\r\n", b"\n") != normalize(data).replace(b"\r\n",
                                                                                 b"\n"):
        fail("qp", data, f"quopri decodes to {quopri.decodestring(out)[:60]!r}")
    if binascii.a2b_qp(out) != normalize(data):
        fail("qp", data, "a2b_qp decodes to something else")


def check_header(field, data, out):
    lines = lines_of(out)
    if lines is None or not out.endswith(b"\r\n"):
        return fail(field, data, "bad line ends")
    if any(len(l) > 78 for l in lines):
        return fail(field, data, "line over 78: " + str([len(l) for l in lines]))
    if any(len(w) > 75 for w in re.findall(rb"=\?[^ ]*\?=", out)):
        return fail(field, data, "encoded-word over 75")
    msg = email.message_from_bytes(out + b"\r\nbody\r\n", policy=email.policy.default)
    if str(msg[field]) != data.decode("utf-8"):
        fail(field, data, f"decodes to {str(msg[field])!r}")


def check_filename(data, out):
    head = b"Content-Disposition: attachment; " + out + b"\r\n\r\nx\r\n"
    msg = email.message_from_bytes(head, policy=email.policy.default)
    if msg.get_filename() != data.decode("utf-8"):
        fail("filename", data, f"{out!r} decodes to {msg.get_filename()!r}")
    if any(c < 33 or c > 126 for c in out if c != 32) or b"\r" in out or b"\n" in out:
        fail("filename", data, "non-ASCII or control byte in output")


def main():
    dump = subprocess.run([sys.argv[1]], check=True, capture_output=True).stdout
    seen = {}
    count = 0
    for record in dump.decode("ascii").splitlines():
        kind, data, out = record.split("\t")
        data, out = bytes.fromhex(data), bytes.fromhex(out)
        count += 1
        if kind in ("b64", "qp"):
            # the three chunkings of one input must give the same bytes
            if seen.setdefault((kind, data), out) != out:
                fail(kind, data, "output depends on how the input was chunked")
            (check_b64 if kind == "b64" else check_qp)(data, out)
        elif kind == "filename":
            check_filename(data, out)
        else:
            check_header(kind, data, out)
    for f in failures:
        print("FAIL", f)
    print(f"{count} records, {len(failures)} failures")
    return 1 if failures or count < 80 else 0


sys.exit(main())
