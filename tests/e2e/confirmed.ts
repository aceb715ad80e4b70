import type { Client } from '@temporalio/client';
import type { RecoverPlan } from '../../src/activities/recover';
import { TASK_QUEUE } from '../../src/paths';
import { planId, rebuildFacts, recoverFacts } from '../../src/spec/confirmation';
import type { RecoveryTarget } from '../../src/spec/recovery-target';
import type { Spec } from '../../src/spec/schema';
import { planWorkflowId } from '../../src/workflow-ids';
import type { RecoverRequest } from '../../src/workflows/recover';

/** Destructive workflows started by tests with the client, confirmed as the CLI confirms them. */
export function confirmedRebuild(spec: Spec, node: string): string {
  return planId(rebuildFacts(spec, node));
}

/** A recover request as `stanzactl recover --yes` makes it: after the read-only plan. */
export async function confirmedRecover(client: Client, spec: Spec, target: RecoveryTarget): Promise<RecoverRequest> {
  const plan = await client.workflow.execute('recoverPlan', {
    taskQueue: TASK_QUEUE, workflowId: planWorkflowId('recover', spec.stanza, new Date()), args: [spec, { target }],
  }) as RecoverPlan;
  return { target, backup: plan.backup.label, confirm: planId(recoverFacts(spec, plan)) };
}
