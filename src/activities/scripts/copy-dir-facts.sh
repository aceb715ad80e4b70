#!/usr/bin/env bash
# What is at a copy's data directory (see facts/copy-dir.ts): $1 dir, $2 claim file, $3 account,
# $4 bin dir. The directory is looked at as the database account, so root follows no link that
# account could plant; the claim, in root's directory, is read as root.
set -u

# As the account: $1 dir, $2 bin dir. Prints "KIND INODE ENTRIES", "system-id ID|-", "running yes|no".
look() {
  local d=$1 bin=$2 s=''
  if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then echo "other - 0"
  elif [ ! -e "$d" ]; then echo "absent - 0"
  elif ls -A -- "$d" >/dev/null 2>&1; then echo "directory $(stat -c %d:%i -- "$d") $(find "$d" -mindepth 1 -maxdepth 1 -printf . | wc -c)"
  else echo "directory $(stat -c %d:%i -- "$d") ?"; fi
  if [ -r "$d/global/pg_control" ]; then s=$("$bin/pg_controldata" "$d" 2>/dev/null | sed -n "s/^Database system identifier: *//p"); fi
  echo "system-id ${s:--}"
  if "$bin/pg_ctl" status -D "$d" >/dev/null 2>&1; then echo "running yes"; else echo "running no"; fi
}

runuser -u "$3" -- bash -c "$(declare -f look); look \"\$@\"" stanzactl "$1" "$4"
cat -- "$2" 2>/dev/null || true
