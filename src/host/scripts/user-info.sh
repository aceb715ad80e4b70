#!/usr/bin/env bash
# Home directory and primary group of the OS user $1, one a line; exit 3 when there is no such user.
set -eu
e=$(getent passwd "$1") || exit 3
echo "$e" | cut -d: -f6
id -gn "$1"
