import { patched } from '@temporalio/workflow';
import type { DestructiveAction } from '../spec/confirmation';
import type { Spec } from '../spec/schema';
import { quick } from './profiles';
import type { StepLog } from './steps';

// Runs recorded before destructive workflows required a confirmed plan replay without the step.
const CONFIRMED_PLAN = 'confirmed-plan';

/**
 * First step of rebuildStandby, recoverCluster and restoreToHost: a request started without the
 * plan id the CLI gives once the DBA confirmed (a bare `temporal workflow start`, the UI) or with
 * one that no longer fits the plan is refused before anything changes.
 */
export async function requireConfirmed(log: StepLog, spec: Spec, action: DestructiveAction, confirm: string | undefined): Promise<void> {
  if (!patched(CONFIRMED_PLAN)) return;
  await log.step('confirmed plan', 'requireConfirmed', quick, `is this the ${action.kind} the DBA confirmed?`, spec, action, confirm);
}
