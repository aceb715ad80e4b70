#!/usr/bin/env bash
# "yes" when the path $1 exists (a link that leads nowhere counts as absent), else "no".
if [ -e "$1" ]; then echo yes; else echo no; fi
