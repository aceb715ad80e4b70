/**
 * How runs ask a repository host's budget workflow for a slot. Shared by the worker's activities
 * (which start it with signalWithStart), the workflows and the CLI: names and plain types only.
 */

/** The workflow type holding one repository host's slots. */
export const BUDGET_WORKFLOW = 'repositoryBudget';
/** A run asks for a slot (signal to the budget). */
export const ACQUIRE_SIGNAL = 'acquireRepositorySlot';
/** A run gives its slot back, or withdraws its request (signal to the budget). */
export const RELEASE_SIGNAL = 'releaseRepositorySlot';
/** The budget hands a run its slot (signal to the requesting run, a SlotGrant). */
export const GRANTED_SIGNAL = 'repositorySlotGranted';
/** What the budget holds and who waits: for `temporal workflow query` and the tests. */
export const BUDGET_QUERY = 'budget';

/**
 * One budget per repository host as the specs name it: two specs that name one host differently
 * (a DNS name and an address) get two budgets. The fleet's specs should name it alike.
 */
export function budgetWorkflowId(repositoryHost: string): string {
  // Host names are case-insensitive: Backup-Srv and backup-srv are one host, one budget.
  return `repository-budget-${repositoryHost.toLowerCase()}`;
}

export interface SlotRequest {
  /** Unique per request: `<workflowId>/<runId>/<n>`; a repeated request with the same ticket is one request. */
  readonly ticket: string;
  readonly workflowId: string;
  readonly runId: string;
  /** "full backup of demo", for the query and the UI. */
  readonly what: string;
  /** The most pgBackRest runs at once the requester's spec allows on the host; the latest request sets it. */
  readonly capacity: number;
  /** A recovery of a cluster that is down: served before the runs that only wait. */
  readonly urgent?: boolean;
  /** When it was asked (epoch ms, the requester's workflow clock). */
  readonly at: number;
}

/**
 * What the grant says: how long the ask waited, by the budget's clock at the grant and the ask's
 * own time. Carried in the signal because the requesting run cannot measure it itself: a run
 * replayed on a new worker reads Date.now() again for steps it had already taken.
 */
export interface SlotGrant {
  readonly ticket: string;
  readonly waitedMs: number;
}

export interface BudgetState {
  readonly capacity: number;
  /** Granted, in grant order, each with when. */
  readonly holders: readonly (SlotRequest & { readonly grantedAt: number })[];
  /** Waiting, first served first (urgent ones ahead of the others, in their own order). */
  readonly queue: readonly SlotRequest[];
}
