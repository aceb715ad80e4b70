import type { Topology } from './topology';

/** How far a standby got: what it received from the primary and replayed, as it says. */
export interface StandbyPosition {
  readonly name: string;
  readonly receiveLsn?: string;
  readonly replayLsn?: string;
  /** When the last transaction it replayed committed on the primary. */
  readonly lastReplayAt?: string;
}

/** An LSN ("16/B374D848") as a number of bytes: BigInt, LSNs are 64-bit. */
export function lsnValue(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** The furthest a standby has WAL for: what it received, else (restored from the archive only) what it replayed. */
const reach = (p: StandbyPosition): bigint => {
  const lsns = [p.receiveLsn, p.replayLsn].filter((l): l is string => !!l).map(lsnValue);
  return lsns.reduce((a, b) => (b > a ? b : a), -1n);
};

export interface FailoverChoice {
  readonly to: string;
  /** The most advanced standby, which the choice is when `--to` does not say otherwise. */
  readonly best: string;
  /** Bytes of WAL the chosen one lacks against the most advanced: lost for good once it is promoted. */
  readonly behindBest: number;
  /** Standbys with WAL the chosen one never had: their timeline forks before their position, they must be rebuilt. */
  readonly ahead: string[];
}

/**
 * The standby to promote: the one that received the most WAL (then replayed, then spec order), or
 * `to` when given. Throws (a sentence) when `to` is none of the positions or none has WAL at all.
 */
export function chooseFailoverTarget(positions: readonly StandbyPosition[], to?: string): FailoverChoice {
  if (positions.length === 0) throw new Error('no standby runs: there is nothing to promote');
  const best = positions.reduce((a, b) => (reach(b) > reach(a) ? b : a));
  if (reach(best) < 0n) throw new Error('no standby says how far it got (no received or replayed LSN): nothing proves which one to promote');
  const chosen = to === undefined ? best : positions.find((p) => p.name === to);
  if (!chosen) throw new Error(`${to} is not a running standby: the running ones are ${positions.map((p) => p.name).join(', ')}`);
  const ahead = positions.filter((p) => p.name !== chosen.name && reach(p) > reach(chosen)).map((p) => p.name);
  return { to: chosen.name, best: best.name, behindBest: Number(reach(best) - reach(chosen)), ahead };
}

/**
 * The node a failover replaces: the one that runs as the primary, else the only node that is
 * neither a standby nor without a cluster (unreachable, or stopped last a primary), preferring the
 * spec's primary among several; undefined when nothing tells.
 */
export function failedPrimary(topology: Topology): string | undefined {
  if (topology.primary !== null && topology.nodes.some((n) => n.name === topology.primary && n.seenAs === 'primary')) return topology.primary;
  const candidates = topology.nodes.filter((n) => n.seenAs === 'unreachable' || n.seenAs === 'stopped, last a primary').map((n) => n.name);
  if (candidates.length === 1) return candidates[0];
  return candidates.includes(topology.specPrimary) ? topology.specPrimary : undefined;
}
