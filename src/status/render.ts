import type { StandbyFacts, StatusFacts } from '../facts/status';
import type { ReplicationRow } from '../facts/postgres';
import type { BackupType } from '../spec/schema';
import { formatAge } from './age';
import { archivingFailing, repositoryHasWal, type Evaluation } from './policy';

/** A backup schedule as the Temporal server describes it; absent from the report when it does not exist. */
export interface ScheduleState {
  readonly type: BackupType;
  readonly id: string;
  readonly paused: boolean;
  /** Epoch seconds; null when the server plans no further run. */
  readonly nextRun: number | null;
}

/** What `status --json` prints. Times are epoch seconds, as pgBackRest prints them; sizes are bytes. */
export interface StatusReport {
  readonly stanza: string;
  readonly ok: boolean;
  readonly checkedAt: number;
  readonly repository: { readonly host: string; readonly error?: string };
  /** pgBackRest's stanza status; null when the repository could not be read or has no such stanza. */
  readonly status: { readonly code: number; readonly message: string; readonly backupRunning: boolean } | null;
  readonly backups: {
    readonly label: string;
    readonly type: BackupType;
    readonly prior: string | null;
    readonly startedAt: number;
    readonly stoppedAt: number;
    readonly ageSeconds: number;
    readonly sizes: { readonly database: number; readonly delta: number; readonly repo: number; readonly repoDelta: number };
    readonly wal: { readonly start: string | null; readonly stop: string | null };
    readonly error: boolean;
  }[];
  readonly archive: {
    readonly primary: string;
    readonly error?: string;
    readonly mode: string | null;
    readonly failing: boolean | null;
    readonly archivedCount: number | null;
    readonly lastArchivedWal: string | null;
    readonly lastArchivedAt: number | null;
    readonly lastArchivedAgeSeconds: number | null;
    readonly failedCount: number | null;
    readonly lastFailedWal: string | null;
    readonly lastFailedAt: number | null;
    /** The oldest and newest WAL segment the repository holds for the current database. */
    readonly repository: { readonly min: string | null; readonly max: string | null } | null;
  };
  readonly standbys: (StandbyFacts & { readonly primaryView: Omit<ReplicationRow, 'applicationName'> | null })[];
  readonly schedules: ScheduleState[];
  readonly problems: string[];
}

export function statusReport(facts: StatusFacts, schedules: ScheduleState[], evaluation: Evaluation, nowMs: number): StatusReport {
  const now = nowMs / 1000;
  const stanza = facts.repository.stanza;
  const a = facts.primary.archiver;
  const currentArchive = stanza?.archive.reduce<(typeof stanza.archive)[number] | undefined>((best, x) => (best === undefined || x.dbId > best.dbId ? x : best), undefined);
  const viewOf = (name: string) => {
    const row = facts.primary.replication.find((r) => r.applicationName === name);
    if (!row) return null;
    const { applicationName: _, ...view } = row;
    return view;
  };
  return {
    stanza: facts.stanza,
    ok: evaluation.ok,
    checkedAt: Math.floor(now),
    repository: { host: facts.repository.host, ...(facts.repository.error !== undefined && { error: facts.repository.error }) },
    status: stanza && { code: stanza.status.code, message: stanza.status.message, backupRunning: stanza.status.lockHeld },
    backups: (stanza?.backups ?? []).map((b) => ({
      label: b.label,
      type: b.type,
      prior: b.prior,
      startedAt: b.timestamp.start,
      stoppedAt: b.timestamp.stop,
      ageSeconds: Math.floor(now - b.timestamp.stop),
      sizes: b.sizes,
      wal: b.archive,
      error: b.error ?? false,
    })),
    archive: {
      primary: facts.primary.name,
      ...(facts.primary.error !== undefined && { error: facts.primary.error }),
      mode: a?.archiveMode ?? null,
      failing: a ? a.archiveMode === 'off' || archivingFailing(a, repositoryHasWal(stanza)) : null,
      archivedCount: a?.archivedCount ?? null,
      lastArchivedWal: a?.lastArchivedWal ?? null,
      lastArchivedAt: a?.lastArchivedAt ?? null,
      lastArchivedAgeSeconds: a?.lastArchivedAt != null ? Math.floor(now - a.lastArchivedAt) : null,
      failedCount: a?.failedCount ?? null,
      lastFailedWal: a?.lastFailedWal ?? null,
      lastFailedAt: a?.lastFailedAt ?? null,
      repository: currentArchive ? { min: currentArchive.min, max: currentArchive.max } : null,
    },
    standbys: facts.standbys.map((s) => ({ ...s, primaryView: viewOf(s.name) })),
    schedules,
    problems: evaluation.problems,
  };
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

const iso = (epoch: number): string => new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c])).join('  ')}`.trimEnd());
}

function standbyLine(s: StatusReport['standbys'][number]): string[] {
  const delay = s.state === 'down' ? '-' : s.replayDelaySeconds === null ? 'nothing replayed yet' : `${formatAge(s.replayDelaySeconds)}${s.caughtUp ? ' (caught up)' : ''}`;
  const seen = s.primaryView ? `${s.primaryView.state} ${s.primaryView.syncState}, ${s.primaryView.lagBytes ?? '?'} bytes behind` : 'not connected';
  return [s.name, s.state, delay, seen];
}

/** The human view: one section per part, ages as 3m / 26h / 8d, problems last. */
export function renderText(r: StatusReport): string[] {
  const ago = (epoch: number) => formatAge(r.checkedAt - epoch);
  const out: string[] = [];
  out.push(`stanza ${r.stanza}: ${r.ok ? 'ok' : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`}`);
  if (r.repository.error !== undefined) out.push(`  repository ${r.repository.host}: cannot read: ${r.repository.error}`);
  else if (r.status) out.push(`  pgBackRest status: ${r.status.message} (code ${r.status.code})${r.status.backupRunning ? ', a backup is running' : ''}`);

  out.push('', `backups (repository ${r.repository.host}):`);
  if (r.backups.length === 0) out.push('  none');
  else
    out.push(...table([
      ['LABEL', 'TYPE', 'FINISHED', 'AGE', 'DATABASE', 'REPOSITORY'],
      ...r.backups.map((b) => [b.label + (b.error ? ' (errors)' : ''), b.type, iso(b.stoppedAt), ago(b.stoppedAt), bytes(b.sizes.database), bytes(b.sizes.repo)]),
    ]));

  const a = r.archive;
  out.push('', `archive (primary ${a.primary}):`);
  if (a.error !== undefined) out.push(`  cannot read: ${a.error}`);
  else {
    out.push(`  archive_mode ${a.mode}, ${a.failing ? 'FAILING' : 'ok'}`);
    out.push(`  last archived: ${a.lastArchivedWal && a.lastArchivedAt !== null ? `${a.lastArchivedWal}, ${ago(a.lastArchivedAt)} ago` : 'none since the statistics were reset'} (${a.archivedCount} archived)`);
    if (a.lastFailedWal && a.lastFailedAt !== null) out.push(`  last failure: ${a.lastFailedWal}, ${ago(a.lastFailedAt)} ago (${a.failedCount} failures)`);
  }
  if (a.repository) out.push(`  repository holds ${a.repository.min ?? '-'} .. ${a.repository.max ?? '-'}`);

  out.push('', 'standbys:');
  if (r.standbys.length === 0) out.push('  none');
  else out.push(...table([['NODE', 'STATE', 'REPLAY DELAY', 'AS THE PRIMARY SEES IT'], ...r.standbys.map(standbyLine)]));
  // Below the table: an error line would stretch its columns.
  for (const s of r.standbys) if (s.error !== undefined) out.push(`  ${s.name} is ${s.state}: ${s.error}`);

  out.push('', 'schedules:');
  if (r.schedules.length === 0) out.push('  none');
  else
    out.push(...table([
      ['TYPE', 'SCHEDULE', 'NEXT RUN'],
      ...r.schedules.map((s) => [s.type, s.id, `${s.nextRun === null ? 'none planned' : `${iso(s.nextRun)} (in ${formatAge(s.nextRun - r.checkedAt)})`}${s.paused ? ', paused' : ''}`]),
    ]));

  if (r.problems.length) out.push('', 'problems:', ...r.problems.map((p) => `  - ${p}`));
  return out;
}
