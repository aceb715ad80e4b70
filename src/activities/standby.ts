import { Context } from '@temporalio/activity';
import { program } from '../paths';
import { asUser, cmd, script, Secret } from '../shell/command';
import { ensurePgpass, pgpassLine } from '../render/pgpass';
import { controlServer, ensureEnabled } from './postgres-service';
import { quoteLiteral } from '../render/sql';
import { primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { clusterState, query, walReceiver } from './cluster-state';
import { creationMarker, creationPending, debianConfigDir, runCreation } from '../host/cluster-creation';
import { runDetached } from '../host/detached-run';
import { refuse } from '../host/failures';
import { findNode, nodeAddress } from './hosts';
import { reportProgress } from '../host/heartbeat';
import type { HostOps } from '../host/host-ops';
import { pgbackrestCommand } from '../host/pgbackrest';
import { copyPercent } from '../facts/pgbackrest-output';
import { resolveReplicationPassword } from './secrets';
import { merge, type StepResult } from './types';

/** The seed's ~/.pgpass on a standby: the replication password, 0600, never in a command line. */
export function ensureStandbyPgpass(ops: HostOps, spec: Spec, nodeName: string): Promise<StepResult> {
  return ensurePgpassLine(ops, spec, nodeName, { database: 'replication', user: spec.replication.user });
}

/** A ~/.pgpass line of the node's OS user for `user` into `database` on any host, with the replication password. */
export async function ensurePgpassLine(ops: HostOps, spec: Spec, nodeName: string, to: { database: string; user: string }): Promise<StepResult> {
  const host = nodeAddress(findNode(spec, nodeName));
  const account = await ops.user(host, spec.postgres.osUser);
  if (!account) throw refuse(`${nodeName}: OS user ${spec.postgres.osUser} does not exist`, 'PreflightFailed');
  const password = await resolveReplicationPassword(spec);
  const path = `${account.home}/.pgpass`;
  const line = pgpassLine({ host: '*', port: '*', ...to, password: password.value });
  const found = await ops.readOwnedFile(host, path);
  const { content } = ensurePgpass(found?.content ?? '', line, to);
  const changed = await ops.replaceFile(host, path, new Secret(content), { owner: spec.postgres.osUser, group: account.group, mode: '600' }, found);
  return { changed, detail: `${nodeName}:${path} ${changed ? 'written' : 'up to date'}` };
}

export interface StandbyPlan extends StepResult {
  /** Already a standby of this cluster and streaming: nothing to restore. */
  readonly streaming: boolean;
  /** The data directory holds this cluster's files: a delta restore reuses them. */
  readonly delta: boolean;
}

// Debian keeps postgresql.conf and pg_hba.conf outside the data directory and a restore does not
// bring them: create the cluster's config with pg_createcluster, then empty its new data directory.
// Its old data (if any) goes first: pg_createcluster runs initdb, which wants an empty directory.
// Marked (cluster-creation.ts): an interrupted run leaves a fresh cluster that is redone, not refused.
// The data directory exists (ensured, links refused) and is emptied by its owner, never by root.
// All as the cluster's owner, pg_createcluster too: the data directory and /etc/postgresql/VERSION
// are that account's, so root would follow a link it planted there (and chown its target).
export const DEBIAN_CONFIG = program('activities', 'debian-config');

export const HAS_FILES = program('activities', 'has-files');

/**
 * Decides what a standby needs and gets it ready for a restore: stopped, with its config directory.
 * Refuses to overwrite a data directory that holds another cluster's data.
 */
export async function prepareStandby(ops: HostOps, spec: Spec, nodeName: string, primarySystemId: string, rebuild = false): Promise<StandbyPlan> {
  const node = findNode(spec, nodeName);
  const host = nodeAddress(node);
  const pg = spec.postgres;
  const debianConfig = pg.configDir !== undefined && pg.control.type === 'pg_ctlcluster';
  // An interrupted config creation left a fresh cluster of its own, not another cluster's data.
  const interrupted = debianConfig && (await creationPending(ops, host, creationMarker('standby-config', pg.dataDir)));
  const state = await clusterState(ops, host, pg);
  const ours = state.exists && state.systemId === primarySystemId;
  if (state.exists && !ours && !interrupted) {
    throw refuse(
      `${nodeName}: ${pg.dataDir} holds another cluster (system identifier ${state.systemId}, the primary's is ${primarySystemId}). ` +
        'stanzactl will not overwrite it: move it away (or pg_dropcluster it) and run provision again',
      'ForeignCluster',
    );
  }
  if (interrupted && state.running) {
    throw refuse(`${nodeName}: ${pg.dataDir} was left by an interrupted config creation, but a server runs on it now: stanzactl will not touch it. ` +
      `Check it, stop it, then remove ${creationMarker('standby-config', pg.dataDir)}`, 'CreationRefused');
  }
  // Provision leaves a streaming standby alone; a rebuild was asked for, so it restores regardless.
  if (ours && state.running && !rebuild) {
    const { status, inRecovery } = await walReceiver(ops, host, pg);
    if (status === 'streaming' && inRecovery) return { changed: false, streaming: true, delta: true, detail: `${nodeName} is already streaming` };
  }
  const results: StepResult[] = [];
  if (state.running) {
    await controlServer(ops, host, pg, 'stop');
    results.push({ changed: true, detail: `stopped ${nodeName}` });
  } else if (state.exists && (await ops.run(host, cmd('test', '-e', `${pg.dataDir}/postmaster.pid`))).code === 0) {
    // A server that crashed (a killed old primary) leaves its pid file; pgBackRest will not restore
    // over one. pg_ctl status has just said no process holds it.
    await ops.must(host, asUser(pg.osUser, cmd('rm', '-f', '--', `${pg.dataDir}/postmaster.pid`)));
    results.push({ changed: true, detail: `removed the stale postmaster.pid of a server that is not running on ${nodeName}` });
  }
  const account = await ops.user(host, pg.osUser);
  const group = account?.group ?? pg.osUser;
  if (await ops.ensureDir(host, pg.dataDir, { owner: pg.osUser, group, mode: '700' })) results.push({ changed: true, detail: `created ${pg.dataDir}` });
  if (pg.control.type === 'pg_ctlcluster' && debianConfig && (interrupted || (await ops.readFile(host, `${pg.configDir}/postgresql.conf`)) === undefined)) {
    const how = await runCreation(ops, host, {
      kind: 'standby-config', dataDir: pg.dataDir, configDir: debianConfigDir(pg.version, pg.control.cluster), owner: pg.osUser, strict: false,
      body: DEBIAN_CONFIG, args: [String(pg.version), pg.control.cluster, pg.dataDir, pg.osUser, String(pg.port)],
    }, 300_000);
    results.push({ changed: true, detail: how === 'recreated' ? `an earlier config creation was interrupted: created config ${pg.configDir} again` : `created config ${pg.configDir}` });
  }
  // What is left of this cluster's files (even without pg_control) is reused by a delta restore.
  const delta = (await ops.must(host, asUser(pg.osUser, script(HAS_FILES, pg.dataDir)))).trim() === 'yes';
  // A retry of a prepare that already ran (worker killed before it reported) finds nothing to do: "ok".
  return { ...merge(results, `${nodeName} ready for restore`), streaming: false, delta };
}

export interface RestoreResult extends StepResult {
  readonly seconds: number;
}

/**
 * How a delta restore finds the files to copy: checksums (pgBackRest's default: catches silent
 * corruption, reads every file) or size and timestamp (`--force`: reads only metadata).
 */
export type DeltaBy = 'checksum' | 'timestamp';

/** The seed's `restore --type=standby`, detached on the standby; recovery-option comes from its pgbackrest.conf. */
export async function restoreStandby(ops: HostOps, spec: Spec, nodeName: string, delta: boolean, targetTimeline?: number, deltaBy: DeltaBy = 'checksum'): Promise<RestoreResult> {
  const host = nodeAddress(findNode(spec, nodeName));
  const started = Date.now();
  const timeline = targetTimeline ? [`--target-timeline=${targetTimeline}`] : [];
  const mode = !delta ? ['--no-delta'] : deltaBy === 'timestamp' ? ['--delta', '--force'] : ['--delta'];
  const { attached, finishedBefore } = await runDetached(ops, host,
    pgbackrestCommand(spec.postgres.osUser, spec.stanza, '--type=standby', ...mode, ...timeline, '--log-level-console=detail', 'restore'),
    { progress: copyPercent });
  const seconds = (Date.now() - started) / 1000;
  const how = finishedBefore ? ' (made by an earlier attempt)' : attached ? ' (re-attached)' : '';
  return { changed: !finishedBefore, seconds, detail: `${delta ? `delta (by ${deltaBy}) ` : ''}restore on ${nodeName} in ${seconds.toFixed(1)} s${how}` };
}

export async function startStandby(ops: HostOps, spec: Spec, nodeName: string): Promise<StepResult> {
  const host = nodeAddress(findNode(spec, nodeName));
  const state = await clusterState(ops, host, spec.postgres);
  // A restored standby starts at boot like the node it replaces.
  const enabled = await ensureEnabled(ops, host, spec.postgres);
  const and = enabled ? ', its systemd unit enabled' : '';
  if (state.running) return { changed: enabled, detail: `${nodeName} is running${and}` };
  await controlServer(ops, host, spec.postgres, 'start');
  return { changed: true, detail: `started ${nodeName}${and}` };
}

export interface StandbyState {
  readonly name: string;
  readonly state: string;
  readonly replayLagBytes: number | null;
}

/** Polls until the standby's WAL receiver streams and the primary sees it; heartbeats while waiting. */
export async function waitStreaming(ops: HostOps, spec: Spec, nodeName: string): Promise<StandbyState> {
  const ctx = Context.current();
  const host = nodeAddress(findNode(spec, nodeName));
  const primary = nodeAddress(primaryNode(spec));
  for (;;) {
    const { status } = await walReceiver(ops, host, spec.postgres);
    if (status === 'streaming') {
      const lag = await query(ops, primary, spec.postgres,
        `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication WHERE application_name = ${quoteLiteral(nodeName)}`);
      if (lag) return { name: nodeName, state: 'streaming', replayLagBytes: Number(lag) };
    }
    reportProgress({ node: nodeName, walReceiver: status });
    await ctx.sleep(1000);
  }
}

