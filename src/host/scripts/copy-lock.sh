#!/usr/bin/env bash
# A copy host's directory and port locks (see copy-locks.ts), under one flock:
#   copy-lock.sh ACTION LOCKS WORKFLOW_ID RUN_ID ARGS...
# Each entry is LOCKS/copy-NAME/ holding `owner`, "WORKFLOW_ID RUN_ID SINCE" as the stanza locks.
set -eu
action=$1; locks=$2; wf=$3; run=$4; shift 4
install -d -m 700 "$locks"
exec 9>"$locks/.copies.flock"
flock -w 20 9
holder_of() { cat "$1/owner" 2>/dev/null || echo "- - $(stat -c %Y "$1" 2>/dev/null)"; }

# ARGS: the entries. Prints "copy NAME LINE" for each entry another run holds (then claims
# nothing), else "claimed", "claimed new" when this call made the claim (a retry finds it its own).
claim() {
  local now n d blocked='' new=''
  now=$(date +%s)
  for n in "$@"; do
    d=$locks/copy-$n
    if [ -d "$d" ] && [ "$(cut -d' ' -f1,2 "$d/owner" 2>/dev/null)" != "$wf $run" ]; then
      echo "copy $n $(holder_of "$d")"; blocked=1
    fi
  done
  [ -z "$blocked" ] || exit 0
  for n in "$@"; do
    d=$locks/copy-$n
    [ -d "$d" ] || { mkdir "$d"; new=new; }
    printf '%s %s %s\n' "$wf" "$run" "$now" > "$d/owner.tmp"; mv -f "$d/owner.tmp" "$d/owner"
  done
  echo "claimed $new"
}

# ARGS: the entries; prints "released" for each this run held.
release() {
  local n d
  for n in "$@"; do
    d=$locks/copy-$n
    if [ "$(cut -d' ' -f1,2 "$d/owner" 2>/dev/null)" = "$wf $run" ]; then rm -rf -- "$d"; echo released; fi
  done
}

# Compare-and-set removal of a holder judged dead: ARGS the entry, its exact line.
drop_dead() {
  local d=$locks/copy-$1
  if [ "$(holder_of "$d")" = "$2" ]; then rm -rf -- "$d"; echo dropped; fi
}

case $action in
  claim|release|drop_dead) "$action" "$@" ;;
  *) echo "copy-lock.sh: unknown action $action" >&2; exit 2 ;;
esac
