import type { ReplicationRow } from '../facts/postgres';
import { intervalSeconds } from '../facts/postgres';
import { renderExposition, type MetricFamily } from '../render/prometheus';
import type { BackupRunOutcome, BackupSummary, Observations, RunOutcome, ClusterObservations } from './observations';
import { archivingFailing, repositoryHasWal } from './policy';

/**
 * stanzactl's gauges, one line each: name, help, and the rows (extra labels, value) of one stanza
 * at `now` (epoch seconds). Every sample also gets `stanza` and `repository` (the repository host):
 * two clusters of one stanza name on two repository hosts are two series. A row whose value is undefined is left
 * out: nothing observed is absent, never a made-up 0. The worker's /metrics endpoint and
 * `status --format prometheus` both render this table, so names and labels are the same.
 */

type Labels = Record<string, string>;
type Rows = (readonly [Labels, number | null | undefined])[];

interface Gauge {
  readonly name: string;
  readonly help: string;
  readonly rows: (o: ClusterObservations, now: number) => Rows;
}

const gauge = (name: string, help: string, rows: Gauge['rows']): Gauge => ({ name, help, rows });

const flag = (b: boolean): number => (b ? 1 : 0);
const one = (v: number | null | undefined): Rows => [[{}, v]];
const archiver = (o: ClusterObservations) => o.primary?.facts.archiver ?? undefined;

/** kind="full": the newest full backup; kind="any": the newest of any type (the spec's maxAge.full / maxAge.any); repo="1", or "2" offsite. */
const kinds = (o: ClusterObservations, f: (b: BackupSummary) => number): Rows => [...o.newest].flatMap(([repo, newest]) => (['full', 'any'] as const).map((kind) => {
  const b = newest[kind];
  return [{ kind, repo: String(repo) }, b && f(b)] as const;
}));

/** The last run of each backup type to each repository. */
const backupRuns = (o: ClusterObservations, f: (r: BackupRunOutcome) => number | undefined): Rows =>
  [...o.backupRuns.values()].map((r) => [{ type: r.type, repo: String(r.repo) }, f(r)]);

/** The standbys as the primary's pg_stat_replication shows them, by application_name (the node's name). */
const replication = (o: ClusterObservations, f: (r: ReplicationRow) => number | undefined): Rows =>
  (o.primary?.facts.replication ?? []).map((r) => [{ node: r.applicationName }, f(r)]);

/** Each part a status read: the repository host, the primary, every standby. */
function parts(o: ClusterObservations, f: (at: number, readOk: boolean) => number): Rows {
  const rows: Rows = [];
  if (o.repository) rows.push([{ part: 'repository', node: o.repository.facts.host }, f(o.repository.at, o.repository.facts.error === undefined)]);
  if (o.primary) rows.push([{ part: 'primary', node: o.primary.facts.name }, f(o.primary.at, o.primary.facts.error === undefined)]);
  for (const [node, s] of o.standbys) rows.push([{ part: 'standby', node }, f(s.at, s.facts.error === undefined)]);
  return rows;
}

const runs = <K extends string>(m: Map<K, RunOutcome>, label: string, f: (r: RunOutcome) => number | undefined): Rows => [...m].map(([k, r]) => [{ [label]: k }, f(r)]);

/** Caught up and idle, PostgreSQL shows no replay_lag: nothing is left to replay then. */
const replayLagSeconds = (r: ReplicationRow): number | undefined => intervalSeconds(r.replayLag) ?? (r.replayLag === '' && r.lagBytes === 0 ? 0 : undefined);

export const GAUGES: readonly Gauge[] = [
  gauge('stanzactl_backup_newest_timestamp_seconds', 'Stop time of the newest backup in the repository (kind="full": of a full one; kind="any": of any type)', (o) => kinds(o, (b) => b.stoppedAt)),
  gauge('stanzactl_backup_newest_age_seconds', 'Seconds since the newest backup stopped, computed when rendered (kind as for _timestamp_seconds)', (o, now) => kinds(o, (b) => now - b.stoppedAt)),
  gauge('stanzactl_backup_newest_duration_seconds', 'How long the newest backup took, pgBackRest start to stop', (o) => kinds(o, (b) => b.stoppedAt - b.startedAt)),
  gauge('stanzactl_backup_newest_database_bytes', 'Size of the database the newest backup copied', (o) => kinds(o, (b) => b.databaseBytes)),
  gauge('stanzactl_backup_newest_delta_bytes', 'Bytes the newest backup copied (all for a full backup, the changes for diff/incr)', (o) => kinds(o, (b) => b.deltaBytes)),
  gauge('stanzactl_backup_newest_repository_bytes', 'Size of the newest backup as stored in the repository (compressed)', (o) => kinds(o, (b) => b.repoBytes)),
  gauge('stanzactl_backup_newest_repository_delta_bytes', 'Bytes the newest backup added to the repository (compressed)', (o) => kinds(o, (b) => b.repoDeltaBytes)),
  gauge('stanzactl_backup_last_run_success', '1 when the last backup run of this type that this process saw end succeeded, 0 when it failed', (o) => backupRuns(o, (r) => flag(r.ok))),
  gauge('stanzactl_backup_last_run_timestamp_seconds', 'When that backup run ended', (o) => backupRuns(o, (r) => r.at)),
  gauge('stanzactl_backup_last_run_duration_seconds', 'How long that backup run took, its retries included', (o) => backupRuns(o, (r) => r.seconds)),
  gauge('stanzactl_stanza_status_code', "pgBackRest's status code of the stanza (0 = ok)", (o) => one(o.repository?.facts.stanza?.status.code)),
  gauge('stanzactl_repository_status_code', "pgBackRest's status code of the stanza in each repository (repo=\"1\", \"2\" offsite; 0 = ok)", (o) =>
    (o.repository?.facts.stanza?.repos ?? []).map((r) => [{ repo: String(r.key) }, r.status.code])),
  gauge('stanzactl_archive_last_archived_timestamp_seconds', 'pg_stat_archiver.last_archived_time on the primary', (o) => one(archiver(o)?.lastArchivedAt)),
  gauge('stanzactl_archive_last_archived_age_seconds', 'Seconds since the primary last archived a WAL file, computed when rendered', (o, now) => {
    const at = archiver(o)?.lastArchivedAt;
    return one(at == null ? undefined : now - at);
  }),
  gauge('stanzactl_archive_archived_count', 'pg_stat_archiver.archived_count on the primary (reset with the statistics)', (o) => one(archiver(o)?.archivedCount)),
  gauge('stanzactl_archive_failed_count', 'pg_stat_archiver.failed_count on the primary (reset with the statistics)', (o) => one(archiver(o)?.failedCount)),
  gauge('stanzactl_archive_last_failed_timestamp_seconds', 'pg_stat_archiver.last_failed_time on the primary', (o) => one(archiver(o)?.lastFailedAt)),
  gauge('stanzactl_archive_failing', '1 when archiving is off or failed more recently than it succeeded (as stanzactl status judges it)', (o) => {
    const a = archiver(o);
    return one(a && flag(a.archiveMode === 'off' || archivingFailing(a, repositoryHasWal(o.repository?.facts.stanza ?? null))));
  }),
  gauge('stanzactl_standby_streaming', "1 when the standby's WAL receiver streams, 0 otherwise (catchup, recovering, down, not in recovery)", (o) =>
    [...o.standbys].map(([node, s]) => [{ node }, flag(s.facts.state === 'streaming')])),
  gauge('stanzactl_standby_replay_lag_bytes', "Bytes of WAL the standby has yet to replay, from the primary's pg_stat_replication", (o) => replication(o, (r) => r.lagBytes)),
  gauge('stanzactl_standby_replay_lag_seconds', "pg_stat_replication.replay_lag on the primary (0 when caught up and idle)", (o) => replication(o, replayLagSeconds)),
  gauge('stanzactl_rebuild_last_success', '1 when the last rebuild of the node that this process saw end succeeded, 0 when it failed', (o) => runs(o.rebuilds, 'node', (r) => flag(r.ok))),
  gauge('stanzactl_rebuild_last_timestamp_seconds', 'When that rebuild ended', (o) => runs(o.rebuilds, 'node', (r) => r.at)),
  gauge('stanzactl_drill_last_timestamp_seconds', 'When the last restore drill started', (o) => one(o.drills?.last.startedAt)),
  gauge('stanzactl_drill_last_success', '1 when the last restore drill passed, 0 when it failed (a damaged backup or WAL, a check)', (o) => one(o.drills && flag(o.drills.last.ok))),
  gauge('stanzactl_drill_last_passed_timestamp_seconds', 'When the last restore drill that passed started (the spec\'s maxAge.drill)', (o) => one(o.drills?.lastGood?.startedAt)),
  gauge('stanzactl_drill_rto_seconds', 'Recovery time of the last passed drill: restore start to the copy accepting connections', (o) => one(o.drills?.lastGood?.rtoSeconds)),
  gauge('stanzactl_drill_rpo_seconds', 'Recovery point of the last passed drill: drill start less the newest recovered transaction\'s commit time', (o) => one(o.drills?.lastGood?.rpoSeconds)),
  gauge('stanzactl_status_observed_timestamp_seconds', 'When this process last read the part (part="repository"|"primary"|"standby")', (o) => parts(o, (at) => at)),
  gauge('stanzactl_status_read_ok', '1 when that read succeeded, 0 when the host could not be read', (o) => parts(o, (_at, ok) => flag(ok))),
];

export function metricFamilies(stanzas: readonly ClusterObservations[], now: number): MetricFamily[] {
  return GAUGES.map((g) => ({
    name: g.name,
    help: g.help,
    type: 'gauge',
    samples: stanzas.flatMap((o) =>
      g.rows(o, now).flatMap(([labels, value]) => (value === undefined || value === null ? [] : [{ labels: { stanza: o.stanza, repository: o.repositoryHost, ...labels }, value }]))),
  }));
}

/** The exposition text of everything observed, ages as of `nowMs` (epoch milliseconds). */
export function renderMetrics(observations: Observations, nowMs: number): string {
  return renderExposition(metricFamilies(observations.clusters(), nowMs / 1000));
}
