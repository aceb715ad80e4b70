#!/usr/bin/env bash
# pg_controldata of bin directory $1 on data directory $2; "absent" without a pg_control,
# "unreadable" when one exists (a link counts) that this account cannot read.
f=$2/global/pg_control
if [ -r "$f" ]; then exec "$1/pg_controldata" "$2"; elif [ -e "$f" ] || [ -L "$f" ]; then echo unreadable; else echo absent; fi
