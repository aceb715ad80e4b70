import { condition, continueAsNew, defineQuery, defineSignal, getExternalWorkflowHandle, patched, setHandler, allHandlersFinished, workflowInfo } from '@temporalio/workflow';
import { ACQUIRE_SIGNAL, BUDGET_QUERY, GRANTED_SIGNAL, RELEASE_SIGNAL, type BudgetState, type SlotGrant, type SlotRequest } from '../budget/protocol';
import { EMPTY_BUDGET, enqueue, forgetRuns, grant, idle, release, runsOf } from '../budget/queue';
import { quick } from './profiles';
import { call } from './steps';

export const acquireSignal = defineSignal<[SlotRequest]>(ACQUIRE_SIGNAL);
export const releaseSignal = defineSignal<[string]>(RELEASE_SIGNAL);
export const grantedSignal = defineSignal<[SlotGrant]>(GRANTED_SIGNAL);
export const budgetQuery = defineQuery<BudgetState>(BUDGET_QUERY);

// A run that ends without giving its slot back (terminated, timed out: its finally never ran) is
// found by asking the server at this pace while anything is held or queued.
const LIVENESS_EVERY_MS = 30_000;
// With nothing held or asked for this long the budget ends; the next ask starts a new one.
const IDLE_MS = 10 * 60_000;
// Each request costs about a dozen events (signals in, the grant out, workflow tasks); a new run
// well before Temporal's warnings (10k events) keeps a replay short.
const MAX_HISTORY = 2000;
// Runs recorded before it read the signals of a round from its start waited past those that came
// in while grants were being told: a slot stayed free, runs queued, until the next signal or the
// liveness check (up to 30 s; bench/fleet-backups.ts saw 5.5 s with 4 of 8 slots free).
const SIGNALS_DURING_GRANTS = 'budget-signals-during-grants';

/**
 * The pgBackRest slots of one repository host (id repository-budget-<host>): runs ask with
 * signalWithStart (activity requestRepositorySlot), are granted first come first served (a recovery
 * ahead of the rest), and give back with a signal, also when they fail or are cancelled. State
 * lives in the workflow, so worker and server restarts lose nothing; continue-as-new carries it.
 */
export async function repositoryBudget(carried: BudgetState = EMPTY_BUDGET): Promise<void> {
  let s = carried;
  let version = 0;
  setHandler(acquireSignal, (r) => void ((s = enqueue(s, r)), version++));
  setHandler(releaseSignal, (ticket) => void ((s = release(s, ticket)), version++));
  setHandler(budgetQuery, () => s);
  let checkedAt = Date.now();
  for (;;) {
    const before = version;
    const now = Date.now();
    const { state, granted } = grant(s, now);
    s = state;
    const told = await Promise.all(granted.map((g) => tell(g, now)));
    // A run that is gone cannot use its slot: the next one in the queue gets it.
    for (const [i, ok] of told.entries()) if (!ok) s = release(s, granted[i].ticket);
    if (told.includes(false)) continue;

    if (workflowInfo().historyLength > MAX_HISTORY || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof repositoryBudget>(s);
    }
    // An ask or a release that came in while the grants were being told is this round's news too.
    const seen = patched(SIGNALS_DURING_GRANTS) ? before : version;
    if (idle(s)) {
      if (!(await condition(() => version !== seen, IDLE_MS))) return;
      continue;
    }
    const wait = checkedAt + LIVENESS_EVERY_MS - Date.now();
    if (wait > 0 && (await condition(() => version !== seen, wait))) continue;
    // A server that cannot say (its describe refused, say) must not end the budget and strand its queue.
    const closed = await call('closedRuns', quick, 'which holders and waiters of the budget ended', runsOf(s)).catch(() => []);
    s = forgetRuns(s, closed);
    checkedAt = Date.now();
  }
}

async function tell(g: SlotRequest, now: number): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(g.workflowId, g.runId).signal(grantedSignal, { ticket: g.ticket, waitedMs: Math.max(0, now - g.at) });
    return true;
  } catch {
    return false;
  }
}
