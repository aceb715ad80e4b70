import { program } from '../paths';
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
 * Every action of scripts/stanza-lock.sh runs under flock(1) on a file beside the directory: a
 * claim, a takeover, a refresh and a release are each one atomic read-compare-write against the
 * others. It takes the locks directory as an argument (the repository host's LOCKS; unit tests use
 * a temp directory).
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

// One program for every lock action, the first argument naming it (scripts/stanza-lock.sh).
const STANZA_LOCK = program('host', 'stanza-lock');
const act = (action: string, ...args: string[]): Command => script(STANZA_LOCK, action, ...args);

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
  claim: (locks: string, stanza: string, o: LockOwner): Command => act('claim', locks, stanza, o.workflowId, o.runId, String(OWNERLESS_GRACE_SECONDS)),
  takeOver: (locks: string, stanza: string, o: LockOwner, judged: Holder): Command => act('take_over', locks, stanza, o.workflowId, o.runId, judged.line),
  refresh: (locks: string, stanza: string, o: LockOwner): Command => act('refresh', locks, stanza, o.workflowId, o.runId),
  release: (locks: string, stanza: string, o: LockOwner): Command => act('release', locks, stanza, o.workflowId, o.runId),
  recoverClaim: (locks: string, stanza: string, o: LockOwner): Command => act('recover_claim', locks, stanza, o.workflowId, o.runId),
  recoverRelease: (locks: string, stanza: string, o: LockOwner): Command => act('recover_release', locks, stanza, o.workflowId, o.runId),
  registerRebuild: (locks: string, stanza: string, node: string, o: LockOwner): Command => act('rebuild_register', locks, stanza, node, o.workflowId, o.runId),
  drillClaim: (locks: string, stanza: string, o: LockOwner): Command => act('drill_claim', locks, stanza, o.workflowId, o.runId),
  drillRelease: (locks: string, stanza: string, o: LockOwner): Command => act('drill_release', locks, stanza, o.workflowId, o.runId),
  provisionClaim: (locks: string, stanza: string, o: LockOwner): Command => act('provision_claim', locks, stanza, o.workflowId, o.runId),
  provisionRelease: (locks: string, stanza: string, o: LockOwner): Command => act('provision_release', locks, stanza, o.workflowId, o.runId),
  registerRestore: (locks: string, stanza: string, o: LockOwner): Command => act('restore_register', locks, stanza, o.workflowId, o.runId),
  restoreRelease: (locks: string, stanza: string, o: LockOwner): Command => act('restore_release', locks, stanza, o.workflowId, o.runId),
  dropDead: (locks: string, stanza: string, b: Blocker): Command => act('drop_dead', locks, stanza, b.kind, b.holder.line, b.node ?? ''),
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
