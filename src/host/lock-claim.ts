import type { Command } from '../shell/command';
import type { HostAddress } from '../remote/types';
import type { HostOps } from './host-ops';
import { OWNERLESS_GRACE_SECONDS, parseBlockers, type Blocker, type Holder } from './stanza-locks';

/**
 * Whether a workflow run is still open, asked of Temporal: a recover or rebuild holds the stanza as
 * long as its workflow runs (they wait minutes on steps that renew nothing), and no longer.
 */
export type Liveness = (workflowId: string, runId: string) => Promise<boolean>;

/** A holder without an owner line (a claim interrupted midway) is dead after its grace; others while their workflow runs. */
export async function holderAlive(h: Holder, now: number, alive: Liveness): Promise<boolean> {
  if (h.workflowId === '-') return now - h.since <= OWNERLESS_GRACE_SECONDS;
  return alive(h.workflowId, h.runId);
}

/** Removes the holders whose workflow ended (compare-and-set, by `drop`); returns those still alive. */
async function liveBlockers(ops: HostOps, host: HostAddress, blockers: Blocker[], drop: (b: Blocker) => Command, alive: Liveness): Promise<Blocker[]> {
  const now = Date.now() / 1000;
  const live: Blocker[] = [];
  for (const b of blockers) {
    if (await holderAlive(b.holder, now, alive)) live.push(b);
    else await ops.must(host, drop(b));
  }
  return live;
}

// A holder found dead is dropped and the claim tried again; a third round finding only dead ones is a race lost thrice.
const ROUNDS = 3;

/**
 * Runs a claim script on `host` until it holds: holders whose workflow ended are dropped (`drop`)
 * and the claim tried again; live ones are refused with `busy(live)`. Returns the script's last
 * output ("claimed", "claimed new", "registered").
 */
export async function claimPastDead(ops: HostOps, host: HostAddress, claim: Command, drop: (b: Blocker) => Command, alive: Liveness, busy: (live: Blocker[]) => Error, what: string): Promise<string> {
  for (let round = 1; ; round++) {
    const out = (await ops.must(host, claim)).trim();
    const blockers = parseBlockers(out);
    if (blockers.length === 0) return out;
    const live = await liveBlockers(ops, host, blockers, drop, alive);
    if (live.length > 0) throw busy(live);
    if (round === ROUNDS) throw new Error(`${host.name}: the lock changed hands ${ROUNDS} times while ${what}`);
  }
}
