import { cmd } from '../shell/command';
import { copiedFrom, copyPercent, newBackupLabel } from '../facts/pgbackrest-output';
import { describeFree, parseDfBytes } from '../facts/disk-space';
import type { HostAddress } from '../remote/types';
import { primaryNode } from '../spec/roles';
import type { BackupType, RepoIndex, Spec } from '../spec/schema';
import { streamingStandbys } from './cluster-state';
import { stopDetached } from '../remote/detached';
import { runDetached, runKey, runKeyOf, runName } from '../host/detached-run';
import { refuse } from '../host/failures';
import { claimedAt, claimLock, describeHolder, releaseLock, type Liveness, type LockOwner } from '../host/locks';
import { WHOLE } from '../host/lock-kinds';
import { stanzaPlace } from './stanza-lock';
import { nodeAddress, repoHost } from './hosts';
import { reportProgress } from '../host/heartbeat';
import type { HostOps } from '../host/host-ops';
import { backupArchiveArgs, PgbackrestError, pgbackrestCommand, repoArgs, repoPart } from '../host/pgbackrest';
import { offsiteRefusal, stanzaInfo } from './stanza';
import type { StepResult } from './types';

/** A finished backup as `pgbackrest info` reports it; sizes in bytes, times in epoch seconds. */
export interface BackupDetails {
  readonly label: string;
  readonly type: BackupType;
  readonly databaseSize: number;
  readonly deltaSize: number;
  readonly repoSize: number;
  readonly repoDeltaSize: number;
  readonly startedAt: number;
  readonly stoppedAt: number;
  readonly walStart: string;
  readonly walStop: string;
}

export type BackupOwner = LockOwner;

export interface LockResult extends StepResult {
  readonly claimed: boolean;
  readonly holder?: { readonly workflowId: string; readonly since: string };
}

/**
 * One backup of the stanza at a time: the claim is not refused but reports who holds the lock (a
 * recover or another backup, alive by the one rule of host/locks.ts), and the workflow is skipped.
 * A live holder is never taken over, so a holder's retry always finds the lock its own and runBackup
 * needs no check of its own; a holder judged dead has a closed run, which schedules no more attempts.
 */
export async function claimBackupLock(ops: HostOps, spec: Spec, owner: BackupOwner, alive: Liveness): Promise<LockResult> {
  const { made, live } = await claimLock(ops, stanzaPlace(spec), owner, 'backup', [WHOLE], alive);
  // A recover restores the primary and takes its own backup: one now would copy a cluster being replaced.
  const holder = live.find((b) => b.kind === 'recover') ?? live[0];
  if (!holder) return { changed: made, claimed: true, detail: `backup lock for stanza ${spec.stanza} ${made ? 'claimed' : 'already held'} by ${owner.workflowId}` };
  const detail = holder.kind === 'backup' ? `a backup of stanza ${spec.stanza} is already running: ${describeHolder(holder.holder)}`
    : `stanza ${spec.stanza} is being ${holder.kind === 'recover' ? 'recovered' : holder.kind} by ${describeHolder(holder.holder)}: backups are skipped until the ${holder.kind} ends`;
  return { changed: false, claimed: false, holder: { workflowId: holder.holder.workflowId, since: claimedAt(holder.holder) }, detail };
}

/**
 * Called once the workflow is done with its backup, whatever the outcome. A run of its backup that
 * still goes on (left behind while the repository host was unreachable, or cancelled) is stopped
 * first: nobody would report the backup it makes, and it would hold pgBackRest's lock beyond ours.
 */
export async function releaseBackupLock(ops: HostOps, spec: Spec, owner: BackupOwner): Promise<StepResult> {
  const host = repoHost(spec);
  // The run backs up to one repository; which one, only its request said.
  const runs = await Promise.all([undefined, ...(spec.offsite ? [repoPart(2)] : [])].map((part) =>
    stopDetached(ops.remote, host, runKeyOf(owner.workflowId, owner.runId, runName('runBackup', part), host))));
  const stopped = runs.some(Boolean);
  const released = await releaseLock(ops, stanzaPlace(spec), owner, 'backup', [WHOLE]);
  const detail = `${stopped ? `stopped the backup still running on ${host.name}; ` : ''}backup lock ${released ? 'released' : 'was not ours'}`;
  return { changed: stopped || released, detail };
}

export interface BackupSource extends StepResult {
  readonly node: string;
  readonly role: 'primary' | 'standby';
  readonly why: string;
  /** Passed to pgBackRest as --backup-standby / --no-backup-standby for this run. */
  readonly backupStandby: boolean;
}

/** pgBackRest 2.45 knows backup-standby y/n only: stanzactl decides per run from what streams now. */
export async function chooseBackupSource(ops: HostOps, spec: Spec): Promise<BackupSource> {
  const primary = primaryNode(spec);
  const mode = spec.backups?.fromStandby ?? false;
  const onPrimary = (why: string): BackupSource => ({ changed: false, node: primary.name, role: 'primary', why, backupStandby: false, detail: `from the primary ${primary.name}: ${why}` });
  if (mode === false) return onPrimary('backups.fromStandby is false');
  const streaming = await streamingStandbys(ops, nodeAddress(primary), spec.postgres);
  // pgBackRest takes the first standby of its config (spec order) that it can reach.
  const standby = spec.nodes.find((n) => n.role === 'standby' && streaming.includes(n.name));
  if (standby) return { changed: false, node: standby.name, role: 'standby', why: `backups.fromStandby is ${mode}`, backupStandby: true, detail: `from the standby ${standby.name}` };
  if (mode === 'prefer') return onPrimary('no standby streams, and backups.fromStandby is prefer');
  throw refuse(`no standby streams from ${primary.name}, and backups.fromStandby is true: stanzactl will not put this backup's load on the primary. Repair a standby, or set backups.fromStandby to prefer`, 'NoStandby');
}

// pgBackRest 2.45 often says only "unable to write '<file>'" when the repository is full.
const WRITE_ERRORS = new Set(['FileWriteError', 'FileSyncError', 'FileCloseError', 'FileOpenError', 'PathCreateError']);

/** A failed write gets the repository's free space beside it, so a full disk reads as one. */
async function withRepositorySpace(ops: HostOps, host: HostAddress, path: string, e: unknown): Promise<unknown> {
  if (!(e instanceof PgbackrestError) || !WRITE_ERRORS.has(e.kind)) return e;
  const df = await ops.run(host, cmd('df', '-B1', '--output=avail,size', '--', path), { timeoutMs: 30_000 }).catch(() => undefined);
  if (df === undefined || df.code !== 0) return e;
  const space = parseDfBytes(df.stdout);
  return new PgbackrestError(e.host, e.code, e.output, `the repository ${path} on ${host.name} has ${describeFree(space)}${space.available < space.size / 100 ? ' (the disk is full)' : ''}`);
}

/**
 * The object store out of reach fails a backup to it at once: each attempt waits io-timeout on every
 * request (minutes), and retries would hold the stanza's backup lock, skipping repo1's backups
 * meanwhile. Its next Schedule is the retry.
 */
export function offsiteUnreachable(spec: Spec, repo: RepoIndex, e: unknown): unknown {
  const o = spec.offsite;
  if (!o || !(e instanceof PgbackrestError) || e.kind !== 'HostConnectError' || !e.output.includes(o.endpoint)) return e;
  return offsiteRefusal(spec, repo, e.message);
}

export interface BackupRun extends StepResult {
  readonly backup: BackupDetails;
  readonly copiedFrom: string[];
  readonly seconds: number;
}

/** `pgbackrest backup` detached on the repository host, to repository `repo`; heartbeats carry the copy's percent. */
export async function runBackup(ops: HostOps, spec: Spec, type: BackupType, backupStandby: boolean, repo: RepoIndex = 1): Promise<BackupRun> {
  const host = repoHost(spec);
  const started = Date.now();
  const part = repoPart(repo);
  const command = pgbackrestCommand(spec.repository.user, spec.stanza, `--type=${type}`, ...repoArgs(spec, repo), ...backupArchiveArgs(spec), backupStandby ? '--backup-standby' : '--no-backup-standby', '--log-level-console=detail', 'backup');
  const { attached, finishedBefore, output } = await runDetached(ops, host, command, { tailLines: 400, progress: copyPercent, part }).catch(async (e: unknown) => {
    // repo2's space is the object store's business: df says nothing of it.
    throw repo === 1 ? await withRepositorySpace(ops, host, spec.repository.path, e) : offsiteUnreachable(spec, repo, e);
  });
  const label = newBackupLabel(output);
  const info = await stanzaInfo(ops, spec, repo);
  const b = info?.backups.find((x) => x.label === label && (x.repoKey ?? 1) === repo);
  // Nothing half-done is reported as a backup: pgBackRest must have said so and info must list it whole.
  if (!label || !b || b.error) throw new Error(`pgBackRest exited 0 but ${label ? `backup ${label} is ${b ? 'marked with errors' : `not in info of repo${repo}`}` : 'printed no backup label'} (run ${runKey(host, part)})`);
  const seconds = (Date.now() - started) / 1000;
  reportProgress({ label, percent: 100 });
  return {
    changed: !finishedBefore,
    seconds,
    copiedFrom: copiedFrom(output),
    detail: `${type} backup ${label}: ${b.sizes.delta} bytes copied${finishedBefore ? ' (made by an earlier attempt)' : attached ? ' (re-attached to the running backup)' : ''}`,
    backup: {
      label, type: b.type, databaseSize: b.sizes.database, deltaSize: b.sizes.delta, repoSize: b.sizes.repo, repoDeltaSize: b.sizes.repoDelta,
      startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop, walStart: b.archive.start ?? '', walStop: b.archive.stop ?? '',
    },
  };
}
