#!/usr/bin/env bash
# Every stanzactl lock (see locks.ts; who excludes whom is lock-kinds.ts, not this script):
#   lock.sh claim     LOCKS SCOPE WORKFLOW_ID RUN_ID KIND KEY... -- CONFLICT...
#   lock.sh release   LOCKS SCOPE WORKFLOW_ID RUN_ID KIND KEY...
#   lock.sh drop_dead LOCKS SCOPE KIND KEY LINE
# An entry is the file LOCKS/SCOPE/KIND/KEY holding one line "WORKFLOW_ID RUN_ID SINCE" (epoch
# seconds), written to a temp file and renamed into place so a reader never sees half a line. Every
# action runs under flock(1) on LOCKS/.SCOPE.flock: each is one atomic read-compare-write.
set -eu
action=$1; locks=$2; scope=$3; shift 3
# A scope, kind or key names a file: letters, digits, ".", "_" and "-", never starting with "." (no path, no temp file).
name() {
  case $1 in ''|.*|*[!A-Za-z0-9._-]*) echo "lock.sh: not a lock name: $1" >&2; exit 2 ;; esac
}
name "$scope"
install -d -m 700 "$locks"
exec 9>"$locks/.$scope.flock"
flock -w 20 9
sd=$locks/$scope

# The line of entry $1; an empty one (a write torn by a crash) reads as an owner-less "- - MTIME".
line_of() {
  local l
  l=$(cat "$1" 2>/dev/null) || true
  if [ -n "$l" ]; then echo "$l"; else echo "- - $(stat -c %Y "$1" 2>/dev/null || echo 0)"; fi
}
held_by() { [ "$(cut -d' ' -f1,2 "$1" 2>/dev/null)" = "$2 $3" ]; }
# Removes entry $1 and the directories it leaves empty.
remove() { rm -f -- "$1"; rmdir "${1%/*}" "$sd" 2>/dev/null || true; }

# Entries of the layout before one table (LOCKS/backup-STANZA/owner, LOCKS/rebuilds-STANZA/NODE,
# LOCKS/copy-NAME/owner, ...), left by a run that was open while its worker was upgraded: adopted
# once, line unchanged, so that run still holds what it held and is judged like any holder.
adopt() {
  local line
  if [ -f "$3" ]; then line=$(cat "$3"); else line=$(cat "$3/owner" 2>/dev/null || echo "- - $(stat -c %Y "$3")"); fi
  install -d -m 700 "$sd/$1"
  printf '%s\n' "$line" > "$sd/$1/.$2.tmp"; mv -f "$sd/$1/.$2.tmp" "$sd/$1/$2"
  rm -rf -- "$3"
}
adopt_old() {
  local s=${scope#stanza-} k p
  if [ "$scope" = copies ]; then
    for p in "$locks"/copy-*; do
      if [ -d "$p" ]; then adopt copy "${p#"$locks"/copy-}" "$p"; fi
    done
  elif [ "$s" != "$scope" ]; then
    for k in backup recover drill provision; do
      if [ -d "$locks/$k-$s" ]; then adopt "$k" all "$locks/$k-$s"; fi
    done
    for k in rebuild restore; do
      for p in "$locks/${k}s-$s"/*; do
        if [ -f "$p" ]; then adopt "$k" "${p##*/}" "$p"; fi
      done
      rmdir "$locks/${k}s-$s" 2>/dev/null || true
    done
  fi
}

# Prints "KIND KEY LINE" for each entry of the CONFLICTs ("KIND": every key, "KIND/KEY": that one)
# another run holds, and then claims nothing; else takes KIND/KEY for each KEY and prints
# "claimed", "claimed new" when this call wrote an entry (a retry finds its claim its own).
claim() {
  local wf=$1 run=$2 kind=$3 c f blocked='' new='' now
  shift 3
  local keys=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do name "$1"; keys+=("$1"); shift; done
  shift
  name "$kind"
  for c in "$@"; do
    name "${c%/*}"; name "${c#*/}"
    for f in "$sd/$c" "$sd/$c"/*; do
      if [ -f "$f" ] && ! held_by "$f" "$wf" "$run"; then
        local k=${f#"$sd"/}; blocked=1; echo "${k%%/*} ${k#*/} $(line_of "$f")"
      fi
    done
  done
  [ -z "$blocked" ] || exit 0
  now=$(date +%s)
  install -d -m 700 "$sd/$kind"
  for c in "${keys[@]}"; do
    f=$sd/$kind/$c
    held_by "$f" "$wf" "$run" && continue
    printf '%s %s %s\n' "$wf" "$run" "$now" > "$sd/$kind/.$c.tmp"; mv -f "$sd/$kind/.$c.tmp" "$f"; new=new
  done
  echo "claimed $new"
}

# Removes KIND/KEY for each KEY this run holds; prints "released" for each.
release() {
  local wf=$1 run=$2 kind=$3 k
  shift 3
  name "$kind"
  for k in "$@"; do
    name "$k"
    if held_by "$sd/$kind/$k" "$wf" "$run"; then remove "$sd/$kind/$k"; echo released; fi
  done
}

# Compare-and-set removal of a holder judged dead: nothing is removed when its line changed meanwhile.
drop_dead() {
  name "$1"; name "$2"
  local f=$sd/$1/$2
  if [ -f "$f" ] && [ "$(line_of "$f")" = "$3" ]; then remove "$f"; echo dropped; fi
}

case $action in
  claim|release|drop_dead) adopt_old; "$action" "$@" ;;
  *) echo "lock.sh: unknown action $action" >&2; exit 2 ;;
esac
