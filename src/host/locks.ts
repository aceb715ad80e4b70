import { program } from '../paths';
import type { HostAddress } from '../remote/types';
import { script, type Command } from '../shell/command';
import type { HostOps } from './host-ops';
import { conflictsOf, describeKind, LOCK_KIND_NAMES, type LockKind, type LockScope } from './lock-kinds';

/**
 * Every lock is an entry LOCKS/SCOPE/KIND/KEY on one host (the stanza's on its repository host,
 * where pgBackRest keeps its own lock; a copy host's directory and port on the copy host) holding
 * one line "WORKFLOW_ID RUN_ID SINCE". scripts/lock.sh claims, releases and drops them, each under
 * flock(1) on a file per scope; lock-kinds.ts says who excludes whom.
 *
 * One liveness rule for every holder: it lives while its Temporal workflow run is open (Running),
 * asked of the worker's server; Completed, Failed, Terminated, TimedOut, Canceled, ContinuedAsNew,
 * or NotFound (deleted by retention) is dead, and its entry is dropped by the next claim in its way
 * (compare-and-set). It survives a worker crash (the run stays open and its retry finds the same
 * entry its own), a terminated run (closed: dropped) and retention (NotFound: dropped); it needs no
 * renewal, so a run waiting minutes on a step keeps its lock, and a live run's lock is never taken.
 * An attempt still executing when its run was terminated stops at its next heartbeat; a detached
 * pgBackRest it left behind keeps pgBackRest's own lock, so a next backup fails retryably
 * (LockAcquireError) until it ends, never running beside it.
 */
export const LOCKS = '/var/lib/stanzactl/locks';

/**
 * An entry without an owner line: a write torn by a crash, or a claim of the layout before one
 * table interrupted between its mkdir and its owner (lock.sh adopts those). Dead after this grace.
 */
export const OWNERLESS_GRACE_SECONDS = 30;

const LOCK = program('host', 'lock');

export interface LockOwner {
  readonly workflowId: string;
  readonly runId: string;
}

export interface Holder extends LockOwner {
  /** Epoch seconds of the claim. */
  readonly since: number;
  /** The exact line read, for the compare-and-set of a drop. */
  readonly line: string;
}

/** An entry in a claim's way. */
export interface Blocker {
  readonly kind: LockKind;
  readonly key: string;
  readonly holder: Holder;
}

/** Where a lock lives: the stanza's scope, or the copy host's. */
export interface LockPlace {
  readonly host: HostAddress;
  readonly scope: LockScope;
  readonly stanza: string;
}

export function parseHolder(line: string): Holder {
  const [workflowId = '-', runId = '-', since = '0'] = line.trim().split(' ');
  return { workflowId, runId, since: Number(since), line: line.trim() };
}

/** When the holder claimed, as an ISO time. */
export const claimedAt = (h: Holder): string => new Date(h.since * 1000).toISOString();

export function describeHolder(h: Holder): string {
  return h.workflowId === '-' ? `an unfinished claim (no owner) since ${claimedAt(h)}` : `${h.workflowId} since ${claimedAt(h)}`;
}

export function describeBlocker(b: Blocker): string {
  return `${describeKind(b.kind, b.key)} (${describeHolder(b.holder)})`;
}

/** A claim's output: "claimed", "claimed new", or a line "KIND KEY LINE" per holder in the way. */
export function parseBlockers(out: string): Blocker[] {
  return out.split('\n').map((l) => l.split(' ')).filter(([kind]) => (LOCK_KIND_NAMES as string[]).includes(kind))
    .map(([kind, key, ...line]) => ({ kind: kind as LockKind, key, holder: parseHolder(line.join(' ')) }));
}

const scopeDir = (p: Pick<LockPlace, 'scope' | 'stanza'>): string => (p.scope === 'stanza' ? `stanza-${p.stanza}` : 'copies');

export const lockScripts = {
  claim: (locks: string, p: Pick<LockPlace, 'scope' | 'stanza'>, o: LockOwner, kind: LockKind, keys: string[]): Command =>
    script(LOCK, 'claim', locks, scopeDir(p), o.workflowId, o.runId, kind, ...keys, '--', ...conflictsOf(kind, keys)),
  release: (locks: string, p: Pick<LockPlace, 'scope' | 'stanza'>, o: LockOwner, kind: LockKind, keys: string[]): Command =>
    script(LOCK, 'release', locks, scopeDir(p), o.workflowId, o.runId, kind, ...keys),
  dropDead: (locks: string, p: Pick<LockPlace, 'scope' | 'stanza'>, b: Blocker): Command => script(LOCK, 'drop_dead', locks, scopeDir(p), b.kind, b.key, b.holder.line),
};

/** Whether a workflow run is open (Running), asked of Temporal. */
export type Liveness = (workflowId: string, runId: string) => Promise<boolean>;

/** A holder without an owner line is dead after its grace; others while their run is open. */
export async function holderAlive(h: Holder, now: number, alive: Liveness): Promise<boolean> {
  if (h.workflowId === '-') return now - h.since <= OWNERLESS_GRACE_SECONDS;
  return alive(h.workflowId, h.runId);
}

// A holder found dead is dropped and the claim tried again; a third round finding only dead ones is a race lost thrice.
const ROUNDS = 3;

/**
 * Claims `kind` under `keys` at `place` for `owner`: holders in the way whose run closed are
 * dropped and the claim tried again. Returns whether this call made the claim, or the live
 * holders in its way (then nothing was claimed).
 */
export async function claimLock(ops: HostOps, place: LockPlace, owner: LockOwner, kind: LockKind, keys: string[], alive: Liveness): Promise<{ made: boolean; live: Blocker[] }> {
  for (let round = 1; ; round++) {
    const out = (await ops.must(place.host, lockScripts.claim(LOCKS, place, owner, kind, keys))).trim();
    const blockers = parseBlockers(out);
    if (blockers.length === 0) return { made: out === 'claimed new', live: [] };
    const now = Date.now() / 1000;
    const live: Blocker[] = [];
    for (const b of blockers) {
      if (await holderAlive(b.holder, now, alive)) live.push(b);
      else await ops.must(place.host, lockScripts.dropDead(LOCKS, place, b));
    }
    if (live.length > 0) return { made: false, live };
    if (round === ROUNDS) throw new Error(`${place.host.name}: the ${kind} lock changed hands ${ROUNDS} times while claiming it (${scopeDir(place)})`);
  }
}

/** Gives back what `owner` holds of `kind` under `keys`; whether it held any. */
export async function releaseLock(ops: HostOps, place: LockPlace, owner: LockOwner, kind: LockKind, keys: string[]): Promise<boolean> {
  return (await ops.must(place.host, lockScripts.release(LOCKS, place, owner, kind, keys))).includes('released');
}
