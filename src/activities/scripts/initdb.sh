#!/usr/bin/env bash
# A creation body (after auto-conf.sh): $1 bin dir, $2 data dir, $3 its owner, $4 port, $5 the
# settings. The data directory exists (ensured, links refused); initdb and the port line run as its
# owner. Run through runuser as root only, so a sudo login goes through sudo for the whole program.
bin=$1; data=$2; user=$3; port=$4; settings=$5
runuser -u "$user" -- "$bin/initdb" -D "$data" --data-checksums -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
# shellcheck disable=SC2016 # $1 and $2 are the inner sh's own arguments, expanded there
runuser -u "$user" -- sh -c 'printf "\n# set by stanzactl when it created this cluster\nport = %s\n" "$2" >> "$1/postgresql.conf"' sh "$data" "$port"
append_auto_conf "$user" "$data" "$settings"
