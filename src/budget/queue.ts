import type { BudgetState, SlotRequest } from './protocol';

/**
 * The budget's bookkeeping, pure so that unit tests and the workflow share it: a request is known
 * by its ticket, so a signal the server delivers twice (an activity retried after its
 * signalWithStart went through) changes nothing.
 */

export const EMPTY_BUDGET: BudgetState = { capacity: 1, holders: [], queue: [] };

const known = (s: BudgetState, ticket: string): boolean => s.holders.some((h) => h.ticket === ticket) || s.queue.some((q) => q.ticket === ticket);

/** Queues `r` behind everyone (an urgent one behind the urgent ones only); its capacity becomes the budget's. */
export function enqueue(s: BudgetState, r: SlotRequest): BudgetState {
  const capacity = Math.max(1, Math.floor(r.capacity));
  if (known(s, r.ticket)) return { ...s, capacity };
  const cut = r.urgent ? s.queue.findIndex((q) => !q.urgent) : -1;
  const queue = cut < 0 ? [...s.queue, r] : [...s.queue.slice(0, cut), r, ...s.queue.slice(cut)];
  return { ...s, capacity, queue };
}

/** Frees the ticket's slot, or withdraws it from the queue. */
export function release(s: BudgetState, ticket: string): BudgetState {
  return { ...s, holders: s.holders.filter((h) => h.ticket !== ticket), queue: s.queue.filter((q) => q.ticket !== ticket) };
}

/** Takes the heads of the queue into the free slots; `granted` are the ones the runs must be told. */
export function grant(s: BudgetState, now: number): { state: BudgetState; granted: SlotRequest[] } {
  const free = Math.max(0, s.capacity - s.holders.length);
  const granted = s.queue.slice(0, free);
  if (granted.length === 0) return { state: s, granted };
  return { state: { ...s, holders: [...s.holders, ...granted.map((g) => ({ ...g, grantedAt: now }))], queue: s.queue.slice(granted.length) }, granted };
}

/** Every run the budget knows, each once: whose liveness it checks. */
export function runsOf(s: BudgetState): { workflowId: string; runId: string }[] {
  const seen = new Map<string, { workflowId: string; runId: string }>();
  for (const r of [...s.holders, ...s.queue]) seen.set(`${r.workflowId}/${r.runId}`, { workflowId: r.workflowId, runId: r.runId });
  return [...seen.values()];
}

/** Drops every slot and request of runs that ended without giving theirs back (terminated, timed out). */
export function forgetRuns(s: BudgetState, closed: readonly { workflowId: string; runId: string }[]): BudgetState {
  const gone = new Set(closed.map((c) => `${c.workflowId}/${c.runId}`));
  const live = (r: SlotRequest) => !gone.has(`${r.workflowId}/${r.runId}`);
  return { ...s, holders: s.holders.filter(live), queue: s.queue.filter(live) };
}

export const idle = (s: BudgetState): boolean => s.holders.length === 0 && s.queue.length === 0;
