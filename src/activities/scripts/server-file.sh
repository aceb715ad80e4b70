#!/usr/bin/env bash
# Reads or rewrites a file the server names in a setting (hba_file), as the database account (after
# refusal.sh): $1 the setting, $2 the path, $3 read|write (the new content on stdin)|mtime (epoch
# seconds, microseconds after the point), $4 the
# directories the spec names, one a line. Only once the path, links followed, lies inside one of
# them and belongs to the account: check and write are one program, and the account that runs it
# could only swap in files it can write itself.
set -eu
setting=$1; path=$2; action=$3; dirs=$4
real=$(realpath -e -- "$path" 2>/dev/null) || refusal "$setting $path does not exist: refused, nothing changed"
shown=$path; [ "$real" = "$path" ] || shown="$path (resolving to $real)"
inside=
while IFS= read -r d; do
  r=$(realpath -e -- "$d" 2>/dev/null) || continue
  case $real in "$r"/*) inside=$r ;; esac
done <<< "$dirs"
[ -n "$inside" ] || refusal "$setting $shown is outside the config and data directories the spec names (${dirs//$'\n'/ }): refused, nothing changed"
[ -f "$real" ] || refusal "$setting $shown is not a regular file: refused, nothing changed"
owner=$(stat -c %U -- "$real")
[ "$owner" = "$(id -un)" ] || refusal "$setting $shown belongs to $owner, not to the database account $(id -un): refused, nothing changed"
if [ "$action" = read ]; then exec cat -- "$real"; fi
if [ "$action" = mtime ]; then exec stat -c %.6Y -- "$real"; fi
tmp=$(mktemp "$(dirname "$real")/.stanzactl.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chmod --reference="$real" -- "$tmp"
mv -f -- "$tmp" "$real"; trap - EXIT
