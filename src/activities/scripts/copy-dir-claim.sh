#!/usr/bin/env bash
# Claims a copy's (empty) data directory for a stanza and purpose: $1 claim file (in root's own
# directory), $2 dir, $3 account, $4 stanza, $5 purpose. The claim names the directory's inode,
# read as the account (a link is refused: exit 3). Prints "changed", or "unchanged" when the claim
# is there already (a retry finds its own).
set -eu
inode_of() { [ -d "$1" ] && [ ! -L "$1" ] && stat -c %d:%i -- "$1"; }
inode=$(runuser -u "$3" -- bash -c "$(declare -f inode_of); inode_of \"\$1\"" stanzactl "$2") || { echo "$2 is not a directory" >&2; exit 3; }
line="$4 $5 $inode $2"
if [ "$(cat -- "$1" 2>/dev/null)" = "$line" ]; then echo unchanged; exit 0; fi
install -d -m 700 "$(dirname "$1")"
printf '%s\n' "$line" > "$1.tmp"; mv -f -- "$1.tmp" "$1"
echo changed
