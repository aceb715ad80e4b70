#!/usr/bin/env bash
# The timelines (hex, one a line) with a history file in the archive of repository $1, stanza $2.
for f in "$1"/archive/"$2"/*/*.history; do
  if [ -e "$f" ]; then basename "$f" .history; fi
done
