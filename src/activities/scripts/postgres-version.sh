#!/usr/bin/env bash
# `postgres --version` of the bin directory $1, or "missing".
if [ -x "$1/postgres" ]; then exec "$1/postgres" --version; else echo missing; fi
