#!/usr/bin/env bash
# The database system id the repository $1 holds for stanza $2 (the last in its backup.info),
# "encrypted" when backup.info is (no id can be read without the passphrase), nothing without one.
f="$1/backup/$2/backup.info"
if [ -f "$f" ]; then
  if [ "$(head -c 8 "$f")" = Salted__ ]; then echo encrypted; else sed -n 's/^db-system-id=//p' "$f" | tail -n 1; fi
fi
