#!/usr/bin/env bash
# A creation body (after auto-conf.sh): $1 owner, $2 port, $3 data dir, $4 version, $5 cluster
# name, $6 the settings. As the owner, like debian-config.sh: root never writes below that
# account's directories.
user=$1; port=$2; data=$3; version=$4; cluster=$5; settings=$6
runuser -u "$user" -- pg_createcluster --user "$user" --port "$port" --datadir "$data" --locale C.UTF-8 "$version" "$cluster" -- --data-checksums >/dev/null
append_auto_conf "$user" "$data" "$settings"
