/**
 * pgBackRest's word that it dropped WAL: past archive-push-queue-max it acknowledges segments to
 * PostgreSQL without archiving them and logs one warning per segment, in the archive-push logs of
 * the host (the asynchronous process's log too). Nothing else records it: pg_stat_archiver counts
 * the segment as archived, and `pgbackrest info` and `check` see no gap.
 */
export interface DroppedWal {
  /** The newest segment dropped. */
  readonly wal: string;
  /** The log line's time stamp, the host's local time as pgBackRest prints it. */
  readonly logged: string;
}

const DROPPED = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) .*dropped WAL file '([0-9A-F]{24})' because archive queue exceeded/;

/** Position in the WAL stream (log and segment), whatever the timeline: the name without its first 8 digits. */
export function walPosition(wal: string): string {
  return wal.slice(8);
}

/** The newest dropped segment in some archive-push log lines, or null when none was dropped. */
export function newestDroppedWal(lines: string): DroppedWal | null {
  let newest: DroppedWal | null = null;
  for (const line of lines.split('\n')) {
    const m = DROPPED.exec(line);
    if (m && (newest === null || walPosition(m[2]) > walPosition(newest.wal))) newest = { wal: m[2], logged: m[1] };
  }
  return newest;
}
