import type { BackupType, Spec } from '../spec/schema';
import type { ReplicationRow } from './postgres';
import type { Topology } from './topology';

/** A target further behind than this is not "caught up": its stop-to-promote wait would be the outage. */
export const CAUGHT_UP_BYTES = 16 * 1024 * 1024;

/**
 * Why a planned switchover of `topology`'s primary to `to` must not start; none when it may. The
 * target must stream from the primary, caught up; every other node must be a streaming standby of
 * the primary too (a node left behind would have nobody to follow, or a timeline to fork from).
 * `replication`: the primary's pg_stat_replication, by application_name (the node's name).
 */
export function switchoverProblems(topology: Topology, to: string, replication: readonly ReplicationRow[]): string[] {
  const primary = topology.primary;
  if (primary === null) return topology.problems;
  if (to === primary) return [`${to} is already the primary`];
  const problems: string[] = [];
  for (const n of topology.nodes.filter((x) => x.name !== primary)) {
    const row = replication.find((r) => r.applicationName === n.name);
    const role = n.name === to ? 'the target' : 'a standby';
    if (n.seenAs !== 'standby') problems.push(`${n.name} (${role}) is ${n.seenAs}${n.error ? ` (${n.error})` : ''}, not a running standby`);
    else if (!n.streaming || n.upstream !== primary || row?.state !== 'streaming') {
      problems.push(`${n.name} (${role}) does not stream from ${primary} (its upstream: ${n.upstream ?? 'none'}, ${primary} sees it ${row ? row.state : 'not at all'})`);
    } else if (n.name === to && (row.lagBytes === undefined || row.lagBytes > CAUGHT_UP_BYTES)) {
      problems.push(`${to} replays ${row.lagBytes ?? 'an unknown number of'} bytes behind ${primary}: not caught up (at most ${CAUGHT_UP_BYTES} bytes)`);
    }
  }
  return problems;
}

/**
 * The backup a role change takes on the new timeline: the spec's most frequent scheduled kind
 * (incr before diff before full), the cheapest that its restores can start from; an incr without
 * schedules (pgBackRest takes a full when the stanza has none).
 */
export function backupAfterRoleChange(spec: Spec): { type: BackupType; why: string } {
  const s = spec.backups?.schedule;
  const type: BackupType = s?.incr || !s || (!s.diff && !s.full) ? 'incr' : s.diff ? 'diff' : 'full';
  return { type, why: s && (s.incr || s.diff || s.full) ? 'the cheapest kind the spec\'s schedules take' : 'the spec schedules no backups' };
}
