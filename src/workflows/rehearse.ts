import { ApplicationFailure, CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RecoveryTarget } from '../spec/recovery-target';
import { drillsPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { checkInput } from './input';
import { quick, release } from './profiles';
import { restoreCopySteps, type RestoreResult } from './restore';
import { holding, StepLog, titled } from './steps';

const acts = proxyActivities<Activities>(quick);

export interface RehearsalRequest {
  readonly target: RecoveryTarget;
  /** The backup the recover's plan restores from. */
  readonly backup: string;
}

/**
 * A recover's rehearsal, run by recoverCluster before it stops anything: the recover's backup is
 * restored to its target in the drills' directory on drills.host, started and promoted as the
 * primary will be; the copy is removed whatever happened. Holds that directory and port as a drill
 * does (a drill there is refused meanwhile, and it is refused beside a drill). Changes nothing of the
 * cluster: its failure is the recover's refusal.
 */
export async function rehearseRecover(spec: Spec, request: RehearsalRequest): Promise<RestoreResult> {
  checkInput('rehearseRecover', spec, { recovery: { target: request.target, backup: request.backup, rehearse: true } });
  const d = spec.drills;
  if (!d) throw ApplicationFailure.create({ type: 'InvalidSpec', nonRetryable: true, message: `rehearseRecover: stanza ${spec.stanza} has no drills: section, nothing was done` });
  const place = drillsPlace(d);
  const at = `${d.host}:${d.dataDir}`;
  const { workflowId, runId } = workflowInfo();
  const owner = { workflowId, runId };
  const log = new StepLog();
  return holding(log,
    () => acts.claimCopyLock.executeWithOptions(titled(quick, `hold ${at} and port ${d.port}`), [spec, place, owner]),
    () => acts.releaseCopyLock.executeWithOptions(titled(release, `release ${at}`), [spec, place, owner]),
    async () => {
      try {
        return await restoreCopySteps(spec, { place, target: request.target, set: request.backup, reuse: true }, log);
      } finally {
        // Also when failed or cancelled: the drills' directory is the next drill's.
        await CancellationScope.nonCancellable(() =>
          log.run(`remove ${at}`, () => acts.removeCopy.executeWithOptions(titled(release, `stop and remove the rehearsal's copy on ${at}`), [spec, place])));
      }
    });
}
