import type { NodeRole } from '../facts/node-role';
import type { HostAddress } from '../remote/types';
import type { Spec } from '../spec/schema';
import { clusterState, query } from './cluster-state';
import type { HostOps } from '../host/host-ops';

/** What a node is, read from it (pg_controldata; when it runs, recovery, its WAL receiver and who streams from it). Changes nothing. */
export async function readNodeRole(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<NodeRole> {
  const state = await clusterState(ops, host, pg);
  if (!state.running) return state;
  const [receiver, recovery, downstream, upstream] = (await query(ops, host, pg,
    "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none'), pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_replication), coalesce((SELECT sender_host FROM pg_stat_wal_receiver), '')")).split('\t');
  return { ...state, receiver, inRecovery: recovery === 't', downstream: Number(downstream), ...(upstream && { upstream }) };
}
