#!/usr/bin/env bash
# Where this host's pgbackrest is, as root's PATH finds it (the forced command runs that one).
command -v pgbackrest
