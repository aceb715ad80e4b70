import type { Client } from '@temporalio/client';
import type { RecoverPlan } from '../../src/activities/recover';
import { TASK_QUEUE } from '../../src/paths';
import type { FailoverPlan } from '../../src/activities/failover';
import type { SwitchoverPlan } from '../../src/activities/switchover';
import { failoverFacts, planId, rebuildFacts, recoverFacts, switchoverFacts } from '../../src/spec/confirmation';
import type { RecoveryTarget } from '../../src/spec/recovery-target';
import type { Spec } from '../../src/spec/schema';
import { planWorkflowId } from '../../src/workflow-ids';
import type { FailoverRequest } from '../../src/workflows/failover';
import type { RecoverRequest } from '../../src/workflows/recover';
import type { SwitchoverRequest } from '../../src/workflows/switchover';

/** Destructive workflows started by tests with the client, confirmed as the CLI confirms them. */
export function confirmedRebuild(spec: Spec, node: string): string {
  return planId(rebuildFacts(spec, node));
}

/** A recover request as `stanzactl recover --yes` makes it: after the read-only plan. */
export async function confirmedRecover(client: Client, spec: Spec, target: RecoveryTarget): Promise<RecoverRequest> {
  const plan = await client.workflow.execute('recoverPlan', {
    taskQueue: TASK_QUEUE, workflowId: planWorkflowId('recover', spec, new Date()), args: [spec, { target }],
  }) as RecoverPlan;
  return { target, backup: plan.backup.label, confirm: planId(recoverFacts(spec, plan)) };
}

/** A switchover request as `stanzactl switchover --yes` makes it. */
export async function confirmedSwitchover(client: Client, spec: Spec, to: string): Promise<SwitchoverRequest> {
  const plan = await client.workflow.execute('switchoverPlan', {
    taskQueue: TASK_QUEUE, workflowId: planWorkflowId('switchover', spec, new Date()), args: [spec, { to }],
  }) as SwitchoverPlan;
  return { to, confirm: planId(switchoverFacts(spec, plan)) };
}

/** A failover request as `stanzactl failover --yes` makes it: the target the plan chose. */
export async function confirmedFailover(client: Client, spec: Spec, request: FailoverRequest): Promise<FailoverRequest> {
  const plan = await client.workflow.execute('failoverPlan', {
    taskQueue: TASK_QUEUE, workflowId: planWorkflowId('failover', spec, new Date()), args: [spec, request],
  }) as FailoverPlan;
  return { ...request, to: plan.to, confirm: planId(failoverFacts(spec, plan)) };
}
