import { cmd, script } from '../remote/command';
import { copiedFrom, copyPercent, newBackupLabel } from '../facts/pgbackrest-output';
import { describeFree, parseDfBytes } from '../facts/disk-space';
import type { HostAddress } from '../remote/types';
import { primaryNode } from '../spec/load';
import type { BackupType, Spec } from '../spec/schema';
import type { BackupDetails } from '../workflows/backup';
import { streamingStandbys } from './cluster-state';
import { pollDetached, stopDetached } from '../remote/detached';
import { runDetachedPgbackrest, runKey, runKeyOf } from './detached-run';
import { refuse } from './failures';
import { nodeAddress, repoHost } from './hosts';
import { reportProgress } from './heartbeat';
import type { HostOps } from './host-ops';
import { PgbackrestError, pgbackrestCommand } from './pgbackrest';
import { stanzaInfo } from './stanza';
import type { StepResult } from './types';

export interface BackupOwner {
  readonly workflowId: string;
  readonly runId: string;
}

export interface LockResult extends StepResult {
  readonly claimed: boolean;
  readonly holder?: { readonly workflowId: string; readonly since: string };
}

// One backup of a stanza at a time, whoever asks (CLI, schedule, trigger): a lock directory on the
// repository host, where pgBackRest keeps its own lock; mkdir is the atomic claim. A holder whose
// backup run is not running and whose claim is older than STALE_SECONDS has died: it is taken over.
const STALE_SECONDS = 120;
const LOCKS = '/var/lib/stanzactl/locks';

const CLAIM = `set -eu
install -d -m 700 ${LOCKS}; dir=${LOCKS}/backup-$1
if mkdir "$dir" 2>/dev/null; then echo "$2 $3 $(date +%s)" > "$dir/owner"; fi
cat "$dir/owner" 2>/dev/null || echo "- - 0"; date +%s`;

// Compare-and-set: replaces the owner only if it is still the one judged dead.
const TAKE_OVER = `set -eu
dir=${LOCKS}/backup-$1
[ "$(cat "$dir/owner" 2>/dev/null)" = "$4" ] && echo "$2 $3 $(date +%s)" > "$dir/owner"
cat "$dir/owner"`;

const RELEASE = `dir=${LOCKS}/backup-$1
if [ "$(cut -d' ' -f1,2 "$dir/owner" 2>/dev/null)" = "$2 $3" ]; then rm -rf -- "$dir"; echo released; fi`;

function ownerOf(line: string): { workflowId: string; runId: string; since: number } {
  const [workflowId, runId, since] = line.trim().split(' ');
  return { workflowId, runId, since: Number(since) };
}

export async function claimBackupLock(ops: HostOps, spec: Spec, owner: BackupOwner): Promise<LockResult> {
  const host = repoHost(spec);
  const [line, now] = (await ops.must(host, script(CLAIM, spec.stanza, owner.workflowId, owner.runId))).trim().split('\n');
  let holder = ownerOf(line);
  const mine = (h: typeof holder) => h.workflowId === owner.workflowId && h.runId === owner.runId;
  if (!mine(holder)) {
    const run = await pollDetached(ops.remote, host, runKeyOf(holder.workflowId, holder.runId, 'runBackup', host));
    if (run.state !== 'running' && Number(now) - holder.since > STALE_SECONDS) {
      holder = ownerOf(await ops.must(host, script(TAKE_OVER, spec.stanza, owner.workflowId, owner.runId, line.trim())));
    }
  }
  if (mine(holder)) return { changed: true, claimed: true, detail: `backup lock for stanza ${spec.stanza} held by ${owner.workflowId}` };
  const since = new Date(holder.since * 1000).toISOString();
  return { changed: false, claimed: false, holder: { workflowId: holder.workflowId, since }, detail: `a backup of stanza ${spec.stanza} is already running: ${holder.workflowId} since ${since}` };
}

/**
 * Called once the workflow is done with its backup, whatever the outcome. A run of its backup that
 * still goes on (left behind while the repository host was unreachable, or cancelled) is stopped
 * first: nobody would report the backup it makes, and it would hold pgBackRest's lock beyond ours.
 */
export async function releaseBackupLock(ops: HostOps, spec: Spec, owner: BackupOwner): Promise<StepResult> {
  const host = repoHost(spec);
  const stopped = await stopDetached(ops.remote, host, runKeyOf(owner.workflowId, owner.runId, 'runBackup', host));
  const released = (await ops.must(host, script(RELEASE, spec.stanza, owner.workflowId, owner.runId))).trim() === 'released';
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

export interface BackupRun extends StepResult {
  readonly backup: BackupDetails;
  readonly copiedFrom: string[];
  readonly seconds: number;
}

/** `pgbackrest backup` detached on the repository host; heartbeats carry the copy's percent. */
export async function runBackup(ops: HostOps, spec: Spec, type: BackupType, backupStandby: boolean): Promise<BackupRun> {
  const host = repoHost(spec);
  const started = Date.now();
  const command = pgbackrestCommand(spec.repository.user, spec.stanza, `--type=${type}`, backupStandby ? '--backup-standby' : '--no-backup-standby', '--log-level-console=detail', 'backup');
  const { attached, output } = await runDetachedPgbackrest(ops, host, command, { tailLines: 400, progress: copyPercent }).catch(async (e: unknown) => {
    throw await withRepositorySpace(ops, host, spec.repository.path, e);
  });
  const label = newBackupLabel(output);
  const info = await stanzaInfo(ops, spec);
  const b = info?.backups.find((x) => x.label === label);
  // Nothing half-done is reported as a backup: pgBackRest must have said so and info must list it whole.
  if (!label || !b || b.error) throw new Error(`pgBackRest exited 0 but ${label ? `backup ${label} is ${b ? 'marked with errors' : 'not in info'}` : 'printed no backup label'} (run ${runKey(host)})`);
  const seconds = (Date.now() - started) / 1000;
  reportProgress({ label, percent: 100 });
  return {
    changed: true,
    seconds,
    copiedFrom: copiedFrom(output),
    detail: `${type} backup ${label}: ${b.sizes.delta} bytes copied${attached ? ' (re-attached to the running backup)' : ''}`,
    backup: {
      label, type: b.type, databaseSize: b.sizes.database, deltaSize: b.sizes.delta, repoSize: b.sizes.repo, repoDeltaSize: b.sizes.repoDelta,
      startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop, walStart: b.archive.start ?? '', walStop: b.archive.stop ?? '',
    },
  };
}
