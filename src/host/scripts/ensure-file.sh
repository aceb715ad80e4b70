#!/usr/bin/env bash
# A guarded body: $1 path, $2 OWNER:GROUP, $3 mode (octal, as stat prints it); the content on stdin.
# Writes to a temp file beside the target (a rename is atomic) and keeps the old file, unchanged,
# if nothing differs. Prints "changed" or "unchanged".
set -eu
path=$1; owner=$2; mode=$3
tmp=$(mktemp "$(dirname "$path")/.stanzactl.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c '%U:%G %a' "$path")" = "$owner $mode" ]; then
  echo unchanged; exit 0
fi
chown "$owner" "$tmp"; chmod "$mode" "$tmp"; mv -f "$tmp" "$path"; trap - EXIT
echo changed
