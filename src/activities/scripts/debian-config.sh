#!/usr/bin/env bash
# A creation body: the config a Debian cluster needs (pg_createcluster's files under /etc), over a
# data directory that is then emptied again for a restore. $1 version, $2 cluster name, $3 data
# dir, $4 its owner, $5 port; everything as the owner.
ver=$1; cluster=$2; data=$3; user=$4; port=$5
runuser -u "$user" -- find "$data" -mindepth 1 -delete
runuser -u "$user" -- pg_createcluster --user "$user" --port "$port" --datadir "$data" --locale C.UTF-8 "$ver" "$cluster" >/dev/null
runuser -u "$user" -- find "$data" -mindepth 1 -delete
