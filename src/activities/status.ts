import { program } from '../paths';
import { newestDroppedWal } from '../facts/dropped-wal';
import { parseInfo } from '../facts/pgbackrest-info';
import type { ArchiverFacts, PrimaryFacts, RepositoryFacts, StandbyFacts } from '../facts/status';
import { parseReplicationRows, REPLICATION_SQL } from '../facts/postgres';
import { asUser, script } from '../shell/command';
import { RemoteCommandError } from '../remote/errors';
import { primaryNode } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { query } from './cluster-state';
import { findNode, nodeAddress, repoHost } from './hosts';
import type { HostOps } from '../host/host-ops';
import { infoArgs, runPgbackrest } from '../host/pgbackrest';

/**
 * Read-only facts for `stanzactl status`. A host that cannot be read is reported with the reason
 * instead of failing the activity: status must answer quickly (cron, monitoring) and say what is
 * wrong, not retry for minutes and end in a stack trace.
 */

// Epoch seconds as text: psql prints NULL as an empty field.
export const ARCHIVER_SQL = `SELECT current_setting('archive_mode'), archived_count, last_archived_wal,
  extract(epoch FROM last_archived_time), failed_count, last_failed_wal, extract(epoch FROM last_failed_time)
FROM pg_stat_archiver`;

const STANDBY_SQL = `SELECT pg_is_in_recovery(), coalesce((SELECT status FROM pg_stat_wal_receiver), ''),
  extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
  pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()`;

// The last warning of each archive-push log (pgBackRest's default log-path), read as the OS user
// that owns them: root does not open files in a directory that account controls.
const DROPPED_WAL_LINES = program('activities', 'dropped-wal-lines');
const archivePushLogs = (stanza: string) => [`/var/log/pgbackrest/${stanza}-archive-push.log`, `/var/log/pgbackrest/${stanza}-archive-push-async.log`];

const orNull = (s: string): string | null => (s === '' ? null : s);
const numberOrNull = (s: string): number | null => (s === '' ? null : Number(s));

function fields(row: string, n: number, what: string): string[] {
  const f = row.split('\t');
  if (f.length !== n) throw new Error(`${what}: expected ${n} tab-separated columns, got ${f.length}: ${JSON.stringify(row)}`);
  return f;
}

export function parseArchiverRow(out: string): ArchiverFacts {
  const [archiveMode, archived, lastWal, lastAt, failed, failedWal, failedAt] = fields(out, 7, 'pg_stat_archiver');
  return {
    archiveMode,
    archivedCount: Number(archived),
    lastArchivedWal: orNull(lastWal),
    lastArchivedAt: numberOrNull(lastAt),
    failedCount: Number(failed),
    lastFailedWal: orNull(failedWal),
    lastFailedAt: numberOrNull(failedAt),
  };
}

export function parseStandbyRow(name: string, out: string): StandbyFacts {
  const [recovery, receiver, delay, caughtUp] = fields(out, 4, 'standby status');
  const inRecovery = recovery === 't';
  return {
    name,
    state: !inRecovery ? 'not in recovery' : receiver || 'recovering',
    inRecovery,
    replayDelaySeconds: numberOrNull(delay),
    caughtUp: inRecovery ? caughtUp === 't' : null,
  };
}

/** One line a DBA can act on: a failed command's own last output line rather than our command line. */
function reason(e: unknown): string {
  if (e instanceof RemoteCommandError && e.outputTail) return e.outputTail.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  return e instanceof Error ? e.message : String(e);
}

export async function repositoryStatus(ops: HostOps, spec: Spec): Promise<RepositoryFacts> {
  const host = repoHost(spec);
  try {
    const out = await runPgbackrest(ops, host, spec.repository.user, spec, ...infoArgs(spec));
    return { host: host.name, stanza: parseInfo(out).find((s) => s.name === spec.stanza) ?? null };
  } catch (e) {
    return { host: host.name, stanza: null, error: reason(e) };
  }
}

export async function primaryStatus(ops: HostOps, spec: Spec): Promise<PrimaryFacts> {
  const node = primaryNode(spec);
  const host = nodeAddress(node);
  try {
    const [archiver, replication, dropped] = await Promise.all([
      query(ops, host, spec.postgres, ARCHIVER_SQL),
      query(ops, host, spec.postgres, REPLICATION_SQL),
      ops.must(host, asUser(spec.postgres.osUser, script(DROPPED_WAL_LINES, ...archivePushLogs(spec.stanza)))),
    ]);
    return { name: node.name, archiver: parseArchiverRow(archiver), replication: parseReplicationRows(replication), droppedWal: newestDroppedWal(dropped) };
  } catch (e) {
    return { name: node.name, archiver: null, replication: [], error: reason(e) };
  }
}

/** A stopped or unreachable standby is a fact to report (state `down`), not a failure of status. */
export async function standbyStatus(ops: HostOps, spec: Spec, nodeName: string): Promise<StandbyFacts> {
  const host = nodeAddress(findNode(spec, nodeName));
  try {
    return parseStandbyRow(nodeName, await query(ops, host, spec.postgres, STANDBY_SQL));
  } catch (e) {
    return { name: nodeName, state: 'down', inRecovery: null, replayDelaySeconds: null, caughtUp: null, error: reason(e) };
  }
}
