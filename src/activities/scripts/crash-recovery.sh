#!/usr/bin/env bash
# Crash recovery of a cluster that did not shut down cleanly (a killed primary), in single-user
# mode, as pg_rewind would run it: bin directory $1, data directory $2, config file $3 (or "").
# A single-user server refuses standby mode, so standby.signal is set aside meanwhile and put
# back; a run killed in between left it aside, and the next run puts it back first.
set -euo pipefail
bin=$1 data=$2 conf=$3
signal=$data/standby.signal aside=$data/standby.signal.stanzactl-recovery
if [ -e "$aside" ] && [ ! -e "$signal" ]; then mv -- "$aside" "$signal"; fi
had=no
if [ -e "$signal" ]; then mv -- "$signal" "$aside"; had=yes; fi
trap 'if [ "$had" = yes ]; then mv -- "$aside" "$signal"; fi' EXIT
args=()
if [ -n "$conf" ]; then args=(-c "config_file=$conf"); fi
"$bin/postgres" --single -F -D "$data" "${args[@]}" template1 </dev/null >/dev/null
