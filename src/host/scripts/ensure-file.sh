#!/usr/bin/env bash
# A guarded body: $1 path, $2 OWNER:GROUP, $3 mode (octal, as stat prints it), $4 (optional) the
# SHA-256 of the file as the caller read it, or "absent"; the content on stdin. Writes to a temp file
# beside the target (a rename is atomic) and keeps the old file, unchanged, if nothing differs.
# With $4 the content was made from what the caller read: under a lock on the directory, it is
# written only if the file is still that, else "stale" (another run wrote it in between; the caller
# reads again). Prints "changed", "unchanged" or "stale".
set -eu
path=$1; owner=$2; mode=$3; was=${4-}
dir=$(dirname "$path")
if [ -n "$was" ]; then
  exec 9<"$dir"
  # Bounded: any account that can read the directory can hold a lock on it; the caller retries.
  flock -w 30 9 || { echo stale; exit 0; }
  now=absent
  if [ -e "$path" ]; then now=$(sha256sum < "$path" | cut -c1-64); fi
  if [ "$now" != "$was" ]; then echo stale; exit 0; fi
fi
tmp=$(mktemp "$dir/.stanzactl.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c '%U:%G %a' "$path")" = "$owner $mode" ]; then
  echo unchanged; exit 0
fi
chown "$owner" "$tmp"; chmod "$mode" "$tmp"; mv -f "$tmp" "$path"; trap - EXIT
echo changed
