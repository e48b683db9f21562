#!/usr/bin/env bash
# servers.sh - private Postfix + Dovecot (SASL only) on loopback for smtpkit integration tests.
#
#   servers.sh start DIR    generate a test PKI, configs and start both daemons under DIR
#   servers.sh stop DIR     stop the daemons started from DIR (no-op if none are running)
#
# Everything (certificates, configs, queue, Maildirs, logs) lives under DIR so that several
# instances can coexist (with different SMTPKIT_PORT_* values) and nothing in /etc is touched.
# After `start`, `source DIR/env` gives the tests every path, port and credential they need.
#
# Port defaults may be overridden through the environment before `start`:
#   SMTPKIT_PORT_SUBMISSION (10587)  STARTTLS required, AUTH required
#   SMTPKIT_PORT_SMTPS      (10465)  implicit TLS, AUTH required
#   SMTPKIT_PORT_PLAIN      (10025)  no TLS, no AUTH, accepts mail for example.test from loopback
#   SMTPKIT_PORT_WRONGHOST  (10588)  as SUBMISSION, but certificate only for wrong.example
#   SMTPKIT_PORT_PLAINAUTH  (10026)  no TLS, AUTH offered in plaintext
#   SMTPKIT_IPV6 (auto|yes|no)       also listen on [::1] (auto: if ::1 can be bound)
#   SMTPKIT_PORT_CERTBASE   (10600)  first of 8 ports for the certificate tests, all with TLS
#                                    and AUTH required like SUBMISSION (STARTTLS unless said):
#     +0 CHAIN           leaf (localhost) + intermediate; the chain root is not sent
#     +1 CHAIN_TLS       the same chain, implicit TLS
#     +2 EXPIRED         leaf valid 2020-01-01..2021-01-01, signed by the test CA
#     +3 FUTURE          leaf valid from 2040-01-01, signed by the test CA
#     +4 SELFSIGNED      self-signed leaf for localhost
#     +5 UNKNOWN         leaf signed by the unrelated CA (OTHER_CA_FILE)
#     +6 ANCHOR_SOON     leaf signed by a root that expires in 10 days
#     +7 ANCHOR_EXPIRED  leaf (valid now) signed by a root that expired in 2021
#
# Must run as root: Postfix's master and Dovecot's master both drop privileges themselves.
set -euo pipefail

readonly PROG=${0##*/}
readonly TEST_USER=alice@example.test
readonly TEST_PASSWORD='correct horse'
readonly MAIL_USERS=(alice bob carol dave)
readonly MX_HOSTNAME=mx.example.test
# Unix socket paths are limited to 107 bytes (sun_path[108] incl. NUL). The longest socket we
# create is DIR/dovecot/run/token-login/tokenlogin (DIR + 35), so refuse DIRs that would
# overflow it instead of letting Dovecot or Postfix fail with an obscure bind() error.
readonly MAX_DIR_LEN=70
# Which uid/gid the Postfix virtual(8) agent writes Maildirs as. `nobody` always exists and
# is >= virtual_minimum_uid (100); tests run as root and can read whatever it writes.
readonly VMAIL_USER=nobody
# The certificate tests' ports, in order from SMTPKIT_PORT_CERTBASE.
readonly CERT_PORT_NAMES=(CHAIN CHAIN_TLS EXPIRED FUTURE SELFSIGNED UNKNOWN ANCHOR_SOON
    ANCHOR_EXPIRED)
ALL_PORTS=()

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    printf 'usage: %s start|stop DIR   (DIR must be an absolute path)\n' "$PROG" >&2
    exit 2
}

# ---------------------------------------------------------------------------------------------
# Process helpers. We only ever signal pids we can attribute to this DIR's instance, so that
# parallel instances (and the system's own daemons, if any) are never affected.

# A zombie counts as gone: our daemons are reparented to init, which may reap them late.
pid_alive() {
    local stat
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Print the pid stored in FILE if that process is alive and its command name matches COMM.
# Guards against stale pid files whose pid has been recycled by an unrelated process.
pid_from_file() {
    local file=$1 comm=$2 pid
    [[ -r $file ]] || return 1
    pid=$(tr -dc '0-9' <"$file")
    pid_alive "$pid" || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
    printf '%s\n' "$pid"
}

# Wait up to $2 tenths of a second for pid $1 to exit.
wait_gone() {
    local pid=$1 tenths=$2 i
    for ((i = 0; i < tenths; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    ! pid_alive "$pid"
}

# TERM, wait, then KILL. Returns 0 once the process is gone.
terminate() {
    local pid=$1
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 50 && return 0
    log "pid $pid ignored SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 20
}

# Pids of live processes whose environment contains exactly VAR=VALUE. Postfix passes
# MAIL_CONFIG=<config dir> to every daemon it spawns, which identifies this instance's
# processes precisely even after their master is gone.
pids_with_env() {
    local needle=$1 envf pid
    for envf in /proc/[0-9]*/environ; do
        pid=${envf#/proc/}
        pid=${pid%/environ}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        if tr '\0' '\n' 2>/dev/null <"$envf" | grep -qxF -- "$needle"; then
            printf '%s\n' "$pid"
        fi
    done
}

# Direct children of pid $1 (read from /proc, as `ps --ppid` output differs between procps
# versions and sandboxes).
child_pids() {
    local parent=$1 stat rest ppid pid
    for stat in /proc/[0-9]*/stat; do
        rest=$(cat "$stat" 2>/dev/null) || continue
        pid=${rest%% *}
        rest=${rest##*) }        # drop "pid (comm) " - comm may contain spaces
        read -r _ ppid _ <<<"$rest"
        [[ $ppid == "$parent" ]] && printf '%s\n' "$pid"
    done
    return 0
}

# ---------------------------------------------------------------------------------------------
# stop

stop_postfix() {
    local dir=$1 conf=$1/postfix pid p
    if [[ -f $conf/main.cf ]] && pid=$(pid_from_file "$dir/spool/pid/master.pid" master); then
        # The official way first: postfix-script tells master to terminate its children.
        postfix -c "$conf" stop >/dev/null 2>&1 || true
        wait_gone "$pid" 100 || terminate "$pid" || log "could not stop Postfix master $pid"
    fi
    # Daemons that outlived their master (e.g. after a KILL) still carry MAIL_CONFIG.
    for p in $(pids_with_env "MAIL_CONFIG=$conf"); do
        terminate "$p" || true
    done
}

stop_dovecot() {
    local dir=$1 pid p children
    if pid=$(pid_from_file "$dir/dovecot/run/master.pid" dovecot); then
        # Children notice their master's death and exit by themselves, but remember them so
        # that we can verify (and enforce) that.
        children=$(child_pids "$pid")
        terminate "$pid" || log "could not stop Dovecot master $pid"
        for p in $children; do
            wait_gone "$p" 30 || terminate "$p" || true
        done
    fi
}

cmd_stop() {
    local dir=$1
    [[ -d $dir ]] || return 0
    # Postfix first: it is Dovecot's only client.
    stop_postfix "$dir"
    stop_dovecot "$dir"
}

# ---------------------------------------------------------------------------------------------
# PKI

# Random positive serial (RFC 5280: <= 20 octets, must be unique per CA).
serial() { printf '0x1%s' "$(openssl rand -hex 7)"; }

# One openssl config for all certificates, so that every extension is spelled out explicitly
# (the system openssl.cnf's defaults would otherwise add or duplicate extensions). The [ ca ]
# part serves `openssl ca`, used only for dates that `openssl x509 -req` cannot set (past and
# future validity periods); its database is a throwaway one under ca/db.
write_openssl_cnf() {
    local db=$2
    cat >"$1" <<EOF
# Generated by servers.sh - extension profiles for the smtpkit test PKI.
[ req ]
distinguished_name = dn
prompt             = no
[ dn ]
CN = placeholder

[ ca ]
default_ca = throwaway
[ throwaway ]
database         = $db/index.txt
new_certs_dir    = $db
serial           = $db/serial
default_md       = sha256
policy           = policy_any
unique_subject   = no
email_in_dn      = no
copy_extensions  = none
preserve         = yes
[ policy_any ]
organizationName = optional
commonName       = supplied

# Mbed TLS 2.28 requires CA:TRUE and, when keyUsage is present, keyCertSign on issuers.
[ v3_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ v3_intermediate ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid, issuer

# digitalSignature is what ECDHE_ECDSA key exchange needs from an EC leaf key.
[ v3_leaf_localhost ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1

# A self-signed leaf: no authorityKeyIdentifier (it would only repeat its own key id).
[ v3_leaf_selfsigned ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1

[ v3_leaf_wrong ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName         = DNS:wrong.example
EOF
}

# new_key OUT: EC P-256 key (fast to generate; supported by Mbed TLS 2.28's default config).
new_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    chmod 0600 "$1"
}

# new_ca CNF BASE CN DAYS: self-signed CA certificate BASE.pem with key BASE-key.pem.
new_ca() {
    local cnf=$1 base=$2 cn=$3 days=$4
    new_key "$base-key.pem"
    openssl req -new -x509 -config "$cnf" -extensions v3_ca -key "$base-key.pem" \
        -subj "/O=smtpkit test/CN=$cn" -days "$days" -sha256 -set_serial "$(serial)" \
        -out "$base.pem"
}

# new_csr CNF BASE CN: a new key BASE-key.pem and its request BASE.csr.
new_csr() {
    local cnf=$1 base=$2 cn=$3
    new_key "$base-key.pem"
    openssl req -new -config "$cnf" -key "$base-key.pem" -subj "/O=smtpkit test/CN=$cn" \
        -out "$base.csr"
}

# sign CNF PROFILE CA_BASE OUT_BASE DAYS: sign OUT_BASE.csr with CA_BASE, valid from now on.
sign() {
    local cnf=$1 profile=$2 ca=$3 base=$4 days=$5
    openssl x509 -req -in "$base.csr" -CA "$ca.pem" -CAkey "$ca-key.pem" \
        -set_serial "$(serial)" -days "$days" -sha256 -extfile "$cnf" -extensions "$profile" \
        -out "$base.pem" 2>/dev/null
    rm -f "$base.csr"
}

# sign_dated CNF PROFILE CA_BASE OUT_BASE START END: as sign, but valid from START to END
# (YYYYMMDDHHMMSSZ). CA_BASE "self" makes OUT_BASE self-signed with its own key.
sign_dated() {
    local cnf=$1 profile=$2 ca=$3 base=$4 start=$5 end=$6 signer
    if [[ $ca == self ]]; then
        signer=(-selfsign -keyfile "$base-key.pem")
    else
        signer=(-cert "$ca.pem" -keyfile "$ca-key.pem")
    fi
    openssl ca -batch -config "$cnf" -notext -md sha256 "${signer[@]}" \
        -extfile "$cnf" -extensions "$profile" -startdate "$start" -enddate "$end" \
        -in "$base.csr" -out "$base.pem" 2>/dev/null \
        || die "openssl ca could not sign $base.pem"
    rm -f "$base.csr"
}

# new_leaf CNF PROFILE CA_BASE OUT_BASE CN: leaf certificate signed by CA_BASE, valid 365 days.
new_leaf() {
    local cnf=$1 profile=$2 ca=$3 base=$4 cn=$5
    new_csr "$cnf" "$base" "$cn"
    sign "$cnf" "$profile" "$ca" "$base" 365
    openssl verify -CAfile "$ca.pem" -purpose sslserver "$base.pem" >/dev/null \
        || die "freshly generated $base.pem does not verify"
}

# OpenSSL-style hashed CA directory DIR holding only CERT. A real file (not a symlink) so that
# loaders which simply parse every file in the directory see exactly one certificate.
hashed_dir() {
    local cert=$1 dir=$2
    mkdir -p "$dir"
    cp "$cert" "$dir/$(openssl x509 -in "$cert" -noout -hash).0"
}

# UTC time N days from now (negative: ago) in the form `openssl ca -startdate` wants.
utc_in_days() { date -u -d "$1 days" +%Y%m%d%H%M%SZ; }

# The certificates of the cert tests (see the port list at the top). Everything but the
# chain's three is signed at fixed dates or by an odd issuer, on purpose.
make_cert_pki() {
    local ca=$1 cnf=$1/openssl.cnf c
    # Chain: root (not sent) -> intermediate -> localhost leaf.
    new_ca "$cnf" "$ca/chain-root" "smtpkit Chain Root CA" 3650
    openssl x509 -in "$ca/chain-root.pem" -outform DER -out "$ca/chain-root.der"
    new_csr "$cnf" "$ca/chain-intermediate" "smtpkit Test Intermediate CA"
    sign "$cnf" v3_intermediate "$ca/chain-root" "$ca/chain-intermediate" 1825
    new_csr "$cnf" "$ca/chain-leaf" localhost
    sign "$cnf" v3_leaf_localhost "$ca/chain-intermediate" "$ca/chain-leaf" 365
    openssl verify -CAfile "$ca/chain-root.pem" -untrusted "$ca/chain-intermediate.pem" \
        -purpose sslserver "$ca/chain-leaf.pem" >/dev/null \
        || die "freshly generated chain-leaf.pem does not verify"
    hashed_dir "$ca/chain-root.pem" "$ca/chain-dir"

    # Leaves of the test CA that are not valid now.
    new_csr "$cnf" "$ca/expired-leaf" localhost
    sign_dated "$cnf" v3_leaf_localhost "$ca/ca" "$ca/expired-leaf" \
        20200101000000Z 20210101000000Z
    new_csr "$cnf" "$ca/future-leaf" localhost
    sign_dated "$cnf" v3_leaf_localhost "$ca/ca" "$ca/future-leaf" \
        20400101000000Z 20410101000000Z

    # Self-signed leaf, and a leaf of the unrelated CA.
    new_key "$ca/selfsigned-key.pem"
    openssl req -new -x509 -config "$cnf" -extensions v3_leaf_selfsigned \
        -key "$ca/selfsigned-key.pem" -subj "/O=smtpkit test/CN=localhost" -days 365 \
        -sha256 -set_serial "$(serial)" -out "$ca/selfsigned.pem"
    new_leaf "$cnf" v3_leaf_localhost "$ca/other-ca" "$ca/unknown-leaf" localhost

    # A root that expires in 10 days, and one that expired in 2021, each with a valid leaf.
    new_csr "$cnf" "$ca/soon-root" "smtpkit Soon Expiring Root CA"
    sign_dated "$cnf" v3_ca self "$ca/soon-root" "$(utc_in_days -1)" "$(utc_in_days 10)"
    new_leaf "$cnf" v3_leaf_localhost "$ca/soon-root" "$ca/soon-leaf" localhost
    new_csr "$cnf" "$ca/expired-root" "smtpkit Expired Root CA"
    sign_dated "$cnf" v3_ca self "$ca/expired-root" 20110101000000Z 20210101000000Z
    new_csr "$cnf" "$ca/expired-root-leaf" localhost
    sign "$cnf" v3_leaf_localhost "$ca/expired-root" "$ca/expired-root-leaf" 365
    for c in expired-leaf future-leaf; do
        openssl verify -CAfile "$ca/ca.pem" -no_check_time -purpose sslserver "$ca/$c.pem" \
            >/dev/null || die "freshly generated $c.pem does not verify (dates aside)"
    done
    openssl verify -CAfile "$ca/expired-root.pem" -no_check_time -purpose sslserver \
        "$ca/expired-root-leaf.pem" >/dev/null \
        || die "freshly generated expired-root-leaf.pem does not verify (dates aside)"
}

make_pki() {
    local ca=$1/ca
    mkdir -p "$ca/db"
    : >"$ca/db/index.txt"
    # `openssl ca` wants an even number of hex digits; it then counts up from there.
    printf '10%s\n' "$(openssl rand -hex 7)" >"$ca/db/serial"
    write_openssl_cnf "$ca/openssl.cnf" "$ca/db"
    new_ca "$ca/openssl.cnf" "$ca/ca" "smtpkit Test CA" 3650
    openssl x509 -in "$ca/ca.pem" -outform DER -out "$ca/ca.der"
    new_leaf "$ca/openssl.cnf" v3_leaf_localhost "$ca/ca" "$ca/server" localhost
    new_leaf "$ca/openssl.cnf" v3_leaf_wrong "$ca/ca" "$ca/wrong" wrong.example
    # An unrelated CA: valid, but never signed anything the servers present except the leaf
    # of the UNKNOWN port.
    new_ca "$ca/openssl.cnf" "$ca/other-ca" "smtpkit Unrelated Test CA" 3650
    hashed_dir "$ca/ca.pem" "$ca/dir"
    make_cert_pki "$ca"
    # The throwaway `openssl ca` database is of no further use.
    rm -rf "$ca/db"
    # Keys are read by root-started daemons before they drop privileges; certificates are
    # public. Keep the directories world-readable so unprivileged test processes can use them.
    chmod 0755 "$ca" "$ca/dir" "$ca/chain-dir"
    chmod 0644 "$ca"/*.pem "$ca"/*.der "$ca"/dir/*.0 "$ca"/chain-dir/*.0
    chmod 0600 "$ca"/*-key.pem
}

# ---------------------------------------------------------------------------------------------
# Dovecot: SASL authentication server only (no IMAP/POP3, no inet listeners).

write_dovecot_conf() {
    local dir=$1 dv=$1/dovecot
    mkdir -p "$dv/run" "$dv/state"
    # passwd-file: user:{SCHEME}password. {PLAIN} is required for CRAM-MD5, which needs the
    # cleartext secret on the server side.
    printf '%s:{PLAIN}%s\n' "$TEST_USER" "$TEST_PASSWORD" >"$dv/passwd"
    # Read by the auth process, which runs as default_internal_user (dovecot).
    chown root:dovecot "$dv/passwd"
    chmod 0640 "$dv/passwd"
    cat >"$dv/dovecot.conf" <<EOF
# Generated by servers.sh - private Dovecot acting only as Postfix's SASL server.
# No protocols: nothing listens on the network; only the auth unix socket below exists.
protocols =
listen = 127.0.0.1
# Private runtime/state dirs so this instance never collides with a system Dovecot.
base_dir = $dv/run
state_dir = $dv/state
instance_name = smtpkit-test
log_path = $dv/dovecot.log
info_log_path = $dv/dovecot.log
ssl = no
# Postfix decides whether plaintext AUTH is allowed (smtpd_tls_auth_only per port).
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
auth_verbose = yes
# Tests exercise wrong passwords; the default 2 s penalty only slows them down.
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dv/passwd
}
# Dovecot insists on a userdb even though Postfix only performs passdb lookups.
userdb {
  driver = static
  args = uid=$VMAIL_USER gid=$(id -gn "$VMAIL_USER") home=$dir/mail/%n
}

service auth {
  # smtpd runs as user postfix; 0666 is acceptable on a throw-away test instance.
  unix_listener $dv/auth-postfix {
    mode = 0666
    user = postfix
    group = postfix
  }
}
EOF
}

start_dovecot() {
    local dir=$1 dv=$1/dovecot out
    out=$(doveconf -c "$dv/dovecot.conf" -n 2>&1 >/dev/null) \
        || die "dovecot.conf rejected by doveconf: $out"
    # Dovecot daemonizes by itself; it needs no systemd and, started as root, drops privileges.
    # Its descriptors go to files: a daemon holding our stdout open would keep ctest (which
    # waits for the pipe to close) waiting forever.
    if ! dovecot -c "$dv/dovecot.conf" </dev/null >>"$dv/start.log" 2>&1; then
        tail -n 20 "$dv/dovecot.log" >&2 || true
        die "dovecot failed to start"
    fi
}

# ---------------------------------------------------------------------------------------------
# Postfix

# One smtpd(8) entry per listening address: master.cf has no "listen on several addresses"
# syntax for a single service line.
master_smtpd() {
    local port=$1 name=$2 addr
    shift 2
    for addr in "${LISTEN_ADDRS[@]}"; do
        printf '%s:%s inet n - n - - smtpd\n' "$addr" "$port"
        printf '  -o syslog_name=postfix/%s\n' "$name"
        printf '  -o %s\n' "$@"
    done
}

write_postfix_conf() {
    local dir=$1 pf=$1/postfix ca=$1/ca sasl u vgid vuid
    sasl=$dir/dovecot/auth-postfix
    vuid=$(id -u "$VMAIL_USER")
    vgid=$(id -g "$VMAIL_USER")
    mkdir -p "$pf"
    # postfix check/post-install populate the queue but refuse to create its top directory.
    install -d -m 0755 -o root -g root "$dir/spool"
    for u in "${MAIL_USERS[@]}"; do
        printf '%s@example.test %s/\n' "$u" "$u"
    done >"$pf/vmailbox"

    cat >"$pf/main.cf" <<EOF
# Generated by servers.sh - private Postfix instance for smtpkit integration tests.
compatibility_level = 3.6
# Everything instance-specific lives under the test directory; binaries stay the system's.
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop

myhostname = $MX_HOSTNAME
mydomain = example.test
myorigin = \$myhostname
# No local(8) deliveries: example.test is a virtual mailbox domain only.
mydestination =
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP smtpkit-test
biff = no

# Loopback only. Listening addresses are spelled out in master.cf as well.
inet_interfaces = loopback-only
inet_protocols = $INET_PROTOCOLS
mynetworks = $MYNETWORKS

# There is no syslog in the test environment: postlogd(8) writes this file instead.
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir

# Mail for example.test goes to Maildirs under $dir/mail/<localpart>/.
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$pf/vmailbox
virtual_uid_maps = static:$vuid
virtual_gid_maps = static:$vgid
virtual_minimum_uid = 100
# Never try to deliver anywhere else (there is no network); bounce immediately instead.
default_transport = error:outbound delivery disabled in smtpkit test harness
relay_transport = error:outbound delivery disabled in smtpkit test harness

# Keep the message byte-identical to what the client sent apart from the trace headers that
# are prepended on delivery: no header rewriting, no added Date/Message-ID/To for loopback.
local_header_rewrite_clients =
always_add_missing_headers = no
# Modern servers reject bare <LF>; be as strict so client line-ending bugs surface here.
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
# Fast failure replies for negative tests.
smtpd_error_sleep_time = 0

# TLS: server identity for localhost/127.0.0.1/::1; wrong-host port overrides in master.cf.
smtpd_tls_chain_files = $ca/server-key.pem, $ca/server.pem
smtpd_tls_security_level = none
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =

# SASL via the private Dovecot. Absolute path works because no service is chrooted.
smtpd_sasl_type = dovecot
smtpd_sasl_path = $sasl
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
broken_sasl_auth_clients = no

# Default (PLAIN port): loopback clients may send to example.test without AUTH.
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
    reject_unauth_destination
smtpd_recipient_restrictions =
EOF

    local auth_required=(
        "smtpd_sasl_auth_enable=yes"
        "smtpd_client_restrictions="
        "smtpd_relay_restrictions=permit_sasl_authenticated,reject"
        "smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
    )
    {
        cat <<'EOF'
# Generated by servers.sh. All services run without chroot: the queue lives in a
# non-standard place and no chroot jail has been prepared.
# service type  private unpriv  chroot  wakeup  maxproc command + args
EOF
        master_smtpd "$PORT_SUBMISSION" submission \
            smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes "${auth_required[@]}"
        master_smtpd "$PORT_SMTPS" smtps \
            smtpd_tls_wrappermode=yes smtpd_tls_security_level=encrypt \
            smtpd_tls_auth_only=yes "${auth_required[@]}"
        master_smtpd "$PORT_PLAIN" plain \
            smtpd_tls_security_level=none smtpd_sasl_auth_enable=no
        master_smtpd "$PORT_WRONGHOST" wronghost \
            "smtpd_tls_chain_files=$ca/wrong-key.pem,$ca/wrong.pem" \
            smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes "${auth_required[@]}"
        master_smtpd "$PORT_PLAINAUTH" plainauth \
            smtpd_tls_security_level=none smtpd_tls_auth_only=no "${auth_required[@]}"
        # The certificate tests' ports: like SUBMISSION (or SMTPS), another certificate each.
        local tls_auth=(smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes
            "${auth_required[@]}")
        local chain=$ca/chain-leaf-key.pem,$ca/chain-leaf.pem,$ca/chain-intermediate.pem
        # shellcheck disable=SC2153 # PORT_CHAIN and the others are set by cmd_start's loop.
        master_smtpd "$PORT_CHAIN" chain "smtpd_tls_chain_files=$chain" "${tls_auth[@]}"
        master_smtpd "$PORT_CHAIN_TLS" chaintls "smtpd_tls_chain_files=$chain" \
            smtpd_tls_wrappermode=yes "${tls_auth[@]}"
        master_smtpd "$PORT_EXPIRED" expired \
            "smtpd_tls_chain_files=$ca/expired-leaf-key.pem,$ca/expired-leaf.pem" \
            "${tls_auth[@]}"
        master_smtpd "$PORT_FUTURE" future \
            "smtpd_tls_chain_files=$ca/future-leaf-key.pem,$ca/future-leaf.pem" \
            "${tls_auth[@]}"
        master_smtpd "$PORT_SELFSIGNED" selfsigned \
            "smtpd_tls_chain_files=$ca/selfsigned-key.pem,$ca/selfsigned.pem" \
            "${tls_auth[@]}"
        master_smtpd "$PORT_UNKNOWN" unknown \
            "smtpd_tls_chain_files=$ca/unknown-leaf-key.pem,$ca/unknown-leaf.pem" \
            "${tls_auth[@]}"
        master_smtpd "$PORT_ANCHOR_SOON" anchorsoon \
            "smtpd_tls_chain_files=$ca/soon-leaf-key.pem,$ca/soon-leaf.pem" \
            "${tls_auth[@]}"
        master_smtpd "$PORT_ANCHOR_EXPIRED" anchorexpired \
            "smtpd_tls_chain_files=$ca/expired-root-leaf-key.pem,$ca/expired-root-leaf.pem" \
            "${tls_auth[@]}"
        cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    } >"$pf/master.cf"
}

start_postfix() {
    local dir=$1 pf=$1/postfix out
    # Postfix's `postfix -c` is accepted as root without alternate_config_directories (that
    # setting only gates the set-gid postdrop/postqueue). `check` creates the queue and data
    # directories with the right owners via post-install, and validates the configuration.
    if ! out=$(postfix -c "$pf" check 2>&1); then
        printf '%s\n' "$out" >&2
        die "postfix check failed"
    fi
    [[ -z $out ]] || log "postfix check: $out"
    if ! out=$(postfix -c "$pf" start 2>&1); then
        printf '%s\n' "$out" >&2
        tail -n 20 "$dir/postfix.log" >&2 2>/dev/null || true
        die "postfix failed to start"
    fi
}

# ---------------------------------------------------------------------------------------------
# readiness

# True if something accepts TCP connections on ADDR PORT (ADDR without brackets).
# shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash, on purpose.
port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Print the SMTP greeting on ADDR PORT (ADDR without brackets), then QUIT politely so that
# the server logs no "lost connection" noise.
# shellcheck disable=SC2016 # expanded by the inner bash, on purpose.
read_banner() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r l <&3 &&
        printf "%s\n" "${l%$'"'"'\r'"'"'}" && printf "QUIT\r\n" >&3' _ "$1" "$2" 2>/dev/null
}

# Same for implicit TLS (SMTPS): the greeting only arrives after the handshake. ADDR may be
# an IPv6 literal in brackets, as openssl -connect wants it.
read_tls_banner() {
    printf 'QUIT\r\n' | timeout 5 openssl s_client -connect "$1:$2" -quiet 2>/dev/null \
        | head -n 1 | tr -d '\r'
}

dump_logs() {
    local dir=$1 f
    for f in "$dir/postfix.log" "$dir/dovecot/dovecot.log"; do
        [[ -f $f ]] || continue
        printf '==> %s (tail) <==\n' "$f" >&2
        tail -n 30 "$f" >&2
    done
}

wait_ready() {
    local dir=$1 deadline=$((SECONDS + 20)) addr port banner pending
    while :; do
        pending=
        [[ -S $dir/dovecot/auth-postfix ]] || pending="dovecot auth socket"
        for addr in "${LISTEN_ADDRS[@]}"; do
            for port in "${ALL_PORTS[@]}"; do
                [[ -n $pending ]] && break 2
                if [[ $port == "$PORT_SMTPS" || $port == "$PORT_CHAIN_TLS" ]]; then
                    banner=$(read_tls_banner "$addr" "$port" || true)
                else
                    banner=$(read_banner "${addr//[\[\]]/}" "$port" || true)
                fi
                [[ $banner == "220 $MX_HOSTNAME ESMTP"* ]] || pending="$addr:$port"
            done
        done
        [[ -z $pending ]] && return 0
        if ((SECONDS >= deadline)); then
            dump_logs "$dir"
            die "servers not ready after 20 s (still waiting for $pending)"
        fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------
# start

# Shell-quote one value for the env file (paths may contain spaces).
q() { printf '%q' "$1"; }

write_env() {
    local dir=$1 ca=$1/ca
    cat >"$dir/env.tmp" <<EOF
# Generated by servers.sh - source this file in tests.
export SMTPKIT_TEST_DIR=$(q "$dir")
export CA_FILE=$(q "$ca/ca.pem")
export CA_DER=$(q "$ca/ca.der")
export CA_DIR=$(q "$ca/dir")
export OTHER_CA_FILE=$(q "$ca/other-ca.pem")
export SMTPKIT_PORT_SUBMISSION=$PORT_SUBMISSION
export SMTPKIT_PORT_SMTPS=$PORT_SMTPS
export SMTPKIT_PORT_PLAIN=$PORT_PLAIN
export SMTPKIT_PORT_WRONGHOST=$PORT_WRONGHOST
export SMTPKIT_PORT_PLAINAUTH=$PORT_PLAINAUTH
export SMTPKIT_PORT_CERTBASE=$PORT_CERTBASE
export SMTPKIT_PORT_CHAIN=$PORT_CHAIN
export SMTPKIT_PORT_CHAIN_TLS=$PORT_CHAIN_TLS
export SMTPKIT_PORT_EXPIRED=$PORT_EXPIRED
export SMTPKIT_PORT_FUTURE=$PORT_FUTURE
export SMTPKIT_PORT_SELFSIGNED=$PORT_SELFSIGNED
export SMTPKIT_PORT_UNKNOWN=$PORT_UNKNOWN
export SMTPKIT_PORT_ANCHOR_SOON=$PORT_ANCHOR_SOON
export SMTPKIT_PORT_ANCHOR_EXPIRED=$PORT_ANCHOR_EXPIRED
export CHAIN_ROOT_FILE=$(q "$ca/chain-root.pem")
export CHAIN_ROOT_DER=$(q "$ca/chain-root.der")
export CHAIN_CA_DIR=$(q "$ca/chain-dir")
export CHAIN_INTERMEDIATE_FILE=$(q "$ca/chain-intermediate.pem")
export CHAIN_LEAF_FILE=$(q "$ca/chain-leaf.pem")
export EXPIRED_LEAF_FILE=$(q "$ca/expired-leaf.pem")
export FUTURE_LEAF_FILE=$(q "$ca/future-leaf.pem")
export SELFSIGNED_FILE=$(q "$ca/selfsigned.pem")
export UNKNOWN_LEAF_FILE=$(q "$ca/unknown-leaf.pem")
export SOON_ROOT_FILE=$(q "$ca/soon-root.pem")
export SOON_LEAF_FILE=$(q "$ca/soon-leaf.pem")
export EXPIRED_ROOT_FILE=$(q "$ca/expired-root.pem")
export EXPIRED_ROOT_LEAF_FILE=$(q "$ca/expired-root-leaf.pem")
export SMTPKIT_TEST_USER=$(q "$TEST_USER")
export SMTPKIT_TEST_PASSWORD=$(q "$TEST_PASSWORD")
export SMTPKIT_MAILDIR_ROOT=$(q "$dir/mail")
export SMTPKIT_HAVE_IPV6=$HAVE_IPV6
EOF
    # Rename so that a reader never sees a half-written file.
    mv "$dir/env.tmp" "$dir/env"
}

check_port_var() {
    local name=$1 val=$2
    if ! [[ $val =~ ^[0-9]{1,5}$ ]] || ((10#$val < 1 || 10#$val > 65535)); then
        die "$name=$val is not a valid TCP port"
    fi
}

ipv6_usable() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' \
        2>/dev/null
}

# Every daemon user must be able to reach DIR: mktemp -d creates 0700 directories, which
# would silently break the postfix-owned queue and the nobody-owned Maildirs.
check_traversable() {
    local dir=$1 u
    for u in postfix dovecot "$VMAIL_USER"; do
        runuser -u "$u" -- test -x "$dir" \
            || die "user $u cannot traverse $dir (check the permissions of its parents)"
    done
}

make_maildirs() {
    local dir=$1 u
    mkdir -p "$dir/mail"
    for u in "${MAIL_USERS[@]}"; do
        mkdir -p "$dir/mail/$u/new" "$dir/mail/$u/cur" "$dir/mail/$u/tmp"
    done
    chown -R "$VMAIL_USER:$(id -gn "$VMAIL_USER")" "$dir/mail"
    chmod -R u=rwX,go=rX "$dir/mail"
}

cmd_start() {
    local dir=$1 name addr port

    PORT_SUBMISSION=${SMTPKIT_PORT_SUBMISSION:-10587}
    PORT_SMTPS=${SMTPKIT_PORT_SMTPS:-10465}
    PORT_PLAIN=${SMTPKIT_PORT_PLAIN:-10025}
    PORT_WRONGHOST=${SMTPKIT_PORT_WRONGHOST:-10588}
    PORT_PLAINAUTH=${SMTPKIT_PORT_PLAINAUTH:-10026}
    PORT_CERTBASE=${SMTPKIT_PORT_CERTBASE:-10600}
    check_port_var SMTPKIT_PORT_CERTBASE "$PORT_CERTBASE"
    ((10#$PORT_CERTBASE + 7 <= 65535)) \
        || die "SMTPKIT_PORT_CERTBASE=$PORT_CERTBASE: base+7 is not a valid TCP port"
    PORT_CERTBASE=$((10#$PORT_CERTBASE))
    local i=0
    for name in "${CERT_PORT_NAMES[@]}"; do
        printf -v "PORT_$name" '%s' $((PORT_CERTBASE + i))
        i=$((i + 1))
    done
    for name in SUBMISSION SMTPS PLAIN WRONGHOST PLAINAUTH "${CERT_PORT_NAMES[@]}"; do
        local var=PORT_$name
        check_port_var "SMTPKIT_PORT_$name" "${!var}"
        ALL_PORTS+=("${!var}")
    done
    [[ $(printf '%s\n' "${ALL_PORTS[@]}" | sort -u | wc -l) -eq ${#ALL_PORTS[@]} ]] \
        || die "the SMTPKIT_PORT_* values (SMTPKIT_PORT_CERTBASE..+7 included) must be distinct"

    case ${SMTPKIT_IPV6:-auto} in
        yes) HAVE_IPV6=1 ;;
        no) HAVE_IPV6=0 ;;
        auto) if ipv6_usable; then HAVE_IPV6=1; else HAVE_IPV6=0; fi ;;
        *) die "SMTPKIT_IPV6 must be auto, yes or no" ;;
    esac
    if ((HAVE_IPV6)); then
        LISTEN_ADDRS=(127.0.0.1 '[::1]')
        INET_PROTOCOLS='ipv4, ipv6'
        MYNETWORKS='127.0.0.0/8, [::1]/128'
    else
        LISTEN_ADDRS=(127.0.0.1)
        INET_PROTOCOLS=ipv4
        MYNETWORKS=127.0.0.0/8
    fi

    ((EUID == 0)) || die "must run as root (Postfix and Dovecot masters start as root)"
    for name in postfix dovecot openssl doveconf runuser timeout; do
        command -v "$name" >/dev/null || die "$name not found in PATH"
    done
    ((${#dir} <= MAX_DIR_LEN)) \
        || die "DIR too long (${#dir} > $MAX_DIR_LEN chars): unix socket paths would overflow"

    mkdir -p "$dir"
    chmod 0755 "$dir"
    check_traversable "$dir"

    # Idempotent: stop whatever a previous `start` on this DIR left running, then regenerate.
    cmd_stop "$dir"
    # Only remove what we create ourselves: DIR may be a directory the caller also uses.
    rm -rf "$dir/ca" "$dir/dovecot" "$dir/postfix" "$dir/spool" "$dir/data" "$dir/mail" \
        "$dir/env" "$dir/env.tmp" "$dir/postfix.log"

    # Fail early and clearly if another instance (or anything else) owns one of our ports.
    for addr in "${LISTEN_ADDRS[@]}"; do
        for port in "${ALL_PORTS[@]}"; do
            ! port_open "${addr//[\[\]]/}" "$port" \
                || die "port $addr:$port already in use (set SMTPKIT_PORT_* to other values)"
        done
    done

    make_pki "$dir"
    make_maildirs "$dir"
    write_dovecot_conf "$dir"
    write_postfix_conf "$dir"

    start_dovecot "$dir"
    if ! (start_postfix "$dir"); then
        cmd_stop "$dir"
        exit 1
    fi
    # wait_ready dies on timeout; make sure nothing is left running in that case.
    if ! (wait_ready "$dir"); then
        cmd_stop "$dir"
        exit 1
    fi
    write_env "$dir"
    log "servers running; source $dir/env"
}

main() {
    [[ $# -eq 2 ]] || usage
    local cmd=$1 dir=$2
    [[ $dir == /* ]] || die "DIR must be an absolute path: $dir"
    dir=${dir%/}
    [[ -n $dir && $dir != / ]] || die "refusing to use / as DIR"
    # DIR is pasted unquoted into main.cf/master.cf/dovecot.conf, whose value syntax treats
    # blanks and commas as separators; keep to characters that need no quoting anywhere.
    [[ $dir =~ ^[A-Za-z0-9/._+-]+$ ]] || die "DIR may only contain A-Z a-z 0-9 / . _ + -"
    case $cmd in
        start) cmd_start "$dir" ;;
        stop) cmd_stop "$dir" ;;
        *) usage ;;
    esac
}

main "$@"
