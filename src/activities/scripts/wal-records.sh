#!/usr/bin/env bash
# As the cluster's owner on the primary: $1 bin dir, $2 data dir, $3 stanza, $4 timeline, $5 from
# LSN, $6 to LSN, $7 resource manager, $8 the text a kept line holds, $9 an xid ('' for none), then
# the WAL segments. Each segment from the archive (archive-get, as restore_command would), or from
# pg_wal when not archived yet (the newest ones), into a private temporary directory; then
# pg_waldump over them, keeping only the lines that can be a stop record. Exit 3: a segment is in
# neither place; else pg_waldump's status, its stderr passed on.
set -u
bin=$1; data=$2; stanza=$3; tl=$4; from=$5; to=$6; rmgr=$7; keep=$8; xid=$9; shift 9
tmp=$(mktemp -d) || exit 1
trap 'rm -rf -- "$tmp"' EXIT
for s in "$@"; do
  pgbackrest --stanza="$stanza" --no-archive-async archive-get "$s" "$tmp/$s" >/dev/null 2>&1 || cp -- "$data/pg_wal/$s" "$tmp/$s" 2>/dev/null ||
    { echo "WAL segment $s is neither in the archive nor in $data/pg_wal" >&2; exit 3; }
done
"$bin/pg_waldump" -p "$tmp" -t "$tl" -s "$from" -e "$to" -r "$rmgr" ${xid:+-x "$xid"} > "$tmp/out" 2> "$tmp/err"
rc=$?
grep -F -- "$keep" "$tmp/out"
cat "$tmp/err" >&2
exit $rc
