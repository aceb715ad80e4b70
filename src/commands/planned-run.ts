import type { Client } from '@temporalio/client';
import { describeRun, follow, openRun, startAlone } from '../client';
import { TASK_QUEUE } from '../paths';
import type { Spec } from '../spec/schema';
import { planWorkflowId } from '../workflow-ids';
import { typed } from './confirm';

/** A run that changes which node is primary or what the nodes hold: shown as a plan, confirmed, then run alone. */
export interface PlannedRun<P> {
  readonly action: 'recover' | 'switchover' | 'failover';
  readonly spec: Spec;
  readonly workflowId: string;
  /** The read-only workflow that computes (or refuses) the plan, and the run's workflow. */
  readonly workflows: readonly [plan: string, run: string];
  readonly request: object;
  readonly describe: (plan: P) => string[];
  /** What the run is started with once the plan is confirmed: the request, its plan id and anything else the plan fixes. */
  readonly confirmed: (plan: P) => object;
  readonly summary: (plan: P) => string;
  /** --yes: no question asked. */
  readonly yes: boolean;
}

/**
 * Refuses while a run of the same id is open; computes the plan on the worker (read-only, one
 * workflow per asking) and prints it; asks for the stanza's name on a terminal unless `yes`; starts
 * the run and follows its steps. The result, or the exit code of a refusal (nothing changed).
 */
export async function plannedRun<P, R>(client: Client, o: PlannedRun<P>): Promise<{ result: R } | { code: number }> {
  const { spec, action } = o;
  const busy = (what: string) => {
    console.error(`refused: a ${action} of stanza ${spec.stanza} is already running: ${what}. Nothing was changed`);
    return { code: 1 };
  };
  const running = await openRun(client, o.workflowId);
  if (running) return busy(describeRun(running));
  const plan = await client.workflow.execute(o.workflows[0], {
    taskQueue: TASK_QUEUE, workflowId: planWorkflowId(action, spec, new Date()), args: [spec, o.request],
    staticSummary: `plan a ${action} of stanza ${spec.stanza} (read-only)`,
  }) as P;
  for (const l of o.describe(plan)) console.log(l);
  if (!o.yes) {
    if (!process.stdin.isTTY) {
      console.error(`refused: not a terminal to confirm on: pass --yes to ${action} without asking. Nothing was changed`);
      return { code: 2 };
    }
    if (!(await typed(`Type the stanza name (${spec.stanza}) to ${action} it: `, spec.stanza))) {
      console.error('not confirmed: nothing was changed');
      return { code: 1 };
    }
  }
  const handle = await startAlone(client, o.workflows[1], { taskQueue: TASK_QUEUE, workflowId: o.workflowId, args: [spec, o.confirmed(plan)], staticSummary: o.summary(plan) });
  if ('running' in handle) return busy(handle.running);
  console.log(`workflow ${o.workflowId}`);
  const result = await follow<R>(handle, (l) => console.log(l));
  console.log('');
  return { result };
}
