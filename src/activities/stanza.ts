import { Context } from '@temporalio/activity';
import { archivedSegmentListed, archivingProven, offsiteDown, stanzaServes, WAL_SEGMENT } from '../facts/archiving-proof';
import { reportProgress } from '../host/heartbeat';
import { currentArchiveId, parseInfo, fullBackups, type StanzaInfo } from '../facts/pgbackrest-info';
import { primaryNode } from '../spec/roles';
import { OFFSITE_REPO, type RepoIndex, type Spec } from '../spec/schema';
import { runDetached, startedBefore } from '../host/detached-run';
import type { HostOps } from '../host/host-ops';
import { refuse } from '../host/failures';
import { backupArchiveArgs, infoArgs, pgbackrestCommand, repoArgs, repoPart, runPgbackrest } from '../host/pgbackrest';
import { query } from './cluster-state';
import { nodeAddress, repoHost } from './hosts';
import { ARCHIVER_SQL, parseArchiverRow } from './status';
import type { StepResult } from './types';

/** The stanza in every repository, or in `repo` alone: a read of one must not wait on the other being unreachable. */
export async function stanzaInfo(ops: HostOps, spec: Spec, repo?: RepoIndex): Promise<StanzaInfo | undefined> {
  const out = await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, ...infoArgs(spec, repo));
  return parseInfo(out).find((s) => s.name === spec.stanza);
}

/**
 * `pgbackrest check`: switches the primary's WAL segment out and waits until every repository has
 * it. With repo2 out of reach (`known`: the stanza as read in every repository, else read from repo2)
 * check cannot pass, and repo1 is proven as check proves it (provenInRepo1). Says what it proved.
 */
export async function switchAndCheck(ops: HostOps, spec: Spec, known?: StanzaInfo): Promise<string> {
  const down = spec.offsite ? offsiteDown(known ?? (await stanzaInfo(ops, spec, OFFSITE_REPO))) : undefined;
  if (down === undefined) {
    await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, 'check');
    return 'pgbackrest check passed';
  }
  return `repo2 cannot be read (${down}), so pgbackrest check, which needs every repository, was not run: ${await provenInRepo1(ops, spec)}`;
}

// As pgbackrest check does: a restore point gives the switch something to switch out, also on an idle primary.
const SWITCH_SQL = "SELECT pg_walfile_name(pg_switch_wal()), (SELECT system_identifier FROM pg_control_system()) FROM (SELECT pg_create_restore_point('stanzactl archive check')) AS r";
// What a retry of the step reads from the attempt before (its heartbeat details).
interface Switched {
  readonly walSwitched: string;
  readonly systemId: string;
}

/**
 * What `pgbackrest check` proves, for repo1 alone: the primary's WAL up to now is archived there.
 * A restore point and a WAL switch on the primary, then that very segment's file listed in repo1's
 * archive of the primary's system. The asynchronous archiver reaches repo1 at the end of each
 * round, and a round waits out io-timeout on every request to repo2 (82 s measured at 10 s), so a
 * segment switched after a round began waits for the next: some 3 minutes with PostgreSQL's pause
 * between attempts, past a step's attempt. The segment rides on the heartbeat: a retry waits for
 * the same one instead of switching another behind it.
 */
async function provenInRepo1(ops: HostOps, spec: Spec): Promise<string> {
  const primary = primaryNode(spec);
  const ctx = Context.current();
  const earlier = ctx.info.heartbeatDetails as Partial<Switched> | undefined;
  let switched: Switched;
  if (typeof earlier?.walSwitched === 'string' && WAL_SEGMENT.test(earlier.walSwitched) && typeof earlier.systemId === 'string') {
    switched = { walSwitched: earlier.walSwitched, systemId: earlier.systemId };
  } else {
    const [walSwitched, systemId] = (await query(ops, nodeAddress(primary), spec.postgres, SWITCH_SQL)).split('\t');
    switched = { walSwitched, systemId };
  }
  reportProgress(switched);
  const { walSwitched: segment } = switched;
  const repo1 = await stanzaInfo(ops, spec, 1);
  const serves = stanzaServes(repo1, spec.stanza, switched.systemId);
  if (!serves.ok) throw refuse(`repo1 cannot take ${primary.name}'s WAL: ${serves.why}`, 'StanzaMismatch');
  const archiveId = currentArchiveId(repo1!);
  const dir = `archive/${spec.stanza}/${archiveId}/${segment.slice(0, 16)}`;
  const how = earlier?.walSwitched === segment ? 'switched out by an earlier attempt' : 'switched out';
  const started = Date.now();
  // Ends the attempt before its startToCloseTimeout does, with a reason; measured on this worker's clock.
  const deadline = started + ctx.info.startToCloseTimeoutMs - 60_000;
  while (!archivedSegmentListed(await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, ...repoArgs(spec, 1), 'repo-ls', dir), segment)) {
    if (Date.now() > deadline) throw new Error(`${segment} (${how} on ${primary.name}) is not in repo1 yet, after ${((Date.now() - started) / 1000).toFixed(0)} s: the archiver waits on repo2 each round`);
    await ctx.sleep(3000);
  }
  return `${segment}, ${how} on ${primary.name}, reached repo1 (${dir}) in ${((Date.now() - started) / 1000).toFixed(0)} s`;
}

/** A backup to the unreachable object store, failed at once and not retried (backup.ts offsiteUnreachable). */
export function offsiteRefusal(spec: Spec, repo: RepoIndex, why: string): Error {
  return refuse(`repo${repo} (offsite, ${spec.offsite?.endpoint}) cannot be reached: ${why}\n` +
    `This backup to repo${repo} failed; backups to repo1 go on, and its next Schedule tries again.`, 'OffsiteUnreachable');
}

/** The primary's system identifier and clock (epoch seconds), from the running server. */
async function primaryClock(ops: HostOps, spec: Spec): Promise<{ systemId: string; now: number }> {
  const [systemId, now] = (await query(ops, nodeAddress(primaryNode(spec)), spec.postgres, 'SELECT system_identifier, extract(epoch FROM now()) FROM pg_control_system()')).split('\t');
  return { systemId, now: Number(now) };
}

/**
 * stanza-create only when `pgbackrest info` does not already show the stanza in good order for
 * this primary (stanza-create is idempotent too, but takes seconds to say so).
 */
export async function ensureStanza(ops: HostOps, spec: Spec): Promise<StepResult> {
  const [stanza, { systemId }] = await Promise.all([stanzaInfo(ops, spec), primaryClock(ops, spec)]);
  const serves = stanzaServes(stanza, spec.stanza, systemId);
  if (serves.ok) return { changed: false, detail: `${serves.detail} (pgbackrest info)` };
  // stanza-create needs every repository: with repo2 out of reach, repo1 in good order is what can be had.
  const down = offsiteDown(stanza);
  const repo1 = down === undefined ? undefined : stanzaServes(await stanzaInfo(ops, spec, 1), spec.stanza, systemId);
  if (repo1?.ok) return { changed: false, detail: `${repo1.detail} in repo1; repo2 cannot be read (${down}): stanza-create, which needs it, was not run` };
  const out = await runPgbackrest(ops, repoHost(spec), spec.repository.user, spec, '--log-level-console=info', 'stanza-create');
  const existed = /already exists/.test(out);
  return { changed: !existed, detail: existed ? `stanza ${spec.stanza} already exists and is valid` : `stanza ${spec.stanza} created` };
}

/**
 * What `pgbackrest check` proves, from facts when they prove it (archivingProven), else by running
 * it: a check forces a WAL switch and waits for the segment, seconds a verified cluster need not spend.
 */
export async function checkStanza(ops: HostOps, spec: Spec): Promise<StepResult> {
  const [stanza, archiver, { systemId, now }] = await Promise.all([
    stanzaInfo(ops, spec),
    query(ops, nodeAddress(primaryNode(spec)), spec.postgres, ARCHIVER_SQL).then(parseArchiverRow),
    primaryClock(ops, spec),
  ]);
  const proof = archivingProven(archiver, stanza, spec.stanza, systemId, now);
  if (proof.ok) return { changed: false, detail: `verified from facts: ${proof.detail}` };
  const checked = await switchAndCheck(ops, spec, stanza);
  return { changed: false, detail: `${checked} for stanza ${spec.stanza} (run because ${proof.why})` };
}

export interface BackupSummary {
  readonly label: string;
  readonly type: string;
  readonly databaseSize: number;
  readonly repoSize: number;
  readonly startedAt: number;
  readonly stoppedAt: number;
}

export interface FullBackupResult extends StepResult {
  readonly backup: BackupSummary;
}

function summary(info: StanzaInfo | undefined, repo: RepoIndex): BackupSummary | undefined {
  const full = info ? fullBackups(info).filter((b) => !b.error && (b.repoKey ?? 1) === repo) : [];
  const b = full[full.length - 1];
  return b && { label: b.label, type: b.type, databaseSize: b.sizes.database, repoSize: b.sizes.repo, startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop };
}

/** The seed's first full backup, only when repository `repo` has none of the stanza; runs detached on the repository host. */
export async function ensureFullBackup(ops: HostOps, spec: Spec, repo: RepoIndex = 1): Promise<FullBackupResult> {
  const host = repoHost(spec);
  const part = repoPart(repo);
  const where = repo === 1 ? '' : ` in repo${repo}`;
  // A crashed attempt's backup is re-attached (and reported as made here) before looking for others.
  if (!(await startedBefore(ops, host, part))) {
    const info = await stanzaInfo(ops, spec, repo);
    const existing = summary(info, repo);
    if (existing) return { changed: false, detail: `full backup ${existing.label}${where} exists`, backup: existing };
    // Whether it holds one is unknown, and a backup to it would wait out io-timeout on every request.
    const down = repo === OFFSITE_REPO ? offsiteDown(info) : undefined;
    if (down !== undefined) throw offsiteRefusal(spec, repo, `pgBackRest cannot read it: ${down}`);
  }
  const command = pgbackrestCommand(spec.repository.user, spec.stanza, '--type=full', ...repoArgs(spec, repo), ...backupArchiveArgs(spec), '--log-level-console=info', 'backup');
  const { attached, finishedBefore } = await runDetached(ops, host, command, { part });
  const made = summary(await stanzaInfo(ops, spec, repo), repo);
  if (!made) throw new Error(`pgBackRest reported success but stanza ${spec.stanza} shows no full backup${where}`);
  const how = finishedBefore ? ' (made by an earlier attempt)' : attached ? ' (re-attached to the running backup)' : '';
  return { changed: !finishedBefore, detail: `full backup ${made.label}${where}${how}`, backup: made };
}
