import { program } from '../paths';
import { Context } from '@temporalio/activity';
import { asUser, cmd, script } from '../shell/command';
import { quoteLiteral } from '../render/sql';
import { primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { clusterState, inRecovery, query } from './cluster-state';
import { refuse } from '../host/failures';
import { checkControl } from './postgres-service';
import { findNode, nodeAddress, repoHost } from './hosts';
import { reportProgress } from '../host/heartbeat';
import type { HostOps } from '../host/host-ops';
import { readNodeRole } from './node-role';
import { registerRebuild } from './stanza-lock';
import type { Liveness } from '../host/locks';
import type { StepResult } from './types';

export interface RebuildTarget extends StepResult {
  /** What was found wrong with the node, in a DBA's words; empty when it looked healthy. */
  readonly broken: string[];
  readonly primarySystemId: string;
  /**
   * Set when the archive holds a timeline newer than the primary's (a standby promoted by mistake
   * archived its fork): the restore must follow the primary's timeline, not the newest.
   */
  readonly targetTimeline?: number;
}

// Timeline history files in the stanza's archive, as decimal timeline ids; listed as the repository user, who owns it.
const ARCHIVED_TIMELINES = program('activities', 'archived-timelines');

async function forkedTimeline(ops: HostOps, spec: Spec, primaryTimeline: number): Promise<number | undefined> {
  const out = await ops.must(repoHost(spec), asUser(spec.repository.user, script(ARCHIVED_TIMELINES, spec.repository.path, spec.stanza)));
  const newest = Math.max(0, ...out.split('\n').filter((l) => /^[0-9A-F]{8}$/.test(l)).map((l) => parseInt(l, 16)));
  return newest > primaryTimeline ? primaryTimeline : undefined;
}

/**
 * Decides from the hosts, not only from the spec, that rebuilding `nodeName` cannot hit the primary:
 * the spec's primary must be a running primary, and the node must serve no standby itself. A
 * standby promoted by mistake (out of recovery, nobody streaming from it) is a case to rebuild.
 */
export async function inspectRebuildTarget(ops: HostOps, spec: Spec, nodeName: string, alive: Liveness): Promise<RebuildTarget> {
  const node = spec.nodes.find((n) => n.name === nodeName);
  if (!node) throw refuse(`${nodeName} is not a node of stanza ${spec.stanza} (nodes: ${spec.nodes.map((n) => n.name).join(', ')})`, 'RefusedRebuild');
  const primary = primaryNode(spec);
  if (node.name === primary.name) throw refuse(`${nodeName} is the primary of stanza ${spec.stanza}: stanzactl never rebuilds the primary`, 'RefusedRebuild');
  // Here, in the first step, rather than in a step of its own: running rebuilds replay unchanged.
  await registerRebuild(ops, spec, nodeName, alive);

  const primaryAddr = nodeAddress(primary);
  const p = await clusterState(ops, primaryAddr, spec.postgres);
  if (!p.running || (await inRecovery(ops, primaryAddr, spec.postgres))) {
    throw refuse(`no healthy primary to stream from: ${primary.name} is ${p.running ? 'in recovery' : 'not running'}. Repair it or fail over first`, 'RefusedRebuild');
  }

  const host = nodeAddress(node);
  const broken: string[] = [];
  await checkControl(ops, host, spec.postgres);
  const s = await readNodeRole(ops, host, spec.postgres);
  const dataDir = (await ops.run(host, cmd('test', '-d', spec.postgres.dataDir))).code === 0;
  if (!dataDir) broken.push(`data directory ${spec.postgres.dataDir} is missing`);
  else if (!s.exists) broken.push('global/pg_control is missing');
  if (s.exists && s.systemId !== p.systemId) broken.push(`holds another cluster (system identifier ${s.systemId})`);
  if (!s.running) broken.push('PostgreSQL is not running');
  else {
    if (s.downstream) throw refuse(`${nodeName} is a primary now: ${s.downstream} standby(s) stream from it. stanzactl will not rebuild it`, 'RefusedRebuild');
    if (!s.inRecovery) {
      // An old primary come back as one may still take writes: its clients must go first, or their writes would be lost unseen.
      const clients = Number(await query(ops, host, spec.postgres, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"));
      if (clients > 0) throw refuse(`${nodeName} still runs as a primary, with ${clients} client connection(s): its writes would be lost. Stop it (or its clients) first; stanzactl will not rebuild it`, 'RefusedRebuild');
      broken.push('promoted: out of recovery, on a timeline of its own');
    }
    else if (s.receiver !== 'streaming') broken.push(`not streaming (WAL receiver: ${s.receiver})`);
  }
  if (spec.postgres.configDir && (await ops.readFile(host, `${spec.postgres.configDir}/postgresql.conf`)) === undefined) {
    broken.push(`config ${spec.postgres.configDir} is missing`);
  }
  const account = await ops.user(host, spec.postgres.osUser);
  if (account && (await ops.readFile(host, `${account.home}/.pgpass`)) === undefined) broken.push('~/.pgpass is missing');
  const primaryTimeline = Number(await query(ops, primaryAddr, spec.postgres, 'SELECT timeline_id FROM pg_control_checkpoint()'));
  const targetTimeline = await forkedTimeline(ops, spec, primaryTimeline);
  if (targetTimeline) broken.push(`the archive holds a timeline newer than the primary's ${primaryTimeline} (a fork): the restore follows timeline ${targetTimeline}`);
  return { changed: false, broken, primarySystemId: p.systemId ?? '', targetTimeline, detail: broken.length ? `${nodeName}: ${broken.join('; ')}` : `${nodeName} looked healthy` };
}

export interface Marker extends StepResult {
  readonly id: string;
}

// A row of our own, in a schema of our own, so the check reads nothing of the user's.
const MARKER_SQL = (id: string) => `CREATE SCHEMA IF NOT EXISTS stanzactl;
CREATE TABLE IF NOT EXISTS stanzactl.rebuild_marker (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now());
INSERT INTO stanzactl.rebuild_marker (id) VALUES (${quoteLiteral(id)}) ON CONFLICT (id) DO NOTHING RETURNING id;`;

/** A row written on the primary after the restore began: the rebuilt node must replay it. */
export async function writeMarker(ops: HostOps, spec: Spec, id: string): Promise<Marker> {
  // RETURNING prints the id only when this call inserted it: a retry finds the row and changes nothing.
  const inserted = (await query(ops, nodeAddress(primaryNode(spec)), spec.postgres, MARKER_SQL(id))) !== '';
  return { changed: inserted, id, detail: `marker ${id} ${inserted ? 'written' : 'was already'} on ${primaryNode(spec).name}` };
}

/** Waits until the standby streams and has replayed the marker; returns the lag at that moment. */
export async function waitMarkerReplayed(ops: HostOps, spec: Spec, nodeName: string, id: string): Promise<StepResult & { replayLagBytes: number }> {
  const ctx = Context.current();
  const host = nodeAddress(findNode(spec, nodeName));
  const sql = `SELECT (SELECT status FROM pg_stat_wal_receiver) = 'streaming' AND to_regclass('stanzactl.rebuild_marker') IS NOT NULL
    AND EXISTS (SELECT 1 FROM stanzactl.rebuild_marker WHERE id = ${quoteLiteral(id)})`;
  for (;;) {
    const seen = await query(ops, host, spec.postgres, sql).catch(() => 'f');
    if (seen === 't') break;
    reportProgress({ node: nodeName, marker: id });
    await ctx.sleep(500);
  }
  const lag = await query(ops, nodeAddress(primaryNode(spec)), spec.postgres,
    `SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1) FROM pg_stat_replication WHERE application_name = ${quoteLiteral(nodeName)}`);
  return { changed: false, replayLagBytes: Number(lag || -1), detail: `${nodeName} streams and replayed marker ${id}; replay lag ${lag || '?'} bytes` };
}
