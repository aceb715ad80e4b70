import { CancellationScope, condition, getExternalWorkflowHandle, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { budgetWorkflowId, type SlotGrant } from '../budget/protocol';
import type { Spec } from '../spec/schema';
import { grantedSignal, releaseSignal } from './budget';
import { quick } from './profiles';
import type { StepLog } from './steps';

// Runs recorded before the budget existed ran their pgBackRest step without asking for a slot.
const BUDGET_PATCH = 'repository-budget';

// Per workflow run (each run has its own module state): the grants received by ticket, and the tickets asked.
let grants: Map<string, SlotGrant> | undefined;
let asked = 0;

function grantsOfThisRun(): Map<string, SlotGrant> {
  if (!grants) {
    const mine = new Map<string, SlotGrant>();
    setHandler(grantedSignal, (g) => void mine.set(g.ticket, g));
    grants = mine;
  }
  return grants;
}

/**
 * `body` (a pgBackRest backup, restore or verify reading the repository) in one of the repository
 * host's slots: steps `slot for <step>` (ask) and `queue for <step>` (wait for the grant), then the body; the slot is
 * given back also when the body fails or the run is cancelled. `urgent`: a recovery of a cluster
 * that is down, served before the queued runs.
 */
export async function inRepositorySlot<T>(log: StepLog, spec: Spec, step: string, body: () => Promise<T>, urgent = false): Promise<T> {
  if (!patched(BUDGET_PATCH)) return body();
  const granted = grantsOfThisRun();
  const { workflowId, runId } = workflowInfo();
  const ticket = `${workflowId}/${runId}/${++asked}`;
  const host = spec.repository.host;
  try {
    const what = `${step} of ${spec.stanza}`;
    await log.step(`slot for ${step}`, 'requestRepositorySlot', quick, `ask ${host} for a pgBackRest slot: ${what}`, spec, { ticket, workflowId, runId, what, at: Date.now(), ...(urgent ? { urgent } : {}) });
    await log.run(`queue for ${step}`, async () => {
      await condition(() => granted.has(ticket));
      return { changed: false, detail: `slot on ${host} granted ${Math.round(granted.get(ticket)!.waitedMs / 1000)} s after it was asked for` };
    });
    return await body();
  } finally {
    // Also when cancelled: the queue must not wait for a run that ended. A budget that is gone holds nothing.
    await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(budgetWorkflowId(host)).signal(releaseSignal, ticket).catch(() => undefined));
  }
}
