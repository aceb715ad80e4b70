import { script, type Command } from '../shell/command';

/**
 * The stanza's operation lock on the repository host, where pgBackRest keeps its own lock:
 * - `backup-<stanza>/`: one backup at a time, whoever asks (CLI, schedule, trigger);
 * - `recover-<stanza>/`: a recover of the whole cluster, which also holds `backup-<stanza>/` (it
 *   takes a backup of its own) and excludes every backup and rebuild of the stanza while it runs;
 * - `rebuilds-<stanza>/<node>`: a rebuild of that node registered itself (rebuilds of different
 *   nodes run side by side, and beside backups); a recover waits for none of them: it is refused;
 * - `drill-<stanza>/`: a restore drill, one at a time however started (its scratch directory and
 *   port are the stanza's), beside anything else;
 * - `provision-<stanza>/`: a provision, which creates, starts and restores nodes: it excludes a
 *   recover, a rebuild and another provision of the stanza (each way round), not backups;
 * - `restores-<stanza>/<run id>`: a `restore --to` registered itself: it only reads the repository,
 *   side by side with anything but a recover, which replaces what it would restore.
 * Every holder but a backup holds as long as its workflow run is open (stanza-lock.ts).
 * A lock directory holds `owner`, a registration is itself, one line "WORKFLOW_ID RUN_ID SINCE"
 * (epoch seconds), always written to a temp file and renamed into place, so a reader never sees
 * half a line.
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
rec=$locks/recover-$stanza
rebuilds=$locks/rebuilds-$stanza
drl=$locks/drill-$stanza
prov=$locks/provision-$stanza
restores=$locks/restores-$stanza
line_to() { printf '%s %s %s\\n' "$2" "$3" "$now" > "$1.tmp"; mv -f "$1.tmp" "$1"; }
write_owner() { line_to "$dir/owner" "$1" "$2"; }
holder_of() { cat "$1/owner" 2>/dev/null || echo "- - $(stat -c %Y "$1")"; }
held_by() { [ "$(cut -d' ' -f1,2 "$1" 2>/dev/null)" = "$2 $3" ]; }`;

// Prints the owner line ("- - MTIME" for an owner-less directory within its grace), now, and "new"
// when this call made the claim (a retry of the claiming step finds its own claim: not new); a
// fourth line, the holder of the stanza's recover lock, when a recover of another run holds it:
// then nothing is claimed.
const CLAIM = `${PRELUDE}
new=
if [ -d "$rec" ] && ! held_by "$rec/owner" "$3" "$4"; then
  echo "- - 0"; echo "$now"; echo; holder_of "$rec"; exit 0
fi
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
if held_by "$dir/owner" "$3" "$4"; then rm -rf -- "$dir"; echo released; fi`;

// A recover claims the stanza when nothing else holds it: prints each holder in its way
// ("recover LINE", "backup LINE", "rebuild NODE LINE", "provision LINE", "restore LINE"), or "claimed" once it holds both its own
// lock and the backup lock, "claimed new" when this call made the claim (a retry finds it its own).
const RECOVER_CLAIM = `${PRELUDE}
# Another recover holds the backup lock too: it alone is named.
if [ -d "$rec" ] && ! held_by "$rec/owner" "$3" "$4"; then echo "recover $(holder_of "$rec")"; exit 0; fi
blocked=
if [ -d "$dir" ] && ! held_by "$dir/owner" "$3" "$4"; then echo "backup $(holder_of "$dir")"; blocked=1; fi
for f in "$rebuilds"/*; do
  if [ -f "$f" ]; then echo "rebuild \${f##*/} $(cat "$f")"; blocked=1; fi
done
if [ -d "$prov" ]; then echo "provision $(holder_of "$prov")"; blocked=1; fi
for f in "$restores"/*; do
  if [ -f "$f" ]; then echo "restore $(cat "$f")"; blocked=1; fi
done
[ -n "$blocked" ] && exit 0
new=new; [ -d "$rec" ] && new=
mkdir -p "$rec" "$dir"
line_to "$rec/owner" "$3" "$4"; line_to "$dir/owner" "$3" "$4"
echo "claimed $new"`;

// Gives back the recover lock and the backup lock it holds; prints "released" when it held them.
const RECOVER_RELEASE = `${PRELUDE}
if held_by "$dir/owner" "$3" "$4"; then rm -rf -- "$dir"; fi
if held_by "$rec/owner" "$3" "$4"; then rm -rf -- "$rec"; echo released; fi`;

// A rebuild of node $3 registers itself, unless a recover or a provision holds the stanza (prints its holder).
const REBUILD_REGISTER = `${PRELUDE}
if [ -d "$rec" ]; then echo "recover $(holder_of "$rec")"; exit 0; fi
if [ -d "$prov" ]; then echo "provision $(holder_of "$prov")"; exit 0; fi
install -d -m 700 "$rebuilds"
line_to "$rebuilds/$3" "$4" "$5"
echo registered`;

// A drill claims the stanza's drill lock unless another drill holds it (prints "drill LINE"); prints
// "claimed", "claimed new" when this call made the claim.
const DRILL_CLAIM = `${PRELUDE}
if [ -d "$drl" ] && ! held_by "$drl/owner" "$3" "$4"; then echo "drill $(holder_of "$drl")"; exit 0; fi
new=new; [ -d "$drl" ] && new=
mkdir -p "$drl"; line_to "$drl/owner" "$3" "$4"
echo "claimed $new"`;

const DRILL_RELEASE = `${PRELUDE}
if held_by "$drl/owner" "$3" "$4"; then rm -rf -- "$drl"; echo released; fi`;

// A provision claims the stanza unless a recover, a rebuild or another provision holds it (prints
// each, as RECOVER_CLAIM does); prints "claimed", "claimed new" when this call made the claim.
const PROVISION_CLAIM = `${PRELUDE}
blocked=
if [ -d "$rec" ]; then echo "recover $(holder_of "$rec")"; blocked=1; fi
if [ -d "$prov" ] && ! held_by "$prov/owner" "$3" "$4"; then echo "provision $(holder_of "$prov")"; blocked=1; fi
for f in "$rebuilds"/*; do
  if [ -f "$f" ]; then echo "rebuild \${f##*/} $(cat "$f")"; blocked=1; fi
done
[ -n "$blocked" ] && exit 0
new=new; [ -d "$prov" ] && new=
mkdir -p "$prov"; line_to "$prov/owner" "$3" "$4"
echo "claimed $new"`;

/** Gives back a lock directory (shell variable `dir` of PRELUDE) held by $3 $4; prints "released" when it held it. */
const releaseOf = (dir: string) => `${PRELUDE}
if held_by "$${dir}/owner" "$3" "$4"; then rm -rf -- "$${dir}"; echo released; fi`;

// A registration is a file named after its run id: a run id is letters, digits and dashes, never a path.
const RUN_ENTRY = `case $4 in ''|*[!A-Za-z0-9-]*) echo "not a run id: $4" >&2; exit 2 ;; esac
entry=$restores/$4`;

// A restore --to registers itself (one file per run) unless a recover holds the stanza (prints it).
const RESTORE_REGISTER = `${PRELUDE}
${RUN_ENTRY}
if [ -d "$rec" ]; then echo "recover $(holder_of "$rec")"; exit 0; fi
install -d -m 700 "$restores"
line_to "$entry" "$3" "$4"
echo registered`;

const RESTORE_RELEASE = `${PRELUDE}
${RUN_ENTRY}
if held_by "$entry" "$3" "$4"; then rm -f -- "$entry"; rmdir "$restores" 2>/dev/null || true; echo released; fi`;

// Compare-and-set removal of a holder judged dead ($3 what, as RECOVER_CLAIM names it; $4 its
// exact line, $5 the node of a rebuild): nothing is removed when the line changed meanwhile. A dead
// recover's backup lock goes with it.
const DROP_DEAD = `${PRELUDE}
case $3 in
  recover) f=$rec/owner; d=$rec ;;
  backup) f=$dir/owner; d=$dir ;;
  rebuild) f=$rebuilds/$5; d=$f ;;
  drill) f=$drl/owner; d=$drl ;;
  provision) f=$prov/owner; d=$prov ;;
  restore) r=$(printf '%s' "$4" | cut -d' ' -f2); case $r in ''|*[!A-Za-z0-9-]*) exit 0 ;; esac; f=$restores/$r; d=$f ;;
esac
if [ "$(cat "$f" 2>/dev/null || echo "- - $(stat -c %Y "$d" 2>/dev/null)")" = "$4" ]; then
  if [ "$3" = recover ] && held_by "$dir/owner" $4; then rm -rf -- "$dir"; fi
  rm -rf -- "$d"; echo dropped
fi`;

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
  recoverClaim: (locks: string, stanza: string, o: LockOwner): Command => script(RECOVER_CLAIM, locks, stanza, o.workflowId, o.runId),
  recoverRelease: (locks: string, stanza: string, o: LockOwner): Command => script(RECOVER_RELEASE, locks, stanza, o.workflowId, o.runId),
  registerRebuild: (locks: string, stanza: string, node: string, o: LockOwner): Command => script(REBUILD_REGISTER, locks, stanza, node, o.workflowId, o.runId),
  drillClaim: (locks: string, stanza: string, o: LockOwner): Command => script(DRILL_CLAIM, locks, stanza, o.workflowId, o.runId),
  drillRelease: (locks: string, stanza: string, o: LockOwner): Command => script(DRILL_RELEASE, locks, stanza, o.workflowId, o.runId),
  provisionClaim: (locks: string, stanza: string, o: LockOwner): Command => script(PROVISION_CLAIM, locks, stanza, o.workflowId, o.runId),
  provisionRelease: (locks: string, stanza: string, o: LockOwner): Command => script(releaseOf('prov'), locks, stanza, o.workflowId, o.runId),
  registerRestore: (locks: string, stanza: string, o: LockOwner): Command => script(RESTORE_REGISTER, locks, stanza, o.workflowId, o.runId),
  restoreRelease: (locks: string, stanza: string, o: LockOwner): Command => script(RESTORE_RELEASE, locks, stanza, o.workflowId, o.runId),
  dropDead: (locks: string, stanza: string, b: Blocker): Command => script(DROP_DEAD, locks, stanza, b.kind, b.holder.line, b.node ?? ''),
};

/**
 * Who keeps a recover from claiming the stanza (or, kind `recover`, a backup or rebuild from
 * starting; kind `drill`, another drill; kind `copy`, a drill or restore --to from using a copy
 * host's directory or port: activities/copy-lock.ts; kinds `provision` and `restore`: PROVISION_CLAIM,
 * RESTORE_REGISTER).
 */
export interface Blocker {
  readonly kind: 'recover' | 'backup' | 'rebuild' | 'drill' | 'copy' | 'provision' | 'restore';
  readonly holder: Holder;
  /** The node a rebuild works on; the directory or port a copy holds. */
  readonly node?: string;
}

/** A claim script's output: "claimed"/"registered", or the holders in the way. */
export function parseBlockers(out: string): Blocker[] {
  return out.split('\n').filter((l) => /^(recover|backup|rebuild|drill|copy|provision|restore) /.test(l)).map((l) => {
    const [kind, ...rest] = l.split(' ');
    if (kind === 'rebuild' || kind === 'copy') return { kind, node: rest[0], holder: parseHolder(rest.slice(1).join(' ')) };
    return { kind: kind as Blocker['kind'], holder: parseHolder(rest.join(' ')) };
  });
}

export function describeBlocker(b: Blocker): string {
  const what = b.kind === 'rebuild' ? `a rebuild of ${b.node}` : b.kind === 'restore' ? 'a restore --to' : `a ${b.kind}`;
  return `${what} (${describeHolder(b.holder)})`;
}

/**
 * CLAIM's output: the holder now, the host's clock, whether this call made the claim, and the
 * holder of a recover of the stanza that kept this claim from being made.
 */
export function parseClaim(out: string): { holder: Holder; now: number; made: boolean; recover?: Holder } {
  const [line, now, made, recover] = out.split('\n');
  return { holder: parseHolder(line), now: Number(now), made: made === 'new', recover: recover ? parseHolder(recover) : undefined };
}
