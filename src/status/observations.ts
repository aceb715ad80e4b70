import { nextRecord, type DrillRecord, type DrillResult } from '../facts/drill';
import { repoKeys, type BackupInfo } from '../facts/pgbackrest-info';
import type { PrimaryFacts, RepositoryFacts, StandbyFacts, StatusFacts } from '../facts/status';
import type { BackupType } from '../spec/schema';
import { clusterKey, type ClusterRef } from '../workflow-ids';
import { newestBackup } from './policy';

/**
 * What one process saw of each cluster (a stanza on its repository host), and when: the worker folds in the results of the
 * activities it ran (status reads, backup runs, rebuilds); `status --format prometheus` builds the
 * same from one status run. Gauges (src/status/gauges.ts) are computed from this at render time,
 * so an age is right when it is scraped, not when it was read. Pure: times come in as arguments.
 */

/** A part read at `at` (epoch seconds). */
export interface Observed<T> {
  readonly at: number;
  readonly facts: T;
}

/** A finished backup; times in epoch seconds, sizes in bytes, as pgBackRest's info reports them. */
export interface BackupSummary {
  readonly label: string;
  readonly type: BackupType;
  readonly startedAt: number;
  readonly stoppedAt: number;
  readonly databaseBytes: number;
  readonly deltaBytes: number;
  readonly repoBytes: number;
  readonly repoDeltaBytes: number;
}

/** How a run that this process saw end went: `at` = when it ended (epoch seconds). */
export interface RunOutcome {
  readonly ok: boolean;
  readonly at: number;
  /** How long it took, where that is known. */
  readonly seconds?: number;
}

export interface Newest {
  full?: BackupSummary;
  any?: BackupSummary;
}

export interface BackupRunOutcome extends RunOutcome {
  readonly type: BackupType;
  readonly repo: number;
}

export interface ClusterObservations {
  readonly stanza: string;
  /** The cluster's repository host: two clusters of one stanza name on two hosts are two sets of series. */
  readonly repositoryHost: string;
  repository?: Observed<RepositoryFacts>;
  primary?: Observed<PrimaryFacts>;
  readonly standbys: Map<string, Observed<StandbyFacts>>;
  /** Per repository (1, 2 offsite): the newest backup overall (`any`) and the newest full one, from info or from a backup run. */
  readonly newest: Map<number, Newest>;
  /** Keyed by backupRunKey. */
  readonly backupRuns: Map<string, BackupRunOutcome>;
  /** Keyed by node name. */
  readonly rebuilds: Map<string, RunOutcome>;
  /** The last restore drill and the last that passed, from a status read of the drill record or a drill this process recorded. */
  drills?: DrillRecord;
}

export function backupSummary(b: BackupInfo): BackupSummary {
  return {
    label: b.label, type: b.type, startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop,
    databaseBytes: b.sizes.database, deltaBytes: b.sizes.delta, repoBytes: b.sizes.repo, repoDeltaBytes: b.sizes.repoDelta,
  };
}

const newer = (a: BackupSummary | undefined, b: BackupSummary): BackupSummary => (a === undefined || b.stoppedAt >= a.stoppedAt ? b : a);

/** pgBackRest's status of a repository it could not read ("other", the message says why). */
const UNREADABLE = 99;

export class Observations {
  /** Keyed by clusterKey. */
  private readonly byCluster = new Map<string, ClusterObservations>();

  /** One status run's facts of `cluster`, read at `at`: what `status --format prometheus` renders. */
  static fromStatus(cluster: ClusterRef, facts: StatusFacts, at: number): Observations {
    const o = new Observations();
    o.repository(cluster, facts.repository, at);
    o.primary(cluster, facts.primary, at);
    for (const s of facts.standbys) o.standby(cluster, s, at);
    if (facts.drill?.record) o.drillRecord(cluster, facts.drill.record);
    return o;
  }

  /** By stanza, then repository host. */
  clusters(): ClusterObservations[] {
    const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return [...this.byCluster.values()].sort((a, b) => order(a.stanza, b.stanza) || order(a.repositoryHost, b.repositoryHost));
  }

  private of(cluster: ClusterRef): ClusterObservations {
    const key = clusterKey(cluster);
    let o = this.byCluster.get(key);
    if (!o) {
      o = { stanza: cluster.stanza, repositoryHost: cluster.repository.host, standbys: new Map(), newest: new Map(), backupRuns: new Map(), rebuilds: new Map() };
      this.byCluster.set(key, o);
    }
    return o;
  }

  /** pgBackRest's info is the truth about what the repository holds: it replaces the newest backups (expired ones go). */
  repository(cluster: ClusterRef, facts: RepositoryFacts, at: number): void {
    const o = this.of(cluster);
    o.repository = { at, facts };
    // An unreadable repository says nothing about its backups: keep what was known.
    if (facts.error !== undefined) return;
    const unread = new Set((facts.stanza?.repos ?? []).filter((r) => r.status.code === UNREADABLE).map((r) => r.key));
    for (const repo of [...o.newest.keys()]) if (!unread.has(repo)) o.newest.delete(repo);
    for (const repo of repoKeys(facts.stanza)) {
      // A repository pgBackRest could not read lists no backups: what it held before still stands.
      if (unread.has(repo)) continue;
      const full = newestBackup(facts.stanza, 'full', repo);
      const any = newestBackup(facts.stanza, undefined, repo);
      o.newest.set(repo, { full: full && backupSummary(full), any: any && backupSummary(any) });
    }
  }

  primary(cluster: ClusterRef, facts: PrimaryFacts, at: number): void {
    this.of(cluster).primary = { at, facts };
  }

  standby(cluster: ClusterRef, facts: StandbyFacts, at: number): void {
    this.of(cluster).standbys.set(facts.name, { at, facts });
  }

  /** A backup run that ended; a successful one is also the newest backup until info says otherwise. */
  backupRun(cluster: ClusterRef, type: BackupType, outcome: RunOutcome, backup?: BackupSummary, repo = 1): void {
    const o = this.of(cluster);
    o.backupRuns.set(`${repo}/${type}`, { ...outcome, type, repo });
    if (!backup) return;
    const newest = o.newest.get(repo) ?? {};
    newest.any = newer(newest.any, backup);
    if (backup.type === 'full') newest.full = newer(newest.full, backup);
    o.newest.set(repo, newest);
  }

  rebuild(cluster: ClusterRef, node: string, outcome: RunOutcome): void {
    this.of(cluster).rebuilds.set(node, outcome);
  }

  /** The drill record as the repository host keeps it (a status read). */
  drillRecord(cluster: ClusterRef, record: DrillRecord): void {
    this.of(cluster).drills = record;
  }

  /** A drill this process recorded: the last one, and the last passed one when it passed. */
  drillRun(cluster: ClusterRef, result: DrillResult): void {
    const o = this.of(cluster);
    o.drills = nextRecord(o.drills ?? null, result);
  }
}
