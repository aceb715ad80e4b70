import type { DrillFacts } from './drill';
import type { DroppedWal } from './dropped-wal';
import type { StanzaInfo } from './pgbackrest-info';
import type { ReplicationRow } from './postgres';
import type { Topology } from './topology';

/**
 * What `stanzactl status` reads from the repository and the nodes: read-only facts, judged by
 * src/status and rendered by the CLI. A host that cannot be read carries the reason in `error`.
 */

export interface RepositoryFacts {
  readonly host: string;
  /** The stanza as `pgbackrest info` shows it; null when it could not be read or the repository has no such stanza. */
  readonly stanza: StanzaInfo | null;
  readonly error?: string;
}

export interface ArchiverFacts {
  /** `archive_mode` of the primary: off, on or always. */
  readonly archiveMode: string;
  readonly archivedCount: number;
  readonly lastArchivedWal: string | null;
  /** Epoch seconds. */
  readonly lastArchivedAt: number | null;
  readonly failedCount: number;
  readonly lastFailedWal: string | null;
  readonly lastFailedAt: number | null;
}

export interface PrimaryFacts {
  readonly name: string;
  /** null when the primary could not be read (see `error`). */
  readonly archiver: ArchiverFacts | null;
  /** pg_stat_replication: the standbys as the primary sees them. */
  readonly replication: ReplicationRow[];
  /** The newest WAL segment pgBackRest dropped (archive-push-queue-max exceeded); absent in results recorded before it was read. */
  readonly droppedWal?: DroppedWal | null;
  readonly error?: string;
}

export interface StandbyFacts {
  readonly name: string;
  /** The WAL receiver's status (`streaming`, `catchup`, ...), `recovering` without one, `not in recovery`, or `down`. */
  readonly state: string;
  readonly inRecovery: boolean | null;
  /** now() - pg_last_xact_replay_timestamp() on the standby; grows on an idle primary even when nothing is left to replay. */
  readonly replayDelaySeconds: number | null;
  /** Everything received has been replayed: a growing replay delay then only means the primary is idle. */
  readonly caughtUp: boolean | null;
  readonly error?: string;
}

export interface StatusFacts {
  readonly stanza: string;
  /** Every node's real role: the primary and standbys below are the ones found, whatever the spec says. Absent in runs started before it was read. */
  readonly topology?: Topology;
  readonly repository: RepositoryFacts;
  readonly primary: PrimaryFacts;
  readonly standbys: StandbyFacts[];
  /** The last restore drills, read from the repository host; absent when the spec has no `drills`. */
  readonly drill?: DrillFacts;
}
