#!/usr/bin/python3
"""Inspect the Maildirs written by the smtpkit test Postfix (see servers.sh).

Run with /usr/bin/python3 (stdlib only):

  maildir.py wait MAILDIR_ROOT USER [--count N] [--timeout S]
      Wait until USER's Maildir (new/ + cur/) holds at least N messages (default 1), then
      print every message path, one per line, oldest first. Exit 1 on timeout (default 15 s).
  maildir.py show FILE
      Print the message exactly as delivered.
  maildir.py strip FILE [--crlf] [--by HOST]
      Print the message without the trace headers Postfix prepends on delivery
      (Return-Path, X-Original-To, Delivered-To, and the Received header(s) added by
      HOST, default mx.example.test), otherwise byte for byte. Maildir stores LF line ends;
      --crlf converts them back to CRLF for comparison with what the client sent.
  maildir.py clear MAILDIR_ROOT USER
      Delete all delivered messages of USER.

USER may be given as a local part ("alice") or as an address ("alice@example.test"): the
virtual mailbox map stores user@example.test in MAILDIR_ROOT/user/.
"""

import argparse
import os
import sys
import time

DEFAULT_HOST = "mx.example.test"
# Headers prepended by Postfix's cleanup (Received) and virtual(8) (the others). They always
# form a contiguous block at the very top of the delivered file.
DELIVERY_HEADERS = (b"return-path", b"x-original-to", b"delivered-to")


def maildir_of(root, user):
    """Return the Maildir path of USER (local part or full address) under ROOT."""
    local = user.split("@", 1)[0]
    if not local or "/" in local or local in (".", ".."):
        raise SystemExit("maildir.py: invalid user name: %r" % user)
    return os.path.join(root, local)


def list_messages(mdir):
    """Paths of the delivered messages in new/ and cur/, oldest first.

    tmp/ is deliberately ignored: files there are still being written by virtual(8).
    """
    found = []
    for sub in ("new", "cur"):
        d = os.path.join(mdir, sub)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            continue
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(d, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:  # moved from new/ to cur/ or deleted meanwhile
                continue
            # Name as tie-breaker: Maildir names start with the delivery time in seconds, and
            # several messages may share an mtime at coarse timestamp granularity.
            found.append((st.st_mtime_ns, name, path))
    found.sort()
    return [path for _, _, path in found]


def cmd_wait(args):
    mdir = maildir_of(args.root, args.user)
    deadline = time.monotonic() + args.timeout
    while True:
        msgs = list_messages(mdir)
        if len(msgs) >= args.count:
            for path in msgs:
                print(path)
            return 0
        if time.monotonic() >= deadline:
            sys.stderr.write(
                "maildir.py: timeout after %gs: %s has %d message(s), expected at least %d\n"
                % (args.timeout, mdir, len(msgs), args.count))
            return 1
        time.sleep(0.1)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def cmd_show(args):
    sys.stdout.buffer.write(read_bytes(args.file))
    sys.stdout.buffer.flush()
    return 0


def header_fields(data):
    """Yield (name, raw_bytes) for each header field at the top of DATA.

    raw_bytes includes folded continuation lines and line terminators. Stops at the first
    line that is not a header field (normally the empty line before the body).
    """
    pos = 0
    n = len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        end = n if end < 0 else end + 1
        line = data[pos:end]
        colon = line.find(b":")
        if colon <= 0 or line[:1] in (b" ", b"\t") or b" " in line[:colon]:
            return
        # Swallow continuation lines (starting with SP or HTAB).
        while end < n and data[end:end + 1] in (b" ", b"\t"):
            nxt = data.find(b"\n", end)
            end = n if nxt < 0 else nxt + 1
        yield line[:colon].strip().lower(), data[pos:end]
        pos = end


def strip_trace(data, host):
    """Remove the leading delivery trace block added by HOST; return the remaining bytes."""
    by = b"by " + host.encode("ascii")
    skip = 0
    for name, raw in header_fields(data):
        if name in DELIVERY_HEADERS:
            pass
        elif name == b"received" and by in b" ".join(raw.split()):
            # Unfolded comparison: Postfix folds "by HOST" onto a continuation line.
            pass
        else:
            break
        skip += len(raw)
    return data[skip:]


def to_crlf(data):
    """LF -> CRLF, leaving existing CRLF pairs alone."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def cmd_strip(args):
    out = strip_trace(read_bytes(args.file), args.by)
    if args.crlf:
        out = to_crlf(out)
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


def cmd_clear(args):
    mdir = maildir_of(args.root, args.user)
    for path in list_messages(mdir):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return 0


def positive_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv):
    p = argparse.ArgumentParser(prog="maildir.py",
                                description="Inspect smtpkit test Maildirs.")
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("wait", help="wait for messages to be delivered")
    w.add_argument("root", metavar="MAILDIR_ROOT")
    w.add_argument("user", metavar="USER")
    w.add_argument("--count", type=positive_int, default=1)
    w.add_argument("--timeout", type=float, default=15.0)
    w.set_defaults(func=cmd_wait)

    s = sub.add_parser("show", help="print a message as delivered")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(func=cmd_show)

    t = sub.add_parser("strip", help="print a message without delivery trace headers")
    t.add_argument("file", metavar="FILE")
    t.add_argument("--crlf", action="store_true", help="output CRLF line endings")
    t.add_argument("--by", default=DEFAULT_HOST, metavar="HOST",
                   help="host name in the Received headers to strip (default %(default)s)")
    t.set_defaults(func=cmd_strip)

    c = sub.add_parser("clear", help="delete all messages of a user")
    c.add_argument("root", metavar="MAILDIR_ROOT")
    c.add_argument("user", metavar="USER")
    c.set_defaults(func=cmd_clear)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except OSError as e:
        sys.stderr.write("maildir.py: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
