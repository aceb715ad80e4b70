import { CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackupDetails } from '../activities/backup';
import type { BackupType, Spec } from '../spec/schema';
import { long, quick, release } from './profiles';
import { StepLog, titled } from './steps';
import { checkInput } from './input';

export interface BackupRequest {
  readonly type: BackupType;
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


const acts = proxyActivities<Activities>(quick);

/**
 * One backup of a stanza: claims the stanza's backup lock (a second request while one runs is
 * skipped and says who runs), picks the source per run, runs pgBackRest detached, releases the lock.
 */
export async function backupStanza(spec: Spec, request: BackupRequest): Promise<BackupOutcome> {
  checkInput('backupStanza', spec, { request });
  const log = new StepLog();
  const { workflowId, runId } = workflowInfo();
  const owner = { workflowId, runId };
  const lock = await log.run('lock', () => acts.claimBackupLock.executeWithOptions(titled(quick, `claim the backup lock of ${spec.stanza}`), [spec, owner]));
  if (!lock.claimed) {
    return { status: 'skipped', reason: lock.detail, runningWorkflowId: lock.holder?.workflowId, runningSince: lock.holder?.since };
  }
  try {
    const source = await log.run('source', () => acts.chooseBackupSource.executeWithOptions(titled(quick, 'choose the host to copy from'), [spec]));
    const run = await log.run(`${request.type} backup`, () =>
      acts.runBackup.executeWithOptions(titled(long, `${request.type} backup of ${spec.stanza} from ${source.node}`), [spec, request.type, source.backupStandby]));
    return { status: 'done', backup: run.backup, seconds: run.seconds, source: { node: source.node, role: source.role, why: source.why, copiedFrom: run.copiedFrom } };
  } finally {
    // Also when cancelled or failed: the next backup must not wait for a stale lock.
    await CancellationScope.nonCancellable(() => acts.releaseBackupLock.executeWithOptions(titled(release, 'release the backup lock'), [spec, owner]));
  }
}
