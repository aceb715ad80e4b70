#!/usr/bin/env bash
# A guarded body: "present", a line "OWNER:GROUP MODE" (as ensure-file.sh compares them) and the
# content of $1, or "absent" (an empty file is not a missing one).
if [ -e "$1" ]; then echo present; stat -c '%U:%G %a' -- "$1"; cat -- "$1"; else echo absent; fi
