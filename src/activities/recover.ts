import { asUser, cmd } from '../shell/command';
import { chooseRecoveryBackup } from '../facts/recovery-backup';
import { currentBackups } from '../facts/pgbackrest-info';
import { copyPercent } from '../facts/pgbackrest-output';
import { describeRecoveryTarget, resumeAdvice, withoutStandbySettings, type ResumeAdvice } from '../render/recover-plan';
import { psqlCommand } from '../render/postgres-control';
import { checkControl, controlServer } from './postgres-service';
import { restoreTargetArgs } from '../render/restore-target';
import { quoteLiteral } from '../render/sql';
import { primaryNode, standbyNodes, withPrimary } from '../spec/roles';
import { recoveryTargetSchema, type RecoveryTarget } from '../spec/recovery-target';
import type { RepoIndex, Spec } from '../spec/schema';
import { clusterState, inRecovery, query } from './cluster-state';
import { failedOverTo, judgeStandbyForRecover, type NodeRole } from '../facts/node-role';
import { readRoles, type Roles } from './node-role';
import { proveRecordTarget } from './recovery-proof';
import { runDetached, startedBefore } from '../host/detached-run';
import { refuse } from '../host/failures';
import { findNode, nodeAddress } from './hosts';
import type { HostOps } from '../host/host-ops';
import { pgbackrestCommand, repoArgs, requireRepo } from '../host/pgbackrest';
import { waitAcceptingWrites, type Promotion } from './promotion';
import { stanzaInfo, switchAndCheck } from './stanza';
import type { StepResult } from './types';

/** What `stanzactl recover` shows before anything changes, and what its workflow works from. */
export interface RecoverPlan extends StepResult {
  readonly target: string;
  /** `repo`: the repository it is in and is restored from, set only when the spec has an offsite repository. */
  readonly backup: { readonly label: string; readonly type: string; readonly stoppedAt: number; readonly why: string; readonly repo?: RepoIndex };
  readonly primary: string;
  readonly primarySystemId: string;
  /** The primary's timeline and WAL position when planned: recovery follows this timeline's history. */
  readonly timeline: number;
  readonly lsn: string;
  readonly standbys: string[];
  /** What each standby was found to be, e.g. "pg2-srv (a standby, streaming)". */
  readonly found?: string[];
  /** What is lost, in a DBA's words. */
  readonly lost: string;
  /** The spec's primary, when another node runs as the primary in its place (a failover done by hand): the plan is on that one. */
  readonly specPrimary?: string;
  /** What a failed recover says to resume from, by where it failed. */
  readonly resume?: ResumeAdvice;
}

// Targets reach a command line and PostgreSQL's recovery settings: checked again here, whoever scheduled the activity.
function checkedTarget(target: unknown): RecoveryTarget {
  const r = recoveryTargetSchema.safeParse(target);
  if (!r.success || r.data.type === 'default') throw refuse(`not a recovery target for recover: ${JSON.stringify(target)}`, 'InvalidSpec');
  return r.data;
}

/**
 * The repository a recover restores the primary from: the one named, else repo1, the repository
 * host's, never the object store by chance (pgBackRest would take a `--set` from whichever
 * repository holds it). Undefined without an offsite repository: the command lines stay as before.
 */
function recoverRepo(spec: Spec, repo: unknown): RepoIndex | undefined {
  if (repo !== undefined && repo !== 1 && repo !== 2) throw refuse(`not a repository for recover: ${JSON.stringify(repo)}`, 'InvalidSpec');
  if (repo !== undefined) requireRepo(spec, repo);
  return spec.offsite ? repo ?? 1 : undefined;
}

/**
 * Reads, changes nothing: the backup a recover to `target` starts from, where the primary is now,
 * and what is lost. Proves while the cluster is up that the recover can go through: the primary
 * runs as a primary; every other node is a standby (or a stopped standby), not a primary or a node
 * others stream from, whose writes the rebuild would wipe; an xid or a restore point is reached
 * (proveRecordTarget). The primary is the spec's, or after a failover done by hand the node that
 * runs as the primary in its place (failedOverTo): the plan names it, and the recover acts on it.
 * The running primary reads a time target (its time zone is the one the restored server will read
 * it in). `confirmed`: the backup label the DBA agreed to; another one is refused. The backup is
 * one of `repo`'s (recoverRepo), read from that repository alone: an object store out of reach
 * does not hold up a recover from the repository host.
 */
export async function planRecovery(ops: HostOps, given: Spec, rawTarget: unknown, confirmed?: string, rawRepo?: unknown): Promise<RecoverPlan> {
  const target = checkedTarget(rawTarget);
  const repo = recoverRepo(given, rawRepo);
  const pg = given.postgres;
  const roles = await readRoles(ops, given);
  const specPrimary = primaryNode(given).name;
  const failover = failedOverTo(roleOf(roles, specPrimary), given.nodes.filter((n) => n.name !== specPrimary).map((n) => ({ name: n.name, role: roles.get(n.name)?.role })));
  const spec = failover === undefined ? given : withPrimary(given, failover);
  const primary = primaryNode(spec);
  const host = nodeAddress(primary);
  const state = roleOf(roles, primary.name);
  if (!state.running || state.inRecovery) {
    throw refuse(`${primary.name} is ${state.running ? 'in recovery' : 'not running'}: stanzactl recover undoes changes on a running primary ` +
      '(it reads the target with the primary\'s clock and time zone, and follows its timeline). Start it, or restore by hand', 'RefusedRecover');
  }
  const found = standbysAsFound(spec, roles, state.systemId, failover === undefined ? undefined : specPrimary);
  // Every node is stopped and started again: the spec's way must be the way each host runs it.
  for (const n of spec.nodes) await checkControl(ops, nodeAddress(n), pg);
  const [walFile, lsn, now] = (await query(ops, host, pg, 'SELECT pg_walfile_name(pg_current_wal_lsn()), pg_current_wal_lsn(), extract(epoch FROM now())')).split('\t');
  const timeline = parseInt(walFile.slice(0, 8), 16);
  let targetEpoch: number | undefined;
  if (target.type === 'time') {
    const r = await ops.run(host, psqlCommand(pg, `SELECT extract(epoch FROM ${quoteLiteral(target.target)}::timestamptz)`));
    if (r.code !== 0) throw refuse(`${primary.name}: PostgreSQL does not read --target ${JSON.stringify(target.target)} as a time: ${r.stderr.trim()}`, 'InvalidSpec');
    targetEpoch = Number(r.stdout.trim());
    if (targetEpoch >= Number(now)) throw refuse(`the target ${target.target} is not in the past on ${primary.name} (its clock says ${new Date(Number(now) * 1000).toISOString()}): nothing to undo`, 'RefusedRecover');
  }
  const info = await stanzaInfo(ops, spec, repo);
  const backups = info ? currentBackups(info).filter((b) => repo === undefined || (b.repoKey ?? 1) === repo) : [];
  const chosen = target.type === 'xid' || target.type === 'name'
    ? await proveRecordTarget(ops, host, spec, target, { timeline, lsn }, backups)
    : chooseRecoveryBackup(backups, target, targetEpoch);
  if (!chosen.backup) throw refuse(`stanza ${spec.stanza}: ${chosen.why}${repo === undefined ? '' : ` in repo${repo}`}: there is nothing to recover ${describeRecoveryTarget(target)} from`, 'RefusedRecover');
  const b = chosen.backup;
  if (confirmed !== undefined && confirmed !== b.label) {
    throw refuse(`the plan changed since it was shown: backup ${b.label} would be used, not ${confirmed}. Nothing was changed; run recover again`, 'RefusedRecover');
  }
  const standbys = standbyNodes(spec).map((n) => n.name);
  const lost = `every transaction committed on ${primary.name} after ${describeRecoveryTarget(target)} (the primary is at LSN ${lsn} on timeline ${timeline} now)`;
  const moved = failover === undefined ? '' : `; ${primary.name} runs as the primary, not the spec's ${specPrimary}`;
  return {
    changed: false, target: describeRecoveryTarget(target), primary: primary.name, primarySystemId: state.systemId ?? '', timeline, lsn, standbys, found, lost,
    ...(failover !== undefined && { specPrimary }),
    backup: { label: b.label, type: b.type, stoppedAt: b.timestamp.stop, why: chosen.why, ...(repo !== undefined && { repo }) },
    resume: resumeAdvice(pg, { stanza: spec.stanza, primary: primary.name, standbys, timeline, lsn, backup: b.label, target: describeRecoveryTarget(target) }),
    detail: `restore ${primary.name} from ${b.type} backup ${b.label}${repo === undefined ? '' : ` in repo${repo}`} to ${describeRecoveryTarget(target)}; lost: ${lost}; rebuilt: ${found.join(', ') || 'no standby'}${moved}`,
  };
}

/** The role read from `name`; the error it could not be read with, thrown as the read threw it. */
function roleOf(roles: Roles, name: string): NodeRole {
  const r = roles.get(name)!;
  if (!r.role) throw r.error;
  return r.role;
}

/**
 * What each standby of `spec` really is, as read from it; refused, changing nothing, when one is
 * something recover must not overwrite, or could not be read (it cannot be told from a primary).
 * `specPrimary`: the spec's primary, when another node runs as the primary in its place.
 */
function standbysAsFound(spec: Spec, roles: Roles, primarySystemId: string | undefined, specPrimary?: string): string[] {
  const primary = primaryNode(spec).name;
  return standbyNodes(spec).map((n) => {
    const { role, error } = roles.get(n.name)!;
    if (!role) {
      throw refuse(`${n.name} cannot be read (${(error as Error).message}): recover cannot tell whether it is still a standby, and would stop and overwrite it. ` +
        'Nothing was changed. Bring it back, or take it out of the spec, and recover again', 'RefusedRecover');
    }
    const { seen, refusal } = judgeStandbyForRecover(n.name, role, primarySystemId);
    if (refusal) {
      const why = specPrimary === undefined ? `The spec calls it a standby of ${primary}` : `${primary} runs as the primary, not the spec's ${specPrimary}`;
      throw refuse(`${refusal}. ${why}: recover would stop it and overwrite its data directory, and what was written there would be lost. ` +
        'Nothing was changed. If it is the primary now, correct the spec; if its data is not needed, rebuild it or take it out of the spec; then recover again', 'RefusedRecover');
    }
    return `${n.name} (${seen})`;
  });
}

/**
 * The WAL up to now reaches the archive before the primary stops (pgbackrest check switches WAL and
 * waits until it is archived): the target's commit records may still sit in the current segment.
 * A primary already stopped (a recover run again after a failure) has nothing more to give.
 */
export async function archivePrimaryWal(ops: HostOps, spec: Spec): Promise<StepResult> {
  const primary = primaryNode(spec);
  const host = nodeAddress(primary);
  const state = await clusterState(ops, host, spec.postgres);
  if (!state.running || (await inRecovery(ops, host, spec.postgres))) return { changed: false, detail: `${primary.name} does not run as a primary: no WAL to archive` };
  // Always the real check, never facts: the segment in progress holds what the target may need, and a retry may repeat it.
  const checked = await switchAndCheck(ops, spec);
  return { changed: false, detail: `switched WAL on ${primary.name}; the segment is archived (${checked})` };
}

/** Stops PostgreSQL on a node (fast shutdown) when it runs. */
export async function stopPostgres(ops: HostOps, spec: Spec, nodeName: string): Promise<StepResult> {
  const host = nodeAddress(findNode(spec, nodeName));
  if (!(await clusterState(ops, host, spec.postgres)).running) return { changed: false, detail: `${nodeName} is stopped` };
  await controlServer(ops, host, spec.postgres, 'stop');
  return { changed: true, detail: `stopped ${nodeName}` };
}

export interface PrimaryRestore extends StepResult {
  readonly seconds: number;
}

/**
 * `restore --delta` of the stopped primary from `label` to the target, promoting when reached,
 * detached and re-attached like every restore. `timeline`: the primary's before the recover; the
 * restore follows its history. A primary found on a later timeline was restored and promoted by an
 * earlier attempt whose run record is gone: it is not restored again. `repo`: the plan's.
 */
export async function restorePrimary(ops: HostOps, spec: Spec, label: string, rawTarget: unknown, timeline: number, rawRepo?: unknown): Promise<PrimaryRestore> {
  const target = checkedTarget(rawTarget);
  // A plan made before plans named their repository chose among all: its set is found where it is.
  const repo = rawRepo === undefined ? undefined : recoverRepo(spec, rawRepo);
  const primary = primaryNode(spec);
  const host = nodeAddress(primary);
  const pg = spec.postgres;
  const started = Date.now();
  if (!(await startedBefore(ops, host))) {
    const state = await clusterState(ops, host, pg);
    if ((state.timeline ?? 0) > timeline) return { changed: false, seconds: 0, detail: `${primary.name} is on timeline ${state.timeline} already: restored and promoted before` };
    if (state.running) throw refuse(`${primary.name}: PostgreSQL runs again on timeline ${state.timeline} (started by someone after stanzactl stopped it): stanzactl will not restore under a running server`, 'RefusedRecover');
  }
  const timelineArgs = target.type === 'immediate' ? [] : [`--target-timeline=${timeline}`];
  const { attached, finishedBefore } = await runDetached(ops, host,
    pgbackrestCommand(pg.osUser, spec.stanza, '--delta', `--set=${label}`, ...(repo === undefined ? [] : repoArgs(spec, repo)), ...restoreTargetArgs(target), ...timelineArgs, '--log-level-console=detail', 'restore'),
    { progress: copyPercent });
  const cleaned = await dropStandbySettings(ops, spec);
  const seconds = (Date.now() - started) / 1000;
  const how = finishedBefore ? ' (made by an earlier attempt)' : attached ? ' (re-attached)' : '';
  return { changed: !finishedBefore || cleaned, seconds, detail: `delta restore of ${primary.name} from ${label} to ${describeRecoveryTarget(target)} in ${seconds.toFixed(1)} s${how}${cleaned ? '; standby settings removed' : ''}` };
}

/** A primary restored from a backup taken on a standby would carry its standby.signal and primary_conninfo. */
async function dropStandbySettings(ops: HostOps, spec: Spec): Promise<boolean> {
  const host = nodeAddress(primaryNode(spec));
  const pg = spec.postgres;
  const autoConf = `${pg.dataDir}/postgresql.auto.conf`;
  const text = await ops.readFile(host, autoConf);
  let changed = false;
  if (text !== undefined && withoutStandbySettings(text) !== text) {
    const account = await ops.user(host, pg.osUser);
    changed = await ops.ensureFile(host, autoConf, withoutStandbySettings(text), { owner: pg.osUser, group: account?.group ?? pg.osUser, mode: '600' });
  }
  const signal = `${pg.dataDir}/standby.signal`;
  if ((await ops.readFile(host, signal)) !== undefined) {
    await ops.must(host, asUser(pg.osUser, cmd('rm', '-f', '--', signal)));
    changed = true;
  }
  return changed;
}

/** The restored primary recovers to the target, is promoted, and accepts writes on its new timeline. */
export async function waitPrimaryPromoted(ops: HostOps, spec: Spec, timeline: number): Promise<Promotion> {
  return waitAcceptingWrites(ops, nodeAddress(primaryNode(spec)), spec.postgres, timeline);
}
