/** A node's real role, read from the host (activities/node-role.ts reads it). */
export interface NodeRole {
  readonly exists: boolean;
  readonly running: boolean;
  readonly systemId?: string;
  /** pg_controldata's "Database cluster state": "shut down in recovery" for a stopped standby. */
  readonly controlState?: string;
  readonly timeline?: number;
  /** Read only while it runs. */
  readonly inRecovery?: boolean;
  /** The WAL receiver's status, 'none' without one. */
  readonly receiver?: string;
  /** Standbys streaming from it (pg_stat_replication). */
  readonly downstream?: number;
  /** The host its WAL receiver connects to (pg_stat_wal_receiver.sender_host); absent without one. */
  readonly upstream?: string;
}

/**
 * Whether recover may stop and overwrite `name`, which the spec calls a standby: what it is, for the
 * plan, and why not when it is something else (a primary now, a node others stream from, one last
 * shut down as a primary, another cluster): its writes, or its standbys' source, would be lost.
 */
export function judgeStandbyForRecover(name: string, r: NodeRole, primarySystemId: string | undefined): { seen: string; refusal?: string } {
  const tl = r.timeline === undefined ? '' : ` on timeline ${r.timeline}`;
  if (r.exists && primarySystemId && r.systemId !== primarySystemId) {
    return { seen: 'another cluster', refusal: `${name} holds another cluster (system identifier ${r.systemId}, the primary's is ${primarySystemId})` };
  }
  if (r.running) {
    const serves = r.downstream ? `, and ${r.downstream} standby(s) stream from it` : '';
    if (!r.inRecovery) return { seen: 'a primary', refusal: `${name} is a primary now: out of recovery${tl}${serves}` };
    if (r.downstream) return { seen: 'a cascading standby', refusal: `${name} serves standbys: ${r.downstream} standby(s) stream from it` };
    return { seen: r.receiver === 'streaming' ? 'a standby, streaming' : `a standby (WAL receiver: ${r.receiver})` };
  }
  if (!r.exists) return { seen: 'stopped, no cluster in its data directory' };
  if (!/recovery/.test(r.controlState ?? '')) {
    return { seen: 'stopped, last a primary', refusal: `${name} is stopped, but its pg_control says "${r.controlState}"${tl}: it was last a primary, not a standby` };
  }
  return { seen: `stopped, last a standby (pg_control: "${r.controlState}")` };
}

/** Running and out of recovery: a primary now. */
export const runsAsPrimary = (r: NodeRole | undefined): boolean => r?.running === true && r.inRecovery === false;

/**
 * The node a recover restores in place of the spec's primary `specPrimary` (its role as read): after
 * a failover done by hand it runs no more as the primary, and exactly one of the `others` does,
 * holding the same cluster (system identifier). undefined in every other case (the spec's primary
 * runs as one, no node or two do, another cluster): the plan stays on the spec's primary, refused
 * as before when it is not running as one. `others` without a role could not be read.
 */
export function failedOverTo(specPrimary: NodeRole, others: readonly { readonly name: string; readonly role?: NodeRole }[]): string | undefined {
  if (runsAsPrimary(specPrimary) || specPrimary.systemId === undefined) return undefined;
  const primaries = others.filter((o) => runsAsPrimary(o.role));
  return primaries.length === 1 && primaries[0].role!.systemId === specPrimary.systemId ? primaries[0].name : undefined;
}
