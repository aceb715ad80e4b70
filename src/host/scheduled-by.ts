import type { Info } from '@temporalio/activity';
import { refuse } from './failures';

/**
 * The workflow run that scheduled this activity. Since SDK 1.18 an activity may also run
 * standalone (started by a client, no workflow), and Info says so by leaving workflowExecution
 * out; every stanzactl activity is one step of a workflow run, and its run keys, command records
 * and backup lock are that run's: a standalone start is refused before it touches a host.
 */
export function scheduledBy(info: Pick<Info, 'workflowExecution' | 'activityType'>): { readonly workflowId: string; readonly runId: string } {
  if (info.workflowExecution === undefined) {
    throw refuse(`${info.activityType} runs only as a step of a stanzactl workflow, not as a standalone activity`, 'NotInWorkflow');
  }
  return info.workflowExecution;
}
