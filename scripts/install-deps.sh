#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages needed to build and test smtpkit.
#
# Idempotent: packages already installed are left alone, and when nothing is missing the
# script only prints one line. apt-get update runs only when needed (empty package lists, or
# an install that failed, typically because the lists were stale).
set -euo pipefail

readonly PACKAGES=(
    build-essential cmake pkg-config # toolchain
    libmbedtls-dev libcmocka-dev     # TLS library, unit-test framework
    postfix dovecot-core             # integration-test SMTP server + SASL backend
    openssl swaks python3            # test PKI, reference SMTP client, harness helpers
    clang-format curl ca-certificates
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

# Never ask questions (postfix and tzdata-style prompts would hang unattended runs).
export DEBIAN_FRONTEND=noninteractive

SUDO=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || { log "run as root or install sudo"; exit 1; }
    SUDO=(sudo --preserve-env=DEBIAN_FRONTEND)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    # db:Status-Status is exactly "installed" for fully configured packages; anything else
    # (absent, half-installed, config-files only) needs apt.
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    log "all ${#PACKAGES[@]} packages present"
    exit 0
fi
log "installing: ${missing[*]}"

# Must be preseeded BEFORE postfix is unpacked: "No configuration" keeps its postinst from
# writing /etc/postfix/main.cf and starting a system-wide MTA. The tests run their own
# private instance (tests/harness/servers.sh) and need none of that.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
    echo 'postfix postfix/main_mailer_type select No configuration' \
        | "${SUDO[@]}" debconf-set-selections
fi

apt_install() {
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Fresh containers often ship without package lists; update first in that case only.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    log "package lists are empty, running apt-get update"
    "${SUDO[@]}" apt-get update -q
fi

if ! apt_install; then
    log "install failed, refreshing package lists and retrying once"
    "${SUDO[@]}" apt-get update -q
    apt_install
fi
log "done"
