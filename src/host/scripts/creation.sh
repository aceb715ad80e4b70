#!/usr/bin/env bash
# A marked cluster creation (see cluster-creation.ts): $1 marker, $2 data dir, $3 the config dir
# pg_createcluster writes ('' for none), $4 "strict" to refuse a data directory that holds files (a
# creation that must find it empty), $5 the account that owns both, $6 the body (a bash program of
# ours, run with -eu), then the body's own arguments. Exit 3: a refusal for a human. The last line
# printed says what happened: created, or recreated over what an interrupted attempt left. What is
# removed is removed as that account: the directories are its, and a link it swapped in between two
# commands then leads nowhere root could be made to write.
set -eu
marker=$1 data=$2 confdir=$3 strict=$4 owner=$5 body=$6; shift 6
outcome=created
if [ -e "$marker" ]; then
  # Only a postmaster writes postmaster.opts (initdb's killed backends may leave postmaster.pid).
  if [ -e "$data/postmaster.opts" ]; then
    echo "$data was left by an interrupted cluster creation (marker $marker), but a server has run on it since: stanzactl will not remove it. Check it, then remove $marker" >&2
    exit 3
  fi
  if [ -d "$data" ]; then runuser -u "$owner" -- find "$data" -mindepth 1 -delete; fi
  if [ -n "$confdir" ]; then
    for f in postgresql.conf pg_hba.conf pg_ident.conf start.conf pg_ctl.conf environment; do runuser -u "$owner" -- rm -f -- "$confdir/$f"; done
  fi
  outcome=recreated
elif [ "$strict" = strict ] && [ -n "$(ls -A "$data" 2>/dev/null)" ]; then
  echo "$data holds files but no PostgreSQL cluster (no global/pg_control): stanzactl will not create a cluster over them. Move them away and run again" >&2
  exit 3
fi
install -d -m 700 "$(dirname "$marker")"
printf '%s\n' "$data" > "$marker.tmp"
mv -f "$marker.tmp" "$marker"
bash -eu -c "$body" stanzactl "$@"
rm -f -- "$marker"
echo "$outcome"
