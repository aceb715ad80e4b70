import type { Remote } from '../remote/types';
import type { BackupType, RepoIndex, Spec } from '../spec/schema';
import { preflight } from './preflight';
import { ensureNodeDirectories, ensureRepositoryHost } from './directories';
import { ensureSshTrust } from './trust';
import { ensurePgbackrestConf } from './pgbackrest-conf';
import { ensurePrimary, ensureReplicationAccess } from './primary';
import { checkStanza, ensureFullBackup, ensureStanza } from './stanza';
import { ensureStandbyPgpass, prepareStandby, restoreStandby, startStandby, waitStreaming, type DeltaBy } from './standby';
import { chooseBackupSource, claimBackupLock, releaseBackupLock, runBackup, type BackupOwner } from './backup';
import { inspectRebuildTarget, waitMarkerReplayed, writeMarker } from './rebuild';
import { checkDrillChecksums, checkDrillCopy, drillStatus, recordDrill, verifyRepository, writeDrillMarker, type DrillMarker } from './drill';
import type { DrillResult } from '../facts/drill';
import { findNode } from './hosts';
import { heartbeating } from '../host/heartbeat';
import { classified, refuse } from '../host/failures';
import { SpecError } from '../spec/errors';
import { specIssues } from '../spec/validate';
import { HostOps } from '../host/host-ops';
import { attemptRemote } from '../host/attempt-remote';
import { primaryStatus, repositoryStatus, standbyStatus } from './status';
import { observeTopology } from './topology';
import { ensureCopyHost, inspectCopy, prepareCopy, removeCopy, restoreCopy, startCopy, waitCopyPromoted } from './restore-copy';
import type { CopyPlace } from '../spec/restore-copy';
import { copyPurpose } from './copy-dir';
import { claimCopyLock, releaseCopyLock } from './copy-lock';
import { rememberSpec } from './known-specs';
import type { RecoveryTarget } from '../spec/recovery-target';
import { claimClusterLock, claimDrillLock, claimProvisionLock, registerRestore, releaseClusterLock, releaseDrillLock, releaseProvisionLock, releaseRestore } from './stanza-lock';
import type { Liveness } from '../host/locks';
import { requireConfirmed } from './confirmation';
import type { DestructiveAction } from '../spec/confirmation';
import { fenceNode, planFailover, type Fence } from './failover';
import { checkpointPrimary, planSwitchover, pointAtPrimary, promoteNode, waitShutdownReplayed } from './switchover';
import { planRewind, rewindNode } from './rewind';
import { archivePrimaryWal, planRecovery, restorePrimary, stopPostgres, waitPrimaryPromoted } from './recover';
import { requestRepositorySlot, type AskBudget } from './repository-budget';
import type { SlotRequest } from '../budget/protocol';

export interface ActivityDeps {
  /** A Remote for a spec's SSH settings; the worker caches one pool per settings. */
  readonly remoteFor: (ssh: Spec['ssh']) => Remote;
  /**
   * Whether a workflow run is open (the worker asks its Temporal server): decides whether a recover
   * or rebuild that holds the stanza still runs. Without it every holder is taken as running.
   */
  readonly workflowOpen?: Liveness;
  /** Reaches the repository hosts' budget workflows (the worker's own Temporal client); without it no slot can be asked. */
  readonly askBudget?: AskBudget;
}

/**
 * Every activity takes the validated spec (references to secrets, never their values) and reports
 * whether it changed anything. Names are part of recorded histories: renaming one breaks replay.
 * Each heartbeats while it runs and throws classified failures.
 *
 * Activities check the spec again: any workflow on the task queue can schedule them, one run by
 * another worker included, and the check costs microseconds beside an SSH round trip. The other
 * arguments come from our workflows, which checked them; a node name is found in the spec or refused.
 */
function guarded<A extends [Spec, ...unknown[]], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return classified(async (...args: A) => {
    const issues = specIssues(args[0]);
    if (issues.length > 0) throw refuse(new SpecError(issues, 'invalid spec, nothing was done').message, 'InvalidSpec');
    rememberSpec(args[0]);
    return fn(...args);
  });
}

const noBudget: AskBudget = async () => {
  throw new Error('this worker reaches no Temporal server: it cannot ask a repository host for a slot');
};

export function createActivities(deps: ActivityDeps) {
  const step = <A extends [Spec, ...unknown[]], R>(fn: (...args: A) => Promise<R>) => guarded(heartbeating(fn));
  const ops = (spec: Spec) => new HostOps(attemptRemote(deps.remoteFor(spec.ssh)));
  const alive: Liveness = deps.workflowOpen ?? (async () => true);
  return {
    preflight: step(async (spec: Spec) => preflight(ops(spec), spec)),
    ensureRepositoryHost: step(async (spec: Spec) => ensureRepositoryHost(ops(spec), spec)),
    ensureNodeDirectories: step(async (spec: Spec, node: string) => ensureNodeDirectories(ops(spec), spec, findNode(spec, node))),
    ensureSshTrust: step(async (spec: Spec) => ensureSshTrust(ops(spec), spec)),
    ensurePgbackrestConf: step(async (spec: Spec, withStandbys: boolean) => ensurePgbackrestConf(ops(spec), spec, withStandbys)),
    ensurePrimary: step(async (spec: Spec) => ensurePrimary(ops(spec), spec)),
    ensureStanza: step(async (spec: Spec) => ensureStanza(ops(spec), spec)),
    checkStanza: step(async (spec: Spec) => checkStanza(ops(spec), spec)),
    ensureFullBackup: step(async (spec: Spec, repo?: RepoIndex) => ensureFullBackup(ops(spec), spec, repo)),
    ensureReplicationAccess: step(async (spec: Spec) => ensureReplicationAccess(ops(spec), spec)),
    ensureStandbyPgpass: step(async (spec: Spec, node: string) => ensureStandbyPgpass(ops(spec), spec, node)),
    prepareStandby: step(async (spec: Spec, node: string, primarySystemId: string, rebuild?: boolean) => prepareStandby(ops(spec), spec, node, primarySystemId, rebuild)),
    restoreStandby: step(async (spec: Spec, node: string, delta: boolean, targetTimeline?: number, deltaBy?: DeltaBy) =>
      restoreStandby(ops(spec), spec, node, delta, targetTimeline, deltaBy)),
    startStandby: step(async (spec: Spec, node: string) => startStandby(ops(spec), spec, node)),
    waitStreaming: step(async (spec: Spec, node: string) => waitStreaming(ops(spec), spec, node)),
    observeTopology: step(async (spec: Spec, apart?: string) => observeTopology(ops(spec), spec, apart)),
    repositoryStatus: step(async (spec: Spec) => repositoryStatus(ops(spec), spec)),
    primaryStatus: step(async (spec: Spec) => primaryStatus(ops(spec), spec)),
    standbyStatus: step(async (spec: Spec, node: string) => standbyStatus(ops(spec), spec, node)),
    drillStatus: step(async (spec: Spec) => drillStatus(ops(spec), spec)),
    // Restore drills; the copy itself is restored, started and removed by the copy activities.
    writeDrillMarker: step(async (spec: Spec, id: string) => writeDrillMarker(ops(spec), spec, id)),
    checkDrillCopy: step(async (spec: Spec, marker: DrillMarker, lastTransactionAt: string | null) => checkDrillCopy(ops(spec), spec, marker, lastTransactionAt)),
    checkDrillChecksums: step(async (spec: Spec) => checkDrillChecksums(ops(spec), spec)),
    verifyRepository: step(async (spec: Spec, repo?: RepoIndex) => verifyRepository(ops(spec), spec, repo)),
    recordDrill: step(async (spec: Spec, result: DrillResult) => recordDrill(ops(spec), spec, result)),
    claimBackupLock: step(async (spec: Spec, owner: BackupOwner) => claimBackupLock(ops(spec), spec, owner, alive)),
    releaseBackupLock: step(async (spec: Spec, owner: BackupOwner) => releaseBackupLock(ops(spec), spec, owner)),
    chooseBackupSource: step(async (spec: Spec) => chooseBackupSource(ops(spec), spec)),
    inspectRebuildTarget: step(async (spec: Spec, node: string) => inspectRebuildTarget(ops(spec), spec, node, alive)),
    writeMarker: step(async (spec: Spec, id: string) => writeMarker(ops(spec), spec, id)),
    waitMarkerReplayed: step(async (spec: Spec, node: string, id: string) => waitMarkerReplayed(ops(spec), spec, node, id)),
    runBackup: step(async (spec: Spec, type: BackupType, backupStandby: boolean, repo?: RepoIndex) => runBackup(ops(spec), spec, type, backupStandby, repo)),
    // A copy of the cluster on a host that is no node (restore to a point in time, drills).
    ensureCopyHost: step(async (spec: Spec, place: CopyPlace) => ensureCopyHost(ops(spec), spec, place)),
    prepareCopy: step(async (spec: Spec, place: CopyPlace, reuse: boolean) => prepareCopy(ops(spec), spec, place, reuse, copyPurpose())),
    restoreCopy: step(async (spec: Spec, place: CopyPlace, target: RecoveryTarget, delta: boolean, set?: string, repo?: RepoIndex) => restoreCopy(ops(spec), spec, place, target, delta, set, repo)),
    startCopy: step(async (spec: Spec, place: CopyPlace) => startCopy(ops(spec), spec, place)),
    waitCopyPromoted: step(async (spec: Spec, place: CopyPlace) => waitCopyPromoted(ops(spec), spec, place)),
    inspectCopy: step(async (spec: Spec, place: CopyPlace) => inspectCopy(ops(spec), spec, place)),
    removeCopy: step(async (spec: Spec, place: CopyPlace) => removeCopy(ops(spec), spec, place, copyPurpose())),
    claimCopyLock: step(async (spec: Spec, place: CopyPlace, owner: BackupOwner) => claimCopyLock(ops(spec), spec, place, owner, alive, copyPurpose() === 'drill' ? 'DrillBusy' : 'CopyBusy')),
    releaseCopyLock: step(async (spec: Spec, place: CopyPlace, owner: BackupOwner) => releaseCopyLock(ops(spec), spec, place, owner)),
    claimRecoverLock: step(async (spec: Spec, owner: BackupOwner) => claimClusterLock(ops(spec), spec, owner, 'recover', alive)),
    releaseRecoverLock: step(async (spec: Spec, owner: BackupOwner) => releaseClusterLock(ops(spec), spec, owner, 'recover')),
    claimSwitchoverLock: step(async (spec: Spec, owner: BackupOwner) => claimClusterLock(ops(spec), spec, owner, 'switchover', alive)),
    releaseSwitchoverLock: step(async (spec: Spec, owner: BackupOwner) => releaseClusterLock(ops(spec), spec, owner, 'switchover')),
    claimFailoverLock: step(async (spec: Spec, owner: BackupOwner) => claimClusterLock(ops(spec), spec, owner, 'failover', alive)),
    releaseFailoverLock: step(async (spec: Spec, owner: BackupOwner) => releaseClusterLock(ops(spec), spec, owner, 'failover')),
    claimDrillLock: step(async (spec: Spec, owner: BackupOwner) => claimDrillLock(ops(spec), spec, owner, alive)),
    releaseDrillLock: step(async (spec: Spec, owner: BackupOwner) => releaseDrillLock(ops(spec), spec, owner)),
    requireConfirmed: step(async (spec: Spec, action: DestructiveAction, confirm?: string) => requireConfirmed(ops(spec), spec, action, confirm)),
    claimProvisionLock: step(async (spec: Spec, owner: BackupOwner) => claimProvisionLock(ops(spec), spec, owner, alive)),
    releaseProvisionLock: step(async (spec: Spec, owner: BackupOwner) => releaseProvisionLock(ops(spec), spec, owner)),
    registerRestore: step(async (spec: Spec, owner: BackupOwner) => registerRestore(ops(spec), spec, owner, alive)),
    releaseRestore: step(async (spec: Spec, owner: BackupOwner) => releaseRestore(ops(spec), spec, owner)),
    planRecovery: step(async (spec: Spec, target: unknown, confirmedBackup?: string, repo?: RepoIndex) => planRecovery(ops(spec), spec, target, confirmedBackup, repo)),
    archivePrimaryWal: step(async (spec: Spec) => archivePrimaryWal(ops(spec), spec)),
    stopPostgres: step(async (spec: Spec, node: string) => stopPostgres(ops(spec), spec, node)),
    restorePrimary: step(async (spec: Spec, label: string, target: unknown, timeline: number, repo?: RepoIndex) => restorePrimary(ops(spec), spec, label, target, timeline, repo)),
    waitPrimaryPromoted: step(async (spec: Spec, timeline: number) => waitPrimaryPromoted(ops(spec), spec, timeline)),
    // A planned switchover (workflows/switchover.ts).
    planSwitchover: step(async (spec: Spec, to: string) => planSwitchover(ops(spec), spec, to)),
    checkpointPrimary: step(async (spec: Spec, node: string) => checkpointPrimary(ops(spec), spec, node)),
    waitShutdownReplayed: step(async (spec: Spec, old: string, target: string) => waitShutdownReplayed(ops(spec), spec, old, target)),
    promoteNode: step(async (spec: Spec, node: string, old?: string) => promoteNode(ops(spec), spec, node, old)),
    pointAtPrimary: step(async (spec: Spec, node: string) => pointAtPrimary(ops(spec), spec, node)),
    // A failover (workflows/failover.ts).
    planFailover: step(async (spec: Spec, to?: string, fence?: Fence) => planFailover(ops(spec), spec, to, fence)),
    fenceNode: step(async (spec: Spec, node: string, stop: boolean) => fenceNode(ops(spec), spec, node, stop)),
    // A node rejoined by pg_rewind rather than restored (workflows/standby-restore.ts).
    planRewind: step(async (spec: Spec, node: string, primarySystemId: string, policy?: 'auto' | 'rewind') => planRewind(ops(spec), spec, node, primarySystemId, policy)),
    rewindNode: step(async (spec: Spec, node: string) => rewindNode(ops(spec), spec, node)),
    // The repository host's budget (workflows/budget.ts, workflows/repository-slot.ts).
    requestRepositorySlot: step(async (spec: Spec, request: Omit<SlotRequest, 'capacity'>) => requestRepositorySlot(ops(spec), spec, request, deps.askBudget ?? noBudget)),
    closedRuns: classified(heartbeating(async (runs: { workflowId: string; runId: string }[]) => {
      const open = await Promise.all(runs.map((r) => alive(r.workflowId, r.runId)));
      return runs.filter((_, i) => !open[i]);
    })),
  };
}

export type Activities = ReturnType<typeof createActivities>;
