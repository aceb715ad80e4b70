import { CancellationScope, workflowInfo } from '@temporalio/workflow';
import type { CopyPlace } from '../spec/restore-copy';
import type { Spec } from '../spec/schema';
import { quick, release } from './profiles';
import { call, type Changed, type StepLog } from './steps';

/** Who holds a lock: this run, which the liveness check asks the server about. */
export function runOwner(): { workflowId: string; runId: string } {
  const { workflowId, runId } = workflowInfo();
  return { workflowId, runId };
}

/**
 * Claims a lock as step `lock`, runs the body, and releases it as step `unlock` also when the body
 * failed or was cancelled: nobody must wait for a run that ended.
 */
export async function holding<T>(log: StepLog, claim: () => Promise<Changed>, free: () => Promise<Changed>, body: () => Promise<T>, [lock, unlock] = ['lock', 'unlock']): Promise<T> {
  await log.run(lock, claim);
  try {
    return await body();
  } finally {
    await CancellationScope.nonCancellable(() => log.run(unlock, free));
  }
}

/** The claim and release of a copy's directory and port on its host: one drill, rehearsal or restore there at a time. */
export function copyLock(spec: Spec, place: CopyPlace, owner = runOwner()): [claim: () => Promise<Changed>, free: () => Promise<Changed>] {
  const at = `${place.host}:${place.dataDir}`;
  return [
    () => call('claimCopyLock', quick, `hold ${at} and port ${place.port}`, spec, place, owner),
    () => call('releaseCopyLock', release, `release ${at}`, spec, place, owner),
  ];
}
