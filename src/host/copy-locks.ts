import { createHash } from 'node:crypto';
import { script, type Command } from '../shell/command';
import type { CopyPlace } from '../spec/restore-copy';
import type { Blocker, LockOwner } from './stanza-locks';

/**
 * A copy's directory and port are the copy host's, whatever the stanza: drills of two stanzas that
 * share a scratch directory or port, or a drill and a `restore --to` there, must take turns. So the
 * lock lives on the copy host itself (the same files however the host is named), one entry per
 * directory and one per port, `copy-dir-<hash>/` and `copy-port-<n>/` in its LOCKS, each holding
 * `owner` ("WORKFLOW_ID RUN_ID SINCE", as the stanza locks): both are claimed or neither, under one
 * flock. A holder whose workflow closed is dropped (compare-and-set), as for the stanza locks.
 */

/** The lock entries of a place: its directory and its port. */
export function copyLockNames(place: Pick<CopyPlace, 'dataDir' | 'port'>): string[] {
  return [`dir-${createHash('sha256').update(place.dataDir).digest('hex').slice(0, 16)}`, `port-${place.port}`];
}

const PRELUDE = `set -eu
locks=$1; wf=$2; run=$3; shift 3
install -d -m 700 "$locks"
exec 9>"$locks/.copies.flock"
flock -w 20 9`;

// Prints "copy NAME LINE" for each entry another run holds (then claims nothing), else "claimed",
// "claimed new" when this call made the claim (a retry finds it its own).
const CLAIM = `${PRELUDE}
now=$(date +%s); blocked=
for n in "$@"; do
  d=$locks/copy-$n
  if [ -d "$d" ] && [ "$(cut -d' ' -f1,2 "$d/owner" 2>/dev/null)" != "$wf $run" ]; then
    echo "copy $n $(cat "$d/owner" 2>/dev/null || echo "- - $(stat -c %Y "$d")")"; blocked=1
  fi
done
[ -n "$blocked" ] && exit 0
new=
for n in "$@"; do
  d=$locks/copy-$n
  [ -d "$d" ] || { mkdir "$d"; new=new; }
  printf '%s %s %s\\n' "$wf" "$run" "$now" > "$d/owner.tmp"; mv -f "$d/owner.tmp" "$d/owner"
done
echo "claimed $new"`;

const RELEASE = `${PRELUDE}
for n in "$@"; do
  d=$locks/copy-$n
  if [ "$(cut -d' ' -f1,2 "$d/owner" 2>/dev/null)" = "$wf $run" ]; then rm -rf -- "$d"; echo released; fi
done`;

// Compare-and-set removal of a holder judged dead: after the prelude, $1 the entry, $2 its exact line.
const DROP_DEAD = `${PRELUDE}
d=$locks/copy-$1
if [ "$(cat "$d/owner" 2>/dev/null || echo "- - $(stat -c %Y "$d" 2>/dev/null)")" = "$2" ]; then rm -rf -- "$d"; echo dropped; fi`;

export const copyLockScripts = {
  claim: (locks: string, o: LockOwner, names: string[]): Command => script(CLAIM, locks, o.workflowId, o.runId, ...names),
  release: (locks: string, o: LockOwner, names: string[]): Command => script(RELEASE, locks, o.workflowId, o.runId, ...names),
  dropDead: (locks: string, b: Blocker): Command => script(DROP_DEAD, locks, '-', '-', b.node ?? '', b.holder.line),
};
