#!/usr/bin/env bash
# Kills the process group $1 and removes its record $2 (see record-command.sh).
kill -KILL "-$1"
rm -f -- "$2"
