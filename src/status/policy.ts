import type { BackupInfo, StanzaInfo } from '../facts/pgbackrest-info';
import { OFFSITE_REPO, type Spec } from '../spec/schema';
import type { ArchiverFacts, StatusFacts } from '../facts/status';
import { walPosition } from '../facts/dropped-wal';
import type { Topology } from '../facts/topology';
import { durationMs } from '../spec/duration';
import { formatAge } from './age';

export interface Evaluation {
  readonly ok: boolean;
  /** One sentence each, naming the broken policy or the failing part. */
  readonly problems: string[];
  /** Worth a look, not a failure: a spec whose primary is not the real one. */
  readonly warnings: string[];
}

/** The backup that finished last (by pgBackRest's stop time), optionally of one type, optionally in one repository. */
export function newestBackup(stanza: StanzaInfo | null, type?: BackupInfo['type'], repo?: number): BackupInfo | undefined {
  const candidates = (stanza?.backups ?? []).filter((b) => (type === undefined || b.type === type) && (repo === undefined || (b.repoKey ?? 1) === repo));
  return candidates.reduce<BackupInfo | undefined>((best, b) => (best === undefined || b.timestamp.stop > best.timestamp.stop ? b : best), undefined);
}

/**
 * The archiver failed more recently than it succeeded, or nothing was ever archived. A reset of
 * the statistics (crash restart) forgets past successes: WAL in the repository proves them.
 */
export function archivingFailing(a: ArchiverFacts, repositoryHasWal: boolean): boolean {
  if (a.lastFailedAt !== null && (a.lastArchivedAt === null || a.lastFailedAt > a.lastArchivedAt)) return true;
  return a.lastArchivedWal === null && !repositoryHasWal;
}

export function repositoryHasWal(stanza: StanzaInfo | null): boolean {
  return (stanza?.archive ?? []).some((a) => a.max !== null);
}

// backups.maxAge is repo1's policy, as backups.schedule is, and offsite.maxAge repo2's: one repository's backups do not meet the other's.
function maxAgeProblem(which: 'full' | 'any', limit: string | undefined, stanza: StanzaInfo | null, nowMs: number, repo: number): string | undefined {
  if (limit === undefined) return undefined;
  const newest = newestBackup(stanza, which === 'full' ? 'full' : undefined, repo);
  const what = which === 'full' ? 'full backup' : 'backup';
  const policy = repo === 1 ? `maxAge.${which}` : `offsite.maxAge.${which}`;
  if (!newest) return `${policy} (${limit}) broken: ${repo === 1 ? 'the repository' : `repo${repo}`} holds no ${what}`;
  const ageMs = nowMs - newest.timestamp.stop * 1000;
  if (ageMs <= durationMs(limit)) return undefined;
  return `${policy} (${limit}) exceeded: the newest ${what}${repo === 1 ? '' : ` in repo${repo}`}, ${newest.label}, finished ${formatAge(ageMs / 1000)} ago`;
}

function stanzaProblems(facts: StatusFacts): string[] {
  const { repository } = facts;
  if (repository.error !== undefined) return [`cannot read pgbackrest info on the repository host ${repository.host}: ${repository.error}`];
  const s = repository.stanza;
  if (!s) return [`the repository on ${repository.host} has no stanza ${facts.stanza}`];
  if (s.status.code === 0) return [];
  // Code 99 says only "other": the repository entries hold the real reason.
  const repoReasons = s.repos.filter((r) => r.status.code !== 0 && r.status.message !== s.status.message).map((r) => `repo${r.key}: ${r.status.message}`);
  return [`stanza ${s.name}: pgBackRest status ${s.status.code} (${[s.status.message, ...repoReasons].join('; ')})`];
}

/** An offsite repository that pgBackRest reads but that holds no full backup restores nothing. */
function offsiteProblems(facts: StatusFacts, spec: Spec): string[] {
  const s = facts.repository.stanza;
  if (!spec.offsite || !s || facts.repository.error !== undefined) return [];
  const offsite = s.repos.find((r) => r.key === OFFSITE_REPO);
  const name = `repo${OFFSITE_REPO} (offsite, bucket ${spec.offsite.bucket})`;
  if (!offsite) return [`${name} is not in pgBackRest's configuration on ${facts.repository.host}: run provision`];
  if (offsite.status.code !== 0 || newestBackup(s, 'full', OFFSITE_REPO)) return [];
  return [`${name} holds no full backup: nothing restores from it`];
}

function archiveProblems(facts: StatusFacts, nowMs: number): string[] {
  const { primary } = facts;
  if (primary.error !== undefined || !primary.archiver) return [`cannot read pg_stat_archiver on the primary ${primary.name}, archiving unknown: ${primary.error ?? 'no row'}`];
  const a = primary.archiver;
  if (a.archiveMode === 'off') return [`archiving is off on the primary ${primary.name} (archive_mode = off): no WAL reaches the repository`];
  if (!archivingFailing(a, repositoryHasWal(facts.repository.stanza))) return [];
  const ago = (epoch: number) => formatAge(nowMs / 1000 - epoch);
  const failed = a.lastFailedAt === null ? 'no failure recorded' : `${a.failedCount} failures, last ${a.lastFailedWal} ${ago(a.lastFailedAt)} ago`;
  const success = a.lastArchivedAt === null ? 'no WAL archived since the statistics were reset' : `last success ${a.lastArchivedWal} ${ago(a.lastArchivedAt)} ago`;
  return [`archiving is failing on the primary ${primary.name}: ${failed}; ${success}`];
}

/**
 * pgBackRest dropped WAL (archive-push-queue-max) at or after the start of the newest backup: the
 * archive has a gap that point-in-time recovery from any backup cannot cross. A backup started
 * after the drop begins a whole chain again.
 */
function droppedWalProblems(facts: StatusFacts): string[] {
  const dropped = facts.primary.droppedWal;
  if (!dropped) return [];
  const newest = newestBackup(facts.repository.stanza);
  const start = newest?.archive.start;
  if (start && walPosition(start) > walPosition(dropped.wal)) return [];
  return [`pgBackRest dropped WAL on the primary ${facts.primary.name} (newest ${dropped.wal}, logged ${dropped.logged}): ` +
    'the repository was out of reach longer than archive-push-queue-max allows, so the archive has a gap ' +
    `${newest ? `after the start of the newest backup, ${newest.label}` : 'and no backup started after it'}, and no recovery can cross it. ` +
    'Once archiving works again, take a full backup'];
}

/** A failed last drill, or (with `maxAge.drill`) no passed drill recent enough. */
export function drillProblems(facts: StatusFacts, spec: Spec, nowMs: number): string[] {
  const d = facts.drill;
  if (!spec.drills || !d) return [];
  if (d.error !== undefined) return [`cannot read the last restore drill on the repository host ${d.host}: ${d.error}`];
  const problems: string[] = [];
  const last = d.record?.last;
  const ago = (epoch: number) => formatAge(nowMs / 1000 - epoch);
  if (last && !last.ok) problems.push(`the last restore drill (${last.workflowId}, ${ago(last.startedAt)} ago) failed: ${last.failure ?? 'see its checks'}`);
  const limit = spec.backups?.maxAge?.drill;
  if (limit !== undefined) {
    const good = d.record?.lastGood;
    if (!good) problems.push(`maxAge.drill (${limit}) broken: no restore drill has passed yet`);
    else if (nowMs - good.startedAt * 1000 > durationMs(limit)) problems.push(`maxAge.drill (${limit}) exceeded: the last passed restore drill started ${ago(good.startedAt)} ago`);
  }
  return problems;
}

/** Workflows act on the real primary; the spec is only out of date, and a DBA should know. */
function topologyWarnings(t: Topology | undefined): string[] {
  if (!t?.primary || t.primary === t.specPrimary) return [];
  return [`the spec names ${t.specPrimary} as the primary, but ${t.primary} is: stanzactl acts on ${t.primary} (the spec's roles only say which node a new cluster is built on)`];
}

/** Pure: facts, the spec's policies and the time in; what is wrong out. `nowMs` = epoch milliseconds. */
export function evaluate(facts: StatusFacts, spec: Spec, nowMs: number): Evaluation {
  const maxAge = spec.backups?.maxAge;
  const stanza = facts.repository.stanza;
  // An unreadable repository is reported once, not again as "no backup" under each policy.
  const offsiteAge = spec.offsite?.maxAge;
  // An unreadable repo2 is its own problem (stanzaProblems), not its backups' age as well.
  const offsiteReadable = stanza?.repos.find((r) => r.key === OFFSITE_REPO)?.status.code === 0;
  const agesOf = (limits: typeof maxAge | typeof offsiteAge, repo: number) => [maxAgeProblem('full', limits?.full, stanza, nowMs, repo), maxAgeProblem('any', limits?.any, stanza, nowMs, repo)];
  const ages = facts.repository.error === undefined ? [...agesOf(maxAge, 1), ...(offsiteReadable ? agesOf(offsiteAge, OFFSITE_REPO) : [])] : [];
  const problems = [...(facts.topology?.problems ?? []), ...stanzaProblems(facts), ...offsiteProblems(facts, spec), ...ages.filter((p): p is string => p !== undefined), ...archiveProblems(facts, nowMs), ...droppedWalProblems(facts), ...drillProblems(facts, spec, nowMs)];
  return { ok: problems.length === 0, problems, warnings: topologyWarnings(facts.topology) };
}
