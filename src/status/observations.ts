import type { BackupInfo } from '../facts/pgbackrest-info';
import type { PrimaryFacts, RepositoryFacts, StandbyFacts, StatusFacts } from '../facts/status';
import type { BackupType } from '../spec/schema';
import { newestBackup } from './policy';

/**
 * What one process saw of each stanza, and when: the worker folds in the results of the
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

export interface StanzaObservations {
  readonly stanza: string;
  repository?: Observed<RepositoryFacts>;
  primary?: Observed<PrimaryFacts>;
  readonly standbys: Map<string, Observed<StandbyFacts>>;
  /** The newest backup overall (`any`) and the newest full one, from info or from a backup run. */
  readonly newest: { full?: BackupSummary; any?: BackupSummary };
  readonly backupRuns: Map<BackupType, RunOutcome>;
  /** Keyed by node name. */
  readonly rebuilds: Map<string, RunOutcome>;
}

export function backupSummary(b: BackupInfo): BackupSummary {
  return {
    label: b.label, type: b.type, startedAt: b.timestamp.start, stoppedAt: b.timestamp.stop,
    databaseBytes: b.sizes.database, deltaBytes: b.sizes.delta, repoBytes: b.sizes.repo, repoDeltaBytes: b.sizes.repoDelta,
  };
}

const newer = (a: BackupSummary | undefined, b: BackupSummary): BackupSummary => (a === undefined || b.stoppedAt >= a.stoppedAt ? b : a);

export class Observations {
  private readonly byStanza = new Map<string, StanzaObservations>();

  /** One status run's facts, read at `at`: what `status --format prometheus` renders. */
  static fromStatus(facts: StatusFacts, at: number): Observations {
    const o = new Observations();
    o.repository(facts.stanza, facts.repository, at);
    o.primary(facts.stanza, facts.primary, at);
    for (const s of facts.standbys) o.standby(facts.stanza, s, at);
    return o;
  }

  stanzas(): StanzaObservations[] {
    return [...this.byStanza.values()].sort((a, b) => (a.stanza < b.stanza ? -1 : a.stanza > b.stanza ? 1 : 0));
  }

  private of(stanza: string): StanzaObservations {
    let o = this.byStanza.get(stanza);
    if (!o) {
      o = { stanza, standbys: new Map(), newest: {}, backupRuns: new Map(), rebuilds: new Map() };
      this.byStanza.set(stanza, o);
    }
    return o;
  }

  /** pgBackRest's info is the truth about what the repository holds: it replaces the newest backups (expired ones go). */
  repository(stanza: string, facts: RepositoryFacts, at: number): void {
    const o = this.of(stanza);
    o.repository = { at, facts };
    // An unreadable repository says nothing about its backups: keep what was known.
    if (facts.error !== undefined) return;
    const full = newestBackup(facts.stanza, 'full');
    const any = newestBackup(facts.stanza);
    o.newest.full = full && backupSummary(full);
    o.newest.any = any && backupSummary(any);
  }

  primary(stanza: string, facts: PrimaryFacts, at: number): void {
    this.of(stanza).primary = { at, facts };
  }

  standby(stanza: string, facts: StandbyFacts, at: number): void {
    this.of(stanza).standbys.set(facts.name, { at, facts });
  }

  /** A backup run that ended; a successful one is also the newest backup until info says otherwise. */
  backupRun(stanza: string, type: BackupType, outcome: RunOutcome, backup?: BackupSummary): void {
    const o = this.of(stanza);
    o.backupRuns.set(type, outcome);
    if (!backup) return;
    o.newest.any = newer(o.newest.any, backup);
    if (backup.type === 'full') o.newest.full = newer(o.newest.full, backup);
  }

  rebuild(stanza: string, node: string, outcome: RunOutcome): void {
    this.of(stanza).rebuilds.set(node, outcome);
  }
}
