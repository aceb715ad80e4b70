import type { Remote } from '../remote/types';
import type { BackupType, Spec } from '../spec/schema';
import { preflight } from './preflight';
import { ensureNodeDirectories, ensureRepositoryHost } from './directories';
import { ensureSshTrust } from './trust';
import { ensurePgbackrestConf } from './pgbackrest-conf';
import { ensurePrimary, ensureReplicationAccess } from './primary';
import { checkStanza, ensureFullBackup, ensureStanza } from './stanza';
import { ensureStandbyPgpass, prepareStandby, restoreStandby, startStandby, waitStreaming, type DeltaBy } from './standby';
import { chooseBackupSource, claimBackupLock, releaseBackupLock, runBackup, type BackupOwner } from './backup';
import { inspectRebuildTarget, waitMarkerReplayed, writeMarker } from './rebuild';
import { findNode } from './hosts';
import { classified } from './failures';
import { heartbeating } from './heartbeat';
import { HostOps } from './host-ops';
import { attemptRemote } from './attempt-remote';
import { primaryStatus, repositoryStatus, standbyStatus } from './status';

export interface ActivityDeps {
  /** A Remote for a spec's SSH settings; the worker caches one pool per settings. */
  readonly remoteFor: (ssh: Spec['ssh']) => Remote;
}

/**
 * Every activity takes the validated spec (references to secrets, never their values) and reports
 * whether it changed anything. Names are part of recorded histories: renaming one breaks replay.
 * Each heartbeats while it runs and throws classified failures.
 */
export function createActivities(deps: ActivityDeps) {
  const step = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => heartbeating(classified(fn));
  const ops = (spec: Spec) => new HostOps(attemptRemote(deps.remoteFor(spec.ssh)));
  return {
    preflight: step(async (spec: Spec) => preflight(ops(spec), spec)),
    ensureRepositoryHost: step(async (spec: Spec) => ensureRepositoryHost(ops(spec), spec)),
    ensureNodeDirectories: step(async (spec: Spec, node: string) => ensureNodeDirectories(ops(spec), spec, findNode(spec, node))),
    ensureSshTrust: step(async (spec: Spec) => ensureSshTrust(ops(spec), spec)),
    ensurePgbackrestConf: step(async (spec: Spec, withStandbys: boolean) => ensurePgbackrestConf(ops(spec), spec, withStandbys)),
    ensurePrimary: step(async (spec: Spec) => ensurePrimary(ops(spec), spec)),
    ensureStanza: step(async (spec: Spec) => ensureStanza(ops(spec), spec)),
    checkStanza: step(async (spec: Spec) => checkStanza(ops(spec), spec)),
    ensureFullBackup: step(async (spec: Spec) => ensureFullBackup(ops(spec), spec)),
    ensureReplicationAccess: step(async (spec: Spec) => ensureReplicationAccess(ops(spec), spec)),
    ensureStandbyPgpass: step(async (spec: Spec, node: string) => ensureStandbyPgpass(ops(spec), spec, node)),
    prepareStandby: step(async (spec: Spec, node: string, primarySystemId: string, rebuild?: boolean) => prepareStandby(ops(spec), spec, node, primarySystemId, rebuild)),
    restoreStandby: step(async (spec: Spec, node: string, delta: boolean, targetTimeline?: number, deltaBy?: DeltaBy) =>
      restoreStandby(ops(spec), spec, node, delta, targetTimeline, deltaBy)),
    startStandby: step(async (spec: Spec, node: string) => startStandby(ops(spec), spec, node)),
    waitStreaming: step(async (spec: Spec, node: string) => waitStreaming(ops(spec), spec, node)),
    repositoryStatus: step(async (spec: Spec) => repositoryStatus(ops(spec), spec)),
    primaryStatus: step(async (spec: Spec) => primaryStatus(ops(spec), spec)),
    standbyStatus: step(async (spec: Spec, node: string) => standbyStatus(ops(spec), spec, node)),
    claimBackupLock: step(async (spec: Spec, owner: BackupOwner) => claimBackupLock(ops(spec), spec, owner)),
    releaseBackupLock: step(async (spec: Spec, owner: BackupOwner) => releaseBackupLock(ops(spec), spec, owner)),
    chooseBackupSource: step(async (spec: Spec) => chooseBackupSource(ops(spec), spec)),
    inspectRebuildTarget: step(async (spec: Spec, node: string) => inspectRebuildTarget(ops(spec), spec, node)),
    writeMarker: step(async (spec: Spec, id: string) => writeMarker(ops(spec), spec, id)),
    waitMarkerReplayed: step(async (spec: Spec, node: string, id: string) => waitMarkerReplayed(ops(spec), spec, node, id)),
    runBackup: step(async (spec: Spec, type: BackupType, backupStandby: boolean) => runBackup(ops(spec), spec, type, backupStandby)),
  };
}

export type Activities = ReturnType<typeof createActivities>;
