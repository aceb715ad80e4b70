#!/usr/bin/env bash
# A guarded body: "present" and the content of $1, or "absent" (an empty file is not a missing one).
if [ -e "$1" ]; then echo present; cat -- "$1"; else echo absent; fi
