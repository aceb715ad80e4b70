import { CancellationScope, condition, getExternalWorkflowHandle, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { budgetWorkflowId, type SlotGrant } from '../budget/protocol';
import type { Spec } from '../spec/schema';
import { grantedSignal, releaseSignal } from './budget';
import { quick } from './profiles';
import { call, type StepLog } from './steps';

// Runs recorded before the budget existed ran their pgBackRest step without asking for a slot.
const BUDGET_PATCH = 'repository-budget';

// Per workflow run (each run has its own module state): its asks by ticket, with the budget's host,
// the grant once it came, and whether the run is done with it; and the count of tickets asked.
interface Ask {
  readonly host: string;
  grant?: SlotGrant;
  done: boolean;
}
let asks: Map<string, Ask> | undefined;
let asked = 0;

const release = (host: string, ticket: string) => getExternalWorkflowHandle(budgetWorkflowId(host)).signal(releaseSignal, ticket).catch(() => undefined);

function asksOfThisRun(): Map<string, Ask> {
  if (!asks) {
    const mine = new Map<string, Ask>();
    setHandler(grantedSignal, async (g) => {
      const ask = mine.get(g.ticket);
      if (!ask) return;
      // A grant after the run gave the ticket up (an ask retried late, or cancelled in flight) is given straight back.
      if (ask.done) await release(ask.host, g.ticket);
      else ask.grant = g;
    });
    asks = mine;
  }
  return asks;
}

// A budget that ended without granting (failed, terminated by hand) forgets the queue: a run still
// waiting this long asks again with the same ticket, which a budget that has it ignores.
const ASK_AGAIN_MS = 10 * 60_000;

/**
 * `body` (a pgBackRest backup, restore or verify reading the repository) in one of the repository
 * host's slots: steps `slot for <step>` (ask) and `queue for <step>` (wait for the grant), then the body; the slot is
 * given back also when the body fails or the run is cancelled. `urgent`: a recovery of a cluster
 * that is down, served before the queued runs.
 */
export async function inRepositorySlot<T>(log: StepLog, spec: Spec, step: string, body: () => Promise<T>, urgent = false): Promise<T> {
  if (!patched(BUDGET_PATCH)) return body();
  const { workflowId, runId } = workflowInfo();
  const ticket = `${workflowId}/${runId}/${++asked}`;
  const host = spec.repository.host;
  const ask: Ask = { host, done: false };
  asksOfThisRun().set(ticket, ask);
  try {
    const what = `${step} of ${spec.stanza}`;
    const request = { ticket, workflowId, runId, what, at: Date.now(), ...(urgent ? { urgent } : {}) };
    const title = `ask ${host} for a pgBackRest slot: ${what}`;
    await log.step(`slot for ${step}`, 'requestRepositorySlot', quick, title, spec, request);
    await log.run(`queue for ${step}`, async () => {
      while (!(await condition(() => ask.grant !== undefined, ASK_AGAIN_MS))) await call('requestRepositorySlot', quick, title, spec, request);
      return { changed: false, detail: `slot on ${host} granted ${Math.round(ask.grant!.waitedMs / 1000)} s after it was asked for` };
    });
    return await body();
  } finally {
    // Also when cancelled: the queue must not wait for a run that ended. A budget that is gone holds nothing.
    ask.done = true;
    await CancellationScope.nonCancellable(() => release(host, ticket));
  }
}
