#!/usr/bin/env bash
# Where pgBackRest's config may be (see facts/pgbackrest-config.ts): one line per candidate path
# given, tab-separated: path, kind (symlink, file, other, absent), resolved target (or ''), then
# DIR:OWNER:MODE of the candidate's directory and its target's.
for p in "$@"; do
  if [ -L "$p" ]; then kind=symlink; elif [ -f "$p" ]; then kind='file'; elif [ -e "$p" ]; then kind=other; else kind=absent; fi
  t=$(readlink -e -- "$p" || true)
  line="$p	$kind	$t"
  for d in "$(dirname -- "$p")" ${t:+"$(dirname -- "$t")"}; do
    if [ -d "$d" ]; then line="$line	$d:$(stat -L -c '%U:%a' -- "$d")"; fi
  done
  printf '%s\n' "$line"
done
