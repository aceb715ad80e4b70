#!/usr/bin/env bash
# A guarded body: $1 path, $2 OWNER:GROUP, $3 mode (octal, as stat prints it). Prints "changed" or
# "unchanged".
set -eu
path=$1; owner=$2; mode=$3; changed=unchanged
if [ ! -d "$path" ]; then mkdir -p "$path"; changed=changed; fi
if [ "$(stat -c '%U:%G %a' "$path")" != "$owner $mode" ]; then chown -h "$owner" "$path"; chmod "$mode" "$path"; changed=changed; fi
echo "$changed"
