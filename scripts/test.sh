#!/usr/bin/env bash
# Every test, on a fresh Debian 12 machine as root: install what is needed, build, and run the
# whole suite (unit tests, format check, integration tests against a real Postfix + Dovecot
# that the suite starts and stops itself).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j4 "$@"
