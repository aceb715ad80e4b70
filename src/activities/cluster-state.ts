import { program } from '../paths';
import { asUser, script } from '../shell/command';
import type { HostAddress } from '../remote/types';
import { parseControlData } from '../facts/postgres';
import { psqlCommand, statusCommand } from '../render/postgres-control';
import type { Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';

export interface ClusterState {
  readonly exists: boolean;
  readonly running: boolean;
  readonly systemId?: string;
  /** pg_controldata's "Database cluster state", e.g. "in production", "in archive recovery". */
  readonly controlState?: string;
  /** The timeline of the latest checkpoint. */
  readonly timeline?: number;
  readonly checkpointLsn?: string;
  /** Data checksums or wal_log_hints: pg_rewind needs one of them. */
  readonly hintsLogged?: boolean;
}

// As the cluster's owner: root reading a pg_control that is a link could print another file's bytes.
const CONTROLDATA = program('activities', 'controldata');

/** What is in the data directory and whether a postmaster serves it; never changes anything. */
export async function clusterState(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<ClusterState> {
  const [control, status] = await Promise.all([
    ops.must(host, asUser(pg.osUser, script(CONTROLDATA, pg.binDir, pg.dataDir))),
    ops.run(host, statusCommand(pg)),
  ]);
  const running = status.code === 0;
  if (control.trim() === 'absent') return { exists: false, running };
  if (control.trim() === 'unreadable') throw refuse(`${host.name}: ${pg.dataDir}/global/pg_control is there but ${pg.osUser} (postgres.osUser) cannot read it`, 'UnsafePath');
  const parsed = parseControlData(control);
  return { exists: true, running, systemId: parsed.systemIdentifier, controlState: parsed.clusterState, timeline: parsed.timeline,
    hintsLogged: parsed.checksumVersion > 0 || parsed.walLogHints === true, ...(parsed.checkpointLsn && { checkpointLsn: parsed.checkpointLsn }) };
}

/** psql's rows as printed (tab-separated), without the final newline: empty (NULL) last fields stay. */
export async function query(ops: HostOps, host: HostAddress, pg: Spec['postgres'], sql: string): Promise<string> {
  return (await ops.must(host, psqlCommand(pg, sql))).replace(/\n+$/, '');
}

/** Standbys (by application_name, which stanzactl sets to the node name) the primary streams to now. */
export async function streamingStandbys(ops: HostOps, primary: HostAddress, pg: Spec['postgres']): Promise<string[]> {
  return (await query(ops, primary, pg, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")).split('\n').filter(Boolean);
}

/** A node's recovery state and its WAL receiver's status ('none' without one). */
export async function walReceiver(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<{ status: string; inRecovery: boolean }> {
  const [status, recovery] = (await query(ops, host, pg, "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none'), pg_is_in_recovery()")).split('\t');
  return { status, inRecovery: recovery === 't' };
}

export async function inRecovery(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<boolean> {
  return (await query(ops, host, pg, 'SELECT pg_is_in_recovery()')) === 't';
}
