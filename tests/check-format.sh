#!/usr/bin/env bash
# Fails when a C source or header differs from the committed .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
find include src tools tests examples -name '*.[ch]' -print0 |
    xargs -0 clang-format --dry-run -Werror
