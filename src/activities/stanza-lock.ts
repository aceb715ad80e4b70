import { Context } from '@temporalio/activity';
import { stopDetached } from '../remote/detached';
import type { Spec } from '../spec/schema';
import type { Command } from '../shell/command';
import { describeBlocker, describeHolder, LOCKS, lockScripts, type Blocker, type LockOwner } from '../host/stanza-locks';
import { claimPastDead, type Liveness } from '../host/lock-claim';
import { runKeyOf } from '../host/detached-run';
import { refuse } from '../host/failures';
import { repoHost } from './hosts';
import type { HostOps } from '../host/host-ops';
import { scheduledBy } from '../host/scheduled-by';
import type { StepResult } from './types';

/** The stanza's lock on its repository host. */
function claimStanza(ops: HostOps, spec: Spec, claim: Command, alive: Liveness, busy: (live: Blocker[]) => Error, what: string): Promise<string> {
  return claimPastDead(ops, repoHost(spec), claim, (b) => lockScripts.dropDead(LOCKS, spec.stanza, b), alive, busy, `${what} (stanza ${spec.stanza})`);
}

/**
 * A recover holds the whole stanza: refused (non-retryable, nothing changed) while a backup, a
 * rebuild, a provision, a `restore --to` or another recover of the stanza runs. Holds the backup lock too, for its own backup.
 */
export async function claimRecoverLock(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const out = await claimStanza(ops, spec, lockScripts.recoverClaim(LOCKS, spec.stanza, owner), alive,
    (live) => refuse(`stanza ${spec.stanza} is busy: ${live.map(describeBlocker).join('; ')} runs. A recover starts only when no backup, rebuild, provision, restore or other recover of the stanza runs; nothing was changed`, 'StanzaBusy'),
    'claiming it for a recover');
  return { changed: out === 'claimed new', detail: `stanza ${spec.stanza} held for ${owner.workflowId}: backups and rebuilds of it are refused until it ends` };
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
  await claimStanza(ops, spec, lockScripts.registerRebuild(LOCKS, spec.stanza, node, { workflowId, runId }), alive,
    (live) => refuse(`stanza ${spec.stanza} is being ${live[0].kind === 'provision' ? 'provisioned' : 'recovered'}: ${live.map(describeBlocker).join('; ')}. ` +
      `It ${live[0].kind === 'provision' ? 'restores the standbys' : 'rebuilds every standby'} itself; a rebuild of ${node} is refused until it ends, nothing was changed`, 'RefusedRebuild'),
    `registering a rebuild of ${node}`);
}

/**
 * A provision creates, starts and restores nodes: it holds the stanza against a recover, a rebuild
 * and another provision of it (each refused, non-retryable, while the other runs), not against
 * backups (pgBackRest's own lock orders them) or drills and restores, which only read the repository.
 */
export async function claimProvisionLock(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const out = await claimStanza(ops, spec, lockScripts.provisionClaim(LOCKS, spec.stanza, owner), alive,
    (live) => refuse(`stanza ${spec.stanza} is busy: ${live.map(describeBlocker).join('; ')} runs. A provision starts only when no recover, rebuild or other provision of the stanza runs; nothing was changed`, 'StanzaBusy'),
    'claiming it for a provision');
  // The lock is no part of the cluster: a provision that changed nothing else reports unchanged.
  return { changed: false, detail: `stanza ${spec.stanza} held for ${owner.workflowId}${out === 'claimed new' ? '' : ' (claimed by an earlier attempt)'}: recovers and rebuilds of it are refused until it ends` };
}

export async function releaseProvisionLock(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const released = (await ops.must(repoHost(spec), lockScripts.provisionRelease(LOCKS, spec.stanza, owner))).trim() === 'released';
  return { changed: false, detail: `provision lock ${released ? 'released' : 'was not held'}` };
}

/**
 * A `restore --to` only reads the repository, beside backups, rebuilds, drills and other restores;
 * a recover would replace its timeline and backups under it: it is refused (non-retryable, nothing
 * done) while a recover runs, and a recover is refused while it is registered.
 */
export async function registerRestore(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const out = await claimStanza(ops, spec, lockScripts.registerRestore(LOCKS, spec.stanza, owner), alive,
    (live) => refuse(`stanza ${spec.stanza} is being recovered: ${live.map(describeBlocker).join('; ')}. It replaces the timeline and backups a copy would be restored from; a restore is refused until it ends, nothing was done`, 'StanzaBusy'),
    'registering a restore');
  return { changed: out === 'registered', detail: `restore ${owner.workflowId} registered: a recover of ${spec.stanza} is refused until it ends` };
}

export async function releaseRestore(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const released = (await ops.must(repoHost(spec), lockScripts.restoreRelease(LOCKS, spec.stanza, owner))).trim() === 'released';
  return { changed: released, detail: `restore registration ${released ? 'removed' : 'was not there'}` };
}

/**
 * One restore drill of a stanza at a time, however started (CLI, schedule, trigger): they share the
 * scratch directory and port. A second is refused (non-retryable) before it changes anything.
 */
export async function claimDrillLock(ops: HostOps, spec: Spec, owner: LockOwner, alive: Liveness): Promise<StepResult> {
  const out = await claimStanza(ops, spec, lockScripts.drillClaim(LOCKS, spec.stanza, owner), alive,
    (live) => refuse(`a restore drill of stanza ${spec.stanza} is already running: ${live.map((b) => describeHolder(b.holder)).join('; ')}. One drill at a time (they share ${spec.drills?.host}:${spec.drills?.dataDir}); nothing was done`, 'DrillBusy'),
    'claiming it for a drill');
  return { changed: out === 'claimed new', detail: `drills of ${spec.stanza} held for ${owner.workflowId}` };
}

export async function releaseDrillLock(ops: HostOps, spec: Spec, owner: LockOwner): Promise<StepResult> {
  const released = (await ops.must(repoHost(spec), lockScripts.drillRelease(LOCKS, spec.stanza, owner))).trim() === 'released';
  return { changed: released, detail: `drill lock ${released ? 'released' : 'was not held'}` };
}
