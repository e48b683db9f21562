#!/usr/bin/env bash
# Fails when a C source or header differs from the committed .clang-format. The anchor
# headers are generated data (der2c.py) and are left as generated.
set -euo pipefail
cd "$(dirname "$0")/.."
find include src tools tests examples -name '*.[ch]' ! -name 'anchor_*.h' -print0 |
    xargs -0 clang-format --dry-run -Werror
