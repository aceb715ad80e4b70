import { ApplicationFailure, CancellationScope } from '@temporalio/workflow';
import type { RecoveryTarget } from '../spec/recovery-target';
import { drillsPlace } from '../spec/restore-copy';
import type { RepoIndex, Spec } from '../spec/schema';
import { restoredCopy, type RestoreResult } from './copy';
import { checkInput } from './input';
import { copyLock, holding } from './locks';
import { release } from './profiles';
import { StepLog } from './steps';

export interface RehearsalRequest {
  readonly target: RecoveryTarget;
  /** The backup the recover's plan restores from. */
  readonly backup: string;
  /** Its repository, when the spec has an offsite one. */
  readonly repo?: RepoIndex;
}

/**
 * A recover's rehearsal, run by recoverCluster before it stops anything: the recover's backup is
 * restored to its target in the drills' directory on drills.host, started and promoted as the
 * primary will be; the copy is removed whatever happened. Holds that directory and port as a drill
 * does (a drill there is refused meanwhile, and it is refused beside a drill). Changes nothing of the
 * cluster: its failure is the recover's refusal.
 */
export async function rehearseRecover(spec: Spec, request: RehearsalRequest): Promise<RestoreResult> {
  checkInput('rehearseRecover', spec, { recovery: { target: request.target, backup: request.backup, rehearse: true, ...(request.repo && { repo: request.repo }) } });
  const d = spec.drills;
  if (!d) throw ApplicationFailure.create({ type: 'InvalidSpec', nonRetryable: true, message: `rehearseRecover: stanza ${spec.stanza} has no drills: section, nothing was done` });
  const place = drillsPlace(d);
  const at = `${d.host}:${d.dataDir}`;
  const log = new StepLog();
  return holding(log, ...copyLock(spec, place), async () => {
    try {
      return await restoredCopy(log, spec, { place, target: request.target, set: request.backup, reuse: true, ...(request.repo && { repo: request.repo }) });
    } finally {
      // Also when failed or cancelled: the drills' directory is the next drill's.
      await CancellationScope.nonCancellable(() =>
        log.step(`remove ${at}`, 'removeCopy', release, `stop and remove the rehearsal's copy on ${at}`, spec, place));
    }
  });
}
