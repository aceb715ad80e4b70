#!/usr/bin/env bash
# The repository's OS user $1 (and its group), a system account with a home for its SSH keys.
# Prints "created" or "exists". Under a lock in $2 (stanzactl's state directory): useradd writes the account before it makes the home,
# so a second provision of another stanza on this host that looked in between would go on with a
# home that is not there yet (two clusters provisioned at once failed that way).
set -eu
[ -d "$2" ] || install -d -m 700 "$2"
exec 9>"$2/create-user.lock"
flock -w 60 9
if getent passwd "$1" >/dev/null; then echo exists; exit 0; fi
getent group "$1" >/dev/null || groupadd --system "$1"
useradd --system --create-home --home-dir "/home/$1" --gid "$1" --shell /bin/bash --comment "pgBackRest repository" "$1"
echo created
