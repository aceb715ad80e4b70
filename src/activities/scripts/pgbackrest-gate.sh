#!/bin/bash
# Installed by stanzactl: the forced command of the SSH keys it authorizes. Runs pgBackRest's
# remote only; arguments NAME=VALUE pin an option to the values given. The two execs name the
# host's own pgbackrest (an absolute path), filled in when stanzactl installs this file.
set -u
deny() { echo "stanzactl: this key runs pgBackRest's remote only: $* refused" >&2; exit 1; }
quoted='^(--[a-z0-9][a-z0-9-]*=)"([^"\$`[:cntrl:]]*)"( +|$)'
plain='^([A-Za-z0-9._:/,@+%=-]+)( +|$)'
exe='^(pgbackrest|/[A-Za-z0-9._/-]*/pgbackrest)$'
option='^--([a-z0-9][a-z0-9-]*)(=(.*))?$'
line=${SSH_ORIGINAL_COMMAND-}
[ -n "$line" ] || deny "a login without a command"
[ ${#line} -le 65536 ] || deny "a command this long"
words=()
rest=$line
while [ -n "$rest" ]; do
  if [[ $rest =~ $quoted ]]; then words+=("${BASH_REMATCH[1]}${BASH_REMATCH[2]}")
  elif [[ $rest =~ $plain ]]; then words+=("${BASH_REMATCH[1]}")
  else deny "a command with shell syntax"
  fi
  rest=${rest:${#BASH_REMATCH[0]}}
done
n=${#words[@]}
[[ ${words[0]} =~ $exe ]] || deny "a command other than pgbackrest"
if [ "$n" = 2 ] && [ "${words[1]}" = version ]; then exec @PGBACKREST@ version; fi
if [ "$n" -lt 3 ] || [[ ! ${words[n-1]} =~ ^[a-z][a-z-]*:remote$ ]]; then deny "a pgbackrest command other than a remote"; fi
type=
for ((i = 1; i < n - 1; i++)); do
  [[ ${words[i]} =~ $option ]] || deny "argument ${words[i]}"
  name=${BASH_REMATCH[1]}; value=${BASH_REMATCH[3]}
  case $name in
    config | config-path | config-include-path | log-path | lock-path | spool-path | cmd | cmd-ssh | *-host-cmd | *-host-config*) deny "option --$name" ;;
    remote-type) type=$value ;;
  esac
  # repo2-path is as much the repository's path as repo1-path (--repo=2 picks it): a path pin holds for every index.
  key=$name; [[ $name =~ ^(repo|pg)[0-9]+-path$ ]] && key=${BASH_REMATCH[1]}1-path
  pinned=no; ok=no
  for pin in "$@"; do
    [ "${pin%%=*}" = "$key" ] || continue
    pinned=yes; [ "${pin#*=}" = "$value" ] && ok=yes
  done
  [ $pinned = no ] || [ $ok = yes ] || deny "--$name=$value"
done
[ "$type" = repo ] || [ "$type" = pg ] || deny "a remote without --remote-type=repo or pg"
exec @PGBACKREST@ "${words[@]:1}"
