#!/bin/sh
# check_core_includes.sh REPO - fails when a file of the portable core (src/core/*.c, *.h)
# includes a header outside its list, or calls libc I/O, allocation, clocks or errno. The
# list: <stddef.h> <stdint.h> <string.h> <stdbool.h>, smtpkit's public headers of the core,
# the core's own headers, "mbedtls_compat.h", and Mbed TLS's base64, md and platform_util.
# mbedtls_compat.h itself may include only Mbed TLS's version and build headers, and PSA's
# crypto header (only on Mbed TLS 3.x, for the host's TLS 1.3 set-up).
set -eu
repo=${1:?usage: check_core_includes.sh REPO}
status=0

system='<(stddef|stdint|string|stdbool)\.h>'
public='"smtpkit/(error|options|reply|session|message|transport|civil_time|encode|compose)\.h"'
internal='"core/[a-z_]+\.h"|"mbedtls_compat\.h"'
crypto='<mbedtls/(base64|md|platform_util)\.h>'
allowed_core="^($system|$public|$internal|$crypto)\$"
forbidden_calls='\b(malloc|calloc|realloc|free|printf|fprintf|sprintf|snprintf|fopen|time|clock'
forbidden_calls="$forbidden_calls|exit|abort)"
allowed_compat='^("smtpkit/options\.h"|<mbedtls/(version|build_info)\.h>|<psa/crypto\.h>)$'

# Prints one line per include of FILE that PATTERN (an ERE) does not allow.
check() { # FILE PATTERN
    grep -n '^[[:space:]]*#[[:space:]]*include' "$1" |
        sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*\([^[:space:]]*\).*/\1 \2/' |
        while read -r line header; do
            if ! printf '%s\n' "$header" | grep -Eq "$2"; then
                echo "$1:$line: includes $header, which the core may not use"
            fi
        done
}

for file in "$repo"/src/core/*.c "$repo"/src/core/*.h; do
    found=$(check "$file" "$allowed_core")
    if [ -n "$found" ]; then
        echo "$found"
        status=1
    fi
    if grep -nE "$forbidden_calls[[:space:]]*\(|\berrno\b" "$file"; then
        echo "$file: calls libc I/O, allocation, clocks or errno"
        status=1
    fi
done
found=$(check "$repo/src/mbedtls_compat.h" "$allowed_compat")
if [ -n "$found" ]; then
    echo "$found"
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "core includes: OK"
fi
exit "$status"
