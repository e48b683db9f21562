#!/usr/bin/env bash
# The main job end to end, on a fresh Debian 12 machine as root: install what is needed, build,
# start a real Postfix (STARTTLS on a submission port, SASL through Dovecot) on 127.0.0.1 with
# a CA made on the spot, send a message with `smtpkit send`, and print it as it was delivered.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

dir=$(mktemp -d /tmp/smtpkit-demo.XXXXXX)
trap 'tests/harness/servers.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
tests/harness/servers.sh start "$dir" >/dev/null
. "$dir/env"

echo "== smtpkit send (STARTTLS + AUTH, certificate checked against $CA_FILE)"
printf 'Hello from smtpkit.\n\nThis message went through a real Postfix over TLS.\n' |
    SMTPKIT_PASSWORD="$SMTPKIT_TEST_PASSWORD" build/tools/smtpkit send \
        --server "smtp://localhost:$SMTPKIT_PORT_SUBMISSION" --ca-file "$CA_FILE" \
        --user "$SMTPKIT_TEST_USER" --from "Alice <$SMTPKIT_TEST_USER>" \
        --to bob@example.test --subject "Hello from smtpkit" -v

echo
echo "== the message as delivered to bob's Maildir"
msg=$(/usr/bin/python3 tests/harness/maildir.py wait "$SMTPKIT_MAILDIR_ROOT" bob | tail -n 1)
/usr/bin/python3 tests/harness/maildir.py show "$msg"
