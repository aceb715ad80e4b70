#!/usr/bin/env bash
# `refusal REASON` for our bash programs: exits with a status and a marked last line of stderr that
# no other program prints, so a refusal is never mistaken for a tool's own exit status (refusalOf
# in path-guard.ts reads it back). Prepended to the programs that refuse.
refusal() { echo "stanzactl refuses: $*" >&2; exit 90; }
