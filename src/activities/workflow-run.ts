import type { Info } from '@temporalio/activity';

/**
 * The workflow run that scheduled this activity. The SDK also types standalone activities, which
 * have none; stanzactl's keys and locks are per workflow run, so one never runs standalone.
 */
export function workflowRunOf(info: Pick<Info, 'workflowExecution'>): { readonly workflowId: string; readonly runId: string } {
  if (!info.workflowExecution) throw new Error('an activity runs outside a workflow: stanzactl runs its activities only from its workflows');
  return info.workflowExecution;
}
