import { confirmationProblem, recoverFacts, rebuildFacts, restoreFacts, switchoverFacts, failoverFacts, type DestructiveAction, type PlanFacts } from '../spec/confirmation';
import type { Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';
import { planRecovery } from './recover';
import { planSwitchover } from './switchover';
import { planFailover } from './failover';
import type { StepResult } from './types';

/**
 * The first step of every destructive workflow (a recover's first once it holds the stanza): the
 * plan is computed again (a recover's from the hosts, read-only) and must be the one the DBA
 * confirmed; otherwise a non-retryable refusal, before anything is stopped or written.
 */
export async function requireConfirmed(ops: HostOps, spec: Spec, action: DestructiveAction, confirm: string | undefined): Promise<StepResult> {
  const facts: PlanFacts = action.kind === 'recover' ? recoverFacts(spec, await planRecovery(ops, spec, action.target, undefined, action.repo))
    : action.kind === 'failover' ? failoverFacts(spec, await planFailover(ops, spec, action.to, action.fence))
    : action.kind === 'switchover' ? switchoverFacts(spec, await planSwitchover(ops, spec, action.to))
    : action.kind === 'rebuild' ? rebuildFacts(spec, action.node)
      : restoreFacts(spec, action.request);
  const problem = confirmationProblem(facts, confirm);
  if (problem) throw refuse(`${problem}. Nothing was changed`, 'Unconfirmed');
  return { changed: false, detail: `plan ${confirm} is the one confirmed` };
}
