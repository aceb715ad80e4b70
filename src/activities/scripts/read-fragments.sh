#!/usr/bin/env bash
# Every `*.conf` pgBackRest would append from the include directory $1 (its own pattern,
# `.+\.conf$`, hidden files included), in its order, each as name NUL text NUL. Run as the user
# that runs pgBackRest on the host, so root never follows what that account controls and an
# unreadable fragment shows as it would to pgBackRest.
set -euo pipefail
[ -e "$1" ] || exit 0
find "$1" -mindepth 1 -maxdepth 1 -name '?*.conf' -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
  printf '%s\0' "$f"; cat -- "$f"; printf '\0'
done
