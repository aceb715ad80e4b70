import { createHash } from 'node:crypto';
import type { RecoverPlan } from '../activities/recover';
import type { SwitchoverPlan } from '../activities/switchover';
import type { Fence, FailoverPlan } from '../activities/failover';
import { describeRecoveryTarget } from '../render/recover-plan';
import type { RecoveryTarget } from './recovery-target';
import type { CopyPlace } from './restore-copy';
import type { RepoIndex, Spec } from './schema';

/**
 * What a DBA confirms before a run that stops, overwrites or deletes: the facts of its plan that
 * say what is destroyed. The CLI shows them, asks, and starts the run with their digest (the plan
 * id); the run's first step recomputes them and refuses a request without that id or with another.
 * Not a secret and not authentication (mTLS on Temporal is): a guard against a destructive run
 * started by hand (`temporal workflow start`, the UI) or on a plan that changed since it was shown.
 */
export type PlanFacts = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;

export type DestructiveAction =
  | { readonly kind: 'rebuild'; readonly node: string }
  | { readonly kind: 'restore'; readonly request: { readonly place: CopyPlace; readonly target: RecoveryTarget; readonly set?: string; readonly reuse: boolean; readonly repo?: number } }
  | { readonly kind: 'recover'; readonly target: RecoveryTarget; readonly repo?: RepoIndex }
  | { readonly kind: 'switchover'; readonly to: string }
  | { readonly kind: 'failover'; readonly to?: string; readonly fence?: Fence };

/** `plan-` and 20 hex digits of the SHA-256 of the facts, keys sorted: the same facts give the same id anywhere. */
export function planId(facts: PlanFacts): string {
  const canonical = JSON.stringify(Object.keys(facts).sort().map((k) => [k, facts[k]]));
  return `plan-${createHash('sha256').update(canonical).digest('hex').slice(0, 20)}`;
}

function describeFacts(facts: PlanFacts): string {
  return Object.entries(facts).map(([k, v]) => `${k} ${Array.isArray(v) ? (v.length ? v.join(', ') : 'none') : String(v)}`).join('; ');
}

/** A rebuild replaces the node's data directory. */
export function rebuildFacts(spec: Spec, node: string): PlanFacts {
  const n = spec.nodes.find((x) => x.name === node);
  return { action: 'rebuild', stanza: spec.stanza, node, host: n?.host ?? null, dataDir: spec.postgres.dataDir };
}

/** A restore writes the copy's directory on its host (over its files when reused). */
export function restoreFacts(spec: Spec, r: Extract<DestructiveAction, { kind: 'restore' }>['request']): PlanFacts {
  return {
    action: 'restore', stanza: spec.stanza, host: r.place.host, dataDir: r.place.dataDir, port: r.place.port,
    target: describeRecoveryTarget(r.target), set: r.set ?? null, reuse: r.reuse,
    // Only when named: plans confirmed before offsite repositories keep their ids.
    ...(r.repo ? { repo: r.repo } : {}),
  };
}

/** A recover replaces every node's data: the plan read from the hosts says from which backup, to what, on which cluster. */
export function recoverFacts(spec: Spec, plan: RecoverPlan): PlanFacts {
  return {
    action: 'recover', stanza: spec.stanza, target: plan.target, backup: plan.backup.label, primary: plan.primary,
    systemId: plan.primarySystemId, timeline: plan.timeline, standbys: plan.standbys, dataDir: spec.postgres.dataDir,
    // Only with an offsite repository: plans confirmed before it keep their ids.
    ...(plan.backup.repo !== undefined && { repo: plan.backup.repo }),
  };
}

/** A switchover stops the primary and makes every other node a standby of the target: who, from which timeline. */
export function switchoverFacts(spec: Spec, plan: SwitchoverPlan): PlanFacts {
  return { action: 'switchover', stanza: spec.stanza, primary: plan.primary, to: plan.to, timeline: plan.timeline, standbys: plan.standbys };
}

/** A failover promotes a standby and fences the old primary: which ones, and who follows or is rebuilt. */
export function failoverFacts(spec: Spec, plan: FailoverPlan): PlanFacts {
  return { action: 'failover', stanza: spec.stanza, primary: plan.primary, fence: plan.fence, to: plan.to, standbys: plan.standbys, rebuild: plan.rebuild };
}

/** Why a request's `confirm` does not stand for the plan `facts` describe now; undefined when it does. */
export function confirmationProblem(facts: PlanFacts, confirm: string | undefined): string | undefined {
  const action = String(facts.action);
  if (!confirm) {
    return `${action} of stanza ${String(facts.stanza)} refused: the request carries no confirmed plan id (confirm), so nobody confirmed what it destroys ` +
      `(${describeFacts(facts)}). Start it with "stanzactl ${action}", which shows the plan and asks`;
  }
  if (confirm !== planId(facts)) {
    return `${action} of stanza ${String(facts.stanza)} refused: the plan confirmed (${confirm}) is not the plan now (${describeFacts(facts)}): ` +
      `it changed since it was shown, or was confirmed for another request. Run "stanzactl ${action}" again`;
  }
  return undefined;
}
