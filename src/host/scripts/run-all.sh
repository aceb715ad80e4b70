#!/usr/bin/env bash
# Several commands in one round trip (host/batch.ts), one after the other: $@ their lines, each run
# in a bash of its own with no stdin. Prints a line per command: its exit status, then its stdout
# and its stderr in base64 (any bytes, any length), space-separated.
set -u
out=$(mktemp) && err=$(mktemp) || exit 1
trap 'rm -f -- "$out" "$err"' EXIT
for line in "$@"; do
  bash -c "$line" > "$out" 2> "$err" < /dev/null
  rc=$?
  echo "$rc $(base64 -w0 < "$out") $(base64 -w0 < "$err")"
done
