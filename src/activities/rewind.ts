import { program } from '../paths';
import { asUser, Secret, script, withStdin } from '../shell/command';
import { hostHbaLine } from '../render/pg-hba';
import { psqlScriptCommand } from '../render/postgres-control';
import { missingRewindGrantsSql, pgRewindCommand, REWIND_ROLE, rewindGrantsSql } from '../render/rewind';
import { parseRewindDryRun, REJOINED, rewindBlocker, rewindWorthIt, type RejoinMethod, type RejoinPolicy, type RewindDryRun } from '../facts/rewind';
import { nodeHost, primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { runDetached } from '../host/detached-run';
import type { HostOps } from '../host/host-ops';
import { clusterState, query } from './cluster-state';
import { findNode, nodeAddress } from './hosts';
import { ensureHbaLines, ensureLoginRole } from './primary';
import { resolveReplicationPassword } from './secrets';
import { ensurePgpassLine } from './standby';
import { ensureFollowing } from './standby-files';
import { merge, type StepResult } from './types';

export interface RewindPlan extends StepResult {
  readonly method: RejoinMethod;
  /** Why, in a DBA's words (the dry run's numbers when it ran). */
  readonly why: string;
}

// Single-user crash recovery of a killed primary, as the cluster's owner (scripts/crash-recovery.sh).
const CRASH_RECOVERY = program('activities', 'crash-recovery');

/**
 * pg_rewind's login on the primary (REWIND_ROLE: LOGIN and four file functions, the replication
 * password) and its pg_hba line from this node only; the node's ~/.pgpass line for it, and its
 * recovery settings (restore_command: pg_rewind -c fetches the WAL it lacks with it).
 */
async function ensureRewindAccess(ops: HostOps, spec: Spec, nodeName: string): Promise<StepResult> {
  const primary = nodeAddress(primaryNode(spec));
  const pg = spec.postgres;
  const password = (await resolveReplicationPassword(spec)).value;
  const role = await ensureLoginRole(ops, primary, pg, REWIND_ROLE, password, false);
  const missing = Number(await query(ops, primary, pg, missingRewindGrantsSql(REWIND_ROLE)));
  if (missing > 0) await ops.must(primary, withStdin(psqlScriptCommand(pg), new Secret(rewindGrantsSql(REWIND_ROLE))));
  const node = findNode(spec, nodeName);
  const [hba, pgpass, files] = await Promise.all([
    ensureHbaLines(ops, spec, [hostHbaLine('postgres', REWIND_ROLE, nodeHost(node))]),
    ensurePgpassLine(ops, spec, nodeName, { database: 'postgres', user: REWIND_ROLE }),
    ensureFollowing(ops, nodeAddress(node), spec, nodeName),
  ]);
  return merge([role, ...(missing > 0 ? [{ changed: true, detail: `${REWIND_ROLE} may execute pg_rewind's file functions` }] : []), ...(hba ? [hba] : []), pgpass,
    ...(files.conf || files.signal ? [{ changed: true, detail: `${nodeName}: recovery settings written` }] : [])], `pg_rewind's access to ${primaryNode(spec).name} in place`);
}

/**
 * Whether pg_rewind rather than a restore brings the stopped node back as a standby of the
 * primary, decided from its pg_control, then from pg_rewind --dry-run: it must have forked from
 * the primary's timeline, and with `auto` the copy from the live primary must be worth it (facts/rewind.ts).
 * An old primary that did not fork at all needs neither: it is started as a standby.
 * A killed primary first gets the crash recovery pg_rewind requires (what a rejoin would replay anyway).
 */
export async function planRewind(ops: HostOps, spec: Spec, nodeName: string, primarySystemId: string, policy: Exclude<RejoinPolicy, 'restore'> = 'auto'): Promise<RewindPlan> {
  const host = nodeAddress(findNode(spec, nodeName));
  const pg = spec.postgres;
  const primary = primaryNode(spec);
  const [state, primaryTimeline] = await Promise.all([
    clusterState(ops, host, pg),
    query(ops, nodeAddress(primary), pg, 'SELECT timeline_id FROM pg_control_checkpoint()').then(Number),
  ]);
  const blocker = rewindBlocker({ ...state, primarySystemId, primaryTimeline, version: pg.version, configOutside: pg.configDir !== undefined });
  const decided = (method: RejoinMethod, why: string, results: StepResult[] = []): RewindPlan => {
    const done = merge(results, '');
    return { changed: done.changed, method, why, detail: [...(done.changed ? [done.detail] : []), `${nodeName}: ${REJOINED[method]}: ${why}`].join('; ') };
  };
  const restore = (why: string, results: StepResult[] = []) => decided('restore', why, results);
  if (blocker) return restore(blocker);
  const access = await ensureRewindAccess(ops, spec, nodeName);
  const results = [access];
  if (state.controlState === 'in production') {
    await ops.must(host, asUser(pg.osUser, script(CRASH_RECOVERY, pg.binDir, pg.dataDir, pg.configDir ? `${pg.configDir}/postgresql.conf` : '')), { timeoutMs: 900_000 });
    results.push({ changed: true, detail: `${nodeName} was not shut down cleanly: crash recovery in single-user mode` });
  }
  const dry = await ops.run(host, pgRewindCommand(pg, { host: nodeHost(primary), port: pg.port }, true), { timeoutMs: 900_000 });
  if (dry.code !== 0) return restore(`pg_rewind --dry-run failed (exit ${dry.code}): ${lastLine(`${dry.stdout}\n${dry.stderr}`)}`, results);
  let d: RewindDryRun;
  try {
    d = parseRewindDryRun(`${dry.stdout}\n${dry.stderr}`);
  } catch (e) {
    return restore((e as Error).message, results);
  }
  if (!d.needed) {
    // An old primary whose every record the primary has (stopped cleanly, fenced): it follows the
    // new timeline as a switchover's old primary does. A standby asked to be rebuilt is restored.
    return state.controlState === 'shut down'
      ? decided('follow', `pg_rewind finds nothing forked (no rewind required): ${primary.name} has every record it wrote`, results)
      : restore('pg_rewind finds nothing forked (no rewind required): a restore repairs what is broken', results);
  }
  const numbers = `forked at ${d.divergedAt} on timeline ${d.timeline}; pg_rewind would copy ${d.copyMb} MB of ${d.totalMb} MB from ${primary.name}`;
  if (policy === 'rewind') return decided('rewind', `${numbers} (--method rewind)`, results);
  if (!rewindWorthIt(d)) return restore(`${numbers}: below 1 GiB a delta restore is as fast, above half the cluster the repository bears the copy (--method rewind to rewind anyway)`, results);
  return decided('rewind', numbers, results);
}

const lastLine = (out: string): string => out.trim().split('\n').filter((l) => !/ INFO: /.test(l)).pop() ?? 'no output';

class RewindFailed extends Error {
  override readonly name = 'RewindFailed';
}

export interface RewindResult extends StepResult {
  readonly ok: boolean;
  readonly seconds: number;
}

/**
 * pg_rewind of the stopped node from the primary, detached on the node (a retry re-attaches). A
 * failure is reported, not thrown: the node's files are then in no state to start from, and the
 * workflow restores it from the repository instead.
 */
export async function rewindNode(ops: HostOps, spec: Spec, nodeName: string): Promise<RewindResult> {
  const host = nodeAddress(findNode(spec, nodeName));
  const pg = spec.postgres;
  const started = Date.now();
  try {
    const run = await runDetached(ops, host, pgRewindCommand(pg, { host: nodeHost(primaryNode(spec)), port: pg.port }, false), {
      failure: (code, out) => new RewindFailed(`pg_rewind on ${nodeName} failed (exit ${code}): ${lastLine(out)}`),
    });
    const seconds = (Date.now() - started) / 1000;
    return { changed: !run.finishedBefore, ok: true, seconds, detail: `${nodeName} rewound from ${primaryNode(spec).name} in ${seconds.toFixed(1)} s` };
  } catch (e) {
    if (!(e instanceof RewindFailed)) throw e;
    return { changed: true, ok: false, seconds: (Date.now() - started) / 1000, detail: `${e.message}: it is restored from the repository instead` };
  }
}
