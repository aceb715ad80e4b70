#!/usr/bin/env bash
# The repository's OS user $1 (and its group), a system account with a home for its SSH keys.
set -eu
getent group "$1" >/dev/null || groupadd --system "$1"
useradd --system --create-home --home-dir "/home/$1" --gid "$1" --shell /bin/bash --comment "pgBackRest repository" "$1"
