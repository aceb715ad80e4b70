#!/usr/bin/env bash
# "yes" when the directory $1 holds anything (hidden files too), "no" when it is empty or absent.
if [ -n "$(ls -A "$1" 2>/dev/null)" ]; then echo yes; else echo no; fi
