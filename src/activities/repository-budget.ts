import { cmd } from '../shell/command';
import type { SlotRequest } from '../budget/protocol';
import { defaultBudget, parseSshdLimits } from '../facts/ssh-limits';
import { defaultProcessMax } from '../render/pgbackrest-tuning';
import type { HostOps } from '../host/host-ops';
import type { Spec } from '../spec/schema';
import { repoHost } from './hosts';
import { cores } from './pgbackrest-conf';
import type { StepResult } from './types';

/** Delivers a request to the budget workflow of a repository host, starting it when none runs (signalWithStart). */
export type AskBudget = (repositoryHost: string, request: SlotRequest) => Promise<void>;

/** The spec's budget, or the one the repository host's sshd and cores allow (facts/ssh-limits.ts). */
async function capacityOf(ops: HostOps, spec: Spec): Promise<{ capacity: number; why: string }> {
  if (spec.repository.budget !== undefined) return { capacity: spec.repository.budget, why: 'repository.budget' };
  const host = repoHost(spec);
  const [sshd, n] = await ops.together(host, (b) => Promise.all([b.must(host, cmd('sshd', '-T')), cores(b, host)]));
  const processMax = spec.pgbackrest?.processMax ?? defaultProcessMax(n);
  return defaultBudget(parseSshdLimits(sshd), processMax);
}

/**
 * Asks the repository host's budget for a slot for `request` (the run then waits for the grant
 * signal). A repeated ask with the same ticket is the same request, so a retry changes nothing;
 * nothing on the hosts changes either way.
 */
export async function requestRepositorySlot(ops: HostOps, spec: Spec, request: Omit<SlotRequest, 'capacity'>, ask: AskBudget): Promise<StepResult> {
  const { capacity, why } = await capacityOf(ops, spec);
  await ask(spec.repository.host, { ...request, capacity });
  return { changed: false, detail: `asked ${spec.repository.host} for one of its ${capacity} pgBackRest slots (${why}) for ${request.what}` };
}
