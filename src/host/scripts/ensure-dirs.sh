#!/usr/bin/env bash
# Several directories in one round trip, in the order given (a parent before what goes inside it),
# each through the path guard: $1 the guard (refusal.sh and guarded.sh), $2 ensure-dir.sh, then
# PATH OWNER:GROUP MODE for each directory. Prints ensure-dir's line for each; the first refusal or
# failure ends the run with its exit status.
set -eu
guarded=$1 body=$2
shift 2
while [ $# -gt 0 ]; do
  bash -c "$guarded" stanzactl "$body" "${2%%:*}" "$1" "$2" "$3"
  shift 3
done
