#!/usr/bin/env bash
# The last "dropped WAL file" line of each archive-push log given that exists.
for f in "$@"; do
  if [ -f "$f" ]; then grep -hF 'dropped WAL file' -- "$f" | tail -n 1; fi
done
