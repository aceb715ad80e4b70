#!/usr/bin/env bash
# The stanza's locks on the repository host (see stanza-locks.ts for what each excludes):
#   stanza-lock.sh ACTION LOCKS STANZA ...    (after ACTION: $1 LOCKS, $2 STANZA, then the action's)
# A lock directory holds `owner`, a registration is itself: one line "WORKFLOW_ID RUN_ID SINCE"
# (epoch seconds), written to a temp file and renamed into place so a reader never sees half a line.
# Everything runs under flock(1) on a file beside the directory: a claim, a takeover, a refresh and
# a release are each one atomic read-compare-write against the others.
set -eu
action=$1; shift
locks=$1; stanza=$2
install -d -m 700 "$locks"
dir=$locks/backup-$stanza
exec 9>"$locks/.backup-$stanza.flock"
flock -w 20 9
now=$(date +%s)
rec=$locks/recover-$stanza
rebuilds=$locks/rebuilds-$stanza
drl=$locks/drill-$stanza
prov=$locks/provision-$stanza
restores=$locks/restores-$stanza
line_to() { printf '%s %s %s\n' "$2" "$3" "$now" > "$1.tmp"; mv -f "$1.tmp" "$1"; }
write_owner() { line_to "$dir/owner" "$1" "$2"; }
holder_of() { cat "$1/owner" 2>/dev/null || echo "- - $(stat -c %Y "$1")"; }
held_by() { [ "$(cut -d' ' -f1,2 "$1" 2>/dev/null)" = "$2 $3" ]; }
# Takes the lock directory $1 for $2 $3 (or renews it): prints "claimed", "claimed new" when this
# call made it (a retry of the claiming step finds it its own).
take() {
  local new=new
  [ ! -d "$1" ] || new=''
  mkdir -p "$1"; line_to "$1/owner" "$2" "$3"
  echo "claimed $new"
}
# Prints "rebuild NODE LINE" for each registered rebuild; fails when there is none.
name_rebuilds() {
  local f none=1
  for f in "$rebuilds"/*; do
    if [ -f "$f" ]; then echo "rebuild ${f##*/} $(cat "$f")"; none=0; fi
  done
  return $none
}
# Gives back the lock directory $1 when $2 $3 hold it; prints "released" then.
give_back() {
  if held_by "$1/owner" "$2" "$3"; then rm -rf -- "$1"; echo released; fi
}
# A registration is a file named after its run id: a run id is letters, digits and dashes, never a path.
run_entry() {
  case $1 in ''|*[!A-Za-z0-9-]*) echo "not a run id: $1" >&2; exit 2 ;; esac
  entry=$restores/$1
}

# The backup lock. $3 $4 the claimer, $5 the grace (seconds) of a directory without an owner: a
# claim interrupted between mkdir and the rename of its owner file, removed after it. Prints the
# owner line ("- - MTIME" for an owner-less directory within its grace), now, and "new" when this
# call made the claim (a retry of the claiming step finds its own claim: not new); a fourth line,
# the holder of the stanza's recover lock, when a recover of another run holds it: then nothing is
# claimed.
claim() {
  local new=''
  if [ -d "$rec" ] && ! held_by "$rec/owner" "$3" "$4"; then
    echo "- - 0"; echo "$now"; echo; holder_of "$rec"; exit 0
  fi
  if [ -d "$dir" ] && [ ! -e "$dir/owner" ] && [ $((now - $(stat -c %Y "$dir"))) -gt "$5" ]; then
    rm -rf -- "$dir"
  fi
  if mkdir "$dir" 2>/dev/null; then write_owner "$3" "$4"; new=new; fi
  holder_of "$dir"
  echo "$now"; echo "$new"
}

# Compare-and-set: replaces the owner only if it is still $5, the line judged dead (same since), or
# claims the lock if its holder released it meanwhile. Prints the owner now.
take_over() {
  if [ ! -d "$dir" ] || [ "$(cat "$dir/owner" 2>/dev/null)" = "$5" ]; then
    mkdir -p "$dir"; write_owner "$3" "$4"
  fi
  holder_of "$dir"
}

# The holder renews its claim; prints "held", or the line of whoever holds the lock now ("- - 0": nobody).
refresh() {
  if held_by "$dir/owner" "$3" "$4"; then write_owner "$3" "$4"; echo held
  else cat "$dir/owner" 2>/dev/null || echo "- - 0"; fi
}

release() {
  give_back "$dir" "$3" "$4"
}

# A recover claims the stanza when nothing else holds it: prints each holder in its way ("recover
# LINE", "backup LINE", "rebuild NODE LINE", "provision LINE", "restore LINE"), or "claimed" once it
# holds both its own lock and the backup lock, "claimed new" when this call made the claim.
recover_claim() {
  local blocked='' f
  # Another recover holds the backup lock too: it alone is named.
  if [ -d "$rec" ] && ! held_by "$rec/owner" "$3" "$4"; then echo "recover $(holder_of "$rec")"; exit 0; fi
  if [ -d "$dir" ] && ! held_by "$dir/owner" "$3" "$4"; then echo "backup $(holder_of "$dir")"; blocked=1; fi
  name_rebuilds && blocked=1
  if [ -d "$prov" ]; then echo "provision $(holder_of "$prov")"; blocked=1; fi
  for f in "$restores"/*; do
    if [ -f "$f" ]; then echo "restore $(cat "$f")"; blocked=1; fi
  done
  [ -z "$blocked" ] || exit 0
  take "$dir" "$3" "$4" >/dev/null
  take "$rec" "$3" "$4"
}

# Gives back the recover lock and the backup lock it holds; prints "released" when it held them.
recover_release() {
  give_back "$dir" "$3" "$4" >/dev/null
  give_back "$rec" "$3" "$4"
}

# A rebuild of node $3 ($4 $5 its run) registers itself, unless a recover or a provision holds the
# stanza (prints its holder).
rebuild_register() {
  if [ -d "$rec" ]; then echo "recover $(holder_of "$rec")"; exit 0; fi
  if [ -d "$prov" ]; then echo "provision $(holder_of "$prov")"; exit 0; fi
  install -d -m 700 "$rebuilds"
  line_to "$rebuilds/$3" "$4" "$5"
  echo registered
}

# A drill claims the stanza's drill lock unless another drill holds it (prints "drill LINE"); prints
# "claimed", "claimed new" when this call made the claim.
drill_claim() {
  if [ -d "$drl" ] && ! held_by "$drl/owner" "$3" "$4"; then echo "drill $(holder_of "$drl")"; exit 0; fi
  take "$drl" "$3" "$4"
}

drill_release() {
  give_back "$drl" "$3" "$4"
}

# A provision claims the stanza unless a recover, a rebuild or another provision holds it (prints
# each, as recover_claim does); prints "claimed", "claimed new" when this call made the claim.
provision_claim() {
  local blocked=''
  if [ -d "$rec" ]; then echo "recover $(holder_of "$rec")"; blocked=1; fi
  if [ -d "$prov" ] && ! held_by "$prov/owner" "$3" "$4"; then echo "provision $(holder_of "$prov")"; blocked=1; fi
  name_rebuilds && blocked=1
  [ -z "$blocked" ] || exit 0
  take "$prov" "$3" "$4"
}

provision_release() {
  give_back "$prov" "$3" "$4"
}

# A restore --to registers itself (one file per run) unless a recover holds the stanza (prints it).
restore_register() {
  run_entry "$4"
  if [ -d "$rec" ]; then echo "recover $(holder_of "$rec")"; exit 0; fi
  install -d -m 700 "$restores"
  line_to "$entry" "$3" "$4"
  echo registered
}

restore_release() {
  run_entry "$4"
  if held_by "$entry" "$3" "$4"; then rm -f -- "$entry"; rmdir "$restores" 2>/dev/null || true; echo released; fi
}

# Compare-and-set removal of a holder judged dead ($3 what, as recover_claim names it; $4 its exact
# line, $5 the node of a rebuild): nothing is removed when the line changed meanwhile. A dead
# recover's backup lock goes with it.
drop_dead() {
  local f d r wf run
  case $3 in
    recover) f=$rec/owner; d=$rec ;;
    backup) f=$dir/owner; d=$dir ;;
    rebuild) f=$rebuilds/$5; d=$f ;;
    drill) f=$drl/owner; d=$drl ;;
    provision) f=$prov/owner; d=$prov ;;
    restore) r=$(printf '%s' "$4" | cut -d' ' -f2); case $r in ''|*[!A-Za-z0-9-]*) exit 0 ;; esac; f=$restores/$r; d=$f ;;
    *) echo "not a lock kind: $3" >&2; exit 2 ;;
  esac
  if [ "$(cat "$f" 2>/dev/null || echo "- - $(stat -c %Y "$d" 2>/dev/null)")" = "$4" ]; then
    read -r wf run _ <<< "$4"
    if [ "$3" = recover ] && held_by "$dir/owner" "$wf" "$run"; then rm -rf -- "$dir"; fi
    rm -rf -- "$d"; echo dropped
  fi
}

case $action in
  claim|take_over|refresh|release|recover_claim|recover_release|rebuild_register|drill_claim|drill_release|provision_claim|provision_release|restore_register|restore_release|drop_dead) "$action" "$@" ;;
  *) echo "stanza-lock.sh: unknown action $action" >&2; exit 2 ;;
esac
