import type { StandbyFacts, StatusFacts } from '../facts/status';
import type { ReplicationRow } from '../facts/postgres';
import type { DrillResult } from '../facts/drill';
import type { TopologyNode } from '../facts/topology';
import type { BackupType, ScheduleKind } from '../spec/schema';
import { formatAge } from './age';
import { archivingFailing, newestBackup, repositoryHasWal, type Evaluation } from './policy';

/** A backup or drill schedule as the Temporal server describes it; absent from the report when it does not exist. */
export interface ScheduleState {
  readonly type: ScheduleKind;
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
  /** Every node as found: null when the run read no roles. */
  readonly topology: { readonly primary: string | null; readonly specPrimary: string; readonly nodes: TopologyNode[] } | null;
  readonly repository: { readonly host: string; readonly error?: string };
  /** pgBackRest's stanza status; null when the repository could not be read or has no such stanza. */
  readonly status: { readonly code: number; readonly message: string; readonly backupRunning: boolean } | null;
  /** Each repository pgBackRest reads for the stanza (repo2: offsite), its status and newest full backup. */
  readonly repos: {
    readonly key: number;
    readonly status: { readonly code: number; readonly message: string };
    readonly newestFull: { readonly label: string; readonly stoppedAt: number; readonly ageSeconds: number } | null;
  }[];
  readonly backups: {
    readonly repo: number;
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
  /** Restore drills (null when the spec has none): the last one and the last one that passed. */
  readonly drill: {
    readonly host: string;
    readonly error?: string;
    readonly last: (DrillResult & { readonly ageSeconds: number }) | null;
    readonly lastGood: (DrillResult & { readonly ageSeconds: number }) | null;
  } | null;
  readonly schedules: ScheduleState[];
  readonly problems: string[];
  readonly warnings: string[];
}

function withAge(d: DrillResult | null, now: number): (DrillResult & { readonly ageSeconds: number }) | null {
  return d && { ...d, ageSeconds: Math.floor(now - d.startedAt) };
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
    topology: facts.topology ? { primary: facts.topology.primary, specPrimary: facts.topology.specPrimary, nodes: facts.topology.nodes } : null,
    repository: { host: facts.repository.host, ...(facts.repository.error !== undefined && { error: facts.repository.error }) },
    status: stanza && { code: stanza.status.code, message: stanza.status.message, backupRunning: stanza.status.lockHeld },
    repos: (stanza?.repos ?? []).map((r) => {
      const full = newestBackup(stanza, 'full', r.key);
      return { key: r.key, status: r.status, newestFull: full ? { label: full.label, stoppedAt: full.timestamp.stop, ageSeconds: Math.floor(now - full.timestamp.stop) } : null };
    }),
    backups: (stanza?.backups ?? []).map((b) => ({
      repo: b.repoKey ?? 1,
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
    drill: facts.drill
      ? {
          host: facts.drill.host,
          ...(facts.drill.error !== undefined && { error: facts.drill.error }),
          last: withAge(facts.drill.record?.last ?? null, now),
          lastGood: withAge(facts.drill.record?.lastGood ?? null, now),
        }
      : null,
    schedules,
    problems: evaluation.problems,
    warnings: evaluation.warnings,
  };
}

export function bytes(n: number): string {
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

/** Rows as aligned columns, two spaces in; the first row is the header. */
export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c])).join('  ')}`.trimEnd());
}

function standbyLine(s: StatusReport['standbys'][number]): string[] {
  const delay = s.state === 'down' ? '-' : s.replayDelaySeconds === null ? 'nothing replayed yet' : `${formatAge(s.replayDelaySeconds)}${s.caughtUp ? ' (caught up)' : ''}`;
  const seen = s.primaryView ? `${s.primaryView.state} ${s.primaryView.syncState}, ${s.primaryView.lagBytes ?? '?'} bytes behind` : 'not connected';
  return [s.name, s.state, delay, seen];
}

const seconds = (s: number | null): string => (s === null ? '-' : `${s.toFixed(1)} s`);

function drillLines(d: NonNullable<StatusReport['drill']>, ago: (epoch: number) => string): string[] {
  const out = [`restore drill (host ${d.host}):`];
  if (d.error !== undefined) return [...out, `  cannot read: ${d.error}`];
  const last = d.last;
  if (!last) return [...out, '  none yet'];
  out.push(`  last: ${iso(last.startedAt)} (${ago(last.startedAt)} ago), ${last.ok ? 'passed' : 'FAILED'}, backup ${last.backupLabel ?? '-'}${last.repo ? ` from repo${last.repo}` : ''}, RTO ${seconds(last.rtoSeconds)}, RPO ${seconds(last.rpoSeconds)}`);
  for (const c of last.checks) out.push(`    ${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`);
  if (!last.ok && d.lastGood) out.push(`  last passed: ${iso(d.lastGood.startedAt)} (${ago(d.lastGood.startedAt)} ago), RTO ${seconds(d.lastGood.rtoSeconds)}, RPO ${seconds(d.lastGood.rpoSeconds)}`);
  return out;
}

function topologyLines(t: NonNullable<StatusReport['topology']>): string[] {
  const role = (n: TopologyNode) => `${n.seenAs}${n.name === t.specPrimary && n.name !== t.primary ? ' (the spec\'s primary)' : ''}`;
  const upstream = (n: TopologyNode) => (n.upstream ? `${n.upstream}${n.streaming ? ', streaming' : ''}` : '-');
  return [
    `topology (primary: ${t.primary ?? 'none'}):`,
    ...table([['NODE', 'FOUND', 'TIMELINE', 'STREAMS FROM'], ...t.nodes.map((n) => [n.name, role(n), n.timeline === undefined ? '-' : String(n.timeline), upstream(n)])]),
    ...t.nodes.filter((n) => n.error !== undefined).map((n) => `  ${n.name} could not be read: ${n.error}`),
  ];
}

/** The human view: one section per part, ages as 3m / 26h / 8d, problems last. */
export function renderText(r: StatusReport): string[] {
  const ago = (epoch: number) => formatAge(r.checkedAt - epoch);
  const out: string[] = [];
  out.push(`stanza ${r.stanza}: ${r.ok ? 'ok' : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`}`);
  if (r.repository.error !== undefined) out.push(`  repository ${r.repository.host}: cannot read: ${r.repository.error}`);
  else if (r.status) out.push(`  pgBackRest status: ${r.status.message} (code ${r.status.code})${r.status.backupRunning ? ', a backup is running' : ''}`);

  if (r.topology) out.push('', ...topologyLines(r.topology));

  // One repository reads as before; with an offsite one, each gets a line and each backup its repository.
  const several = r.repos.length > 1;
  if (several) {
    out.push('', 'repositories:');
    out.push(...table([
      ['REPO', 'STATUS', 'NEWEST FULL', 'AGE'],
      ...r.repos.map((x) => [`repo${x.key}${x.key === 1 ? ` (${r.repository.host})` : ' (offsite)'}`, x.status.code === 0 ? 'ok' : `ERROR: ${x.status.message}`,
        x.newestFull?.label ?? 'none', x.newestFull ? ago(x.newestFull.stoppedAt) : '-']),
    ]));
  }
  out.push('', `backups (repository ${r.repository.host}${several ? ' and offsite' : ''}):`);
  if (r.backups.length === 0) out.push('  none');
  else
    out.push(...table([
      [...(several ? ['REPO'] : []), 'LABEL', 'TYPE', 'FINISHED', 'AGE', 'DATABASE', 'REPOSITORY'],
      ...r.backups.map((b) => [...(several ? [`repo${b.repo}`] : []), b.label + (b.error ? ' (errors)' : ''), b.type, iso(b.stoppedAt), ago(b.stoppedAt), bytes(b.sizes.database), bytes(b.sizes.repo)]),
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

  if (r.drill) out.push('', ...drillLines(r.drill, ago));

  out.push('', 'schedules:');
  if (r.schedules.length === 0) out.push('  none');
  else
    out.push(...table([
      ['TYPE', 'SCHEDULE', 'NEXT RUN'],
      ...r.schedules.map((s) => [s.type, s.id, `${s.nextRun === null ? 'none planned' : `${iso(s.nextRun)} (in ${formatAge(s.nextRun - r.checkedAt)})`}${s.paused ? ', paused' : ''}`]),
    ]));

  if (r.warnings.length) out.push('', 'warnings:', ...r.warnings.map((w) => `  - ${w}`));
  if (r.problems.length) out.push('', 'problems:', ...r.problems.map((p) => `  - ${p}`));
  return out;
}
