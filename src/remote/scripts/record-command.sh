#!/bin/sh
# Records an activity attempt's command on its host (see command-record.ts). POSIX sh (the login
# shell may be dash), run as root before every command; $1 the records' directory, $2 key, $3
# attempt, $4 pid of the command's shell (its process group). Kills the groups earlier attempts
# recorded, then records this one. Builtins only, apart from the first record's mkdir.
# A recorded leader whose pid now has another start time was reaped and its pid reused: its group
# is gone (a pid stays reserved while any process has it as group id), so only the record goes.
# `kill -KILL -PGID` without `--`: dash's builtin kill takes `--` for a pid.
d=$1 k=$2 a=$3 me=$4
if [ "$a" -gt 1 ]; then
  for f in "$d/$k".*; do
    [ -f "$f" ] || continue
    case ${f#"$d/$k".} in "$a".*) continue ;; esac
    if read -r p t < "$f"; then
      now=$t
      # shellcheck disable=SC2086 # split on purpose: the fields of /proc/PID/stat after the name
      if read -r st 2>/dev/null < "/proc/$p/stat"; then set -- ${st##*) }; shift 19; now=$1; fi
      [ "$now" = "$t" ] && kill -KILL "-$p" 2>/dev/null
    fi
    rm -f -- "$f"
  done
fi
# shellcheck disable=SC2086,SC2174 # split on purpose, as above; -m is for the records' own directory
# alone (its parents may exist already, or be made as mkdir -p makes them), and -p keeps two first
# commands racing to make it from failing.
read -r st < "/proc/$me/stat" && set -- ${st##*) } && shift 19 && { [ -d "$d" ] || mkdir -p -m 700 "$d"; } && echo "$me $1" > "$d/$k.$a.$me"
