#!/usr/bin/env bash
# selftest.sh - prove that servers.sh and maildir.py provide the environment the smtpkit
# integration tests rely on, using only independent clients (swaks, openssl s_client, and a
# tiny Mbed TLS probe compiled on the fly when a compiler and libmbedtls-dev are present).
#
#   tests/harness/selftest.sh [DIR]
#
# DIR (absolute, optional) is where the servers run; default: a fresh mktemp directory that is
# removed afterwards unless SELFTEST_KEEP=1. Servers are always stopped on exit.
# Exit status: 0 if every check passed, 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVERS=$HERE/servers.sh
# Debian's interpreter explicitly: a pyenv python3 may come first in PATH.
MAILDIR=(/usr/bin/python3 "$HERE/maildir.py")

FAILS=0
CHECKS=0
CREATED_DIR=
DIR=${1:-}

if [[ -z $DIR ]]; then
    # mktemp -d gives 0700; servers.sh makes DIR itself 0755, and /tmp is world-traversable.
    DIR=$(mktemp -d /tmp/smtpkit-selftest.XXXXXX)
    CREATED_DIR=$DIR
fi
[[ $DIR == /* ]] || { echo "selftest: DIR must be absolute" >&2; exit 2; }
LOGS=$DIR/selftest-logs

cleanup() {
    local rc=$?
    "$SERVERS" stop "$DIR" || rc=1
    if [[ -n $CREATED_DIR && ${SELFTEST_KEEP:-0} != 1 && $FAILS -eq 0 && $rc -eq 0 ]]; then
        rm -rf "$CREATED_DIR"
    elif [[ -d $DIR ]]; then
        echo "selftest: files kept in $DIR" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Tiny check framework: every check's full output goes to a log file that is shown on failure.

slug() { tr -c 'A-Za-z0-9' '_' <<<"$1" | cut -c1-60; }

report() {
    local ok=$1 name=$2 log=$3
    CHECKS=$((CHECKS + 1))
    if ((ok)); then
        printf 'ok   %2d - %s\n' "$CHECKS" "$name"
    else
        FAILS=$((FAILS + 1))
        printf 'FAIL %2d - %s\n' "$CHECKS" "$name"
        sed 's/^/    | /' "$log" | tail -n 40
    fi
}

# expect_ok NAME CMD...: CMD must exit 0.
expect_ok() {
    local name=$1 log
    shift
    log=$LOGS/$(slug "$name").log
    if "$@" >"$log" 2>&1; then report 1 "$name" "$log"; else report 0 "$name" "$log"; fi
}

# expect_fail NAME CMD...: CMD must exit non-zero.
expect_fail() {
    local name=$1 log
    shift
    log=$LOGS/$(slug "$name").log
    if "$@" >"$log" 2>&1; then report 0 "$name" "$log"; else report 1 "$name" "$log"; fi
}

# expect_output NAME ERE CMD...: CMD's output (exit status ignored) must match ERE.
expect_output() {
    local name=$1 re=$2 log
    shift 2
    log=$LOGS/$(slug "$name").log
    "$@" >"$log" 2>&1 || true
    if grep -Eq -- "$re" "$log"; then report 1 "$name" "$log"; else
        echo "(expected output matching: $re)" >>"$log"
        report 0 "$name" "$log"
    fi
}

# expect_no_output NAME ERE CMD...: CMD's output must NOT match ERE (and CMD must exit 0).
expect_no_output() {
    local name=$1 re=$2 log
    shift 2
    log=$LOGS/$(slug "$name").log
    if "$@" >"$log" 2>&1 && ! grep -Eq -- "$re" "$log"; then report 1 "$name" "$log"; else
        echo "(output must not match: $re)" >>"$log"
        report 0 "$name" "$log"
    fi
}

# ---------------------------------------------------------------------------------------------
# Client wrappers

# swaks with the settings every check shares. --timeout keeps a broken server from hanging us.
sw() {
    swaks --server 127.0.0.1 --helo selftest.invalid --from sender@client.invalid \
        --timeout 10 "$@"
}

# Authenticated submission: STARTTLS with chain verification against the test CA, AUTH $1.
sw_submit() {
    local mech=$1
    shift
    sw --port "$SMTPKIT_PORT_SUBMISSION" --tls --tls-verify --tls-ca-path "$CA_FILE" \
        -a "$mech" --auth-user "$SMTPKIT_TEST_USER" --auth-password "$SMTPKIT_TEST_PASSWORD" "$@"
}

# openssl s_client STARTTLS handshake; remaining args are verification options.
tls_starttls() {
    local addr=$1 port=$2
    shift 2
    openssl s_client -starttls smtp -connect "$addr:$port" -verify_return_error "$@" </dev/null
}

tls_implicit() {
    local addr=$1 port=$2
    shift 2
    openssl s_client -connect "$addr:$port" -verify_return_error "$@" </dev/null
}

# Raw SMTP dialogue to check things swaks cannot express (bare <LF> in DATA).
bare_lf_dialogue() {
    /usr/bin/python3 - "$SMTPKIT_PORT_PLAIN" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        sys.stdout.write(line.decode("ascii", "replace"))
        if line[3:4] != b"-":
            return line
reply()
for cmd in (b"EHLO selftest.invalid", b"MAIL FROM:<sender@client.invalid>",
            b"RCPT TO:<dave@example.test>", b"DATA"):
    s.sendall(cmd + b"\r\n")
    reply()
s.sendall(b"Subject: bare LF\r\n\r\nline one\nline two\r\n.\r\n")
reply()
s.sendall(b"QUIT\r\n")
reply()
EOF
}

# Mbed TLS probe: the library smtpkit links against must accept the test PKI as-is.
build_mbedtls_probe() {
    local src=$DIR/mbedtls-probe.c
    command -v cc >/dev/null && [[ -f /usr/include/mbedtls/ssl.h ]] || return 1
    cat >"$src" <<'EOF'
/* Mbed TLS SMTP TLS probe: probe implicit|starttls HOST PORT CA SERVERNAME (CA: file or dir).
 * Exit 0 after a verified handshake and a 2xx reply. */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int plain_reply(mbedtls_net_context *net)
{
    char line[512];
    size_t n = 0;
    for (;;) {
        unsigned char c;
        if (mbedtls_net_recv(net, &c, 1) <= 0) return -1;
        if (n < sizeof line - 1) line[n++] = (char)c;
        if (c != '\n') continue;
        line[n] = '\0';
        if (n >= 4 && line[3] == ' ') return atoi(line);
        n = 0;
    }
}

static void say(mbedtls_net_context *net, const char *s)
{
    mbedtls_net_send(net, (const unsigned char *)s, strlen(s));
}

int main(int argc, char **argv)
{
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    struct stat st;
    unsigned char buf[512];
    int ret, starttls;

    if (argc != 6) return 2;
    starttls = strcmp(argv[1], "starttls") == 0;
    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0) != 0) return 3;
    if (stat(argv[4], &st) == 0 && S_ISDIR(st.st_mode))
        ret = mbedtls_x509_crt_parse_path(&ca, argv[4]);
    else
        ret = mbedtls_x509_crt_parse_file(&ca, argv[4]);
    if (ret != 0) {
        fprintf(stderr, "CA parse failed: %d\n", ret);
        return 3;
    }
    if (mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return 3;
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    if (mbedtls_ssl_setup(&ssl, &conf) != 0 || mbedtls_ssl_set_hostname(&ssl, argv[5]) != 0)
        return 3;
    if (mbedtls_net_connect(&net, argv[2], argv[3], MBEDTLS_NET_PROTO_TCP) != 0) return 3;
    if (starttls) {
        if (plain_reply(&net) != 220) return 4;
        say(&net, "EHLO probe.invalid\r\n");
        if (plain_reply(&net) != 250) return 4;
        say(&net, "STARTTLS\r\n");
        if (plain_reply(&net) != 220) return 4;
    }
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) != 0) {
        char info[512] = "";
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        mbedtls_x509_crt_verify_info(info, sizeof info, "  ", mbedtls_ssl_get_verify_result(&ssl));
        fprintf(stderr, "handshake failed: -0x%04x\n%s", (unsigned)-ret, info);
        return 1;
    }
    printf("%s %s\n", mbedtls_ssl_get_version(&ssl), mbedtls_ssl_get_ciphersuite(&ssl));
    if (starttls) mbedtls_ssl_write(&ssl, (const unsigned char *)"EHLO probe.invalid\r\n", 20);
    ret = mbedtls_ssl_read(&ssl, buf, sizeof buf - 1);
    if (ret <= 0) return 5;
    buf[ret] = '\0';
    printf("%.*s", (int)strcspn((char *)buf, "\n") + 1, (char *)buf);
    mbedtls_ssl_write(&ssl, (const unsigned char *)"QUIT\r\n", 6);
    mbedtls_ssl_close_notify(&ssl);
    mbedtls_net_free(&net);
    return buf[0] == '2' ? 0 : 5;
}
EOF
    cc -std=c99 -D_DEFAULT_SOURCE -o "$DIR/mbedtls-probe" "$src" \
        -lmbedtls -lmbedx509 -lmbedcrypto >"$LOGS/mbedtls-probe-build.log" 2>&1
}

# ---------------------------------------------------------------------------------------------
# Process / socket inspection

# All pids of this instance: Postfix daemons carry MAIL_CONFIG=$DIR/postfix in their
# environment; Dovecot's processes are the master from its pid file and its children.
instance_pids() {
    local envf pid dpid stat
    for envf in /proc/[0-9]*/environ; do
        pid=${envf#/proc/}
        pid=${pid%/environ}
        if tr '\0' '\n' 2>/dev/null <"$envf" | grep -qxF "MAIL_CONFIG=$DIR/postfix"; then
            echo "$pid"
        fi
    done
    dpid=$(tr -dc '0-9' 2>/dev/null <"$DIR/dovecot/run/master.pid" || true)
    [[ -n $dpid ]] || return 0
    for stat in /proc/[0-9]*/stat; do
        stat=$(cat "$stat" 2>/dev/null) || continue
        pid=${stat%% *}
        stat=${stat##*) }
        # Skip zombies: they are dead and only waiting for init to reap them.
        [[ ${stat:0:1} == Z ]] && continue
        read -r _ ppid _ <<<"$stat"
        [[ $pid == "$dpid" || $ppid == "$dpid" ]] && echo "$pid"
    done
    return 0
}

live_pids() {
    local pid stat
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        [[ ${stat:0:1} == Z ]] || echo "$pid"
    done
}

# Every TCP/UDP listener owned by one of our processes must be bound to loopback.
listeners_loopback_only() {
    local pids re bad
    pids=$(instance_pids | sort -u | paste -sd'|')
    [[ -n $pids ]] || { echo "no instance processes found"; return 1; }
    re="pid=($pids),"
    ss -ltunpH | grep -E "$re" || true
    bad=$(ss -ltunpH | grep -E "$re" | awk '{print $5}' \
        | grep -Ev '^(127\.[0-9.]+|\[::1\]):[0-9]+$' || true)
    [[ -z $bad ]] || { echo "non-loopback listeners: $bad"; return 1; }
}

# No listener at all on our ports (after stop).
ports_closed() {
    local port
    for port in "${ALL_PORTS[@]}"; do
        if ss -ltnH "( sport = :$port )" | grep -q .; then
            echo "port $port still listening"
            return 1
        fi
    done
}

no_instance_processes() {
    local left
    left=$(instance_pids | sort -u)
    [[ -z $left ]] || { ps -o pid,ppid,stat,args -p "$(paste -sd, <<<"$left")"; return 1; }
    # The master pids we saw while running must be gone too (zombies excepted).
    left=$(live_pids "${MASTER_PIDS[@]}")
    [[ -z $left ]] || { ps -o pid,ppid,stat,args -p "$(paste -sd, <<<"$left")"; return 1; }
}

# ---------------------------------------------------------------------------------------------
# Message fixtures

# The exact bytes a client sends (CRLF). The dot-line exercises dot-stuffing, the folded
# header checks that maildir.py strip only removes the server's own trace headers.
write_fixture() {
    printf '%s\r\n' \
        'From: Sender <sender@client.invalid>' \
        'To: Carol <carol@example.test>' \
        'Subject: byte-exact round trip' \
        'X-Folded: first part' \
        '  second part' \
        'Date: Thu, 01 Jan 2026 00:00:00 +0000' \
        'Message-ID: <selftest.1@client.invalid>' \
        '' \
        'Body line 1' \
        '.leading dot survives dot-stuffing' \
        '' \
        'Last line' >"$1"
}

# Deliver FILE's bytes to carol over the PLAIN port, then compare what was stored.
round_trip() {
    local fixture=$1 got
    # Python's smtplib sends the bytes as they are (plus dot-stuffing and the terminating
    # "." line); swaks would append an extra CRLF after the last line.
    /usr/bin/python3 - "$SMTPKIT_PORT_PLAIN" "$fixture" <<'EOF2'
import smtplib, sys
with open(sys.argv[2], "rb") as f:
    data = f.read()
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), "selftest.invalid", timeout=10) as s:
    s.sendmail("sender@client.invalid", ["carol@example.test"], data)
EOF2
    got=$("${MAILDIR[@]}" wait "$SMTPKIT_MAILDIR_ROOT" carol --count 1) || return 1
    "${MAILDIR[@]}" strip --crlf "$got" >"$DIR/roundtrip.out"
    cmp "$fixture" "$DIR/roundtrip.out"
}

# ---------------------------------------------------------------------------------------------
# main

mkdir -p "$DIR"
# The servers.sh start below must not wipe our logs: it only removes what it creates.
mkdir -p "$LOGS"

echo "# servers in $DIR"
expect_ok "servers.sh start" "$SERVERS" start "$DIR"
# Starting again on a running DIR must stop the old instance and come back up.
expect_ok "servers.sh start again (idempotent restart)" "$SERVERS" start "$DIR"
if [[ ! -f $DIR/env ]]; then
    echo "servers did not start; giving up" >&2
    exit 1
fi
# shellcheck source=/dev/null
source "$DIR/env"
CERT_PORTS=("$SMTPKIT_PORT_CHAIN" "$SMTPKIT_PORT_CHAIN_TLS" "$SMTPKIT_PORT_EXPIRED"
    "$SMTPKIT_PORT_FUTURE" "$SMTPKIT_PORT_SELFSIGNED" "$SMTPKIT_PORT_UNKNOWN"
    "$SMTPKIT_PORT_ANCHOR_SOON" "$SMTPKIT_PORT_ANCHOR_EXPIRED")
ALL_PORTS=("$SMTPKIT_PORT_SUBMISSION" "$SMTPKIT_PORT_SMTPS" "$SMTPKIT_PORT_PLAIN"
    "$SMTPKIT_PORT_WRONGHOST" "$SMTPKIT_PORT_PLAINAUTH" "${CERT_PORTS[@]}")
MASTER_PIDS=("$(tr -dc '0-9' <"$DIR/spool/pid/master.pid")"
    "$(tr -dc '0-9' <"$DIR/dovecot/run/master.pid")")

echo "# environment file"
# shellcheck disable=SC2016 # the inner bash expands the exported variables.
expect_ok "env exports every documented variable" bash -c '
    for v in SMTPKIT_TEST_DIR CA_FILE CA_DER CA_DIR OTHER_CA_FILE SMTPKIT_PORT_SUBMISSION \
             SMTPKIT_PORT_SMTPS SMTPKIT_PORT_PLAIN SMTPKIT_PORT_WRONGHOST \
             SMTPKIT_PORT_PLAINAUTH SMTPKIT_TEST_USER SMTPKIT_TEST_PASSWORD \
             SMTPKIT_MAILDIR_ROOT SMTPKIT_PORT_CERTBASE SMTPKIT_PORT_CHAIN \
             SMTPKIT_PORT_CHAIN_TLS SMTPKIT_PORT_EXPIRED SMTPKIT_PORT_FUTURE \
             SMTPKIT_PORT_SELFSIGNED SMTPKIT_PORT_UNKNOWN SMTPKIT_PORT_ANCHOR_SOON \
             SMTPKIT_PORT_ANCHOR_EXPIRED CHAIN_ROOT_FILE CHAIN_ROOT_DER CHAIN_CA_DIR \
             CHAIN_INTERMEDIATE_FILE CHAIN_LEAF_FILE EXPIRED_LEAF_FILE FUTURE_LEAF_FILE \
             SELFSIGNED_FILE UNKNOWN_LEAF_FILE SOON_ROOT_FILE SOON_LEAF_FILE \
             EXPIRED_ROOT_FILE EXPIRED_ROOT_LEAF_FILE; do
        [[ -n ${!v:-} ]] || { echo "missing $v"; exit 1; }
    done
    for v in CHAIN_ROOT_FILE CHAIN_ROOT_DER CHAIN_INTERMEDIATE_FILE CHAIN_LEAF_FILE \
             EXPIRED_LEAF_FILE FUTURE_LEAF_FILE SELFSIGNED_FILE UNKNOWN_LEAF_FILE \
             SOON_ROOT_FILE SOON_LEAF_FILE EXPIRED_ROOT_FILE EXPIRED_ROOT_LEAF_FILE; do
        runuser -u nobody -- test -r "${!v}" || { echo "$v not world-readable"; exit 1; }
    done
    i=0
    for v in CHAIN CHAIN_TLS EXPIRED FUTURE SELFSIGNED UNKNOWN ANCHOR_SOON ANCHOR_EXPIRED; do
        v=SMTPKIT_PORT_$v
        [[ ${!v} == $((SMTPKIT_PORT_CERTBASE + i)) ]] \
            || { echo "$v is ${!v}, not CERTBASE+$i"; exit 1; }
        i=$((i + 1))
    done
    [[ $SMTPKIT_TEST_PASSWORD == "correct horse" ]]'
# shellcheck disable=SC2016
expect_ok "CHAIN_ROOT_DER is the DER form of CHAIN_ROOT_FILE" \
    bash -c 'cmp <(openssl x509 -in "$CHAIN_ROOT_FILE" -outform DER) "$CHAIN_ROOT_DER"'
# shellcheck disable=SC2016
expect_ok "CHAIN_CA_DIR holds only the chain root, under its subject hash" \
    bash -c 'h=$(openssl x509 -in "$CHAIN_ROOT_FILE" -noout -hash) &&
        [[ $(ls "$CHAIN_CA_DIR") == "$h.0" ]] && cmp "$CHAIN_ROOT_FILE" "$CHAIN_CA_DIR/$h.0"'
# shellcheck disable=SC2016
expect_ok "CA_DER is the DER form of CA_FILE" \
    bash -c 'cmp <(openssl x509 -in "$CA_FILE" -outform DER) "$CA_DER"'
# shellcheck disable=SC2016
expect_ok "CA_DIR holds the CA under its subject hash" \
    bash -c 'cmp "$CA_FILE" "$CA_DIR/$(openssl x509 -in "$CA_FILE" -noout -hash).0"'
expect_fail "server certificate does not verify against OTHER_CA_FILE" \
    openssl verify -CAfile "$OTHER_CA_FILE" "$SMTPKIT_TEST_DIR/ca/server.pem"

echo "# test certificates"
# not_after FILE: notAfter as seconds since the epoch.
not_after() { date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
not_before() { date -u -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s; }
# days_left FILE MIN MAX: FILE's notAfter is between MIN and MAX days from now.
days_left() {
    local left=$((($(not_after "$1") - $(date +%s)) / 86400))
    echo "${1##*/}: $left days left"
    ((left >= $2 && left <= $3))
}
# validity FILE FROM TO: notBefore and notAfter exactly (dates as `date -d` takes them).
validity() {
    openssl x509 -in "$1" -noout -startdate -enddate
    [[ $(not_before "$1") == $(date -u -d "$2" +%s) ]] &&
        [[ $(not_after "$1") == $(date -u -d "$3" +%s) ]]
}
# leaf_profile FILE: the server extensions Mbed TLS 2.28 and the tests rely on.
leaf_profile() {
    local ext
    ext=$(openssl x509 -in "$1" -noout \
        -ext basicConstraints,keyUsage,extendedKeyUsage,subjectAltName)
    echo "$ext"
    grep -q 'CA:FALSE' <<<"$ext" && grep -q 'Digital Signature' <<<"$ext" &&
        grep -q 'TLS Web Server Authentication' <<<"$ext" &&
        grep -q 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1' <<<"$ext"
}
issuer_profile() {
    local ext
    ext=$(openssl x509 -in "$1" -noout -ext basicConstraints,keyUsage)
    echo "$ext"
    grep -q 'CA:TRUE' <<<"$ext" && grep -q 'Certificate Sign' <<<"$ext"
}
expect_ok "test CA valid ~3650 days" days_left "$CA_FILE" 3640 3650
expect_ok "server leaf valid ~365 days" days_left "$SMTPKIT_TEST_DIR/ca/server.pem" 360 365
expect_ok "chain root valid ~3650 days" days_left "$CHAIN_ROOT_FILE" 3640 3650
expect_ok "chain intermediate valid ~1825 days" days_left "$CHAIN_INTERMEDIATE_FILE" 1820 1825
expect_ok "chain leaf valid ~365 days" days_left "$CHAIN_LEAF_FILE" 360 365
expect_ok "soon root expires in 9-10 days" days_left "$SOON_ROOT_FILE" 9 10
expect_ok "expired leaf is 2020-01-01..2021-01-01" \
    validity "$EXPIRED_LEAF_FILE" 2020-01-01T00:00:00Z 2021-01-01T00:00:00Z
expect_ok "future leaf starts 2040-01-01" \
    validity "$FUTURE_LEAF_FILE" 2040-01-01T00:00:00Z 2041-01-01T00:00:00Z
expect_ok "expired root ended 2021-01-01" \
    validity "$EXPIRED_ROOT_FILE" 2011-01-01T00:00:00Z 2021-01-01T00:00:00Z
for f in "$CHAIN_LEAF_FILE" "$EXPIRED_LEAF_FILE" "$FUTURE_LEAF_FILE" "$SELFSIGNED_FILE" \
    "$UNKNOWN_LEAF_FILE" "$SOON_LEAF_FILE" "$EXPIRED_ROOT_LEAF_FILE"; do
    expect_ok "${f##*/} has the localhost server profile" leaf_profile "$f"
done
for f in "$CHAIN_ROOT_FILE" "$CHAIN_INTERMEDIATE_FILE" "$SOON_ROOT_FILE" "$EXPIRED_ROOT_FILE" \
    "$OTHER_CA_FILE"; do
    expect_ok "${f##*/} is an issuer (CA:TRUE, keyCertSign)" issuer_profile "$f"
done
expect_ok "chain leaf verifies via the intermediate against the chain root" \
    openssl verify -CAfile "$CHAIN_ROOT_FILE" -untrusted "$CHAIN_INTERMEDIATE_FILE" \
    -purpose sslserver "$CHAIN_LEAF_FILE"
expect_fail "chain leaf does not verify without the intermediate" \
    openssl verify -CAfile "$CHAIN_ROOT_FILE" "$CHAIN_LEAF_FILE"
expect_ok "selfsigned leaf is its own issuer" \
    openssl verify -CAfile "$SELFSIGNED_FILE" -partial_chain "$SELFSIGNED_FILE"

echo "# TLS with openssl s_client"
expect_ok "SUBMISSION chain + hostname localhost verify (CA_FILE)" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_SUBMISSION" -CAfile "$CA_FILE" \
    -verify_hostname localhost
expect_ok "SUBMISSION verifies with -CApath CA_DIR" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_SUBMISSION" -CApath "$CA_DIR" \
    -verify_hostname localhost
expect_ok "SUBMISSION verifies IP SAN 127.0.0.1" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_SUBMISSION" -CAfile "$CA_FILE" -verify_ip 127.0.0.1
expect_ok "SMTPS (implicit TLS) chain + hostname verify" \
    tls_implicit 127.0.0.1 "$SMTPKIT_PORT_SMTPS" -CAfile "$CA_FILE" -verify_hostname localhost
expect_fail "SUBMISSION is untrusted with OTHER_CA_FILE" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_SUBMISSION" -CAfile "$OTHER_CA_FILE" \
    -verify_hostname localhost
expect_fail "WRONGHOST fails hostname verification for localhost" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_WRONGHOST" -CAfile "$CA_FILE" \
    -verify_hostname localhost
expect_ok "WRONGHOST chain itself is valid (wrong.example)" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_WRONGHOST" -CAfile "$CA_FILE" \
    -verify_hostname wrong.example
if [[ ${SMTPKIT_HAVE_IPV6:-0} == 1 ]]; then
    expect_ok "SUBMISSION over [::1] verifies IP SAN ::1" \
        tls_starttls '[::1]' "$SMTPKIT_PORT_SUBMISSION" -CAfile "$CA_FILE" -verify_ip ::1
fi

# sent_chain PORT [-starttls smtp]: the subjects of the certificates the server sends.
sent_chain() {
    local port=$1
    shift
    openssl s_client "$@" -connect "127.0.0.1:$port" -showcerts </dev/null 2>/dev/null \
        | sed -n 's/^ *\([0-9]\) s:/\1 /p'
}
# chain_is PORT STARTTLS|TLS SUBJECT...: the server sends exactly these certificates, in order.
chain_is() {
    local port=$1 mode=$2 got want
    shift 2
    if [[ $mode == STARTTLS ]]; then got=$(sent_chain "$port" -starttls smtp)
    else got=$(sent_chain "$port"); fi
    want=$(for ((i = 1; i <= $#; i++)); do printf '%d %s\n' $((i - 1)) "${!i}"; done)
    printf 'got:\n%s\nwant:\n%s\n' "$got" "$want"
    [[ $got == "$want" ]]
}
LEAF="O = smtpkit test, CN = localhost"
INTER="O = smtpkit test, CN = smtpkit Test Intermediate CA"
expect_ok "CHAIN sends leaf + intermediate, not the root" \
    chain_is "$SMTPKIT_PORT_CHAIN" STARTTLS "$LEAF" "$INTER"
expect_ok "CHAIN_TLS sends leaf + intermediate (implicit TLS)" \
    chain_is "$SMTPKIT_PORT_CHAIN_TLS" TLS "$LEAF" "$INTER"
for p in EXPIRED FUTURE SELFSIGNED UNKNOWN ANCHOR_SOON ANCHOR_EXPIRED; do
    v=SMTPKIT_PORT_$p
    expect_ok "$p sends one localhost certificate" chain_is "${!v}" STARTTLS "$LEAF"
done
expect_ok "CHAIN verifies against CHAIN_ROOT_FILE" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_CHAIN" -CAfile "$CHAIN_ROOT_FILE" \
    -verify_hostname localhost
expect_ok "CHAIN verifies with -CApath CHAIN_CA_DIR" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_CHAIN" -CApath "$CHAIN_CA_DIR" \
    -verify_hostname localhost
expect_ok "CHAIN_TLS verifies against CHAIN_ROOT_FILE" \
    tls_implicit 127.0.0.1 "$SMTPKIT_PORT_CHAIN_TLS" -CAfile "$CHAIN_ROOT_FILE" \
    -verify_hostname localhost
expect_fail "CHAIN is untrusted with the test CA" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_CHAIN" -CAfile "$CA_FILE"
expect_output "EXPIRED: certificate has expired" 'num=10:certificate has expired' \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_EXPIRED" -CAfile "$CA_FILE"
expect_output "FUTURE: certificate is not yet valid" 'num=9:certificate is not yet valid' \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_FUTURE" -CAfile "$CA_FILE"
expect_output "SELFSIGNED: self-signed certificate" 'num=18:self-signed certificate' \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_SELFSIGNED" -CAfile "$CA_FILE"
expect_output "UNKNOWN: no issuer in the test CA" 'num=20:unable to get local issuer' \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_UNKNOWN" -CAfile "$CA_FILE"
expect_ok "UNKNOWN verifies against OTHER_CA_FILE" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_UNKNOWN" -CAfile "$OTHER_CA_FILE" \
    -verify_hostname localhost
expect_ok "ANCHOR_SOON verifies against SOON_ROOT_FILE" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_ANCHOR_SOON" -CAfile "$SOON_ROOT_FILE" \
    -verify_hostname localhost
expect_output "ANCHOR_EXPIRED: the root has expired" 'num=10:certificate has expired' \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_ANCHOR_EXPIRED" -CAfile "$EXPIRED_ROOT_FILE"
expect_ok "ANCHOR_EXPIRED verifies when dates are not checked" \
    tls_starttls 127.0.0.1 "$SMTPKIT_PORT_ANCHOR_EXPIRED" -CAfile "$EXPIRED_ROOT_FILE" \
    -verify_hostname localhost -no_check_time

echo "# TLS with Mbed TLS (the library smtpkit uses)"
if build_mbedtls_probe; then
    P=$DIR/mbedtls-probe
    expect_ok "mbedtls: SMTPS verifies with CA_FILE, servername localhost" \
        "$P" implicit 127.0.0.1 "$SMTPKIT_PORT_SMTPS" "$CA_FILE" localhost
    expect_ok "mbedtls: SMTPS verifies with CA_DER" \
        "$P" implicit 127.0.0.1 "$SMTPKIT_PORT_SMTPS" "$CA_DER" localhost
    expect_ok "mbedtls: SMTPS verifies with CA_DIR" \
        "$P" implicit 127.0.0.1 "$SMTPKIT_PORT_SMTPS" "$CA_DIR" localhost
    expect_ok "mbedtls: SUBMISSION STARTTLS verifies" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_SUBMISSION" "$CA_FILE" localhost
    expect_fail "mbedtls: OTHER_CA_FILE is rejected" \
        "$P" implicit 127.0.0.1 "$SMTPKIT_PORT_SMTPS" "$OTHER_CA_FILE" localhost
    expect_fail "mbedtls: WRONGHOST is rejected for localhost" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_WRONGHOST" "$CA_FILE" localhost
    if [[ ${SMTPKIT_HAVE_IPV6:-0} == 1 ]]; then
        expect_ok "mbedtls: SMTPS over ::1 (servername localhost)" \
            "$P" implicit ::1 "$SMTPKIT_PORT_SMTPS" "$CA_FILE" localhost
    fi
    expect_ok "mbedtls: CHAIN verifies with CHAIN_ROOT_FILE (intermediate sent)" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_CHAIN" "$CHAIN_ROOT_FILE" localhost
    expect_ok "mbedtls: CHAIN verifies with CHAIN_ROOT_DER" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_CHAIN" "$CHAIN_ROOT_DER" localhost
    expect_ok "mbedtls: CHAIN verifies with CHAIN_CA_DIR" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_CHAIN" "$CHAIN_CA_DIR" localhost
    expect_ok "mbedtls: CHAIN_TLS verifies with CHAIN_ROOT_FILE" \
        "$P" implicit 127.0.0.1 "$SMTPKIT_PORT_CHAIN_TLS" "$CHAIN_ROOT_FILE" localhost
    expect_ok "mbedtls: ANCHOR_SOON verifies with SOON_ROOT_FILE" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_ANCHOR_SOON" "$SOON_ROOT_FILE" localhost
    expect_ok "mbedtls: UNKNOWN verifies with OTHER_CA_FILE" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_UNKNOWN" "$OTHER_CA_FILE" localhost
    expect_output "mbedtls: EXPIRED is rejected as expired" 'validity has expired' \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_EXPIRED" "$CA_FILE" localhost
    expect_output "mbedtls: FUTURE is rejected as not yet valid" 'validity starts in the future' \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_FUTURE" "$CA_FILE" localhost
    expect_output "mbedtls: SELFSIGNED is rejected as not trusted" 'not correctly signed' \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_SELFSIGNED" "$CA_FILE" localhost
    expect_output "mbedtls: UNKNOWN is rejected as not trusted" 'not correctly signed' \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_UNKNOWN" "$CA_FILE" localhost
    expect_fail "mbedtls: ANCHOR_EXPIRED is rejected" \
        "$P" starttls 127.0.0.1 "$SMTPKIT_PORT_ANCHOR_EXPIRED" "$EXPIRED_ROOT_FILE" localhost
    # Informational: Mbed TLS 2.x matches only dNSName/CN, never iPAddress SANs.
    if "$P" implicit 127.0.0.1 "$SMTPKIT_PORT_SMTPS" "$CA_FILE" 127.0.0.1 >/dev/null 2>&1
    then echo "note: this Mbed TLS matches IP SANs (servername 127.0.0.1 verifies)"
    else echo "note: this Mbed TLS cannot verify servername 127.0.0.1 (no IP SAN support);" \
        "clients must verify against 'localhost'"
    fi
else
    echo "note: cc or libmbedtls-dev missing, Mbed TLS probe skipped"
fi

echo "# SMTP behaviour with swaks"
expect_ok "SUBMISSION STARTTLS (verified) + AUTH PLAIN delivers to alice" \
    sw_submit PLAIN --to alice@example.test --header "Subject: selftest submission plain"
expect_ok "SUBMISSION STARTTLS + AUTH LOGIN" \
    sw_submit LOGIN --to alice@example.test --header "Subject: selftest submission login"
expect_ok "SUBMISSION STARTTLS + AUTH CRAM-MD5" \
    sw_submit CRAM-MD5 --to alice@example.test --header "Subject: selftest cram-md5"
expect_ok "SMTPS implicit TLS + AUTH delivers to alice" \
    sw --port "$SMTPKIT_PORT_SMTPS" --tlsc --tls-verify --tls-ca-path "$CA_FILE" \
    -a PLAIN --auth-user "$SMTPKIT_TEST_USER" --auth-password "$SMTPKIT_TEST_PASSWORD" \
    --to alice@example.test --header "Subject: selftest smtps"
expect_ok "CHAIN STARTTLS (verified against the chain root) + AUTH delivers to alice" \
    sw --port "$SMTPKIT_PORT_CHAIN" --tls --tls-verify --tls-ca-path "$CHAIN_ROOT_FILE" \
    -a PLAIN --auth-user "$SMTPKIT_TEST_USER" --auth-password "$SMTPKIT_TEST_PASSWORD" \
    --to alice@example.test --header "Subject: selftest chain"
expect_ok "CHAIN_TLS implicit TLS + AUTH delivers to alice" \
    sw --port "$SMTPKIT_PORT_CHAIN_TLS" --tlsc --tls-verify --tls-ca-path "$CHAIN_ROOT_FILE" \
    -a PLAIN --auth-user "$SMTPKIT_TEST_USER" --auth-password "$SMTPKIT_TEST_PASSWORD" \
    --to alice@example.test --header "Subject: selftest chain tls"
for p in "${CERT_PORTS[@]}"; do
    [[ $p == "$SMTPKIT_PORT_CHAIN_TLS" ]] && continue
    expect_no_output "port $p offers no AUTH before STARTTLS" '250[- ]AUTH' \
        sw --port "$p" --quit-after EHLO
    expect_output "port $p requires STARTTLS for mail (530)" '^<\*\* +530 ' \
        sw --port "$p" --to alice@example.test
done
expect_output "wrong password is refused with 535" '^<~\* +535 ' \
    sw_submit PLAIN --to alice@example.test --auth-password 'wrong horse'
expect_output "swaks rejects SUBMISSION certificate with OTHER_CA_FILE" \
    'certificate verify failed' \
    sw --port "$SMTPKIT_PORT_SUBMISSION" --tls --tls-verify --tls-ca-path "$OTHER_CA_FILE" \
    --quit-after TLS
expect_output "SUBMISSION without AUTH: recipient refused" '^<~\* +554 ' \
    sw --port "$SMTPKIT_PORT_SUBMISSION" --tls --to alice@example.test
expect_output "SUBMISSION before STARTTLS: MAIL refused with 530" '^<\*\* +530 ' \
    sw --port "$SMTPKIT_PORT_SUBMISSION" --to alice@example.test
expect_no_output "SUBMISSION offers no AUTH before STARTTLS" '250[- ]AUTH' \
    sw --port "$SMTPKIT_PORT_SUBMISSION" --quit-after EHLO
expect_output "SUBMISSION offers STARTTLS" '250[- ]STARTTLS' \
    sw --port "$SMTPKIT_PORT_SUBMISSION" --quit-after EHLO
expect_no_output "PLAIN offers no STARTTLS" 'STARTTLS' \
    sw --port "$SMTPKIT_PORT_PLAIN" --quit-after EHLO
expect_no_output "PLAIN offers no AUTH" '250[- ]AUTH' \
    sw --port "$SMTPKIT_PORT_PLAIN" --quit-after EHLO
expect_ok "PLAIN accepts mail for bob without AUTH" \
    sw --port "$SMTPKIT_PORT_PLAIN" --to bob@example.test --header "Subject: selftest plain"
expect_output "PLAIN refuses unknown user with 550" '^<\*\* +550 ' \
    sw --port "$SMTPKIT_PORT_PLAIN" --to nobody-here@example.test
expect_output "PLAIN rejects bare <LF> in DATA" '^550 5\.5\.2 .*bare <LF>' bare_lf_dialogue
expect_output "PLAINAUTH offers AUTH without TLS" '250[- ]AUTH .*PLAIN' \
    sw --port "$SMTPKIT_PORT_PLAINAUTH" --quit-after EHLO
expect_no_output "PLAINAUTH offers no STARTTLS" 'STARTTLS' \
    sw --port "$SMTPKIT_PORT_PLAINAUTH" --quit-after EHLO
expect_ok "PLAINAUTH accepts AUTH PLAIN in plaintext" \
    sw --port "$SMTPKIT_PORT_PLAINAUTH" -a PLAIN --auth-user "$SMTPKIT_TEST_USER" \
    --auth-password "$SMTPKIT_TEST_PASSWORD" --to alice@example.test \
    --header "Subject: selftest plainauth"

echo "# delivery and maildir.py"
expect_ok "alice received the 7 authenticated messages" \
    "${MAILDIR[@]}" wait "$SMTPKIT_MAILDIR_ROOT" "$SMTPKIT_TEST_USER" --count 7
expect_ok "bob received the PLAIN message" \
    "${MAILDIR[@]}" wait "$SMTPKIT_MAILDIR_ROOT" bob --count 1
write_fixture "$DIR/fixture.eml"
expect_ok "strip --crlf reproduces the client's bytes exactly" round_trip "$DIR/fixture.eml"
# The whole list first: `| head -n 1` would make maildir.py die of EPIPE (fatal with pipefail)
# whenever it prints more than head reads before exiting.
FIRST=$("${MAILDIR[@]}" wait "$SMTPKIT_MAILDIR_ROOT" alice --count 1 --timeout 1)
FIRST=${FIRST%%$'\n'*}
expect_output "show prints the trace headers" '^Received: from ' "${MAILDIR[@]}" show "$FIRST"
expect_no_output "strip removes every trace header" \
    '^(Return-Path|X-Original-To|Delivered-To|Received):' "${MAILDIR[@]}" strip "$FIRST"
echo "--- first message for alice, as delivered ($FIRST):"
"${MAILDIR[@]}" show "$FIRST" | sed 's/^/    /'
echo "---"
expect_ok "clear empties alice's Maildir" "${MAILDIR[@]}" clear "$SMTPKIT_MAILDIR_ROOT" alice
expect_fail "wait times out (exit 1) on an empty Maildir" \
    "${MAILDIR[@]}" wait "$SMTPKIT_MAILDIR_ROOT" alice --timeout 0.5

echo "# isolation and shutdown"
expect_ok "instance listens on loopback only" listeners_loopback_only
expect_ok "servers.sh stop" "$SERVERS" stop "$DIR"
expect_ok "no instance process left after stop" no_instance_processes
expect_ok "no listener left on the test ports" ports_closed
expect_ok "servers.sh stop again is a no-op" "$SERVERS" stop "$DIR"

echo "# $((CHECKS - FAILS))/$CHECKS checks passed"
((FAILS == 0))
