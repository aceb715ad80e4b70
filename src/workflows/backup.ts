import { CancellationScope, patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackupDetails } from '../activities/backup';
import type { BackupType, RepoIndex, Spec } from '../spec/schema';
import { long, quick, release } from './profiles';
import { call, StepLog } from './steps';
import { checkInput } from './input';
import { runOwner } from './locks';
import { observedSpec } from './topology';
import { inRepositorySlot } from './repository-slot';

// Runs started before backups read the roles from the hosts take the spec's.
const BACKUP_TOPOLOGY = 'backup-topology';
// Runs started before the source was chosen once the repository host's slot is granted chose it before queueing.
const SOURCE_IN_SLOT = 'backup-source-in-slot';

export interface BackupRequest {
  readonly type: BackupType;
  /** The repository to back up to: repo2 is `offsite`; absent is repo1, the repository host's. */
  readonly repo?: RepoIndex;
}

export type BackupOutcome =
  | {
      readonly status: 'done';
      readonly backup: BackupDetails;
      readonly seconds: number;
      /** The host the data files were copied from, and why that one. */
      readonly source: { readonly node: string; readonly role: 'primary' | 'standby'; readonly why: string; readonly copiedFrom: string[] };
    }
  | {
      readonly status: 'skipped';
      readonly reason: string;
      readonly runningSince?: string;
      readonly runningWorkflowId?: string;
    };


/** runBackup's arguments: a repo1 request's are the three it had before offsite repositories, so recorded runs replay. */
function backupArgs(spec: Spec, request: BackupRequest, backupStandby: boolean): Parameters<Activities['runBackup']> {
  return request.repo ? [spec, request.type, backupStandby, request.repo] : [spec, request.type, backupStandby];
}

/**
 * One backup of a stanza: claims the stanza's backup lock (a second request while one runs is
 * skipped and says who runs), picks the source per run, runs pgBackRest detached, releases the lock.
 */
export async function backupStanza(spec: Spec, request: BackupRequest): Promise<BackupOutcome> {
  checkInput('backupStanza', spec, { request });
  const log = new StepLog();
  const owner = runOwner();
  const lock = await log.step('lock', 'claimBackupLock', quick, `claim the backup lock of ${spec.stanza}`, spec, owner);
  if (!lock.claimed) {
    return { status: 'skipped', reason: lock.detail, runningWorkflowId: lock.holder?.workflowId, runningSince: lock.holder?.since };
  }
  try {
    const chosen = async () => {
      const live = patched(BACKUP_TOPOLOGY) ? await observedSpec(spec, 'the backup') : spec;
      return { live, source: await log.step('source', 'chooseBackupSource', quick, 'choose the host to copy from', live) };
    };
    // A repo1 run's step and arguments are those it had before offsite repositories: recorded runs replay.
    const to = request.repo ? ` to repo${request.repo}` : '';
    const name = `${request.type} backup${to}`;
    const backup = async ({ live, source }: Awaited<ReturnType<typeof chosen>>) => {
      const run = await log.step(name, 'runBackup', long, `${request.type} backup of ${spec.stanza}${to} from ${source.node}`, ...backupArgs(live, request, source.backupStandby));
      return { status: 'done', backup: run.backup, seconds: run.seconds, source: { node: source.node, role: source.role, why: source.why, copiedFrom: run.copiedFrom } } as const;
    };
    // Roles and the standby to copy from are read once the slot is granted: a wait in the queue
    // may outlast a switchover or a standby going down.
    if (patched(SOURCE_IN_SLOT)) return await inRepositorySlot(log, spec, name, async () => backup(await chosen()));
    const picked = await chosen();
    return await inRepositorySlot(log, spec, name, () => backup(picked));
  } finally {
    // Also when cancelled or failed: the next backup must not wait for a stale lock.
    await CancellationScope.nonCancellable(() => call('releaseBackupLock', release, 'release the backup lock', spec, owner));
  }
}
