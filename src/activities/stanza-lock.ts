import { Context } from '@temporalio/activity';
import { stopDetached } from '../remote/detached';
import type { Spec } from '../spec/schema';
import { describeBlocker, LOCKS, lockScripts, OWNERLESS_GRACE_SECONDS, parseBlockers, type Blocker, type Holder, type LockOwner } from './backup-lock';
import { runKeyOf } from './detached-run';
import { refuse } from './failures';
import { repoHost } from './hosts';
import type { HostOps } from './host-ops';
import { scheduledBy } from './scheduled-by';
import type { StepResult } from './types';

/**
 * Whether a workflow run is still open, asked of Temporal: a recover or rebuild holds the stanza as
 * long as its workflow runs (they wait minutes on steps that renew nothing), and no longer.
 */
export type Liveness = (workflowId: string, runId: string) => Promise<boolean>;

/** A holder without an owner line (a claim interrupted midway) is dead after its grace; others while their workflow runs. */
export async function holderAlive(h: Holder, now: number, alive: Liveness): Promise<boolean> {
  if (h.workflowId === '-') return now - h.since <= OWNERLESS_GRACE_SECONDS;
  return alive(h.workflowId, h.runId);
}

/** Removes the holders whose workflow ended (compare-and-set); returns those still alive. */
async function liveBlockers(ops: HostOps, spec: Spec, blockers: Blocker[], alive: Liveness): Promise<Blocker[]> {
  const now = Date.now() / 1000;
  const live: Blocker[] = [];
  for (const b of blockers) {
    if (await holderAlive(b.holder, now, alive)) live.push(b);
    else await ops.must(repoHost(spec), lockScripts.dropDead(LOCKS, spec.stanza, b));
  }
  return live;
}

// A holder found dead is dropped and the claim tried again; a third round finding only dead ones is a race lost thrice.
const ROUNDS = 3;

/**
 * A recover holds the whole stanza: refused (non-retryable, nothing changed) while a backup, a
 * rebuild or another recover of the stanza runs. Holds the backup lock too, for its own backup.
 */
export async function claimRecoverLock(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const host = repoHost(spec);
  for (let round = 1; ; round++) {
    const out = (await ops.must(host, lockScripts.recoverClaim(LOCKS, spec.stanza, owner))).trim();
    if (out.startsWith('claimed')) return { changed: out === 'claimed new', detail: `stanza ${spec.stanza} held for ${owner.workflowId}: backups and rebuilds of it are refused until it ends` };
    const live = await liveBlockers(ops, spec, parseBlockers(out), alive);
    if (live.length > 0) {
      throw refuse(`stanza ${spec.stanza} is busy: ${live.map(describeBlocker).join('; ')} runs. A recover starts only when no backup, rebuild or other recover of the stanza runs; nothing was changed`, 'StanzaBusy');
    }
    if (round === ROUNDS) throw new Error(`stanza ${spec.stanza}: the lock changed hands ${ROUNDS} times while being claimed`);
  }
}

/** Gives back the recover lock (and its backup lock), after stopping its backup if one still runs. */
export async function releaseRecoverLock(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const host = repoHost(spec);
  const stopped = await stopDetached(ops.remote, host, runKeyOf(owner.workflowId, owner.runId, 'runBackup', host));
  const released = (await ops.must(host, lockScripts.recoverRelease(LOCKS, spec.stanza, owner))).trim() === 'released';
  return { changed: stopped || released, detail: `${stopped ? `stopped the backup still running on ${host.name}; ` : ''}recover lock ${released ? 'released' : 'was not held'}` };
}

/**
 * A rebuild registers itself on the repository host, so a recover can see it, and is refused
 * (non-retryable, nothing changed) while a recover of the stanza runs.
 */
export async function registerRebuild(ops: HostOps, spec: Spec, node: string, alive: Liveness): Promise<void> {
  const { workflowId, runId } = scheduledBy(Context.current().info);
  const host = repoHost(spec);
  for (let round = 1; ; round++) {
    const out = (await ops.must(host, lockScripts.registerRebuild(LOCKS, spec.stanza, node, { workflowId, runId }))).trim();
    if (out === 'registered') return;
    const live = await liveBlockers(ops, spec, parseBlockers(out), alive);
    if (live.length > 0) {
      throw refuse(`stanza ${spec.stanza} is being recovered: ${live.map(describeBlocker).join('; ')}. It rebuilds every standby itself; a rebuild of ${node} is refused until it ends, nothing was changed`, 'RefusedRebuild');
    }
    if (round === ROUNDS) throw new Error(`stanza ${spec.stanza}: the recover lock changed hands ${ROUNDS} times while registering a rebuild of ${node}`);
  }
}
