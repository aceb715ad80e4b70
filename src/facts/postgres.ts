/**
 * Parsers for what the activities read from PostgreSQL: `psql -X -A -t -F '\t'` rows and
 * `pg_controldata` output (run with LC_ALL=C: its labels are translated otherwise).
 */

function rows(out: string): string[][] {
  return out
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

function columns(row: string[], n: number, what: string): string[] {
  if (row.length !== n) throw new Error(`${what}: expected ${n} tab-separated columns, got ${row.length}: ${JSON.stringify(row.join('\t'))}`);
  return row;
}

export interface ReplicationRow {
  applicationName: string;
  /** Empty for a standby connected over a Unix socket. */
  clientAddr: string;
  state: string;
  syncState: string;
  /** PostgreSQL's interval text (`00:00:00.017749`); empty when the standby has not replayed anything yet. */
  replayLag: string;
  /** Bytes the standby's replay is behind the primary's current WAL position; undefined while unknown. */
  lagBytes: number | undefined;
}

/** What parseReplicationRows reads: a primary's standbys by name, with their replay lag. */
export const REPLICATION_SQL = `SELECT application_name, client_addr, state, sync_state, coalesce(replay_lag::text, ''),
  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)
FROM pg_stat_replication ORDER BY application_name`;

/**
 * Rows of `SELECT application_name, client_addr, state, sync_state, coalesce(replay_lag::text,''),
 * pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication`.
 */
export function parseReplicationRows(out: string): ReplicationRow[] {
  return rows(out).map((r) => {
    const [applicationName, clientAddr, state, syncState, replayLag, lag] = columns(r, 6, 'pg_stat_replication');
    return { applicationName, clientAddr, state, syncState, replayLag, lagBytes: lag === '' ? undefined : Number(lag) };
  });
}

/**
 * Seconds of a `pg_stat_replication` lag interval as PostgreSQL prints it by default
 * (IntervalStyle postgres: `00:00:00.017749`, `1 day 02:03:04.5`); undefined for the empty field
 * (nothing replayed yet, or caught up and idle) and for any other shape.
 */
export function intervalSeconds(text: string): number | undefined {
  const m = /^(?:(\d+) days? )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86_400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

export interface ControlData {
  /** 64-bit: kept as the decimal string pg_controldata prints. */
  systemIdentifier: string;
  /** `in production`, `in archive recovery`, `shut down`, `shut down in recovery`, ... */
  clusterState: string;
  timeline?: number;
  /** "Latest checkpoint location": after a clean shutdown, the shutdown checkpoint, the last record the server wrote. */
  checkpointLsn?: string;
  /** 0 = the cluster has no data checksums. */
  checksumVersion: number;
  /** Whether hint-bit changes are WAL-logged ("wal_log_hints setting"); undefined when not printed. */
  walLogHints?: boolean;
}

export function parseControlData(out: string): ControlData {
  const fields = new Map<string, string>();
  for (const line of out.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const need = (label: string): string => {
    const v = fields.get(label);
    if (v === undefined) throw new Error(`pg_controldata output has no "${label}" (was it run with LC_ALL=C?)`);
    return v;
  };
  const systemIdentifier = need('Database system identifier');
  if (!/^\d+$/.test(systemIdentifier)) throw new Error(`pg_controldata: unexpected system identifier ${JSON.stringify(systemIdentifier)}`);
  const tli = fields.get("Latest checkpoint's TimeLineID");
  return {
    systemIdentifier,
    clusterState: need('Database cluster state'),
    timeline: tli === undefined ? undefined : Number(tli),
    checkpointLsn: fields.get('Latest checkpoint location'),
    checksumVersion: Number(need('Data page checksum version')),
    ...(fields.has('wal_log_hints setting') && { walLogHints: fields.get('wal_log_hints setting') === 'on' }),
  };
}

/** Rows of `SELECT name, setting, pending_restart FROM pg_settings WHERE name IN (...)`. */
export function parseSettings(out: string): Record<string, { setting: string; pendingRestart: boolean }> {
  const result: Record<string, { setting: string; pendingRestart: boolean }> = {};
  for (const r of rows(out)) {
    if (r.length < 3) throw new Error(`pg_settings: expected name, setting and pending_restart, got ${JSON.stringify(r.join('\t'))}`);
    // A value may itself hold a tab (archive_command): the name is first, the flag last.
    const [name, setting, pending] = [r[0], r.slice(1, -1).join('\t'), r[r.length - 1]];
    if (pending !== 't' && pending !== 'f') throw new Error(`pg_settings: pending_restart for ${name} is ${JSON.stringify(pending)}, not t/f`);
    result[name] = { setting, pendingRestart: pending === 't' };
  }
  return result;
}
