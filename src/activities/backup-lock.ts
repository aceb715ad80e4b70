import { script, type Command } from '../shell/command';

/**
 * One backup of a stanza at a time, whoever asks (CLI, schedule, trigger): a lock directory on the
 * repository host, where pgBackRest keeps its own lock. The directory holds `owner`, one line
 * "WORKFLOW_ID RUN_ID SINCE" (epoch seconds), always written to a temp file and renamed into place,
 * so a reader never sees half a line.
 *
 * Every script below runs under flock(1) on a file beside the directory: a claim, a takeover, a
 * refresh and a release are each one atomic read-compare-write against the others. The scripts
 * take the locks directory as $1 (the repository host's LOCKS; unit tests use a temp directory).
 */
export const LOCKS = '/var/lib/stanzactl/locks';

/**
 * A holder whose backup run is not running and whose claim was not refreshed for this long has
 * died: it is taken over. runBackup refreshes the claim before it starts pgBackRest, so a holder
 * waiting for a retry keeps its claim only if it comes back within this time; if it comes back
 * later it finds the lock taken over and stops, never starting pgBackRest beside the new holder.
 */
export const STALE_SECONDS = 120;

/**
 * A directory without an owner is a claim interrupted between mkdir and the rename of its owner
 * file (or one made by a human). Claims by this version hold the flock across both, so only an
 * older worker mid-claim could be in that gap: after this grace the directory is removed.
 */
export const OWNERLESS_GRACE_SECONDS = 30;

const PRELUDE = `set -eu
locks=$1; stanza=$2
install -d -m 700 "$locks"
dir=$locks/backup-$stanza
exec 9>"$locks/.backup-$stanza.flock"
flock -w 20 9
now=$(date +%s)
write_owner() { printf '%s %s %s\\n' "$1" "$2" "$now" > "$dir/owner.tmp"; mv -f "$dir/owner.tmp" "$dir/owner"; }`;

// Prints the owner line ("- - MTIME" for an owner-less directory within its grace), now, and "new"
// when this call made the claim (a retry of the claiming step finds its own claim: not new).
const CLAIM = `${PRELUDE}
new=
if [ -d "$dir" ] && [ ! -e "$dir/owner" ] && [ $((now - $(stat -c %Y "$dir"))) -gt ${OWNERLESS_GRACE_SECONDS} ]; then
  rm -rf -- "$dir"
fi
if mkdir "$dir" 2>/dev/null; then write_owner "$3" "$4"; new=new; fi
cat "$dir/owner" 2>/dev/null || echo "- - $(stat -c %Y "$dir")"
echo "$now"; echo "$new"`;

// Compare-and-set: replaces the owner only if it is still the line judged dead (same since), or
// claims the lock if its holder released it meanwhile.
const TAKE_OVER = `${PRELUDE}
if [ ! -d "$dir" ] || [ "$(cat "$dir/owner" 2>/dev/null)" = "$5" ]; then
  mkdir -p "$dir"; write_owner "$3" "$4"
fi
cat "$dir/owner" 2>/dev/null || echo "- - $(stat -c %Y "$dir")"`;

// The holder renews its claim; prints "held", or the line of whoever holds the lock now ("- - 0": nobody).
const REFRESH = `${PRELUDE}
if [ "$(cut -d' ' -f1,2 "$dir/owner" 2>/dev/null)" = "$3 $4" ]; then write_owner "$3" "$4"; echo held
else cat "$dir/owner" 2>/dev/null || echo "- - 0"; fi`;

const RELEASE = `${PRELUDE}
if [ "$(cut -d' ' -f1,2 "$dir/owner" 2>/dev/null)" = "$3 $4" ]; then rm -rf -- "$dir"; echo released; fi`;

export interface LockOwner {
  readonly workflowId: string;
  readonly runId: string;
}

export interface Holder extends LockOwner {
  /** Epoch seconds of the claim or its last refresh. */
  readonly since: number;
  /** The exact line read, for the compare-and-set of a takeover. */
  readonly line: string;
}

export function parseHolder(line: string): Holder {
  const [workflowId = '-', runId = '-', since = '0'] = line.trim().split(' ');
  return { workflowId, runId, since: Number(since), line: line.trim() };
}

export function isOwner(h: LockOwner, o: LockOwner): boolean {
  return h.workflowId === o.workflowId && h.runId === o.runId;
}

/** Whether another holder has died: its backup does not run and it has not renewed its claim. */
export function isStale(h: Holder, now: number, backupRunning: boolean): boolean {
  return !backupRunning && now - h.since > STALE_SECONDS;
}

export function describeHolder(h: Holder): string {
  const since = new Date(h.since * 1000).toISOString();
  return h.workflowId === '-' ? `an unfinished claim (no owner) since ${since}` : `${h.workflowId} since ${since}`;
}

export const lockScripts = {
  claim: (locks: string, stanza: string, o: LockOwner): Command => script(CLAIM, locks, stanza, o.workflowId, o.runId),
  takeOver: (locks: string, stanza: string, o: LockOwner, judged: Holder): Command => script(TAKE_OVER, locks, stanza, o.workflowId, o.runId, judged.line),
  refresh: (locks: string, stanza: string, o: LockOwner): Command => script(REFRESH, locks, stanza, o.workflowId, o.runId),
  release: (locks: string, stanza: string, o: LockOwner): Command => script(RELEASE, locks, stanza, o.workflowId, o.runId),
};

/** CLAIM's output: the holder now, the host's clock, and whether this call made the claim. */
export function parseClaim(out: string): { holder: Holder; now: number; made: boolean } {
  const [line, now, made] = out.split('\n');
  return { holder: parseHolder(line), now: Number(now), made: made === 'new' };
}
