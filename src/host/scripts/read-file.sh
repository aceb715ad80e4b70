#!/usr/bin/env bash
# A guarded body: "present", a line "OWNER:GROUP MODE SHA256" (owner and mode as ensure-file.sh
# compares them, the digest as it checks a replace against) and the content of $1, or "absent" (an
# empty file is not a missing one).
if [ -e "$1" ]; then echo present; printf '%s %s\n' "$(stat -c '%U:%G %a' -- "$1")" "$(sha256sum < "$1" | cut -c1-64)"; cat -- "$1"; else echo absent; fi
