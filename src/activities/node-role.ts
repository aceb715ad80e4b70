import type { NodeRole } from '../facts/node-role';
import type { HostAddress } from '../remote/types';
import type { Spec } from '../spec/schema';
import { clusterState, query } from './cluster-state';
import { nodeAddress } from './hosts';
import type { HostOps } from '../host/host-ops';

// The timeline a running node is on now: a primary's current WAL file names it; a standby's is the
// newest of what its WAL receiver receives and the timelines its pg_wal holds (segments, history
// files): with its primary gone it has no receiver, and pg_control names a timeline only at a restartpoint.
const ROLE_SQL = `SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none'), pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_replication),
  coalesce((SELECT sender_host FROM pg_stat_wal_receiver), ''),
  CASE WHEN pg_is_in_recovery() THEN coalesce(greatest((SELECT received_tli FROM pg_stat_wal_receiver),
         (SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{8}(\\.history|[0-9A-F]{16})$'))::text, '')
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text END`;

/** What a node is, read from it (pg_controldata; when it runs, recovery, its WAL receiver and who streams from it). Changes nothing. */
export async function readNodeRole(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<NodeRole> {
  const state = await clusterState(ops, host, pg);
  if (!state.running) return state;
  const [receiver, recovery, downstream, upstream, timeline] = (await query(ops, host, pg, ROLE_SQL)).split('\t');
  // pg_control's timeline is the last checkpoint's: a standby that followed a promotion shows the new one only after a restartpoint.
  return { ...state, receiver, inRecovery: recovery === 't', downstream: Number(downstream), ...(upstream && { upstream }), ...(timeline && { timeline: Number(timeline) }) };
}

/** Each node's role by name, or the error it could not be read with, as thrown. */
export type Roles = ReadonlyMap<string, { readonly role?: NodeRole; readonly error?: unknown }>;

/** Every node's role, read at once; a node that cannot be read keeps its error: what it means is the caller's to say. */
export async function readRoles(ops: HostOps, spec: Spec): Promise<Roles> {
  return new Map(await Promise.all(spec.nodes.map(async (n): Promise<[string, { role?: NodeRole; error?: unknown }]> => {
    try {
      return [n.name, { role: await readNodeRole(ops, nodeAddress(n), spec.postgres) }];
    } catch (error) {
      return [n.name, { error }];
    }
  })));
}
