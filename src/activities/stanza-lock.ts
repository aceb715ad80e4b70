import { Context } from '@temporalio/activity';
import { stopDetached } from '../remote/detached';
import type { Spec } from '../spec/schema';
import { claimLock, describeBlocker, describeHolder, releaseLock, type Blocker, type Liveness, type LockOwner, type LockPlace } from '../host/locks';
import { startsOnlyWhen, WHOLE, type LockKind } from '../host/lock-kinds';
import { runKeyOf } from '../host/detached-run';
import { refuse } from '../host/failures';
import { repoHost } from './hosts';
import type { HostOps } from '../host/host-ops';
import { scheduledBy } from '../host/scheduled-by';
import type { StepResult } from './types';

/** The stanza's locks live on its repository host, where pgBackRest keeps its own. */
export const stanzaPlace = (spec: Spec): LockPlace => ({ host: repoHost(spec), scope: 'stanza', stanza: spec.stanza });

/** Claims `kind` of the stanza, refused (non-retryable, nothing changed) with `busy` while a live holder is in its way. */
async function claimStanza(ops: HostOps, spec: Spec, owner: LockOwner, kind: LockKind, key: string, alive: Liveness, busy: (live: Blocker[]) => Error): Promise<boolean> {
  const { made, live } = await claimLock(ops, stanzaPlace(spec), owner, kind, [key], alive);
  if (live.length > 0) throw busy(live);
  return made;
}

const releaseStanza = (ops: HostOps, spec: Spec, owner: LockOwner, kind: LockKind, key = WHOLE): Promise<boolean> => releaseLock(ops, stanzaPlace(spec), owner, kind, [key]);

/** "stanza demo is busy: a recover (recover-demo since ...) runs. A provision starts only when ...; nothing was changed" */
const busy = (spec: Spec, kind: LockKind) => (live: Blocker[]) =>
  refuse(`stanza ${spec.stanza} is busy: ${live.map(describeBlocker).join('; ')} runs. ${startsOnlyWhen(kind)}; nothing was changed`, 'StanzaBusy');

/** The kinds that hold the whole stanza while they change which node is primary or what runs on the nodes. */
export type ClusterChange = 'recover' | 'switchover' | 'failover';

/** Holds the whole stanza for `kind`: refused (non-retryable, nothing changed) while anything it excludes runs. */
export async function claimClusterLock(ops: HostOps, spec: Spec, owner: LockOwner, kind: ClusterChange, alive: Liveness): Promise<StepResult> {
  const made = await claimStanza(ops, spec, owner, kind, WHOLE, alive, busy(spec, kind));
  return { changed: made, detail: `stanza ${spec.stanza} held for ${owner.workflowId}: backups and rebuilds of it are refused until it ends` };
}

/** Gives back the stanza, after stopping the run's backup if one still runs. */
export async function releaseClusterLock(ops: HostOps, spec: Spec, owner: LockOwner, kind: ClusterChange): Promise<StepResult> {
  const host = repoHost(spec);
  const stopped = await stopDetached(ops.remote, host, runKeyOf(owner.workflowId, owner.runId, 'runBackup', host));
  const released = await releaseStanza(ops, spec, owner, kind);
  return { changed: stopped || released, detail: `${stopped ? `stopped the backup still running on ${host.name}; ` : ''}${kind} lock ${released ? 'released' : 'was not held'}` };
}

/**
 * A rebuild holds its node on the repository host, so a recover can see it, and is refused
 * (non-retryable, nothing changed) while a recover or provision of the stanza runs. It is never
 * released: the entry of a run that ended is dropped by the next claim it is in the way of.
 */
export async function registerRebuild(ops: HostOps, spec: Spec, node: string, alive: Liveness): Promise<void> {
  await claimStanza(ops, spec, scheduledBy(Context.current().info), 'rebuild', node, alive, (live) => {
    const held = live.map(describeBlocker).join('; ');
    const whole = live.find((b) => b.kind === 'recover' || b.kind === 'provision')?.kind;
    const why = whole === undefined ? `stanza ${spec.stanza} is busy: ${held} runs.`
      : `stanza ${spec.stanza} is being ${whole === 'provision' ? 'provisioned' : 'recovered'}: ${held}. It ${whole === 'provision' ? 'restores the standbys' : 'rebuilds every standby'} itself;`;
    return refuse(`${why} a rebuild of ${node} is refused until it ends, nothing was changed`, 'RefusedRebuild');
  });
}

/**
 * A provision creates, starts and restores nodes: it holds the stanza against whatever changes the
 * cluster (each refused, non-retryable, while the other runs), not against backups (pgBackRest's own
 * lock orders them) or drills and restores, which only read the repository.
 */
export async function claimProvisionLock(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const made = await claimStanza(ops, spec, owner, 'provision', WHOLE, alive, busy(spec, 'provision'));
  // The lock is no part of the cluster: a provision that changed nothing else reports unchanged.
  return { changed: false, detail: `stanza ${spec.stanza} held for ${owner.workflowId}${made ? '' : ' (claimed by an earlier attempt)'}: recovers and rebuilds of it are refused until it ends` };
}

export async function releaseProvisionLock(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const released = await releaseStanza(ops, spec, owner, 'provision');
  return { changed: false, detail: `provision lock ${released ? 'released' : 'was not held'}` };
}

/**
 * A `restore --to` only reads the repository, beside backups, rebuilds, drills and other restores
 * (one entry per run); a recover would replace its timeline and backups under it: it is refused
 * (non-retryable, nothing done) while a recover runs, and a recover is refused while it is registered.
 */
export async function registerRestore(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const made = await claimStanza(ops, spec, owner, 'restore', owner.runId, alive,
    (live) => refuse(`stanza ${spec.stanza} is being recovered: ${live.map(describeBlocker).join('; ')}. It replaces the timeline and backups a copy would be restored from; a restore is refused until it ends, nothing was done`, 'StanzaBusy'));
  return { changed: made, detail: `restore ${owner.workflowId} registered: a recover of ${spec.stanza} is refused until it ends` };
}

export async function releaseRestore(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const released = await releaseStanza(ops, spec, owner, 'restore', owner.runId);
  return { changed: released, detail: `restore registration ${released ? 'removed' : 'was not there'}` };
}

/**
 * One restore drill of a stanza at a time (drill runs from before the copy lock: they share the
 * stanza's scratch directory and port). A second is refused (non-retryable) before it changes anything.
 */
export async function claimDrillLock(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const made = await claimStanza(ops, spec, owner, 'drill', WHOLE, alive,
    (live) => refuse(`a restore drill of stanza ${spec.stanza} is already running: ${live.map((b) => describeHolder(b.holder)).join('; ')}. One drill at a time (they share ${spec.drills?.host}:${spec.drills?.dataDir}); nothing was done`, 'DrillBusy'));
  return { changed: made, detail: `drills of ${spec.stanza} held for ${owner.workflowId}` };
}

export async function releaseDrillLock(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const released = await releaseStanza(ops, spec, owner, 'drill');
  return { changed: released, detail: `drill lock ${released ? 'released' : 'was not held'}` };
}
