import { program } from '../paths';
import { readFile } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { backupStart, timelineSwitch, walFileName, type WalPosition } from '../facts/recovery';
import { parseInfo } from '../facts/pgbackrest-info';
import { copyPercent } from '../facts/pgbackrest-output';
import { copyPostgres } from '../render/copy-postgres';
import { controlCommand, psqlCommand, statusCommand } from '../render/postgres-control';
import { checkControl, controlServer, serverLogTail } from './postgres-service';
import { copyRestoreArgs } from '../render/restore-target';
import { keysFor, parseKnownHosts } from '../remote/known-hosts';
import type { CopyPurpose } from '../facts/copy-dir';
import { machineHolding, parsePublicKeys, type PinnedMachine } from '../remote/host-keys';
import type { HostAddress } from '../remote/types';
import { nodeHost } from '../spec/roles';
import { asUser, script } from '../shell/command';
import { recoveryTargetSchema, type RecoveryTarget } from '../spec/recovery-target';
import { backupLabelSchema, copyPlaceProblems, copyPlaceSchema, type CopyPlace } from '../spec/restore-copy';
import type { RepoIndex, Spec } from '../spec/schema';
import { creationMarker, creationPending, runCreation } from '../host/cluster-creation';
import { claimCopyDir, judgeCopyDirOn } from './copy-dir';
import { knownSpecs } from './known-specs';
import { clusterState, query } from './cluster-state';
import { runDetached } from '../host/detached-run';
import { ensurePostgresHostDirectories } from './directories';
import { refuse } from '../host/failures';
import { reportProgress } from '../host/heartbeat';
import type { HostOps } from '../host/host-ops';
import { repoHost } from './hosts';
import { ensureCopyHostConf } from './pgbackrest-conf';
import { infoArgs, pgbackrestCommand, requireRepo, runPgbackrest } from '../host/pgbackrest';
import { DEBIAN_CONFIG, HAS_FILES } from './standby';
import { ensureHostTrust, removeHostTrust } from './trust';
import { merge, type StepResult } from './types';

/**
 * A copy of the stanza's cluster restored on a host that is none of its nodes: for a restore to a
 * point in time (`stanzactl restore`) and for restore drills. The copy is standalone: archiving
 * off, no primary_conninfo, its own data directory and port; it promotes at its target.
 */

interface Copy {
  readonly host: HostAddress;
  /** The copy's PostgreSQL settings (render/copy-postgres.ts). */
  readonly pg: Spec['postgres'];
}

/** Judged again here: any workflow may schedule these activities, and a node must never be touched. */
function copyOf(spec: Spec, place: CopyPlace): Copy {
  const parsed = copyPlaceSchema.safeParse(place);
  if (!parsed.success) throw refuse(`invalid copy place ${JSON.stringify(place)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'InvalidInput');
  const problems = copyPlaceProblems(spec, place);
  if (problems.length > 0) throw refuse(problems.join('; '), 'RefusedCopyHost');
  return { host: { name: place.host, host: place.host }, pg: copyPostgres(spec.postgres, place) };
}

/** The machines of a spec, as its known_hosts pinned them when last read. */
const pinnedLastRead = new WeakMap<Spec, PinnedMachine[]>();

async function machinesOf(s: Spec): Promise<PinnedMachine[]> {
  const entries = parseKnownHosts(await readFile(s.ssh.knownHostsFile, 'utf8'));
  const pinned = (names: string[]) => keysFor(entries, names, s.ssh.port ?? 22).accepted;
  const machines = [
    ...s.nodes.map((n) => ({ what: `node ${n.name} of stanza ${s.stanza}`, keys: pinned([n.name, nodeHost(n)]) })),
    { what: `the repository host of stanza ${s.stanza}`, keys: pinned([s.repository.host]) },
  ];
  pinnedLastRead.set(s, machines);
  return machines;
}

/**
 * The nodes and repository host of every spec the worker knows, with all the keys pinned for each.
 * Another stanza's known_hosts that can no longer be read (its operator moved it) counts as last read:
 * its machines stay refused, and this stanza's copies go on.
 */
async function clusterMachines(spec: Spec): Promise<PinnedMachine[]> {
  const machines: PinnedMachine[] = [];
  for (const s of knownSpecs(spec)) {
    machines.push(...(s === spec ? await machinesOf(s) : await machinesOf(s).catch(() => pinnedLastRead.get(s) ?? [])));
  }
  return machines;
}

const refusedMachine = (host: string, m: PinnedMachine, how: string) =>
  refuse(`${host} ${how} pinned for ${m.what}: it is that machine. A copy goes to another host, never over a cluster's`, 'RefusedCopyHost');

/**
 * A node reached by another name or address (an alias, a second interface) is the same machine: it
 * presents a key pinned for the node under its own name. Read on the worker, before any connection,
 * so it holds while the cluster's hosts are down; against the nodes of every spec the worker knows.
 */
async function refuseClusterMachine(spec: Spec, place: CopyPlace): Promise<void> {
  const entries = parseKnownHosts(await readFile(spec.ssh.knownHostsFile, 'utf8'));
  const target = keysFor(entries, [place.host], spec.ssh.port ?? 22).accepted;
  const same = machineHolding(target, await clusterMachines(spec));
  if (same) throw refusedMachine(place.host, same, 'presents the host key');
}

// Every host key the machine has, of every type: an alias may be pinned with another type than the node.
const HOST_KEYS = program('activities', 'host-keys');

/**
 * The copy, judged before every copy activity acts: the place is valid and no node's, its pinned key
 * is no cluster machine's (on the worker), and none of the keys the host holds is pinned for one
 * (on the host, over the pinned connection).
 */
export async function checkedCopy(ops: HostOps, spec: Spec, place: CopyPlace): Promise<Copy> {
  const copy = copyOf(spec, place);
  await refuseClusterMachine(spec, place);
  const held = parsePublicKeys(await ops.must(copy.host, script(HOST_KEYS)));
  const same = machineHolding(held, await clusterMachines(spec));
  if (same) throw refusedMachine(place.host, same, 'holds a host key');
  return copy;
}

/** The host can restore the stanza the way a node does: pgBackRest's dirs, SSH trust with the repository host both ways, pgbackrest.conf. */
export async function ensureCopyHost(ops: HostOps, spec: Spec, place: CopyPlace): Promise<StepResult> {
  const { host, pg } = await checkedCopy(ops, spec, place);
  const dirs = await ensurePostgresHostDirectories(ops, host, pg);
  const trust = await ensureHostTrust(ops, spec, host);
  const conf = await ensureCopyHostConf(ops, spec, host);
  return merge([dirs, trust, conf], `${host.name} can restore stanza ${spec.stanza}: pgBackRest dirs, SSH trust with ${spec.repository.host}, pgbackrest.conf`);
}

export interface CopyPlan extends StepResult {
  /** Files are in the data directory: the restore reuses them (`--delta`). */
  readonly delta: boolean;
}

const DATA_DIRECTORY = /^\s*data_directory\s*=\s*'([^']*)'/m;

/**
 * Gets the data directory ready: uses only one that is empty (and claims it) or that holds what
 * stanzactl put there for this stanza and purpose (facts/copy-dir.ts); anything else is refused,
 * named, before anything changes. A restore reuses its own files only when asked (`reuse`, the
 * CLI's --yes); a server running on them is stopped; a Debian layout gets a cluster config of its own.
 */
export async function prepareCopy(ops: HostOps, spec: Spec, place: CopyPlace, reuse: boolean, purpose: CopyPurpose): Promise<CopyPlan> {
  const copy = await checkedCopy(ops, spec, place);
  const { host, pg } = copy;
  const where = `${host.name}:${pg.dataDir}`;
  const existingConf = pg.configDir === undefined ? undefined : await ops.readFile(host, `${pg.configDir}/postgresql.conf`);
  const servedDir = existingConf === undefined ? undefined : DATA_DIRECTORY.exec(existingConf)?.[1];
  if (servedDir !== undefined && servedDir !== pg.dataDir) {
    throw refuse(`${host.name}: cluster config ${pg.configDir} serves ${servedDir}, not ${pg.dataDir}: stanzactl will not take it over. Choose another --data-dir`, 'RefusedCopyHost');
  }
  // What an interrupted config creation left is ours to redo, not a user's files to refuse.
  const interrupted = pg.configDir !== undefined && (await creationPending(ops, host, creationMarker('copy-config', pg.dataDir)));
  const verdict = await judgeCopyDirOn(ops, spec, copy, purpose, interrupted);
  if (verdict.use === 'refused') throw refuse(`${where} ${verdict.why}`, 'RefusedCopyDir');
  if (verdict.use === 'ours' && !reuse && !interrupted) {
    throw refuse(`${where} is not empty: stanzactl will not restore over it unless asked to (--yes), and then reuses its files with a delta restore`, 'DataDirNotEmpty');
  }
  const results: StepResult[] = [];
  const state = await clusterState(ops, host, pg);
  if (state.running) {
    await controlServer(ops, host, pg, 'stop');
    results.push({ changed: true, detail: `stopped the server on ${where}` });
  }
  const group = (await ops.user(host, pg.osUser))?.group ?? pg.osUser;
  if (await ops.ensureDir(host, pg.dataDir, { owner: pg.osUser, group, mode: '700' })) results.push({ changed: true, detail: `created ${where}` });
  if (await claimCopyDir(ops, spec, copy, purpose)) results.push({ changed: true, detail: `claimed ${where} for the ${purpose === 'drill' ? 'drills' : 'restores'} of ${spec.stanza}` });
  if (pg.control.type === 'pg_ctlcluster' && (interrupted || existingConf === undefined)) {
    const how = await runCreation(ops, host, {
      kind: 'copy-config', dataDir: pg.dataDir, configDir: pg.configDir, owner: pg.osUser, strict: false,
      body: DEBIAN_CONFIG, args: [String(pg.version), pg.control.cluster, pg.dataDir, pg.osUser, String(pg.port)],
    }, 300_000);
    results.push({ changed: true, detail: `${how === 'recreated' ? 'redid an interrupted config creation: ' : ''}cluster config ${pg.configDir} (${pg.version}/${pg.control.cluster})` });
  }
  const delta = (await ops.must(host, asUser(pg.osUser, script(HAS_FILES, pg.dataDir)))).trim() === 'yes';
  return { ...merge(results, `${where} ready for the restore`), delta };
}

export interface CopyRestoreResult extends StepResult {
  readonly seconds: number;
}

/** `pgbackrest restore` of the copy, detached on its host (a retry re-attaches), percent done in the heartbeat. */
export async function restoreCopy(ops: HostOps, spec: Spec, place: CopyPlace, target: RecoveryTarget, delta: boolean, set?: string, repo?: RepoIndex): Promise<CopyRestoreResult> {
  const { host, pg } = await checkedCopy(ops, spec, place);
  const t = recoveryTargetSchema.safeParse(target);
  if (!t.success) throw refuse(`invalid recovery target ${JSON.stringify(target)}`, 'InvalidInput');
  if (set !== undefined && !backupLabelSchema.safeParse(set).success) throw refuse(`invalid backup label ${JSON.stringify(set)}`, 'InvalidInput');
  // Without a repository named, pgBackRest takes the first that holds a backup fitting the target.
  if (repo !== undefined) requireRepo(spec, repo);
  const started = Date.now();
  const run = await runDetached(ops, host,
    pgbackrestCommand(pg.osUser, spec.stanza, ...copyRestoreArgs({ dataDir: pg.dataDir, port: pg.port, target: t.data, set, delta, repo })),
    { progress: copyPercent });
  // A re-attached run started before this attempt: its host knows when.
  const since = run.attached && run.startedAt ? Date.parse(run.startedAt) : started;
  const seconds = (Date.now() - since) / 1000;
  const how = run.finishedBefore ? ' (made by an earlier attempt)' : run.attached ? ' (re-attached)' : '';
  return { changed: !run.finishedBefore, seconds, detail: `${delta ? 'delta ' : ''}restore${repo === undefined ? '' : ` from repo${repo}`} into ${host.name}:${pg.dataDir} in ${seconds.toFixed(1)} s${how}` };
}

/** Starts the copy; PostgreSQL then replays WAL from the archive up to the target. */
export async function startCopy(ops: HostOps, spec: Spec, place: CopyPlace): Promise<StepResult> {
  const copy = await checkedCopy(ops, spec, place);
  const { host, pg } = copy;
  if ((await clusterState(ops, host, pg)).running) return { changed: false, detail: `the copy on ${host.name}:${pg.port} is running` };
  // A unit of the scratch host's that serves this directory would lose track of a copy pg_ctl starts.
  await checkControl(ops, host, pg);
  const r = await ops.run(host, controlCommand(pg, 'start'), { timeoutMs: 600_000 });
  // pg_ctl stops waiting for a long recovery while the server goes on: only a server that is down failed.
  if (r.code !== 0 && (await ops.run(host, statusCommand(pg))).code !== 0) {
    throw refuse(`${host.name}: the copy on ${pg.dataDir} did not start: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}\n${await serverLogTail(ops, copy.host, copy.pg)}`, 'CopyDidNotStart');
  }
  return { changed: true, detail: `started the copy on ${host.name}:${pg.port} with ${pg.control.type}` };
}

export interface CopyPromoted extends StepResult {
  /** From the server's start to the moment it was seen out of recovery, by the host's clock. */
  readonly recoverySeconds: number;
}

/** Waits until the copy has promoted at its target and accepts connections; fails, with its log, if it stopped instead. */
export async function waitCopyPromoted(ops: HostOps, spec: Spec, place: CopyPlace): Promise<CopyPromoted> {
  const ctx = Context.current();
  const copy = await checkedCopy(ops, spec, place);
  const { host, pg } = copy;
  const sql = "SELECT pg_is_in_recovery(), extract(epoch FROM now() - pg_postmaster_start_time()), coalesce(pg_last_wal_replay_lsn()::text, '')";
  for (;;) {
    const r = await ops.run(host, psqlCommand(pg, sql));
    if (r.code === 0) {
      const [inRecovery, seconds, replayed] = r.stdout.trim().split('\t');
      if (inRecovery === 'f') {
        const recoverySeconds = Number(seconds);
        return { changed: false, recoverySeconds, detail: `the copy on ${host.name}:${pg.port} promoted and accepts connections, ${recoverySeconds.toFixed(1)} s after it started` };
      }
      reportProgress({ host: host.name, inRecovery: true, replayedLsn: replayed });
    } else if ((await ops.run(host, statusCommand(pg))).code !== 0) {
      // Typically "recovery ended before configured recovery target was reached": a retry would end the same way.
      throw refuse(`${host.name}: the copy stopped during recovery instead of promoting\n${await serverLogTail(ops, copy.host, copy.pg)}`, 'RecoveryFailed');
    } else {
      reportProgress({ host: host.name, inRecovery: true, connecting: r.stderr.trim().split('\n').pop() });
    }
    await ctx.sleep(500);
  }
}

export interface CopyReached extends StepResult {
  /** The backup restored: the one whose start matches the copy's backup_label. */
  readonly backupLabel: string | null;
  /** The copy's timeline after promotion. */
  readonly timeline: number;
  /** The last transaction recovery replayed, its commit time (ISO 8601, UTC); null when none was replayed. */
  readonly lastTransactionAt: string | null;
  /** The WAL replayed: from the backup's start to where the copy left the old timeline. */
  readonly walStart: WalPosition | null;
  readonly walEnd: WalPosition | null;
}

/** What the promoted copy reached, read from the copy itself and the repository's list of backups. */
export async function inspectCopy(ops: HostOps, spec: Spec, place: CopyPlace): Promise<CopyReached> {
  const { host, pg } = await checkedCopy(ops, spec, place);
  const q = (sql: string) => query(ops, host, pg, sql);
  const [tliHex, lastTx] = (await q(
    `SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), coalesce(to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '')`)).split('\t');
  const label = await q("SELECT coalesce(pg_read_file('backup_label.old', 0, 65536, true), '')");
  const history = /^[0-9A-F]{8}$/.test(tliHex) ? await q(`SELECT coalesce(pg_read_file('pg_wal/${tliHex}.history', 0, 1048576, true), '')`) : '';
  const walStart = backupStart(label) ?? null;
  const sw = timelineSwitch(history);
  const walEnd = sw ? { lsn: sw.lsn, walFile: walFileName(sw.timeline, sw.lsn) } : null;
  let backupLabel: string | null = null;
  if (walStart) {
    const info = parseInfo(await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, ...infoArgs(spec))).find((s) => s.name === spec.stanza);
    const b = info?.backups.find((x) => x.lsn?.start === walStart.lsn) ?? info?.backups.find((x) => x.archive.start === walStart.walFile);
    backupLabel = b?.label ?? null;
  }
  const timeline = parseInt(tliHex, 16);
  const reached = { backupLabel, timeline, lastTransactionAt: lastTx || null, walStart, walEnd };
  return {
    changed: false, ...reached,
    detail: `backup ${backupLabel ?? '?'}, timeline ${timeline}, last transaction ${lastTx || 'none replayed'}, WAL ${walStart?.walFile ?? '?'}..${walEnd?.walFile ?? '?'}`,
  };
}

// As the data directory's owner: the kernel keeps the removal to what that account could remove itself.
const EMPTY_DIR = program('activities', 'empty-dir');

export interface CopyRemoved extends StepResult {
  readonly freedBytes: number;
}

/**
 * Stops a copy and empties its data directory (a Debian cluster config and stanzactl's claim are
 * kept, for the next copy there). Only a directory that holds what stanzactl put there for this
 * stanza and purpose: anything else (what prepareCopy refused) is left as it is, and said so.
 */
export async function removeCopy(ops: HostOps, spec: Spec, place: CopyPlace, purpose: CopyPurpose): Promise<CopyRemoved> {
  const copy = await checkedCopy(ops, spec, place);
  const { host, pg } = copy;
  const where = `${host.name}:${pg.dataDir}`;
  const verdict = await judgeCopyDirOn(ops, spec, copy, purpose, false);
  if (verdict.use === 'refused') return { changed: false, freedBytes: 0, detail: `left ${where} as it is: it ${verdict.why.replace(/: refused, nothing changed.*/, '')}` };
  const results: StepResult[] = [];
  if ((await clusterState(ops, host, pg)).running) {
    await controlServer(ops, host, pg, 'stop');
    results.push({ changed: true, detail: `stopped the copy on ${host.name}:${pg.port}` });
  }
  const [entries, freedBytes] = (await ops.must(host, asUser(pg.osUser, script(EMPTY_DIR, pg.dataDir)))).trim().split(' ').map(Number);
  if (entries > 0) results.push({ changed: true, detail: `emptied ${where} (${freedBytes} bytes)` });
  // The copy was what the host's SSH trust with the repository was for.
  results.push(await removeHostTrust(ops, spec, host));
  return { ...merge(results, `no copy on ${where}`), freedBytes };
}
